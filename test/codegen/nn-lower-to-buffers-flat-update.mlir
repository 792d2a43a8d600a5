// RUN: nn-opt %s -split-input-file -nn-lower-to-linalg -nn-fuse -nn-lower-to-buffers | FileCheck %s
// The flat update kernel of two parameters with momentum: the parameters
// lie one after the other in the arena with no padding (w at 0, b at 48),
// their momentum buffers likewise (64, 112), in the same order. The
// gradient of w, computed by a kernel, is written straight into its slice of
// one gradient buffer; the gradient of b, an input region, is copied into
// its slice. Then one loop over all 16 elements updates everything in place.

// CHECK: nn.layout = [{{.*}}name = "w", offset = 0 : i64{{.*}}name = "b", offset = 48 : i64{{.*}}name = "w.momentum_buffer", offset = 64 : i64{{.*}}name = "b.momentum_buffer", offset = 112 : i64
// CHECK-LABEL: func.func @nnc_train_step
// CHECK: %[[GB:.*]] = memref.view %arg0[%c192][] : memref<?xi8> to memref<4xf32>
// CHECK: %[[SLAB:.*]] = memref.alloc() {alignment = 64 : i64{{.*}}} : memref<64xi8>
// CHECK: %[[GW:.*]] = memref.view %[[SLAB]][%c0{{.*}}][]{{.*}} : memref<64xi8> to memref<4x3xf32>
// CHECK: linalg.generic {{.*}} outs(%[[GW]] : memref<4x3xf32>) attrs = {nn.kernel = "k0_relu"
// CHECK: %[[LR:.*]] = memref.load
// CHECK: %[[GBS:.*]] = memref.view %[[SLAB]][%c48{{.*}}][]{{.*}} : memref<64xi8> to memref<4xf32>
// CHECK: linalg.copy ins(%[[GB]] : memref<4xf32>) outs(%[[GBS]] : memref<4xf32>)
// CHECK: %[[G:.*]] = memref.view %[[SLAB]][%c0{{.*}}][]{{.*}} : memref<64xi8> to memref<16xf32>
// CHECK: %[[P:.*]] = memref.view %arg0[%c0{{.*}}][] : memref<?xi8> to memref<16xf32>
// CHECK: %[[M:.*]] = memref.view %arg0[%c64{{.*}}][] : memref<?xi8> to memref<16xf32>
// CHECK: linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel"]} ins(%[[G]] : memref<16xf32>) outs(%[[P]], %[[M]] : memref<16xf32>, memref<16xf32>) attrs = {nn.kernel = "k1_momentum_update_2_params"
// CHECK: arith.mulf %[[LR]]
// CHECK-NOT: linalg.generic
// CHECK-NOT: memref.copy
// CHECK: return
module @m attributes {nn.model} {
  nn.param @w : tensor<4x3xf32> init uniform(0.5)
  nn.param @b : tensor<4xf32> init zeros
  nn.param @"w.momentum_buffer" : tensor<4x3xf32> init zeros
  nn.param @"b.momentum_buffer" : tensor<4xf32> init zeros
  func.func @train_step(%x: tensor<4x3xf32>, %gb: tensor<4xf32>, %lr: tensor<f32>) {
    %gw = nn.relu %x : tensor<4x3xf32>
    %w = nn.param_ref @w : tensor<4x3xf32>
    %bw = nn.param_ref @"w.momentum_buffer" : tensor<4x3xf32>
    %w1, %bw1 = nn.momentum_update %w, %gw, %bw, %lr {momentum = 9.0e-01 : f64} : tensor<4x3xf32>
    nn.param_assign @w, %w1 : tensor<4x3xf32>
    nn.param_assign @"w.momentum_buffer", %bw1 : tensor<4x3xf32>
    %b = nn.param_ref @b : tensor<4xf32>
    %bb = nn.param_ref @"b.momentum_buffer" : tensor<4xf32>
    %b1, %bb1 = nn.momentum_update %b, %gb, %bb, %lr {momentum = 9.0e-01 : f64} : tensor<4xf32>
    nn.param_assign @b, %b1 : tensor<4xf32>
    nn.param_assign @"b.momentum_buffer", %bb1 : tensor<4xf32>
    return
  }
}

// -----

// A parameter that something reads after the update (here the function's
// result) cannot be updated in place: the flat update kernel falls back to
// one loop per parameter, the first on a copy of w.

// CHECK-LABEL: func.func @nnc_train_step
// CHECK-NOT: memref<8xf32>
// CHECK: memref.copy %{{.*}}, %[[COPY:.*]] : memref<4xf32> to memref<4xf32>
// CHECK: linalg.generic {{.*}} outs(%[[COPY]] : memref<4xf32>) attrs = {nn.kernel = "k0_sgd_update_2_params"
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : memref<4xf32>) attrs = {nn.kernel = "k0_sgd_update_2_params"
// CHECK-NOT: memref<8xf32>
module @m attributes {nn.model} {
  nn.param @w : tensor<4xf32> init zeros
  nn.param @b : tensor<4xf32> init zeros
  func.func @train_step(%gw: tensor<4xf32>, %gb: tensor<4xf32>, %lr: tensor<f32>) -> tensor<4xf32> {
    %w = nn.param_ref @w : tensor<4xf32>
    %w1 = nn.sgd_update %w, %gw, %lr : tensor<4xf32>
    nn.param_assign @w, %w1 : tensor<4xf32>
    %b = nn.param_ref @b : tensor<4xf32>
    %b1 = nn.sgd_update %b, %gb, %lr : tensor<4xf32>
    nn.param_assign @b, %b1 : tensor<4xf32>
    return %w : tensor<4xf32>
  }
}
