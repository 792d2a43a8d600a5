// RUN: nn-opt %s -split-input-file -nn-lower-to-linalg -nn-lower-to-buffers | FileCheck %s
// The recurrent layers: the runtime's time loop (nnc_<cell>_fwd/bwd) gets a
// pointer to a generated step function: one linalg.generic on memrefs over
// [rows, hidden] for each cell and pass, shared by the layers of the same
// sizes. Its rows are dynamic: the runtime calls it on each thread's rows.
// The training forward's reserve is the `saved` result itself.

// CHECK-LABEL: func.func @nnc_forward
// CHECK: %[[FWD:.*]] = constant @nnc_gates_lstm1_fwd : (memref<?x16xf32>, memref<16xf32>, memref<16xf32>, memref<?x4xf32>, memref<?x4xf32>) -> ()
// CHECK: %[[FWDP:.*]] = builtin.unrealized_conversion_cast %[[FWD]] : {{.*}} to !llvm.ptr
// CHECK: call @nnc_lstm_fwd({{.*}}, %[[FWDP]], {{.*}}){{.*}} : (!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, i64,
// The second layer of the same sizes reuses the function.
// CHECK: constant @nnc_gates_lstm1_fwd :
// CHECK: call @nnc_lstm_fwd(

// CHECK-LABEL: func.func @nnc_train
// CHECK: %[[SAVED:.*]] = memref.alloc() {alignment = 64 : i64{{.*}}} : memref<1x3x2x24xf32>
// CHECK: constant @nnc_gates_lstm1_fwd_train : (memref<?x16xf32>, memref<16xf32>, memref<16xf32>, memref<?x4xf32, strided<[?, 1]>>, memref<?x24xf32>) -> ()
// CHECK: call @nnc_lstm_fwd(
// CHECK: constant @nnc_gates_lstm1_bwd : (memref<?x4xf32>, memref<?x4xf32>, memref<?x24xf32>, memref<?x4xf32, strided<[?, 1]>>, memref<?x4xf32>, memref<?x16xf32>) -> ()
// CHECK: call @nnc_lstm_bwd(

// Inference: i, f, g, o from the four column blocks of the gates and the two
// biases, c updated in place, h written.
// CHECK-LABEL: func.func private @nnc_gates_lstm1_fwd(
// CHECK-SAME: {llvm.noalias}
// CHECK-SAME: llvm.linkage = #llvm.linkage<internal>
// CHECK-SAME: nn.gate_cell = "lstm"
// CHECK-SAME: passthrough = {{\[}}["prefer-vector-width", "512"]]
// CHECK: %[[ROWS:.*]] = memref.dim %arg0, %c0 : memref<?x16xf32>
// CHECK: memref.subview %arg0[0, 12] [%[[ROWS]], 4] [1, 1]
// CHECK: linalg.generic {{{.*}}iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: outs(%arg3, %arg4 : memref<?x4xf32>, memref<?x4xf32>)
// CHECK-SAME: nn.kernel = "nnc_gates_lstm1_fwd", nn.layer = "lstm1"
// CHECK: math.floor
// CHECK: arith.bitcast {{.*}} : i32 to f32
// CHECK: linalg.yield %{{.*}}, %{{.*}} : f32, f32
// CHECK-NOT: linalg.generic
// CHECK: return

// Training: also the saved state, i, f, g, o, c, h.
// CHECK-LABEL: func.func private @nnc_gates_lstm1_fwd_train(
// CHECK: linalg.generic
// CHECK: linalg.yield %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : f32, f32, f32, f32, f32, f32
// CHECK-NOT: linalg.generic

