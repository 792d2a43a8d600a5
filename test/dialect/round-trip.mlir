// RUN: nn-opt %s | nn-opt | FileCheck %s
// RUN: nn-opt %s -mlir-print-op-generic | nn-opt | FileCheck %s

// Every nn op and the parameter syntax survive print -> parse -> print, in
// both the custom and the generic form.

// CHECK-LABEL: module @params
module @params attributes {nn.model} {
  // CHECK: nn.param @conv1.weight : tensor<6x1x5x5xf32> init uniform(2.000000e-01)
  nn.param @"conv1.weight" : tensor<6x1x5x5xf32> init uniform(0.2)
  // CHECK: nn.param @embed1.weight : tensor<100x8xf32> init normal(1.000000e+00)
  nn.param @"embed1.weight" : tensor<100x8xf32> init normal(1.0)
  // CHECK: nn.param @bn1.weight : tensor<6xf32> init ones
  nn.param @"bn1.weight" : tensor<6xf32> init ones
  // CHECK: nn.param buffer @bn1.running_mean : tensor<6xf32> init zeros
  nn.param buffer @"bn1.running_mean" : tensor<6xf32> init zeros
  // CHECK: nn.param buffer @bn1.num_batches_tracked : tensor<i64> init zeros
  nn.param buffer @"bn1.num_batches_tracked" : tensor<i64> init zeros

  // CHECK-LABEL: func.func @refs
  func.func @refs() -> tensor<6x1x5x5xf32> {
    // CHECK: nn.param_ref @conv1.weight : tensor<6x1x5x5xf32>
    %w = nn.param_ref @"conv1.weight" : tensor<6x1x5x5xf32>
    return %w : tensor<6x1x5x5xf32>
  }
}

// CHECK-LABEL: func.func @conv_pool
func.func @conv_pool(%x: tensor<?x1x28x28xf32>, %w: tensor<6x1x5x5xf32>,
                     %b: tensor<6xf32>, %wg: tensor<6x3x3x3xf32>)
    -> (tensor<?x6x14x14xf32>, tensor<?x6x10x10xf32>, tensor<?x6xf32>) {
  // CHECK: %[[C:.*]] = nn.conv2d %{{.*}}, %{{.*}}, %{{.*}} {dilation = array<i64: 1, 1>, name = "conv1", padding = array<i64: 2, 2>, stride = array<i64: 1, 1>} : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>) -> tensor<?x6x28x28xf32>
  %0 = nn.conv2d %x, %w, %b {name = "conv1", stride = array<i64: 1, 1>, padding = array<i64: 2, 2>, dilation = array<i64: 1, 1>} : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>) -> tensor<?x6x28x28xf32>
  // CHECK: nn.maxpool2d %[[C]] {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0>, stride = array<i64: 2, 2>} : tensor<?x6x28x28xf32> -> tensor<?x6x14x14xf32>
  %1 = nn.maxpool2d %0 {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<?x6x28x28xf32> -> tensor<?x6x14x14xf32>
  // CHECK: nn.avgpool2d %{{.*}} {kernel = array<i64: 3, 3>, name = "pool2", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>} : tensor<?x6x14x14xf32> -> tensor<?x6x14x14xf32>
  %2 = nn.avgpool2d %1 {kernel = array<i64: 3, 3>, stride = array<i64: 1, 1>, padding = array<i64: 1, 1>, name = "pool2"} : tensor<?x6x14x14xf32> -> tensor<?x6x14x14xf32>
  // Grouped and dilated, without bias: C/groups = 3 input channels per group;
  // (14 + 2*1 - 2*(3-1) - 1) / 1 + 1 = 12.
  // CHECK: nn.conv2d %{{.*}}, %{{.*}} {dilation = array<i64: 2, 2>, groups = 2 : i64, padding = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x6x14x14xf32>, tensor<6x3x3x3xf32>) -> tensor<?x6x12x12xf32>
  %3 = nn.conv2d %2, %wg {groups = 2 : i64, stride = array<i64: 1, 1>, padding = array<i64: 1, 1>, dilation = array<i64: 2, 2>} : (tensor<?x6x14x14xf32>, tensor<6x3x3x3xf32>) -> tensor<?x6x12x12xf32>
  // CHECK: nn.conv2d {{.*}} -> tensor<?x6x10x10xf32>
  %4 = nn.conv2d %3, %wg {groups = 2 : i64, stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x6x12x12xf32>, tensor<6x3x3x3xf32>) -> tensor<?x6x10x10xf32>
  // CHECK: nn.global_avgpool %{{.*}} : tensor<?x6x10x10xf32> -> tensor<?x6xf32>
  %5 = nn.global_avgpool %4 : tensor<?x6x10x10xf32> -> tensor<?x6xf32>
  return %2, %4, %5 : tensor<?x6x14x14xf32>, tensor<?x6x10x10xf32>, tensor<?x6xf32>
}

