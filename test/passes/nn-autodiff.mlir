// RUN: nn-opt %s -split-input-file -nn-autodiff | FileCheck %s
// RUN: nn-opt %s -split-input-file -nn-autodiff="optimizer=adamw weight-decay=0.01 beta1=0.8" | FileCheck %s --check-prefix=ADAMW
// RUN: nn-opt %s -split-input-file -nn-autodiff="optimizer=momentum momentum=0.5 nesterov=true" | FileCheck %s --check-prefix=NESTEROV
// RUN: nn-opt %s -split-input-file -nn-autodiff -nn-infer-shapes=batch=8 | FileCheck %s --check-prefix=BATCH

// The structure of @train_step: training-mode forward, loss, reverse-mode
// gradients (summed on fan-out, none for model inputs or labels), then one
// optimizer update and nn.param_assign per parameter and state.

// Plain SGD without an nn.train attribute. The first linear computes no
// input gradient (the model input needs none); the labels get none.
// CHECK-LABEL: module @mlp
// CHECK:       func.func @forward(
// CHECK-NOT:     nn.cross_entropy
// CHECK:         return
// CHECK:       func.func @train_step(%[[X:.*]]: tensor<?x8xf32> {nn.name = "x"}, %[[LABELS:.*]]: tensor<?xi64> {nn.name = "labels"}, %[[LR:.*]]: tensor<f32> {nn.name = "lr"}, %[[STEP:.*]]: tensor<i64> {nn.name = "step"}, %[[SEED:.*]]: tensor<i64> {nn.name = "seed"}) -> (tensor<f32> {nn.name = "loss"}, tensor<i64> {nn.name = "correct"})
// CHECK:         %[[W1:.*]] = nn.param_ref @fc1.weight
// CHECK:         %[[B1:.*]] = nn.param_ref @fc1.bias
// CHECK:         %[[H:.*]] = nn.linear %[[X]], %[[W1]], %[[B1]]
// CHECK:         %[[R:.*]] = nn.relu %[[H]]
// CHECK:         %[[W2:.*]] = nn.param_ref @fc2.weight
// CHECK:         %[[B2:.*]] = nn.param_ref @fc2.bias
// CHECK:         %[[OUT:.*]] = nn.linear %[[R]], %[[W2]], %[[B2]]
// CHECK:         %[[LOSS:.*]] = nn.cross_entropy %[[OUT]], %[[LABELS]]
// CHECK:         %[[CORRECT:.*]] = nn.count_correct %[[OUT]], %[[LABELS]]
// CHECK:         %[[ONE:.*]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK:         %[[DOUT:.*]] = nn.cross_entropy_backward %[[ONE]], %[[OUT]], %[[LABELS]] {name = "loss"}
// CHECK:         %[[G2:.*]]:3 = nn.linear_backward %[[DOUT]], %[[R]], %[[W2]] {name = "fc2", needs_bias_grad, needs_input_grad}
// CHECK:         %[[DR:.*]] = nn.relu_backward %[[G2]]#0, %[[R]] {name = "relu1"}
// CHECK:         %[[G1:.*]]:2 = nn.linear_backward %[[DR]], %[[X]], %[[W1]] {name = "fc1", needs_bias_grad} : {{.*}} -> (tensor<16x8xf32>, tensor<16xf32>)
// CHECK:         %[[U1:.*]] = nn.sgd_update %[[W1]], %[[G1]]#0, %[[LR]] {name = "fc1.weight"} : tensor<16x8xf32>
// CHECK:         nn.param_assign @fc1.weight, %[[U1]] : tensor<16x8xf32>
// CHECK:         %[[U2:.*]] = nn.sgd_update %[[B1]], %[[G1]]#1, %[[LR]] {name = "fc1.bias"}
// CHECK:         nn.param_assign @fc1.bias, %[[U2]]
// CHECK:         %[[U3:.*]] = nn.sgd_update %[[W2]], %[[G2]]#1, %[[LR]] {name = "fc2.weight"}
// CHECK:         nn.param_assign @fc2.weight, %[[U3]]
// CHECK:         %[[U4:.*]] = nn.sgd_update %[[B2]], %[[G2]]#2, %[[LR]] {name = "fc2.bias"}
// CHECK:         nn.param_assign @fc2.bias, %[[U4]]
// CHECK:         return %[[LOSS]], %[[CORRECT]] : tensor<f32>, tensor<i64>

