// RUN: nn-opt %s -split-input-file -nn-lower-to-linalg | FileCheck %s --enable-var-scope

// The activations' backward ops are one elementwise linalg.generic of
// (dL/dy, saved value) each, tagged <layer>_bwd.

// CHECK-LABEL: func.func @unary(
// CHECK-SAME:    %[[DY:.*]]: tensor<2x8xf32>, %[[V:.*]]: tensor<2x8xf32>)
// CHECK:         linalg.generic {indexing_maps = [#[[ID:map]], #[[ID]], #[[ID]]], iterator_types = ["parallel", "parallel"]} ins(%[[DY]], %[[V]] : tensor<2x8xf32>, tensor<2x8xf32>) outs(%{{.*}} : tensor<2x8xf32>) attrs = {nn.layer = "act_bwd"}
// CHECK-NEXT:    ^bb0(%[[G:.*]]: f32, %[[Y:.*]]: f32, %{{.*}}: f32):
// CHECK:           %[[POS:.*]] = arith.cmpf ogt, %[[Y]], %[[ZERO:.*]] : f32
// CHECK:           arith.select %[[POS]], %[[G]], %[[ZERO]] : f32
// CHECK:         attrs = {nn.layer = "sig_bwd"}
// CHECK:           arith.subf
// CHECK:           arith.mulf
// CHECK:           arith.mulf
// CHECK:         attrs = {nn.layer = "th_bwd"}
// CHECK:           arith.mulf
// CHECK:           arith.subf
// CHECK:         attrs = {nn.layer = "ge_bwd"}
// CHECK:           math.erf
// CHECK:           math.exp
// CHECK:         attrs = {nn.layer = "lk_bwd"}
// CHECK:           arith.constant 2.500000e-01 : f32
// CHECK:           arith.select
// CHECK-NOT:     = nn.
module @m attributes {nn.model} {
  func.func @unary(%dy: tensor<2x8xf32>, %v: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>) {
    %0 = nn.relu_backward %dy, %v {name = "act"} : tensor<2x8xf32>
    %1 = nn.sigmoid_backward %dy, %v {name = "sig"} : tensor<2x8xf32>
    %2 = nn.tanh_backward %dy, %v {name = "th"} : tensor<2x8xf32>
    %3 = nn.gelu_backward %dy, %v {name = "ge"} : tensor<2x8xf32>
    %4 = nn.leaky_relu_backward %dy, %v {name = "lk", slope = 0.25} : tensor<2x8xf32>
    return %0, %1, %2, %3, %4 : tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>
  }
}

// -----

// softmax over dimension 1 of [2, 3, 4]: a max reduction into [2, 4]
// (dimension 1 dropped), the shifted exponentials (one exp per element),
// their sum into [2, 4], then the division; the innermost loop stays the
// contiguous dimension.

// CHECK-DAG:   #[[$FULL:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG:   #[[$ROW:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @softmax(
// CHECK-SAME:    %[[X:.*]]: tensor<2x3x4xf32>
// CHECK:         %[[LOW:.*]] = arith.constant -3.40282347E+38 : f32
// CHECK:         %[[MAX0:.*]] = linalg.fill {{.*}}ins(%[[LOW]] : f32) outs(%{{.*}} : tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK:         %[[MAX:.*]] = linalg.generic {indexing_maps = [#[[$FULL]], #[[$ROW]]], iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[X]] : tensor<2x3x4xf32>) outs(%[[MAX0]] : tensor<2x4xf32>) attrs = {nn.layer = "sm"}
// CHECK:           arith.maximumf
// CHECK:         %[[SUM0:.*]] = linalg.fill {{.*}}ins(%{{.*}} : f32) outs(%{{.*}} : tensor<2x4xf32>)
// CHECK:         %[[E:.*]] = linalg.generic {indexing_maps = [#[[$FULL]], #[[$ROW]], #[[$FULL]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[X]], %[[MAX]] : tensor<2x3x4xf32>, tensor<2x4xf32>) outs(%{{.*}} : tensor<2x3x4xf32>)
// CHECK:           arith.subf
// CHECK:           math.exp
// CHECK:         %[[SUM:.*]] = linalg.generic {indexing_maps = [#[[$FULL]], #[[$ROW]]], iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[E]] : tensor<2x3x4xf32>) outs(%[[SUM0]] : tensor<2x4xf32>)
// CHECK:           arith.addf
// CHECK:         linalg.generic {indexing_maps = [#[[$FULL]], #[[$ROW]], #[[$FULL]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[E]], %[[SUM]] : tensor<2x3x4xf32>, tensor<2x4xf32>)
// CHECK-NOT:       math.exp
// CHECK:           arith.divf

