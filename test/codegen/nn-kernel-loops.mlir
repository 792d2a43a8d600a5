// RUN: nn-opt %s -split-input-file -nn-kernel-loops | FileCheck %s
// RUN: nn-opt %s -split-input-file -nn-kernel-loops=tile-work=64 | FileCheck %s --check-prefix=SMALL

// Every linalg op on buffers becomes one outermost scf.parallel over tiles
// with an scf.parallel over the elements of a tile inside; the op's nn.*
// attributes move to the outer loop.

#id1 = affine_map<(d0) -> (d0)>
// Elementwise over 9408 elements: tiles of 192 (the divisor of 9408 in
// [128, 256] with the most factors of two), constant inner bounds.
// CHECK-LABEL: func.func @relu(
// CHECK-NOT:     linalg.
// CHECK:         scf.parallel (%[[T:.*]]) = (%c0) to (%c9408) step (%c192) {
// CHECK-NEXT:      scf.parallel (%[[E:.*]]) = (%c0) to (%c192) step (%c1) {
// CHECK-NEXT:        %[[I:.*]] = arith.addi %[[E]], %[[T]] : index
// CHECK-NEXT:        memref.load %{{.*}}[%[[I]]] : memref<9408xf32>
// CHECK-NEXT:        arith.maximumf
// CHECK-NEXT:        memref.store
// CHECK:         } {nn.kernel = "k3_relu1", nn.layer = "relu1"}
// CHECK-NEXT:    return
// SMALL-LABEL: func.func @relu(
// SMALL:         scf.parallel ({{.*}}) = (%c0) to (%c9408) step (%c64) {
func.func @relu(%in: memref<9408xf32>, %out: memref<9408xf32>) {
  linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%in : memref<9408xf32>) outs(%out : memref<9408xf32>)
      attrs = {nn.kernel = "k3_relu1", nn.layer = "relu1", other = 1 : i64} {
  ^bb0(%a: f32, %b: f32):
    %zero = arith.constant 0.0 : f32
    %r = arith.maximumf %a, %zero : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#id1 = affine_map<(d0) -> (d0)>
// A prime size has no divisor that fits: tiles of 256, the last one partial.
// CHECK-LABEL: func.func @prime(
// CHECK:         scf.parallel (%[[T:.*]]) = (%c0) to (%c1031) step (%c256) {
// CHECK-NEXT:      %[[N:.*]] = affine.min #{{.*}}(%[[T]])
// CHECK-NEXT:      scf.parallel ({{.*}}) = (%c0) to (%[[N]]) step (%c1) {
func.func @prime(%in: memref<1031xf32>, %out: memref<1031xf32>) {
  linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%in : memref<1031xf32>) outs(%out : memref<1031xf32>) {
  ^bb0(%a: f32, %b: f32):
    %r = arith.negf %a : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#chan = affine_map<(d0, d1, d2, d3) -> (d1)>
// Dimensions that every operand walks contiguously merge into one loop
// (H and W here; the per-channel operand keeps N and C apart), so the
// innermost loop runs over a tile of 196 of the 28*28 elements, not 28.
// CHECK-LABEL: func.func @per_channel(
// CHECK:         memref.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3]] : memref<4x3x28x28xf32> into memref<4x3x784xf32>
// CHECK:         scf.parallel (%[[N:.*]], %[[C:.*]], %[[T:.*]]) = (%c0, %c0, %c0) to (%c4, %c3, %c784) step (%c1, %c1, %c196) {
// CHECK-NEXT:      scf.parallel (%[[E:.*]]) = (%c0) to (%c196) step (%c1) {
// CHECK-NEXT:        %[[HW:.*]] = arith.addi %[[E]], %[[T]] : index
// CHECK-NEXT:        memref.load %{{.*}}[%[[N]], %[[C]], %[[HW]]] : memref<4x3x784xf32>
// CHECK-NEXT:        memref.load %{{.*}}[%[[C]]] : memref<3xf32>
func.func @per_channel(%in: memref<4x3x28x28xf32>, %mean: memref<3xf32>,
                       %out: memref<4x3x28x28xf32>) {
  linalg.generic {indexing_maps = [#id4, #chan, #id4],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%in, %mean : memref<4x3x28x28xf32>, memref<3xf32>)
      outs(%out : memref<4x3x28x28xf32>) {
  ^bb0(%a: f32, %m: f32, %b: f32):
    %r = arith.subf %a, %m : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#in = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#acc = affine_map<(d0, d1, d2) -> (d0, d2)>
// A reduction over the middle dimension of [64, 4, 8]: the tiles split the
// leading parallel dimension (8 rows of 4*8 iterations each), the reduction
// and the parallel dimension after it are scf.for loops inside (the
// innermost one contiguous).
// CHECK-LABEL: func.func @reduce_middle(
// CHECK:         scf.parallel (%[[T:.*]]) = (%c0) to (%c64) step (%c8) {
// CHECK-NEXT:      scf.parallel (%[[E:.*]]) = (%c0) to (%c8) step (%c1) {
// CHECK-NEXT:        %[[I:.*]] = arith.addi %[[E]], %[[T]] : index
// CHECK-NEXT:        scf.for %[[R:.*]] = %c0 to %c4 step %c1 {
// CHECK-NEXT:          scf.for %[[K:.*]] = %c0 to %c8 step %c1 {
// CHECK-NEXT:            memref.load %{{.*}}[%[[I]], %[[R]], %[[K]]] : memref<64x4x8xf32>
// CHECK:                 arith.addf
// CHECK:         } {nn.layer = "softmax"}
func.func @reduce_middle(%in: memref<64x4x8xf32>, %out: memref<64x8xf32>) {
  linalg.generic {indexing_maps = [#in, #acc],
                  iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%in : memref<64x4x8xf32>) outs(%out : memref<64x8xf32>)
      attrs = {nn.layer = "softmax"} {
  ^bb0(%a: f32, %b: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#in = affine_map<(d0) -> (d0)>
#out = affine_map<(d0) -> ()>
// A full reduction has no parallel dimension: it runs in a one-iteration
// scf.parallel, so it is still one kernel nest (one GPU thread).
// CHECK-LABEL: func.func @sum(
// CHECK:         scf.parallel (%{{.*}}) = (%c0) to (%c1) step (%c1) {
// CHECK-NEXT:      scf.for %{{.*}} = %c0 to %c100 step %c1 {
// CHECK:         } {nn.layer = "loss"}
func.func @sum(%in: memref<100xf32>, %out: memref<f32>) {
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["reduction"]}
      ins(%in : memref<100xf32>) outs(%out : memref<f32>) attrs = {nn.layer = "loss"} {
  ^bb0(%a: f32, %b: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A kernel that fits in one tile keeps only the loop over its elements;
// named ops lower the same way.
// CHECK-LABEL: func.func @fill(
// CHECK:         scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%c2, %c10) step (%c1, %c1) {
// CHECK-NEXT:      memref.store
// CHECK-NEXT:      scf.reduce
// CHECK-NEXT:    } {nn.layer = "zeros"}
// CHECK-NOT:     scf.parallel
func.func @fill(%out: memref<2x10xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill {nn.layer = "zeros"} ins(%zero : f32) outs(%out : memref<2x10xf32>)
  return
}

// -----

// A body that reads its indices (a pooling window) keeps its dimensions:
// merging them used to crash the loop generation.
// CHECK-LABEL: func.func @window
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) =
// CHECK: scf.for %[[KH:.*]] =
// CHECK: arith.index_cast %[[KH]] : index to i32
#win_in = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2 * 2 + d4, d3 * 2 + d5)>
#win_k = affine_map<(d0, d1, d2, d3, d4, d5) -> (d4, d5)>
#win_out = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3)>
func.func @window(%x: memref<2x2x8x8xf32>, %k: memref<2x2xi8>, %y: memref<2x2x4x4xf32>) {
  linalg.generic {indexing_maps = [#win_in, #win_k, #win_out],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]}
      ins(%x, %k : memref<2x2x8x8xf32>, memref<2x2xi8>) outs(%y : memref<2x2x4x4xf32>) {
  ^bb0(%in: f32, %w: i8, %out: f32):
    %i = linalg.index 4 : index
    %c = arith.index_cast %i : index to i32
    %f = arith.sitofp %c : i32 to f32
    %s = arith.addf %in, %f : f32
    %m = arith.maximumf %s, %out : f32
    linalg.yield %m : f32
  }
  return
}

// -----

#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
// A reduction's accumulator stays in a register: the output element, which
// linalg loads and stores back every iteration, is loaded before the
// scf.for and stored after it (an iter_arg), because the planned views of
// the arena it reads and writes are disjoint bytes.
// CHECK-LABEL: func.func @row_sums(
// CHECK:           %[[R:.*]] = arith.addi
// CHECK-NEXT:      %[[INIT:.*]] = memref.load %[[OUT:.*]][%[[R]]] : memref<64xf32>
// CHECK-NEXT:      %[[SUM:.*]] = scf.for %[[K:.*]] = %c0 to %c100 step %c1 iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f32) {
// CHECK-NEXT:        %[[X:.*]] = memref.load %{{.*}}[%[[R]], %[[K]]] : memref<64x100xf32>
// CHECK-NEXT:        %[[NEXT:.*]] = arith.addf %[[X]], %[[ACC]] : f32
// CHECK-NEXT:        scf.yield %[[NEXT]] : f32
// CHECK-NEXT:      }
// CHECK-NEXT:      memref.store %[[SUM]], %[[OUT]][%[[R]]] : memref<64xf32>
func.func @row_sums(%arena: memref<?xi8>) {
  %c0 = arith.constant 0 : index
  %c25600 = arith.constant 25600 : index
  %in = memref.view %arena[%c0][] : memref<?xi8> to memref<64x100xf32>
  %out = memref.view %arena[%c25600][] : memref<?xi8> to memref<64xf32>
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%in : memref<64x100xf32>) outs(%out : memref<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
// Views that may share bytes (here the output overlaps the input's last
// row; function arguments alike) keep the load and store in the loop.
// CHECK-LABEL: func.func @overlapping_views(
// CHECK:         scf.for %{{.*}} = %c0 to %c100 step %c1 {
// CHECK-NEXT:      memref.load
// CHECK-NEXT:      memref.load
// CHECK-NEXT:      arith.addf
// CHECK-NEXT:      memref.store
// CHECK-LABEL: func.func @arguments(
// CHECK:         scf.for %{{.*}} = %c0 to %c100 step %c1 {
// CHECK-NEXT:      memref.load
// CHECK-NEXT:      memref.load
// CHECK-NEXT:      arith.addf
// CHECK-NEXT:      memref.store
func.func @overlapping_views(%arena: memref<?xi8>) {
  %c0 = arith.constant 0 : index
  %c25500 = arith.constant 25500 : index
  %in = memref.view %arena[%c0][] : memref<?xi8> to memref<64x100xf32>
  %out = memref.view %arena[%c25500][] : memref<?xi8> to memref<64xf32>
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%in : memref<64x100xf32>) outs(%out : memref<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  }
  return
}
func.func @arguments(%in: memref<64x100xf32>, %out: memref<64xf32>) {
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%in : memref<64x100xf32>) outs(%out : memref<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  }
  return
}
