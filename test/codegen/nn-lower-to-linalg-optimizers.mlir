// RUN: nn-opt %s -split-input-file -nn-lower-to-linalg | FileCheck %s
// Each optimizer update is one linalg.generic, parallel over the parameter,
// whose destinations are the parameter and its optimizer state (updated in
// place after bufferization); lr is a rank-0 input broadcast to every
// element, read once by a tensor.extract before the generic (a load inside
// the loop would keep LLVM from vectorizing it). Adam first computes its
// step's scalars in f64 in a rank-0 generic.

// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @sgd
// CHECK-SAME: (%[[P:.*]]: tensor<4x3xf32>, %[[G:.*]]: tensor<4x3xf32>, %[[LR:.*]]: tensor<f32>)
// CHECK: %[[LRI:.*]] = tensor.extract %[[LR]][] : tensor<f32>
// CHECK: %[[NEW:.*]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: ins(%[[G]] : tensor<4x3xf32>) outs(%[[P]] : tensor<4x3xf32>) attrs = {nn.layer = "update", nn.optimizer = "sgd"}
// CHECK: ^bb0(%[[GI:.*]]: f32, %[[PI:.*]]: f32):
// CHECK: %[[WD:.*]] = arith.constant 0.00999999977 : f32
// CHECK: %[[D:.*]] = arith.mulf %[[WD]], %[[PI]]
// CHECK: %[[GW:.*]] = arith.addf %[[GI]], %[[D]]
// CHECK: %[[STEP:.*]] = arith.mulf %[[LRI]], %[[GW]]
// CHECK: %[[R:.*]] = arith.subf %[[PI]], %[[STEP]]
// CHECK: linalg.yield %[[R]]
// CHECK: return %[[NEW]]
module @m attributes {nn.model} {
  func.func @sgd(%p: tensor<4x3xf32>, %g: tensor<4x3xf32>, %lr: tensor<f32>) -> tensor<4x3xf32> {
    %p1 = nn.sgd_update %p, %g, %lr {weight_decay = 0.01 : f64} : tensor<4x3xf32>
    return %p1 : tensor<4x3xf32>
  }
}

// -----

// Nesterov momentum without weight decay: buf' = mu * buf + g (dampening 0:
// the zero buffer makes the first step's buf' = g, as PyTorch's),
// d = g + mu * buf', p' = p - lr * d.
// CHECK-LABEL: func.func @nesterov
// CHECK-SAME: (%[[P:.*]]: tensor<8xf32>, %[[G:.*]]: tensor<8xf32>, %[[B:.*]]: tensor<8xf32>, %[[LR:.*]]: tensor<f32>)
// CHECK: %[[LRI:.*]] = tensor.extract %[[LR]][] : tensor<f32>
// CHECK: %[[NEW:.*]]:2 = linalg.generic {{{.*}}iterator_types = ["parallel"]}
// CHECK-SAME: ins(%[[G]] : tensor<8xf32>) outs(%[[P]], %[[B]] : tensor<8xf32>, tensor<8xf32>) attrs = {nn.layer = "update", nn.optimizer = "nesterov"}
// CHECK: ^bb0(%[[GI:.*]]: f32, %[[PI:.*]]: f32, %[[BI:.*]]: f32):
// CHECK: %[[MU:.*]] = arith.constant 0.899999976 : f32
// CHECK: %[[MB:.*]] = arith.mulf %[[MU]], %[[BI]]
// CHECK: %[[NB:.*]] = arith.addf %[[MB]], %[[GI]]
// CHECK: %[[MNB:.*]] = arith.mulf %[[MU]], %[[NB]]
// CHECK: %[[DIR:.*]] = arith.addf %[[GI]], %[[MNB]]
// CHECK: %[[STEP:.*]] = arith.mulf %[[LRI]], %[[DIR]]
// CHECK: %[[NP:.*]] = arith.subf %[[PI]], %[[STEP]]
// CHECK: linalg.yield %[[NP]], %[[NB]]
// CHECK: return %[[NEW]]#0, %[[NEW]]#1
module @m attributes {nn.model} {
  func.func @nesterov(%p: tensor<8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>, %lr: tensor<f32>) -> (tensor<8xf32>, tensor<8xf32>) {
    %p1, %b1 = nn.momentum_update %p, %g, %b, %lr {momentum = 9.0e-01 : f64, nesterov} : tensor<8xf32>
    return %p1, %b1 : tensor<8xf32>, tensor<8xf32>
  }
}

// -----

// Plain momentum with weight decay: d = buf'.
// CHECK-LABEL: func.func @momentum
// CHECK: %[[LRI:.*]] = tensor.extract
// CHECK: linalg.generic
// CHECK: ^bb0(%[[GI:.*]]: f32, %[[PI:.*]]: f32, %[[BI:.*]]: f32):
// CHECK: arith.constant 5.000000e-01 : f32
// CHECK: %[[GW:.*]] = arith.addf %[[GI]], %{{.*}}
// CHECK: %[[MB:.*]] = arith.mulf %{{.*}}, %[[BI]]
// CHECK: %[[NB:.*]] = arith.addf %[[MB]], %[[GW]]
// CHECK: %[[STEP:.*]] = arith.mulf %[[LRI]], %[[NB]]
// CHECK: %[[NP:.*]] = arith.subf %[[PI]], %[[STEP]]
// CHECK: linalg.yield %[[NP]], %[[NB]]
module @m attributes {nn.model} {
  func.func @momentum(%p: tensor<8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>, %lr: tensor<f32>) -> (tensor<8xf32>, tensor<8xf32>) {
    %p1, %b1 = nn.momentum_update %p, %g, %b, %lr {momentum = 5.0e-01 : f64, weight_decay = 1.0e-02 : f64} : tensor<8xf32>
    return %p1, %b1 : tensor<8xf32>, tensor<8xf32>
  }
}

