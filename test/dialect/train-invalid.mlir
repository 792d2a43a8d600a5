// RUN: nn-opt %s -split-input-file -verify-diagnostics

// Each verifier rule of the training ops (NNTrainOps.td), one case each.

//===----------------------------------------------------------------------===//
// nn.param state / nn.param_assign
//===----------------------------------------------------------------------===//

// expected-error @+1 {{is both a buffer and optimizer state}}
nn.param buffer state @s : tensor<4xf32> init zeros

// -----

module {
  func.func @f(%v: tensor<4xf32>) {
    // expected-error @+1 {{writes unknown parameter @w}}
    nn.param_assign @w, %v : tensor<4xf32>
    return
  }
}

// -----

module {
  func.func @w() {
    return
  }
  func.func @f(%v: tensor<4xf32>) {
    // expected-error @+1 {{writes @w, which is not an nn.param}}
    nn.param_assign @w, %v : tensor<4xf32>
    return
  }
}

// -----

module {
  nn.param @w : tensor<4xf32> init zeros
  func.func @f(%v: tensor<5xf32>) {
    // expected-error @+1 {{value type 'tensor<5xf32>' does not match the type 'tensor<4xf32>' of parameter @w}}
    nn.param_assign @w, %v : tensor<5xf32>
    return
  }
}

// -----

//===----------------------------------------------------------------------===//
// Training-mode forward ops
//===----------------------------------------------------------------------===//

func.func @f(%x: tensor<?x10xf32>, %seed: tensor<i64>) {
  // expected-error @+1 {{probability p must be in [0, 1), got 1}}
  %y, %m = nn.dropout_train %x, %seed {p = 1.0} : (tensor<?x10xf32>, tensor<i64>) -> (tensor<?x10xf32>, tensor<?x10xi8>)
  return
}

// -----

func.func @f(%x: tensor<?x10xf32>, %seed: tensor<i64>) {
  // expected-error @+1 {{result type}}
  %y, %m = nn.dropout_train %x, %seed : (tensor<?x10xf32>, tensor<i64>) -> (tensor<?x10xf32>, tensor<?x9xi8>)
  return
}

// -----

