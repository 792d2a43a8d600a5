//===- NNInterfaces.td - Interfaces of the nn dialect -----*- tablegen -*-===//
//
// Part of nnc. CostOpInterface: the FLOP and memory model of a layer, used by
// the report (-nn-report) and the memory planner. GradientOpInterface: the
// reverse-mode rule of a differentiable op, used by -nn-autodiff.
// LibraryOpInterface: the ops that run as library calls (oneDNN on the CPU,
// cuDNN/cuBLAS on the GPU) instead of generated kernels.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_DIALECT_NNINTERFACES_TD
#define NNC_DIALECT_NNINTERFACES_TD

include "mlir/IR/OpBase.td"

def NN_CostOpInterface : OpInterface<"CostOpInterface"> {
  let cppNamespace = "::mlir::nn";
  let description = [{
    The cost model of an nn layer, evaluated on static shapes (run
    `-nn-infer-shapes{batch=N}` first). Counts are `std::nullopt` when a
    shape involved is dynamic or the count overflows int64.

    FLOP convention: a multiply-add counts 2 FLOPs; each op documents its own
    count in its description. Backward FLOPs default to 2x forward for ops
    with trainable weights (gradients w.r.t. the input and the weights) and
    1x forward otherwise.

    Saved-for-backward values are the SSA values the backward pass keeps;
    `getExtraSavedBytes` counts state kept beyond them (recurrent steps).
    Results of `nn.param_ref` are weights and never count as activations.
  }];

  let methods = [
    InterfaceMethod<
      "Forward FLOPs of this op; nullopt for dynamic shapes or overflow.",
      "std::optional<int64_t>", "getForwardFlops">,
    InterfaceMethod<
      "Whether the op has trainable weights (its backward computes weight "
      "gradients as well as the input gradient).",
      "bool", "hasTrainableWeights", (ins), [{}], [{ return false; }]>,
    InterfaceMethod<
      "Backward FLOPs: 2x forward with trainable weights, 1x otherwise.",
      "std::optional<int64_t>", "getBackwardFlops", (ins), [{}], [{
        std::optional<int64_t> fwd = $_op.getForwardFlops();
        if (!fwd)
          return std::nullopt;
        if (!$_op.hasTrainableWeights())
          return fwd;
        int64_t result;
        if (::llvm::MulOverflow(*fwd, int64_t(2), result))
          return std::nullopt;
        return result;
      }]>,
    InterfaceMethod<
      "The SSA values (operands or results) the backward pass keeps.",
      "::llvm::SmallVector<::mlir::Value>", "getSavedForBackward", (ins),
      [{}], [{ return {}; }]>,
    InterfaceMethod<
      "Bytes of state kept for backward beyond the saved SSA values.",
      "std::optional<int64_t>", "getExtraSavedBytes", (ins), [{}],
      [{ return 0; }]>,
  ];
}

def NN_GradientOpInterface : OpInterface<"GradientOpInterface"> {
  let cppNamespace = "::mlir::nn";
  let description = [{
    The reverse-mode (vector-Jacobian product) rule of a differentiable op.
    `buildGradient` emits, at the builder's insertion point and with the
    op's location, the ops that compute the gradients of the op's operands
    from the gradients of its results.

    `resultGrads` has one entry per result: the gradient of the loss with
    respect to that result (same type), or null where the result does not
    reach the loss (e.g. the mask of `nn.dropout_train`). `needOperandGrad`
    has one entry per operand: whether the caller wants that gradient (false
    for model inputs, labels, buffers and integer tensors).

    Returns one entry per operand: the gradient, or null where it was not
    wanted or the operand is not differentiable (integer ids, labels).
    Implementations may compute a gradient that was not asked for when it
    comes for free (a weight gradient). On failure, an error has been
    reported at the op (e.g. the op has no gradient in inference mode).
    Each op's rule lives in dialect/NNGradients.cpp.
  }];

  let methods = [
    InterfaceMethod<
      "Builds the gradients of the operands from those of the results.",
      "::mlir::FailureOr<::llvm::SmallVector<::mlir::Value>>",
      "buildGradient",
      (ins "::mlir::OpBuilder &":$builder,
           "::llvm::ArrayRef<::mlir::Value>":$resultGrads,
           "::llvm::ArrayRef<bool>":$needOperandGrad)>,
  ];
}

def NN_LibraryOpInterface : OpInterface<"LibraryOpInterface"> {
  let cppNamespace = "::mlir::nn";
  let description = [{
    An op that code generation hands to a library (convolutions, GEMMs, the
    recurrent layers, forward and backward) instead of generating a kernel:
    -nn-lower-to-linalg leaves it an nn op, and each target lowers it to its
    library (the CPU: runtime calls into oneDNN; the GPU: cuDNN/cuBLAS).
    -nn-fuse may fold an elementwise consumer into the op as its epilogue
    (the `nn.epilogue` attribute) when the op accepts it.
  }];
  let methods = [
    InterfaceMethod<
      "Whether the library can apply the activation `kind` (e.g. \"relu\") "
      "to the op's result as a fused epilogue.",
      "bool", "acceptsEpilogue", (ins "::llvm::StringRef":$kind), [{}],
      [{ return false; }]>,
  ];
}

#endif // NNC_DIALECT_NNINTERFACES_TD
