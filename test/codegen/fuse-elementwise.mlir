// RUN: nn-opt %s -split-input-file -nn-fuse | FileCheck %s
// RUN: nn-opt %s -split-input-file -nn-fuse=enable=false | FileCheck %s --check-prefix=NOFUSE

// Chains of elementwise ops fuse into one kernel named after their layers;
// without fusion every linalg op is its own kernel.

#id = affine_map<(d0, d1) -> (d0, d1)>

// CHECK-LABEL: func.func @chain
// CHECK: %[[K:.*]] = nn.kernel "k0_add1_relu1"(%arg0, %arg1) {nn.layers = ["add1", "relu1"]} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
// CHECK: linalg.generic
// CHECK: arith.addf
// CHECK: arith.maximumf
// CHECK: nn.yield
// CHECK-NOT: linalg.generic
// CHECK: return %[[K]]
// NOFUSE-LABEL: func.func @chain
// NOFUSE: %[[A:.*]] = nn.kernel "k0_add1"(%arg0, %arg1)
// NOFUSE: %[[R:.*]] = nn.kernel "k1_relu1"(%[[A]])
// NOFUSE: return %[[R]]
func.func @chain(%x: tensor<4x8xf32>, %y: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %a = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %y : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) attrs = {nn.layer = "add1"} {
  ^bb0(%u: f32, %v: f32, %o: f32):
    %s = arith.addf %u, %v : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) attrs = {nn.layer = "relu1"} {
  ^bb0(%u: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %m = arith.maximumf %u, %z : f32
    linalg.yield %m : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

// A value that backward also reads (relu1's result, read by relu1_bwd after
// the library op) is still produced: the fused kernel yields it as an extra
// result, and the backward kernel reads it.

#id = affine_map<(d0, d1) -> (d0, d1)>

// CHECK-LABEL: func.func @saved_for_backward
// CHECK: %[[K:.*]]:2 = nn.kernel "k0_relu1_tanh1"(%arg0) {{.*}}: (tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>)
// CHECK: %[[G:.*]]:2 = linalg.generic
// CHECK: arith.maximumf
// CHECK: math.tanh
// CHECK: nn.yield %[[G]]#0, %[[G]]#1
// CHECK: %[[L:.*]] = nn.linear %[[K]]#1
// CHECK: nn.kernel "k1_relu1_bwd"(%arg1, %[[K]]#0)
// CHECK-NOT: maximumf
// CHECK: arith.select
// NOFUSE-LABEL: func.func @saved_for_backward
// NOFUSE: %[[R:.*]] = nn.kernel "k0_relu1"(%arg0)
// NOFUSE: nn.kernel "k1_tanh1"(%[[R]])
// NOFUSE: nn.kernel "k2_relu1_bwd"(%arg1, %[[R]])
func.func @saved_for_backward(%x: tensor<4x8xf32>, %dy: tensor<4x8xf32>,
    %w: tensor<3x8xf32>) -> (tensor<4x3xf32>, tensor<4x8xf32>) {
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) attrs = {nn.layer = "relu1"} {
  ^bb0(%u: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %m = arith.maximumf %u, %z : f32
    linalg.yield %m : f32
  } -> tensor<4x8xf32>
  %t = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%r : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) attrs = {nn.layer = "tanh1"} {
  ^bb0(%u: f32, %o: f32):
    %m = math.tanh %u : f32
    linalg.yield %m : f32
  } -> tensor<4x8xf32>
  %l = nn.linear %t, %w : (tensor<4x8xf32>, tensor<3x8xf32>) -> tensor<4x3xf32>
  %g = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%dy, %r : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) attrs = {nn.layer = "relu1_bwd"} {
  ^bb0(%d: f32, %v: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %c = arith.cmpf ogt, %v, %z : f32
    %s = arith.select %c, %d, %z : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  return %l, %g : tensor<4x3xf32>, tensor<4x8xf32>
}

// -----

// Ops on different iteration spaces that are not producer and consumer stay
// separate kernels.

// CHECK-LABEL: func.func @independent
// CHECK: nn.kernel "k0_relu3"(%arg0) {{.*}}: (tensor<4xf32>) -> tensor<4xf32>
// CHECK: nn.kernel "k1_relu4"(%arg1) {{.*}}: (tensor<2x3xf32>) -> tensor<2x3xf32>
func.func @independent(%a: tensor<4xf32>, %b: tensor<2x3xf32>) -> (tensor<4xf32>, tensor<2x3xf32>) {
  %e1 = tensor.empty() : tensor<4xf32>
  %r1 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%a : tensor<4xf32>) outs(%e1 : tensor<4xf32>) attrs = {nn.layer = "relu3"} {
  ^bb0(%u: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %m = arith.maximumf %u, %z : f32
    linalg.yield %m : f32
  } -> tensor<4xf32>
  %e2 = tensor.empty() : tensor<2x3xf32>
  %r2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%b : tensor<2x3xf32>) outs(%e2 : tensor<2x3xf32>) attrs = {nn.layer = "relu4"} {
  ^bb0(%u: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %m = arith.maximumf %u, %z : f32
    linalg.yield %m : f32
  } -> tensor<2x3xf32>
  return %r1, %r2 : tensor<4xf32>, tensor<2x3xf32>
}

// -----

// An elementwise op over [C] read by a consumer over [N, C] is not fused: it
// would be recomputed for every n.

// CHECK-LABEL: func.func @broadcast
// CHECK: %[[S:.*]] = nn.kernel "k0_bn1"(%arg0) {{.*}}: (tensor<8xf32>) -> tensor<8xf32>
// CHECK: math.sqrt
// CHECK: nn.kernel "k1_bn1"(%arg1, %[[S]])
// CHECK-NOT: math.sqrt
// CHECK: arith.divf
func.func @broadcast(%v: tensor<8xf32>, %x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %e8 = tensor.empty() : tensor<8xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%v : tensor<8xf32>) outs(%e8 : tensor<8xf32>) attrs = {nn.layer = "bn1"} {
  ^bb0(%u: f32, %o: f32):
    %q = math.sqrt %u : f32
    linalg.yield %q : f32
  } -> tensor<8xf32>
  %e = tensor.empty() : tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%x, %s : tensor<4x8xf32>, tensor<8xf32>) outs(%e : tensor<4x8xf32>) attrs = {nn.layer = "bn1"} {
  ^bb0(%u: f32, %w: f32, %o: f32):
    %q = arith.divf %u, %w : f32
    linalg.yield %q : f32
  } -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// Scalar code a body reads (a learning rate from a rank-0 tensor) is
// recomputed in the kernel, which reads the rank-0 tensor.

// CHECK-LABEL: func.func @scalar_capture
// CHECK-NOT: tensor.extract
// CHECK: nn.kernel "k0_update"(%arg1, %arg2, %arg0) {{.*}}: (tensor<4xf32>, tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
// CHECK-NEXT: ^bb0(%{{.*}}: tensor<4xf32>, %{{.*}}: tensor<4xf32>, %[[LR:.*]]: tensor<f32>):
// CHECK: %[[S:.*]] = tensor.extract %[[LR]][] : tensor<f32>
// CHECK: %[[N:.*]] = arith.negf %[[S]]
// CHECK: linalg.generic
// CHECK: arith.mulf %{{.*}}, %[[N]]
func.func @scalar_capture(%lr: tensor<f32>, %p: tensor<4xf32>, %g: tensor<4xf32>) -> tensor<4xf32> {
  %s = tensor.extract %lr[] : tensor<f32>
  %neg = arith.negf %s : f32
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%p, %g : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) attrs = {nn.layer = "update"} {
  ^bb0(%u: f32, %v: f32, %o: f32):
    %m = arith.mulf %v, %neg : f32
    %a = arith.addf %u, %m : f32
    linalg.yield %a : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}