// AdamW: zero-initialized state per parameter, options over the defaults.
// ADAMW-LABEL: module @mlp
// ADAMW:       nn.param state @fc1.weight.exp_avg : tensor<16x8xf32> init zeros
// ADAMW-NEXT:  nn.param state @fc1.weight.exp_avg_sq : tensor<16x8xf32> init zeros
// ADAMW-NEXT:  nn.param state @fc1.bias.exp_avg : tensor<16xf32> init zeros
// ADAMW:       func.func @train_step(%{{.*}}, %[[LR:.*]]: tensor<f32> {nn.name = "lr"}, %[[STEP:.*]]: tensor<i64> {nn.name = "step"}
// ADAMW:         %[[W1:.*]] = nn.param_ref @fc1.weight :
// ADAMW:         %[[G1:.*]]:2 = nn.linear_backward
// ADAMW:         %[[M:.*]] = nn.param_ref @fc1.weight.exp_avg :
// ADAMW:         %[[V:.*]] = nn.param_ref @fc1.weight.exp_avg_sq :
// ADAMW:         %[[P:.*]], %[[M1:.*]], %[[V1:.*]] = nn.adam_update %[[W1]], %[[G1]]#0, %[[M]], %[[V]], %[[LR]], %[[STEP]] {adamw, beta1 = 8.000000e-01 : f64, name = "fc1.weight", weight_decay = 1.000000e-02 : f64} : tensor<16x8xf32>
// ADAMW-NEXT:    nn.param_assign @fc1.weight, %[[P]]
// ADAMW-NEXT:    nn.param_assign @fc1.weight.exp_avg, %[[M1]]
// ADAMW-NEXT:    nn.param_assign @fc1.weight.exp_avg_sq, %[[V1]]

// NESTEROV-LABEL: module @mlp
// NESTEROV:       nn.param state @fc1.weight.momentum_buffer : tensor<16x8xf32> init zeros
// NESTEROV:       %[[BUF:.*]] = nn.param_ref @fc1.weight.momentum_buffer
// NESTEROV:       %[[P:.*]], %[[B:.*]] = nn.momentum_update %{{.*}}, %{{.*}}, %[[BUF]], %{{.*}} {momentum = 5.000000e-01 : f64, name = "fc1.weight", nesterov}
// NESTEROV-NEXT:  nn.param_assign @fc1.weight, %[[P]]
// NESTEROV-NEXT:  nn.param_assign @fc1.weight.momentum_buffer, %[[B]]

// BATCH-LABEL: module @mlp
// BATCH:       func.func @train_step(%{{.*}}: tensor<8x8xf32> {nn.name = "x"}, %{{.*}}: tensor<8xi64> {nn.name = "labels"}, %{{.*}}: tensor<f32> {nn.name = "lr"}, %{{.*}}: tensor<i64> {nn.name = "step"}, %{{.*}}: tensor<i64> {nn.name = "seed"})
// BATCH:         nn.linear_backward {{.*}} -> (tensor<8x16xf32>, tensor<4x16xf32>, tensor<4xf32>)

// An MLP trained with plain SGD (default without nn.train): linear -> relu
// -> linear; the first linear needs no input gradient.
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

// -----

// CHECK-LABEL: module @tied
// CHECK:       func.func @train_step(%[[X:[^:]*]]:
// CHECK:         %[[W:.*]] = nn.param_ref @fc.weight
// CHECK:         %[[H:.*]] = nn.linear %[[X]], %[[W]]
// CHECK:         %[[W2:.*]] = nn.param_ref @fc.weight
// CHECK:         %[[GB:.*]]:2 = nn.linear_backward %{{.*}}, %[[H]], %[[W2]] {name = "fc_b", needs_input_grad}
// CHECK:         %[[GA:.*]] = nn.linear_backward %[[GB]]#0, %[[X]], %[[W]] {name = "fc_a"} : {{.*}} -> tensor<4x4xf32>
// CHECK:         %[[SUM:.*]] = nn.add %[[GB]]#1, %[[GA]] : tensor<4x4xf32>
// CHECK:         %[[U:.*]] = nn.sgd_update %[[W]], %[[SUM]], %{{.*}}
// CHECK:         nn.param_assign @fc.weight, %[[U]]
// CHECK-NOT:     nn.param_assign
// CHECK:         return

