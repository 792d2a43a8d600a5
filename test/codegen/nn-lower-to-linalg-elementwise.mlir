// RUN: nn-opt %s -nn-lower-to-linalg | FileCheck %s
// The elementwise forward ops become one linalg.generic each on tensors,
// tagged with their layer; library ops (linear) stay nn ops; inference
// dropout is the identity.

// CHECK-LABEL: func.func @forward
// CHECK: %[[L:.*]] = nn.linear
// CHECK: %[[R:.*]] = linalg.generic {{{.*}}iterator_types = ["parallel", "parallel"]} ins(%[[L]] : tensor<2x8xf32>) outs(%{{.*}} : tensor<2x8xf32>) attrs = {nn.layer = "act"}
// CHECK: arith.maximumf
// CHECK-NOT: nn.dropout
// CHECK: %[[S:.*]] = linalg.generic {{.*}} ins(%[[R]] : tensor<2x8xf32>) {{.*}} attrs = {nn.layer = "sigmoid"}
// CHECK: math.exp
// CHECK: %[[A:.*]] = linalg.generic {{.*}} ins(%[[S]], %[[R]] : tensor<2x8xf32>, tensor<2x8xf32>) {{.*}} attrs = {nn.layer = "sum"}
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}} ins(%[[A]] : tensor<2x8xf32>) {{.*}} attrs = {nn.layer = "leaky"}
// CHECK: arith.select
// CHECK: linalg.generic {{.*}} attrs = {nn.layer = "tanh"}
// CHECK: math.tanh
// CHECK: linalg.generic {{.*}} attrs = {nn.layer = "gelu"}
// CHECK: math.erf
// CHECK-NOT: nn.relu
module @m attributes {nn.model} {
  nn.param @w : tensor<8x4xf32> init uniform(0.5)
  func.func @forward(%x: tensor<2x4xf32>) -> tensor<2x8xf32> {
    %w = nn.param_ref @w : tensor<8x4xf32>
    %0 = nn.linear %x, %w {name = "fc"} : (tensor<2x4xf32>, tensor<8x4xf32>) -> tensor<2x8xf32>
    %1 = nn.relu %0 {name = "act"} : tensor<2x8xf32>
    %2 = nn.dropout %1 {name = "drop", p = 0.5} : tensor<2x8xf32>
    %3 = nn.sigmoid %2 : tensor<2x8xf32>
    %4 = nn.add %3, %2 {name = "sum"} : tensor<2x8xf32>
    %5 = nn.leaky_relu %4 {name = "leaky", slope = 0.1} : tensor<2x8xf32>
    %6 = nn.tanh %5 {name = "tanh"} : tensor<2x8xf32>
    %7 = nn.gelu %6 {name = "gelu"} : tensor<2x8xf32>
    return %7 : tensor<2x8xf32>
  }
}
