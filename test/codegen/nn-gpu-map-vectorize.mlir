// RUN: nn-opt %s -split-input-file -nn-gpu-map | FileCheck %s
// RUN: nn-opt %s -split-input-file -nn-gpu-map=vector-width=1 | FileCheck %s --check-prefix=OFF
// RUN: not nn-opt %s -split-input-file -nn-gpu-map=vector-width=3 2>&1 | FileCheck %s --check-prefix=BAD

// -nn-gpu-map's vector-width (default 4): the element loop of an elementwise
// kernel on views of the arena gives each thread 4 consecutive elements of
// its innermost dimension, read and written with aligned vector ops.
// OFF-NOT: vector.
// BAD: nn-gpu-map: vector-width must be 1, 2, 4, 8 or 16

// A fused relu backward over views at 16-byte multiples: 4 lanes a thread,
// 64 threads a block instead of 256, 16-byte aligned loads and stores; the
// constant is broadcast.
// CHECK-LABEL: func.func @relu_bwd(
// CHECK:         gpu.launch blocks({{.*}}) in (%{{.*}} = %c16, %{{.*}} = %c1, %{{.*}} = %c1) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c64, %{{.*}} = %c1, %{{.*}} = %c1) {
// CHECK:           %[[L:.*]] = arith.muli %[[TX]], %c4 : index
// CHECK:           %[[I:.*]] = arith.addi %[[L]], %{{.*}} : index
// CHECK-NEXT:      %[[G:.*]] = vector.load %{{.*}}[%[[I]]] {alignment = 16 : i64} : memref<4096xf32>, vector<4xf32>
// CHECK-NEXT:      %[[X:.*]] = vector.load %{{.*}}[%[[I]]] {alignment = 16 : i64} : memref<4096xf32>, vector<4xf32>
// CHECK-NEXT:      %[[P:.*]] = arith.cmpf ogt, %[[X]], %{{.*}} : vector<4xf32>
// CHECK-NEXT:      %[[S:.*]] = arith.select %[[P]], %[[G]], %{{.*}} : vector<4xi1>, vector<4xf32>
// CHECK-NEXT:      vector.store %[[S]], %{{.*}}[%[[I]]] {alignment = 16 : i64} : memref<4096xf32>, vector<4xf32>
// CHECK-NEXT:      gpu.terminator
// CHECK-NEXT:    } {nn.kernel = "k0_relu_bwd"}
// OFF-LABEL: func.func @relu_bwd(
// OFF:         threads({{.*}}) in (%{{.*}} = %c256, %{{.*}} = %c1, %{{.*}} = %c1)
// OFF:         memref.load
func.func @relu_bwd(%arena: memref<?xi8>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %c4096 = arith.constant 4096 : index
  %c16384 = arith.constant 16384 : index
  %c32768 = arith.constant 32768 : index
  %zero = arith.constant 0.0 : f32
  %g = memref.view %arena[%c0][] : memref<?xi8> to memref<4096xf32>
  %x = memref.view %arena[%c16384][] : memref<?xi8> to memref<4096xf32>
  %y = memref.view %arena[%c32768][] : memref<?xi8> to memref<4096xf32>
  scf.parallel (%i) = (%c0) to (%c4096) step (%c256) {
    scf.parallel (%j) = (%c0) to (%c256) step (%c1) {
      %k = arith.addi %j, %i : index
      %gv = memref.load %g[%k] : memref<4096xf32>
      %xv = memref.load %x[%k] : memref<4096xf32>
      %p = arith.cmpf ogt, %xv, %zero : f32
      %r = arith.select %p, %gv, %zero : f32
      memref.store %r, %y[%k] : memref<4096xf32>
      scf.reduce
    }
    scf.reduce
  } {nn.kernel = "k0_relu_bwd"}
  return
}

// -----