// Tied weights: @"fc.weight" is read twice; its gradient is the sum over
// both uses.
module @tied attributes {nn.model} {
  nn.param @"fc.weight" : tensor<4x4xf32> init uniform(0.5)
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
    %w = nn.param_ref @"fc.weight" : tensor<4x4xf32>
    %0 = nn.linear %x, %w {name = "fc_a"} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %w2 = nn.param_ref @"fc.weight" : tensor<4x4xf32>
    %1 = nn.linear %0, %w2 {name = "fc_b"} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    return %1 : tensor<?x4xf32>
  }
  func.func @loss(%out: tensor<?x4xf32>, %labels: tensor<?xi64>) -> tensor<f32> {
    %0 = nn.cross_entropy %out, %labels : tensor<?x4xf32>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}

// -----

// Adam from nn.train; flatten's gradient is a reshape; the first conv has no
// input gradient.
// CHECK-LABEL: module @convnet
// CHECK:       nn.param state @conv1.weight.exp_avg : tensor<2x1x3x3xf32> init zeros
// CHECK:       func.func @train_step(%[[X:[^:]*]]: tensor<?x1x8x8xf32>
// CHECK:         %[[W:.*]] = nn.param_ref @conv1.weight
// CHECK:         %[[C:.*]] = nn.conv2d %[[X]], %[[W]]
// CHECK:         %[[R:.*]] = nn.relu %[[C]]
// CHECK:         nn.avgpool2d %[[R]]
// CHECK:         %[[G:.*]]:3 = nn.linear_backward
// CHECK:         %[[DF:.*]] = nn.reshape %[[G]]#0 {name = "flatten1", shape = array<i64: 2, 3, 3>} : tensor<?x18xf32> -> tensor<?x2x3x3xf32>
// CHECK:         %[[DP:.*]] = nn.avgpool2d_backward %[[DF]] {input_size = array<i64: 6, 6>, kernel = array<i64: 2, 2>, name = "pool1", padding = array<i64: 0, 0>, stride = array<i64: 2, 2>} : tensor<?x2x3x3xf32> -> tensor<?x2x6x6xf32>
// CHECK:         %[[DR:.*]] = nn.relu_backward %[[DP]], %[[R]]
// CHECK:         %[[DC:.*]]:2 = nn.conv2d_backward %[[DR]], %[[X]], %[[W]] {dilation = array<i64: 1, 1>, name = "conv1", needs_bias_grad, padding = array<i64: 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x2x6x6xf32>, tensor<?x1x8x8xf32>, tensor<2x1x3x3xf32>) -> (tensor<2x1x3x3xf32>, tensor<2xf32>)
// CHECK:         nn.adam_update %[[W]], %[[DC]]#0, {{.*}} {name = "conv1.weight"} : tensor<2x1x3x3xf32>
// CHECK-COUNT-3: nn.param_assign @conv1.weight
// CHECK:         nn.adam_update {{.*}} {name = "conv1.bias"}
// CHECK:         nn.adam_update {{.*}} {name = "fc1.weight"}
// CHECK:         nn.adam_update {{.*}} {name = "fc1.bias"}
// CHECK:         return

