// RUN: nn-opt %s -nn-lower-to-linalg | FileCheck %s
// Batch normalization as linalg.generic on tensors. Statistics are per-channel
// reductions in f64 over (c, n, spatial...) with the channel outermost: one
// pass for the sum, one for the squared deviations from the mean. The
// running statistics are inits of the per-channel generic that reads them
// (updated in place), the normalization one elementwise generic.

// CHECK-DAG: #[[$C1:.*]] = affine_map<(d0) -> (d0)>
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$CH:.*]] = affine_map<(d0, d1, d2) -> (d1)>
// CHECK-DAG: #[[$CNS:.*]] = affine_map<(d0, d1, d2) -> (d1, d0, d2)>
// CHECK-DAG: #[[$RED:.*]] = affine_map<(d0, d1, d2) -> (d0)>

// Inference: scale and shift per channel, then y = x * scale + shift.
// CHECK-LABEL: func.func @infer
// CHECK: %[[AFF:.*]]:2 = linalg.generic {indexing_maps = [#[[$C1]], #[[$C1]], #[[$C1]], #[[$C1]], #[[$C1]], #[[$C1]]], iterator_types = ["parallel"]} ins(%arg3, %arg4, %arg1, %arg2 : {{.*}}) outs({{.*}}) attrs = {nn.layer = "bn"}
// CHECK: ^bb0(%[[M:[a-z0-9_]+]]: f32, %[[V:[a-z0-9_]+]]: f32, %[[G:[a-z0-9_]+]]: f32, %[[B:[a-z0-9_]+]]: f32,
// CHECK: %[[EPS:.*]] = arith.constant 9.99999974E-6 : f32
// CHECK: %[[VE:.*]] = arith.addf %[[V]], %[[EPS]] : f32
// CHECK: %[[SQ:.*]] = math.sqrt %[[VE]] : f32
// CHECK: %[[INV:.*]] = arith.divf %{{.*}}, %[[SQ]] : f32
// CHECK: %[[SCALE:.*]] = arith.mulf %[[INV]], %[[G]] : f32
// CHECK: %[[MS:.*]] = arith.mulf %[[M]], %[[SCALE]] : f32
// CHECK: %[[SHIFT:.*]] = arith.subf %[[B]], %[[MS]] : f32
// CHECK: linalg.yield %[[SCALE]], %[[SHIFT]]
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$CH]], #[[$CH]], #[[$ID]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg0, %[[AFF]]#0, %[[AFF]]#1 : {{.*}}) outs(%{{.*}} : tensor<4x3x5xf32>) attrs = {nn.layer = "bn"}
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK-NOT: nn.batchnorm

// An [N, C, H, W] input is normalized as [N, C, H * W] (one contiguous loop
// per plane).
// CHECK-LABEL: func.func @infer4d
// CHECK: %[[X:.*]] = tensor.collapse_shape %arg0 {{\[}}[0], [1], [2, 3]] : tensor<2x3x4x5xf32> into tensor<2x3x20xf32>
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%[[X]], %{{.*}}, %{{.*}} : tensor<2x3x20xf32>, tensor<3xf32>, tensor<3xf32>) outs(%{{.*}} : tensor<2x3x20xf32>)
// CHECK: %[[R:.*]] = tensor.expand_shape %[[Y]] {{\[}}[0], [1], [2, 3]] output_shape [2, 3, 4, 5]
// CHECK: return %[[R]]

