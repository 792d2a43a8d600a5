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

// -----

// gpu.all_reduce at the top level of the body (-nn-gpu-map's block
// reductions): the body runs in phases, each a loop over the block's
// threads. Phase 0 keeps each thread's operand in a buffer of the block's
// size (by linear thread id) and spills the loaded value that phase 1 uses
// (a load cannot be recomputed there); between the phases the block's
// value is combined in upstream's order: each warp's lanes pairwise at
// distances 1, 2, 4, 8, 16 where the partner lane is below the warp's
// width, then the warps' values the same way. The buffers are allocated at
// the start of the function.
// CHECK-LABEL: func.func @all_reduce(
// CHECK-DAG:     %[[PARTIALS:.*]] = memref.alloca() : memref<40xf32>
// CHECK-DAG:     %[[LANES:.*]] = memref.alloca() : memref<32xf32>
// CHECK-DAG:     %[[WARPS:.*]] = memref.alloca() : memref<32xf32>
// CHECK-DAG:     %[[SPILL:.*]] = memref.alloca() : memref<40xf32>
// CHECK:         scf.for %[[BX:.*]] = %{{.*}} to %c3 step %{{.*}} {
// CHECK-NEXT:      scf.for
// CHECK-NEXT:        scf.for
// CHECK-NEXT:          scf.for %[[TX:.*]] = %{{.*}} to %c40 step %{{.*}} {
// CHECK-NEXT:            scf.for
// CHECK-NEXT:              scf.for
// CHECK:                     %[[T:.*]] = arith.addi %{{.*}}, %[[TX]] : index
// CHECK-NEXT:                %[[INIT:.*]] = memref.load %{{.*}}[%[[BX]]]
// CHECK-NEXT:                memref.store %[[INIT]], %[[SPILL]][%[[T]]]
// CHECK-NEXT:                %[[V:.*]] = memref.load %{{.*}}[%[[BX]], %[[TX]]]
// CHECK-NEXT:                memref.store %[[V]], %[[PARTIALS]][%[[T]]]
// CHECK:                   %[[WARPSN:.*]] = arith.ceildivui %c40{{.*}}, %c32 : index
// CHECK:                   scf.for %[[W:.*]] = %{{.*}} to %[[WARPSN]]
// CHECK:                     %[[WIDTH:.*]] = arith.minui
// CHECK:                     memref.load %[[PARTIALS]]
// CHECK-NEXT:                memref.store %{{.*}}, %[[LANES]]
// CHECK:                     scf.for %[[L:.*]] = %{{.*}} to %c32{{.*}} step %c2
// CHECK-NEXT:                  %[[P:.*]] = arith.addi %[[L]], %c1
// CHECK-NEXT:                  %[[OK:.*]] = arith.cmpi ult, %[[P]], %[[WIDTH]]
// CHECK-NEXT:                  scf.if %[[OK]] {
// CHECK-NEXT:                    %[[A:.*]] = memref.load %[[LANES]][%[[L]]]
// CHECK-NEXT:                    %[[B:.*]] = memref.load %[[LANES]][%[[P]]]
// CHECK-NEXT:                    %[[S:.*]] = arith.addf %[[A]], %[[B]] : f32
// CHECK-NEXT:                    memref.store %[[S]], %[[LANES]][%[[L]]]
// CHECK:                     step %c16
// CHECK:                     memref.store %{{.*}}, %[[WARPS]][%[[W]]]
// CHECK:                   scf.for
// CHECK:                     arith.cmpi ult, %{{.*}}, %[[WARPSN]]
// CHECK:                   %[[SUM:.*]] = memref.load %[[WARPS]][%c0
// CHECK-NEXT:              scf.for %[[TX2:.*]] = %{{.*}} to %c40 step %{{.*}} {
// CHECK:                     %[[T2:.*]] = arith.addi %{{.*}}, %[[TX2]] : index
// CHECK-NEXT:                %[[FIRST:.*]] = arith.cmpi eq, %[[TX2]], %c0
// CHECK-NEXT:                %[[INIT2:.*]] = memref.load %[[SPILL]][%[[T2]]]
// CHECK-NEXT:                scf.if %[[FIRST]] {
// CHECK-NEXT:                  %[[R:.*]] = arith.addf %[[INIT2]], %[[SUM]] : f32
// CHECK-NEXT:                  memref.store %[[R]], %{{.*}}[%[[BX]]]
// CHECK:         } {nn.kernel = "k0_sum"}
func.func @all_reduce(%a: memref<3x40xf32>, %s: memref<3xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c40 = arith.constant 40 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c3, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c40, %sy = %c1, %sz = %c1) {
    %init = memref.load %s[%bx] : memref<3xf32>
    %v = memref.load %a[%bx, %tx] : memref<3x40xf32>
    %sum = gpu.all_reduce add %v uniform {} : (f32) -> f32
    %first = arith.cmpi eq, %tx, %c0 : index
    scf.if %first {
      %r = arith.addf %init, %sum : f32
      memref.store %r, %s[%bx] : memref<3xf32>
    }
    gpu.terminator
  } {nn.kernel = "k0_sum"}
  return
}

// -----

// An all-reduce inside a region of the body (upstream's lowering cannot
// split such a region into blocks either).
func.func @nested_all_reduce(%a: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %true = arith.constant true
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<64xf32>
    scf.if %true {
      // expected-error @+1 {{cannot run a gpu.all_reduce inside a region of its kernel as loops (only at the top level of the gpu.launch body)}}
      %s = gpu.all_reduce add %v uniform {} : (f32) -> f32
      memref.store %s, %a[%tx] : memref<64xf32>
    }
    gpu.terminator
  }
  return
}

// -----

// A memref value computed before an all-reduce and used after it can be
// neither recomputed (an allocation) nor kept in a buffer of scalars.
func.func @memref_across(%a: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    // expected-error @+1 {{cannot run this kernel as loops: its value of type 'memref<2xf32>' is used across a gpu.all_reduce}}
    %m = memref.alloca() : memref<2xf32>
    %v = memref.load %a[%tx] : memref<64xf32>
    %s = gpu.all_reduce add %v uniform {} : (f32) -> f32
    memref.store %s, %m[%c1] : memref<2xf32>
    gpu.terminator
  }
  return
}