// log_softmax over the batch dimension of [2, 5]: the max and the sum of
// the shifted exponentials reduce into [5]; the result subtracts the log.
// CHECK-LABEL: func.func @log_softmax_batch(
// CHECK:         linalg.generic {{{.*}}iterator_types = ["reduction", "parallel"]} {{.*}} outs(%{{.*}} : tensor<5xf32>) attrs = {nn.layer = "lsm"}
// CHECK:         linalg.generic {{{.*}}iterator_types = ["reduction", "parallel"]} {{.*}} outs(%{{.*}} : tensor<5xf32>)
// CHECK:           math.exp
// CHECK:         linalg.generic {{{.*}}iterator_types = ["parallel", "parallel"]}
// CHECK-NOT:       math.exp
// CHECK:           math.log
// CHECK:           arith.subf

// The backward ops: one reduction over the dimension, then the elementwise
// result.
// CHECK-LABEL: func.func @backward(
// CHECK-SAME:    %[[DY:.*]]: tensor<2x3x4xf32>, %[[Y:.*]]: tensor<2x3x4xf32>
// CHECK:         %[[DOT:.*]] = linalg.generic {{{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[DY]], %[[Y]] : {{.*}}) outs(%{{.*}} : tensor<2x3xf32>) attrs = {nn.layer = "softmax_backward_bwd"}
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK:         linalg.generic {{{.*}}iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[DY]], %[[Y]], %[[DOT]] :
// CHECK:           arith.subf
// CHECK:           arith.mulf
// CHECK:         %[[SUM:.*]] = linalg.generic {{{.*}}iterator_types = ["reduction", "parallel", "parallel"]} ins(%[[DY]] : {{.*}}) outs(%{{.*}} : tensor<3x4xf32>) attrs = {nn.layer = "log_softmax_backward_bwd"}
// CHECK:           arith.addf
// CHECK:         linalg.generic {{{.*}}} ins(%[[DY]], %[[Y]], %[[SUM]] :
// CHECK:           math.exp
// CHECK:           arith.mulf
// CHECK:           arith.subf
// CHECK-NOT:     = nn.
module @sm attributes {nn.model} {
  func.func @softmax(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
    %0 = nn.softmax %x {dim = 1 : i64, name = "sm"} : tensor<2x3x4xf32>
    return %0 : tensor<2x3x4xf32>
  }
  func.func @log_softmax_batch(%x: tensor<2x5xf32>) -> tensor<2x5xf32> {
    %0 = nn.log_softmax %x {dim = 0 : i64, name = "lsm"} : tensor<2x5xf32>
    return %0 : tensor<2x5xf32>
  }
  func.func @backward(%dy: tensor<2x3x4xf32>, %y: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
    %0 = nn.softmax_backward %dy, %y {dim = 2 : i64} : tensor<2x3x4xf32>
    %1 = nn.log_softmax_backward %dy, %y {dim = 0 : i64} : tensor<2x3x4xf32>
    return %0, %1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>
  }
}

// -----

// Training-mode dropout: one generic with two results (the scaled values and
// the i8 keep mask); the seed is a scalar input. The body hashes (seed,
// (stream << 40) + row-major index) with SplitMix64's finalizer and keeps
// the element when the top 24 bits, as a fraction, are >= p; kept values are
// scaled by 1 / (1 - p) = 1.25.

