//===- Quantize.h - The plan of -nn-quantize --------------------*- C++ -*-===//
//
// Part of nnc. Which layers of a model's inference forward pass int8
// quantization rewrites (-nn-quantize, passes/Quantize.cpp), exposed for the
// calibration of `nnc quantize`: the layers to observe and the batchnorms
// whose weights fold into them. See docs/quantization.md.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_PASSES_QUANTIZE_H
#define NNC_PASSES_QUANTIZE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <string>
#include <vector>

namespace nnc {

/// One layer quantization rewrites: an nn.conv2d or nn.linear of @forward.
struct QuantLayer {
  /// The layer's name (its `name` attribute).
  std::string layer;
  /// The prefix of its parameters: `<prefix>.weight`, `.weight_scale`,
  /// `.bias` (the weight's symbol without ".weight").
  std::string prefix;
  /// The inference nn.batchnorm folded into the convolution, "" if none.
  std::string batchnorm;
  /// The nn.conv2d or nn.linear.
  mlir::Operation *op = nullptr;
  /// The folded nn.batchnorm, or null.
  mlir::Operation *bn = nullptr;
};

/// The plan of one model, layers in @forward's order.
struct QuantizationPlan {
  /// The model module.
  mlir::ModuleOp model;
  /// The layers to quantize.
  std::vector<QuantLayer> layers;
  /// The convolution and linear layers kept in f32.
  std::vector<std::string> f32Layers;
};

/// Plans the quantization of the single model in `module` (a model module,
/// `nn.model`, or a module holding exactly one): every nn.conv2d / nn.linear
/// of @forward is quantized except those `keepF32` names (layer names,
/// "first", "last"); an nn.batchnorm whose input is a quantized conv's result
/// with the conv as its only user folds into it. Fails with a located error
/// for a model with @train_step (quantization is for inference), a model
/// without @forward, an unnamed layer, a weight that is not an nn.param, and
/// a `keepF32` name that is no conv/linear layer.
mlir::FailureOr<QuantizationPlan> planQuantization(mlir::ModuleOp module,
                                                   llvm::ArrayRef<std::string> keepF32);

} // namespace nnc

#endif // NNC_PASSES_QUANTIZE_H
