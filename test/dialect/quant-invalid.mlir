// RUN: nn-opt %s -split-input-file -verify-diagnostics

// Each verifier rule of the int8 ops (NNQuantOps.td), one case each.

// expected-error @+1 {{an integer parameter's initializer must be 'zeros', got 'uniform'}}
nn.param @w : tensor<4xi8> init uniform(1.0)

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xi8> {
  // expected-error @+1 {{scale must be positive and finite, got 0}}
  %q = nn.quantize %x {scale = 0.0 : f32, zero_point = 0, qmin = 0, qmax = 255} : tensor<4xf32> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xi8> {
  // expected-error @+1 {{expects -128 <= qmin < qmax <= 255, got [0, 256]}}
  %q = nn.quantize %x {scale = 1.0 : f32, zero_point = 0, qmin = 0, qmax = 256} : tensor<4xf32> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xi8> {
  // expected-error @+1 {{range [-128, 255] is neither u8 nor s8}}
  %q = nn.quantize %x {scale = 1.0 : f32, zero_point = 0, qmin = -128, qmax = 255} : tensor<4xf32> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xi8> {
  // expected-error @+1 {{zero_point 200 is outside [-128, 127]}}
  %q = nn.quantize %x {scale = 1.0 : f32, zero_point = 200, qmin = -128, qmax = 127} : tensor<4xf32> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xi32> {
  // expected-error @+1 {{result type 'tensor<4xi32>' does not match the inferred type 'tensor<4xi8>'}}
  %q = nn.quantize %x {scale = 1.0 : f32, zero_point = 0, qmin = 0, qmax = 255} : tensor<4xf32> -> tensor<4xi32>
  return %q : tensor<4xi32>
}

// -----

func.func @f(%x: tensor<4xi8>) -> tensor<4xf32> {
  // expected-error @+1 {{zero_point -1 is outside [0, 255] (u8)}}
  %d = nn.dequantize %x {scale = 1.0 : f32, zero_point = -1, is_unsigned} : tensor<4xi8> -> tensor<4xf32>
  return %d : tensor<4xf32>
}

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{operand #0 must be ranked tensor of 8-bit signless integer values}}
  %d = nn.dequantize %x {scale = 1.0 : f32, zero_point = 0} : tensor<4xf32> -> tensor<4xf32>
  return %d : tensor<4xf32>
}

// -----

func.func @f(%x: tensor<2x4xi8>, %w: tensor<3x4xi8>, %s: tensor<4xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{expects weight_scale of shape [3] (one per output channel), got [4]}}
  %y = nn.qlinear %x, %w, %s {input_scale = 1.0 : f32, input_zero_point = 0} : (tensor<2x4xi8>, tensor<3x4xi8>, tensor<4xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

func.func @f(%x: tensor<2x4xi8>, %w: tensor<3x4xi8>, %s: tensor<3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{input_zero_point 128 is outside [-128, 127] (s8)}}
  %y = nn.qlinear %x, %w, %s {input_scale = 1.0 : f32, input_zero_point = 128} : (tensor<2x4xi8>, tensor<3x4xi8>, tensor<3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

func.func @f(%x: tensor<2x4xi8>, %w: tensor<3x4xi8>, %s: tensor<3xf32>) -> tensor<2x3xi8> {
  // expected-error @+1 {{output_scale and output_zero_point go together}}
  %y = nn.qlinear %x, %w, %s {input_scale = 1.0 : f32, input_zero_point = 0, output_scale = 1.0 : f32} : (tensor<2x4xi8>, tensor<3x4xi8>, tensor<3xf32>) -> tensor<2x3xi8>
  return %y : tensor<2x3xi8>
}

// -----

func.func @f(%x: tensor<2x4xi8>, %w: tensor<3x4xi8>, %s: tensor<3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{result type 'tensor<2x3xf32>' does not match the inferred type 'tensor<2x3xi8>'}}
  %y = nn.qlinear %x, %w, %s {input_scale = 1.0 : f32, input_zero_point = 0, output_scale = 1.0 : f32, output_zero_point = 0} : (tensor<2x4xi8>, tensor<3x4xi8>, tensor<3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

func.func @f(%x: tensor<2x1x8x8xi8>, %w: tensor<4x2x3x3xi8>, %s: tensor<4xf32>) -> tensor<2x4x6x6xf32> {
  // expected-error @+1 {{expects weight of shape [4, 1, 3, 3], got [4, 2, 3, 3]}}
  %y = nn.qconv2d %x, %w, %s {dilation = array<i64: 1, 1>, padding = array<i64: 0, 0>, stride = array<i64: 1, 1>, input_scale = 1.0 : f32, input_zero_point = 0} : (tensor<2x1x8x8xi8>, tensor<4x2x3x3xi8>, tensor<4xf32>) -> tensor<2x4x6x6xf32>
  return %y : tensor<2x4x6x6xf32>
}