// CHECK-LABEL: func.func @dense
func.func @dense(%x: tensor<?x5x16xf32>, %w: tensor<8x16xf32>, %b: tensor<8xf32>,
                 %ids: tensor<?x12xi64>, %table: tensor<100x8xf32>,
                 %g: tensor<5xf32>)
    -> (tensor<?x5x8xf32>, tensor<?x5x8xf32>, tensor<?x12x8xf32>, tensor<?x5x8xf32>) {
  // CHECK: nn.linear %{{.*}}, %{{.*}}, %{{.*}} {name = "fc1"} : (tensor<?x5x16xf32>, tensor<8x16xf32>, tensor<8xf32>) -> tensor<?x5x8xf32>
  %0 = nn.linear %x, %w, %b {name = "fc1"} : (tensor<?x5x16xf32>, tensor<8x16xf32>, tensor<8xf32>) -> tensor<?x5x8xf32>
  // CHECK: nn.linear %{{.*}}, %{{.*}} : (tensor<?x5x16xf32>, tensor<8x16xf32>) -> tensor<?x5x8xf32>
  %1 = nn.linear %x, %w : (tensor<?x5x16xf32>, tensor<8x16xf32>) -> tensor<?x5x8xf32>
  // CHECK: nn.embedding %{{.*}}, %{{.*}} {name = "embed1"} : (tensor<?x12xi64>, tensor<100x8xf32>) -> tensor<?x12x8xf32>
  %2 = nn.embedding %ids, %table {name = "embed1"} : (tensor<?x12xi64>, tensor<100x8xf32>) -> tensor<?x12x8xf32>
  // CHECK: nn.batchnorm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {eps = 1.000000e-03 : f64, name = "bn1"} : (tensor<?x5x8xf32>, tensor<5xf32>, tensor<5xf32>, tensor<5xf32>, tensor<5xf32>) -> tensor<?x5x8xf32>
  %3 = nn.batchnorm %0, %g, %g, %g, %g {eps = 1.0e-3, momentum = 0.1, name = "bn1"} : (tensor<?x5x8xf32>, tensor<5xf32>, tensor<5xf32>, tensor<5xf32>, tensor<5xf32>) -> tensor<?x5x8xf32>
  return %0, %1, %2, %3 : tensor<?x5x8xf32>, tensor<?x5x8xf32>, tensor<?x12x8xf32>, tensor<?x5x8xf32>
}

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%x: tensor<?x10xf32>) -> tensor<?x10xf32> {
  // CHECK: %[[R:.*]] = nn.relu %{{.*}} {name = "relu1"} : tensor<?x10xf32>
  %0 = nn.relu %x {name = "relu1"} : tensor<?x10xf32>
  // CHECK: nn.sigmoid %[[R]] : tensor<?x10xf32>
  %1 = nn.sigmoid %0 : tensor<?x10xf32>
  // CHECK: nn.tanh %{{.*}} : tensor<?x10xf32>
  %2 = nn.tanh %1 : tensor<?x10xf32>
  // CHECK: nn.gelu %{{.*}} : tensor<?x10xf32>
  %3 = nn.gelu %2 : tensor<?x10xf32>
  // CHECK: nn.leaky_relu %{{.*}} {slope = 2.000000e-01 : f64} : tensor<?x10xf32>
  %4 = nn.leaky_relu %3 {slope = 0.2} : tensor<?x10xf32>
  // CHECK: nn.leaky_relu %{{.*}} : tensor<?x10xf32>
  %5 = nn.leaky_relu %4 : tensor<?x10xf32>
  // CHECK: nn.dropout %{{.*}} {p = 2.500000e-01 : f64} : tensor<?x10xf32>
  %6 = nn.dropout %5 {p = 0.25} : tensor<?x10xf32>
  // CHECK: nn.softmax %{{.*}} {dim = 1 : i64} : tensor<?x10xf32>
  %7 = nn.softmax %6 {dim = 1} : tensor<?x10xf32>
  // CHECK: nn.log_softmax %{{.*}} {dim = 1 : i64} : tensor<?x10xf32>
  %8 = nn.log_softmax %7 {dim = 1} : tensor<?x10xf32>
  // CHECK: nn.add %{{.*}}, %[[R]] : tensor<?x10xf32>
  %9 = nn.add %8, %0 : tensor<?x10xf32>
  return %9 : tensor<?x10xf32>
}

