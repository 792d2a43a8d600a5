// RUN: nn-opt %s -split-input-file -nn-plan-memory | FileCheck %s
// -nn-plan-memory lets the result of an elementwise generated kernel take
// over the memory of an input of the same type that dies in that kernel (the
// kernel reads each element before it writes the same element), and records
// it in the plan (`in_place_of`: the row of the input). Arena: the
// persistent 64 bytes + one 256-byte buffer instead of two.

// CHECK-LABEL: module @in_place
// CHECK-SAME: nn.arena_bytes = 320 : i64
// CHECK-SAME: nn.memplan = [{buffers = [{bytes = 256 : i64, first = 0 : i64, kind = "temporary", last = 1 : i64, layer = "", offset = 64 : i64, step = ""}, {bytes = 256 : i64, first = 1 : i64, in_place_of = 0 : i64, kind = "temporary", last = 2 : i64, layer = "", offset = 64 : i64, step = ""}]
// CHECK: %[[A:.*]] = memref.view %arg0[%c64][] : memref<?xi8> to memref<64xf32>
// CHECK: %[[B:.*]] = memref.view %arg0[%c64{{.*}}][] : memref<?xi8> to memref<64xf32>
// CHECK: linalg.generic {{.*}} ins(%[[A]] : memref<64xf32>) outs(%[[B]] : memref<64xf32>)
module @in_place attributes {nn.model, nn.persistent_bytes = 64 : i64} {
  func.func @nnc_f(%arg0: memref<?xi8>) attributes {llvm.emit_c_interface} {
    %cst = arith.constant 1.0 : f32
    %c0 = arith.constant 0 : index
    %a = memref.alloc() {alignment = 64 : i64} : memref<64xf32>
    linalg.fill {nn.kernel = "k0"} ins(%cst : f32) outs(%a : memref<64xf32>)
    %b = memref.alloc() {alignment = 64 : i64} : memref<64xf32>
    linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                    iterator_types = ["parallel"]}
        ins(%a : memref<64xf32>) outs(%b : memref<64xf32>) attrs = {nn.kernel = "k1"} {
    ^bb0(%x: f32, %y: f32):
      %s = arith.mulf %x, %x : f32
      linalg.yield %s : f32
    }
    %out = memref.view %arg0[%c0][] : memref<?xi8> to memref<64xf32>
    linalg.copy {nn.kernel = "k2"} ins(%b : memref<64xf32>) outs(%out : memref<64xf32>)
    return
  }
}

// -----

// The input is read again after the kernel: two buffers.
// CHECK-LABEL: module @read_later
// CHECK-SAME: nn.arena_bytes = 576 : i64
// CHECK-NOT: in_place_of
// CHECK: func.func
module @read_later attributes {nn.model, nn.persistent_bytes = 64 : i64} {
  func.func @nnc_f(%arg0: memref<?xi8>) attributes {llvm.emit_c_interface} {
    %cst = arith.constant 1.0 : f32
    %c0 = arith.constant 0 : index
    %a = memref.alloc() {alignment = 64 : i64} : memref<64xf32>
    linalg.fill {nn.kernel = "k0"} ins(%cst : f32) outs(%a : memref<64xf32>)
    %b = memref.alloc() {alignment = 64 : i64} : memref<64xf32>
    linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                    iterator_types = ["parallel"]}
        ins(%a : memref<64xf32>) outs(%b : memref<64xf32>) attrs = {nn.kernel = "k1"} {
    ^bb0(%x: f32, %y: f32):
      %s = arith.mulf %x, %x : f32
      linalg.yield %s : f32
    }
    %out = memref.view %arg0[%c0][] : memref<?xi8> to memref<64xf32>
    linalg.add {nn.kernel = "k2"} ins(%a, %b : memref<64xf32>, memref<64xf32>) outs(%out : memref<64xf32>)
    return
  }
}

// -----