func.func @f(%x: tensor<?x6x4x4xf32>, %c: tensor<6xf32>) {
  // expected-error @+1 {{eps must be positive, got 0}}
  %b:5 = nn.batchnorm_train %x, %c, %c, %c, %c {eps = 0.0} : (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x6x4x4xf32>, %c: tensor<6xf32>) {
  // expected-error @+1 {{momentum must be in [0, 1], got 2}}
  %b:5 = nn.batchnorm_train %x, %c, %c, %c, %c {momentum = 2.0} : (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x6x4x4xf32>, %c: tensor<6xf32>, %d: tensor<5xf32>) {
  // expected-error @+1 {{'nn.batchnorm_train' op expects running_var of shape [6], got [5]}}
  %b:5 = nn.batchnorm_train %x, %c, %c, %c, %d : (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<5xf32>) -> (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x7x10xf32>, %wih: tensor<80x10xf32>, %whh: tensor<80x20xf32>) {
  // expected-error @+1 {{'nn.lstm_train' op expects 4 weights (weight_ih, weight_hh, bias_ih, bias_hh per layer and direction), got 2}}
  %l:2 = nn.lstm_train %x, %wih, %whh {hidden_size = 20} : (tensor<?x7x10xf32>, tensor<80x10xf32>, tensor<80x20xf32>) -> (tensor<?x20xf32>, tensor<1x7x?x120xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x7x10xf32>, %wih: tensor<20x10xf32>, %whh: tensor<20x20xf32>) {
  // expected-error @+1 {{nonlinearity must be "tanh" or "relu", got "gelu"}}
  %r:2 = nn.rnn_train %x, %wih, %whh {hidden_size = 20, has_bias = false, nonlinearity = "gelu"} : (tensor<?x7x10xf32>, tensor<20x10xf32>, tensor<20x20xf32>) -> (tensor<?x20xf32>, tensor<1x7x?x20xf32>)
  return
}

// -----

//===----------------------------------------------------------------------===//
// Backward ops
//===----------------------------------------------------------------------===//

func.func @f(%dy: tensor<?x16x9x9xf32>, %x: tensor<?x6x14x14xf32>, %w: tensor<16x6x5x5xf32>) {
  // expected-error @+1 {{'nn.conv2d_backward' op layer "conv2": expects the result gradient of shape [N, 16, 10, 10] (the forward result's), got [N, 16, 9, 9]}}
  %c = nn.conv2d_backward %dy, %x, %w {name = "conv2", stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x16x9x9xf32>, tensor<?x6x14x14xf32>, tensor<16x6x5x5xf32>) -> tensor<16x6x5x5xf32>
  return
}

// -----

func.func @f(%dy: tensor<?x16x10x10xf32>, %x: tensor<?x6x14x14xf32>, %w: tensor<16x6x5x5xf32>) {
  // Without needs_input_grad there is no dx result.
  // expected-error @+1 {{result type}}
  %c:2 = nn.conv2d_backward %dy, %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x16x10x10xf32>, tensor<?x6x14x14xf32>, tensor<16x6x5x5xf32>) -> (tensor<?x6x14x14xf32>, tensor<16x6x5x5xf32>)
  return
}

// -----

func.func @f(%dy: tensor<?x16x10x10xf32>, %x: tensor<?x6x14x14xf32>, %w: tensor<16x5x5x5xf32>) {
  // expected-error @+1 {{'nn.conv2d_backward' op expects weight of shape [16, 6, 5, 5], got [16, 5, 5, 5]}}
  %c = nn.conv2d_backward %dy, %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x16x10x10xf32>, tensor<?x6x14x14xf32>, tensor<16x5x5x5xf32>) -> tensor<16x5x5x5xf32>
  return
}

// -----

func.func @f(%dy: tensor<?x11xf32>, %x: tensor<?x84xf32>, %w: tensor<10x84xf32>) {
  // expected-error @+1 {{'nn.linear_backward' op expects the result gradient of shape [N, 10] (the forward result's), got [N, 11]}}
  %l = nn.linear_backward %dy, %x, %w : (tensor<?x11xf32>, tensor<?x84xf32>, tensor<10x84xf32>) -> tensor<10x84xf32>
  return
}

// -----

func.func @f(%dy: tensor<?x12x8xf32>, %ids: tensor<?x13xi64>) {
  // expected-error @+1 {{'nn.embedding_backward' op expects the result gradient of shape [N, 13, 8] (the forward result's), got [N, 12, 8]}}
  %e = nn.embedding_backward %dy, %ids {num_embeddings = 100} : (tensor<?x12x8xf32>, tensor<?x13xi64>) -> tensor<100x8xf32>
  return
}

// -----

func.func @f(%dy: tensor<?x6x4x4xf32>, %x: tensor<?x6x4x4xf32>, %c: tensor<6xf32>, %d: tensor<4xf32>) {
  // expected-error @+1 {{'nn.batchnorm_backward' op expects batch_invstd of shape [6], got [4]}}
  %b:3 = nn.batchnorm_backward %dy, %x, %c, %c, %d : (tensor<?x6x4x4xf32>, tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<4xf32>) -> (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>)
  return
}

// -----

func.func @f(%dy: tensor<?x20xf32>, %x: tensor<?x7x10xf32>, %s: tensor<1x7x?x100xf32>, %wih: tensor<80x10xf32>, %whh: tensor<80x20xf32>, %bih: tensor<80xf32>, %bhh: tensor<80xf32>) {
  // expected-error @+1 {{'nn.lstm_backward' op expects a saved state of shape [1, 7, N, 120], got [1, 7, N, 100]}}
  %l:4 = nn.lstm_backward %dy, %x, %s, %wih, %whh, %bih, %bhh {hidden_size = 20} : (tensor<?x20xf32>, tensor<?x7x10xf32>, tensor<1x7x?x100xf32>, tensor<80x10xf32>, tensor<80x20xf32>, tensor<80xf32>, tensor<80xf32>) -> (tensor<80x10xf32>, tensor<80x20xf32>, tensor<80xf32>, tensor<80xf32>)
  return
}

// -----

func.func @f(%dy: tensor<?x7x20xf32>, %x: tensor<?x7x10xf32>, %s: tensor<1x7x?x20xf32>, %wih: tensor<20x10xf32>, %whh: tensor<20x20xf32>) {
  // expected-error @+1 {{'nn.rnn_backward' op expects the result gradient of shape [N, 20] (the forward result's), got [N, 7, 20]}}
  %r:2 = nn.rnn_backward %dy, %x, %s, %wih, %whh {hidden_size = 20, has_bias = false} : (tensor<?x7x20xf32>, tensor<?x7x10xf32>, tensor<1x7x?x20xf32>, tensor<20x10xf32>, tensor<20x20xf32>) -> (tensor<20x10xf32>, tensor<20x20xf32>)
  return
}

// -----

func.func @f(%dy: tensor<?x20xf32>, %x: tensor<?x7x10xf32>, %s: tensor<1x7x?x20xf32>, %wih: tensor<20x10xf32>, %whh: tensor<20x20xf32>) {
  // expected-error @+1 {{nonlinearity must be "tanh" or "relu", got "sine"}}
  %r:2 = nn.rnn_backward %dy, %x, %s, %wih, %whh {hidden_size = 20, has_bias = false, nonlinearity = "sine"} : (tensor<?x20xf32>, tensor<?x7x10xf32>, tensor<1x7x?x20xf32>, tensor<20x10xf32>, tensor<20x20xf32>) -> (tensor<20x10xf32>, tensor<20x20xf32>)
  return
}

// -----

func.func @f(%dy: tensor<?x10xf32>, %y: tensor<?x9xf32>) {
  // expected-error @+1 {{'nn.relu_backward' op failed to verify that all of {grad, value} have same type}}
  %0 = "nn.relu_backward"(%dy, %y) : (tensor<?x10xf32>, tensor<?x9xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @f(%dy: tensor<?x10xf32>, %y: tensor<?x10xf32>) {
  // expected-error @+1 {{dim 2 is out of range for a 2-d input}}
  %0 = nn.softmax_backward %dy, %y {dim = 2} : tensor<?x10xf32>
  return
}

// -----

func.func @f(%dy: tensor<?x10xf32>, %y: tensor<?x10xf32>) {
  // expected-error @+1 {{dim 3 is out of range for a 2-d input}}
  %0 = nn.log_softmax_backward %dy, %y {dim = 3} : tensor<?x10xf32>
  return
}

// -----

func.func @f(%dy: tensor<?x10xf32>, %m: tensor<?x11xi8>) {
  // expected-error @+1 {{'nn.dropout_backward' op expects a mask of the gradient's shape [N, 10], got [N, 11]}}
  %0 = nn.dropout_backward %dy, %m : tensor<?x10xf32>, tensor<?x11xi8>
  return
}

// -----

func.func @f(%dy: tensor<?x10xf32>, %m: tensor<?x10xi8>) {
  // expected-error @+1 {{probability p must be in [0, 1), got -5.000000e-01}}
  %0 = nn.dropout_backward %dy, %m {p = -0.5} : tensor<?x10xf32>, tensor<?x10xi8>
  return
}

// -----

func.func @f(%dy: tensor<?x6x13x13xf32>, %x: tensor<?x6x28x28xf32>) {
  // expected-error @+1 {{'nn.maxpool2d_backward' op expects the result gradient of shape [N, 6, 14, 14] (the forward result's), got [N, 6, 13, 13]}}
  %0 = nn.maxpool2d_backward %dy, %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : (tensor<?x6x13x13xf32>, tensor<?x6x28x28xf32>) -> tensor<?x6x28x28xf32>
  return
}

// -----

func.func @f(%dy: tensor<?x6x14x14xf32>) {
  // expected-error @+1 {{'nn.avgpool2d_backward' op expects the result gradient of shape [N, 6, 15, 15] (the forward result's), got [N, 6, 14, 14]}}
  %0 = nn.avgpool2d_backward %dy {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>, input_size = array<i64: 30, 30>} : tensor<?x6x14x14xf32> -> tensor<?x6x30x30xf32>
  return
}

// -----

func.func @f(%dy: tensor<?x6x14x14xf32>) {
  // expected-error @+1 {{'nn.global_avgpool_backward' op expects a 2-d gradient [N, C], got [N, 6, 14, 14]}}
  %0 = nn.global_avgpool_backward %dy {input_size = array<i64: 8, 8>} : tensor<?x6x14x14xf32> -> tensor<?x6x14x14x8x8xf32>
  return
}

// -----

func.func @f(%dy: tensor<?x8x4xf32>) {
  // expected-error @+1 {{'nn.concat_backward' op expects sizes summing to 8 (the gradient's dimension 1)}}
  %0:2 = nn.concat_backward %dy {dim = 1, sizes = array<i64: 3, 4>} : (tensor<?x8x4xf32>) -> (tensor<?x3x4xf32>, tensor<?x4x4xf32>)
  return
}

// -----

func.func @f(%dy: tensor<?x8x4xf32>) {
  // expected-error @+1 {{'nn.concat_backward' op expects at least 2 positive sizes}}
  %0 = nn.concat_backward %dy {dim = 1, sizes = array<i64: 8>} : (tensor<?x8x4xf32>) -> tensor<?x8x4xf32>
  return
}

// -----

func.func @f(%dy: tensor<?x8x4xf32>) {
  // expected-error @+1 {{'nn.concat_backward' op dim 3 is out of range for a 3-d gradient}}
  %0:2 = nn.concat_backward %dy {dim = 3, sizes = array<i64: 4, 4>} : (tensor<?x8x4xf32>) -> (tensor<?x8x4xf32>, tensor<?x8x4xf32>)
  return
}

// -----

func.func @f(%one: tensor<f32>, %logits: tensor<4x10xf32>, %labels: tensor<8xi64>) {
  // expected-error @+1 {{'nn.cross_entropy_backward' op expects as many labels as logits rows, got logits [4, 10] and labels [8]}}
  %0 = nn.cross_entropy_backward %one, %logits, %labels : (tensor<f32>, tensor<4x10xf32>, tensor<8xi64>) -> tensor<4x10xf32>
  return
}

// -----

func.func @f(%s: tensor<?x10xf32>, %labels: tensor<?xi64>) {
  // expected-error @+1 {{'nn.distill_loss' op temperature must be finite and positive, got 0.000000e+00}}
  %0 = nn.distill_loss %s, %s, %labels {alpha = 0.5 : f64, temperature = 0.0 : f64} : (tensor<?x10xf32>, tensor<?x10xf32>, tensor<?xi64>) -> tensor<f32>
  return
}

// -----

func.func @f(%one: tensor<f32>, %s: tensor<?x10xf32>, %labels: tensor<?xi64>) {
  // expected-error @+1 {{'nn.distill_loss_backward' op alpha must be in [0, 1], got -5.000000e-01}}
  %0 = nn.distill_loss_backward %one, %s, %s, %labels {alpha = -0.5 : f64, temperature = 2.0 : f64} : (tensor<f32>, tensor<?x10xf32>, tensor<?x10xf32>, tensor<?xi64>) -> tensor<?x10xf32>
  return
}

// -----

func.func @f(%s: tensor<?x10xf32>, %t: tensor<?x9xf32>, %labels: tensor<?xi64>) {
  // expected-error @+1 {{'nn.distill_loss' op expects teacher logits of shape [N, 10], got [N, 9]}}
  %0 = nn.distill_loss %s, %t, %labels {alpha = 0.5 : f64, temperature = 2.0 : f64} : (tensor<?x10xf32>, tensor<?x9xf32>, tensor<?xi64>) -> tensor<f32>
  return
}

// -----

func.func @f(%s: tensor<4x10xf32>, %labels: tensor<8xi64>) {
  // expected-error @+1 {{'nn.distill_loss' op expects as many labels as logits rows, got logits [4, 10] and labels [8]}}
  %0 = nn.distill_loss %s, %s, %labels {alpha = 0.5 : f64, temperature = 2.0 : f64} : (tensor<4x10xf32>, tensor<4x10xf32>, tensor<8xi64>) -> tensor<f32>
  return
}

// -----

func.func @f(%one: tensor<1xf32>, %logits: tensor<?x10xf32>, %labels: tensor<?xi64>) {
  // expected-error @+1 {{operand #0 must be 0D tensor of 32-bit float values}}
  %0 = nn.cross_entropy_backward %one, %logits, %labels : (tensor<1xf32>, tensor<?x10xf32>, tensor<?xi64>) -> tensor<?x10xf32>
  return
}

// -----

func.func @f(%one: tensor<f32>, %p: tensor<?x3xf32>, %t: tensor<?x4xf32>) {
  // expected-error @+1 {{'nn.mse_backward' op failed to verify that all of {pred, target} have same type}}
  %0 = nn.mse_backward %one, %p, %t : (tensor<f32>, tensor<?x3xf32>, tensor<?x4xf32>) -> tensor<?x3xf32>
  return
}

// -----

func.func @f(%logits: tensor<?x10x2xf32>, %labels: tensor<?xi64>) {
  // expected-error @+1 {{'nn.count_correct' op expects a 2-d labels tensor [N, T], got [N]}}
  %0 = nn.count_correct %logits, %labels : tensor<?x10x2xf32>, tensor<?xi64>
  return
}

// -----

func.func @f(%one: tensor<f32>, %logits: tensor<4x6x10xf32>, %labels: tensor<4x5xi64>) {
  // expected-error @+1 {{'nn.cross_entropy_backward' op expects as many labels as logits rows, got logits [4, 6, 10] and labels [4, 5]}}
  %0 = nn.cross_entropy_backward %one, %logits, %labels : (tensor<f32>, tensor<4x6x10xf32>, tensor<4x5xi64>) -> tensor<4x6x10xf32>
  return
}

// -----

func.func @f(%s: tensor<4x6x10xf32>, %t: tensor<4x6x10xf32>, %labels: tensor<4x6xi64>) {
  // expected-error @+1 {{'nn.distill_loss' op expects a 2-d logits tensor [N, C], got [4, 6, 10]}}
  %0 = nn.distill_loss %s, %t, %labels {alpha = 0.5 : f64, temperature = 2.0 : f64} : (tensor<4x6x10xf32>, tensor<4x6x10xf32>, tensor<4x6xi64>) -> tensor<f32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Optimizer updates
//===----------------------------------------------------------------------===//

func.func @f(%p: tensor<4xf32>, %g: tensor<4xf32>, %lr: tensor<f32>) {
  // expected-error @+1 {{weight_decay must be finite and non-negative, got -1}}
  %0 = nn.sgd_update %p, %g, %lr {weight_decay = -1.0} : tensor<4xf32>
  return
}

// -----

func.func @f(%p: tensor<4xf32>, %g: tensor<5xf32>, %lr: tensor<f32>) {
  // expected-error @+1 {{'nn.sgd_update' op failed to verify that all of {param, grad} have same type}}
  %0 = "nn.sgd_update"(%p, %g, %lr) : (tensor<4xf32>, tensor<5xf32>, tensor<f32>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%p: tensor<4xf32>, %g: tensor<4xf32>, %lr: tensor<f64>) {
  // expected-error @+1 {{operand #2 must be 0D tensor of 32-bit float values}}
  %0 = "nn.sgd_update"(%p, %g, %lr) : (tensor<4xf32>, tensor<4xf32>, tensor<f64>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%p: tensor<4xf32>, %g: tensor<4xf32>, %lr: tensor<f32>) {
  // expected-error @+1 {{momentum must be in (0, 1], got 0}}
  %0:2 = nn.momentum_update %p, %g, %g, %lr {momentum = 0.0} : tensor<4xf32>
  return
}

// -----

func.func @f(%p: tensor<4xf32>, %g: tensor<4xf32>, %lr: tensor<f32>, %step: tensor<i64>) {
  // expected-error @+1 {{beta2 must be in [0, 1), got 1}}
  %0:3 = nn.adam_update %p, %g, %g, %g, %lr, %step {beta2 = 1.0} : tensor<4xf32>
  return
}

// -----

func.func @f(%p: tensor<4xf32>, %g: tensor<4xf32>, %lr: tensor<f32>, %step: tensor<i64>) {
  // expected-error @+1 {{eps must be positive, got 0}}
  %0:3 = nn.adam_update %p, %g, %g, %g, %lr, %step {eps = 0.0} : tensor<4xf32>
  return
}

// -----

func.func @f(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<3xf32>, %lr: tensor<f32>, %step: tensor<i64>) {
  // expected-error @+1 {{'nn.adam_update' op failed to verify that all of {param, grad, exp_avg, exp_avg_sq} have same type}}
  %0:3 = "nn.adam_update"(%p, %g, %m, %g, %lr, %step) : (tensor<4xf32>, tensor<4xf32>, tensor<3xf32>, tensor<4xf32>, tensor<f32>, tensor<i64>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @f(%dy: tensor<2x6x4xf32>, %qkv: tensor<2x6x16xf32>) {
  // expected-error @+1 {{expects grad of the forward result's shape [2, 6, 8]}}
  %0 = nn.attention_core_backward %dy, %qkv {heads = 4, kv_heads = 2} : (tensor<2x6x4xf32>, tensor<2x6x16xf32>) -> tensor<2x6x16xf32>
  return
}

// -----

func.func @f(%a: tensor<4x6x2xf32>, %b: tensor<4x3x6xf32>) {
  // expected-error @+1 {{expects equal batch and contraction sizes, got [4, 6, 2] and [4, 3, 6]}}
  %0 = nn.batch_matmul %a, %b : (tensor<4x6x2xf32>, tensor<4x3x6xf32>) -> tensor<4x6x6xf32>
  return
}

// -----

func.func @f(%dy: tensor<4x6xf32>, %x: tensor<4x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'nn.layernorm_backward' op expects grad of shape [4, 8], got [4, 6]}}
  %0:3 = nn.layernorm_backward %dy, %x, %w : (tensor<4x6xf32>, tensor<4x8xf32>, tensor<8xf32>) -> (tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>)
  return
}

// -----

func.func @f(%dy: tensor<4x12x8xf32>) {
  // expected-error @+1 {{'nn.pos_embedding_backward' op has 10 positions, fewer than the input's sequence length 12 ([4, 12, 8])}}
  %0 = nn.pos_embedding_backward %dy {num_positions = 10 : i64} : (tensor<4x12x8xf32>) -> tensor<10x8xf32>
  return
}
