// RUN: nn-opt %s -split-input-file -nn-fuse | FileCheck %s
// RUN: nn-opt %s -split-input-file -nn-fuse=enable=false | FileCheck %s --check-prefix=NOFUSE

// A relu right after a library op (its only user) becomes the op's
// epilogue: nn.epilogue = "relu", and the op's result is the activation.

#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>

// CHECK-LABEL: func.func @conv_bias_relu
// CHECK: %[[C:.*]] = nn.conv2d %arg0, %arg1, %arg2 {{{.*}}name = "conv1", nn.epilogue = "relu"
// CHECK-NOT: nn.kernel
// CHECK: return %[[C]]
// NOFUSE-LABEL: func.func @conv_bias_relu
// NOFUSE: %[[C:.*]] = nn.conv2d
// NOFUSE-NOT: nn.epilogue
// NOFUSE: nn.kernel "k0_relu1"(%[[C]])
func.func @conv_bias_relu(%x: tensor<2x1x6x6xf32>, %w: tensor<4x1x3x3xf32>,
                          %b: tensor<4xf32>) -> tensor<2x4x4x4xf32> {
  %c = nn.conv2d %x, %w, %b {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>,
                             dilation = array<i64: 1, 1>, name = "conv1"}
      : (tensor<2x1x6x6xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<2x4x4x4xf32>
  %e = tensor.empty() : tensor<2x4x4x4xf32>
  %r = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%c : tensor<2x4x4x4xf32>) outs(%e : tensor<2x4x4x4xf32>) attrs = {nn.layer = "relu1"} {
  ^bb0(%u: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %m = arith.maximumf %u, %z : f32
    linalg.yield %m : f32
  } -> tensor<2x4x4x4xf32>
  return %r : tensor<2x4x4x4xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// The select form of relu after nn.linear.
// CHECK-LABEL: func.func @linear_relu
// CHECK: %[[L:.*]] = nn.linear %arg0, %arg1 {nn.epilogue = "relu"}
// CHECK-NOT: nn.kernel
// CHECK: return %[[L]]
func.func @linear_relu(%x: tensor<2x8xf32>, %w: tensor<3x8xf32>) -> tensor<2x3xf32> {
  %l = nn.linear %x, %w : (tensor<2x8xf32>, tensor<3x8xf32>) -> tensor<2x3xf32>
  %e = tensor.empty() : tensor<2x3xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%l : tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) attrs = {nn.layer = "relu1"} {
  ^bb0(%u: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %c = arith.cmpf ugt, %u, %z : f32
    %s = arith.select %c, %u, %z : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// The library result has another user (backward reads it): no epilogue.
// CHECK-LABEL: func.func @linear_result_used_twice
// CHECK: %[[L:.*]] = nn.linear %arg0, %arg1 :
// CHECK: nn.kernel "k0_relu1"(%[[L]])
// CHECK: return %{{.*}}, %[[L]]
func.func @linear_result_used_twice(%x: tensor<2x8xf32>, %w: tensor<3x8xf32>)
    -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %l = nn.linear %x, %w : (tensor<2x8xf32>, tensor<3x8xf32>) -> tensor<2x3xf32>
  %e = tensor.empty() : tensor<2x3xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%l : tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) attrs = {nn.layer = "relu1"} {
  ^bb0(%u: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %m = arith.maximumf %u, %z : f32
    linalg.yield %m : f32
  } -> tensor<2x3xf32>
  return %r, %l : tensor<2x3xf32>, tensor<2x3xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// Not a relu (leaky slope): no epilogue.
// CHECK-LABEL: func.func @linear_leaky
// CHECK: %[[L:.*]] = nn.linear %arg0, %arg1 :
// CHECK: nn.kernel "k0_lrelu1"(%[[L]])
func.func @linear_leaky(%x: tensor<2x8xf32>, %w: tensor<3x8xf32>) -> tensor<2x3xf32> {
  %l = nn.linear %x, %w : (tensor<2x8xf32>, tensor<3x8xf32>) -> tensor<2x3xf32>
  %e = tensor.empty() : tensor<2x3xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%l : tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) attrs = {nn.layer = "lrelu1"} {
  ^bb0(%u: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %k = arith.constant 0.01 : f32
    %c = arith.cmpf ogt, %u, %z : f32
    %m = arith.mulf %u, %k : f32
    %s = arith.select %c, %u, %m : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}
