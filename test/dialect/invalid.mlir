// RUN: nn-opt %s -split-input-file -verify-diagnostics

// Each verifier rule of the nn ops, one case each.

//===----------------------------------------------------------------------===//
// nn.param / nn.param_ref
//===----------------------------------------------------------------------===//

// expected-error @+1 {{initializer 'uniform' needs a scale}}
nn.param @w : tensor<4xf32> init uniform

// -----

// expected-error @+1 {{initializer 'zeros' takes no scale}}
nn.param @w : tensor<4xf32> init zeros(1.0)

// -----

// expected-error @+1 {{initializer scale must be finite and non-negative, got -1}}
nn.param @w : tensor<4xf32> init normal(-1.0)

// -----

// expected-error @+1 {{unknown initializer 'xavier' (expected zeros, ones, uniform or normal)}}
nn.param @w : tensor<4xf32> init xavier

// -----

// expected-error @+1 {{attribute 'type' failed to satisfy constraint}}
nn.param @w : tensor<?x4xf32> init zeros

// -----

func.func @f() {
  // expected-error @+1 {{expects parent op 'builtin.module'}}
  "nn.param"() <{init = #nn.init<zeros>, sym_name = "w", type = tensor<4xf32>}> : () -> ()
  return
}

// -----

module @m {
  func.func @f() -> tensor<4xf32> {
    // expected-error @+1 {{refers to unknown parameter @missing}}
    %0 = nn.param_ref @missing : tensor<4xf32>
    return %0 : tensor<4xf32>
  }
}

// -----

module @m {
  nn.param @w : tensor<4xf32> init zeros
  func.func @f() -> tensor<5xf32> {
    // expected-error @+1 {{type 'tensor<5xf32>' does not match the type 'tensor<4xf32>' of parameter @w}}
    %0 = nn.param_ref @w : tensor<5xf32>
    return %0 : tensor<5xf32>
  }
}

// -----

module @m {
  func.func @g() {
    return
  }
  func.func @f() -> tensor<4xf32> {
    // expected-error @+1 {{refers to @g, which is not an nn.param}}
    %0 = nn.param_ref @g : tensor<4xf32>
    return %0 : tensor<4xf32>
  }
}

// -----

// A parameter of an outer model is not visible to a sibling model.
module {
  module @a {
    nn.param @w : tensor<4xf32> init zeros
  }
  module @b {
    func.func @f() -> tensor<4xf32> {
      // expected-error @+1 {{refers to unknown parameter @w}}
      %0 = nn.param_ref @w : tensor<4xf32>
      return %0 : tensor<4xf32>
    }
  }
}

//===----------------------------------------------------------------------===//
// nn.conv2d
//===----------------------------------------------------------------------===//

// -----

func.func @f(%x: tensor<?x784xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{'nn.conv2d' op layer "conv1": expects a 4-d input [N, C, H, W], got [N, 784]}}
  %0 = nn.conv2d %x, %w {name = "conv1", stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x784xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<?x1x28x28xf32>, %w: tensor<6x25xf32>) {
  // expected-error @+1 {{'nn.conv2d' op expects a 4-d weight [O, C/groups, KH, KW], got [6, 25]}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x1x28x28xf32>, tensor<6x25xf32>) -> tensor<?x6x24x24xf32>
  return
}

// -----

func.func @f(%x: tensor<?x1x4x4xf32>, %w: tensor<6x1x5x5xf32>) {
  // expected-error @+1 {{kernel 5x5 (dilated 5x5) is larger than the padded input 4x4}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x1x4x4xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %w: tensor<6x1x3x3xf32>) {
  // expected-error @+1 {{input channels 3 are not divisible by groups 2}}
  %0 = nn.conv2d %x, %w {groups = 2 : i64, stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<6x1x3x3xf32>) -> tensor<?x6x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %w: tensor<6x2x3x3xf32>) {
  // expected-error @+1 {{expects weight of shape [6, 3, 3, 3], got [6, 2, 3, 3]}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<6x2x3x3xf32>) -> tensor<?x6x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %w: tensor<6x3x3x3xf32>, %b: tensor<5xf32>) {
  // expected-error @+1 {{expects bias of shape [6], got [5]}}
  %0 = nn.conv2d %x, %w, %b {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<6x3x3x3xf32>, tensor<5xf32>) -> tensor<?x6x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %w: tensor<6x3x3x3xf32>) {
  // expected-error @+1 {{stride must be positive, got 0x1}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 0, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<6x3x3x3xf32>) -> tensor<?x6x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %w: tensor<6x3x3x3xf32>) {
  // expected-error @+1 {{attribute 'padding' failed to satisfy constraint: i64 dense array attribute with exactly 2 elements}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<6x3x3x3xf32>) -> tensor<?x6x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %w: tensor<6x3x3x3xf16>) {
  // expected-error @+1 {{expects all float operands to have element type f32, got tensor<6x3x3x3xf16>}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<6x3x3x3xf16>) -> tensor<?x6x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %w: tensor<6x3x3x3xf32>) {
  // expected-error @+1 {{result type 'tensor<?x6x8x8xf32>' does not match the inferred type 'tensor<?x6x6x6xf32>'}}
  %0 = nn.conv2d %x, %w {stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<6x3x3x3xf32>) -> tensor<?x6x8x8xf32>
  return
}

//===----------------------------------------------------------------------===//
// nn.linear, nn.embedding, nn.batchnorm
//===----------------------------------------------------------------------===//

// -----

func.func @f(%x: tensor<?x400xf32>, %w: tensor<120x300xf32>) {
  // expected-error @+1 {{'nn.linear' op layer "fc1": expects 300 input features, got 400 (input [N, 400])}}
  %0 = nn.linear %x, %w {name = "fc1"} : (tensor<?x400xf32>, tensor<120x300xf32>) -> tensor<?x120xf32>
  return
}

// -----

func.func @f(%x: tensor<?x400xf32>, %w: tensor<120x400x1xf32>) {
  // expected-error @+1 {{expects a 2-d weight [out, in], got [120, 400, 1]}}
  %0 = nn.linear %x, %w : (tensor<?x400xf32>, tensor<120x400x1xf32>) -> tensor<?x120xf32>
  return
}

// -----

func.func @f(%x: tensor<?xf32>, %w: tensor<120x400xf32>) {
  // expected-error @+1 {{expects an input of rank >= 2 [N, ..., in], got [N]}}
  %0 = nn.linear %x, %w : (tensor<?xf32>, tensor<120x400xf32>) -> tensor<?x120xf32>
  return
}

// -----

func.func @f(%x: tensor<?x400xf32>, %w: tensor<120x400xf32>, %b: tensor<400xf32>) {
  // expected-error @+1 {{expects bias of shape [120], got [400]}}
  %0 = nn.linear %x, %w, %b : (tensor<?x400xf32>, tensor<120x400xf32>, tensor<400xf32>) -> tensor<?x120xf32>
  return
}

// -----

func.func @f(%ids: tensor<?x12xi64>, %t: tensor<100xf32>) {
  // expected-error @+1 {{expects a 2-d table [num, dim], got [100]}}
  %0 = nn.embedding %ids, %t : (tensor<?x12xi64>, tensor<100xf32>) -> tensor<?x12x1xf32>
  return
}

// -----

func.func @f(%ids: tensor<?x12xf32>, %t: tensor<100x8xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of signless integer values}}
  %0 = nn.embedding %ids, %t : (tensor<?x12xf32>, tensor<100x8xf32>) -> tensor<?x12x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?xf32>, %g: tensor<1xf32>) {
  // expected-error @+1 {{expects an input of rank 2 to 4 [N, C, ...], got [N]}}
  %0 = nn.batchnorm %x, %g, %g, %g, %g : (tensor<?xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<?xf32>
  return
}

// -----

func.func @f(%x: tensor<?x6x4x4xf32>, %g: tensor<6xf32>, %v: tensor<4xf32>) {
  // expected-error @+1 {{expects running_var of shape [6], got [4]}}
  %0 = nn.batchnorm %x, %g, %g, %g, %v : (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<4xf32>) -> tensor<?x6x4x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x6xf32>, %g: tensor<6xf32>) {
  // expected-error @+1 {{eps must be positive, got 0}}
  %0 = nn.batchnorm %x, %g, %g, %g, %g {eps = 0.0} : (tensor<?x6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @f(%x: tensor<?x6xf32>, %g: tensor<6xf32>) {
  // expected-error @+1 {{momentum must be in [0, 1], got 1.5}}
  %0 = nn.batchnorm %x, %g, %g, %g, %g {momentum = 1.5} : (tensor<?x6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<?x6xf32>
  return
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

// -----

func.func @f(%x: tensor<?x10xf32>) {
  // expected-error @+1 {{probability p must be in [0, 1), got 1}}
  %0 = nn.dropout %x {p = 1.0} : tensor<?x10xf32>
  return
}

// -----

func.func @f(%x: tensor<?x10xf32>) {
  // expected-error @+1 {{dim 2 is out of range for a 2-d input}}
  %0 = nn.softmax %x {dim = 2} : tensor<?x10xf32>
  return
}

// -----

func.func @f(%x: tensor<?x10xf32>) {
  // expected-error @+1 {{attribute 'dim' failed to satisfy constraint: 64-bit signless integer attribute whose value is non-negative}}
  %0 = nn.log_softmax %x {dim = -1} : tensor<?x10xf32>
  return
}

// -----

func.func @f(%x: tensor<?x10xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values}}
  %0 = nn.relu %x : tensor<?x10xi32>
  return
}

// -----

func.func @f(%a: tensor<?x10xf32>, %b: tensor<?x11xf32>) {
  // expected-error @+1 {{failed to verify that all of {lhs, rhs} have same type}}
  %0 = "nn.add"(%a, %b) : (tensor<?x10xf32>, tensor<?x11xf32>) -> tensor<?x10xf32>
  return
}

//===----------------------------------------------------------------------===//
// Pooling and shape manipulation
//===----------------------------------------------------------------------===//

// -----

func.func @f(%x: tensor<?x6x8x8xf32>) {
  // expected-error @+1 {{'nn.maxpool2d' op padding 2x2 must be at most half the kernel 3x3}}
  %0 = nn.maxpool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 1, 1>, padding = array<i64: 2, 2>} : tensor<?x6x8x8xf32> -> tensor<?x6x10x10xf32>
  return
}

// -----

func.func @f(%x: tensor<?x6x2x2xf32>) {
  // expected-error @+1 {{'nn.avgpool2d' op kernel 3x3 is larger than the padded input 2x2}}
  %0 = nn.avgpool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 1, 1>, padding = array<i64: 0, 0>} : tensor<?x6x2x2xf32> -> tensor<?x6x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<?x6xf32>) {
  // expected-error @+1 {{'nn.global_avgpool' op expects a 4-d input [N, C, H, W], got [N, 6]}}
  %0 = nn.global_avgpool %x : tensor<?x6xf32> -> tensor<?x6xf32>
  return
}

// -----

func.func @f(%x: tensor<?xf32>) {
  // expected-error @+1 {{'nn.flatten' op expects an input of rank >= 2 [N, ...], got [N]}}
  %0 = nn.flatten %x : tensor<?xf32> -> tensor<?x1xf32>
  return
}

// -----

func.func @f(%x: tensor<?x400xf32>) {
  // expected-error @+1 {{'nn.reshape' op expects a fully resolved target shape (no -1)}}
  %0 = nn.reshape %x {shape = array<i64: -1, 25>} : tensor<?x400xf32> -> tensor<?x16x25xf32>
  return
}

// -----

func.func @f(%x: tensor<?x400xf32>) {
  // expected-error @+1 {{cannot reshape [N, 400] to [N, 20, 30]: 400 elements per sample vs 600}}
  %0 = nn.reshape %x {shape = array<i64: 20, 30>} : tensor<?x400xf32> -> tensor<?x20x30xf32>
  return
}

// -----

func.func @f(%a: tensor<?x3x4xf32>, %b: tensor<?x5x2xf32>) {
  // expected-error @+1 {{expects equal shapes except along dimension 1, got [N, 3, 4] and [N, 5, 2]}}
  %0 = nn.concat %a, %b {dim = 1} : (tensor<?x3x4xf32>, tensor<?x5x2xf32>) -> tensor<?x8x4xf32>
  return
}

// -----

func.func @f(%a: tensor<?x3xf32>) {
  // expected-error @+1 {{expects at least 2 inputs, got 1}}
  %0 = nn.concat %a {dim = 1} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  return
}

// -----

func.func @f(%a: tensor<?x3xf32>) {
  // expected-error @+1 {{dimension 2 is out of range for a 2-d tensor}}
  %0 = nn.concat %a, %a {dim = 2} : (tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
  return
}

//===----------------------------------------------------------------------===//
// Recurrent layers
//===----------------------------------------------------------------------===//

// -----

func.func @f(%x: tensor<?x7x10xf32>, %ih: tensor<20x10xf32>, %hh: tensor<20x20xf32>) {
  // expected-error @+1 {{nonlinearity must be "tanh" or "relu", got "gelu"}}
  %0 = nn.rnn %x, %ih, %hh {hidden_size = 20, has_bias = false, nonlinearity = "gelu"} : (tensor<?x7x10xf32>, tensor<20x10xf32>, tensor<20x20xf32>) -> tensor<?x20xf32>
  return
}

// -----

func.func @f(%x: tensor<?x7x10xf32>, %ih: tensor<80x10xf32>, %hh: tensor<80x20xf32>) {
  // expected-error @+1 {{'nn.lstm' op layer "lstm1": expects 4 weights (weight_ih, weight_hh, bias_ih, bias_hh per layer and direction), got 2}}
  %0 = nn.lstm %x, %ih, %hh {name = "lstm1", hidden_size = 20} : (tensor<?x7x10xf32>, tensor<80x10xf32>, tensor<80x20xf32>) -> tensor<?x20xf32>
  return
}

// -----

func.func @f(%x: tensor<?x7x10xf32>, %ih: tensor<60x10xf32>, %hh: tensor<80x20xf32>) {
  // expected-error @+1 {{expects weight_hh_l0 of shape [60, 20], got [80, 20]}}
  %0 = nn.gru %x, %ih, %hh {hidden_size = 20, has_bias = false} : (tensor<?x7x10xf32>, tensor<60x10xf32>, tensor<80x20xf32>) -> tensor<?x20xf32>
  return
}

// -----

func.func @f(%x: tensor<?x10xf32>, %ih: tensor<60x10xf32>, %hh: tensor<60x20xf32>) {
  // expected-error @+1 {{expects a 3-d input [N, T, F], got [N, 10]}}
  %0 = nn.gru %x, %ih, %hh {hidden_size = 20, has_bias = false} : (tensor<?x10xf32>, tensor<60x10xf32>, tensor<60x20xf32>) -> tensor<?x20xf32>
  return
}

// -----

func.func @f(%x: tensor<?x7x10xf32>, %ih: tensor<60x10xf32>, %hh: tensor<60x20xf32>) {
  // expected-error @+1 {{attribute 'hidden_size' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %0 = nn.gru %x, %ih, %hh {hidden_size = 0, has_bias = false} : (tensor<?x7x10xf32>, tensor<60x10xf32>, tensor<60x20xf32>) -> tensor<?x20xf32>
  return
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

// -----

func.func @f(%logits: tensor<8x10xf32>, %labels: tensor<4xi64>) {
  // expected-error @+1 {{expects as many labels as logits rows, got logits [8, 10] and labels [4]}}
  %0 = nn.cross_entropy %logits, %labels : tensor<8x10xf32>, tensor<4xi64>
  return
}

// -----

func.func @f(%logits: tensor<8x6x10xf32>, %labels: tensor<8xi64>) {
  // expected-error @+1 {{expects a 2-d labels tensor [N, T], got [8]}}
  %0 = nn.cross_entropy %logits, %labels : tensor<8x6x10xf32>, tensor<8xi64>
  return
}

// -----

func.func @f(%logits: tensor<8x2x6x10xf32>, %labels: tensor<8x2x6xi64>) {
  // expected-error @+1 {{expects a 3-d logits tensor [N, T, C], got [8, 2, 6, 10]}}
  %0 = nn.cross_entropy %logits, %labels : tensor<8x2x6x10xf32>, tensor<8x2x6xi64>
  return
}

// -----

func.func @f(%logits: tensor<?x10xf32>, %labels: tensor<?xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of signless integer values}}
  %0 = "nn.cross_entropy"(%logits, %labels) : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<f32>
  return
}

// -----

func.func @f(%a: tensor<?x3xf32>, %b: tensor<?x4xf32>) {
  // expected-error @+1 {{failed to verify that all of {pred, target} have same type}}
  %0 = "nn.mse"(%a, %b) : (tensor<?x3xf32>, tensor<?x4xf32>) -> tensor<f32>
  return
}

//===----------------------------------------------------------------------===//
// nn.attention, nn.attention_core
//===----------------------------------------------------------------------===//

// -----

func.func @f(%x: tensor<?x6x8xf32>, %w: tensor<24x8xf32>, %wo: tensor<8x8xf32>) {
  // expected-error @+1 {{'nn.attention' op layer "attn1": model dimension 8 must be a multiple of heads (3)}}
  %0 = nn.attention %x, %w, %wo {heads = 3, kv_heads = 3, has_bias = false, name = "attn1"} : (tensor<?x6x8xf32>, tensor<24x8xf32>, tensor<8x8xf32>) -> tensor<?x6x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %w: tensor<6xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{'nn.layernorm' op expects weight of shape [8], got [6]}}
  %0 = nn.layernorm %x, %w, %b : (tensor<4x8xf32>, tensor<6xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x6x8xf32>, %w: tensor<24x8xf32>, %wo: tensor<8x8xf32>) {
  // expected-error @+1 {{heads (4) must be a multiple of kv_heads (3)}}
  %0 = nn.attention %x, %w, %wo {heads = 4, kv_heads = 3, has_bias = false} : (tensor<?x6x8xf32>, tensor<24x8xf32>, tensor<8x8xf32>) -> tensor<?x6x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'nn.layernorm' op expects no affine operands or two (weight, bias), got 1}}
  %0 = nn.layernorm %x, %w : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x6x8xf32>, %w: tensor<24x8xf32>, %wo: tensor<8x8xf32>) {
  // expected-error @+1 {{expects 4 weights (qkv.weight, qkv.bias, out.weight, out.bias), got 2}}
  %0 = nn.attention %x, %w, %wo {heads = 2, kv_heads = 2} : (tensor<?x6x8xf32>, tensor<24x8xf32>, tensor<8x8xf32>) -> tensor<?x6x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'nn.layernorm' op expects an input of rank >= 2 [N, ..., features], got [4]}}
  %0 = nn.layernorm %x : (tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x6x8xf32>, %w: tensor<24x8xf32>, %wo: tensor<8x8xf32>) {
  // expected-error @+1 {{expects qkv.weight of shape [16, 8], got [24, 8]}}
  %0 = nn.attention %x, %w, %wo {heads = 2, kv_heads = 1, has_bias = false} : (tensor<?x6x8xf32>, tensor<24x8xf32>, tensor<8x8xf32>) -> tensor<?x6x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %w: tensor<24x8xf32>, %wo: tensor<8x8xf32>) {
  // expected-error @+1 {{expects an input of rank 3 [N, T, d] (a sequence [T, d] per sample), got [N, 8]}}
  %0 = nn.attention %x, %w, %wo {heads = 2, kv_heads = 2, has_bias = false} : (tensor<?x8xf32>, tensor<24x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%q: tensor<?x6x14xf32>) {
  // expected-error @+1 {{expects qkv's last dimension to be a multiple of heads + 2 kv_heads (8), got [N, 6, 14]}}
  %0 = nn.attention_core %q {heads = 4, kv_heads = 2} : (tensor<?x6x14xf32>) -> tensor<?x6x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'nn.layernorm' op eps must be positive, got 0}}
  %0 = nn.layernorm %x {eps = 0.0 : f64} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x12x8xf32>, %t: tensor<10x8xf32>) {
  // expected-error @+1 {{'nn.pos_embedding' op has 10 positions, fewer than the input's sequence length 12 ([4, 12, 8])}}
  %0 = nn.pos_embedding %x, %t : (tensor<4x12x8xf32>, tensor<10x8xf32>) -> tensor<4x12x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x6x8xf32>, %t: tensor<10x6xf32>) {
  // expected-error @+1 {{'nn.pos_embedding' op has a table of 6 features per position, but its input has 8 ([4, 6, 8])}}
  %0 = nn.pos_embedding %x, %t : (tensor<4x6x8xf32>, tensor<10x6xf32>) -> tensor<4x6x8xf32>
  return
}

// -----

func.func @f(%x: tensor<4x6x8xf32>, %t: tensor<80xf32>) {
  // expected-error @+1 {{'nn.pos_embedding' op expects a 2-d table [positions, dim], got [80]}}
  %0 = nn.pos_embedding %x, %t : (tensor<4x6x8xf32>, tensor<80xf32>) -> tensor<4x6x8xf32>
  return
}