// CHECK-LABEL: func.func @shapes
func.func @shapes(%x: tensor<?x16x5x5xf32>, %y: tensor<?x3x25xf32>)
    -> (tensor<?x400xf32>, tensor<?x16x25xf32>, tensor<?x19x25xf32>) {
  // CHECK: nn.flatten %{{.*}} : tensor<?x16x5x5xf32> -> tensor<?x400xf32>
  %0 = nn.flatten %x : tensor<?x16x5x5xf32> -> tensor<?x400xf32>
  // CHECK: nn.reshape %{{.*}} {shape = array<i64: 16, 25>} : tensor<?x400xf32> -> tensor<?x16x25xf32>
  %1 = nn.reshape %0 {shape = array<i64: 16, 25>} : tensor<?x400xf32> -> tensor<?x16x25xf32>
  // CHECK: nn.concat %{{.*}}, %{{.*}} {dim = 1 : i64} : (tensor<?x16x25xf32>, tensor<?x3x25xf32>) -> tensor<?x19x25xf32>
  %2 = nn.concat %1, %y {dim = 1} : (tensor<?x16x25xf32>, tensor<?x3x25xf32>) -> tensor<?x19x25xf32>
  return %0, %1, %2 : tensor<?x400xf32>, tensor<?x16x25xf32>, tensor<?x19x25xf32>
}

// CHECK-LABEL: func.func @recurrent
func.func @recurrent(%x: tensor<?x7x10xf32>,
    %r_ih: tensor<20x10xf32>, %r_hh: tensor<20x20xf32>,
    %l_ih0: tensor<80x10xf32>, %l_hh: tensor<80x20xf32>, %l_b: tensor<80xf32>,
    %l_ih1: tensor<80x40xf32>,
    %g_ih: tensor<60x10xf32>, %g_hh: tensor<60x20xf32>, %g_b: tensor<60xf32>)
    -> (tensor<?x20xf32>, tensor<?x7x40xf32>, tensor<?x20xf32>) {
  // CHECK: nn.rnn %{{.*}}, %{{.*}}, %{{.*}} {has_bias = false, hidden_size = 20 : i64, nonlinearity = "relu"} : (tensor<?x7x10xf32>, tensor<20x10xf32>, tensor<20x20xf32>) -> tensor<?x20xf32>
  %0 = nn.rnn %x, %r_ih, %r_hh {hidden_size = 20, has_bias = false, nonlinearity = "relu"} : (tensor<?x7x10xf32>, tensor<20x10xf32>, tensor<20x20xf32>) -> tensor<?x20xf32>
  // Two bidirectional layers: 16 weights in PyTorch's order.
  // CHECK: nn.lstm {{.*}} {bidirectional = true, hidden_size = 20 : i64, name = "lstm1", num_layers = 2 : i64, return_sequences = true} : ({{.*}}) -> tensor<?x7x40xf32>
  %1 = nn.lstm %x,
      %l_ih0, %l_hh, %l_b, %l_b, %l_ih0, %l_hh, %l_b, %l_b,
      %l_ih1, %l_hh, %l_b, %l_b, %l_ih1, %l_hh, %l_b, %l_b
      {name = "lstm1", hidden_size = 20, num_layers = 2, bidirectional = true, return_sequences = true}
      : (tensor<?x7x10xf32>,
         tensor<80x10xf32>, tensor<80x20xf32>, tensor<80xf32>, tensor<80xf32>,
         tensor<80x10xf32>, tensor<80x20xf32>, tensor<80xf32>, tensor<80xf32>,
         tensor<80x40xf32>, tensor<80x20xf32>, tensor<80xf32>, tensor<80xf32>,
         tensor<80x40xf32>, tensor<80x20xf32>, tensor<80xf32>, tensor<80xf32>)
      -> tensor<?x7x40xf32>
  // CHECK: nn.gru %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {hidden_size = 20 : i64} : (tensor<?x7x10xf32>, tensor<60x10xf32>, tensor<60x20xf32>, tensor<60xf32>, tensor<60xf32>) -> tensor<?x20xf32>
  %2 = nn.gru %x, %g_ih, %g_hh, %g_b, %g_b {hidden_size = 20} : (tensor<?x7x10xf32>, tensor<60x10xf32>, tensor<60x20xf32>, tensor<60xf32>, tensor<60xf32>) -> tensor<?x20xf32>
  return %0, %1, %2 : tensor<?x20xf32>, tensor<?x7x40xf32>, tensor<?x20xf32>
}

