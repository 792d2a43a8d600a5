// The entry point of a minimal GPU artifact (test/runtime/gpu-artifact.test):
// forward.y = relu(forward.x), 64 floats at bytes 0 and 256 of the arena.
module {
  func.func @nnc_forward(%arena: memref<?xi8>) attributes {llvm.emit_c_interface} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %c256 = arith.constant 256 : index
    %z = arith.constant 0.0 : f32
    %x = memref.view %arena[%c0][] : memref<?xi8> to memref<64xf32>
    %y = memref.view %arena[%c256][] : memref<?xi8> to memref<64xf32>
    scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
      %v = memref.load %x[%i] : memref<64xf32>
      %r = arith.maximumf %v, %z : f32
      memref.store %r, %y[%i] : memref<64xf32>
      scf.reduce
    }
    return
  }
}