// -----

// AdamW: the step's scalars (lr / (1 - beta1^t), sqrt(1 - beta2^t),
// 1 - lr * weight_decay) in f64 from lr and step in a rank-0 generic, then
// one generic over the parameter updating param, exp_avg and exp_avg_sq.
// CHECK-DAG: #[[$NONE:.*]] = affine_map<() -> ()>
// CHECK-DAG: #[[$I:.*]] = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func @adamw
// CHECK-SAME: (%[[P:.*]]: tensor<8xf32>, %[[G:.*]]: tensor<8xf32>, %[[M:.*]]: tensor<8xf32>, %[[V:.*]]: tensor<8xf32>, %[[LR:.*]]: tensor<f32>, %[[T:.*]]: tensor<i64>)
// CHECK: %[[SC:.*]]:3 = linalg.generic {indexing_maps = [#[[$NONE]], #[[$NONE]], #[[$NONE]], #[[$NONE]], #[[$NONE]]], iterator_types = []} ins(%[[LR]], %[[T]] : tensor<f32>, tensor<i64>)
// CHECK-SAME: attrs = {nn.layer = "update", nn.optimizer_scalars = "adamw"}
// CHECK: arith.extf {{.*}} : f32 to f64
// CHECK: arith.maxsi
// CHECK: arith.sitofp {{.*}} : i64 to f64
// CHECK: math.powf
// CHECK: math.powf
// CHECK: math.sqrt {{.*}} : f64
// CHECK: arith.truncf
// CHECK: %[[SS:.*]] = tensor.extract %[[SC]]#0[] : tensor<f32>
// CHECK: %[[BC2:.*]] = tensor.extract %[[SC]]#1[] : tensor<f32>
// CHECK: %[[DECAY:.*]] = tensor.extract %[[SC]]#2[] : tensor<f32>
// CHECK: %[[NEW:.*]]:3 = linalg.generic {indexing_maps = [#[[$I]], #[[$I]], #[[$I]], #[[$I]]], iterator_types = ["parallel"]}
// CHECK-SAME: ins(%[[G]] : tensor<8xf32>) outs(%[[P]], %[[M]], %[[V]] : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) attrs = {nn.layer = "update", nn.optimizer = "adamw"}
// CHECK: ^bb0(%[[GI:.*]]: f32, %[[PI:.*]]: f32, %[[MI:.*]]: f32, %[[VI:.*]]: f32):
// CHECK: %[[PD:.*]] = arith.mulf %[[PI]], %[[DECAY]]
// CHECK: %[[NM:.*]] = arith.addf
// CHECK: %[[NV:.*]] = arith.addf
// CHECK: %[[SQ:.*]] = math.sqrt %[[NV]] : f32
// CHECK: %[[Q:.*]] = arith.divf %[[SQ]], %[[BC2]]
// CHECK: %[[DEN:.*]] = arith.addf %[[Q]]
// CHECK: %[[NEG:.*]] = arith.negf %[[SS]]
// CHECK: %[[NUM:.*]] = arith.mulf %[[NEG]], %[[NM]]
// CHECK: %[[DELTA:.*]] = arith.divf %[[NUM]], %[[DEN]]
// CHECK: %[[NP:.*]] = arith.addf %[[PD]], %[[DELTA]]
// CHECK: linalg.yield %[[NP]], %[[NM]], %[[NV]]
// CHECK-NOT: nn.adam_update
module @m attributes {nn.model} {
  func.func @adamw(%p: tensor<8xf32>, %g: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>, %lr: tensor<f32>, %t: tensor<i64>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
    %p1, %m1, %v1 = nn.adam_update %p, %g, %m, %v, %lr, %t {adamw, weight_decay = 1.0e-02 : f64} : tensor<8xf32>
    return %p1, %m1, %v1 : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
  }
}

// -----

// Adam: the L2 term goes into the gradient (no decay of the parameter).
// CHECK-LABEL: func.func @adam
// CHECK: linalg.generic {{.*}}iterator_types = []
// CHECK: linalg.generic
// CHECK: ^bb0(%[[GI:.*]]: f32, %[[PI:.*]]: f32, %{{.*}}: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[WD:.*]] = arith.constant 1.000000e-01 : f32
// CHECK-NEXT: %[[L2:.*]] = arith.mulf %[[WD]], %[[PI]]
// CHECK-NEXT: %{{.*}} = arith.addf %[[GI]], %[[L2]]
module @m attributes {nn.model} {
  func.func @adam(%p: tensor<8xf32>, %g: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>, %lr: tensor<f32>, %t: tensor<i64>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
    %p1, %m1, %v1 = nn.adam_update %p, %g, %m, %v, %lr, %t {weight_decay = 1.0e-01 : f64} : tensor<8xf32>
    return %p1, %m1, %v1 : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
  }
}
