// RUN: nn-opt %s -split-input-file -nn-fuse | FileCheck %s
// RUN: nn-opt %s -split-input-file -nn-fuse=enable=false | FileCheck %s --check-prefix=NOFUSE

// Elementwise producers fuse into reductions; reductions never fuse into a
// broadcast consumer.

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// Softmax over dim 1: the max reduction is not fused into its broadcast
// consumer (exp(x - max)); exp is read by the sum and by the division, so
// both recompute it (nn.recomputed) and it is never written.
// CHECK-LABEL: func.func @softmax
// CHECK: %[[M:.*]] = nn.kernel "k0_sm"(%arg0) {{.*}}: (tensor<4x8xf32>) -> tensor<4xf32>
// CHECK: linalg.fill
// CHECK: arith.maximumf
// CHECK-NOT: math.exp
// CHECK: nn.yield
// CHECK: %[[S:.*]] = nn.kernel "k1_sm"(%arg0, %[[M]]) {nn.layers = ["sm"], nn.recomputed = ["sm"]} : (tensor<4x8xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK: linalg.fill
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: %[[Y:.*]] = nn.kernel "k2_sm"(%arg0, %[[M]], %[[S]]) {{.*}}: (tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4x8xf32>
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: return %[[Y]]
// NOFUSE-LABEL: func.func @softmax
// NOFUSE-COUNT-4: nn.kernel
// NOFUSE-NOT: nn.kernel
// NOFUSE: return
func.func @softmax(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %e4 = tensor.empty() : tensor<4xf32>
  %minit = linalg.fill ins(%ninf : f32) outs(%e4 : tensor<4xf32>) -> tensor<4xf32>
  %m = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<4x8xf32>) outs(%minit : tensor<4xf32>) attrs = {nn.layer = "sm"} {
  ^bb0(%u: f32, %acc: f32):
    %r = arith.maximumf %u, %acc : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %e = tensor.empty() : tensor<4x8xf32>
  %ex = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %m : tensor<4x8xf32>, tensor<4xf32>) outs(%e : tensor<4x8xf32>) attrs = {nn.layer = "sm"} {
  ^bb0(%u: f32, %mm: f32, %o: f32):
    %d = arith.subf %u, %mm : f32
    %x2 = math.exp %d : f32
    linalg.yield %x2 : f32
  } -> tensor<4x8xf32>
  %sinit = linalg.fill ins(%zero : f32) outs(%e4 : tensor<4xf32>) -> tensor<4xf32>
  %s = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%ex : tensor<4x8xf32>) outs(%sinit : tensor<4xf32>) attrs = {nn.layer = "sm"} {
  ^bb0(%u: f32, %acc: f32):
    %r = arith.addf %u, %acc : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%ex, %s : tensor<4x8xf32>, tensor<4xf32>) outs(%e : tensor<4x8xf32>) attrs = {nn.layer = "sm"} {
  ^bb0(%u: f32, %ss: f32, %o: f32):
    %q = arith.divf %u, %ss : f32
    linalg.yield %q : f32
  } -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>

// relu fuses into max pooling's window reduction (the named op is
// generalized first); the -inf fill goes into the same kernel.
// CHECK-LABEL: func.func @relu_pool
// CHECK: %[[K:.*]] = nn.kernel "k0_relu2_pool2"(%arg0) {nn.layers = ["relu2", "pool2"]} : (tensor<1x2x4x4xf32>) -> tensor<1x2x2x2xf32>
// CHECK: linalg.fill
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]
// CHECK-SAME: ins(%arg1, %{{.*}} : tensor<1x2x4x4xf32>, tensor<2x2xf32>)
// CHECK: arith.maximumf
// CHECK: arith.maximumf
// CHECK: return %[[K]]
// NOFUSE-LABEL: func.func @relu_pool
// NOFUSE: %[[R:.*]] = nn.kernel "k0_relu2"(%arg0)
// NOFUSE: nn.kernel "k1_pool2"(%[[R]])
// NOFUSE: linalg.pooling_nchw_max
func.func @relu_pool(%x: tensor<1x2x4x4xf32>) -> tensor<1x2x2x2xf32> {
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %r = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : tensor<1x2x4x4xf32>) outs(%e : tensor<1x2x4x4xf32>) attrs = {nn.layer = "relu2"} {
  ^bb0(%u: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %m = arith.maximumf %u, %z : f32
    linalg.yield %m : f32
  } -> tensor<1x2x4x4xf32>
  %ninf = arith.constant 0xFF800000 : f32
  %eo = tensor.empty() : tensor<1x2x2x2xf32>
  %init = linalg.fill ins(%ninf : f32) outs(%eo : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %win = tensor.empty() : tensor<2x2xf32>
  %p = linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>, nn.layer = "pool2"}
      ins(%r, %win : tensor<1x2x4x4xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  return %p : tensor<1x2x2x2xf32>
}

// -----

#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>

// When the relu's value is also needed by an op that cannot fuse it (here
// the function's result, as a saved activation), the pooling reads it.
// CHECK-LABEL: func.func @relu_pool_saved
// CHECK: %[[R:.*]] = nn.kernel "k0_relu2"(%arg0)
// CHECK: %[[P:.*]] = nn.kernel "k1_pool2"(%[[R]])
// CHECK-NOT: arith.maximumf %{{.*}}, %cst
// CHECK: return %[[P]], %[[R]]
func.func @relu_pool_saved(%x: tensor<1x2x4x4xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x4x4xf32>) {
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %r = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : tensor<1x2x4x4xf32>) outs(%e : tensor<1x2x4x4xf32>) attrs = {nn.layer = "relu2"} {
  ^bb0(%u: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %m = arith.maximumf %u, %z : f32
    linalg.yield %m : f32
  } -> tensor<1x2x4x4xf32>
  %ninf = arith.constant 0xFF800000 : f32
  %eo = tensor.empty() : tensor<1x2x2x2xf32>
  %init = linalg.fill ins(%ninf : f32) outs(%eo : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %win = tensor.empty() : tensor<2x2xf32>
  %p = linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>, nn.layer = "pool2"}
      ins(%r, %win : tensor<1x2x4x4xf32>, tensor<2x2xf32>) outs(%init : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  return %p, %r : tensor<1x2x2x2xf32>, tensor<1x2x4x4xf32>
}
