// -nn-lower-to-buffers{target=gpu}: every library op becomes the call of the
// runtime's nnc_gpu_* function with the CPU's arguments; a convolution's
// scratch is the runtime's cuDNN workspace cap (runtime/GpuKernels.h: the
// bytes of its largest tensor, here y = 16x64x64x64 floats = 16 MiB, between
// 4 MiB and 256 MiB); the recurrent layers' pointer tables are on the host's
// stack (memref.alloca), since the arena is device memory; --check-numerics
// calls nnc_gpu_check_finite. No CPU library call remains.
// RUN: nn-opt %s -nn-lower-to-buffers=target=gpu | FileCheck %s
// RUN: nn-opt %s -nn-lower-to-buffers | FileCheck %s --check-prefix=CPU
// RUN: %nnc compile %examples/lenet.nn --train --batch=2 --emit=kernels -o %t.lenet.mlir
// RUN: nn-opt %t.lenet.mlir -nn-lower-to-buffers="target=gpu check-numerics=true" -nn-plan-memory | FileCheck %s --check-prefix=LENET
// RUN: %nnc compile %examples/lstm_rows.nn --train --batch=2 --emit=kernels -o %t.lstm.mlir
// RUN: nn-opt %t.lstm.mlir -nn-lower-to-buffers=target=gpu -nn-plan-memory > %t.lstm-gpu.mlir
// RUN: FileCheck %s --check-prefix=LSTM < %t.lstm-gpu.mlir
// RUN: FileCheck %s --check-prefix=NO-ARENA-TABLE < %t.lstm-gpu.mlir
// RUN: nn-opt %t.lstm.mlir -nn-lower-to-buffers -nn-plan-memory | FileCheck %s --check-prefix=CPU-TABLE
// RUN: not nn-opt %s -nn-lower-to-buffers=target=tpu 2>&1 | FileCheck %s --check-prefix=BAD

// CHECK-LABEL: func.func @nnc_forward(
// CHECK:         %[[WS:.*]] = memref.alloc() {alignment = 64 : i64{{.*}}} : memref<16777216xi8>
// CHECK:         %[[WSP:.*]] = llvm.inttoptr {{.*}} : i64 to !llvm.ptr
// CHECK-NEXT:    %[[BYTES:.*]] = arith.constant 16777216 : i64
// CHECK-NOT:     call @
// CHECK:         call @nnc_gpu_conv2d_fwd({{.*}}, %[[WSP]], %[[BYTES]], {{.*}}) {{.*}}: (!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i32) -> ()
// CHECK:         call @nnc_gpu_linear_fwd({{.*}}) {{.*}}: (!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, i64, i64, i64, i32) -> ()
// CHECK-NOT:     call @nnc_conv2d
// CHECK-NOT:     call @nnc_linear
// CHECK:         return

// The CPU's calls are unchanged by default.
// CPU-LABEL: func.func @nnc_forward(
// CPU:         call @nnc_conv2d_fwd(
// CPU:         call @nnc_linear_fwd(
// CPU-NOT:     nnc_gpu_

// LENET-LABEL: func.func @nnc_train_step(
// LENET-NOT:     call @nnc_conv2d_
// LENET-NOT:     call @nnc_linear_
// LENET-NOT:     call @nnc_check_finite
// LENET:         call @nnc_gpu_conv2d_fwd(
// LENET:         call @nnc_gpu_check_finite(
// LENET:         call @nnc_gpu_linear_bwd(
// LENET:         call @nnc_gpu_conv2d_bwd(
// LENET-NOT:     call @nnc_conv2d_
// LENET-NOT:     call @nnc_linear_
// LENET-NOT:     call @nnc_check_finite
// LENET:         return

// The weight table (weight_ih, weight_hh, bias_ih, bias_hh) on the stack.
// LSTM-LABEL: func.func @nnc_train_step(
// LSTM:         %[[TABLE:.*]] = memref.alloca() : memref<4xi64>
// LSTM:         memref.store %{{.*}}, %[[TABLE]][%{{.*}}] : memref<4xi64>
// LSTM:         call @nnc_gpu_lstm_fwd(
// LSTM:         memref.alloca() : memref<4xi64>
// LSTM:         memref.alloca() : memref<4xi64>
// LSTM:         call @nnc_gpu_lstm_bwd(
// LSTM-NOT:     call @nnc_lstm_

// No pointer table in the (device) arena; the CPU's are there.
// NO-ARENA-TABLE-NOT: memref<?xi8> to memref<4xi64>
// CPU-TABLE: memref.view %arg0[%{{.*}}][] : memref<?xi8> to memref<4xi64>
// CPU-TABLE: call @nnc_lstm_fwd(

// BAD: error: -nn-lower-to-buffers: unknown target 'tpu' (expected cpu or gpu)

module @big attributes {nn.model} {
  nn.param @conv1.weight : tensor<64x32x3x3xf32> init uniform(0.2)
  nn.param @conv1.bias : tensor<64xf32> init uniform(0.2)
  nn.param @fc1.weight : tensor<10x64xf32> init uniform(0.1)
  func.func @forward(%x: tensor<16x32x64x64xf32> {nn.name = "x"}, %v: tensor<16x64xf32> {nn.name = "v"}) -> (tensor<16x64x64x64xf32> {nn.name = "conv"}, tensor<16x10xf32> {nn.name = "fc"}) {
    %w = nn.param_ref @conv1.weight : tensor<64x32x3x3xf32>
    %b = nn.param_ref @conv1.bias : tensor<64xf32>
    %c = nn.conv2d %x, %w, %b {dilation = array<i64: 1, 1>, name = "conv1", padding = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<16x32x64x64xf32>, tensor<64x32x3x3xf32>, tensor<64xf32>) -> tensor<16x64x64x64xf32>
    %lw = nn.param_ref @fc1.weight : tensor<10x64xf32>
    %l = nn.linear %v, %lw {name = "fc1", nn.epilogue = "relu"} : (tensor<16x64xf32>, tensor<10x64xf32>) -> tensor<16x10xf32>
    return %c, %l : tensor<16x64x64x64xf32>, tensor<16x10xf32>
  }
}
