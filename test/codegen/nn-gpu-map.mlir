// RUN: nn-opt %s -split-input-file -nn-gpu-map | FileCheck %s
// RUN: nn-opt %s -split-input-file -nn-gpu-map=threads=64 | FileCheck %s --check-prefix=T64
// RUN: nn-opt %s -split-input-file -nn-gpu-map=block-reductions=false | FileCheck %s --check-prefix=SERIAL

// -nn-gpu-map: every kernel nest of -nn-kernel-loops becomes one gpu.launch,
// the tile loop's iterations the blocks, the element loop's the threads.

// A tiled nest with constant element bounds: 4 blocks of 256 threads, the
// nest's nn.* attributes on the launch.
// CHECK-LABEL: func.func @tiled(
// CHECK-NOT:     scf.parallel
// CHECK:         gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c4, %{{.*}} = %c1, %{{.*}} = %c1) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c256, %{{.*}} = %c1, %{{.*}} = %c1) {
// CHECK-NEXT:      %[[T:.*]] = affine.apply #{{.*}}()[%[[BX]]]
// CHECK-NEXT:      %[[I:.*]] = arith.addi %[[T]], %[[TX]] : index
// CHECK-NEXT:      memref.load %{{.*}}[%[[I]]]
// CHECK-NEXT:      memref.store
// CHECK-NEXT:      gpu.terminator
// CHECK-NEXT:    } {nn.kernel = "k0_copy"}
func.func @tiled(%a: memref<1024xf32>, %b: memref<1024xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %c1024 = arith.constant 1024 : index
  scf.parallel (%i) = (%c0) to (%c1024) step (%c256) {
    scf.parallel (%j) = (%c0) to (%c256) step (%c1) {
      %k = arith.addi %i, %j : index
      %v = memref.load %a[%k] : memref<1024xf32>
      memref.store %v, %b[%k] : memref<1024xf32>
      scf.reduce
    }
    scf.reduce
  } {nn.kernel = "k0_copy"}
  return
}

// -----

// A ragged tile (96 does not divide 1000, affine.min bound): 11 blocks of
// 96 threads, the threads past the end guarded.
// CHECK-LABEL: func.func @ragged(
// CHECK:         gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c11, %{{.*}} = %c1, %{{.*}} = %c1) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c96, %{{.*}} = %c1, %{{.*}} = %c1) {
// CHECK:           %[[N:.*]] = affine.min #{{.*}}()[%[[BX]]]
// CHECK-NEXT:      %[[IN:.*]] = arith.cmpi slt, %[[TX]], %[[N]] : index
// CHECK-NEXT:      scf.if %[[IN]] {
// CHECK:             memref.store
func.func @ragged(%a: memref<1000xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c96 = arith.constant 96 : index
  %c1000 = arith.constant 1000 : index
  %cst = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%c1000) step (%c96) {
    %n = affine.min affine_map<(d0) -> (96, -d0 + 1000)>(%i)
    scf.parallel (%j) = (%c0) to (%n) step (%c1) {
      %k = arith.addi %i, %j : index
      memref.store %cst, %a[%k] : memref<1000xf32>
      scf.reduce
    }
    scf.reduce
  }
  return
}

// -----