// Training: the sum, the mean (/ 20 = N * L), the squared deviations, then
// per channel the saved mean and 1/sqrt(var + eps) (eps as the f32 that the
// runtime kernels got), the running statistics
// blended with momentum 0.25 (var unbiased: / 19) and scale/shift.
// CHECK-LABEL: func.func @train
// CHECK: %[[Z:.*]] = linalg.fill {nn.layer = "bn"} ins(%{{.*}} : f64) outs(%{{.*}} : tensor<3xf64>)
// CHECK: %[[SUM:.*]] = linalg.generic {indexing_maps = [#[[$CNS]], #[[$RED]]], iterator_types = ["parallel", "reduction", "reduction"]} ins(%arg0 : tensor<4x3x5xf32>) outs(%[[Z]] : tensor<3xf64>) attrs = {nn.layer = "bn"}
// CHECK: arith.extf
// CHECK: arith.addf %{{.*}}, %{{.*}} : f64
// CHECK: %[[MEAN:.*]] = linalg.generic {{.*}} ins(%[[SUM]] : tensor<3xf64>)
// CHECK: arith.constant 2.000000e+01 : f64
// CHECK: %[[SQS:.*]] = linalg.generic {indexing_maps = [#[[$CNS]], #[[$RED]], #[[$RED]]], iterator_types = ["parallel", "reduction", "reduction"]} ins(%arg0, %[[MEAN]] : tensor<4x3x5xf32>, tensor<3xf64>)
// CHECK: %[[D:.*]] = arith.subf %{{.*}}, %{{.*}} : f64
// CHECK: arith.mulf %[[D]], %[[D]] : f64
// CHECK: %[[ST:.*]]:6 = linalg.generic {{.*}} ins(%[[MEAN]], %[[SQS]], %arg1, %arg2 : {{.*}}) outs(%{{.*}}, %{{.*}}, %arg3, %arg4, %{{.*}}, %{{.*}} : {{.*}}) attrs = {nn.layer = "bn"}
// CHECK: ^bb0(%[[BM:[a-z0-9_]+]]: f64, %[[BSQ:[a-z0-9_]+]]: f64, %{{[a-z0-9_]+}}: f32, %{{[a-z0-9_]+}}: f32, %{{[a-z0-9_]+}}: f32, %{{[a-z0-9_]+}}: f32, %[[RM:[a-z0-9_]+]]: f32, %[[RV:[a-z0-9_]+]]: f32,
// CHECK: arith.constant 2.000000e+01 : f64
// CHECK: arith.divf %[[BSQ]], %{{.*}} : f64
// CHECK: arith.constant 1.900000e+01 : f64
// CHECK: %[[UNB:.*]] = arith.divf %[[BSQ]], %{{.*}} : f64
// CHECK: arith.constant 0.0010000000474974513 : f64
// CHECK: math.sqrt %{{.*}} : f64
// CHECK: %[[KEEP:.*]] = arith.constant 7.500000e-01 : f64
// CHECK: %[[RM64:.*]] = arith.extf %[[RM]] : f32 to f64
// CHECK: arith.mulf %[[KEEP]], %[[RM64]] : f64
// CHECK: %[[MOM:.*]] = arith.constant 2.500000e-01 : f64
// CHECK: arith.mulf %[[MOM]], %[[BM]] : f64
// CHECK: %[[RV64:.*]] = arith.extf %[[RV]] : f32 to f64
// CHECK: arith.mulf %{{.*}}, %[[UNB]] : f64
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%arg0, %[[ST]]#4, %[[ST]]#5 : {{.*}}) outs(%{{.*}} : tensor<4x3x5xf32>) attrs = {nn.layer = "bn"}

