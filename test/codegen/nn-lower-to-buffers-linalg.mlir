// RUN: nn-opt %s -split-input-file -verify-diagnostics -nn-lower-to-buffers | FileCheck %s
// Linalg on tensors (what -nn-lower-to-linalg makes) becomes the same ops on
// buffers: a destination from tensor.empty gets a fresh buffer; a reduction
// that reads its destination (a linalg.fill here) updates that buffer in
// place; a tensor the body reads with tensor.extract becomes a memref.load;
// collapse_shape is a reinterpretation; scalar constants between ops stay.

// CHECK-LABEL: func.func @nnc_forward
// CHECK: %[[X:.*]] = memref.view {{.*}} to memref<2x3xf32>
// CHECK: %[[IDX:.*]] = memref.view {{.*}} to memref<2xi64>
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[ACC:.*]] = memref.alloc() {alignment = 64 : i64{{.*}}} : memref<2xf32>
// CHECK: linalg.fill {nn.layer = "sum"} ins(%[[ZERO]] : f32) outs(%[[ACC]] : memref<2xf32>)
// CHECK-NOT: memref.alloc
// CHECK: linalg.generic {{{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[X]] : memref<2x3xf32>) outs(%[[ACC]] : memref<2xf32>)
// CHECK: %[[G:.*]] = memref.alloc() {alignment = 64 : i64{{.*}}} : memref<2xf32>
// CHECK: linalg.generic {{.*}} outs(%[[G]] : memref<2xf32>) attrs = {nn.layer = "gather"}
// CHECK: %[[K:.*]] = memref.load %[[IDX]][
// CHECK: %[[I:.*]] = arith.index_cast %[[K]] : i64 to index
// CHECK: memref.load %[[ACC]][%[[I]]]
// CHECK: memref.collapse_shape %[[X]] {{\[}}[0, 1]] : memref<2x3xf32> into memref<6xf32>
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#one = affine_map<(d0) -> (d0)>
module @m attributes {nn.model} {
  func.func @forward(%x: tensor<2x3xf32>, %idx: tensor<2xi64>) -> (tensor<2xf32>, tensor<6xf32>) {
    %zero = arith.constant 0.0 : f32
    %e = tensor.empty() : tensor<2xf32>
    %acc = linalg.fill {nn.layer = "sum"} ins(%zero : f32) outs(%e : tensor<2xf32>) -> tensor<2xf32>
    %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
        ins(%x : tensor<2x3xf32>) outs(%acc : tensor<2xf32>) attrs = {nn.layer = "sum"} {
    ^bb0(%in: f32, %out: f32):
      %s = arith.addf %in, %out : f32
      linalg.yield %s : f32
    } -> tensor<2xf32>
    %e2 = tensor.empty() : tensor<2xf32>
    %g = linalg.generic {indexing_maps = [#one], iterator_types = ["parallel"]}
        outs(%e2 : tensor<2xf32>) attrs = {nn.layer = "gather"} {
    ^bb0(%out: f32):
      %i = linalg.index 0 : index
      %k = tensor.extract %idx[%i] : tensor<2xi64>
      %j = arith.index_cast %k : i64 to index
      %v = tensor.extract %sum[%j] : tensor<2xf32>
      linalg.yield %v : f32
    } -> tensor<2xf32>
    %flat = tensor.collapse_shape %x [[0, 1]] : tensor<2x3xf32> into tensor<6xf32>
    return %g, %flat : tensor<2xf32>, tensor<6xf32>
  }
}

// -----

// Entry arguments of a type the arena cannot hold are refused.
module @bad attributes {nn.model} {
  // expected-error @+1 {{entry arguments and results must have integer or floating-point elements, not 'tensor<2xindex>'}}
  func.func @forward(%idx: tensor<2xindex>) -> tensor<2xindex> {
    return %idx : tensor<2xindex>
  }
}