// Dynamic rows, as in the recurrent gate step functions (nnc_gates_*,
// never tiled by -nn-kernel-loops): tiled here into blocks of 2 rows of 128
// columns (256 threads), ceil(rows / 2) blocks, the rows past the end
// guarded. With threads=64, 64 columns per block and no row tiling.
// CHECK-LABEL: func.func @rows(
// CHECK:         %[[ROWS:.*]] = memref.dim
// CHECK-NEXT:    %[[GY:.*]] = affine.apply #{{.*}}()[%[[ROWS]]]
// CHECK-NEXT:    gpu.launch blocks(%{{.*}}, %[[BY:.*]], %{{.*}}) in (%{{.*}} = %c1, %{{.*}} = %[[GY]], %{{.*}} = %c1) threads(%[[TX:.*]], %[[TY:.*]], %{{.*}}) in (%{{.*}} = %c128, %{{.*}} = %c2, %{{.*}} = %c1) {
// CHECK:           %[[R:.*]] = arith.addi %[[TY]], %{{.*}} : index
// CHECK:           arith.cmpi ult, %{{.*}}, %[[ROWS]] : index
// CHECK:           scf.if
// CHECK-NEXT:        memref.store %{{.*}}, %{{.*}}[%[[R]], %[[TX]]]
// CHECK:         } {nn.kernel = "nnc_gates_test"}
// T64-LABEL: func.func @rows(
// T64:         gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %c64, %{{.*}} = %c1, %{{.*}} = %c1)
func.func @rows(%a: memref<?x128xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %cst = arith.constant 1.0 : f32
  %rows = memref.dim %a, %c0 : memref<?x128xf32>
  scf.parallel (%r, %c) = (%c0, %c0) to (%rows, %c128) step (%c1, %c1) {
    memref.store %cst, %a[%r, %c] : memref<?x128xf32>
    scf.reduce
  } {nn.kernel = "nnc_gates_test"}
  return
}

// -----

// A full reduction (the one-iteration nest of -nn-kernel-loops): one block
// whose 256 threads share the 300 iterations (gpu.all_reduce:
// nn-gpu-map-reductions.mlir); without block reductions one thread.
// CHECK-LABEL: func.func @sum(
// CHECK:         gpu.launch blocks({{.*}}) in (%{{.*}} = %c1, %{{.*}} = %c1, %{{.*}} = %c1) threads({{.*}}) in (%{{.*}} = %c256, %{{.*}} = %c1, %{{.*}} = %c1) {
// CHECK:           gpu.all_reduce add
// SERIAL-LABEL: func.func @sum(
// SERIAL:         gpu.launch blocks({{.*}}) in (%{{.*}} = %c1, %{{.*}} = %c1, %{{.*}} = %c1) threads({{.*}}) in (%{{.*}} = %c1, %{{.*}} = %c1, %{{.*}} = %c1) {
// SERIAL-NEXT:      memref.load
// SERIAL-NEXT:      scf.for
func.func @sum(%a: memref<300xf32>, %s: memref<f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c300 = arith.constant 300 : index
  scf.parallel (%i) = (%c0) to (%c1) step (%c1) {
    %init = memref.load %s[] : memref<f32>
    %r = scf.for %k = %c0 to %c300 step %c1 iter_args(%acc = %init) -> f32 {
      %v = memref.load %a[%k] : memref<300xf32>
      %n = arith.addf %acc, %v : f32
      scf.yield %n : f32
    }
    memref.store %r, %s[] : memref<f32>
    scf.reduce
  }
  return
}

// -----

// Tiles of 13 rows (a CPU core's share of a loss over 65 rows) are too
// few threads: the 5 tiles move into the block, 13 x 5 = 65 threads.
// CHECK-LABEL: func.func @loss_rows(
// CHECK:         gpu.launch blocks({{.*}}) in (%{{.*}} = %c1, %{{.*}} = %c1, %{{.*}} = %c1) threads(%[[TX:.*]], %[[TY:.*]], %{{.*}}) in (%{{.*}} = %c13, %{{.*}} = %c5, %{{.*}} = %c1) {
// CHECK-NEXT:      %[[T:.*]] = arith.muli %[[TY]], %c13 : index
// CHECK-NEXT:      %[[R:.*]] = arith.addi %[[T]], %[[TX]] : index
// CHECK-NEXT:      scf.for
// CHECK-NEXT:        memref.load %{{.*}}[%[[R]], %{{.*}}]
// CHECK:         } {nn.kernel = "k0_loss"}
func.func @loss_rows(%a: memref<65x10xf32>, %s: memref<65xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c10 = arith.constant 10 : index
  %c13 = arith.constant 13 : index
  %c65 = arith.constant 65 : index
  %cst = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%c65) step (%c13) {
    scf.parallel (%j) = (%c0) to (%c13) step (%c1) {
      %r = arith.addi %i, %j : index
      %sum = scf.for %k = %c0 to %c10 step %c1 iter_args(%acc = %cst) -> f32 {
        %v = memref.load %a[%r, %k] : memref<65x10xf32>
        %n = arith.addf %acc, %v : f32
        scf.yield %n : f32
      }
      memref.store %sum, %s[%r] : memref<65xf32>
      scf.reduce
    }
    scf.reduce
  } {nn.kernel = "k0_loss"}
  return
}