module @convnet attributes {nn.model, nn.train = {batch = 4 : i64, epochs = 1 : i64, loss = "cross_entropy", lr = 1.000000e-03 : f64, momentum = 9.000000e-01 : f64, optimizer = "adam", weight_decay = 0.000000e+00 : f64}} {
  nn.param @conv1.weight : tensor<2x1x3x3xf32> init uniform(0.33333333333333331)
  nn.param @conv1.bias : tensor<2xf32> init uniform(0.33333333333333331)
  nn.param @fc1.weight : tensor<3x18xf32> init uniform(0.23570226039551587)
  nn.param @fc1.bias : tensor<3xf32> init uniform(0.23570226039551587)
  func.func @forward(%arg0: tensor<?x1x8x8xf32> {nn.name = "image"}) -> (tensor<?x3xf32> {nn.name = "logits"}) {
    %0 = nn.param_ref @conv1.weight : tensor<2x1x3x3xf32>
    %1 = nn.param_ref @conv1.bias : tensor<2xf32>
    %2 = nn.conv2d %arg0, %0, %1 {dilation = array<i64: 1, 1>, name = "conv1", padding = array<i64: 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x1x8x8xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<?x2x6x6xf32>
    %3 = nn.relu %2 {name = "relu1"} : tensor<?x2x6x6xf32>
    %4 = nn.avgpool2d %3 {kernel = array<i64: 2, 2>, name = "pool1", padding = array<i64: 0, 0>, stride = array<i64: 2, 2>} : tensor<?x2x6x6xf32> -> tensor<?x2x3x3xf32>
    %5 = nn.flatten %4 {name = "flatten1"} : tensor<?x2x3x3xf32> -> tensor<?x18xf32>
    %6 = nn.param_ref @fc1.weight : tensor<3x18xf32>
    %7 = nn.param_ref @fc1.bias : tensor<3xf32>
    %8 = nn.linear %5, %6, %7 {name = "fc1"} : (tensor<?x18xf32>, tensor<3x18xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    return %8 : tensor<?x3xf32>
  }
  func.func @loss(%arg0: tensor<?x3xf32> {nn.name = "logits"}, %arg1: tensor<?xi64> {nn.name = "labels"}) -> tensor<f32> {
    %0 = nn.cross_entropy %arg0, %arg1 {name = "loss"} : tensor<?x3xf32>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}

// -----

// Momentum from nn.train; batchnorm in training mode; the relu output %[[R]]
// fans out (residual add and conv), so its gradient is summed with nn.add;
// running statistics and num_batches_tracked are written back.
// CHECK-LABEL: module @resnet
// CHECK:       nn.param state @conv1.weight.momentum_buffer
// CHECK:       func.func @train_step(
// CHECK:         %[[R:.*]] = nn.relu %{{.*}} {name = "relu1"}
// CHECK:         %[[CW:.*]] = nn.param_ref @res1.conv1.weight
// CHECK:         %[[C:.*]] = nn.conv2d %[[R]], %[[CW]]
// CHECK:         %[[G:.*]] = nn.param_ref @res1.bn1.weight
// CHECK:         %[[RM:.*]] = nn.param_ref @res1.bn1.running_mean
// CHECK:         %[[RV:.*]] = nn.param_ref @res1.bn1.running_var
// CHECK:         %[[BN:.*]], %[[MEAN:.*]], %[[INVSTD:.*]], %[[NRM:.*]], %[[NRV:.*]] = nn.batchnorm_train %[[C]], %[[G]], %{{.*}}, %[[RM]], %[[RV]] {name = "res1.bn1"}
// CHECK:         %[[ADD:.*]] = nn.add %[[R]], %[[BN]] {name = "res1.add1"}
// CHECK:         %[[DADD:.*]] = nn.relu_backward %{{.*}} {name = "res1.relu1"}
// CHECK:         %[[DX:.*]], %[[DG:.*]], %[[DB:.*]] = nn.batchnorm_backward %[[DADD]], %[[C]], %[[G]], %[[MEAN]], %[[INVSTD]] {name = "res1.bn1"}
// CHECK:         %[[DC:.*]]:2 = nn.conv2d_backward %[[DX]], %[[R]], %[[CW]] {{.*}}needs_input_grad
// CHECK:         %[[SUM:.*]] = nn.add %[[DADD]], %[[DC]]#0 : tensor<?x2x4x4xf32>
// CHECK:         nn.relu_backward %[[SUM]], %[[R]] {name = "relu1"}
// CHECK:         nn.momentum_update %[[G]], %[[DG]], %{{.*}}, %{{.*}} {name = "res1.bn1.weight"}
// CHECK:         nn.momentum_update %{{.*}}, %[[DB]], %{{.*}}, %{{.*}} {name = "res1.bn1.bias"}
// CHECK-NOT:     nn.momentum_update {{.*}}running
// CHECK:         nn.param_assign @res1.bn1.running_mean, %[[NRM]]
// CHECK:         nn.param_assign @res1.bn1.running_var, %[[NRV]]
// CHECK:         %[[N:.*]] = nn.param_ref @res1.bn1.num_batches_tracked : tensor<i64>
// CHECK:         %[[ONE:.*]] = arith.constant dense<1> : tensor<i64>
// CHECK:         %[[N1:.*]] = arith.addi %[[N]], %[[ONE]] : tensor<i64>
// CHECK:         nn.param_assign @res1.bn1.num_batches_tracked, %[[N1]]
// CHECK:         return

module @resnet attributes {nn.model, nn.train = {batch = 4 : i64, epochs = 1 : i64, loss = "cross_entropy", lr = 1.000000e-01 : f64, momentum = 9.000000e-01 : f64, optimizer = "momentum", weight_decay = 0.000000e+00 : f64}} {
  nn.param @conv1.weight : tensor<2x2x1x1xf32> init uniform(0.70710678118654746)
  nn.param @conv1.bias : tensor<2xf32> init uniform(0.70710678118654746)
  nn.param @res1.conv1.weight : tensor<2x2x3x3xf32> init uniform(0.23570226039551587)
  nn.param @res1.bn1.weight : tensor<2xf32> init ones
  nn.param @res1.bn1.bias : tensor<2xf32> init zeros
  nn.param buffer @res1.bn1.running_mean : tensor<2xf32> init zeros
  nn.param buffer @res1.bn1.running_var : tensor<2xf32> init ones
  nn.param buffer @res1.bn1.num_batches_tracked : tensor<i64> init zeros
  nn.param @fc1.weight : tensor<3x2xf32> init uniform(0.70710678118654746)
  nn.param @fc1.bias : tensor<3xf32> init uniform(0.70710678118654746)
  func.func @forward(%arg0: tensor<?x2x4x4xf32> {nn.name = "image"}) -> (tensor<?x3xf32> {nn.name = "logits"}) {
    %0 = nn.param_ref @conv1.weight : tensor<2x2x1x1xf32>
    %1 = nn.param_ref @conv1.bias : tensor<2xf32>
    %2 = nn.conv2d %arg0, %0, %1 {dilation = array<i64: 1, 1>, name = "conv1", padding = array<i64: 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x2x4x4xf32>, tensor<2x2x1x1xf32>, tensor<2xf32>) -> tensor<?x2x4x4xf32>
    %3 = nn.relu %2 {name = "relu1"} : tensor<?x2x4x4xf32>
    %4 = nn.param_ref @res1.conv1.weight : tensor<2x2x3x3xf32>
    %5 = nn.conv2d %3, %4 {dilation = array<i64: 1, 1>, name = "res1.conv1", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x2x4x4xf32>, tensor<2x2x3x3xf32>) -> tensor<?x2x4x4xf32>
    %6 = nn.param_ref @res1.bn1.weight : tensor<2xf32>
    %7 = nn.param_ref @res1.bn1.bias : tensor<2xf32>
    %8 = nn.param_ref @res1.bn1.running_mean : tensor<2xf32>
    %9 = nn.param_ref @res1.bn1.running_var : tensor<2xf32>
    %10 = nn.batchnorm %5, %6, %7, %8, %9 {name = "res1.bn1"} : (tensor<?x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<?x2x4x4xf32>
    %11 = nn.add %3, %10 {name = "res1.add1"} : tensor<?x2x4x4xf32>
    %12 = nn.relu %11 {name = "res1.relu1"} : tensor<?x2x4x4xf32>
    %13 = nn.global_avgpool %12 {name = "pool1"} : tensor<?x2x4x4xf32> -> tensor<?x2xf32>
    %14 = nn.param_ref @fc1.weight : tensor<3x2xf32>
    %15 = nn.param_ref @fc1.bias : tensor<3xf32>
    %16 = nn.linear %13, %14, %15 {name = "fc1"} : (tensor<?x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    return %16 : tensor<?x3xf32>
  }
  func.func @loss(%arg0: tensor<?x3xf32> {nn.name = "logits"}, %arg1: tensor<?xi64> {nn.name = "labels"}) -> tensor<f32> {
    %0 = nn.cross_entropy %arg0, %arg1 {name = "loss"} : tensor<?x3xf32>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}

// -----

// The LSTM runs in training mode and returns its saved state
// [layers*dirs, T, N, 6H]; its backward needs no input gradient.
// CHECK-LABEL: module @lstm
// CHECK:       func.func @train_step(%[[X:[^:]*]]: tensor<?x5x4xf32>
// CHECK:         %[[H:.*]], %[[SAVED:.*]] = nn.lstm_train %[[X]], %[[WIH:.*]], %[[WHH:.*]], %[[BIH:.*]], %[[BHH:.*]] {hidden_size = 6 : i64, name = "lstm1"} : {{.*}} -> (tensor<?x6xf32>, tensor<1x5x?x36xf32>)
// CHECK:         %[[G:.*]]:3 = nn.linear_backward %{{.*}}, %[[H]]
// CHECK:         %[[GL:.*]]:4 = nn.lstm_backward %[[G]]#0, %[[X]], %[[SAVED]], %[[WIH]], %[[WHH]], %[[BIH]], %[[BHH]] {hidden_size = 6 : i64, name = "lstm1"} : {{.*}} -> (tensor<24x4xf32>, tensor<24x6xf32>, tensor<24xf32>, tensor<24xf32>)
// CHECK:         nn.sgd_update %[[WIH]], %[[GL]]#0
// CHECK:         nn.sgd_update %[[WHH]], %[[GL]]#1
// CHECK:         nn.sgd_update %[[BIH]], %[[GL]]#2
// CHECK:         nn.sgd_update %[[BHH]], %[[GL]]#3

// BATCH-LABEL: module @lstm
// BATCH:       nn.lstm_train {{.*}} -> (tensor<8x6xf32>, tensor<1x5x8x36xf32>)

module @lstm attributes {nn.model} {
  nn.param @lstm1.weight_ih_l0 : tensor<24x4xf32> init uniform(0.40824829046386307)
  nn.param @lstm1.weight_hh_l0 : tensor<24x6xf32> init uniform(0.40824829046386307)
  nn.param @lstm1.bias_ih_l0 : tensor<24xf32> init uniform(0.40824829046386307)
  nn.param @lstm1.bias_hh_l0 : tensor<24xf32> init uniform(0.40824829046386307)
  nn.param @fc1.weight : tensor<3x6xf32> init uniform(0.40824829046386307)
  nn.param @fc1.bias : tensor<3xf32> init uniform(0.40824829046386307)
  func.func @forward(%arg0: tensor<?x5x4xf32> {nn.name = "seq"}) -> (tensor<?x3xf32> {nn.name = "logits"}) {
    %0 = nn.param_ref @lstm1.weight_ih_l0 : tensor<24x4xf32>
    %1 = nn.param_ref @lstm1.weight_hh_l0 : tensor<24x6xf32>
    %2 = nn.param_ref @lstm1.bias_ih_l0 : tensor<24xf32>
    %3 = nn.param_ref @lstm1.bias_hh_l0 : tensor<24xf32>
    %4 = nn.lstm %arg0, %0, %1, %2, %3 {hidden_size = 6 : i64, name = "lstm1"} : (tensor<?x5x4xf32>, tensor<24x4xf32>, tensor<24x6xf32>, tensor<24xf32>, tensor<24xf32>) -> tensor<?x6xf32>
    %5 = nn.param_ref @fc1.weight : tensor<3x6xf32>
    %6 = nn.param_ref @fc1.bias : tensor<3xf32>
    %7 = nn.linear %4, %5, %6 {name = "fc1"} : (tensor<?x6xf32>, tensor<3x6xf32>, tensor<3xf32>) -> tensor<?x3xf32>
    return %7 : tensor<?x3xf32>
  }
  func.func @loss(%arg0: tensor<?x3xf32> {nn.name = "logits"}, %arg1: tensor<?xi64> {nn.name = "labels"}) -> tensor<f32> {
    %0 = nn.cross_entropy %arg0, %arg1 {name = "loss"} : tensor<?x3xf32>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}

// -----

// Each dropout gets its own stream of the step's seed; mse has no correct
// count (0).
// CHECK-LABEL: module @drop
// CHECK:       func.func @train_step(%{{.*}}: tensor<?x4xf32> {nn.name = "x"}, %[[T:.*]]: tensor<?x2xf32> {nn.name = "labels"}, %{{.*}}, %{{.*}}, %[[SEED:.*]]: tensor<i64> {nn.name = "seed"})
// CHECK:         %[[D1:.*]], %[[M1:.*]] = nn.dropout_train %{{.*}}, %[[SEED]] {name = "drop1"} : (tensor<?x6xf32>, tensor<i64>) -> (tensor<?x6xf32>, tensor<?x6xi8>)
// CHECK:         %[[T1:.*]] = nn.tanh %[[D1]]
// CHECK:         %[[D2:.*]], %[[M2:.*]] = nn.dropout_train %[[T1]], %[[SEED]] {name = "drop2", p = 2.500000e-01 : f64, stream = 1 : i64}
// CHECK:         %[[OUT:.*]] = nn.linear %[[D2]]
// CHECK:         %[[LOSS:.*]] = nn.mse %[[OUT]], %[[T]]
// CHECK:         %[[ZERO:.*]] = arith.constant dense<0> : tensor<i64>
// CHECK:         nn.mse_backward %{{.*}}, %[[OUT]], %[[T]] {name = "loss"}
// CHECK:         %[[G2:.*]]:3 = nn.linear_backward
// CHECK:         %[[DD2:.*]] = nn.dropout_backward %[[G2]]#0, %[[M2]] {name = "drop2", p = 2.500000e-01 : f64}
// CHECK:         %[[DT:.*]] = nn.tanh_backward %[[DD2]], %[[T1]]
// CHECK:         nn.dropout_backward %[[DT]], %[[M1]] {name = "drop1"}
// CHECK:         return %[[LOSS]], %[[ZERO]]

module @drop attributes {nn.model, nn.train = {batch = 4 : i64, epochs = 1 : i64, loss = "mse", lr = 1.000000e-01 : f64, momentum = 9.000000e-01 : f64, optimizer = "sgd", weight_decay = 0.000000e+00 : f64}} {
  nn.param @fc1.weight : tensor<6x4xf32> init uniform(5.000000e-01)
  nn.param @fc1.bias : tensor<6xf32> init uniform(5.000000e-01)
  nn.param @fc2.weight : tensor<2x6xf32> init uniform(0.40824829046386307)
  nn.param @fc2.bias : tensor<2xf32> init uniform(0.40824829046386307)
  func.func @forward(%arg0: tensor<?x4xf32> {nn.name = "x"}) -> (tensor<?x2xf32> {nn.name = "y"}) {
    %0 = nn.param_ref @fc1.weight : tensor<6x4xf32>
    %1 = nn.param_ref @fc1.bias : tensor<6xf32>
    %2 = nn.linear %arg0, %0, %1 {name = "fc1"} : (tensor<?x4xf32>, tensor<6x4xf32>, tensor<6xf32>) -> tensor<?x6xf32>
    %3 = nn.dropout %2 {name = "drop1"} : tensor<?x6xf32>
    %4 = nn.tanh %3 {name = "tanh1"} : tensor<?x6xf32>
    %5 = nn.dropout %4 {name = "drop2", p = 2.500000e-01 : f64} : tensor<?x6xf32>
    %6 = nn.param_ref @fc2.weight : tensor<2x6xf32>
    %7 = nn.param_ref @fc2.bias : tensor<2xf32>
    %8 = nn.linear %5, %6, %7 {name = "fc2"} : (tensor<?x6xf32>, tensor<2x6xf32>, tensor<2xf32>) -> tensor<?x2xf32>
    return %8 : tensor<?x2xf32>
  }
  func.func @loss(%arg0: tensor<?x2xf32> {nn.name = "y"}, %arg1: tensor<?x2xf32> {nn.name = "labels"}) -> tensor<f32> {
    %0 = nn.mse %arg0, %arg1 {name = "loss"} : tensor<?x2xf32>
    return %0 : tensor<f32>
  }
}

// -----

// An op off the path from the parameters needs no gradient: the arith.addf on
// the model input is fine.
// CHECK-LABEL: module @inactive
// CHECK:       func.func @train_step(%[[X:[^:]*]]:
// CHECK:         %[[A:.*]] = arith.addf %[[X]], %[[X]]
// CHECK:         nn.linear_backward %{{.*}}, %[[A]], %{{.*}} : {{.*}} -> tensor<4x4xf32>
// CHECK-NOT:     arith
// CHECK:         nn.sgd_update
module @inactive attributes {nn.model} {
  nn.param @w : tensor<4x4xf32> init zeros
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
    %0 = arith.addf %x, %x : tensor<?x4xf32>
    %w = nn.param_ref @w : tensor<4x4xf32>
    %1 = nn.linear %0, %w : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    return %1 : tensor<?x4xf32>
  }
  func.func @loss(%out: tensor<?x4xf32>, %labels: tensor<?xi64>) -> tensor<f32> {
    %0 = nn.cross_entropy %out, %labels : tensor<?x4xf32>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}
