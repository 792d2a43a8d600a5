// RUN: nn-opt %s -split-input-file -nn-autodiff="distill-temperature=4 distill-alpha=0.25" | FileCheck %s
// RUN: nn-opt %s -split-input-file -nn-autodiff | FileCheck %s --check-prefix=PLAIN
// RUN: nn-opt %s -split-input-file -nn-autodiff="distill-temperature=2" | FileCheck %s --check-prefix=DEFAULT
// RUN: not nn-opt %s -split-input-file -nn-autodiff="distill-temperature=-1" 2>&1 | FileCheck %s --check-prefix=BADT
// RUN: not nn-opt %s -split-input-file -nn-autodiff="distill-temperature=4 distill-alpha=1.5" 2>&1 | FileCheck %s --check-prefix=BADALPHA

// Knowledge distillation: @train_step takes the teacher's logits after
// %seed, its loss is nn.distill_loss of the student's logits, the teacher's
// and the labels, the backward starts from nn.distill_loss_backward, and the
// correct count stays the hard labels'.
// CHECK-LABEL: module @mlp
// CHECK:       func.func @train_step(%[[X:.*]]: tensor<?x8xf32> {nn.name = "x"}, %[[LABELS:.*]]: tensor<?xi64> {nn.name = "labels"}, %{{.*}}: tensor<f32> {nn.name = "lr"}, %{{.*}}: tensor<i64> {nn.name = "step"}, %{{.*}}: tensor<i64> {nn.name = "seed"}, %[[T:.*]]: tensor<?x4xf32> {nn.name = "teacher_logits"}) -> (tensor<f32> {nn.name = "loss"}, tensor<i64> {nn.name = "correct"})
// CHECK:         %[[OUT:.*]] = nn.linear %{{.*}} {name = "fc2"}
// CHECK-NOT:     nn.cross_entropy
// CHECK:         %[[LOSS:.*]] = nn.distill_loss %[[OUT]], %[[T]], %[[LABELS]] {alpha = 2.500000e-01 : f64, name = "loss", temperature = 4.000000e+00 : f64} : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?xi64>) -> tensor<f32>
// CHECK:         %[[CORRECT:.*]] = nn.count_correct %[[OUT]], %[[LABELS]]
// CHECK:         %[[ONE:.*]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK:         %[[DOUT:.*]] = nn.distill_loss_backward %[[ONE]], %[[OUT]], %[[T]], %[[LABELS]] {alpha = 2.500000e-01 : f64, name = "loss", temperature = 4.000000e+00 : f64}
// CHECK:         nn.linear_backward %[[DOUT]]
// CHECK-NOT:     nn.cross_entropy
// CHECK:         return %[[LOSS]], %[[CORRECT]] : tensor<f32>, tensor<i64>

// Without the option: no teacher argument, the plain loss.
// PLAIN-LABEL: module @mlp
// PLAIN:       func.func @train_step({{.*}}%{{.*}}: tensor<i64> {nn.name = "seed"}) ->
// PLAIN-NOT:   nn.distill_loss
// PLAIN:       nn.cross_entropy
// PLAIN-NOT:   nn.distill_loss

// alpha defaults to 0.9.
// DEFAULT: nn.distill_loss {{.*}} {alpha = 9.000000e-01 : f64, name = "loss", temperature = 2.000000e+00 : f64}

// BADT: error: nn-autodiff: distill-temperature must be finite and positive (0: no distillation), got -1
// BADALPHA: error: nn-autodiff: distill-alpha must be in [0, 1], got 1.5

module @mlp attributes {nn.model} {
  nn.param @"fc1.weight" : tensor<16x8xf32> init uniform(0.3)
  nn.param @"fc1.bias" : tensor<16xf32> init uniform(0.3)
  nn.param @"fc2.weight" : tensor<4x16xf32> init uniform(0.25)
  nn.param @"fc2.bias" : tensor<4xf32> init uniform(0.25)
  func.func @forward(%x: tensor<?x8xf32> {nn.name = "x"}) -> (tensor<?x4xf32> {nn.name = "logits"}) {
    %w1 = nn.param_ref @"fc1.weight" : tensor<16x8xf32>
    %b1 = nn.param_ref @"fc1.bias" : tensor<16xf32>
    %0 = nn.linear %x, %w1, %b1 {name = "fc1"} : (tensor<?x8xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<?x16xf32>
    %1 = nn.relu %0 {name = "relu1"} : tensor<?x16xf32>
    %w2 = nn.param_ref @"fc2.weight" : tensor<4x16xf32>
    %b2 = nn.param_ref @"fc2.bias" : tensor<4xf32>
    %2 = nn.linear %1, %w2, %b2 {name = "fc2"} : (tensor<?x16xf32>, tensor<4x16xf32>, tensor<4xf32>) -> tensor<?x4xf32>
    return %2 : tensor<?x4xf32>
  }
  func.func @loss(%out: tensor<?x4xf32> {nn.name = "logits"}, %labels: tensor<?xi64> {nn.name = "labels"}) -> tensor<f32> {
    %0 = nn.cross_entropy %out, %labels {name = "loss"} : tensor<?x4xf32>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}
