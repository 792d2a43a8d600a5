// RUN: nn-opt %s -nn-plan-memory | FileCheck %s
// An allocation used only through views at constant offsets (the gradient
// buffer of a flat optimizer update) is placed piece by piece: a byte is
// reserved from the first view that covers it until the allocation's last
// use. %t dies before the second half of %slab is first used, so it shares
// that half's memory, and the arena is the persistent 64 bytes + 512 (as
// one piece, %slab would be live from its first view on: 64 + 512 + 256).

// CHECK: nn.arena_bytes = 576 : i64
// CHECK-LABEL: func.func @nnc_f
// CHECK: %[[SLAB:.*]] = memref.view %arg0[%c64][] : memref<?xi8> to memref<512xi8>
// CHECK: %[[T:.*]] = memref.view %arg0[%c320][] : memref<?xi8> to memref<64xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[T]] : memref<64xf32>)
// CHECK: %[[G1:.*]] = memref.view %[[SLAB]][%c0][] : memref<512xi8> to memref<64xf32>
// CHECK: linalg.copy ins(%[[T]] : memref<64xf32>) outs(%[[G1]] : memref<64xf32>)
// CHECK: %[[G2:.*]] = memref.view %[[SLAB]][%c256][] : memref<512xi8> to memref<64xf32>
module @m attributes {nn.model, nn.persistent_bytes = 64 : i64} {
  func.func @nnc_f(%arg0: memref<?xi8>) attributes {llvm.emit_c_interface} {
    %cst = arith.constant 1.0 : f32
    %c0 = arith.constant 0 : index
    %c256 = arith.constant 256 : index
    %slab = memref.alloc() {alignment = 64 : i64} : memref<512xi8>
    %t = memref.alloc() {alignment = 64 : i64} : memref<64xf32>
    linalg.fill ins(%cst : f32) outs(%t : memref<64xf32>)
    %g1 = memref.view %slab[%c0][] : memref<512xi8> to memref<64xf32>
    linalg.copy ins(%t : memref<64xf32>) outs(%g1 : memref<64xf32>)
    %g2 = memref.view %slab[%c256][] : memref<512xi8> to memref<64xf32>
    linalg.fill ins(%cst : f32) outs(%g2 : memref<64xf32>)
    %all = memref.view %slab[%c0][] : memref<512xi8> to memref<128xf32>
    %out = memref.view %arg0[%c0][] : memref<?xi8> to memref<128xf32>
    linalg.copy ins(%all : memref<128xf32>) outs(%out : memref<128xf32>)
    return
  }
}
