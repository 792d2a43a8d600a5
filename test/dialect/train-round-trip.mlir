// RUN: nn-opt %s | nn-opt | FileCheck %s
// RUN: nn-opt %s -mlir-print-op-generic | nn-opt | FileCheck %s

// Every training op (NNTrainOps.td) and the `state` parameter kind survive
// print -> parse -> print, in both the custom and the generic form.

// CHECK-LABEL: module @params
module @params attributes {nn.model} {
  // CHECK: nn.param @fc.weight : tensor<10x84xf32> init uniform(1.000000e-01)
  nn.param @"fc.weight" : tensor<10x84xf32> init uniform(0.1)
  // CHECK: nn.param state @fc.weight.exp_avg : tensor<10x84xf32> init zeros
  nn.param state @"fc.weight.exp_avg" : tensor<10x84xf32> init zeros
  // CHECK: nn.param buffer @bn.num_batches_tracked : tensor<i64> init zeros
  nn.param buffer @"bn.num_batches_tracked" : tensor<i64> init zeros

  // CHECK-LABEL: func.func @assign
  func.func @assign(%v: tensor<10x84xf32>, %n: tensor<i64>) {
    // CHECK: nn.param_assign @fc.weight, %{{.*}} : tensor<10x84xf32>
    nn.param_assign @"fc.weight", %v : tensor<10x84xf32>
    // CHECK: nn.param_assign @fc.weight.exp_avg, %{{.*}} : tensor<10x84xf32>
    nn.param_assign @"fc.weight.exp_avg", %v : tensor<10x84xf32>
    // CHECK: nn.param_assign @bn.num_batches_tracked, %{{.*}} : tensor<i64>
    nn.param_assign @"bn.num_batches_tracked", %n : tensor<i64>
    return
  }
}