// Rows of 128 plus a bias over the columns (vector loads of the innermost
// dimension, through a view of a view and a collapse_shape) times a scale
// per row (one scalar load, broadcast); exp on vectors; the i64 labels and
// the f64 sums load as 4 lanes of 8 bytes (32-byte alignment).
// CHECK-LABEL: func.func @rows(
// CHECK:         gpu.launch {{.*}} threads(%[[TX:.*]], %[[TY:.*]], %{{.*}}) in (%{{.*}} = %c32, %{{.*}} = %c2, %{{.*}} = %c1) {
// CHECK:           %[[C:.*]] = arith.muli %[[TX]], %c4 : index
// CHECK:           vector.load %{{.*}}[%[[R:.*]], %[[C]]] {alignment = 16 : i64} : memref<64x128xf32>, vector<4xf32>
// CHECK:           vector.load %{{.*}}[%[[C]]] {alignment = 16 : i64} : memref<128xf32>, vector<4xf32>
// CHECK:           %[[SCALE:.*]] = memref.load %{{.*}}[%[[R]]] : memref<64xf32>
// CHECK:           vector.broadcast %[[SCALE]] : f32 to vector<4xf32>
// CHECK:           math.exp %{{.*}} : vector<4xf32>
// CHECK:           vector.store %{{.*}}, %{{.*}}[%[[R]], %[[C]]] {alignment = 16 : i64} : memref<64x128xf32>, vector<4xf32>
// CHECK:           vector.load %{{.*}}[%[[R]], %[[C]]] {alignment = 32 : i64} : memref<64x128xi64>, vector<4xi64>
// CHECK:           arith.sitofp %{{.*}} : vector<4xi64> to vector<4xf64>
// CHECK:           vector.store %{{.*}}, %{{.*}}[%[[R]], %[[C]]] {alignment = 32 : i64} : memref<64x128xf64>, vector<4xf64>
func.func @rows(%arena: memref<?xi8>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c64 = arith.constant 64 : index
  %c128 = arith.constant 128 : index
  %c1024 = arith.constant 1024 : index
  %c32768 = arith.constant 32768 : index
  %c65536 = arith.constant 65536 : index
  %c131072 = arith.constant 131072 : index
  %c262144 = arith.constant 262144 : index
  %c512 = arith.constant 512 : index
  %params = memref.view %arena[%c1024][] : memref<?xi8> to memref<1024xi8>
  %bias = memref.view %params[%c512][] : memref<1024xi8> to memref<128xf32>
  %x = memref.view %arena[%c32768][] : memref<?xi8> to memref<64x128xf32>
  %flat = memref.view %arena[%c65536][] : memref<?xi8> to memref<8192xf32>
  %y = memref.expand_shape %flat [[0, 1]] output_shape [64, 128] : memref<8192xf32> into memref<64x128xf32>
  %scale = memref.view %arena[%c0][] : memref<?xi8> to memref<64xf32>
  %labels = memref.view %arena[%c131072][] : memref<?xi8> to memref<64x128xi64>
  %sums = memref.view %arena[%c262144][] : memref<?xi8> to memref<64x128xf64>
  scf.parallel (%i) = (%c0) to (%c64) step (%c2) {
    scf.parallel (%r, %c) = (%c0, %c0) to (%c2, %c128) step (%c1, %c1) {
      %row = arith.addi %i, %r : index
      %xv = memref.load %x[%row, %c] : memref<64x128xf32>
      %bv = memref.load %bias[%c] : memref<128xf32>
      %sv = memref.load %scale[%row] : memref<64xf32>
      %a = arith.addf %xv, %bv : f32
      %m = arith.mulf %a, %sv : f32
      %e = math.exp %m : f32
      memref.store %e, %y[%row, %c] : memref<64x128xf32>
      %l = memref.load %labels[%row, %c] : memref<64x128xi64>
      %f = arith.sitofp %l : i64 to f64
      memref.store %f, %sums[%row, %c] : memref<64x128xf64>
      scf.reduce
    }
    scf.reduce
  } {nn.kernel = "k1_rows"}
  return
}

