// RUN: not nn-opt %s -split-input-file -nn-infer-shapes=batch=4 2>&1 | FileCheck %s
// RUN: not nn-opt %s -split-input-file -nn-infer-shapes=batch=-1 2>&1 | FileCheck %s --check-prefix=NEG

// A fixed batch that contradicts a static operand fails at the op, with the
// op's location (a FileLineColLoc into the model file, as MLIRGen makes).

// NEG: error: nn-infer-shapes: batch must be >= 0, got -1

// CHECK: model.nn:12:5: error: 'nn.cross_entropy' op layer "loss": expects as many labels as logits rows, got logits [4, 10] and labels [8]
func.func @loss(%out: tensor<?x10xf32>, %labels: tensor<8xi64>) -> tensor<f32> {
  %0 = nn.cross_entropy %out, %labels {name = "loss"} : tensor<?x10xf32>, tensor<8xi64> loc("model.nn":12:5)
  return %0 : tensor<f32>
}

// -----

// The error is reported at the first op that rejects its operands.
// CHECK: nn-infer-shapes-errors.mlir:[[# @LINE + 4]]:8: error: 'nn.concat' op expects equal shapes except along dimension 1, got [4, 3] and [2, 5]
// CHECK-NOT: error
func.func @concat(%a: tensor<?x3xf32>, %b: tensor<2x5xf32>) -> tensor<2x8xf32> {
  %r = nn.relu %a : tensor<?x3xf32>
  %0 = nn.concat %r, %b {dim = 1} : (tensor<?x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
  %1 = nn.concat %r, %b {dim = 1} : (tensor<?x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}