// CHECK-LABEL: func.func @losses
func.func @losses(%logits: tensor<?x10xf32>, %labels: tensor<?xi64>,
                  %pred: tensor<?x3xf32>, %target: tensor<?x3xf32>)
    -> (tensor<f32>, tensor<f32>) {
  // CHECK: nn.cross_entropy %{{.*}}, %{{.*}} {name = "loss"} : tensor<?x10xf32>, tensor<?xi64>
  %0 = nn.cross_entropy %logits, %labels {name = "loss"} : tensor<?x10xf32>, tensor<?xi64>
  // CHECK: nn.mse %{{.*}}, %{{.*}} : tensor<?x3xf32>
  %1 = nn.mse %pred, %target : tensor<?x3xf32>
  return %0, %1 : tensor<f32>, tensor<f32>
}

// CHECK-LABEL: func.func @attention
func.func @attention(%x: tensor<?x6x8xf32>, %wqkv: tensor<16x8xf32>, %bqkv: tensor<16xf32>,
                     %wo: tensor<8x8xf32>, %bo: tensor<8xf32>)
    -> (tensor<?x6x8xf32>, tensor<?x6x8xf32>) {
  // CHECK: nn.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {causal = true, heads = 4 : i64, kv_heads = 2 : i64, name = "attn1"} : (tensor<?x6x8xf32>, tensor<16x8xf32>, tensor<16xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<?x6x8xf32>
  %0 = nn.attention %x, %wqkv, %bqkv, %wo, %bo {heads = 4, kv_heads = 2, causal = true, name = "attn1"} : (tensor<?x6x8xf32>, tensor<16x8xf32>, tensor<16xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<?x6x8xf32>
  // CHECK: nn.attention_core %{{.*}} {heads = 4 : i64, kv_heads = 2 : i64} : (tensor<?x6x16xf32>) -> tensor<?x6x8xf32>
  %q = nn.linear %x, %wqkv : (tensor<?x6x8xf32>, tensor<16x8xf32>) -> tensor<?x6x16xf32>
  %1 = nn.attention_core %q {heads = 4, kv_heads = 2} : (tensor<?x6x16xf32>) -> tensor<?x6x8xf32>
  return %0, %1 : tensor<?x6x8xf32>, tensor<?x6x8xf32>
}

// CHECK-LABEL: func.func @sequence_loss
func.func @sequence_loss(%logits: tensor<?x6x10xf32>, %labels: tensor<?x6xi64>) -> tensor<f32> {
  // CHECK: nn.cross_entropy %{{.*}}, %{{.*}} {name = "loss"} : tensor<?x6x10xf32>, tensor<?x6xi64>
  %0 = nn.cross_entropy %logits, %labels {name = "loss"} : tensor<?x6x10xf32>, tensor<?x6xi64>
  return %0 : tensor<f32>
}

// CHECK-LABEL: func.func @layernorm
func.func @layernorm(%x: tensor<?x6x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>)
    -> (tensor<?x6x8xf32>, tensor<?x6x8xf32>) {
  // CHECK: nn.layernorm %{{.*}}, %{{.*}}, %{{.*}} {name = "ln1"} : (tensor<?x6x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x6x8xf32>
  %0 = nn.layernorm %x, %w, %b {name = "ln1"} : (tensor<?x6x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x6x8xf32>
  // CHECK: nn.layernorm %{{.*}} {eps = 1.000000e-03 : f64} : (tensor<?x6x8xf32>) -> tensor<?x6x8xf32>
  %1 = nn.layernorm %x {eps = 1.0e-3 : f64} : (tensor<?x6x8xf32>) -> tensor<?x6x8xf32>
  return %0, %1 : tensor<?x6x8xf32>, tensor<?x6x8xf32>
}

// CHECK-LABEL: func.func @pos_embedding
func.func @pos_embedding(%x: tensor<?x6x8xf32>, %table: tensor<10x8xf32>) -> tensor<?x6x8xf32> {
  // CHECK: nn.pos_embedding %{{.*}}, %{{.*}} {name = "wpe"} : (tensor<?x6x8xf32>, tensor<10x8xf32>) -> tensor<?x6x8xf32>
  %0 = nn.pos_embedding %x, %table {name = "wpe"} : (tensor<?x6x8xf32>, tensor<10x8xf32>) -> tensor<?x6x8xf32>
  return %0 : tensor<?x6x8xf32>
}
