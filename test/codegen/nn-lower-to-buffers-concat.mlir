// RUN: nn-opt %s -nn-lower-to-linalg -nn-lower-to-buffers | FileCheck %s
// RUN: nn-opt %s -nn-lower-to-linalg -nn-lower-to-buffers -nn-plan-memory -convert-linalg-to-loops | FileCheck %s --check-prefix=LOOPS

// nn.concat copies each input into its slice of the result (a strided
// memref.subview at the running offset along `dim`) with linalg.copy: generated
// code, no runtime kernel. nn.concat_backward copies the slices of dL/dy into
// one fresh buffer per input.

// CHECK-LABEL: func.func @nnc_forward(
// CHECK:         [[A:%.*]] = memref.view %arg0[{{.*}}] : memref<?xi8> to memref<2x3x4xf32>
// CHECK:         [[B:%.*]] = memref.view %arg0[{{.*}}] : memref<?xi8> to memref<2x5x4xf32>
// CHECK:         [[Y:%.*]] = memref.alloc() {{.*}} : memref<2x8x4xf32>
// CHECK:         [[YA:%.*]] = memref.subview [[Y]][0, 0, 0] [2, 3, 4] [1, 1, 1] : memref<2x8x4xf32> to memref<2x3x4xf32, strided<[32, 4, 1]>>
// CHECK:         linalg.copy ins([[A]] : memref<2x3x4xf32>) outs([[YA]] :
// CHECK:         [[YB:%.*]] = memref.subview [[Y]][0, 3, 0] [2, 5, 4] [1, 1, 1] : memref<2x8x4xf32> to memref<2x5x4xf32, strided<[32, 4, 1], offset: 12>>
// CHECK:         linalg.copy ins([[B]] : memref<2x5x4xf32>) outs([[YB]] :
// CHECK:         memref.copy [[Y]], {{.*}} : memref<2x8x4xf32> to memref<2x8x4xf32>

// Along the last dimension of features (`concat(g, h, dim=-1)`).
// CHECK-LABEL: func.func @nnc_features(
// CHECK:         [[F:%.*]] = memref.alloc() {{.*}} : memref<2x7xf32>
// CHECK:         memref.subview [[F]][0, 0] [2, 4] [1, 1] : memref<2x7xf32> to memref<2x4xf32, strided<[7, 1]>>
// CHECK:         linalg.copy
// CHECK:         memref.subview [[F]][0, 4] [2, 3] [1, 1] : memref<2x7xf32> to memref<2x3xf32, strided<[7, 1], offset: 4>>
// CHECK:         linalg.copy

// CHECK-LABEL: func.func @nnc_backward(
// CHECK:         [[DY:%.*]] = memref.view %arg0[{{.*}}] : memref<?xi8> to memref<2x8x4xf32>
// CHECK:         [[DYA:%.*]] = memref.subview [[DY]][0, 0, 0] [2, 3, 4] [1, 1, 1]
// CHECK:         [[DA:%.*]] = memref.alloc() {{.*}} : memref<2x3x4xf32>
// CHECK:         linalg.copy ins([[DYA]] : {{.*}}) outs([[DA]] : memref<2x3x4xf32>)
// CHECK:         [[DYB:%.*]] = memref.subview [[DY]][0, 3, 0] [2, 5, 4] [1, 1, 1]
// CHECK:         [[DB:%.*]] = memref.alloc() {{.*}} : memref<2x5x4xf32>
// CHECK:         linalg.copy ins([[DYB]] : {{.*}}) outs([[DB]] : memref<2x5x4xf32>)
// CHECK-NOT:     call

// After planning, the copies are plain loops (no library call).
// LOOPS-LABEL: func.func @nnc_forward(
// LOOPS:         scf.for
// LOOPS-NOT:     memrefCopy
// LOOPS-NOT:     func.call

module @cat attributes {nn.model} {
  func.func @forward(%a: tensor<2x3x4xf32> {nn.name = "a"}, %b: tensor<2x5x4xf32> {nn.name = "b"}) -> (tensor<2x8x4xf32> {nn.name = "y"}) {
    %0 = nn.concat %a, %b {dim = 1 : i64, name = "concat1"} : (tensor<2x3x4xf32>, tensor<2x5x4xf32>) -> tensor<2x8x4xf32>
    return %0 : tensor<2x8x4xf32>
  }
  func.func @features(%a: tensor<2x4xf32> {nn.name = "a"}, %b: tensor<2x3xf32> {nn.name = "b"}) -> (tensor<2x7xf32> {nn.name = "y"}) {
    %0 = nn.concat %a, %b {dim = 1 : i64, name = "concat2"} : (tensor<2x4xf32>, tensor<2x3xf32>) -> tensor<2x7xf32>
    return %0 : tensor<2x7xf32>
  }
  func.func @backward(%dy: tensor<2x8x4xf32> {nn.name = "dy"}) -> (tensor<2x3x4xf32> {nn.name = "da"}, tensor<2x5x4xf32> {nn.name = "db"}) {
    %0:2 = nn.concat_backward %dy {dim = 1 : i64, sizes = array<i64: 3, 5>} : (tensor<2x8x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x5x4xf32>)
    return %0#0, %0#1 : tensor<2x3x4xf32>, tensor<2x5x4xf32>
  }
}
