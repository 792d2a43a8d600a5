// RUN: nn-opt %s -split-input-file -verify-diagnostics -nn-lower-to-linalg -nn-lower-to-buffers | FileCheck %s
// An input with nn.normalize is normalized into a fresh buffer that the
// first op reads (the input region is left as written); one value for every
// channel needs no table.

// CHECK-LABEL: module @one
// CHECK-NOT: memref.global
// CHECK: func.func @nnc_forward(%[[ARENA:.*]]: memref<?xi8>)
// CHECK: %[[IN:.*]] = memref.view %[[ARENA]]{{.*}} to memref<2x3xf32>
// CHECK: %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64{{.*}}} : memref<2x3xf32>
// CHECK: linalg.generic {{.*}} ins(%[[IN]] : memref<2x3xf32>) outs(%[[OUT]] : memref<2x3xf32>)
// CHECK: %[[M:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: %[[S:.*]] = arith.constant 4.000000e+00 : f32
// CHECK: %[[D:.*]] = arith.subf %{{.*}}, %[[M]] : f32
// CHECK: arith.mulf %[[D]], %[[S]] : f32
// CHECK: linalg.generic {{.*}} ins(%[[OUT]] : memref<2x3xf32>) {{.*}} {nn.layer = "relu"}
module @one attributes {nn.model} {
  func.func @forward(%x: tensor<2x3xf32> {nn.name = "x", nn.normalize = {mean = [0.5], std = [0.25]}}) -> tensor<2x3xf32> {
    %0 = nn.relu %x : tensor<2x3xf32>
    return %0 : tensor<2x3xf32>
  }
}

// -----

// Per channel (dimension 1): constant tables indexed by d1.
// CHECK: #[[CHMAP:map[0-9]*]] = affine_map<(d0, d1, d2) -> (d1)>
// CHECK-LABEL: module @channels
// CHECK-DAG: memref.global "private" constant @__nnc_normalize_forward_0_mean : memref<3xf32> = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00]>
// CHECK-DAG: memref.global "private" constant @__nnc_normalize_forward_0_inv_std : memref<3xf32> = dense<[5.000000e-01, 2.500000e-01, 1.250000e-01]>
// CHECK: %[[MEAN:.*]] = memref.get_global @__nnc_normalize_forward_0_mean
// CHECK: %[[INV:.*]] = memref.get_global @__nnc_normalize_forward_0_inv_std
// CHECK: linalg.generic {indexing_maps = [#[[ID:map[0-9]*]], #[[CH:map[0-9]*]], #[[CH]], #[[ID]]]{{.*}} ins(%{{.*}}, %[[MEAN]], %[[INV]] :
module @channels attributes {nn.model} {
  func.func @forward(%x: tensor<2x3x2xf32> {nn.normalize = {mean = [1.0, 2.0, 3.0], std = [2.0, 4.0, 8.0]}}) -> tensor<2x3x2xf32> {
    %0 = nn.relu %x : tensor<2x3x2xf32>
    return %0 : tensor<2x3x2xf32>
  }
}

// -----

module @bad_channels attributes {nn.model} {
  // expected-error @+1 {{argument 0: nn.normalize has 2 values per channel but the input has 3 channels}}
  func.func @forward(%x: tensor<2x3xf32> {nn.normalize = {mean = [1.0, 2.0], std = [2.0, 4.0]}}) -> tensor<2x3xf32> {
    %0 = nn.relu %x : tensor<2x3xf32>
    return %0 : tensor<2x3xf32>
  }
}

// -----

module @bad_std attributes {nn.model} {
  // expected-error @+1 {{argument 0: nn.normalize must be {mean = [f64...], std = [f64...]} of equal length with std > 0}}
  func.func @forward(%x: tensor<2x3xf32> {nn.normalize = {mean = [1.0], std = [0.0]}}) -> tensor<2x3xf32> {
    %0 = nn.relu %x : tensor<2x3xf32>
    return %0 : tensor<2x3xf32>
  }
}

// -----

module @bad_shape attributes {nn.model} {
  // expected-error @+1 {{argument 0: nn.normalize must be {mean = [f64...], std = [f64...]} of equal length with std > 0}}
  func.func @forward(%x: tensor<2x3xf32> {nn.normalize = [1.0]}) -> tensor<2x3xf32> {
    %0 = nn.relu %x : tensor<2x3xf32>
    return %0 : tensor<2x3xf32>
  }
}

// -----

module @bad_type attributes {nn.model} {
  // expected-error @+1 {{argument 0: nn.normalize needs a floating-point input}}
  func.func @forward(%x: tensor<2x3xi64> {nn.normalize = {mean = [1.0], std = [2.0]}}) -> tensor<2x3xi64> {
    return %x : tensor<2x3xi64>
  }
}
