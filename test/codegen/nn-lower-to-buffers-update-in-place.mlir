// RUN: nn-opt %s -nn-lower-to-linalg -nn-lower-to-buffers | FileCheck %s
// An optimizer update writes the parameter and its state in place in their
// arena regions (the generic's destinations are the parameter views), so the
// nn.param_assign of the results copies nothing; lr is loaded once, before
// the loop. The embedding gradient's
// loop on tensors becomes a loop of loads and stores updating one buffer,
// with no copy of the table per token.

// CHECK-LABEL: func.func @nnc_train_step
// CHECK: %[[G:.*]] = memref.view %arg0[%{{.*}}][] : memref<?xi8> to memref<4x3xf32>
// CHECK: %[[LR:.*]] = memref.view %arg0[%{{.*}}][] : memref<?xi8> to memref<f32>
// CHECK: %[[W:.*]] = memref.view %arg0[%{{.*}}][] : memref<?xi8> to memref<4x3xf32>
// CHECK: %[[B:.*]] = memref.view %arg0[%{{.*}}][] : memref<?xi8> to memref<4x3xf32>
// CHECK-NOT: memref.copy
// CHECK: %[[LRV:.*]] = memref.load %[[LR]][] : memref<f32>
// CHECK-NOT: memref.copy
// CHECK: linalg.generic {{.*}} ins(%[[G]] : memref<4x3xf32>) outs(%[[W]], %[[B]] : memref<4x3xf32>, memref<4x3xf32>) attrs = {nn.layer = "update", nn.optimizer = "momentum"}
// CHECK: arith.mulf %[[LRV]]
// CHECK-NOT: memref.copy
// CHECK: %[[IDS:.*]] = memref.collapse_shape {{.*}} : memref<2x5xi32> into memref<10xi32>
// CHECK: %[[DY:.*]] = memref.collapse_shape {{.*}} : memref<2x5x3xf32> into memref<10x3xf32>
// CHECK: %[[ACC:.*]] = memref.alloc() {alignment = 64 : i64{{.*}}} : memref<7x3xf32>
// CHECK: linalg.fill {nn.layer = "emb_bwd"} ins(%{{.*}} : f32) outs(%[[ACC]] : memref<7x3xf32>)
// CHECK-NOT: memref.alloc
// CHECK-NOT: memref.copy
// CHECK: scf.for %[[TOK:.*]] = %{{.*}} to %c10 step %c1 {
// CHECK: %[[ID:.*]] = memref.load %[[IDS]][%[[TOK]]] : memref<10xi32>
// CHECK: arith.index_cast %[[ID]] : i32 to index
// CHECK: %[[ROW:.*]] = arith.minsi
// CHECK: scf.for %[[F:.*]] = %{{.*}} to %c3 step %c1 {
// CHECK: %[[OLD:.*]] = memref.load %[[ACC]][%[[ROW]], %[[F]]] : memref<7x3xf32>
// CHECK: %[[D:.*]] = memref.load %[[DY]][%[[TOK]], %[[F]]] : memref<10x3xf32>
// CHECK: %[[SUM:.*]] = arith.addf %[[OLD]], %[[D]]
// CHECK: memref.store %[[SUM]], %[[ACC]][%[[ROW]], %[[F]]] : memref<7x3xf32>
// CHECK: } {nn.layer = "emb_bwd"}
// The result is copied to the output region once.
// CHECK: memref.copy %[[ACC]], %{{.*}} : memref<7x3xf32> to memref<7x3xf32>
// CHECK-NEXT: return
module @m attributes {nn.model} {
  nn.param @w : tensor<4x3xf32> init uniform(0.5)
  nn.param @"w.momentum_buffer" : tensor<4x3xf32> init zeros
  func.func @train_step(%g: tensor<4x3xf32>, %lr: tensor<f32>, %dy: tensor<2x5x3xf32>, %ids: tensor<2x5xi32>) -> tensor<7x3xf32> {
    %w = nn.param_ref @w : tensor<4x3xf32>
    %b = nn.param_ref @"w.momentum_buffer" : tensor<4x3xf32>
    %w1, %b1 = nn.momentum_update %w, %g, %b, %lr {momentum = 9.0e-01 : f64} : tensor<4x3xf32>
    nn.param_assign @w, %w1 : tensor<4x3xf32>
    nn.param_assign @"w.momentum_buffer", %b1 : tensor<4x3xf32>
    %dt = nn.embedding_backward %dy, %ids {name = "emb", num_embeddings = 7 : i64} : (tensor<2x5x3xf32>, tensor<2x5xi32>) -> tensor<7x3xf32>
    return %dt : tensor<7x3xf32>
  }
}
