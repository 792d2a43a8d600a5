// RUN: not nn-opt %s -split-input-file -nn-autodiff 2>&1 | FileCheck %s
// RUN: not nn-opt %s -split-input-file -nn-autodiff=optimizer=rmsprop 2>&1 | FileCheck %s --check-prefix=OPT
// RUN: not nn-opt %s -split-input-file -nn-autodiff="optimizer=adam nesterov=true" 2>&1 | FileCheck %s --check-prefix=NESTEROV
// RUN: not nn-opt %s -split-input-file -nn-autodiff=distill-temperature=4 2>&1 | FileCheck %s --check-prefix=DISTILL

// An op between the parameters and the loss without a gradient is an error
// located at the op (a FileLineColLoc into the model file, as MLIRGen makes).

// OPT: error: nn-autodiff: unknown optimizer 'rmsprop' (expected sgd, momentum, adam or adamw)
// NESTEROV: error: nn-autodiff: nesterov needs optimizer=momentum

// CHECK: model.nn:7:3: error: 'arith.addf' op has no gradient (nn-autodiff needs one for every op between the parameters and the loss)
module @nograd attributes {nn.model} {
  nn.param @w : tensor<4x4xf32> init zeros
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
    %w = nn.param_ref @w : tensor<4x4xf32>
    %0 = nn.linear %x, %w : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %1 = arith.addf %0, %0 : tensor<?x4xf32> loc("model.nn":7:3)
    return %1 : tensor<?x4xf32>
  }
  func.func @loss(%out: tensor<?x4xf32>, %labels: tensor<?xi64>) -> tensor<f32> {
    %0 = nn.cross_entropy %out, %labels : tensor<?x4xf32>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}

// -----

// CHECK: nn-autodiff-errors.mlir:[[# @LINE + 1]]:1: error: nn-autodiff: the model has no func.func @loss (output, labels) -> loss
module @noloss attributes {nn.model} {
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
    return %x : tensor<?x4xf32>
  }
}

// -----

// CHECK: nn-autodiff-errors.mlir:[[# @LINE + 1]]:1: error: nn-autodiff: the model already has @train_step
module @twice attributes {nn.model} {
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
    return %x : tensor<?x4xf32>
  }
  func.func @loss(%out: tensor<?x4xf32>, %labels: tensor<?xi64>) -> tensor<f32> {
    %0 = nn.cross_entropy %out, %labels : tensor<?x4xf32>, tensor<?xi64>
    return %0 : tensor<f32>
  }
  func.func @train_step() {
    return
  }
}

// -----

// CHECK: nn-autodiff-errors.mlir:[[# @LINE + 5]]:3: error: nn-autodiff: @loss takes 'tensor<?x3xf32>' but @forward returns 'tensor<?x4xf32>'
module @mismatch attributes {nn.model} {
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
    return %x : tensor<?x4xf32>
  }
  func.func @loss(%out: tensor<?x3xf32>, %labels: tensor<?xi64>) -> tensor<f32> {
    %0 = nn.cross_entropy %out, %labels : tensor<?x3xf32>, tensor<?xi64>
    return %0 : tensor<f32>
  }
}

// -----

// Distillation needs a classifier: the error points at the student's loss.
module @regression attributes {nn.model} {
  nn.param @w : tensor<1x4xf32> init zeros
  func.func @forward(%x: tensor<?x4xf32>) -> tensor<?x1xf32> {
    %w = nn.param_ref @w : tensor<1x4xf32>
    %0 = nn.linear %x, %w : (tensor<?x4xf32>, tensor<1x4xf32>) -> tensor<?x1xf32>
    return %0 : tensor<?x1xf32>
  }
  func.func @loss(%y: tensor<?x1xf32>, %t: tensor<?x1xf32>) -> tensor<f32> {
    // DISTILL: nn-autodiff-errors.mlir:[[# @LINE + 1]]:10: error: nn-autodiff: distillation needs a cross_entropy loss (the student's @loss)
    %0 = nn.mse %y, %t : tensor<?x1xf32>
    return %0 : tensor<f32>
  }
}

// -----

// Distillation needs classifier logits [N, C], not sequence logits.
module @sequence attributes {nn.model} {
  nn.param @w : tensor<5x4xf32> init zeros
  func.func @forward(%x: tensor<?x6x4xf32>) -> tensor<?x6x5xf32> {
    %w = nn.param_ref @w : tensor<5x4xf32>
    %0 = nn.linear %x, %w : (tensor<?x6x4xf32>, tensor<5x4xf32>) -> tensor<?x6x5xf32>
    return %0 : tensor<?x6x5xf32>
  }
  func.func @loss(%y: tensor<?x6x5xf32>, %l: tensor<?x6xi64>) -> tensor<f32> {
    // DISTILL: nn-autodiff-errors.mlir:[[# @LINE + 1]]:10: error: nn-autodiff: distillation needs classifier logits [N, classes], not sequence logits
    %0 = nn.cross_entropy %y, %l : tensor<?x6x5xf32>, tensor<?x6xi64>
    return %0 : tensor<f32>
  }
}