// -----

// A view at byte offset 600 (a multiple of 8, not 16) and a block of 64
// elements (16 threads at 4 lanes): 2 lanes, 32 threads, 8-byte alignment.
// A ragged tile (min(256, 1000 - tile)) whose terms are multiples of 4 keeps
// a ragged bound of whole vectors.
// CHECK-LABEL: func.func @narrow(
// CHECK:         threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c32, %{{.*}} = %c1, %{{.*}} = %c1)
// CHECK:           arith.muli %[[TX]], %c2 : index
// CHECK:           vector.load {{.*}} {alignment = 8 : i64} : memref<64xf32>, vector<2xf32>
// CHECK:         threads(%[[TX2:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c64, %{{.*}} = %c1, %{{.*}} = %c1)
// CHECK:           %[[N:.*]] = affine.min #{{.*}}()[%{{.*}}]
// CHECK-NEXT:      arith.cmpi slt, %[[TX2]], %[[N]] : index
// CHECK:             vector.store {{.*}} {alignment = 16 : i64} : memref<1000xf32>, vector<4xf32>
func.func @narrow(%arena: memref<?xi8>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c256 = arith.constant 256 : index
  %c600 = arith.constant 600 : index
  %c1000 = arith.constant 1000 : index
  %c4096 = arith.constant 4096 : index
  %cst = arith.constant 1.0 : f32
  %a = memref.view %arena[%c600][] : memref<?xi8> to memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c1) step (%c1) {
    scf.parallel (%j) = (%c0) to (%c64) step (%c1) {
      %v = memref.load %a[%j] : memref<64xf32>
      %w = arith.addf %v, %cst : f32
      memref.store %w, %a[%j] : memref<64xf32>
      scf.reduce
    }
    scf.reduce
  }
  %b = memref.view %arena[%c4096][] : memref<?xi8> to memref<1000xf32>
  scf.parallel (%i) = (%c0) to (%c1000) step (%c256) {
    %n = affine.min affine_map<(d0) -> (256, -d0 + 1000)>(%i)
    scf.parallel (%j) = (%c0) to (%n) step (%c1) {
      %k = arith.addi %i, %j : index
      memref.store %cst, %b[%k] : memref<1000xf32>
      scf.reduce
    }
    scf.reduce
  }
  return
}

// -----