// Backward: sum(dy) and sum(dy * xhat) in one f64 reduction, per-channel
// dbeta, dgamma and the coefficients k = gamma * invstd, k * mean(dy) and
// k * invstd * mean(dy * xhat), then dx = k * dy - k * mean(dy) - (x - mean) *
// k * invstd * mean(dy * xhat) elementwise.
// CHECK: %[[SUMS:.*]]:2 = linalg.generic {indexing_maps = [#[[$CNS]], #[[$CNS]], #[[$RED]], #[[$RED]], #[[$RED]], #[[$RED]]], iterator_types = ["parallel", "reduction", "reduction"]} ins(%arg5, %arg0, %[[ST]]#0, %[[ST]]#1 : {{.*}}) outs(%{{.*}}, %{{.*}} : tensor<3xf64>, tensor<3xf64>) attrs = {nn.layer = "bn_bwd"}
// CHECK: %[[PC:.*]]:5 = linalg.generic {{.*}} ins(%[[SUMS]]#0, %[[SUMS]]#1, %arg1, %[[ST]]#1 : {{.*}}) {{.*}} attrs = {nn.layer = "bn_bwd"}
// CHECK: %[[DX:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ID]], #[[$CH]], #[[$CH]], #[[$CH]], #[[$CH]], #[[$ID]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg5, %arg0, %[[ST]]#0, %[[PC]]#2, %[[PC]]#3, %[[PC]]#4 : {{.*}}) {{.*}} attrs = {nn.layer = "bn_bwd"}
// CHECK: ^bb0(%[[G:[a-z0-9_]+]]: f32, %[[XV:[a-z0-9_]+]]: f32, %[[MV:[a-z0-9_]+]]: f32, %[[K:[a-z0-9_]+]]: f32, %[[KMD:[a-z0-9_]+]]: f32, %[[C2:[a-z0-9_]+]]: f32,
// CHECK: %[[CEN:.*]] = arith.subf %[[XV]], %[[MV]] : f32
// CHECK: %[[KG:.*]] = arith.mulf %[[K]], %[[G]] : f32
// CHECK: %[[T:.*]] = arith.subf %[[KG]], %[[KMD]] : f32
// CHECK: %[[P:.*]] = arith.mulf %[[CEN]], %[[C2]] : f32
// CHECK: arith.subf %[[T]], %[[P]] : f32
// CHECK: return %[[Y]], %[[ST]]#2, %[[ST]]#3, %[[DX]], %[[PC]]#1, %[[PC]]#0
module @m attributes {nn.model} {
  func.func @infer(%x: tensor<4x3x5xf32>, %g: tensor<3xf32>, %b: tensor<3xf32>, %m: tensor<3xf32>, %v: tensor<3xf32>) -> tensor<4x3x5xf32> {
    %0 = nn.batchnorm %x, %g, %b, %m, %v {name = "bn"} : (tensor<4x3x5xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<4x3x5xf32>
    return %0 : tensor<4x3x5xf32>
  }
  func.func @infer4d(%x: tensor<2x3x4x5xf32>, %g: tensor<3xf32>, %b: tensor<3xf32>, %m: tensor<3xf32>, %v: tensor<3xf32>) -> tensor<2x3x4x5xf32> {
    %0 = nn.batchnorm %x, %g, %b, %m, %v {name = "bn"} : (tensor<2x3x4x5xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3x4x5xf32>
    return %0 : tensor<2x3x4x5xf32>
  }
  func.func @train(%x: tensor<4x3x5xf32>, %g: tensor<3xf32>, %b: tensor<3xf32>, %m: tensor<3xf32>, %v: tensor<3xf32>, %dy: tensor<4x3x5xf32>) -> (tensor<4x3x5xf32>, tensor<3xf32>, tensor<3xf32>, tensor<4x3x5xf32>, tensor<3xf32>, tensor<3xf32>) {
    %y, %mean, %invstd, %rm, %rv = nn.batchnorm_train %x, %g, %b, %m, %v {name = "bn", eps = 1.0e-03 : f64, momentum = 2.5e-01 : f64} : (tensor<4x3x5xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<4x3x5xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>)
    %dx, %dg, %db = nn.batchnorm_backward %dy, %x, %g, %mean, %invstd {name = "bn"} : (tensor<4x3x5xf32>, tensor<4x3x5xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<4x3x5xf32>, tensor<3xf32>, tensor<3xf32>)
    return %y, %rm, %rv, %dx, %dg, %db : tensor<4x3x5xf32>, tensor<3xf32>, tensor<3xf32>, tensor<4x3x5xf32>, tensor<3xf32>, tensor<3xf32>
  }
}
