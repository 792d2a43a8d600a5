// RUN: nn-opt %s -split-input-file -nn-lower-to-linalg | FileCheck %s --enable-var-scope

// cross_entropy: a reduction over each row for its first maximum and that
// column, a reduction of exp(x - max) in f64, then one ordered reduction
// over the rows that gathers each row's label logit (tensor.extract, the
// column clamped to 0 for an out-of-range label), sums the valid rows'
// losses and counts hits and valid rows; the mean is over the valid rows.
// count_correct of the same logits and labels reuses the hit count.

// CHECK-LABEL: func.func @train(
// CHECK-SAME:    %[[X:.*]]: tensor<4x3xf32>, %[[L:.*]]: tensor<4xi64>)
// CHECK:         %[[MAX:.*]]:2 = linalg.generic {{{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[X]] : tensor<4x3xf32>) outs(%{{.*}}, %{{.*}} : tensor<4xf32>, tensor<4xi64>) attrs = {nn.layer = "loss"}
// CHECK:           %[[GT:.*]] = arith.cmpf ogt
// CHECK:           linalg.index 1
// CHECK:           arith.select %[[GT]]
// CHECK:         %[[SUM:.*]] = linalg.generic {{{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[X]], %[[MAX]]#0 : tensor<4x3xf32>, tensor<4xf32>) outs(%{{.*}} : tensor<4xf64>)
// CHECK:           math.exp %{{.*}} : f64
// CHECK:         %[[T:.*]]:3 = linalg.generic {{{.*}}iterator_types = ["reduction"]} ins(%[[L]], %[[MAX]]#0, %[[MAX]]#1, %[[SUM]] : tensor<4xi64>, tensor<4xf32>, tensor<4xi64>, tensor<4xf64>) outs(%{{.*}}, %{{.*}}, %{{.*}} : tensor<f64>, tensor<i64>, tensor<i64>)
// CHECK-NEXT:    ^bb0(%[[LABEL:[^:]*]]: i64,
// CHECK:           %[[GE:.*]] = arith.cmpi sge, %[[LABEL]], %{{.*}} : i64
// CHECK:           %[[C:.*]] = arith.constant 3 : i64
// CHECK:           %[[LT:.*]] = arith.cmpi slt, %[[LABEL]], %[[C]] : i64
// CHECK:           %[[VALID:.*]] = arith.andi %[[GE]], %[[LT]] : i1
// CHECK:           %[[COL:.*]] = arith.select %[[VALID]], %[[LABEL]], %{{.*}} : i64
// CHECK:           %[[COLI:.*]] = arith.index_cast %[[COL]] : i64 to index
// CHECK:           %[[ROW:.*]] = linalg.index 0 : index
// CHECK:           tensor.extract %[[X]][%[[ROW]], %[[COLI]]] : tensor<4x3xf32>
// CHECK:           math.log
// CHECK:         %[[LOSS:.*]] = linalg.generic {{{.*}}iterator_types = []} ins(%[[T]]#0, %[[T]]#2 : tensor<f64>, tensor<i64>) outs(%{{.*}} : tensor<f32>)
// CHECK:           arith.divf
// CHECK:           arith.truncf
// CHECK-NOT:     nn.count_correct

// The backward: 1 / (valid rows), each row's max, exp(x - max) once per
// element and its sum per row (f32), then one elementwise generic over
// [4, 3]; the seed is the constant 1, so nothing multiplies by it.
// CHECK:         linalg.fill {nn.layer = "constant"} ins(%{{.*}} : f32) outs(%{{.*}} : tensor<f32>)
// CHECK:         %[[VALIDN:.*]] = linalg.generic {{{.*}}iterator_types = ["reduction"]} ins(%[[L]] : tensor<4xi64>) outs(%{{.*}} : tensor<i64>) attrs = {nn.layer = "loss_bwd"}
// CHECK:         %[[INV:.*]] = linalg.generic {{{.*}}iterator_types = []} ins(%[[VALIDN]] : tensor<i64>) outs(%{{.*}} : tensor<f32>)
// CHECK:         %[[BMAX:.*]] = linalg.generic {{{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[X]] : tensor<4x3xf32>) outs(%{{.*}} : tensor<4xf32>)
// CHECK:         %[[E:.*]] = linalg.generic {{{.*}}iterator_types = ["parallel", "parallel"]} ins(%[[X]], %[[BMAX]] : {{.*}}) outs(%{{.*}} : tensor<4x3xf32>)
// CHECK:           math.exp
// CHECK:         %[[BSUM:.*]] = linalg.generic {{{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[E]] : tensor<4x3xf32>) outs(%{{.*}} : tensor<4xf32>)
// CHECK:         %[[D:.*]] = linalg.generic {{{.*}}iterator_types = ["parallel", "parallel"]} ins(%[[E]], %[[BSUM]], %[[L]], %[[INV]] : tensor<4x3xf32>, tensor<4xf32>, tensor<4xi64>, tensor<f32>) outs(%{{.*}} : tensor<4x3xf32>) attrs = {nn.layer = "loss_bwd"}
// CHECK-NOT:       math.exp
// CHECK:           linalg.index 1
// CHECK:           arith.cmpi eq
// CHECK:           arith.subf
// CHECK:           arith.cmpi slt
// CHECK:           %[[R:.*]] = arith.select
// CHECK-NEXT:      linalg.yield %[[R]] : f32
// CHECK:         return %[[LOSS]], %[[T]]#1, %[[D]]

