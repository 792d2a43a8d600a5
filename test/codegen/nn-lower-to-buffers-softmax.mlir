// RUN: nn-opt %s -nn-lower-to-linalg -nn-lower-to-buffers | FileCheck %s
// RUN: nn-opt %s -nn-lower-to-linalg -nn-lower-to-buffers -nn-plan-memory -convert-linalg-to-loops | FileCheck %s --check-prefix=LOOPS

// nn.softmax / nn.log_softmax over any dimension (the batch dimension
// included) and their backward ops are generated code: the tensor is viewed
// as [outer, D, inner] and the reductions over D (max, sum of exponentials,
// the backward's sums) are linalg.generic reductions into [outer, inner]
// buffers; no runtime kernel.

// Softmax over dimension 1 of [2, 3, 4]: outer 2, D 3, inner 4.
// CHECK-LABEL: func.func @nnc_forward(
// CHECK:         [[X:%.*]] = memref.reinterpret_cast {{.*}} to memref<2x3x4xf32>{{$}}
// CHECK:         [[MAX:%.*]] = memref.alloc() {{.*}} : memref<2x4xf32>
// CHECK:         linalg.fill ins(%{{.*}} : f32) outs([[MAX]] : memref<2x4xf32>)
// CHECK:         linalg.generic {{{.*}}iterator_types = ["parallel", "reduction", "parallel"]} ins([[X]] : {{.*}}) outs([[MAX]] : memref<2x4xf32>)
// CHECK:           arith.maximumf
// CHECK:         [[SUM:%.*]] = memref.alloc() {{.*}} : memref<2x4xf32>
// CHECK:         linalg.generic {{{.*}}iterator_types = ["parallel", "reduction", "parallel"]} ins([[X]], [[MAX]] : {{.*}}) outs([[SUM]] : memref<2x4xf32>)
// CHECK:           math.exp
// CHECK:         linalg.generic {{{.*}}iterator_types = ["parallel", "parallel", "parallel"]} ins([[X]], [[MAX]], [[SUM]] : {{.*}})
// CHECK:           math.exp
// CHECK:           arith.divf
// CHECK-NOT:     call @nnc_softmax

// log_softmax over the batch dimension of [2, 5]: outer 1, D 2, inner 5.
// CHECK-LABEL: func.func @nnc_batch(
// CHECK:         memref.reinterpret_cast {{.*}} to memref<1x2x5xf32>{{$}}
// CHECK:         memref.alloc() {{.*}} : memref<1x5xf32>
// CHECK:           math.log
// CHECK-NOT:     call @nnc_log_softmax

// The backward ops: a reduction over D, then the elementwise result.
// CHECK-LABEL: func.func @nnc_backward(
// CHECK:         linalg.generic {{{.*}}"reduction"{{.*}}}
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK:         linalg.generic {{{.*}}}
// CHECK:           arith.subf
// CHECK:           arith.mulf
// CHECK:         linalg.generic {{{.*}}"reduction"{{.*}}}
// CHECK:           arith.addf
// CHECK:         linalg.generic {{{.*}}}
// CHECK:           math.exp
// CHECK-NOT:     call

// LOOPS-LABEL: func.func @nnc_forward(
// LOOPS:         scf.for
// LOOPS-NOT:     func.call

module @sm attributes {nn.model} {
  func.func @forward(%x: tensor<2x3x4xf32> {nn.name = "x"}) -> (tensor<2x3x4xf32> {nn.name = "y"}) {
    %0 = nn.softmax %x {dim = 1 : i64, name = "softmax1"} : tensor<2x3x4xf32>
    return %0 : tensor<2x3x4xf32>
  }
  func.func @batch(%x: tensor<2x5xf32> {nn.name = "x"}) -> (tensor<2x5xf32> {nn.name = "y"}) {
    %0 = nn.log_softmax %x {dim = 0 : i64, name = "log_softmax1"} : tensor<2x5xf32>
    return %0 : tensor<2x5xf32>
  }
  func.func @backward(%dy: tensor<2x3x4xf32> {nn.name = "dy"}, %y: tensor<2x3x4xf32> {nn.name = "y"}) -> (tensor<2x3x4xf32> {nn.name = "dx"}, tensor<2x3x4xf32> {nn.name = "dlx"}) {
    %0 = nn.softmax_backward %dy, %y {dim = 2 : i64} : tensor<2x3x4xf32>
    %1 = nn.log_softmax_backward %dy, %y {dim = 0 : i64} : tensor<2x3x4xf32>
    return %0, %1 : tensor<2x3x4xf32>, tensor<2x3x4xf32>
  }
}
