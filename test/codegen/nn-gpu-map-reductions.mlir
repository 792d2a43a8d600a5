// RUN: nn-opt %s -split-input-file -nn-gpu-map | FileCheck %s
// RUN: nn-opt %s -split-input-file -nn-gpu-map=block-reductions=false | FileCheck %s --check-prefix=SERIAL

// -nn-gpu-map's block reductions: a tile body of reads, one reduction loop
// nest with simple combiners and stores of its results, with at least 64
// iterations, gets a block of threads per tile that share the iterations
// and combine with gpu.all_reduce; thread 0 adds the initial value and
// stores.

// A full reduction of 100 iterations with two accumulators (a loss's sum
// and count): one block of 128 threads (100 rounded up to warps); thread t
// starts from the identities (-0.0 for addf, 0 for addi) at iteration t,
// stepping by 128. Without block reductions: one thread.
// CHECK-LABEL: func.func @loss(
// CHECK-DAG:     %[[ZERO:.*]] = arith.constant -0.000000e+00 : f64
// CHECK-DAG:     %[[IZERO:.*]] = arith.constant 0 : i64
// CHECK:         gpu.launch blocks({{.*}}) in (%{{.*}} = %c1, %{{.*}} = %c1, %{{.*}} = %c1) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c128, %{{.*}} = %c1, %{{.*}} = %c1) {
// CHECK-NEXT:      %[[A0:.*]] = memref.load %{{.*}}[] : memref<f64>
// CHECK-NEXT:      %[[N0:.*]] = memref.load %{{.*}}[] : memref<i64>
// CHECK-NEXT:      %[[P:.*]]:2 = scf.for %[[K:.*]] = %[[TX]] to %c100 step %c128 iter_args(%[[A:.*]] = %[[ZERO]], %[[B:.*]] = %[[IZERO]]) -> (f64, i64) {
// CHECK-NEXT:        %[[V:.*]] = memref.load %{{.*}}[%[[K]]]
// CHECK-NEXT:        %[[W:.*]] = memref.load %{{.*}}[%[[K]]]
// CHECK-NEXT:        %[[S:.*]] = arith.addf %[[A]], %[[V]] : f64
// CHECK-NEXT:        %[[T:.*]] = arith.addi %[[W]], %[[B]] : i64
// CHECK-NEXT:        scf.yield %[[S]], %[[T]] : f64, i64
// CHECK-NEXT:      }
// CHECK-NEXT:      %[[RA:.*]] = gpu.all_reduce add %[[P]]#0 uniform {
// CHECK:           %[[RB:.*]] = gpu.all_reduce add %[[P]]#1 uniform {
// CHECK:           %[[FIRST:.*]] = arith.cmpi eq, %[[TX]], %c0 : index
// CHECK-NEXT:      scf.if %[[FIRST]] {
// CHECK-NEXT:        %[[FA:.*]] = arith.addf %[[A0]], %[[RA]] : f64
// CHECK-NEXT:        %[[FB:.*]] = arith.addi %[[RB]], %[[N0]] : i64
// CHECK-NEXT:        memref.store %[[FB]], %{{.*}}[] : memref<i64>
// CHECK-NEXT:        memref.store %[[FA]], %{{.*}}[] : memref<f64>
// CHECK-NEXT:      }
// CHECK-NEXT:      gpu.terminator
// CHECK-NEXT:    } {nn.kernel = "k4_loss"}
// SERIAL-LABEL: func.func @loss(
// SERIAL:         gpu.launch blocks({{.*}}) in (%{{.*}} = %c1, %{{.*}} = %c1, %{{.*}} = %c1) threads({{.*}}) in (%{{.*}} = %c1, %{{.*}} = %c1, %{{.*}} = %c1) {
// SERIAL-NOT:     gpu.all_reduce
// SERIAL:         } {nn.kernel = "k4_loss"}
func.func @loss(%x: memref<100xf64>, %n: memref<100xi64>, %acc: memref<f64>, %cnt: memref<i64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c100 = arith.constant 100 : index
  scf.parallel (%i) = (%c0) to (%c1) step (%c1) {
    %a0 = memref.load %acc[] : memref<f64>
    %n0 = memref.load %cnt[] : memref<i64>
    %r:2 = scf.for %k = %c0 to %c100 step %c1 iter_args(%a = %a0, %b = %n0) -> (f64, i64) {
      %v = memref.load %x[%k] : memref<100xf64>
      %w = memref.load %n[%k] : memref<100xi64>
      %s = arith.addf %a, %v : f64
      %t = arith.addi %w, %b : i64
      scf.yield %s, %t : f64, i64
    }
    memref.store %r#1, %cnt[] : memref<i64>
    memref.store %r#0, %acc[] : memref<f64>
    scf.reduce
  } {nn.kernel = "k4_loss"}
  return
}

// -----

