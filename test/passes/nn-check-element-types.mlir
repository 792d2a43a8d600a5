// RUN: nn-opt %s -split-input-file -verify-diagnostics -nn-check-element-types
// RUN: nn-opt %s -split-input-file -verify-diagnostics -nn-autodiff
// RUN: nn-opt %s -split-input-file -verify-diagnostics -nn-infer-shapes=batch=4 -nn-lower-to-linalg -nn-lower-to-buffers

// A model computes in one float type: f32, or f16/bf16 (-nn-autocast). A
// second reduced type, or another float type, is refused at its location by
// the check and by the passes that generate code (-nn-autodiff,
// -nn-lower-to-linalg -nn-lower-to-buffers), never lowered.

module @f16_input_bf16_param attributes {nn.model} {
  // expected-error @+1 {{parameter 'fc1.weight' has type bf16, but input 'x' has type f16; a model computes in one floating-point type}}
  nn.param @fc1.weight : tensor<10x16xbf16> init uniform(2.500000e-01)
  func.func @forward(%arg0: tensor<?x16xf16> {nn.name = "x"}) -> (tensor<?x16xf16> {nn.name = "logits"}) {
    return %arg0 : tensor<?x16xf16>
  }
  func.func @loss(%arg0: tensor<?x16xf16> {nn.name = "logits"}, %arg1: tensor<?xi64> {nn.name = "labels"}) -> tensor<f32> {
    %0 = nn.cross_entropy %arg0, %arg1 {name = "loss"} : tensor<?x16xf16>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}

// -----

// f64 is not a model type.
module @f64_param attributes {nn.model} {
  // expected-error @+1 {{parameter 'fc1.weight' has type f64; nnc generates code for f32, f16 and bf16 models only}}
  nn.param @fc1.weight : tensor<10x16xf64> init uniform(2.500000e-01)
  func.func @forward(%arg0: tensor<?x16xf32> {nn.name = "x"}) -> (tensor<?x16xf32> {nn.name = "logits"}) {
    return %arg0 : tensor<?x16xf32>
  }
  func.func @loss(%arg0: tensor<?x16xf32> {nn.name = "logits"}, %arg1: tensor<?xi64> {nn.name = "labels"}) -> tensor<f32> {
    %0 = nn.cross_entropy %arg0, %arg1 {name = "loss"} : tensor<?x16xf32>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}

// -----

// With f16 inputs, the first op producing bf16 is refused.
module @f16_then_bf16_op attributes {nn.model} {
  func.func @forward(%arg0: tensor<4x16xf16> {nn.name = "x"}) -> (tensor<4x16xbf16> {nn.name = "y"}) {
    // expected-error @+1 {{'arith.constant' has type bf16, but input 'x' has type f16}}
    %0 = arith.constant dense<1.0> : tensor<4x16xbf16>
    %1 = nn.relu %0 {name = "relu1"} : tensor<4x16xbf16>
    return %1 : tensor<4x16xbf16>
  }
  func.func @loss(%arg0: tensor<4x16xf16> {nn.name = "y"}, %arg1: tensor<4xi64> {nn.name = "labels"}) -> tensor<f32> {
    %0 = nn.cross_entropy %arg0, %arg1 {name = "loss"} : tensor<4x16xf16>, tensor<4xi64>
    return %0 : tensor<f32>
  }
}

// -----

// Integer inputs (token ids) are accepted.
module @tokens attributes {nn.model} {
  nn.param @embed1.weight : tensor<20x8xf32> init normal(1.000000e+00)
  func.func @forward(%arg0: tensor<?x6xi64> {nn.name = "tokens"}) -> (tensor<?x48xf32> {nn.name = "logits"}) {
    %0 = nn.param_ref @embed1.weight : tensor<20x8xf32>
    %1 = nn.embedding %arg0, %0 {name = "embed1"} : (tensor<?x6xi64>, tensor<20x8xf32>) -> tensor<?x6x8xf32>
    %2 = nn.flatten %1 {name = "flatten1"} : tensor<?x6x8xf32> -> tensor<?x48xf32>
    return %2 : tensor<?x48xf32>
  }
  func.func @loss(%arg0: tensor<?x48xf32> {nn.name = "logits"}, %arg1: tensor<?xi64> {nn.name = "labels"}) -> tensor<f32> {
    %0 = nn.cross_entropy %arg0, %arg1 {name = "loss"} : tensor<?x48xf32>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}
