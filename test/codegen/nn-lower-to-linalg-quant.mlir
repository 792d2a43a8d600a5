// RUN: nn-opt %s -nn-lower-to-linalg | FileCheck %s
// RUN: nn-opt %s -nn-lower-to-linalg -nn-fuse | FileCheck %s --check-prefix=FUSE

// nn.quantize and nn.dequantize become elementwise linalg.generic ops (the
// int8 library ops stay nn ops); -nn-fuse puts the residual add, the relu and
// the requantization of the next int8 layer's input into one kernel, and
// folds a relu after an int8 layer into its epilogue.

module @m attributes {nn.model} {
  // CHECK-LABEL: func.func @forward
  // FUSE-LABEL: func.func @forward
  func.func @forward(%x: tensor<2x8xf32>, %y: tensor<2x8xf32>, %w: tensor<4x8xi8>, %s: tensor<4xf32>) -> (tensor<2x4xf32>, tensor<2x8xf32>) {
    %a = nn.add %x, %y {name = "add1"} : tensor<2x8xf32>
    %r = nn.relu %a {name = "relu1"} : tensor<2x8xf32>
    // CHECK: %[[Q:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<2x8xf32>) outs(%{{.*}} : tensor<2x8xi8>) attrs = {nn.layer = "fc.quantize"}
    // CHECK: ^bb0(%[[IN:.*]]: f32, %{{.*}}: i8):
    // CHECK: %[[D:.*]] = arith.divf %[[IN]], %cst{{.*}} : f32
    // CHECK: %[[RE:.*]] = math.roundeven %[[D]] : f32
    // CHECK: %[[Z:.*]] = arith.addf %[[RE]], %cst{{.*}} : f32
    // CHECK: %[[LO:.*]] = arith.maximumf %[[Z]], %cst{{.*}} : f32
    // CHECK: %[[HI:.*]] = arith.minimumf %[[LO]], %cst{{.*}} : f32
    // CHECK: %[[I:.*]] = arith.fptosi %[[HI]] : f32 to i32
    // CHECK: %[[T:.*]] = arith.trunci %[[I]] : i32 to i8
    // CHECK: linalg.yield %[[T]] : i8
    %q = nn.quantize %r {scale = 0.5 : f32, zero_point = 3, qmin = 0, qmax = 255, name = "fc.quantize"} : tensor<2x8xf32> -> tensor<2x8xi8>
    // CHECK: %[[L:.*]] = nn.qlinear %[[Q]]
    %l = nn.qlinear %q, %w, %s {input_scale = 0.5 : f32, input_zero_point = 3, input_unsigned, name = "fc"} : (tensor<2x8xi8>, tensor<4x8xi8>, tensor<4xf32>) -> tensor<2x4xf32>
    %lr = nn.relu %l {name = "relu2"} : tensor<2x4xf32>
    // CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<2x8xi8>) outs(%{{.*}} : tensor<2x8xf32>) attrs = {nn.layer = "back"}
    // CHECK: ^bb0(%[[B:.*]]: i8, %{{.*}}: f32):
    // CHECK: %[[E:.*]] = arith.extui %[[B]] : i8 to i32
    // CHECK: %[[F:.*]] = arith.sitofp %[[E]] : i32 to f32
    // CHECK: %[[C:.*]] = arith.subf %[[F]], %cst{{.*}} : f32
    // CHECK: arith.mulf %[[C]], %cst{{.*}} : f32
    %d = nn.dequantize %q {scale = 0.5 : f32, zero_point = 3, is_unsigned, name = "back"} : tensor<2x8xi8> -> tensor<2x8xf32>
    // FUSE: %[[K:.*]] = nn.kernel "k0_add1_relu1_fc_quantize"(%arg0, %arg1) {nn.layers = ["add1", "relu1", "fc.quantize"]} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xi8>
    // FUSE: arith.addf
    // FUSE: arith.maximumf
    // FUSE: math.roundeven
    // FUSE: arith.trunci
    // FUSE: nn.yield
    // FUSE: %[[FC:.*]] = nn.qlinear %[[K]], %arg2, %arg3 {{{.*}}name = "fc", nn.epilogue = "relu"}
    // FUSE-NOT: relu2
    // FUSE: nn.kernel "k1_back"(%[[K]])
    // FUSE: return %[[FC]]
    return %lr, %d : tensor<2x4xf32>, tensor<2x8xf32>
  }
}
