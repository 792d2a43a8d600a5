// -nn-outline-kernels: each kernel nest of an entry point becomes a call of a
// noinline function taking the buffers it touches; two layers' kernels that
// differ only in their buffers and names are one function; a buffer written in
// place of another (same arena bytes, same type) is one argument; buffers that
// overlap no other argument are listed for llvm.noalias (nn.noalias_pointers:
// the aligned pointer of each, 3 + 2 * rank LLVM arguments per memref).
// RUN: %nn-opt -nn-outline-kernels %s | FileCheck %s

module {
  func.func @nnc_step(%arena: memref<?xi8>) attributes {llvm.emit_c_interface} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    %c16 = arith.constant 16 : index
    %c64 = arith.constant 64 : index
    %c128 = arith.constant 128 : index
    %two = arith.constant 2.0 : f32
    %a = memref.view %arena[%c0][] : memref<?xi8> to memref<8xf32>
    %b = memref.view %arena[%c64][] : memref<?xi8> to memref<8xf32>
    %c = memref.view %arena[%c128][] : memref<?xi8> to memref<8xf32>
    %c_out = memref.view %arena[%c128][] : memref<?xi8> to memref<8xf32>
    %a_half = memref.view %arena[%c16][] : memref<?xi8> to memref<4xf32>
    scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
      %x = memref.load %a[%i] : memref<8xf32>
      %y = arith.mulf %x, %two : f32
      memref.store %y, %b[%i] : memref<8xf32>
      scf.reduce
    } {nn.kernel = "k0_l1", nn.layer = "l1"}
    scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
      %x = memref.load %b[%i] : memref<8xf32>
      %y = arith.mulf %x, %two : f32
      memref.store %y, %c[%i] : memref<8xf32>
      scf.reduce
    } {nn.kernel = "k1_l2", nn.layer = "l2"}
    scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
      %x = memref.load %c[%i] : memref<8xf32>
      %y = memref.load %b[%i] : memref<8xf32>
      %z = arith.addf %x, %y : f32
      memref.store %z, %c_out[%i] : memref<8xf32>
      scf.reduce
    } {nn.kernel = "k2_l3", nn.layer = "l3"}
    scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
      %x = memref.load %a[%i] : memref<8xf32>
      %j = arith.remui %i, %c8 : index
      %k = arith.divui %j, %c8 : index
      %y = memref.load %b[%i] : memref<8xf32>
      memref.store %y, %a_half[%k] : memref<4xf32>
      scf.reduce
    } {nn.kernel = "k3_l4"}
    return
  }
}

// CHECK-LABEL: func.func private @nnc_step_k0_l1(%arg0: memref<8xf32>, %arg1: memref<8xf32>)
// CHECK-SAME: llvm.linkage = #llvm.linkage<internal>, nn.noalias_pointers = array<i64: 1, 6>, passthrough = ["noinline"]
// CHECK: arith.constant 2.000000e+00
// CHECK: scf.parallel
// CHECK-NOT: nn.kernel
// CHECK: return
// The second layer's kernel is the first's function.
// CHECK-NOT: func.func private @nnc_step_k1_l2
// In place: c is read and written through one argument.
// CHECK-LABEL: func.func private @nnc_step_k2_l3(%arg0: memref<8xf32>, %arg1: memref<8xf32>)
// CHECK-SAME: nn.noalias_pointers = array<i64: 1, 6>
// CHECK: memref.load %arg0
// CHECK: memref.load %arg1
// CHECK: memref.store %{{.*}}, %arg0
// Overlapping buffers of different types: neither is noalias, the third is.
// CHECK-LABEL: func.func private @nnc_step_k3_l4(%arg0: memref<8xf32>, %arg1: memref<8xf32>, %arg2: memref<4xf32>)
// CHECK-SAME: nn.noalias_pointers = array<i64: 6>
// CHECK-LABEL: func.func @nnc_step
// CHECK-NOT: scf.parallel
// CHECK: call @nnc_step_k0_l1(%[[A:.*]], %[[B:.*]]) :
// CHECK: call @nnc_step_k0_l1(%[[B]], %[[C:.*]]) :
// CHECK: call @nnc_step_k2_l3(%[[C]], %[[B]]) :
// CHECK: call @nnc_step_k3_l4(%[[A]], %[[B]], %{{.*}}) :