// CHECK-LABEL: func.func @train_forward
func.func @train_forward(%x: tensor<?x6x4x4xf32>, %seed: tensor<i64>,
                         %c: tensor<6xf32>, %seq: tensor<?x7x10xf32>,
                         %wih: tensor<80x10xf32>, %whh: tensor<80x20xf32>,
                         %bih: tensor<80xf32>, %bhh: tensor<80xf32>,
                         %gih: tensor<60x10xf32>, %ghh: tensor<60x20xf32>,
                         %rih: tensor<20x10xf32>, %rhh: tensor<20x20xf32>) {
  // CHECK: nn.dropout_train %{{.*}}, %{{.*}} {name = "drop", stream = 2 : i64} : (tensor<?x6x4x4xf32>, tensor<i64>) -> (tensor<?x6x4x4xf32>, tensor<?x6x4x4xi8>)
  %y, %mask = nn.dropout_train %x, %seed {name = "drop", p = 0.5, stream = 2} : (tensor<?x6x4x4xf32>, tensor<i64>) -> (tensor<?x6x4x4xf32>, tensor<?x6x4x4xi8>)
  // CHECK: nn.batchnorm_train {{.*}} {momentum = 2.000000e-01 : f64} : (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>)
  %b:5 = nn.batchnorm_train %x, %c, %c, %c, %c {momentum = 0.2} : (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>)
  // LSTM: saved state [layers*dirs, T, N, 6H].
  // CHECK: nn.lstm_train {{.*}} {hidden_size = 20 : i64} : (tensor<?x7x10xf32>, tensor<80x10xf32>, tensor<80x20xf32>, tensor<80xf32>, tensor<80xf32>) -> (tensor<?x20xf32>, tensor<1x7x?x120xf32>)
  %l:2 = nn.lstm_train %seq, %wih, %whh, %bih, %bhh {hidden_size = 20} : (tensor<?x7x10xf32>, tensor<80x10xf32>, tensor<80x20xf32>, tensor<80xf32>, tensor<80xf32>) -> (tensor<?x20xf32>, tensor<1x7x?x120xf32>)
  // GRU: 5H per step; RNN: H per step.
  // CHECK: nn.gru_train {{.*}} {has_bias = false, hidden_size = 20 : i64, return_sequences = true} : (tensor<?x7x10xf32>, tensor<60x10xf32>, tensor<60x20xf32>) -> (tensor<?x7x20xf32>, tensor<1x7x?x100xf32>)
  %g:2 = nn.gru_train %seq, %gih, %ghh {hidden_size = 20, has_bias = false, return_sequences = true} : (tensor<?x7x10xf32>, tensor<60x10xf32>, tensor<60x20xf32>) -> (tensor<?x7x20xf32>, tensor<1x7x?x100xf32>)
  // CHECK: nn.rnn_train {{.*}} {has_bias = false, hidden_size = 20 : i64, nonlinearity = "relu"} : (tensor<?x7x10xf32>, tensor<20x10xf32>, tensor<20x20xf32>) -> (tensor<?x20xf32>, tensor<1x7x?x20xf32>)
  %r:2 = nn.rnn_train %seq, %rih, %rhh {hidden_size = 20, has_bias = false, nonlinearity = "relu"} : (tensor<?x7x10xf32>, tensor<20x10xf32>, tensor<20x20xf32>) -> (tensor<?x20xf32>, tensor<1x7x?x20xf32>)
  // CHECK: nn.lstm_backward {{.*}} {hidden_size = 20 : i64, needs_input_grad} : (tensor<?x20xf32>, tensor<?x7x10xf32>, tensor<1x7x?x120xf32>, tensor<80x10xf32>, tensor<80x20xf32>, tensor<80xf32>, tensor<80xf32>) -> (tensor<?x7x10xf32>, tensor<80x10xf32>, tensor<80x20xf32>, tensor<80xf32>, tensor<80xf32>)
  %lb:5 = nn.lstm_backward %l#0, %seq, %l#1, %wih, %whh, %bih, %bhh {hidden_size = 20, needs_input_grad} : (tensor<?x20xf32>, tensor<?x7x10xf32>, tensor<1x7x?x120xf32>, tensor<80x10xf32>, tensor<80x20xf32>, tensor<80xf32>, tensor<80xf32>) -> (tensor<?x7x10xf32>, tensor<80x10xf32>, tensor<80x20xf32>, tensor<80xf32>, tensor<80xf32>)
  // CHECK: nn.gru_backward {{.*}} -> (tensor<60x10xf32>, tensor<60x20xf32>)
  %gb:2 = nn.gru_backward %g#0, %seq, %g#1, %gih, %ghh {hidden_size = 20, has_bias = false, return_sequences = true} : (tensor<?x7x20xf32>, tensor<?x7x10xf32>, tensor<1x7x?x100xf32>, tensor<60x10xf32>, tensor<60x20xf32>) -> (tensor<60x10xf32>, tensor<60x20xf32>)
  // CHECK: nn.rnn_backward {{.*}} nonlinearity = "relu"} : {{.*}} -> (tensor<20x10xf32>, tensor<20x20xf32>)
  %rb:2 = nn.rnn_backward %r#0, %seq, %r#1, %rih, %rhh {hidden_size = 20, has_bias = false, nonlinearity = "relu"} : (tensor<?x20xf32>, tensor<?x7x10xf32>, tensor<1x7x?x20xf32>, tensor<20x10xf32>, tensor<20x20xf32>) -> (tensor<20x10xf32>, tensor<20x20xf32>)
  // CHECK: nn.dropout_backward %{{.*}}, %{{.*}} {p = 2.500000e-01 : f64} : tensor<?x6x4x4xf32>, tensor<?x6x4x4xi8>
  %dd = nn.dropout_backward %y, %mask {p = 0.25} : tensor<?x6x4x4xf32>, tensor<?x6x4x4xi8>
  // CHECK: nn.batchnorm_backward {{.*}} : (tensor<?x6x4x4xf32>, tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>)
  %bb:3 = nn.batchnorm_backward %b#0, %x, %c, %b#1, %b#2 : (tensor<?x6x4x4xf32>, tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>)
  return
}

