// RUN: nn-opt %s -split-input-file -nn-autocast | FileCheck %s --enable-var-scope
// RUN: nn-opt %s -split-input-file -nn-autocast -nn-autocast | FileCheck %s --enable-var-scope
// RUN: nn-opt %s -split-input-file -nn-autodiff | FileCheck %s --check-prefix=GRAD

// A bf16 model becomes f32 storage (inputs, parameters, activations,
// constants) marked nn.precision = "bf16"; its conv2d and linear ops get the
// same attribute, the backward ops -nn-autodiff builds too. Idempotent.

// CHECK-LABEL: module @bf16_mlp
// CHECK-SAME: nn.precision = "bf16"
// CHECK: nn.param @fc1.weight : tensor<10x16xf32>
// CHECK: func.func @forward(%{{.*}}: tensor<?x16xf32> {nn.name = "x"}) -> (tensor<?x10xf32>
// CHECK: arith.constant dense<5.000000e-01> : tensor<10xf32>
// CHECK: nn.linear {{.*}}nn.precision = "bf16"{{.*}} -> tensor<?x10xf32>
// CHECK: nn.relu {{.*}} : tensor<?x10xf32>
// CHECK-NOT: bf16>
// GRAD-LABEL: module @bf16_mlp
// GRAD: func.func @train_step
// GRAD: nn.linear_backward {{.*}}nn.precision = "bf16"
module @bf16_mlp attributes {nn.model, nn.train = {batch = 4 : i64, loss = "cross_entropy"}} {
  nn.param @fc1.weight : tensor<10x16xbf16> init uniform(2.500000e-01)
  func.func @forward(%arg0: tensor<?x16xbf16> {nn.name = "x"}) -> (tensor<?x10xbf16> {nn.name = "logits"}) {
    %0 = nn.param_ref @fc1.weight : tensor<10x16xbf16>
    %c = arith.constant dense<5.000000e-01> : tensor<10xbf16>
    %1 = nn.linear %arg0, %0 {name = "fc1"} : (tensor<?x16xbf16>, tensor<10x16xbf16>) -> tensor<?x10xbf16>
    %2 = nn.relu %1 {name = "relu1"} : tensor<?x10xbf16>
    return %2 : tensor<?x10xbf16>
  }
  func.func @loss(%arg0: tensor<?x10xbf16> {nn.name = "logits"}, %arg1: tensor<?xi64> {nn.name = "labels"}) -> tensor<f32> {
    %0 = nn.cross_entropy %arg0, %arg1 {name = "loss"} : tensor<?x10xbf16>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}

// -----

// An f32 model is left as it is: no precision anywhere.
// CHECK-LABEL: module @f32_mlp
// CHECK-NOT: nn.precision
// GRAD-LABEL: module @f32_mlp
// GRAD-NOT: nn.precision
module @f32_mlp attributes {nn.model, nn.train = {batch = 4 : i64, loss = "cross_entropy"}} {
  nn.param @fc1.weight : tensor<10x16xf32> init uniform(2.500000e-01)
  func.func @forward(%arg0: tensor<?x16xf32> {nn.name = "x"}) -> (tensor<?x10xf32> {nn.name = "logits"}) {
    %0 = nn.param_ref @fc1.weight : tensor<10x16xf32>
    %1 = nn.linear %arg0, %0 {name = "fc1"} : (tensor<?x16xf32>, tensor<10x16xf32>) -> tensor<?x10xf32>
    return %1 : tensor<?x10xf32>
  }
  func.func @loss(%arg0: tensor<?x10xf32> {nn.name = "logits"}, %arg1: tensor<?xi64> {nn.name = "labels"}) -> tensor<f32> {
    %0 = nn.cross_entropy %arg0, %arg1 {name = "loss"} : tensor<?x10xf32>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}
