// RUN: nn-opt %s -split-input-file -nn-lower-to-linalg | FileCheck %s --enable-var-scope
// RUN: nn-opt %s -split-input-file -nn-lower-to-linalg -nn-lower-to-buffers | FileCheck %s --check-prefix=BUF --enable-var-scope

// concat: each input inserted at its offset along the dimension into a
// tensor.empty of the result's shape; once bufferized, a copy into a
// subview of one buffer.

// CHECK-LABEL: func.func @forward(
// CHECK-SAME:    %[[A:.*]]: tensor<2x3x4xf32> {{.*}}, %[[B:.*]]: tensor<2x5x4xf32>
// CHECK:         %[[E:.*]] = tensor.empty() : tensor<2x8x4xf32>
// CHECK:         %[[S0:.*]] = tensor.insert_slice %[[A]] into %[[E]][0, 0, 0] [2, 3, 4] [1, 1, 1] : tensor<2x3x4xf32> into tensor<2x8x4xf32>
// CHECK:         %[[S1:.*]] = tensor.insert_slice %[[B]] into %[[S0]][0, 3, 0] [2, 5, 4] [1, 1, 1] : tensor<2x5x4xf32> into tensor<2x8x4xf32>
// CHECK:         return %[[S1]]

// BUF-LABEL: func.func @nnc_forward(
// BUF:         %[[A:.*]] = memref.view %arg0[{{.*}}] : memref<?xi8> to memref<2x3x4xf32>
// BUF:         %[[B:.*]] = memref.view %arg0[{{.*}}] : memref<?xi8> to memref<2x5x4xf32>
// BUF:         %[[Y:.*]] = memref.alloc() {{.*}} : memref<2x8x4xf32>
// BUF:         %[[YA:.*]] = memref.subview %[[Y]][0, 0, 0] [2, 3, 4] [1, 1, 1] : memref<2x8x4xf32> to memref<2x3x4xf32, strided<[32, 4, 1]>>
// BUF:         linalg.copy ins(%[[A]] : memref<2x3x4xf32>) outs(%[[YA]] :
// BUF:         %[[YB:.*]] = memref.subview %[[Y]][0, 3, 0] [2, 5, 4] [1, 1, 1] : memref<2x8x4xf32> to memref<2x5x4xf32, strided<[32, 4, 1], offset: 12>>
// BUF:         linalg.copy ins(%[[B]] : memref<2x5x4xf32>) outs(%[[YB]] :
// BUF-NOT:     memref.alloc
// BUF:         memref.copy %[[Y]], {{.*}} : memref<2x8x4xf32> to memref<2x8x4xf32>

// concat_backward: each input's gradient is its slice of dL/dy
// (tensor.extract_slice) copied by an elementwise generic; once bufferized,
// a strided subview read by the generic into a fresh buffer.

// CHECK-LABEL: func.func @backward(
// CHECK-SAME:    %[[DY:.*]]: tensor<2x8x4xf32>
// CHECK:         %[[DA:.*]] = tensor.extract_slice %[[DY]][0, 0, 0] [2, 3, 4] [1, 1, 1] : tensor<2x8x4xf32> to tensor<2x3x4xf32>
// CHECK:         %[[CA:.*]] = linalg.generic {{{.*}}iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[DA]] : tensor<2x3x4xf32>) outs(%{{.*}} : tensor<2x3x4xf32>) attrs = {nn.layer = "cat_bwd"}
// CHECK:         %[[DB:.*]] = tensor.extract_slice %[[DY]][0, 3, 0] [2, 5, 4] [1, 1, 1] : tensor<2x8x4xf32> to tensor<2x5x4xf32>
// CHECK:         %[[CB:.*]] = linalg.generic {{.*}} ins(%[[DB]] : tensor<2x5x4xf32>) {{.*}} attrs = {nn.layer = "cat_bwd"}
// CHECK:         return %[[CA]], %[[CB]]

