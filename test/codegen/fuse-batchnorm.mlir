// RUN: nn-opt %s -split-input-file -nn-fuse | FileCheck %s
// RUN: nn-opt %s -split-input-file -nn-fuse=enable=false | FileCheck %s --check-prefix=NOFUSE

// Inference batchnorm right after a convolution (its only user) is folded
// into the convolution: one generated kernel scales the weights and bias.

#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>

// CHECK-DAG: #[[$W:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[$O:.*]] = affine_map<(d0, d1, d2, d3) -> (d0)>
// CHECK-LABEL: func.func @conv_bn_relu
// One kernel computes the folded weights and bias.
// CHECK: %[[K:.*]]:2 = nn.kernel "k0_bn1"(%arg1, %arg3, %arg6, %arg5, %arg4, %arg2) {nn.layers = ["bn1"]} : (tensor<4x1x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<4x1x3x3xf32>, tensor<4xf32>)
// CHECK-NEXT: ^bb0(%[[WA:.*]]: tensor<4x1x3x3xf32>, %[[GA:.*]]: tensor<4xf32>, %[[VA:.*]]: tensor<4xf32>, %[[MA:.*]]: tensor<4xf32>, %[[BEA:.*]]: tensor<4xf32>, %[[BA:.*]]: tensor<4xf32>):
// w' = w * gamma / sqrt(var + eps)
// CHECK: %[[WS:.*]] = linalg.generic {indexing_maps = [#[[$W]], #[[$O]], #[[$O]], #[[$W]]]
// CHECK-SAME: ins(%[[WA]], %[[GA]], %[[VA]] :
// CHECK-NEXT: ^bb0(%[[WE:.*]]: f32, %[[GE:.*]]: f32, %[[VE:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[EPS:.*]] = arith.constant 1.000000e-03 : f32
// CHECK-NEXT: %[[VPE:.*]] = arith.addf %[[VE]], %[[EPS]]
// CHECK-NEXT: %[[SD:.*]] = math.sqrt %[[VPE]]
// CHECK-NEXT: %[[SC:.*]] = arith.divf %[[GE]], %[[SD]]
// CHECK-NEXT: %[[P:.*]] = arith.mulf %[[WE]], %[[SC]]
// CHECK-NEXT: linalg.yield %[[P]]
// b' = (b - mean) * gamma / sqrt(var + eps) + beta
// CHECK: %[[BS:.*]] = linalg.generic
// CHECK-SAME: ins(%[[MA]], %[[GA]], %[[VA]], %[[BEA]], %[[BA]] :
// CHECK-NEXT: ^bb0(%[[ME:.*]]: f32, %[[GE2:.*]]: f32, %[[VE2:.*]]: f32, %[[BE:.*]]: f32, %[[B0:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[CE:.*]] = arith.subf %[[B0]], %[[ME]]
// CHECK: math.sqrt
// CHECK: %[[SC2:.*]] = arith.divf %[[GE2]]
// CHECK-NEXT: %[[M2:.*]] = arith.mulf %[[CE]], %[[SC2]]
// CHECK-NEXT: %[[R2:.*]] = arith.addf %[[M2]], %[[BE]]
// CHECK-NEXT: linalg.yield %[[R2]]
// CHECK: nn.yield %[[WS]], %[[BS]]
// The folded convolution also takes the relu as its epilogue.
// CHECK: %[[C:.*]] = nn.conv2d %arg0, %[[K]]#0, %[[K]]#1 {{{.*}}name = "conv1", nn.epilogue = "relu"
// CHECK-NOT: nn.batchnorm
// CHECK-NOT: nn.kernel
// CHECK: return %[[C]]
// NOFUSE-LABEL: func.func @conv_bn_relu
// NOFUSE: nn.conv2d %arg0, %arg1, %arg2
// NOFUSE: nn.batchnorm
// NOFUSE: nn.kernel "k0_relu1"
func.func @conv_bn_relu(%x: tensor<2x1x6x6xf32>, %w: tensor<4x1x3x3xf32>, %b: tensor<4xf32>,
                        %g: tensor<4xf32>, %be: tensor<4xf32>, %m: tensor<4xf32>,
                        %v: tensor<4xf32>) -> tensor<2x4x4x4xf32> {
  %c = nn.conv2d %x, %w, %b {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>,
                             dilation = array<i64: 1, 1>, name = "conv1"}
      : (tensor<2x1x6x6xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<2x4x4x4xf32>
  %y = nn.batchnorm %c, %g, %be, %m, %v {name = "bn1", eps = 1.0e-3 : f64}
      : (tensor<2x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4x4x4xf32>
  %e = tensor.empty() : tensor<2x4x4x4xf32>
  %r = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y : tensor<2x4x4x4xf32>) outs(%e : tensor<2x4x4x4xf32>) attrs = {nn.layer = "relu1"} {
  ^bb0(%u: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %mx = arith.maximumf %u, %z : f32
    linalg.yield %mx : f32
  } -> tensor<2x4x4x4xf32>
  return %r : tensor<2x4x4x4xf32>
}

// -----

// Without a convolution bias the folded bias is (-mean) * scale + beta.
// CHECK-LABEL: func.func @conv_no_bias_bn
// CHECK: %[[K:.*]]:2 = nn.kernel "k0_bn2"(%arg1, %arg2, %arg5, %arg4, %arg3)
// CHECK: linalg.generic
// CHECK: linalg.generic
// CHECK-NEXT: ^bb0(%[[ME:.*]]: f32, %{{.*}}: f32, %{{.*}}: f32, %{{.*}}: f32, %{{.*}}: f32):
// CHECK-NEXT: arith.negf %[[ME]]
// CHECK: nn.conv2d %arg0, %[[K]]#0, %[[K]]#1 {
func.func @conv_no_bias_bn(%x: tensor<2x1x6x6xf32>, %w: tensor<4x1x3x3xf32>,
                           %g: tensor<4xf32>, %be: tensor<4xf32>, %m: tensor<4xf32>,
                           %v: tensor<4xf32>) -> tensor<2x4x4x4xf32> {
  %c = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>,
                         dilation = array<i64: 1, 1>}
      : (tensor<2x1x6x6xf32>, tensor<4x1x3x3xf32>) -> tensor<2x4x4x4xf32>
  %y = nn.batchnorm %c, %g, %be, %m, %v {name = "bn2"}
      : (tensor<2x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4x4x4xf32>
  return %y : tensor<2x4x4x4xf32>
}

// -----

// The convolution's result is also returned (read by another op): no fold.
// CHECK-LABEL: func.func @conv_used_twice
// CHECK: %[[C:.*]] = nn.conv2d %arg0, %arg1 {
// CHECK: %[[Y:.*]] = nn.batchnorm %[[C]]
// CHECK-NOT: nn.kernel
// CHECK: return %[[Y]], %[[C]]
func.func @conv_used_twice(%x: tensor<2x1x6x6xf32>, %w: tensor<4x1x3x3xf32>,
                           %g: tensor<4xf32>, %be: tensor<4xf32>, %m: tensor<4xf32>,
                           %v: tensor<4xf32>) -> (tensor<2x4x4x4xf32>, tensor<2x4x4x4xf32>) {
  %c = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>,
                         dilation = array<i64: 1, 1>}
      : (tensor<2x1x6x6xf32>, tensor<4x1x3x3xf32>) -> tensor<2x4x4x4xf32>
  %y = nn.batchnorm %c, %g, %be, %m, %v
      : (tensor<2x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4x4x4xf32>
  return %y, %c : tensor<2x4x4x4xf32>, tensor<2x4x4x4xf32>
}

// -----

// Ops of one kernel group (as the fold makes them) stay separate kernels
// when the first one's result is read before the second.
// CHECK-LABEL: func.func @group_read_between
// CHECK: %[[A:.*]] = nn.kernel "k0_bn3"(%arg0)
// CHECK: tensor.expand_shape %[[A]]
// CHECK: nn.linear
// CHECK: nn.kernel "k1_bn3"(%arg0)
#one = affine_map<(d0) -> (d0)>
func.func @group_read_between(%x: tensor<4xf32>, %w: tensor<2x4xf32>) -> (tensor<1x2xf32>, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4xf32>
  %a = linalg.generic {indexing_maps = [#one, #one], iterator_types = ["parallel"]}
      ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) attrs = {nn.layer = "bn3", nn.kernel_group = 0 : i64} {
  ^bb0(%u: f32, %o: f32):
    %n = arith.negf %u : f32
    linalg.yield %n : f32
  } -> tensor<4xf32>
  %r = tensor.expand_shape %a [[0, 1]] output_shape [1, 4] : tensor<4xf32> into tensor<1x4xf32>
  %l = nn.linear %r, %w : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  %b = linalg.generic {indexing_maps = [#one, #one], iterator_types = ["parallel"]}
      ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) attrs = {nn.layer = "bn3", nn.kernel_group = 0 : i64} {
  ^bb0(%u: f32, %o: f32):
    %n = math.absf %u : f32
    linalg.yield %n : f32
  } -> tensor<4xf32>
  return %l, %b : tensor<1x2xf32>, tensor<4xf32>
}
