// RUN: nn-opt %s -split-input-file -nn-lower-to-linalg -nn-fuse | FileCheck %s
// RUN: nn-opt %s -split-input-file -nn-lower-to-linalg -nn-fuse=enable=false | FileCheck %s --check-prefix=NOFUSE

// The optimizer update of all parameters is one kernel (nn.flat_update),
// plus one kernel for Adam's per-step scalars; the parameter writes follow
// the kernel. Without fusion each parameter has its own update kernel and
// its own scalar kernel.

// CHECK-LABEL: func.func @train_step
// CHECK: %[[S:.*]]:3 = nn.kernel "k0_adam_scalars"(%arg3, %arg4)
// CHECK-NOT: nn.kernel
// CHECK: %[[U:.*]]:9 = nn.kernel "k1_adam_update_3_params"(%arg0, %{{.*}}, %{{.*}}, %{{.*}}, %[[S]]#1, %[[S]]#0, %arg1, {{.*}}, %arg2, {{.*}}) {nn.flat_update = "adam", nn.layers = ["adam_update_3_params"]}
// CHECK-COUNT-3: linalg.generic {{.*}} attrs = {nn.layer = "update", nn.optimizer = "adam"}
// CHECK: nn.yield
// CHECK-NOT: nn.kernel
// CHECK: nn.param_assign @w1, %[[U]]#0
// CHECK: nn.param_assign @w1.exp_avg, %[[U]]#1
// CHECK: nn.param_assign @w1.exp_avg_sq, %[[U]]#2
// CHECK: nn.param_assign @b1, %[[U]]#3
// CHECK: nn.param_assign @w2, %[[U]]#6
// CHECK: nn.param_assign @w2.exp_avg_sq, %[[U]]#8
// NOFUSE-LABEL: func.func @train_step
// NOFUSE-COUNT-3: nn.kernel "k{{[0-9]+}}_update"(%arg3, %arg4)
// NOFUSE-NOT: nn.flat_update
// NOFUSE-NOT: adam_update
module @m attributes {nn.model} {
  nn.param @w1 : tensor<4x3xf32> init uniform(0.5)
  nn.param @b1 : tensor<4xf32> init zeros
  nn.param @w2 : tensor<2x4xf32> init uniform(0.5)
  nn.param @"w1.exp_avg" : tensor<4x3xf32> init zeros
  nn.param @"w1.exp_avg_sq" : tensor<4x3xf32> init zeros
  nn.param @"b1.exp_avg" : tensor<4xf32> init zeros
  nn.param @"b1.exp_avg_sq" : tensor<4xf32> init zeros
  nn.param @"w2.exp_avg" : tensor<2x4xf32> init zeros
  nn.param @"w2.exp_avg_sq" : tensor<2x4xf32> init zeros
  func.func @train_step(%gw1: tensor<4x3xf32>, %gb1: tensor<4xf32>, %gw2: tensor<2x4xf32>, %lr: tensor<f32>, %t: tensor<i64>) {
    %w1 = nn.param_ref @w1 : tensor<4x3xf32>
    %m1 = nn.param_ref @"w1.exp_avg" : tensor<4x3xf32>
    %v1 = nn.param_ref @"w1.exp_avg_sq" : tensor<4x3xf32>
    %w1n, %m1n, %v1n = nn.adam_update %w1, %gw1, %m1, %v1, %lr, %t {weight_decay = 1.0e-02 : f64} : tensor<4x3xf32>
    nn.param_assign @w1, %w1n : tensor<4x3xf32>
    nn.param_assign @"w1.exp_avg", %m1n : tensor<4x3xf32>
    nn.param_assign @"w1.exp_avg_sq", %v1n : tensor<4x3xf32>
    %b1 = nn.param_ref @b1 : tensor<4xf32>
    %m2 = nn.param_ref @"b1.exp_avg" : tensor<4xf32>
    %v2 = nn.param_ref @"b1.exp_avg_sq" : tensor<4xf32>
    %b1n, %m2n, %v2n = nn.adam_update %b1, %gb1, %m2, %v2, %lr, %t {weight_decay = 1.0e-02 : f64} : tensor<4xf32>
    nn.param_assign @b1, %b1n : tensor<4xf32>
    nn.param_assign @"b1.exp_avg", %m2n : tensor<4xf32>
    nn.param_assign @"b1.exp_avg_sq", %v2n : tensor<4xf32>
    %w2 = nn.param_ref @w2 : tensor<2x4xf32>
    %m3 = nn.param_ref @"w2.exp_avg" : tensor<2x4xf32>
    %v3 = nn.param_ref @"w2.exp_avg_sq" : tensor<2x4xf32>
    %w2n, %m3n, %v3n = nn.adam_update %w2, %gw2, %m3, %v3, %lr, %t {weight_decay = 1.0e-02 : f64} : tensor<2x4xf32>
    nn.param_assign @w2, %w2n : tensor<2x4xf32>
    nn.param_assign @"w2.exp_avg", %m3n : tensor<2x4xf32>
    nn.param_assign @"w2.exp_avg_sq", %v3n : tensor<2x4xf32>
    return
  }
}

// -----

// Updates that compute different functions (here two weight decays) are not
// one loop: one kernel per distinct update.

// CHECK-LABEL: func.func @train_step
// CHECK: nn.kernel "k0_sgd_update_1_params"(%arg1, %{{.*}}, %arg3) {nn.flat_update = "sgd"
// CHECK: arith.constant 5.000000e-01 : f32
// CHECK: nn.kernel "k1_sgd_update_2_params"(%arg0, %{{.*}}, %arg3, %arg2, %{{.*}}) {nn.flat_update = "sgd"
// CHECK-COUNT-2: arith.constant 0.00999999977 : f32
// CHECK-NOT: nn.kernel
// NOFUSE-LABEL: func.func @train_step
// NOFUSE-COUNT-3: nn.kernel "k{{[0-9]+}}_update"
module @m attributes {nn.model} {
  nn.param @a : tensor<3xf32> init zeros
  nn.param @b : tensor<3xf32> init zeros
  nn.param @c : tensor<5xf32> init zeros
  func.func @train_step(%ga: tensor<3xf32>, %gb: tensor<3xf32>, %gc: tensor<5xf32>, %lr: tensor<f32>) {
    %a = nn.param_ref @a : tensor<3xf32>
    %a1 = nn.sgd_update %a, %ga, %lr {weight_decay = 1.0e-02 : f64} : tensor<3xf32>
    nn.param_assign @a, %a1 : tensor<3xf32>
    %b = nn.param_ref @b : tensor<3xf32>
    %b1 = nn.sgd_update %b, %gb, %lr {weight_decay = 5.0e-01 : f64} : tensor<3xf32>
    nn.param_assign @b, %b1 : tensor<3xf32>
    %c = nn.param_ref @c : tensor<5xf32>
    %c1 = nn.sgd_update %c, %gc, %lr {weight_decay = 1.0e-02 : f64} : tensor<5xf32>
    nn.param_assign @c, %c1 : tensor<5xf32>
    return
  }
}
