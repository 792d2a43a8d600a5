// RUN: nn-opt %s -split-input-file -verify-diagnostics -nn-lower-to-buffers | FileCheck %s
// An nn.kernel is inlined: its body's block arguments are the buffers of its
// inputs, every bufferized linalg op is tagged with the kernel's name, and
// the kernel's results are the buffers its body yields.

// CHECK-LABEL: func.func @nnc_forward
// CHECK: %[[X:.*]] = memref.view {{.*}} to memref<2x3xf32>
// CHECK: %[[IDX:.*]] = memref.view {{.*}} to memref<2xi64>
// CHECK-NOT: nn.kernel
// CHECK: %[[ACC:.*]] = memref.alloc() {alignment = 64 : i64{{.*}}} : memref<2xf32>
// CHECK: linalg.fill {nn.kernel = "k0_sum", nn.layer = "sum"} ins(%{{.*}} : f32) outs(%[[ACC]] : memref<2xf32>)
// CHECK: linalg.generic {{{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[X]] : memref<2x3xf32>) outs(%[[ACC]] : memref<2xf32>) attrs = {nn.kernel = "k0_sum", nn.layer = "sum"}
// CHECK: %[[G:.*]] = memref.alloc() {alignment = 64 : i64{{.*}}} : memref<2xf32>
// CHECK: linalg.generic {{.*}} outs(%[[G]] : memref<2xf32>) attrs = {nn.kernel = "k1_gather", nn.layer = "gather"}
// CHECK: memref.load %[[IDX]][
// CHECK: memref.load %[[ACC]][
// CHECK: memref.copy %[[G]]
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#one = affine_map<(d0) -> (d0)>
module @m attributes {nn.model} {
  func.func @forward(%x: tensor<2x3xf32>, %idx: tensor<2xi64>) -> tensor<2xf32> {
    %sum = nn.kernel "k0_sum"(%x) : (tensor<2x3xf32>) -> tensor<2xf32> {
    ^bb0(%a: tensor<2x3xf32>):
      %zero = arith.constant 0.0 : f32
      %e = tensor.empty() : tensor<2xf32>
      %acc = linalg.fill {nn.layer = "sum"} ins(%zero : f32) outs(%e : tensor<2xf32>) -> tensor<2xf32>
      %s = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
          ins(%a : tensor<2x3xf32>) outs(%acc : tensor<2xf32>) attrs = {nn.layer = "sum"} {
      ^bb0(%in: f32, %out: f32):
        %t = arith.addf %in, %out : f32
        linalg.yield %t : f32
      } -> tensor<2xf32>
      nn.yield %s : tensor<2xf32>
    }
    %g = nn.kernel "k1_gather"(%idx, %sum) : (tensor<2xi64>, tensor<2xf32>) -> tensor<2xf32> {
    ^bb0(%i64s: tensor<2xi64>, %vals: tensor<2xf32>):
      %e2 = tensor.empty() : tensor<2xf32>
      %r = linalg.generic {indexing_maps = [#one], iterator_types = ["parallel"]}
          outs(%e2 : tensor<2xf32>) attrs = {nn.layer = "gather"} {
      ^bb0(%out: f32):
        %i = linalg.index 0 : index
        %k = tensor.extract %i64s[%i] : tensor<2xi64>
        %j = arith.index_cast %k : i64 to index
        %v = tensor.extract %vals[%j] : tensor<2xf32>
        linalg.yield %v : f32
      } -> tensor<2xf32>
      nn.yield %r : tensor<2xf32>
    }
    return %g : tensor<2xf32>
  }
}

// -----

// A kernel that updates its input in place (the body reads its destination)
// gets a copy when that input is read after the kernel, and the input's own
// buffer when the kernel is its last reader.

// CHECK-LABEL: func.func @nnc_forward
// CHECK: %[[X:.*]] = memref.view {{.*}} to memref<4xf32>
// CHECK: %[[C:.*]] = memref.alloc() {alignment = 64 : i64{{.*}}} : memref<4xf32>
// CHECK-NEXT: memref.copy %[[X]], %[[C]]
// CHECK-NEXT: linalg.generic {{.*}} outs(%[[C]] : memref<4xf32>) attrs = {nn.kernel = "k0_twice"}
// CHECK-NOT: memref.copy %[[C]]
// CHECK: linalg.generic {{.*}} outs(%[[C]] : memref<4xf32>) attrs = {nn.kernel = "k1_twice"}
#one = affine_map<(d0) -> (d0)>
module @m attributes {nn.model} {
  func.func @forward(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
    %a = nn.kernel "k0_twice"(%x) : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%in: tensor<4xf32>):
      %r = linalg.generic {indexing_maps = [#one], iterator_types = ["parallel"]}
          outs(%in : tensor<4xf32>) {
      ^bb0(%o: f32):
        %t = arith.addf %o, %o : f32
        linalg.yield %t : f32
      } -> tensor<4xf32>
      nn.yield %r : tensor<4xf32>
    }
    %b = nn.kernel "k1_twice"(%a) : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%in: tensor<4xf32>):
      %r = linalg.generic {indexing_maps = [#one], iterator_types = ["parallel"]}
          outs(%in : tensor<4xf32>) {
      ^bb0(%o: f32):
        %t = arith.addf %o, %o : f32
        linalg.yield %t : f32
      } -> tensor<4xf32>
      nn.yield %r : tensor<4xf32>
    }
    return %x, %b : tensor<4xf32>, tensor<4xf32>
  }
}

// -----

// A library op's relu epilogue (-nn-fuse) runs inside the library call (its
// last argument is 1; no generated relu follows); an unknown epilogue is an
// error.

// CHECK-LABEL: func.func @nnc_forward
// CHECK: %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64{{.*}}} : memref<2x3xf32>
// CHECK: %[[ONE:.*]] = arith.constant 1 : i32
// CHECK: call @nnc_linear_fwd({{.*}}, %[[ONE]])
// CHECK-NOT: linalg.generic
// CHECK: memref.copy %[[OUT]]
module @m attributes {nn.model} {
  func.func @forward(%x: tensor<2x8xf32>, %w: tensor<3x8xf32>) -> tensor<2x3xf32> {
    %l = nn.linear %x, %w {nn.epilogue = "relu"} : (tensor<2x8xf32>, tensor<3x8xf32>) -> tensor<2x3xf32>
    return %l : tensor<2x3xf32>
  }
}

// -----

module @m attributes {nn.model} {
  func.func @forward(%x: tensor<2x8xf32>, %w: tensor<3x8xf32>) -> tensor<2x3xf32> {
    // expected-error @+1 {{has an unsupported nn.epilogue "gelu" (supported: "relu")}}
    %l = nn.linear %x, %w {nn.epilogue = "gelu"} : (tensor<2x8xf32>, tensor<3x8xf32>) -> tensor<2x3xf32>
    return %l : tensor<2x3xf32>
  }
}