// count_correct alone (i32 labels): the argmax reduction and a count.
// CHECK-LABEL: func.func @count(
// CHECK:         %[[A:.*]]:2 = linalg.generic {{{.*}}iterator_types = ["parallel", "reduction"]} {{.*}} attrs = {nn.layer = "count_correct"}
// CHECK:         linalg.generic {{{.*}}iterator_types = ["reduction"]} ins(%{{.*}}, %[[A]]#1 : tensor<4xi32>, tensor<4xi64>) outs(%{{.*}} : tensor<i64>)
// CHECK:           arith.extsi %{{.*}} : i32 to i64
// CHECK:           arith.cmpi eq

// Another seed scales the gradient in the same generic.
// CHECK-LABEL: func.func @scaled(
// CHECK-SAME:    %[[SEED:.*]]: tensor<f32>,
// CHECK:         linalg.generic {{{.*}}iterator_types = ["parallel", "parallel"]} ins({{.*}}, %[[SEED]] : {{.*}}, tensor<f32>)
// CHECK:           arith.andi
// CHECK-NEXT:      %[[S:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK-NEXT:      %[[SCALED:.*]] = arith.mulf %[[S]], %{{.*}} : f32
// CHECK-NEXT:      linalg.yield %[[SCALED]] : f32
// CHECK-NOT:     = nn.
module @ce attributes {nn.model} {
  func.func @train(%x: tensor<4x3xf32>, %labels: tensor<4xi64>) -> (tensor<f32>, tensor<i64>, tensor<4x3xf32>) {
    %0 = nn.cross_entropy %x, %labels {name = "loss"} : tensor<4x3xf32>, tensor<4xi64>
    %1 = nn.count_correct %x, %labels : tensor<4x3xf32>, tensor<4xi64>
    %one = arith.constant dense<1.0> : tensor<f32>
    %2 = nn.cross_entropy_backward %one, %x, %labels {name = "loss"} : (tensor<f32>, tensor<4x3xf32>, tensor<4xi64>) -> tensor<4x3xf32>
    return %0, %1, %2 : tensor<f32>, tensor<i64>, tensor<4x3xf32>
  }
  func.func @count(%x: tensor<4x3xf32>, %labels: tensor<4xi32>) -> tensor<i64> {
    %1 = nn.count_correct %x, %labels : tensor<4x3xf32>, tensor<4xi32>
    return %1 : tensor<i64>
  }
  func.func @scaled(%seed: tensor<f32>, %x: tensor<4x3xf32>, %labels: tensor<4xi64>) -> tensor<4x3xf32> {
    %2 = nn.cross_entropy_backward %seed, %x, %labels {name = "loss"} : (tensor<f32>, tensor<4x3xf32>, tensor<4xi64>) -> tensor<4x3xf32>
    return %2 : tensor<4x3xf32>
  }
}

// -----

// mse: one reduction over every element into an f64 scalar, divided by the
// element count; the backward is 2/n * (p - t) times the seed, elementwise.

// CHECK-LABEL: func.func @mse(
// CHECK-SAME:    %[[P:.*]]: tensor<2x5xf32>, %[[T:.*]]: tensor<2x5xf32>, %[[SEED:.*]]: tensor<f32>)
// CHECK:         %[[SUM:.*]] = linalg.generic {{{.*}}iterator_types = ["reduction", "reduction"]} ins(%[[P]], %[[T]] : tensor<2x5xf32>, tensor<2x5xf32>) outs(%{{.*}} : tensor<f64>) attrs = {nn.layer = "loss"}
// CHECK:           arith.subf %{{.*}}, %{{.*}} : f64
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK:         linalg.generic {{{.*}}iterator_types = []} ins(%[[SUM]] : tensor<f64>) outs(%{{.*}} : tensor<f32>)
// CHECK:           arith.constant 1.000000e+01 : f64
// CHECK:           arith.divf
// CHECK:         linalg.generic {{{.*}}iterator_types = ["parallel", "parallel"]} ins(%[[P]], %[[T]], %[[SEED]] : tensor<2x5xf32>, tensor<2x5xf32>, tensor<f32>) {{.*}} attrs = {nn.layer = "loss_bwd"}
// CHECK:           arith.constant 2.000000e-01 : f32
// CHECK:           arith.subf
// CHECK:           arith.mulf
// CHECK:           arith.mulf

module @mse attributes {nn.model} {
  func.func @mse(%p: tensor<2x5xf32>, %t: tensor<2x5xf32>, %seed: tensor<f32>) -> (tensor<f32>, tensor<2x5xf32>) {
    %0 = nn.mse %p, %t {name = "loss"} : tensor<2x5xf32>
    %1 = nn.mse_backward %seed, %p, %t {name = "loss"} : (tensor<f32>, tensor<2x5xf32>, tensor<2x5xf32>) -> tensor<2x5xf32>
    return %0, %1 : tensor<f32>, tensor<2x5xf32>
  }
}
