// A library op with `nn.epilogue = "relu"` (set by -nn-fuse) passes epilogue 1
// to its runtime call (nnc_conv2d_fwd: a oneDNN post-op; nnc_linear_fwd: one
// bias+relu pass after the GEMM); without the attribute it passes 0. Built
// into a shared library and run from Python, the results match a plain-Python
// reference: relu of the op with the epilogue, negative values kept without it.
// RUN: nn-opt %s -nn-lower-to-buffers -nn-plan-memory > %t.mlir
// RUN: FileCheck %s < %t.mlir
// RUN: nn-opt %t.mlir --pass-pipeline="builtin.module(canonicalize,func.func(convert-linalg-to-loops),convert-scf-to-cf,expand-strided-metadata,finalize-memref-to-llvm,convert-arith-to-llvm,convert-index-to-llvm,convert-func-to-llvm,convert-cf-to-llvm,reconcile-unrealized-casts)" -o %t.llvm.mlir
// RUN: mlir-translate --mlir-to-llvmir %t.llvm.mlir -o %t.ll
// RUN: clang-22 -Wno-override-module -shared %t.ll -o %t.so -L%nnc_libdir -lnnc_runtime -Wl,-rpath,%nnc_libdir
// RUN: %python-model %S/Inputs/check_epilogue.py %t.mlir %t.so | FileCheck %s --check-prefix=REF
// RUN: not nn-opt %S/Inputs/bad-epilogue.mlir -nn-lower-to-buffers 2>&1 | FileCheck %s --check-prefix=BAD

// CHECK-LABEL: func.func @nnc_forward(
// CHECK:         [[NONE:%.*]] = arith.constant 0 : i32
// CHECK-NEXT:    call @nnc_conv2d_fwd({{.*}}, [[NONE]]) :
// CHECK:         [[RELU:%.*]] = arith.constant 1 : i32
// CHECK-NEXT:    call @nnc_conv2d_fwd({{.*}}, [[RELU]]) :
// CHECK:         [[NONE2:%.*]] = arith.constant 0 : i32
// CHECK-NEXT:    call @nnc_linear_fwd({{.*}}, [[NONE2]]) :
// CHECK:         [[RELU2:%.*]] = arith.constant 1 : i32
// CHECK-NEXT:    call @nnc_linear_fwd({{.*}}, [[RELU2]]) :

// REF: conv: keeps {{[1-9][0-9]*}} negative values, matches the reference: yes; relu epilogue matches relu(reference): yes, negative values 0
// REF: fc: keeps {{[1-9][0-9]*}} negative values, matches the reference: yes; relu epilogue matches relu(reference): yes, negative values 0

// BAD: error: 'nn.linear' op has an unsupported nn.epilogue "gelu" (supported: "relu")

module @epi attributes {nn.model} {
  nn.param @conv1.weight : tensor<3x2x3x3xf32> init uniform(0.2)
  nn.param @conv1.bias : tensor<3xf32> init uniform(0.2)
  nn.param @fc1.weight : tensor<4x75xf32> init uniform(0.1)
  nn.param @fc1.bias : tensor<4xf32> init uniform(0.1)
  func.func @forward(%x: tensor<2x2x5x5xf32> {nn.name = "x"}) -> (tensor<2x3x5x5xf32> {nn.name = "conv"}, tensor<2x3x5x5xf32> {nn.name = "conv_relu"}, tensor<2x4xf32> {nn.name = "fc"}, tensor<2x4xf32> {nn.name = "fc_relu"}) {
    %w = nn.param_ref @conv1.weight : tensor<3x2x3x3xf32>
    %b = nn.param_ref @conv1.bias : tensor<3xf32>
    %c = nn.conv2d %x, %w, %b {dilation = array<i64: 1, 1>, name = "conv1", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<2x2x5x5xf32>, tensor<3x2x3x3xf32>, tensor<3xf32>) -> tensor<2x3x5x5xf32>
    %cr = nn.conv2d %x, %w, %b {dilation = array<i64: 1, 1>, name = "conv1r", nn.epilogue = "relu", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<2x2x5x5xf32>, tensor<3x2x3x3xf32>, tensor<3xf32>) -> tensor<2x3x5x5xf32>
    %f = nn.flatten %c {name = "flatten1"} : tensor<2x3x5x5xf32> -> tensor<2x75xf32>
    %lw = nn.param_ref @fc1.weight : tensor<4x75xf32>
    %lb = nn.param_ref @fc1.bias : tensor<4xf32>
    %l = nn.linear %f, %lw, %lb {name = "fc1"} : (tensor<2x75xf32>, tensor<4x75xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %lr = nn.linear %f, %lw, %lb {name = "fc1r", nn.epilogue = "relu"} : (tensor<2x75xf32>, tensor<4x75xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    return %c, %cr, %l, %lr : tensor<2x3x5x5xf32>, tensor<2x3x5x5xf32>, tensor<2x4xf32>, tensor<2x4xf32>
  }
}