// BUF-LABEL: func.func @nnc_backward(
// BUF:         %[[DY:.*]] = memref.view %arg0[{{.*}}] : memref<?xi8> to memref<2x8x4xf32>
// BUF:         %[[DYA:.*]] = memref.subview %[[DY]][0, 0, 0] [2, 3, 4] [1, 1, 1] : memref<2x8x4xf32> to memref<2x3x4xf32, strided<[32, 4, 1]>>
// BUF:         %[[DA:.*]] = memref.alloc() {{.*}} : memref<2x3x4xf32>
// BUF:         linalg.generic {{.*}} ins(%[[DYA]] : memref<2x3x4xf32, strided<[32, 4, 1]>>) outs(%[[DA]] : memref<2x3x4xf32>)
// BUF:         memref.subview %[[DY]][0, 3, 0] [2, 5, 4] [1, 1, 1] : memref<2x8x4xf32> to memref<2x5x4xf32, strided<[32, 4, 1], offset: 12>>
// BUF-NOT:     call
module @cat attributes {nn.model} {
  func.func @forward(%a: tensor<2x3x4xf32> {nn.name = "a"}, %b: tensor<2x5x4xf32> {nn.name = "b"}) -> (tensor<2x8x4xf32> {nn.name = "y"}) {
    %0 = nn.concat %a, %b {dim = 1 : i64, name = "cat"} : (tensor<2x3x4xf32>, tensor<2x5x4xf32>) -> tensor<2x8x4xf32>
    return %0 : tensor<2x8x4xf32>
  }
  func.func @backward(%dy: tensor<2x8x4xf32> {nn.name = "dy"}) -> (tensor<2x3x4xf32> {nn.name = "da"}, tensor<2x5x4xf32> {nn.name = "db"}) {
    %0:2 = nn.concat_backward %dy {dim = 1 : i64, name = "cat", sizes = array<i64: 3, 5>} : (tensor<2x8x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x5x4xf32>)
    return %0#0, %0#1 : tensor<2x3x4xf32>, tensor<2x5x4xf32>
  }
}

// -----

// Splat tensor constants are linalg.fill; the 0-d counter update
// (num_batches_tracked += 1) is a rank-0 linalg.generic.

// CHECK-LABEL: func.func @counter(
// CHECK-SAME:    %[[N:.*]]: tensor<i64>
// CHECK:         %[[ONE:.*]] = arith.constant 1 : i64
// CHECK:         %[[C:.*]] = linalg.fill {nn.layer = "constant"} ins(%[[ONE]] : i64) outs(%{{.*}} : tensor<i64>) -> tensor<i64>
// CHECK:         %[[SUM:.*]] = linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = []} ins(%[[N]], %[[C]] : tensor<i64>, tensor<i64>) outs(%{{.*}} : tensor<i64>) attrs = {nn.layer = "addi"}
// CHECK:           arith.addi
// CHECK:         %[[HALF:.*]] = arith.constant 5.000000e-01 : f32
// CHECK:         linalg.fill {nn.layer = "constant"} ins(%[[HALF]] : f32) outs(%{{.*}} : tensor<3xf32>)
// CHECK-NOT:     arith.constant dense

// BUF-LABEL: func.func @nnc_counter(
// BUF:         %[[N:.*]] = memref.view %arg0[{{.*}}] : memref<?xi8> to memref<i64>
// BUF:         %[[C:.*]] = memref.alloc() {{.*}} : memref<i64>
// BUF:         linalg.fill {{.*}}outs(%[[C]] : memref<i64>)
// BUF:         linalg.generic {{.*}} ins(%[[N]], %[[C]] : memref<i64>, memref<i64>)
module @counter attributes {nn.model} {
  func.func @counter(%n: tensor<i64> {nn.name = "n"}) -> (tensor<i64> {nn.name = "m"}, tensor<3xf32> {nn.name = "h"}) {
    %one = arith.constant dense<1> : tensor<i64>
    %0 = arith.addi %n, %one : tensor<i64>
    %half = arith.constant dense<0.5> : tensor<3xf32>
    return %0, %half : tensor<i64>, tensor<3xf32>
  }
}