// A transpose reads other elements than it writes: two buffers.
// CHECK-LABEL: module @transpose
// CHECK-SAME: nn.arena_bytes = 576 : i64
// CHECK-NOT: in_place_of
// CHECK: func.func
module @transpose attributes {nn.model, nn.persistent_bytes = 64 : i64} {
  func.func @nnc_f(%arg0: memref<?xi8>) attributes {llvm.emit_c_interface} {
    %cst = arith.constant 1.0 : f32
    %c0 = arith.constant 0 : index
    %a = memref.alloc() {alignment = 64 : i64} : memref<8x8xf32>
    linalg.fill {nn.kernel = "k0"} ins(%cst : f32) outs(%a : memref<8x8xf32>)
    %b = memref.alloc() {alignment = 64 : i64} : memref<8x8xf32>
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                    iterator_types = ["parallel", "parallel"]}
        ins(%a : memref<8x8xf32>) outs(%b : memref<8x8xf32>) attrs = {nn.kernel = "k1"} {
    ^bb0(%x: f32, %y: f32):
      linalg.yield %x : f32
    }
    %out = memref.view %arg0[%c0][] : memref<?xi8> to memref<8x8xf32>
    linalg.copy {nn.kernel = "k2"} ins(%b : memref<8x8xf32>) outs(%out : memref<8x8xf32>)
    return
  }
}

// -----

// The body also loads from the input at another index (a shift): two
// buffers.
// CHECK-LABEL: module @gather
// CHECK-SAME: nn.arena_bytes = 576 : i64
// CHECK-NOT: in_place_of
// CHECK: func.func
module @gather attributes {nn.model, nn.persistent_bytes = 64 : i64} {
  func.func @nnc_f(%arg0: memref<?xi8>) attributes {llvm.emit_c_interface} {
    %cst = arith.constant 1.0 : f32
    %c0 = arith.constant 0 : index
    %c63 = arith.constant 63 : index
    %a = memref.alloc() {alignment = 64 : i64} : memref<64xf32>
    linalg.fill {nn.kernel = "k0"} ins(%cst : f32) outs(%a : memref<64xf32>)
    %b = memref.alloc() {alignment = 64 : i64} : memref<64xf32>
    linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                    iterator_types = ["parallel"]}
        ins(%a : memref<64xf32>) outs(%b : memref<64xf32>) attrs = {nn.kernel = "k1"} {
    ^bb0(%x: f32, %y: f32):
      %i = linalg.index 0 : index
      %j = arith.subi %c63, %i : index
      %other = memref.load %a[%j] : memref<64xf32>
      %s = arith.addf %x, %other : f32
      linalg.yield %s : f32
    }
    %out = memref.view %arg0[%c0][] : memref<?xi8> to memref<64xf32>
    linalg.copy {nn.kernel = "k2"} ins(%b : memref<64xf32>) outs(%out : memref<64xf32>)
    return
  }
}

// -----

// A reduction (the result reads the input along a reduced dimension): two
// buffers, although the types match.
// CHECK-LABEL: module @reduction
// CHECK-SAME: nn.arena_bytes = 576 : i64
// CHECK-NOT: in_place_of
// CHECK: func.func
module @reduction attributes {nn.model, nn.persistent_bytes = 64 : i64} {
  func.func @nnc_f(%arg0: memref<?xi8>) attributes {llvm.emit_c_interface} {
    %cst = arith.constant 1.0 : f32
    %c0 = arith.constant 0 : index
    %a = memref.alloc() {alignment = 64 : i64} : memref<64xf32>
    linalg.fill {nn.kernel = "k0"} ins(%cst : f32) outs(%a : memref<64xf32>)
    %b = memref.alloc() {alignment = 64 : i64} : memref<64xf32>
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0)>],
                    iterator_types = ["parallel", "reduction"]}
        ins(%a : memref<64xf32>) outs(%b : memref<64xf32>) attrs = {nn.kernel = "k1"} {
    ^bb0(%x: f32, %y: f32):
      %s = arith.addf %x, %y : f32
      linalg.yield %s : f32
    }
    %out = memref.view %arg0[%c0][] : memref<?xi8> to memref<64xf32>
    linalg.copy {nn.kernel = "k2"} ins(%b : memref<64xf32>) outs(%out : memref<64xf32>)
    return
  }
}