// A per-channel reduction over [N, H*W] (batchnorm's statistics): a block
// of 256 threads per channel; the flattened index k of the 4 x 1024
// iterations is delinearized innermost fastest (consecutive threads read
// consecutive addresses); the reads in the loop that do not depend on it
// (the mean) are recomputed per iteration as before.
// CHECK-LABEL: func.func @channels(
// CHECK-DAG:     %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK:         gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c16, %{{.*}} = %c1, %{{.*}} = %c1) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c256, %{{.*}} = %c1, %{{.*}} = %c1) {
// CHECK-NEXT:      %[[INIT:.*]] = memref.load %{{.*}}[%[[BX]]] : memref<16xf32>
// CHECK-NEXT:      %[[P:.*]] = scf.for %[[K:.*]] = %[[TX]] to %c4096 step %c256 iter_args(%[[A:.*]] = %[[NEGINF]]) -> (f32) {
// CHECK-NEXT:        %[[N:.*]] = arith.divui %[[K]], %c1024 : index
// CHECK-NEXT:        %[[H:.*]] = arith.remui %[[K]], %c1024 : index
// CHECK-NEXT:        %[[MU:.*]] = memref.load %{{.*}}[%[[BX]]] : memref<16xf32>
// CHECK-NEXT:        %[[V:.*]] = memref.load %{{.*}}[%[[N]], %[[BX]], %[[H]]]
// CHECK-NEXT:        %[[D:.*]] = arith.subf %[[V]], %[[MU]] : f32
// CHECK-NEXT:        %[[M:.*]] = arith.maximumf %[[A]], %[[D]] : f32
// CHECK-NEXT:        scf.yield %[[M]] : f32
// CHECK-NEXT:      }
// CHECK-NEXT:      %[[R:.*]] = gpu.all_reduce maximumf %[[P]] uniform {
// CHECK:           scf.if
// CHECK-NEXT:        %[[F:.*]] = arith.maximumf %[[INIT]], %[[R]] : f32
// CHECK-NEXT:        memref.store %[[F]], %{{.*}}[%[[BX]]] : memref<16xf32>
func.func @channels(%x: memref<4x16x1024xf32>, %mean: memref<16xf32>, %max: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  %c1024 = arith.constant 1024 : index
  scf.parallel (%c) = (%c0) to (%c16) step (%c1) {
    %s0 = memref.load %max[%c] : memref<16xf32>
    %r = scf.for %n = %c0 to %c4 step %c1 iter_args(%a = %s0) -> (f32) {
      %q = scf.for %h = %c0 to %c1024 step %c1 iter_args(%b = %a) -> (f32) {
        %mu = memref.load %mean[%c] : memref<16xf32>
        %v = memref.load %x[%n, %c, %h] : memref<4x16x1024xf32>
        %d = arith.subf %v, %mu : f32
        %m = arith.maximumf %b, %d : f32
        scf.yield %m : f32
      }
      scf.yield %q : f32
    }
    memref.store %r, %max[%c] : memref<16xf32>
    scf.reduce
  } {nn.kernel = "k1_bn"}
  return
}

// -----

// Fewer than 64 iterations: one thread per output, as before.
// CHECK-LABEL: func.func @short(
// CHECK-NOT:     gpu.all_reduce
// CHECK:         return
func.func @short(%x: memref<63xf32>, %s: memref<f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c63 = arith.constant 63 : index
  scf.parallel (%i) = (%c0) to (%c1) step (%c1) {
    %init = memref.load %s[] : memref<f32>
    %r = scf.for %k = %c0 to %c63 step %c1 iter_args(%a = %init) -> f32 {
      %v = memref.load %x[%k] : memref<63xf32>
      %n = arith.addf %a, %v : f32
      scf.yield %n : f32
    }
    memref.store %r, %s[] : memref<f32>
    scf.reduce
  }
  return
}

// -----

// An argmax (the accumulators updated by selects) is no simple combiner:
// one thread per row, as before.
// CHECK-LABEL: func.func @argmax(
// CHECK-NOT:     gpu.all_reduce
// CHECK:         return
func.func @argmax(%x: memref<4x100xf32>, %m: memref<4xf32>, %i: memref<4xi64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c100 = arith.constant 100 : index
  scf.parallel (%row) = (%c0) to (%c4) step (%c1) {
    %m0 = memref.load %m[%row] : memref<4xf32>
    %i0 = memref.load %i[%row] : memref<4xi64>
    %r:2 = scf.for %k = %c0 to %c100 step %c1 iter_args(%best = %m0, %at = %i0) -> (f32, i64) {
      %v = memref.load %x[%row, %k] : memref<4x100xf32>
      %gt = arith.cmpf ogt, %v, %best : f32
      %nb = arith.select %gt, %v, %best : f32
      %ki = arith.index_cast %k : index to i64
      %na = arith.select %gt, %ki, %at : i64
      scf.yield %nb, %na : f32, i64
    }
    memref.store %r#0, %m[%row] : memref<4xf32>
    memref.store %r#1, %i[%row] : memref<4xi64>
    scf.reduce
  }
  return
}

// -----

// A store in the reduction loop: one thread per output, as before.
// CHECK-LABEL: func.func @writes(
// CHECK-NOT:     gpu.all_reduce
// CHECK:         return
func.func @writes(%x: memref<100xf32>, %s: memref<f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c100 = arith.constant 100 : index
  %cst = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%c1) step (%c1) {
    %init = memref.load %s[] : memref<f32>
    %r = scf.for %k = %c0 to %c100 step %c1 iter_args(%a = %init) -> f32 {
      %v = memref.load %x[%k] : memref<100xf32>
      memref.store %cst, %x[%k] : memref<100xf32>
      %n = arith.addf %a, %v : f32
      scf.yield %n : f32
    }
    memref.store %r, %s[] : memref<f32>
    scf.reduce
  }
  return
}
