// RUN: nn-opt %s | nn-opt | FileCheck %s
// RUN: nn-opt %s -mlir-print-op-generic | nn-opt | FileCheck %s

// The int8 ops of -nn-quantize round-trip; an i8 parameter is a plain nn.param.

// CHECK: nn.param @conv1.weight : tensor<6x1x5x5xi8> init zeros
nn.param @"conv1.weight" : tensor<6x1x5x5xi8> init zeros

// CHECK-LABEL: func.func @conv
func.func @conv(%x: tensor<2x1x28x28xf32>, %w: tensor<6x1x5x5xi8>, %s: tensor<6xf32>,
                %b: tensor<6xf32>) -> tensor<2x6x28x28xf32> {
  // CHECK: [[Q:%.*]] = nn.quantize %{{.*}} {qmax = 255 : i64, qmin = 0 : i64, scale = 2.000000e-02 : f32, zero_point = 3 : i64} : tensor<2x1x28x28xf32> -> tensor<2x1x28x28xi8>
  %q = nn.quantize %x {scale = 0.02 : f32, zero_point = 3, qmin = 0, qmax = 255} : tensor<2x1x28x28xf32> -> tensor<2x1x28x28xi8>
  // CHECK: [[Y:%.*]] = nn.qconv2d [[Q]], %{{.*}}, %{{.*}}, %{{.*}} {{{.*}}input_scale = 2.000000e-02 : f32, input_unsigned, input_zero_point = 3 : i64, {{.*}}output_scale = 5.000000e-01 : f32, output_unsigned, output_zero_point = 0 : i64{{.*}}} : (tensor<2x1x28x28xi8>, tensor<6x1x5x5xi8>, tensor<6xf32>, tensor<6xf32>) -> tensor<2x6x28x28xi8>
  %y = nn.qconv2d %q, %w, %s, %b {dilation = array<i64: 1, 1>, padding = array<i64: 2, 2>, stride = array<i64: 1, 1>, input_scale = 0.02 : f32, input_zero_point = 3, input_unsigned, output_scale = 0.5 : f32, output_zero_point = 0, output_unsigned, name = "conv1"} : (tensor<2x1x28x28xi8>, tensor<6x1x5x5xi8>, tensor<6xf32>, tensor<6xf32>) -> tensor<2x6x28x28xi8>
  // CHECK: nn.dequantize [[Y]] {is_unsigned, scale = 5.000000e-01 : f32, zero_point = 0 : i64} : tensor<2x6x28x28xi8> -> tensor<2x6x28x28xf32>
  %d = nn.dequantize %y {scale = 0.5 : f32, zero_point = 0, is_unsigned} : tensor<2x6x28x28xi8> -> tensor<2x6x28x28xf32>
  return %d : tensor<2x6x28x28xf32>
}

// CHECK-LABEL: func.func @linear
func.func @linear(%x: tensor<?x400xi8>, %w: tensor<120x400xi8>, %s: tensor<120xf32>) -> tensor<?x120xf32> {
  // CHECK: nn.qlinear %{{.*}}, %{{.*}}, %{{.*}} {input_scale = 1.000000e-01 : f32, input_zero_point = -3 : i64} : (tensor<?x400xi8>, tensor<120x400xi8>, tensor<120xf32>) -> tensor<?x120xf32>
  %y = nn.qlinear %x, %w, %s {input_scale = 0.1 : f32, input_zero_point = -3} : (tensor<?x400xi8>, tensor<120x400xi8>, tensor<120xf32>) -> tensor<?x120xf32>
  return %y : tensor<?x120xf32>
}