// CHECK-LABEL: func.func @weighted
func.func @weighted(%dy: tensor<?x16x10x10xf32>, %x: tensor<?x6x14x14xf32>,
                    %w: tensor<16x6x5x5xf32>, %dl: tensor<?x10xf32>,
                    %h: tensor<?x84xf32>, %fw: tensor<10x84xf32>,
                    %de: tensor<?x12x8xf32>, %ids: tensor<?x12xi64>) {
  // CHECK: nn.conv2d_backward {{.*}} {dilation = array<i64: 1, 1>, name = "conv2", needs_bias_grad, needs_input_grad, padding = array<i64: 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x16x10x10xf32>, tensor<?x6x14x14xf32>, tensor<16x6x5x5xf32>) -> (tensor<?x6x14x14xf32>, tensor<16x6x5x5xf32>, tensor<16xf32>)
  %c:3 = nn.conv2d_backward %dy, %x, %w {name = "conv2", needs_input_grad, needs_bias_grad, stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x16x10x10xf32>, tensor<?x6x14x14xf32>, tensor<16x6x5x5xf32>) -> (tensor<?x6x14x14xf32>, tensor<16x6x5x5xf32>, tensor<16xf32>)
  // Only the weight gradient (first layer without bias).
  // CHECK: nn.conv2d_backward {{.*}} -> tensor<16x6x5x5xf32>
  %c1 = nn.conv2d_backward %dy, %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x16x10x10xf32>, tensor<?x6x14x14xf32>, tensor<16x6x5x5xf32>) -> tensor<16x6x5x5xf32>
  // CHECK: nn.linear_backward {{.*}} {needs_bias_grad, needs_input_grad} : (tensor<?x10xf32>, tensor<?x84xf32>, tensor<10x84xf32>) -> (tensor<?x84xf32>, tensor<10x84xf32>, tensor<10xf32>)
  %l:3 = nn.linear_backward %dl, %h, %fw {needs_input_grad, needs_bias_grad} : (tensor<?x10xf32>, tensor<?x84xf32>, tensor<10x84xf32>) -> (tensor<?x84xf32>, tensor<10x84xf32>, tensor<10xf32>)
  // CHECK: nn.embedding_backward {{.*}} {num_embeddings = 100 : i64} : (tensor<?x12x8xf32>, tensor<?x12xi64>) -> tensor<100x8xf32>
  %e = nn.embedding_backward %de, %ids {num_embeddings = 100} : (tensor<?x12x8xf32>, tensor<?x12xi64>) -> tensor<100x8xf32>
  return
}

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%dy: tensor<?x10xf32>, %y: tensor<?x10xf32>) {
  // CHECK: nn.relu_backward %{{.*}}, %{{.*}} : tensor<?x10xf32>
  %0 = nn.relu_backward %dy, %y : tensor<?x10xf32>
  // CHECK: nn.sigmoid_backward %{{.*}}, %{{.*}} : tensor<?x10xf32>
  %1 = nn.sigmoid_backward %dy, %y : tensor<?x10xf32>
  // CHECK: nn.tanh_backward %{{.*}}, %{{.*}} : tensor<?x10xf32>
  %2 = nn.tanh_backward %dy, %y : tensor<?x10xf32>
  // CHECK: nn.gelu_backward %{{.*}}, %{{.*}} : tensor<?x10xf32>
  %3 = nn.gelu_backward %dy, %y : tensor<?x10xf32>
  // CHECK: nn.leaky_relu_backward %{{.*}}, %{{.*}} {slope = 2.000000e-01 : f64} : tensor<?x10xf32>
  %4 = nn.leaky_relu_backward %dy, %y {slope = 0.2} : tensor<?x10xf32>
  // CHECK: nn.softmax_backward %{{.*}}, %{{.*}} {dim = 1 : i64} : tensor<?x10xf32>
  %5 = nn.softmax_backward %dy, %y {dim = 1} : tensor<?x10xf32>
  // CHECK: nn.log_softmax_backward %{{.*}}, %{{.*}} {dim = 1 : i64} : tensor<?x10xf32>
  %6 = nn.log_softmax_backward %dy, %y {dim = 1} : tensor<?x10xf32>
  return
}

// CHECK-LABEL: func.func @pooling
func.func @pooling(%dy: tensor<?x6x14x14xf32>, %x: tensor<?x6x28x28xf32>,
                   %dg: tensor<?x64xf32>, %dc: tensor<?x8x4xf32>) {
  // CHECK: nn.maxpool2d_backward {{.*}} {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x6x14x14xf32>, tensor<?x6x28x28xf32>) -> tensor<?x6x28x28xf32>
  %0 = nn.maxpool2d_backward %dy, %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : (tensor<?x6x14x14xf32>, tensor<?x6x28x28xf32>) -> tensor<?x6x28x28xf32>
  // Floor mode: 29x29 inputs pool to 14x14 as well.
  // CHECK: nn.avgpool2d_backward %{{.*}} {input_size = array<i64: 29, 29>, kernel = array<i64: 2, 2>, padding = array<i64: 0, 0>, stride = array<i64: 2, 2>} : tensor<?x6x14x14xf32> -> tensor<?x6x29x29xf32>
  %1 = nn.avgpool2d_backward %dy {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>, input_size = array<i64: 29, 29>} : tensor<?x6x14x14xf32> -> tensor<?x6x29x29xf32>
  // CHECK: nn.global_avgpool_backward %{{.*}} {input_size = array<i64: 8, 8>} : tensor<?x64xf32> -> tensor<?x64x8x8xf32>
  %2 = nn.global_avgpool_backward %dg {input_size = array<i64: 8, 8>} : tensor<?x64xf32> -> tensor<?x64x8x8xf32>
  // CHECK: nn.concat_backward %{{.*}} {dim = 1 : i64, sizes = array<i64: 3, 5>} : (tensor<?x8x4xf32>) -> (tensor<?x3x4xf32>, tensor<?x5x4xf32>)
  %3:2 = nn.concat_backward %dc {dim = 1, sizes = array<i64: 3, 5>} : (tensor<?x8x4xf32>) -> (tensor<?x3x4xf32>, tensor<?x5x4xf32>)
  return
}