// Backward: dc in place and the four gate gradients.
// CHECK-LABEL: func.func private @nnc_gates_lstm1_bwd(
// CHECK: linalg.generic
// CHECK-SAME: outs(%arg4, %subview
// CHECK: linalg.yield %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : f32, f32, f32, f32, f32
module @m attributes {nn.model} {
  func.func @forward(%x: tensor<2x3x2xf32>, %wih: tensor<16x2xf32>, %whh: tensor<16x4xf32>,
                     %bih: tensor<16xf32>, %bhh: tensor<16xf32>, %wih2: tensor<16x4xf32>)
      -> tensor<2x4xf32> {
    %h = nn.lstm %x, %wih, %whh, %bih, %bhh {hidden_size = 4 : i64, name = "lstm1", return_sequences = true} : (tensor<2x3x2xf32>, tensor<16x2xf32>, tensor<16x4xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<2x3x4xf32>
    %y = nn.lstm %h, %wih2, %whh, %bih, %bhh {hidden_size = 4 : i64, name = "lstm2"} : (tensor<2x3x4xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<2x4xf32>
    return %y : tensor<2x4xf32>
  }
  func.func @train(%x: tensor<2x3x2xf32>, %dy: tensor<2x4xf32>, %wih: tensor<16x2xf32>,
                   %whh: tensor<16x4xf32>, %bih: tensor<16xf32>, %bhh: tensor<16xf32>)
      -> (tensor<2x4xf32>, tensor<2x3x2xf32>, tensor<16x2xf32>) {
    %y, %saved = nn.lstm_train %x, %wih, %whh, %bih, %bhh {hidden_size = 4 : i64, name = "lstm1"} : (tensor<2x3x2xf32>, tensor<16x2xf32>, tensor<16x4xf32>, tensor<16xf32>, tensor<16xf32>) -> (tensor<2x4xf32>, tensor<1x3x2x24xf32>)
    %g:5 = nn.lstm_backward %dy, %x, %saved, %wih, %whh, %bih, %bhh {hidden_size = 4 : i64, name = "lstm1", needs_input_grad} : (tensor<2x4xf32>, tensor<2x3x2xf32>, tensor<1x3x2x24xf32>, tensor<16x2xf32>, tensor<16x4xf32>, tensor<16xf32>, tensor<16xf32>) -> (tensor<2x3x2xf32>, tensor<16x2xf32>, tensor<16x4xf32>, tensor<16xf32>, tensor<16xf32>)
    return %y, %g#0, %g#1 : tensor<2x4xf32>, tensor<2x3x2xf32>, tensor<16x2xf32>
  }
}

// -----

// GRU, both directions (h is written with the row stride of the two
// directions' output) and RNN with relu.
// CHECK-LABEL: func.func @nnc_train
// CHECK: memref.alloc() {alignment = 64 : i64{{.*}}} : memref<2x3x2x15xf32>
// CHECK: constant @nnc_gates_gru1_fwd_train : (memref<?x9xf32>, memref<?x9xf32>, memref<9xf32>, memref<9xf32>, memref<?x3xf32, strided<[?, 1]>>, memref<?x15xf32>) -> ()
// CHECK: call @nnc_gru_fwd(
// CHECK: constant @nnc_gates_rnn_relu1_fwd_train : (memref<?x2xf32>, memref<2xf32>, memref<2xf32>, memref<?x2xf32>) -> ()
// CHECK: call @nnc_rnn_fwd(
// CHECK: constant @nnc_gates_rnn_relu1_bwd :
// CHECK: call @nnc_rnn_bwd(
// CHECK: constant @nnc_gates_gru1_bwd : (memref<?x3xf32, strided<[6, 1]>>, memref<?x3xf32>, memref<?x15xf32>, memref<?x3xf32, strided<[?, 1]>>, memref<?x9xf32>, memref<?x9xf32>) -> ()
// CHECK: call @nnc_gru_bwd(

// CHECK-LABEL: func.func private @nnc_gates_gru1_fwd_train(
// CHECK: linalg.generic {{{.*}}iterator_types = ["parallel", "parallel"]}
// CHECK: linalg.yield %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : f32, f32, f32, f32, f32
// relu: the pre-activation where it is positive, else 0.
// CHECK-LABEL: func.func private @nnc_gates_rnn_relu1_fwd_train(
// CHECK: linalg.generic
// CHECK: %[[PRE:.*]] = arith.addf %in, %{{.*}} : f32
// CHECK: %[[POS:.*]] = arith.cmpf ogt, %[[PRE]], %{{.*}} : f32
// CHECK: arith.select %[[POS]], %[[PRE]], %{{.*}} : f32
// CHECK-LABEL: func.func private @nnc_gates_rnn_relu1_bwd(
// CHECK: linalg.generic
// CHECK: arith.cmpf ogt, %in_{{.*}}, %{{.*}} : f32
// The GRU backward: the direct part of dh in place, dxp and dhp (three blocks each).
// CHECK-LABEL: func.func private @nnc_gates_gru1_bwd(
// CHECK: linalg.generic
// CHECK-SAME: outs(%arg1, %subview{{.*}}, %subview{{.*}}, %subview{{.*}}, %subview{{.*}}, %subview{{.*}}, %subview{{.*}} :
// CHECK: linalg.yield %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : f32, f32, f32, f32, f32, f32, f32
module @m attributes {nn.model} {
  func.func @train(%x: tensor<2x3x2xf32>, %dy: tensor<2x6xf32>, %wih: tensor<9x2xf32>,
                   %whh: tensor<9x3xf32>, %bih: tensor<9xf32>, %bhh: tensor<9xf32>,
                   %wihr: tensor<9x2xf32>, %whhr: tensor<9x3xf32>, %bihr: tensor<9xf32>,
                   %bhhr: tensor<9xf32>, %rih: tensor<2x2xf32>, %rhh: tensor<2x2xf32>,
                   %dz: tensor<2x3x2xf32>)
      -> (tensor<2x6xf32>, tensor<9x2xf32>, tensor<2x3x2xf32>, tensor<2x2xf32>) {
    %y, %saved = nn.gru_train %x, %wih, %whh, %bih, %bhh, %wihr, %whhr, %bihr, %bhhr {bidirectional = true, hidden_size = 3 : i64, name = "gru1"} : (tensor<2x3x2xf32>, tensor<9x2xf32>, tensor<9x3xf32>, tensor<9xf32>, tensor<9xf32>, tensor<9x2xf32>, tensor<9x3xf32>, tensor<9xf32>, tensor<9xf32>) -> (tensor<2x6xf32>, tensor<2x3x2x15xf32>)
    %z, %zsaved = nn.rnn_train %x, %rih, %rhh {has_bias = false, hidden_size = 2 : i64, name = "rnn1", nonlinearity = "relu", return_sequences = true} : (tensor<2x3x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x3x2xf32>, tensor<1x3x2x2xf32>)
    %gz:2 = nn.rnn_backward %dz, %x, %zsaved, %rih, %rhh {has_bias = false, hidden_size = 2 : i64, name = "rnn1", nonlinearity = "relu", return_sequences = true} : (tensor<2x3x2xf32>, tensor<2x3x2xf32>, tensor<1x3x2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>) -> (tensor<2x2xf32>, tensor<2x2xf32>)
    %g:8 = nn.gru_backward %dy, %x, %saved, %wih, %whh, %bih, %bhh, %wihr, %whhr, %bihr, %bhhr {bidirectional = true, hidden_size = 3 : i64, name = "gru1"} : (tensor<2x6xf32>, tensor<2x3x2xf32>, tensor<2x3x2x15xf32>, tensor<9x2xf32>, tensor<9x3xf32>, tensor<9xf32>, tensor<9xf32>, tensor<9x2xf32>, tensor<9x3xf32>, tensor<9xf32>, tensor<9xf32>) -> (tensor<9x2xf32>, tensor<9x3xf32>, tensor<9xf32>, tensor<9xf32>, tensor<9x2xf32>, tensor<9x3xf32>, tensor<9xf32>, tensor<9xf32>)
    return %y, %g#0, %z, %gz#0 : tensor<2x6xf32>, tensor<9x2xf32>, tensor<2x3x2xf32>, tensor<2x2xf32>
  }
}
