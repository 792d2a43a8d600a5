// RUN: nn-opt %s -split-input-file -nn-lower-to-linalg | FileCheck %s
// The embedding lookup is a gather: a generic parallel over the output whose
// body reads the table row of its id with tensor.extract (the id, i32 or
// i64, clamped into [0, V)). Its backward is a scatter-add: zeros, then a
// loop over the tokens and, innermost, the features, adding each row of
// dL/dy into the row of its id in place.

// CHECK-DAG: #[[$IDS:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @forward_i32
// CHECK-SAME: (%[[IDS:.*]]: tensor<2x5xi32>, %[[T:.*]]: tensor<7x3xf32>)
// CHECK: %[[E:.*]] = tensor.empty() : tensor<2x5x3xf32>
// CHECK: %[[R:.*]] = linalg.generic {indexing_maps = [#[[$IDS]], #[[$OUT]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[IDS]] : tensor<2x5xi32>) outs(%[[E]] : tensor<2x5x3xf32>) attrs = {nn.layer = "emb"}
// CHECK: ^bb0(%[[ID:.*]]: i32, %{{.*}}: f32):
// CHECK: %[[F:.*]] = linalg.index 2 : index
// CHECK: %[[I:.*]] = arith.index_cast %[[ID]] : i32 to index
// CHECK: %[[LO:.*]] = arith.maxsi %[[I]], %c0
// CHECK: %[[ROW:.*]] = arith.minsi %[[LO]], %c6
// CHECK: %[[V:.*]] = tensor.extract %[[T]][%[[ROW]], %[[F]]] : tensor<7x3xf32>
// CHECK: linalg.yield %[[V]]
// CHECK: return %[[R]]
module @m attributes {nn.model} {
  func.func @forward_i32(%ids: tensor<2x5xi32>, %t: tensor<7x3xf32>) -> tensor<2x5x3xf32> {
    %e = nn.embedding %ids, %t {name = "emb"} : (tensor<2x5xi32>, tensor<7x3xf32>) -> tensor<2x5x3xf32>
    return %e : tensor<2x5x3xf32>
  }
}

// -----

// CHECK-LABEL: func.func @forward_i64
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<4xi64>) outs(%{{.*}} : tensor<4x16xf32>)
// CHECK: arith.index_cast %{{.*}} : i64 to index
// CHECK: tensor.extract
module @m attributes {nn.model} {
  func.func @forward_i64(%ids: tensor<4xi64>, %t: tensor<100x16xf32>) -> tensor<4x16xf32> {
    %e = nn.embedding %ids, %t : (tensor<4xi64>, tensor<100x16xf32>) -> tensor<4x16xf32>
    return %e : tensor<4x16xf32>
  }
}

// -----

// CHECK-LABEL: func.func @backward
// CHECK-SAME: (%[[DY:.*]]: tensor<2x5x3xf32>, %[[IDS:.*]]: tensor<2x5xi64>)
// CHECK: %[[FLATIDS:.*]] = tensor.collapse_shape %[[IDS]] {{\[}}[0, 1]] : tensor<2x5xi64> into tensor<10xi64>
// CHECK: %[[FLATDY:.*]] = tensor.collapse_shape %[[DY]] {{\[}}[0, 1], [2]] : tensor<2x5x3xf32> into tensor<10x3xf32>
// CHECK: %[[ZERO:.*]] = linalg.fill {nn.layer = "emb_bwd"} ins(%{{.*}} : f32) outs(%{{.*}} : tensor<7x3xf32>)
// CHECK: %[[R:.*]] = scf.for %[[TOK:.*]] = %c0 to %c10 step %c1 iter_args(%[[ACC:.*]] = %[[ZERO]]) -> (tensor<7x3xf32>) {
// CHECK: %[[ID:.*]] = tensor.extract %[[FLATIDS]][%[[TOK]]] : tensor<10xi64>
// CHECK: %[[I:.*]] = arith.index_cast %[[ID]] : i64 to index
// CHECK: arith.maxsi %[[I]]
// CHECK: %[[ROW:.*]] = arith.minsi
// CHECK: %[[INNER:.*]] = scf.for %[[F:.*]] = %c0 to %c3 step %c1 iter_args(%[[RACC:.*]] = %[[ACC]]) -> (tensor<7x3xf32>) {
// CHECK: %[[OLD:.*]] = tensor.extract %[[RACC]][%[[ROW]], %[[F]]]
// CHECK: %[[G:.*]] = tensor.extract %[[FLATDY]][%[[TOK]], %[[F]]]
// CHECK: %[[SUM:.*]] = arith.addf %[[OLD]], %[[G]]
// CHECK: %[[NEW:.*]] = tensor.insert %[[SUM]] into %[[RACC]][%[[ROW]], %[[F]]]
// CHECK: scf.yield %[[NEW]]
// CHECK: scf.yield %[[INNER]]
// CHECK: } {nn.layer = "emb_bwd"}
// CHECK: return %[[R]]
module @m attributes {nn.model} {
  func.func @backward(%dy: tensor<2x5x3xf32>, %ids: tensor<2x5xi64>) -> tensor<7x3xf32> {
    %dt = nn.embedding_backward %dy, %ids {name = "emb", num_embeddings = 7 : i64} : (tensor<2x5x3xf32>, tensor<2x5xi64>) -> tensor<7x3xf32>
    return %dt : tensor<7x3xf32>
  }
}
