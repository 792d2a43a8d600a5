// RUN: nn-opt %s -split-input-file -nn-gpu-map -verify-diagnostics

// Kernel nests that -nn-gpu-map cannot map are errors, never loops left on
// the host.

func.func @unknown(%a: memref<?xf32>, %n: index, %m: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %cst = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c4) {
    // expected-error @+1 {{cannot map an element loop of unknown size to GPU threads}}
    scf.parallel (%j) = (%c0) to (%m) step (%c1) {
      %k = arith.addi %i, %j : index
      memref.store %cst, %a[%k] : memref<?xf32>
      scf.reduce
    }
    scf.reduce
  }
  return
}

// -----

func.func @big(%a: memref<4096xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2048 = arith.constant 2048 : index
  %c4096 = arith.constant 4096 : index
  %cst = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%c4096) step (%c2048) {
    // expected-error @+1 {{this kernel's tile has 2048 elements, more than the 1024 threads a GPU block may have}}
    scf.parallel (%j) = (%c0) to (%c2048) step (%c1) {
      %k = arith.addi %i, %j : index
      memref.store %cst, %a[%k] : memref<4096xf32>
      scf.reduce
    }
    scf.reduce
  }
  return
}

// -----

func.func @hidden(%a: memref<64x64xf32>, %flag: i1) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %cst = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    scf.if %flag {
      // expected-error @+1 {{this parallel loop is neither a kernel's tile loop nor its element loop: it cannot be mapped to the GPU}}
      scf.parallel (%j) = (%c0) to (%c64) step (%c1) {
        memref.store %cst, %a[%i, %j] : memref<64x64xf32>
        scf.reduce
      }
    }
    scf.reduce
  }
  return
}

// -----

// 70000 tiles in a grid's y dimension (the innermost goes to x).
func.func @tall(%a: memref<70000x512xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %c512 = arith.constant 512 : index
  %c70000 = arith.constant 70000 : index
  %cst = arith.constant 0.0 : f32
  // expected-error @+1 {{this kernel's tile loop has 70000 iterations in dimension 0, more than the 65535 blocks of a GPU grid's y and z}}
  scf.parallel (%i, %t) = (%c0, %c0) to (%c70000, %c512) step (%c1, %c256) {
    scf.parallel (%j) = (%c0) to (%c256) step (%c1) {
      %k = arith.addi %t, %j : index
      memref.store %cst, %a[%i, %k] : memref<70000x512xf32>
      scf.reduce
    }
    scf.reduce
  }
  return
}