// CHECK-DAG:   #[[$ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG:   #[[$SCALAR:.*]] = affine_map<(d0, d1) -> ()>
// CHECK-LABEL: func.func @dropout(
// CHECK-SAME:    %[[X:.*]]: tensor<3x5xf32>, %[[SEED:.*]]: tensor<i64>
// CHECK:         %[[R:.*]]:2 = linalg.generic {indexing_maps = [#[[$ID]], #[[$SCALAR]], #[[$ID]], #[[$ID]]], iterator_types = ["parallel", "parallel"]} ins(%[[X]], %[[SEED]] : tensor<3x5xf32>, tensor<i64>) outs(%{{.*}}, %{{.*}} : tensor<3x5xf32>, tensor<3x5xi8>) attrs = {nn.layer = "drop"}
// CHECK-NEXT:    ^bb0(%[[IN:.*]]: f32, %[[S:.*]]: i64, %{{.*}}: f32, %{{.*}}: i8):
// CHECK:           linalg.index 1
// CHECK:           linalg.index 0
// CHECK:           arith.constant 5 : i64
// CHECK:           %[[STREAM:.*]] = arith.constant 3298534883328 : i64
// CHECK:           %[[CTR:.*]] = arith.addi %{{.*}}, %[[STREAM]] : i64
// CHECK:           %[[GOLD:.*]] = arith.constant -7046029254386353131 : i64
// CHECK:           %[[SG:.*]] = arith.muli %[[S]], %[[GOLD]] : i64
// CHECK:           arith.xori %[[SG]], %[[CTR]] : i64
// CHECK:           arith.constant 30 : i64
// CHECK:           arith.shrui
// CHECK:           arith.constant -4658895280553007687 : i64
// CHECK:           arith.constant 27 : i64
// CHECK:           arith.constant -7723592293110705685 : i64
// CHECK:           arith.constant 31 : i64
// CHECK:           arith.constant 40 : i64
// CHECK:           arith.uitofp {{.*}} : i64 to f32
// CHECK:           arith.constant 5.96046448E-8 : f32
// CHECK:           %[[P:.*]] = arith.constant 2.000000e-01 : f32
// CHECK:           %[[KEEP:.*]] = arith.cmpf oge, %{{.*}}, %[[P]] : f32
// CHECK:           arith.constant 1.250000e+00 : f32
// CHECK:           %[[Y:.*]] = arith.select %[[KEEP]]
// CHECK:           %[[M:.*]] = arith.extui %[[KEEP]] : i1 to i8
// CHECK:           linalg.yield %[[Y]], %[[M]] : f32, i8
// CHECK:         return %[[R]]#0, %[[R]]#1

// Its backward: dy * 1.25 where the mask is set, else 0.
// CHECK-LABEL: func.func @dropout_backward(
// CHECK:         linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<3x5xf32>, tensor<3x5xi8>) {{.*}} attrs = {nn.layer = "drop_bwd"}
// CHECK:           arith.cmpi ne, %{{.*}}, %{{.*}} : i8
// CHECK:           arith.constant 1.250000e+00 : f32
// CHECK:           arith.select
// CHECK-NOT:     = nn.
module @drop attributes {nn.model} {
  func.func @dropout(%x: tensor<3x5xf32>, %seed: tensor<i64>) -> (tensor<3x5xf32>, tensor<3x5xi8>) {
    %y, %mask = nn.dropout_train %x, %seed {name = "drop", p = 0.2 : f64, stream = 3 : i64} : (tensor<3x5xf32>, tensor<i64>) -> (tensor<3x5xf32>, tensor<3x5xi8>)
    return %y, %mask : tensor<3x5xf32>, tensor<3x5xi8>
  }
  func.func @dropout_backward(%dy: tensor<3x5xf32>, %mask: tensor<3x5xi8>) -> tensor<3x5xf32> {
    %0 = nn.dropout_backward %dy, %mask {name = "drop", p = 0.2 : f64} : tensor<3x5xf32>, tensor<3x5xi8>
    return %0 : tensor<3x5xf32>
  }
}
