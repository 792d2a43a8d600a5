// RUN: nn-opt %s -split-input-file -verify-diagnostics -nn-check-element-types
// RUN: nn-opt %s -split-input-file -verify-diagnostics -nn-autodiff
// RUN: nn-opt %s -split-input-file -verify-diagnostics -nn-infer-shapes=batch=4 -nn-lower-to-linalg -nn-lower-to-buffers

// Code generation supports f32 models only: an f16 or bf16 input, parameter
// or op result is refused at its location by the check and by the passes
// that generate code (-nn-autodiff, -nn-lower-to-linalg -nn-lower-to-buffers), never lowered.

module @f16_input attributes {nn.model} {
  nn.param @fc1.weight : tensor<10x16xf16> init uniform(2.500000e-01)
  // expected-error @+1 {{input 'x' has type f16; nnc generates code for f32 models only (reduced precision is not implemented yet)}}
  func.func @forward(%arg0: tensor<?x16xf16> {nn.name = "x"}) -> (tensor<?x10xf16> {nn.name = "logits"}) {
    %0 = nn.param_ref @fc1.weight : tensor<10x16xf16>
    %1 = nn.linear %arg0, %0 {name = "fc1"} : (tensor<?x16xf16>, tensor<10x16xf16>) -> tensor<?x10xf16>
    return %1 : tensor<?x10xf16>
  }
  func.func @loss(%arg0: tensor<?x10xf16> {nn.name = "logits"}, %arg1: tensor<?xi64> {nn.name = "labels"}) -> tensor<f32> {
    %0 = nn.cross_entropy %arg0, %arg1 {name = "loss"} : tensor<?x10xf16>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}

// -----

// The inputs are f32 (and i64 labels); a bf16 parameter is refused at its
// declaration.
module @bf16_param attributes {nn.model} {
  // expected-error @+1 {{parameter 'fc1.weight' has type bf16; nnc generates code for f32 models only}}
  nn.param @fc1.weight : tensor<10x16xbf16> init uniform(2.500000e-01)
  func.func @forward(%arg0: tensor<?x16xf32> {nn.name = "x"}) -> (tensor<?x16xf32> {nn.name = "logits"}) {
    return %arg0 : tensor<?x16xf32>
  }
  func.func @loss(%arg0: tensor<?x16xf32> {nn.name = "logits"}, %arg1: tensor<?xi64> {nn.name = "labels"}) -> tensor<f32> {
    %0 = nn.cross_entropy %arg0, %arg1 {name = "loss"} : tensor<?x16xf32>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}

// -----

// With f32 inputs and parameters, the first op producing another float type
// is refused.
module @f16_op attributes {nn.model} {
  func.func @forward(%arg0: tensor<4x16xf32> {nn.name = "x"}) -> (tensor<4x16xf16> {nn.name = "y"}) {
    // expected-error @+1 {{'arith.constant' has type f16; nnc generates code for f32 models only}}
    %0 = arith.constant dense<1.0> : tensor<4x16xf16>
    %1 = nn.relu %0 {name = "relu1"} : tensor<4x16xf16>
    return %1 : tensor<4x16xf16>
  }
  func.func @loss(%arg0: tensor<4x16xf32> {nn.name = "y"}, %arg1: tensor<4xi64> {nn.name = "labels"}) -> tensor<f32> {
    %0 = nn.cross_entropy %arg0, %arg1 {name = "loss"} : tensor<4x16xf32>, tensor<4xi64>
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
