// RUN: nn-opt %s -split-input-file -verify-diagnostics -nn-lower-to-linalg -nn-fuse -nn-lower-to-buffers | FileCheck %s
// Data-parallel training (nn.data_parallel, codegen/FlatUpdate.h) around the
// flat optimizer update of w (4x3) and b (3), 15 elements, with momentum.

// Two ranks, no sharding: the layout is the single process's; the whole
// gradient buffer is reduced after the backward pass (the relu writes w's
// slice, b's is copied in) and before the one update loop.

// CHECK: nn.data_parallel = {groups = [{count = 15 : i64, grad_offset = 0 : i64, param_offset = 0 : i64, params = ["w", "b"], state = []}], ranks = 2 : i64, shard = "none"}
// CHECK-SAME: nn.layout = [{{.*}}name = "w", offset = 0 : i64{{.*}}name = "b", offset = 48 : i64{{.*}}name = "w.momentum_buffer", offset = 64 : i64{{.*}}name = "b.momentum_buffer", offset = 112 : i64
// CHECK-LABEL: func.func @nnc_train_step
// CHECK: %[[SLAB:.*]] = memref.alloc() {{.*}} : memref<60xi8>
// CHECK: linalg.generic {{.*}} attrs = {nn.kernel = "k0_relu"
// CHECK: linalg.copy
// CHECK: %[[G:.*]] = memref.view %[[SLAB]][%c0{{.*}}][]{{.*}} : memref<60xi8> to memref<15xf32>
// CHECK-NOT: linalg.generic
// CHECK: %[[P:.*]] = memref.view %arg0[%c0{{.*}}][] : memref<?xi8> to memref<15xf32>
// CHECK: %[[GROUP:.*]] = arith.constant 0 : i64
// CHECK: %[[GPTR:.*]] = llvm.inttoptr
// CHECK: %[[COUNT:.*]] = arith.constant 15 : i64
// CHECK: %[[NOSHARD:.*]] = arith.constant 0 : i64
// CHECK: call @nnc_dp_reduce_gradients(%[[GROUP]], %[[GPTR]], %[[COUNT]], %[[NOSHARD]])
// CHECK-NOT: nnc_dp_rank
// CHECK: %[[M:.*]] = memref.view %arg0[%c64{{.*}}][] : memref<?xi8> to memref<15xf32>
// CHECK: linalg.generic {{.*}} ins(%[[G]] : memref<15xf32>) outs(%[[P]], %[[M]] : memref<15xf32>, memref<15xf32>) attrs = {nn.kernel = "k1_momentum_update_2_params"
// CHECK-NOT: nnc_dp_gather_parameters
// CHECK: return
module @m attributes {nn.model, nn.data_parallel = {ranks = 2 : i64, shard = "none"}} {
  nn.param @w : tensor<4x3xf32> init uniform(0.5)
  nn.param @b : tensor<3xf32> init zeros
  nn.param @"w.momentum_buffer" : tensor<4x3xf32> init zeros
  nn.param @"b.momentum_buffer" : tensor<3xf32> init zeros
  func.func @train_step(%x: tensor<4x3xf32>, %gb: tensor<3xf32>, %lr: tensor<f32>) {
    %gw = nn.relu %x : tensor<4x3xf32>
    %w = nn.param_ref @w : tensor<4x3xf32>
    %bw = nn.param_ref @"w.momentum_buffer" : tensor<4x3xf32>
    %w1, %bw1 = nn.momentum_update %w, %gw, %bw, %lr {momentum = 9.0e-01 : f64} : tensor<4x3xf32>
    nn.param_assign @w, %w1 : tensor<4x3xf32>
    nn.param_assign @"w.momentum_buffer", %bw1 : tensor<4x3xf32>
    %b = nn.param_ref @b : tensor<3xf32>
    %bb = nn.param_ref @"b.momentum_buffer" : tensor<3xf32>
    %b1, %bb1 = nn.momentum_update %b, %gb, %bb, %lr {momentum = 9.0e-01 : f64} : tensor<3xf32>
    nn.param_assign @b, %b1 : tensor<3xf32>
    nn.param_assign @"b.momentum_buffer", %bb1 : tensor<3xf32>
    return
  }
}