// CHECK-LABEL: func.func @losses
func.func @losses(%one: tensor<f32>, %logits: tensor<?x10xf32>,
                  %labels: tensor<?xi64>, %pred: tensor<?x3xf32>) {
  // CHECK: nn.cross_entropy_backward {{.*}} : (tensor<f32>, tensor<?x10xf32>, tensor<?xi64>) -> tensor<?x10xf32>
  %0 = nn.cross_entropy_backward %one, %logits, %labels : (tensor<f32>, tensor<?x10xf32>, tensor<?xi64>) -> tensor<?x10xf32>
  // CHECK: nn.mse_backward {{.*}} : (tensor<f32>, tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
  %1 = nn.mse_backward %one, %pred, %pred : (tensor<f32>, tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
  // CHECK: nn.distill_loss %{{.*}}, %{{.*}}, %{{.*}} {alpha = 9.000000e-01 : f64, temperature = 4.000000e+00 : f64} : (tensor<?x10xf32>, tensor<?x10xf32>, tensor<?xi64>) -> tensor<f32>
  %kd = nn.distill_loss %logits, %logits, %labels {alpha = 0.9 : f64, temperature = 4.0 : f64} : (tensor<?x10xf32>, tensor<?x10xf32>, tensor<?xi64>) -> tensor<f32>
  // CHECK: nn.distill_loss_backward {{.*}} {alpha = 9.000000e-01 : f64, temperature = 4.000000e+00 : f64} : (tensor<f32>, tensor<?x10xf32>, tensor<?x10xf32>, tensor<?xi64>) -> tensor<?x10xf32>
  %dkd = nn.distill_loss_backward %one, %logits, %logits, %labels {alpha = 0.9 : f64, temperature = 4.0 : f64} : (tensor<f32>, tensor<?x10xf32>, tensor<?x10xf32>, tensor<?xi64>) -> tensor<?x10xf32>
  // CHECK: nn.count_correct %{{.*}}, %{{.*}} : tensor<?x10xf32>, tensor<?xi64>
  %2 = nn.count_correct %logits, %labels : tensor<?x10xf32>, tensor<?xi64>
  return
}

// CHECK-LABEL: func.func @sequence_losses
func.func @sequence_losses(%one: tensor<f32>, %logits: tensor<?x6x10xf32>, %labels: tensor<?x6xi64>) {
  // CHECK: nn.cross_entropy_backward {{.*}} : (tensor<f32>, tensor<?x6x10xf32>, tensor<?x6xi64>) -> tensor<?x6x10xf32>
  %0 = nn.cross_entropy_backward %one, %logits, %labels : (tensor<f32>, tensor<?x6x10xf32>, tensor<?x6xi64>) -> tensor<?x6x10xf32>
  // CHECK: nn.count_correct %{{.*}}, %{{.*}} : tensor<?x6x10xf32>, tensor<?x6xi64>
  %1 = nn.count_correct %logits, %labels : tensor<?x6x10xf32>, tensor<?x6xi64>
  return
}

// CHECK-LABEL: func.func @updates
func.func @updates(%p: tensor<10x84xf32>, %g: tensor<10x84xf32>,
                   %s: tensor<10x84xf32>, %lr: tensor<f32>,
                   %step: tensor<i64>) {
  // CHECK: nn.sgd_update %{{.*}}, %{{.*}}, %{{.*}} {weight_decay = 1.000000e-04 : f64} : tensor<10x84xf32>
  %0 = nn.sgd_update %p, %g, %lr {weight_decay = 1.0e-4} : tensor<10x84xf32>
  // CHECK: nn.momentum_update %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {nesterov} : tensor<10x84xf32>
  %1:2 = nn.momentum_update %p, %g, %s, %lr {momentum = 0.9, nesterov} : tensor<10x84xf32>
  // CHECK: nn.adam_update %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {adamw, weight_decay = 1.000000e-02 : f64} : tensor<10x84xf32>
  %2:3 = nn.adam_update %p, %g, %s, %s, %lr, %step {adamw, weight_decay = 0.01} : tensor<10x84xf32>
  // CHECK: nn.adam_update {{.*}} {beta1 = 8.000000e-01 : f64, eps = 1.000000e-03 : f64} : tensor<10x84xf32>
  %3:3 = nn.adam_update %p, %g, %s, %s, %lr, %step {beta1 = 0.8, eps = 1.0e-3} : tensor<10x84xf32>
  return
}

// CHECK-LABEL: func.func @attention
func.func @attention(%dy: tensor<2x6x8xf32>, %qkv: tensor<2x6x16xf32>, %a: tensor<4x6x2xf32>)
    -> (tensor<2x6x16xf32>, tensor<4x6x6xf32>, tensor<4x2x2xf32>) {
  // CHECK: nn.attention_core_backward %{{.*}}, %{{.*}} {causal = true, heads = 4 : i64, kv_heads = 2 : i64} : (tensor<2x6x8xf32>, tensor<2x6x16xf32>) -> tensor<2x6x16xf32>
  %0 = nn.attention_core_backward %dy, %qkv {heads = 4, kv_heads = 2, causal = true} : (tensor<2x6x8xf32>, tensor<2x6x16xf32>) -> tensor<2x6x16xf32>
  // CHECK: nn.batch_matmul %{{.*}}, %{{.*}} {alpha = 5.000000e-01 : f64, transpose_rhs} : (tensor<4x6x2xf32>, tensor<4x6x2xf32>) -> tensor<4x6x6xf32>
  %1 = nn.batch_matmul %a, %a {alpha = 0.5, transpose_rhs} : (tensor<4x6x2xf32>, tensor<4x6x2xf32>) -> tensor<4x6x6xf32>
  // CHECK: nn.batch_matmul %{{.*}}, %{{.*}} {transpose_lhs} : (tensor<4x6x2xf32>, tensor<4x6x2xf32>) -> tensor<4x2x2xf32>
  %2 = nn.batch_matmul %a, %a {transpose_lhs} : (tensor<4x6x2xf32>, tensor<4x6x2xf32>) -> tensor<4x2x2xf32>
  return %0, %1, %2 : tensor<2x6x16xf32>, tensor<4x6x6xf32>, tensor<4x2x2xf32>
}

// CHECK-LABEL: func.func @layernorm_backward
func.func @layernorm_backward(%dy: tensor<?x6x8xf32>, %x: tensor<?x6x8xf32>, %w: tensor<8xf32>) {
  // CHECK: nn.layernorm_backward {{.*}} : (tensor<?x6x8xf32>, tensor<?x6x8xf32>, tensor<8xf32>) -> (tensor<?x6x8xf32>, tensor<8xf32>, tensor<8xf32>)
  %0:3 = nn.layernorm_backward %dy, %x, %w : (tensor<?x6x8xf32>, tensor<?x6x8xf32>, tensor<8xf32>) -> (tensor<?x6x8xf32>, tensor<8xf32>, tensor<8xf32>)
  // CHECK: nn.layernorm_backward {{.*}} {eps = 1.000000e-03 : f64} : (tensor<?x6x8xf32>, tensor<?x6x8xf32>) -> tensor<?x6x8xf32>
  %1 = nn.layernorm_backward %dy, %x {eps = 1.0e-3 : f64} : (tensor<?x6x8xf32>, tensor<?x6x8xf32>) -> tensor<?x6x8xf32>
  return
}

// CHECK-LABEL: func.func @pos_embedding_backward
func.func @pos_embedding_backward(%dy: tensor<?x6x8xf32>) -> tensor<10x8xf32> {
  // CHECK: nn.pos_embedding_backward %{{.*}} {num_positions = 10 : i64} : (tensor<?x6x8xf32>) -> tensor<10x8xf32>
  %0 = nn.pos_embedding_backward %dy {num_positions = 10 : i64} : (tensor<?x6x8xf32>) -> tensor<10x8xf32>
  return %0 : tensor<10x8xf32>
}
