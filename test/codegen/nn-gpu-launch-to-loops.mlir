// RUN: nn-opt %s -split-input-file -nn-gpu-launch-to-loops -verify-diagnostics | FileCheck %s

// -nn-gpu-launch-to-loops: the CPU emulation of a mapped kernel. Each
// gpu.launch becomes loops over the block ids (x, y, z) and, inside them,
// the thread ids, bounded by the grid and block sizes; the body is inlined.

// CHECK-LABEL: func.func @copy(
// CHECK-NOT:     gpu.
// CHECK:         scf.for %[[BX:.*]] = %c0 to %c4 step %[[ONE:.*]] {
// CHECK-NEXT:      scf.for %{{.*}} = %c0 to %c1 step %[[ONE]] {
// CHECK-NEXT:        scf.for %{{.*}} = %c0 to %c1 step %[[ONE]] {
// CHECK-NEXT:          scf.for %[[TX:.*]] = %c0 to %c256 step %[[ONE]] {
// CHECK-NEXT:            scf.for %{{.*}} = %c0 to %c1 step %[[ONE]] {
// CHECK-NEXT:              scf.for %{{.*}} = %c0 to %c1 step %[[ONE]] {
// CHECK-NEXT:                %[[B:.*]] = arith.muli %[[BX]], %c256 : index
// CHECK-NEXT:                %[[I:.*]] = arith.addi %[[B]], %[[TX]] : index
// CHECK-NEXT:                %[[IN:.*]] = arith.cmpi slt, %[[I]], %c1000 : index
// CHECK-NEXT:                scf.if %[[IN]] {
// CHECK-NEXT:                  memref.load %{{.*}}[%[[I]]]
// CHECK-NEXT:                  memref.store
// CHECK-NEXT:                }
// CHECK-NEXT:              }
// CHECK:         } {nn.kernel = "k0_copy"}
// CHECK-NEXT:    return
func.func @copy(%a: memref<1000xf32>, %b: memref<1000xf32>) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c256 = arith.constant 256 : index
  %c1000 = arith.constant 1000 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %base = arith.muli %bx, %sx : index
    %i = arith.addi %base, %tx : index
    %in = arith.cmpi slt, %i, %c1000 : index
    scf.if %in {
      %v = memref.load %a[%i] : memref<1000xf32>
      memref.store %v, %b[%i] : memref<1000xf32>
    }
    gpu.terminator
  } {nn.kernel = "k0_copy"}
  return
}

// -----

// The id and size ops: gpu.block_id y is the second loop's index,
// gpu.thread_id z the sixth's, gpu.block_dim x and gpu.grid_dim y the
// launch's sizes.
// CHECK-LABEL: func.func @ids(
// CHECK:         scf.for %{{.*}} = %c0 to %c2
// CHECK-NEXT:      scf.for %[[BY:.*]] = %c0 to %c2
// CHECK-NEXT:        scf.for %{{.*}} = %c0 to %c2
// CHECK-NEXT:          scf.for %{{.*}} = %c0 to %c4
// CHECK-NEXT:            scf.for %{{.*}} = %c0 to %c3
// CHECK-NEXT:              scf.for %[[TZ:.*]] = %c0 to %c5
// CHECK-NEXT:                %[[S:.*]] = arith.addi %c4, %c2 : index
// CHECK-NEXT:                memref.store %[[S]], %{{.*}}[%[[BY]], %[[TZ]]]
func.func @ids(%a: memref<4x8xindex>) {
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c5 = arith.constant 5 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c2, %gz = %c2)
             threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c3, %sz = %c5) {
    %b = gpu.block_id y
    %t = gpu.thread_id z
    %d = gpu.block_dim x
    %g = gpu.grid_dim y
    %s = arith.addi %d, %g : index
    memref.store %s, %a[%b, %t] : memref<4x8xindex>
    gpu.terminator
  }
  return
}

// -----

// Threads that synchronise cannot run one after another.
func.func @barrier(%a: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %cst = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    memref.store %cst, %a[%tx] : memref<64xf32>
    // expected-error @+1 {{cannot run a kernel whose threads synchronise (gpu.barrier) as loops}}
    gpu.barrier
    gpu.terminator
  }
  return
}

// -----

// Nor can threads that share memory.
func.func @shared(%a: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  // expected-error @+1 {{cannot run a kernel with shared memory as loops: its threads share memory within a block}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1)
             workgroup(%tile : memref<64xf32, #gpu.address_space<workgroup>>) {
    %v = memref.load %tile[%tx] : memref<64xf32, #gpu.address_space<workgroup>>
    memref.store %v, %a[%tx] : memref<64xf32>
    gpu.terminator
  }
  return
}

// -----

// Or exchange registers within a warp.
func.func @shuffle(%a: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c1_i32 = arith.constant 1 : i32
  %c32_i32 = arith.constant 32 : i32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<64xf32>
    // expected-error @+1 {{cannot run 'gpu.shuffle' of a kernel as loops}}
    %s, %ok = gpu.shuffle xor %v, %c1_i32, %c32_i32 : f32
    memref.store %s, %a[%tx] : memref<64xf32>
    gpu.terminator
  }
  return
}