// Left scalar, one nest each: a view at a byte offset that is only a
// multiple of 4; an innermost extent of 99 (odd); a ragged tile over 1001
// elements (its last tile has 233); a block of 32 threads (no lanes left);
// the innermost index in a leading subscript (a transpose); a window loop
// (scf.for) in the body; a memref that is not a view of the arena (a
// function argument: its alignment is unknown); a store of every lane to
// one address.
// CHECK-LABEL: func.func @scalar(
// CHECK-NOT:     vector.
// CHECK:         return
func.func @scalar(%arena: memref<?xi8>, %arg: memref<1024xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %c99 = arith.constant 99 : index
  %c256 = arith.constant 256 : index
  %c1001 = arith.constant 1002 : index
  %c1024 = arith.constant 1024 : index
  %c8192 = arith.constant 8192 : index
  %cst = arith.constant 1.0 : f32
  %odd = memref.view %arena[%c4][] : memref<?xi8> to memref<1024xf32>
  scf.parallel (%i) = (%c0) to (%c1024) step (%c256) {
    scf.parallel (%j) = (%c0) to (%c256) step (%c1) {
      %k = arith.addi %i, %j : index
      memref.store %cst, %odd[%k] : memref<1024xf32>
      scf.reduce
    }
    scf.reduce
  }
  %m = memref.view %arena[%c0][] : memref<?xi8> to memref<4x99xf32>
  scf.parallel (%i) = (%c0) to (%c1) step (%c1) {
    scf.parallel (%r, %c) = (%c0, %c0) to (%c4, %c99) step (%c1, %c1) {
      memref.store %cst, %m[%r, %c] : memref<4x99xf32>
      scf.reduce
    }
    scf.reduce
  }
  %v = memref.view %arena[%c0][] : memref<?xi8> to memref<1001xf32>
  scf.parallel (%i) = (%c0) to (%c1001) step (%c256) {
    %n = affine.min affine_map<(d0) -> (256, -d0 + 1001)>(%i)
    scf.parallel (%j) = (%c0) to (%n) step (%c1) {
      %k = arith.addi %i, %j : index
      memref.store %cst, %v[%k] : memref<1001xf32>
      scf.reduce
    }
    scf.reduce
  }
  %few = memref.view %arena[%c0][] : memref<?xi8> to memref<32xf32>
  scf.parallel (%i) = (%c0) to (%c1) step (%c1) {
    scf.parallel (%j) = (%c0) to (%c32) step (%c1) {
      memref.store %cst, %few[%j] : memref<32xf32>
      scf.reduce
    }
    scf.reduce
  }
  %t = memref.view %arena[%c0][] : memref<?xi8> to memref<64x64xf32>
  %u = memref.view %arena[%c8192][] : memref<?xi8> to memref<64x64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    scf.parallel (%j) = (%c0) to (%c64) step (%c1) {
      %x = memref.load %t[%j, %i] : memref<64x64xf32>
      memref.store %x, %u[%i, %j] : memref<64x64xf32>
      scf.reduce
    }
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c1024) step (%c256) {
    scf.parallel (%j) = (%c0) to (%c256) step (%c1) {
      %k = arith.addi %i, %j : index
      %x0 = memref.load %u[%c0, %c0] : memref<64x64xf32>
      %s = scf.for %w = %c0 to %c2 step %c1 iter_args(%acc = %x0) -> (f32) {
        %y = arith.addf %acc, %cst : f32
        scf.yield %y : f32
      }
      memref.store %s, %odd[%k] : memref<1024xf32>
      scf.reduce
    }
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c1024) step (%c256) {
    scf.parallel (%j) = (%c0) to (%c256) step (%c1) {
      %k = arith.addi %i, %j : index
      memref.store %cst, %arg[%k] : memref<1024xf32>
      scf.reduce
    }
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c1024) step (%c256) {
    scf.parallel (%j) = (%c0) to (%c256) step (%c1) {
      %k = arith.addi %i, %j : index
      %x = memref.load %u[%c0, %j] : memref<64x64xf32>
      memref.store %x, %t[%c0, %c0] : memref<64x64xf32>
      scf.reduce
    }
    scf.reduce
  }
  return
}

// -----

// The element index as a value (a dropout mask hashes it): lane l of a
// thread computes with first + l.
// CHECK-LABEL: func.func @index(
// CHECK:           %[[F:.*]] = arith.addi %{{.*}}, %{{.*}} : index
// CHECK:           %[[B:.*]] = vector.broadcast %[[F]] : index to vector<4xindex>
// CHECK:           %[[I:.*]] = arith.addi %[[B]], %{{.*}} : vector<4xindex>
// CHECK:           arith.index_cast %[[I]] : vector<4xindex> to vector<4xi64>
// CHECK:           vector.store {{.*}}[%[[F]]] {alignment = 32 : i64} : memref<1024xi64>, vector<4xi64>
func.func @index(%arena: memref<?xi8>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %c1024 = arith.constant 1024 : index
  %a = memref.view %arena[%c0][] : memref<?xi8> to memref<1024xi64>
  scf.parallel (%i) = (%c0) to (%c1024) step (%c256) {
    scf.parallel (%j) = (%c0) to (%c256) step (%c1) {
      %k = arith.addi %i, %j : index
      %h = arith.index_cast %k : index to i64
      memref.store %h, %a[%k] : memref<1024xi64>
      scf.reduce
    }
    scf.reduce
  }
  return
}
