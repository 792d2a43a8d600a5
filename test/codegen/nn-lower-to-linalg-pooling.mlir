// RUN: nn-opt %s -split-input-file -nn-lower-to-linalg | FileCheck %s
// Pooling forward and backward as linalg.generic on tensors: windowed
// reductions over (n, c, oh, ow, kh, kw) whose window extents come from an
// empty [KH, KW] operand, and gathers over the input positions for the
// backward ops.

// Max pooling without padding reads the input through an affine map. With a
// backward of the same pooling it also yields the i32 argmax (h * W + w),
// taking a larger value, the first NaN or the first position.
// CHECK-DAG: #[[$WIN:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d4, d5)>
// CHECK-DAG: #[[$OUT:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[$IN:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2 * 2 + d4, d3 * 2 + d5)>
// CHECK-LABEL: func.func @maxpool
// CHECK: %[[E:.*]] = tensor.empty() : tensor<2x2xi8>
// CHECK: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: %[[Y0:.*]] = linalg.fill {nn.layer = "pool"} ins(%[[NEGINF]] : f32)
// CHECK: %[[I0:.*]] = linalg.fill {nn.layer = "pool"} ins(%{{.*}} : i32) outs(%{{.*}} : tensor<2x3x3x3xi32>)
// CHECK: %[[P:.*]]:2 = linalg.generic {indexing_maps = [#[[$IN]], #[[$WIN]], #[[$OUT]], #[[$OUT]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[X:.*]], %[[E]] : tensor<2x3x6x7xf32>, tensor<2x2xi8>) outs(%[[Y0]], %[[I0]] : tensor<2x3x3x3xf32>, tensor<2x3x3x3xi32>) attrs = {nn.layer = "pool"}
// CHECK: ^bb0(%[[V:.*]]: f32, %{{.*}}: i8, %[[BEST:.*]]: f32, %[[IDX:.*]]: i32):
// CHECK: %[[GT:.*]] = arith.cmpf ogt, %[[V]], %[[BEST]] : f32
// CHECK: arith.cmpf uno, %[[V]], %[[V]]
// CHECK: arith.cmpf ord, %[[BEST]], %[[BEST]]
// CHECK: %[[FIRST:.*]] = arith.cmpi slt, %[[IDX]], %{{.*}} : i32
// CHECK: %[[TAKE:.*]] = arith.ori %{{.*}}, %[[FIRST]] : i1
// CHECK: %[[NEWV:.*]] = arith.select %[[TAKE]], %[[V]], %[[BEST]] : f32
// CHECK: %[[C7:.*]] = arith.constant 7 : index
// CHECK: arith.muli %{{.*}}, %[[C7]] : index
// CHECK: %[[POS:.*]] = arith.index_cast %{{.*}} : index to i32
// CHECK: %[[NEWI:.*]] = arith.select %[[TAKE]], %[[POS]], %[[IDX]] : i32
// CHECK: linalg.yield %[[NEWV]], %[[NEWI]] : f32, i32
// The backward: for each input element, its ceil(2/2) x ceil(2/2) candidate
// windows; dy counts where the window's argmax is this element.
// CHECK: %[[J:.*]] = tensor.empty() : tensor<1x1xi8>
// CHECK: %[[Z:.*]] = linalg.fill {nn.layer = "pool_bwd"}
// CHECK: linalg.generic {indexing_maps = [#[[$WIN]], #[[$OUT]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[J]] : tensor<1x1xi8>) outs(%[[Z]] : tensor<2x3x6x7xf32>) attrs = {nn.layer = "pool_bwd"}
// CHECK: arith.floordivsi
// CHECK: %[[G:.*]] = tensor.extract %[[DY:.*]][{{.*}}] : tensor<2x3x3x3xf32>
// CHECK: %[[CHOSEN:.*]] = tensor.extract %[[P]]#1[{{.*}}] : tensor<2x3x3x3xi32>
// CHECK: %[[SELF:.*]] = arith.index_cast %{{.*}} : index to i32
// CHECK: %[[IS:.*]] = arith.cmpi eq, %[[CHOSEN]], %[[SELF]] : i32
// CHECK: %[[OK:.*]] = arith.andi %{{.*}}, %[[IS]] : i1
// CHECK: %[[ADD:.*]] = arith.select %[[OK]], %[[G]], %{{.*}} : f32
// CHECK: arith.addf %{{.*}}, %[[ADD]] : f32
// CHECK-NOT: nn.maxpool2d
module @m attributes {nn.model} {
  func.func @maxpool(%x: tensor<2x3x6x7xf32>, %dy: tensor<2x3x3x3xf32>) -> (tensor<2x3x3x3xf32>, tensor<2x3x6x7xf32>) {
    %0 = nn.maxpool2d %x {name = "pool", kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<2x3x6x7xf32> -> tensor<2x3x3x3xf32>
    %1 = nn.maxpool2d_backward %dy, %x {name = "pool", kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : (tensor<2x3x3x3xf32>, tensor<2x3x6x7xf32>) -> tensor<2x3x6x7xf32>
    return %0, %1 : tensor<2x3x3x3xf32>, tensor<2x3x6x7xf32>
  }
}

// -----

// Padded max pooling (inference: no argmax) reads the input with
// tensor.extract at a clamped position and skips positions in the padding.
// CHECK-LABEL: func.func @maxpool_padded
// CHECK: %[[E:.*]] = tensor.empty() : tensor<3x2xi8>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[E]] : tensor<3x2xi8>) outs(%{{.*}} : tensor<2x3x3x4xf32>) attrs = {nn.layer = "pool"}
// CHECK: arith.cmpi slt, %{{.*}}, %{{.*}} : index
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK: %[[V:.*]] = tensor.extract %arg0[{{.*}}] : tensor<2x3x6x7xf32>
// CHECK: %[[LARGER:.*]] = arith.ori
// CHECK: %[[TAKE:.*]] = arith.andi %[[LARGER]], %{{.*}} : i1
// CHECK: %[[R:.*]] = arith.select %[[TAKE]], %[[V]], %{{.*}} : f32
// CHECK-NEXT: linalg.yield %[[R]] : f32
// CHECK-NOT: i32
module @m attributes {nn.model} {
  func.func @maxpool_padded(%x: tensor<2x3x6x7xf32>) -> tensor<2x3x3x4xf32> {
    %0 = nn.maxpool2d %x {name = "pool", kernel = array<i64: 3, 2>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>} : tensor<2x3x6x7xf32> -> tensor<2x3x3x4xf32>
    return %0 : tensor<2x3x3x4xf32>
  }
}

// -----

// A backward without its forward recomputes the argmax; with stride 1 and
// kernel 3 each input element has 3 x 3 candidate windows.
// CHECK-LABEL: func.func @maxpool_backward_alone
// CHECK: %[[P:.*]]:2 = linalg.generic {{.*}} outs(%{{.*}}, %{{.*}} : tensor<1x2x3x3xf32>, tensor<1x2x3x3xi32>)
// CHECK: %[[J:.*]] = tensor.empty() : tensor<3x3xi8>
// CHECK: linalg.generic {{.*}} ins(%[[J]] : tensor<3x3xi8>) outs(%{{.*}} : tensor<1x2x5x5xf32>) attrs = {nn.layer = "p_bwd"}
// CHECK: tensor.extract %[[P]]#1
module @m attributes {nn.model} {
  func.func @maxpool_backward_alone(%x: tensor<1x2x5x5xf32>, %dy: tensor<1x2x3x3xf32>) -> tensor<1x2x5x5xf32> {
    %0 = nn.maxpool2d_backward %dy, %x {name = "p", kernel = array<i64: 3, 3>, stride = array<i64: 1, 1>, padding = array<i64: 0, 0>} : (tensor<1x2x3x3xf32>, tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
    return %0 : tensor<1x2x5x5xf32>
  }
}

// -----

// Average pooling counts the padding: window sums (0 in the padding), then
// one division by KH * KW; its backward adds dy / (KH * KW) of every window
// containing the element.
// CHECK-LABEL: func.func @avgpool
// CHECK: %[[S:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%{{.*}} : tensor<3x2xi8>) outs(%{{.*}} : tensor<2x3x3x6xf32>) attrs = {nn.layer = "avg"}
// CHECK: %[[V:.*]] = tensor.extract %arg0
// CHECK: %[[Z:.*]] = arith.select %{{.*}}, %[[V]], %{{.*}} : f32
// CHECK: arith.addf %{{.*}}, %[[Z]] : f32
// CHECK: linalg.generic {{.*}} ins(%[[S]] : tensor<2x3x3x6xf32>) {{.*}} attrs = {nn.layer = "avg"}
// CHECK: %[[SIX:.*]] = arith.constant 6.000000e+00 : f32
// CHECK: arith.divf %{{.*}}, %[[SIX]] : f32
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<2x2xi8>) outs(%{{.*}} : tensor<2x3x6x7xf32>) attrs = {nn.layer = "avg_bwd"}
// CHECK: %[[G:.*]] = tensor.extract %arg1
// CHECK: %[[SIX:.*]] = arith.constant 6.000000e+00 : f32
// CHECK: arith.divf %[[G]], %[[SIX]] : f32
module @m attributes {nn.model} {
  func.func @avgpool(%x: tensor<2x3x6x7xf32>, %dy: tensor<2x3x3x6xf32>) -> (tensor<2x3x3x6xf32>, tensor<2x3x6x7xf32>) {
    %0 = nn.avgpool2d %x {name = "avg", kernel = array<i64: 3, 2>, stride = array<i64: 2, 1>, padding = array<i64: 1, 0>} : tensor<2x3x6x7xf32> -> tensor<2x3x3x6xf32>
    %1 = nn.avgpool2d_backward %dy {name = "avg", input_size = array<i64: 6, 7>, kernel = array<i64: 3, 2>, stride = array<i64: 2, 1>, padding = array<i64: 1, 0>} : tensor<2x3x3x6xf32> -> tensor<2x3x6x7xf32>
    return %0, %1 : tensor<2x3x3x6xf32>, tensor<2x3x6x7xf32>
  }
}

// -----

// Global average pooling: sums over the plane viewed as one dimension
// (reduction innermost), one division per (n, c); the backward spreads
// dy / (H * W) over [N, C, H * W] and views it as [N, C, H, W].
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$NC:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @global_avgpool
// CHECK: %[[X:.*]] = tensor.collapse_shape %arg0 {{\[}}[0], [1], [2, 3]] : tensor<2x3x6x7xf32> into tensor<2x3x42xf32>
// CHECK: %[[S:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$NC]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]] : tensor<2x3x42xf32>) outs(%{{.*}} : tensor<2x3xf32>) attrs = {nn.layer = "gap"}
// CHECK: linalg.generic {{.*}} ins(%[[S]] : tensor<2x3xf32>)
// CHECK: arith.constant 4.200000e+01 : f32
// CHECK: %[[D:.*]] = linalg.generic {indexing_maps = [#[[$NC]], #[[$ID]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg1 : tensor<2x3xf32>) outs(%{{.*}} : tensor<2x3x42xf32>) attrs = {nn.layer = "gap_bwd"}
// CHECK: arith.constant 4.200000e+01 : f32
// CHECK: arith.divf
// CHECK: tensor.expand_shape %[[D]] {{\[}}[0], [1], [2, 3]] output_shape [2, 3, 6, 7]
module @m attributes {nn.model} {
  func.func @global_avgpool(%x: tensor<2x3x6x7xf32>, %dy: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3x6x7xf32>) {
    %0 = nn.global_avgpool %x {name = "gap"} : tensor<2x3x6x7xf32> -> tensor<2x3xf32>
    %1 = nn.global_avgpool_backward %dy {name = "gap", input_size = array<i64: 6, 7>} : tensor<2x3xf32> -> tensor<2x3x6x7xf32>
    return %0, %1 : tensor<2x3xf32>, tensor<2x3x6x7xf32>
  }
}