// -----

// Two ranks, ZeRO-1: the 15 elements padded to 16 (the parameters' block
// and the gradient buffer); the momentum buffers are one region
// dp0.momentum_buffer of 16 / 2 = 8 elements instead of one per parameter.
// The padding is zeroed, the whole buffer reduced (sharded = 1), then the
// loop updates the 8 elements of this rank's shard, which begins at
// nnc_dp_rank() * 8, and the parameters are gathered.

// CHECK: nn.data_parallel = {groups = [{count = 16 : i64, grad_offset = 0 : i64, param_offset = 0 : i64, params = ["w", "b"], state = [{region = "dp0.momentum_buffer", suffix = "momentum_buffer"}]}], ranks = 2 : i64, shard = "opt"}
// CHECK-SAME: nn.layout = [{bytes = 32 : i64, dtype = "f32", init = "zeros", kind = "state", name = "dp0.momentum_buffer", offset = 64 : i64, shape = array<i64: 8>}, {{{.*}}name = "w", offset = 0 : i64{{.*}}name = "b", offset = 48 : i64
// CHECK-NOT: name = "w.momentum_buffer"
// CHECK-NOT: name = "b.momentum_buffer"
// CHECK-LABEL: func.func @nnc_train_step
// CHECK: %[[SLAB:.*]] = memref.alloc() {{.*}} : memref<64xi8>
// CHECK: %[[G:.*]] = memref.view %[[SLAB]][%c0{{.*}}][]{{.*}} : memref<64xi8> to memref<16xf32>
// CHECK: %[[P:.*]] = memref.view %arg0[%c0{{.*}}][] : memref<?xi8> to memref<16xf32>
// CHECK: %[[GPAD:.*]] = memref.view %[[SLAB]][%c60{{.*}}][]{{.*}} : memref<64xi8> to memref<1xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[GPAD]] : memref<1xf32>)
// CHECK: %[[PPAD:.*]] = memref.view %arg0[%c60{{.*}}][] : memref<?xi8> to memref<1xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[PPAD]] : memref<1xf32>)
// CHECK: %[[GPTR:.*]] = llvm.inttoptr
// CHECK: %[[COUNT:.*]] = arith.constant 16 : i64
// CHECK: %[[SHARDED:.*]] = arith.constant 1 : i64
// CHECK: call @nnc_dp_reduce_gradients(%{{.*}}, %[[GPTR]], %[[COUNT]], %[[SHARDED]])
// CHECK: %[[RANK:.*]] = call @nnc_dp_rank(){{.*}} : () -> i64
// CHECK: %[[RANKI:.*]] = arith.index_cast %[[RANK]] : i64 to index
// CHECK: %[[BEGIN:.*]] = arith.muli %[[RANKI]], %c8
// CHECK: %[[GS:.*]] = memref.subview %[[G]][%[[BEGIN]]] [8] [1] : memref<16xf32> to memref<8xf32, strided<[1], offset: ?>>
// CHECK: %[[PS:.*]] = memref.subview %[[P]][%[[BEGIN]]] [8] [1] : memref<16xf32> to memref<8xf32, strided<[1], offset: ?>>
// CHECK: %[[M:.*]] = memref.view %arg0[%c64{{.*}}][] : memref<?xi8> to memref<8xf32>
// CHECK: linalg.generic {{.*}} ins(%[[GS]] : memref<8xf32, strided<[1], offset: ?>>) outs(%[[PS]], %[[M]] : memref<8xf32, strided<[1], offset: ?>>, memref<8xf32>) attrs = {nn.kernel = "k1_momentum_update_2_params"
// CHECK: %[[PPTR:.*]] = llvm.inttoptr
// CHECK: call @nnc_dp_gather_parameters(%{{.*}}, %[[PPTR]], %[[COUNT2:.*]])
// CHECK-NOT: memref.copy
// CHECK: return
module @m attributes {nn.model, nn.data_parallel = {ranks = 2 : i64, shard = "opt"}} {
  nn.param @w : tensor<4x3xf32> init uniform(0.5)
  nn.param @b : tensor<3xf32> init zeros
  nn.param @"w.momentum_buffer" : tensor<4x3xf32> init zeros
  nn.param @"b.momentum_buffer" : tensor<3xf32> init zeros
  func.func @train_step(%x: tensor<4x3xf32>, %gb: tensor<3xf32>, %lr: tensor<f32>) {
    %gw = nn.relu %x : tensor<4x3xf32>
    %w = nn.param_ref @w : tensor<4x3xf32>
    %bw = nn.param_ref @"w.momentum_buffer" : tensor<4x3xf32>
    %w1, %bw1 = nn.momentum_update %w, %gw, %bw, %lr {momentum = 9.0e-01 : f64} : tensor<4x3xf32>
    nn.param_assign @w, %w1 : tensor<4x3xf32>
    nn.param_assign @"w.momentum_buffer", %bw1 : tensor<4x3xf32>
    %b = nn.param_ref @b : tensor<3xf32>
    %bb = nn.param_ref @"b.momentum_buffer" : tensor<3xf32>
    %b1, %bb1 = nn.momentum_update %b, %gb, %bb, %lr {momentum = 9.0e-01 : f64} : tensor<3xf32>
    nn.param_assign @b, %b1 : tensor<3xf32>
    nn.param_assign @"b.momentum_buffer", %bb1 : tensor<3xf32>
    return
  }
}