// -----

// Tiles of 4 elements: all 15 tiles of a row and 4 of the 7 rows move into
// the block (4 x 15 x 4 = 240 threads, 2 blocks); 4 does not divide 7, so
// the rows past the end are guarded.
// CHECK-LABEL: func.func @pool_rows(
// CHECK:         gpu.launch blocks(%{{.*}}, %[[BY:.*]], %{{.*}}) in (%{{.*}} = %c1, %{{.*}} = %c2, %{{.*}} = %c1) threads(%{{.*}}, %{{.*}}, %[[TZ:.*]]) in (%{{.*}} = %c4, %{{.*}} = %c15, %{{.*}} = %c4) {
// CHECK-NEXT:      %[[B:.*]] = affine.apply #{{.*}}()[%[[BY]]]
// CHECK-NEXT:      %[[ROW:.*]] = arith.addi %[[B]], %[[TZ]] : index
// CHECK-NEXT:      %[[IN:.*]] = arith.cmpi slt, %[[ROW]], %c7 : index
// CHECK:           scf.if %[[IN]] {
// CHECK:             memref.store %{{.*}}, %{{.*}}[%[[ROW]], %{{.*}}]
func.func @pool_rows(%a: memref<7x60xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c7 = arith.constant 7 : index
  %c60 = arith.constant 60 : index
  %cst = arith.constant 0.0 : f32
  scf.parallel (%i, %t) = (%c0, %c0) to (%c7, %c60) step (%c1, %c4) {
    scf.parallel (%j) = (%c0) to (%c4) step (%c1) {
      %c = arith.addi %t, %j : index
      memref.store %cst, %a[%i, %c] : memref<7x60xf32>
      scf.reduce
    }
    scf.reduce
  }
  return
}

// -----

// Four dimensions, too many for x, y, z: the nest is tiled into one block of
// all 120 elements and the two leading dimensions of each loop are collapsed
// (upstream collapseParallelLoops): threads 5 x 4 x 6, the 6 split back into
// 2 x 3.
// CHECK-LABEL: func.func @four(
// CHECK:         gpu.launch blocks({{.*}}) in (%{{.*}} = %c1, %{{.*}} = %c1, %{{.*}} = %c1) threads(%[[TX:.*]], %[[TY:.*]], %[[TZ:.*]]) in (%{{.*}} = %c5, %{{.*}} = %c4, %{{.*}} = %c6) {
// CHECK-NEXT:      %[[J:.*]] = arith.remsi %[[TZ]], %c3 : index
// CHECK-NEXT:      %[[I:.*]] = arith.divsi %[[TZ]], %c3 : index
// CHECK-NEXT:      memref.store %{{.*}}, %{{.*}}[%[[I]], %[[J]], %[[TY]], %[[TX]]]
// CHECK:         } {nn.kernel = "k0_fill"}
func.func @four(%a: memref<2x3x4x5xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c5 = arith.constant 5 : index
  %cst = arith.constant 0.0 : f32
  scf.parallel (%i, %j, %k, %l) = (%c0, %c0, %c0, %c0) to (%c2, %c3, %c4, %c5) step (%c1, %c1, %c1, %c1) {
    memref.store %cst, %a[%i, %j, %k, %l] : memref<2x3x4x5xf32>
    scf.reduce
  } {nn.kernel = "k0_fill"}
  return
}
