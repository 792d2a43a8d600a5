// RUN: nn-opt %s -split-input-file -nn-lower-to-linalg | FileCheck %s --check-prefix=LIB
// RUN: nn-opt %s -split-input-file -nn-lower-to-linalg=generated-matmul=1 | FileCheck %s
// RUN: sed 's/attributes {nn.model}/attributes {nn.model, nn.generated_matmul}/' %s | nn-opt -split-input-file -nn-lower-to-linalg | FileCheck %s
// With generated-matmul (nnc --generated-matmul: the model's
// nn.generated_matmul), nn.linear and nn.linear_backward are generated
// matmuls instead of library ops: the weight read transposed through its
// indexing map, one reduction dimension last, the bias the accumulator's
// initial value. Without it they stay nn ops.

// LIB-LABEL: func.func @linear
// LIB: nn.linear
// LIB-LABEL: func.func @linear_backward
// LIB: nn.linear_backward

// CHECK-DAG: #[[$BIAS:.*]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$X:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[$W:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG: #[[$Y:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @linear
// CHECK-NOT: nn.linear
// CHECK: %[[B:.*]] = linalg.generic {indexing_maps = [#[[$BIAS]], #[[$ID]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%{{.*}} : tensor<3xf32>) outs(%{{.*}} : tensor<2x5x3xf32>) attrs = {nn.layer = "fc"}
// CHECK: linalg.generic {indexing_maps = [#[[$X]], #[[$W]], #[[$Y]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<2x5x4xf32>, tensor<3x4xf32>) outs(%[[B]] : tensor<2x5x3xf32>) attrs = {nn.layer = "fc"}
// CHECK: ^bb0(%[[XV:.*]]: f32, %[[WV:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK: %[[P:.*]] = arith.mulf %[[XV]], %[[WV]] : f32
// CHECK: %[[S:.*]] = arith.addf %[[ACC]], %[[P]] : f32
// CHECK: linalg.yield %[[S]] : f32
module @m attributes {nn.model} {
  func.func @linear(%x: tensor<2x5x4xf32>, %w: tensor<3x4xf32>, %b: tensor<3xf32>) -> tensor<2x5x3xf32> {
    %0 = nn.linear %x, %w, %b {name = "fc"} : (tensor<2x5x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<2x5x3xf32>
    return %0 : tensor<2x5x3xf32>
  }
}

// -----

// dx over (n, i, o), dw over (o, i, n), db over (o, n); each from zero
// (dw reads x [n, i] through the map that reads w [o, i] for dx).
// CHECK-DAG: #[[$DY0:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[$WT:.*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-DAG: #[[$DX:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$DY1:.*]] = affine_map<(d0, d1, d2) -> (d2, d0)>
// CHECK-DAG: #[[$DY2:.*]] = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-DAG: #[[$DB:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @linear_backward
// CHECK-NOT: nn.linear_backward
// CHECK: %[[DX:.*]] = linalg.generic {indexing_maps = [#[[$DY0]], #[[$WT]], #[[$DX]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<2x3xf32>, tensor<3x4xf32>) outs(%{{.*}} : tensor<2x4xf32>) attrs = {nn.layer = "fc_bwd"}
// CHECK: %[[DW:.*]] = linalg.generic {indexing_maps = [#[[$DY1]], #[[$WT]], #[[$DX]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<2x3xf32>, tensor<2x4xf32>) outs(%{{.*}} : tensor<3x4xf32>) attrs = {nn.layer = "fc_bwd"}
// CHECK: %[[DB:.*]] = linalg.generic {indexing_maps = [#[[$DY2]], #[[$DB]]], iterator_types = ["parallel", "reduction"]} ins(%{{.*}} : tensor<2x3xf32>) outs(%{{.*}} : tensor<3xf32>) attrs = {nn.layer = "fc_bwd"}
// CHECK: return %[[DX]], %[[DW]], %[[DB]]
module @m attributes {nn.model} {
  func.func @linear_backward(%dy: tensor<2x3xf32>, %x: tensor<2x4xf32>, %w: tensor<3x4xf32>) -> (tensor<2x4xf32>, tensor<3x4xf32>, tensor<3xf32>) {
    %0:3 = nn.linear_backward %dy, %x, %w {name = "fc", needs_bias_grad, needs_input_grad} : (tensor<2x3xf32>, tensor<2x4xf32>, tensor<3x4xf32>) -> (tensor<2x4xf32>, tensor<3x4xf32>, tensor<3xf32>)
    return %0#0, %0#1, %0#2 : tensor<2x4xf32>, tensor<3x4xf32>, tensor<3xf32>
  }
}