// -----

// One rank without sharding: nothing changes (no hooks, no table).

// CHECK-NOT: nn.data_parallel
// CHECK-LABEL: func.func @nnc_train_step
// CHECK-NOT: nnc_dp_
// CHECK: return
module @m attributes {nn.model, nn.data_parallel = {ranks = 1 : i64, shard = "none"}} {
  nn.param @w : tensor<4xf32> init zeros
  nn.param @b : tensor<4xf32> init zeros
  func.func @train_step(%gw: tensor<4xf32>, %gb: tensor<4xf32>, %lr: tensor<f32>) {
    %w = nn.param_ref @w : tensor<4xf32>
    %w1 = nn.sgd_update %w, %gw, %lr : tensor<4xf32>
    nn.param_assign @w, %w1 : tensor<4xf32>
    %b = nn.param_ref @b : tensor<4xf32>
    %b1 = nn.sgd_update %b, %gb, %lr : tensor<4xf32>
    nn.param_assign @b, %b1 : tensor<4xf32>
    return
  }
}

// -----

// A parameter read after its update cannot be updated by the flat loop:
// data parallelism, which reduces the flat gradient buffer, refuses it.

module @m attributes {nn.model, nn.data_parallel = {ranks = 2 : i64, shard = "none"}} {
  nn.param @w : tensor<4xf32> init zeros
  nn.param @b : tensor<4xf32> init zeros
  func.func @train_step(%gw: tensor<4xf32>, %gb: tensor<4xf32>, %lr: tensor<f32>) -> tensor<4xf32> {
    %w = nn.param_ref @w : tensor<4xf32>
    %w1 = nn.sgd_update %w, %gw, %lr : tensor<4xf32>
    nn.param_assign @w, %w1 : tensor<4xf32>
    %b = nn.param_ref @b : tensor<4xf32>
    // expected-error @below {{data-parallel training: the optimizer update k0_sgd_update_2_params cannot run as one loop over its parameters' elements}}
    %b1 = nn.sgd_update %b, %gb, %lr : tensor<4xf32>
    nn.param_assign @b, %b1 : tensor<4xf32>
    return %w : tensor<4xf32>
  }
}

// -----

// expected-error @below {{nn.data_parallel must be {ranks = N : i64 (N >= 1), shard = "none" or "opt"}, not {ranks = 2 : i64, shard = "grad"}}
module @m attributes {nn.model, nn.data_parallel = {ranks = 2 : i64, shard = "grad"}} {
  nn.param @w : tensor<4xf32> init zeros
  func.func @train_step(%gw: tensor<4xf32>, %lr: tensor<f32>) {
    %w = nn.param_ref @w : tensor<4xf32>
    %w1 = nn.sgd_update %w, %gw, %lr : tensor<4xf32>
    nn.param_assign @w, %w1 : tensor<4xf32>
    return
  }
}
