// RUN: nn-opt %s -split-input-file -nn-infer-shapes=batch=64 | FileCheck %s
// RUN: nn-opt %s -split-input-file -nn-infer-shapes | FileCheck %s --check-prefix=KEEP

// With batch=64 the dynamic batch of every function argument becomes 64 and
// every result type, and the function signatures, follow; without it the
// types stay dynamic.

// CHECK-LABEL: module @lenet
// CHECK:       func.func @forward(%{{.*}}: tensor<64x1x28x28xf32> {nn.name = "image"}) -> (tensor<64x10xf32> {nn.name = "logits"})
// CHECK:         nn.param_ref @conv1.weight : tensor<6x1x5x5xf32>
// CHECK:         nn.conv2d {{.*}} -> tensor<64x6x28x28xf32>
// CHECK:         nn.relu %{{.*}} : tensor<64x6x28x28xf32>
// CHECK:         nn.maxpool2d {{.*}} : tensor<64x6x28x28xf32> -> tensor<64x6x14x14xf32>
// CHECK:         nn.flatten {{.*}} : tensor<64x6x14x14xf32> -> tensor<64x1176xf32>
// CHECK:         nn.linear {{.*}} -> tensor<64x10xf32>
// CHECK:         return %{{.*}} : tensor<64x10xf32>
// CHECK:       func.func @loss(%{{.*}}: tensor<64x10xf32>, %{{.*}}: tensor<64xi64>) -> tensor<f32>
// CHECK:         nn.cross_entropy %{{.*}}, %{{.*}} {name = "loss"} : tensor<64x10xf32>, tensor<64xi64>

// KEEP-LABEL: module @lenet
// KEEP:       func.func @forward(%{{.*}}: tensor<?x1x28x28xf32> {nn.name = "image"}) -> (tensor<?x10xf32> {nn.name = "logits"})
// KEEP:         nn.linear {{.*}} -> tensor<?x10xf32>
// KEEP:       func.func @loss(%{{.*}}: tensor<?x10xf32>, %{{.*}}: tensor<?xi64>) -> tensor<f32>
module {
  module @lenet attributes {nn.model} {
    nn.param @"conv1.weight" : tensor<6x1x5x5xf32> init uniform(0.2)
    nn.param @"fc1.weight" : tensor<10x1176xf32> init uniform(0.03)
    func.func @forward(%image: tensor<?x1x28x28xf32> {nn.name = "image"})
        -> (tensor<?x10xf32> {nn.name = "logits"}) {
      %w = nn.param_ref @"conv1.weight" : tensor<6x1x5x5xf32>
      %0 = nn.conv2d %image, %w {name = "conv1", stride = array<i64: 1, 1>, padding = array<i64: 2, 2>, dilation = array<i64: 1, 1>} : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>) -> tensor<?x6x28x28xf32>
      %1 = nn.relu %0 : tensor<?x6x28x28xf32>
      %2 = nn.maxpool2d %1 {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<?x6x28x28xf32> -> tensor<?x6x14x14xf32>
      %3 = nn.flatten %2 : tensor<?x6x14x14xf32> -> tensor<?x1176xf32>
      %fw = nn.param_ref @"fc1.weight" : tensor<10x1176xf32>
      %4 = nn.linear %3, %fw {name = "fc1"} : (tensor<?x1176xf32>, tensor<10x1176xf32>) -> tensor<?x10xf32>
      return %4 : tensor<?x10xf32>
    }
    func.func @loss(%out: tensor<?x10xf32>, %labels: tensor<?xi64>) -> tensor<f32> {
      %0 = nn.cross_entropy %out, %labels {name = "loss"} : tensor<?x10xf32>, tensor<?xi64>
      return %0 : tensor<f32>
    }
  }
}

// -----

// Recurrent and concatenating layers follow too; static arguments are kept.
// CHECK-LABEL: func.func @seq
// CHECK-SAME:    (%{{.*}}: tensor<64x7x10xf32>, %{{.*}}: tensor<60x10xf32>, %{{.*}}: tensor<60x20xf32>, %{{.*}}: tensor<3x20xf32>) -> tensor<64x20xf32>
// CHECK:         nn.gru {{.*}} -> tensor<64x7x20xf32>
// CHECK:         nn.concat {{.*}} -> tensor<67x20xf32>
// CHECK:         nn.reshape %{{.*}} {shape = array<i64: 20>} : tensor<64x20xf32> -> tensor<64x20xf32>
func.func @seq(%x: tensor<?x7x10xf32>, %ih: tensor<60x10xf32>, %hh: tensor<60x20xf32>, %s: tensor<3x20xf32>) -> tensor<?x20xf32> {
  %0 = nn.gru %x, %ih, %hh {hidden_size = 20, has_bias = false, return_sequences = true} : (tensor<?x7x10xf32>, tensor<60x10xf32>, tensor<60x20xf32>) -> tensor<?x7x20xf32>
  %1 = nn.gru %x, %ih, %hh {hidden_size = 20, has_bias = false} : (tensor<?x7x10xf32>, tensor<60x10xf32>, tensor<60x20xf32>) -> tensor<?x20xf32>
  %2 = nn.concat %1, %s {dim = 0} : (tensor<?x20xf32>, tensor<3x20xf32>) -> tensor<?x20xf32>
  %3 = nn.reshape %1 {shape = array<i64: 20>} : tensor<?x20xf32> -> tensor<?x20xf32>
  return %3 : tensor<?x20xf32>
}
