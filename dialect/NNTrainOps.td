//===- NNTrainOps.td - Training ops of the nn dialect -----*- tablegen -*-===//
//
// Part of nnc. The ops -nn-autodiff emits: training-mode forward ops, backward
// ops, optimizer updates and parameter writes. Included from NNOps.td (one op
// list); the C++ lives in NNTrainOps.cpp (inference, verifiers, costs) and
// NNGradients.cpp (the gradient rules). See docs/dialect.md and
// docs/training.md.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_DIALECT_NNTRAINOPS_TD
#define NNC_DIALECT_NNTRAINOPS_TD

//===----------------------------------------------------------------------===//
// Constraints and base classes
//===----------------------------------------------------------------------===//

/// The learning rate operand of the update ops: `tensor<f32>`.
def NN_LrTensor : 0DTensorOf<[F32]>,
    BuildableType<"::mlir::RankedTensorType::get({}, $_builder.getF32Type())">;

/// A step count or random seed: `tensor<i64>`.
def NN_I64Scalar : 0DTensorOf<[I64]>,
    BuildableType<"::mlir::RankedTensorType::get({}, $_builder.getI64Type())">;

/// The dropout keep mask: 1 where an element was kept, 0 where dropped.
def NN_MaskTensor : RankedTensorOf<[I8]>;

/// An op of the training graph: `args` plus the optional layer `name` (the
/// forward layer it belongs to), results `res` with inferred types, and a
/// cost model (`getForwardFlops` is the op's own cost; backward ops are not
/// differentiated again). Printed as a function type unless overridden.
class NN_TrainOp<string mnemonic, dag args, dag res,
                 list<string> costOverrides = [], list<Trait> traits = [Pure]>
    : NN_Op<mnemonic, !listconcat(traits, [NN_VerifyInferredShape,
          InferTypeOpAdaptor,
          DeclareOpInterfaceMethods<NN_CostOpInterface, costOverrides>])> {
  let arguments = !con(args, (ins OptionalAttr<StrAttr>:$name));
  let results = res;
  let assemblyFormat =
      "operands attr-dict `:` functional-type(operands, results)";
}

/// A training-mode forward op: differentiable, like the layer it replaces.
class NN_TrainForwardOp<string mnemonic, dag args, dag res,
                        list<string> costOverrides = [],
                        list<Trait> extraTraits = []>
    : NN_TrainOp<mnemonic, args, res, costOverrides,
                 !listconcat([Pure, DeclareOpInterfaceMethods<NN_GradientOpInterface>],
                             extraTraits)>;

/// The backward of an elementwise op: `grad` (dL/dy) and the saved `value`
/// (the forward result or input) of the same type -> dL/dx of that type.
/// `flops` FLOPs per element.
class NN_UnaryBackwardOp<string mnemonic, int flops, string uses,
                         dag attrs = (ins)>
    : NN_TrainOp<mnemonic, !con((ins NN_FloatTensor:$grad,
                                     NN_FloatTensor:$value), attrs),
                 (outs NN_FloatTensor:$result), [],
                 [Pure, AllTypesMatch<["grad", "value"]>]> {
  let summary = "backward of nn." # !subst("_backward", "", mnemonic) #
                " from dL/dy and the forward " # uses #
                "; FLOPs: " # flops # " per element";
  let assemblyFormat = "$grad `,` $value attr-dict `:` type($grad)";
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location>,
        Adaptor adaptor, ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      types.push_back(adaptor.getGrad().getType());
      return ::mlir::success();
    }
    std::optional<int64_t> $cppClass::getForwardFlops() {
      return ::mlir::nn::detail::flopsPerElement(getResult(), }] # flops # [{);
    }
  }];
}

/// The attributes of rnn/lstm/gru, shared by their training variants.
defvar NN_RecurrentAttrs = (ins ConfinedAttr<I64Attr, [IntPositive]>:$hidden_size,
    DefaultValuedAttr<ConfinedAttr<I64Attr, [IntPositive]>, "1">:$num_layers,
    DefaultValuedAttr<BoolAttr, "false">:$bidirectional,
    DefaultValuedAttr<BoolAttr, "false">:$return_sequences,
    DefaultValuedAttr<BoolAttr, "true">:$has_bias);

/// The C++ shared by the recurrent training ops: the kind and getParams().
class NN_RecurrentParamsDecl<string kind> {
  code decl = [{
    /// The recurrent kind of this op.
    static constexpr ::nnc::shape::RecurrentKind kKind =
        ::nnc::shape::RecurrentKind::}] # kind # [{;
    /// The shape-rule parameters given by the attributes.
    ::nnc::shape::RecurrentParams getParams() {
      return {kKind, static_cast<int64_t>(getHiddenSize()),
              static_cast<int64_t>(getNumLayers()), getBidirectional(),
              getReturnSequences(), getHasBias()};
    }
  }];
}

/// nn.rnn_train / lstm_train / gru_train: the layer in training mode, which
/// also returns the state its backward needs (`saved`, shape by
/// nnc::shape::recurrentSavedStateShape).
class NN_RecurrentTrainOp<string mnemonic, string kind, dag extraAttrs = (ins)>
    : NN_TrainForwardOp<mnemonic, !con((ins NN_FloatTensor:$input,
          Variadic<NN_FloatTensor>:$weights), NN_RecurrentAttrs, extraAttrs),
        (outs NN_FloatTensor:$result, NN_FloatTensor:$saved),
        ["hasTrainableWeights", "getSavedForBackward"], [NN_LibraryOpInterface]> {
  let description = [{
    The recurrent layer of the same name in training mode: same operands,
    attributes and first result. The second result `saved` holds, for each
    layer and direction, every time step's state:
    `[layers*dirs, T, N, S*H]` with S = 1 (rnn: h_t), 6 (lstm: gates i, f,
    g, o after their activations, c_t, h_t) or 5 (gru: gates r, z, n after
    their activations, W_hn h_{t-1} + b_hn, h_t); entry
    `[l*dirs + d, t, n, s*H + j]`, t being the input's time index (the reverse
    direction fills it from T-1 down to 0). The final states are the entries
    at t = T-1 (forward) and t = 0 (reverse); the initial states are zero.

    FLOPs: those of the inference layer. Backward keeps the input and
    `saved`.
  }];
  let extraClassDeclaration = NN_RecurrentParamsDecl<kind>.decl;
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location> loc,
        Adaptor adaptor, ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      return ::mlir::nn::detail::inferRecurrentTrainTypes(getOperationName(),
          loc, adaptor.getInput(), adaptor.getWeights(),
          ::mlir::nn::detail::recurrentParams(kKind,
              adaptor.getHiddenSizeAttr(), adaptor.getNumLayers(),
              adaptor.getBidirectional(), adaptor.getReturnSequences(),
              adaptor.getHasBias()),
          adaptor.getName(), types);
    }
    std::optional<int64_t> $cppClass::getForwardFlops() {
      return ::mlir::nn::detail::recurrentFlops(getInput(), getParams());
    }
    bool $cppClass::hasTrainableWeights() { return true; }
    ::llvm::SmallVector<::mlir::Value> $cppClass::getSavedForBackward() {
      return {getInput(), getSaved()};
    }
  }];
}

/// nn.rnn_backward / lstm_backward / gru_backward.
class NN_RecurrentBackwardOp<string mnemonic, string kind,
                             dag extraAttrs = (ins)>
    : NN_TrainOp<mnemonic, !con((ins NN_FloatTensor:$grad,
          NN_FloatTensor:$input, NN_FloatTensor:$saved,
          Variadic<NN_FloatTensor>:$weights), NN_RecurrentAttrs,
          (ins UnitAttr:$needs_input_grad), extraAttrs),
        (outs Variadic<NN_FloatTensor>:$grads), [], [Pure, NN_LibraryOpInterface]> {
  let description = [{
    Backpropagation through time from dL/dy (`grad`, the type of the forward
    result), the forward input, the `saved` state of the training op and the
    weights (attributes as the forward layer). Results: dL/dinput first if
    `needs_input_grad`, then one gradient per weight, in the weights' order.

    FLOPs: 2x the forward layer's.
  }];
  let extraClassDeclaration = NN_RecurrentParamsDecl<kind>.decl # [{
    /// dL/dinput, or null without `needs_input_grad`.
    ::mlir::Value getInputGrad() {
      return getNeedsInputGrad() ? getGrads().front() : ::mlir::Value();
    }
    /// The gradients of the weights, in the weights' order.
    ::mlir::ValueRange getWeightGrads() {
      return getGrads().drop_front(getNeedsInputGrad() ? 1 : 0);
    }
  }];
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location> loc,
        Adaptor adaptor, ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      return ::mlir::nn::detail::inferRecurrentBackwardTypes(
          getOperationName(), loc, adaptor.getGrad(), adaptor.getInput(),
          adaptor.getSaved(), adaptor.getWeights(),
          ::mlir::nn::detail::recurrentParams(kKind,
              adaptor.getHiddenSizeAttr(), adaptor.getNumLayers(),
              adaptor.getBidirectional(), adaptor.getReturnSequences(),
              adaptor.getHasBias()),
          adaptor.getNeedsInputGrad(), adaptor.getName(), types);
    }
    std::optional<int64_t> $cppClass::getForwardFlops() {
      std::optional<int64_t> fwd =
          ::mlir::nn::detail::recurrentFlops(getInput(), getParams());
      int64_t result;
      if (!fwd || ::llvm::MulOverflow(*fwd, int64_t(2), result))
        return std::nullopt;
      return result;
    }
  }];
}

//===----------------------------------------------------------------------===//
// Training-mode forward ops
//===----------------------------------------------------------------------===//

def NN_DropoutTrainOp : NN_TrainForwardOp<"dropout_train",
    (ins NN_FloatTensor:$input, NN_I64Scalar:$seed,
         DefaultValuedAttr<F64Attr, "0.5">:$p,
         DefaultValuedAttr<ConfinedAttr<I64Attr, [IntNonNegative]>, "0">:
             $stream),
    (outs NN_FloatTensor:$result, NN_MaskTensor:$mask),
    ["getSavedForBackward"]> {
  let summary = "dropout in training mode; returns the keep mask";
  let description = [{
    Keeps each element with probability 1 - p and scales it by 1/(1-p):
    `result = input * mask / (1 - p)`; `mask` (i8, the input's shape) is 1
    where the element was kept. The mask is a pure function of (`seed`,
    `stream`, element index): -nn-autodiff gives each dropout of a model
    its own `stream` and passes the step's seed, so the op is `Pure`.
    `p` in [0, 1). FLOPs: 2 per element (mask and scale). Backward keeps
    the mask.

    ```mlir
    %y, %mask = nn.dropout_train %x, %seed {p = 5.0e-01 : f64, stream = 1 : i64} : (tensor<?x128xf32>, tensor<i64>) -> (tensor<?x128xf32>, tensor<?x128xi8>)
    ```
  }];
  let hasVerifier = 1;
}

def NN_BatchNormTrainOp : NN_TrainForwardOp<"batchnorm_train", (ins
    NN_FloatTensor:$input, NN_FloatTensor:$weight, NN_FloatTensor:$bias,
    NN_FloatTensor:$running_mean, NN_FloatTensor:$running_var,
    DefaultValuedAttr<F64Attr, "1.0e-5">:$eps,
    DefaultValuedAttr<F64Attr, "0.1">:$momentum),
    (outs NN_FloatTensor:$result, NN_FloatTensor:$batch_mean,
          NN_FloatTensor:$batch_invstd, NN_FloatTensor:$new_running_mean,
          NN_FloatTensor:$new_running_var),
    ["hasTrainableWeights", "getSavedForBackward"]> {
  let summary = "batch normalization with batch statistics (training mode)";
  let description = [{
    Operands and attributes as `nn.batchnorm`. With M = the number of
    elements per channel (N*H*W), per channel c:
    `batch_mean = mean(x)`, `var = mean((x - batch_mean)^2)` (biased),
    `batch_invstd = 1 / sqrt(var + eps)`,
    `result = (x - batch_mean) * batch_invstd * weight + bias`,
    `new_running_mean = (1 - momentum) * running_mean + momentum * batch_mean`,
    `new_running_var = (1 - momentum) * running_var + momentum * var * M / (M - 1)`
    (PyTorch's unbiased running variance). FLOPs: 4 per element. Backward
    keeps the input, batch_mean and batch_invstd.

    ```mlir
    %y, %mean, %invstd, %rm, %rv = nn.batchnorm_train %x, %g, %b, %m, %v {eps = 1.0e-05 : f64, momentum = 1.0e-01 : f64} : (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>)
    ```
  }];
  let hasVerifier = 1;
}

def NN_RNNTrainOp : NN_RecurrentTrainOp<"rnn_train", "RNN",
    (ins DefaultValuedAttr<StrAttr, "\"tanh\"">:$nonlinearity)> {
  let summary = "Elman RNN in training mode: (result, saved state)";
  let hasVerifier = 1;
}
def NN_LSTMTrainOp : NN_RecurrentTrainOp<"lstm_train", "LSTM"> {
  let summary = "LSTM in training mode: (result, saved state)";
}
def NN_GRUTrainOp : NN_RecurrentTrainOp<"gru_train", "GRU"> {
  let summary = "GRU in training mode: (result, saved state)";
}

//===----------------------------------------------------------------------===//
// Backward of the layers with weights
//===----------------------------------------------------------------------===//

defvar NN_WeightedBackwardDoc = [{
    Results, in this order: dL/dinput (the input's type) only with
    `needs_input_grad`, dL/dweight (always), dL/dbias (`[O]`) only with
    `needs_bias_grad`. -nn-autodiff leaves out dL/dinput for the first layer
    (model inputs need no gradient) and dL/dbias for layers without bias.
}];

def NN_Conv2dBackwardOp : NN_TrainOp<"conv2d_backward", (ins
    NN_FloatTensor:$grad, NN_FloatTensor:$input, NN_FloatTensor:$weight,
    NN_Pair:$stride, NN_Pair:$padding, NN_Pair:$dilation,
    DefaultValuedAttr<I64Attr, "1">:$groups, UnitAttr:$needs_input_grad,
    UnitAttr:$needs_bias_grad),
    (outs Variadic<NN_FloatTensor>:$grads), [], [Pure, NN_LibraryOpInterface]> {
  let summary = "conv2d backward: (dL/dy, x, w) -> (dx?, dw, db?)";
  let description = NN_WeightedBackwardDoc # [{
    `grad` must have the forward result's shape (conv2d of input and
    weight with these attributes). FLOPs: 2*N*O*H'*W'*(C/groups)*KH*KW for
    each of dx and dw, plus N*O*H'*W' for db (2x the forward's).

    ```mlir
    %dx, %dw, %db = nn.conv2d_backward %dy, %x, %w {dilation = array<i64: 1, 1>, needs_bias_grad, needs_input_grad, padding = array<i64: 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x16x10x10xf32>, tensor<?x6x14x14xf32>, tensor<16x6x5x5xf32>) -> (tensor<?x6x14x14xf32>, tensor<16x6x5x5xf32>, tensor<16xf32>)
    ```
  }];
  let extraClassDeclaration = [{
    /// dL/dinput, or null without `needs_input_grad`.
    ::mlir::Value getInputGrad() {
      return getNeedsInputGrad() ? getGrads()[0] : ::mlir::Value();
    }
    /// dL/dweight.
    ::mlir::Value getWeightGrad() { return getGrads()[getNeedsInputGrad()]; }
    /// dL/dbias, or null without `needs_bias_grad`.
    ::mlir::Value getBiasGrad() {
      return getNeedsBiasGrad() ? getGrads().back() : ::mlir::Value();
    }
  }];
}

def NN_LinearBackwardOp : NN_TrainOp<"linear_backward", (ins
    NN_FloatTensor:$grad, NN_FloatTensor:$input, NN_FloatTensor:$weight,
    UnitAttr:$needs_input_grad, UnitAttr:$needs_bias_grad),
    (outs Variadic<NN_FloatTensor>:$grads), [], [Pure, NN_LibraryOpInterface]> {
  let summary = "linear backward: (dL/dy, x, w) -> (dx?, dw, db?)";
  let description = NN_WeightedBackwardDoc # [{
    `grad` [..., O] must have the forward result's shape. FLOPs: 2*M*I*O
    for each of dx and dw, plus M*O for db (M = product of the leading
    dims).

    ```mlir
    %dx, %dw, %db = nn.linear_backward %dy, %x, %w {needs_bias_grad, needs_input_grad} : (tensor<?x10xf32>, tensor<?x84xf32>, tensor<10x84xf32>) -> (tensor<?x84xf32>, tensor<10x84xf32>, tensor<10xf32>)
    ```
  }];
  let extraClassDeclaration = [{
    /// dL/dinput, or null without `needs_input_grad`.
    ::mlir::Value getInputGrad() {
      return getNeedsInputGrad() ? getGrads()[0] : ::mlir::Value();
    }
    /// dL/dweight.
    ::mlir::Value getWeightGrad() { return getGrads()[getNeedsInputGrad()]; }
    /// dL/dbias, or null without `needs_bias_grad`.
    ::mlir::Value getBiasGrad() {
      return getNeedsBiasGrad() ? getGrads().back() : ::mlir::Value();
    }
  }];
}

def NN_AttentionCoreBackwardOp : NN_TrainOp<"attention_core_backward", (ins
    NN_FloatTensor:$grad, NN_FloatTensor:$qkv,
    ConfinedAttr<I64Attr, [IntPositive]>:$heads,
    ConfinedAttr<I64Attr, [IntPositive]>:$kv_heads,
    DefaultValuedAttr<BoolAttr, "false">:$causal),
    (outs NN_FloatTensor:$result)> {
  let summary = "attention_core backward: (dL/dy, qkv) -> dL/dqkv";
  let description = [{
    `grad` [N, T, H hd], qkv [N, T, (H + 2 K) hd] -> dqkv of qkv's type. The
    scores are recomputed from qkv. FLOPs: 5 products of 2 N H T T hd
    (scores, dP, dV, dQ, dK).
  }];
}

def NN_BatchMatmulOp : NN_TrainOp<"batch_matmul", (ins NN_FloatTensor:$lhs,
    NN_FloatTensor:$rhs, UnitAttr:$transpose_lhs, UnitAttr:$transpose_rhs,
    DefaultValuedAttr<F64Attr, "1.0">:$alpha),
    (outs NN_FloatTensor:$result), [], [Pure, NN_LibraryOpInterface]> {
  let summary = "batched matrix product: alpha op(lhs) op(rhs) per batch entry";
  let description = [{
    lhs [B, M, K] (or [B, K, M] with `transpose_lhs`), rhs [B, K, N] (or
    [B, N, K] with `transpose_rhs`) -> [B, M, N]. A library op (oneDNN on
    the CPU, cuBLAS strided-batched GEMM on the GPU), built by the lowering
    of attention. FLOPs: 2 B M N K.
  }];
}

def NN_EmbeddingBackwardOp : NN_TrainOp<"embedding_backward", (ins
    NN_FloatTensor:$grad, NN_IntTensor:$ids,
    ConfinedAttr<I64Attr, [IntPositive]>:$num_embeddings),
    (outs NN_FloatTensor:$result)> {
  let summary = "embedding backward: scatter-add of dL/dy rows into the "
                "table gradient";
  let description = [{
    grad [N, ..., D], ids [N, ...] -> dL/dtable [num_embeddings, D]
    (rows never looked up are zero). FLOPs: 1 per element of `grad`.

    ```mlir
    %dtable = nn.embedding_backward %dy, %ids {num_embeddings = 100 : i64} : (tensor<?x12x8xf32>, tensor<?x12xi64>) -> tensor<100x8xf32>
    ```
  }];
}

def NN_PosEmbeddingBackwardOp : NN_TrainOp<"pos_embedding_backward", (ins
    NN_FloatTensor:$grad, ConfinedAttr<I64Attr, [IntPositive]>:$num_positions),
    (outs NN_FloatTensor:$result)> {
  let summary = "pos_embedding backward: dL/dy summed over the batch into "
                "the position table's gradient";
  let description = [{
    grad [N, T, D] -> dL/dtable [num_positions, D]: row t < T is the sum
    over the batch of dL/dy[:, t, :]; rows t >= T are zero. FLOPs: 1 per
    element of `grad`.

    ```mlir
    %dtable = nn.pos_embedding_backward %dy {num_positions = 32 : i64} : (tensor<?x8x16xf32>) -> tensor<32x16xf32>
    ```
  }];
}

def NN_BatchNormBackwardOp : NN_TrainOp<"batchnorm_backward", (ins
    NN_FloatTensor:$grad, NN_FloatTensor:$input, NN_FloatTensor:$weight,
    NN_FloatTensor:$batch_mean, NN_FloatTensor:$batch_invstd),
    (outs NN_FloatTensor:$input_grad, NN_FloatTensor:$weight_grad,
          NN_FloatTensor:$bias_grad)> {
  let summary = "batchnorm_train backward: (dL/dy, x, gamma, mean, invstd) "
                "-> (dx, dgamma, dbeta)";
  let description = [{
    With xhat = (x - mean) * invstd and M elements per channel:
    `dbeta = sum(dy)`, `dgamma = sum(dy * xhat)`,
    `dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma)`
    (sums over all dims but 1). FLOPs: 8 per element (2x the forward's).

    ```mlir
    %dx, %dg, %db = nn.batchnorm_backward %dy, %x, %g, %mean, %invstd : (tensor<?x6x4x4xf32>, tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>) -> (tensor<?x6x4x4xf32>, tensor<6xf32>, tensor<6xf32>)
    ```
  }];
}

def NN_LayerNormBackwardOp : NN_TrainOp<"layernorm_backward", (ins
    NN_FloatTensor:$grad, NN_FloatTensor:$input,
    Variadic<NN_FloatTensor>:$weight,
    DefaultValuedAttr<F64Attr, "1.0e-5">:$eps),
    (outs Variadic<NN_FloatTensor>:$grads)> {
  let summary = "layernorm backward: (dL/dy, x, weight?) -> (dx, dweight?, "
                "dbias?)";
  let description = [{
    Per row of D values, with the row's statistics recomputed from x,
    xhat = (x - mean) * rstd and g = dy * weight (dy without weight):
    `dx = rstd * (g - mean(g) - xhat * mean(g * xhat))`; with a weight
    also `dweight = sum over rows of dy * xhat`, `dbias = sum of dy`.
    FLOPs: 10 per element.

    ```mlir
    %dx, %dw, %db = nn.layernorm_backward %dy, %x, %w {eps = 1.0e-05 : f64} : (tensor<?x8x16xf32>, tensor<?x8x16xf32>, tensor<16xf32>) -> (tensor<?x8x16xf32>, tensor<16xf32>, tensor<16xf32>)
    ```
  }];
  let hasVerifier = 1;
}

def NN_RNNBackwardOp : NN_RecurrentBackwardOp<"rnn_backward", "RNN",
    (ins DefaultValuedAttr<StrAttr, "\"tanh\"">:$nonlinearity)> {
  let summary = "Elman RNN backward (BPTT)";
  let hasVerifier = 1;
}
def NN_LSTMBackwardOp : NN_RecurrentBackwardOp<"lstm_backward", "LSTM"> {
  let summary = "LSTM backward (BPTT)";
}
def NN_GRUBackwardOp : NN_RecurrentBackwardOp<"gru_backward", "GRU"> {
  let summary = "GRU backward (BPTT)";
}

//===----------------------------------------------------------------------===//
// Backward of elementwise ops
//===----------------------------------------------------------------------===//

def NN_ReluBackwardOp : NN_UnaryBackwardOp<"relu_backward", 1, "result"> {
  let description = "`grad * (y > 0)`.";
}
def NN_SigmoidBackwardOp : NN_UnaryBackwardOp<"sigmoid_backward", 3,
                                              "result"> {
  let description = "`grad * y * (1 - y)`.";
}
def NN_TanhBackwardOp : NN_UnaryBackwardOp<"tanh_backward", 3, "result"> {
  let description = "`grad * (1 - y^2)`.";
}
def NN_GeluBackwardOp : NN_UnaryBackwardOp<"gelu_backward", 10, "input"> {
  let description = "`grad * (Phi(x) + x * phi(x))` (erf form).";
}
def NN_LeakyReluBackwardOp : NN_UnaryBackwardOp<"leaky_relu_backward", 2,
    "input", (ins DefaultValuedAttr<F64Attr, "0.01">:$slope)> {
  let description = "`grad * (x >= 0 ? 1 : slope)` (slope of the layer).";
}
def NN_SoftmaxBackwardOp : NN_UnaryBackwardOp<"softmax_backward", 3,
    "result", (ins ConfinedAttr<I64Attr, [IntNonNegative]>:$dim)> {
  let description = "`y * (grad - sum_dim(grad * y))`.";
  let hasVerifier = 1;
}
def NN_LogSoftmaxBackwardOp : NN_UnaryBackwardOp<"log_softmax_backward", 3,
    "result", (ins ConfinedAttr<I64Attr, [IntNonNegative]>:$dim)> {
  let description = "`grad - exp(y) * sum_dim(grad)`.";
  let hasVerifier = 1;
}

def NN_DropoutBackwardOp : NN_TrainOp<"dropout_backward", (ins
    NN_FloatTensor:$grad, NN_MaskTensor:$mask,
    DefaultValuedAttr<F64Attr, "0.5">:$p),
    (outs NN_FloatTensor:$result)> {
  let summary = "dropout backward: grad * mask / (1 - p)";
  let description = [{
    `mask` is the mask of the `nn.dropout_train` (same shape as `grad`).
    FLOPs: 1 per element.

    ```mlir
    %dx = nn.dropout_backward %dy, %mask {p = 5.0e-01 : f64} : tensor<?x128xf32>, tensor<?x128xi8>
    ```
  }];
  let assemblyFormat =
      "$grad `,` $mask attr-dict `:` type($grad) `,` type($mask)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Backward of pooling and shape manipulation
//===----------------------------------------------------------------------===//

def NN_MaxPool2dBackwardOp : NN_TrainOp<"maxpool2d_backward", (ins
    NN_FloatTensor:$grad, NN_FloatTensor:$input, NN_Pair:$kernel,
    NN_Pair:$stride, NN_Pair:$padding),
    (outs NN_FloatTensor:$result)> {
  let summary = "maxpool2d backward: routes dL/dy to each window's maximum";
  let description = [{
    `grad` has the pooling result's shape; the result the input's. Ties go
    to the first maximum in row-major window order (as PyTorch's CPU
    kernel). FLOPs: KH*KW per element of `grad`.

    ```mlir
    %dx = nn.maxpool2d_backward %dy, %x {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x6x14x14xf32>, tensor<?x6x28x28xf32>) -> tensor<?x6x28x28xf32>
    ```
  }];
}

def NN_AvgPool2dBackwardOp : NN_TrainOp<"avgpool2d_backward", (ins
    NN_FloatTensor:$grad, NN_Pair:$kernel, NN_Pair:$stride, NN_Pair:$padding,
    NN_Pair:$input_size),
    (outs NN_FloatTensor:$result)> {
  let summary = "avgpool2d backward: spreads dL/dy evenly over each window";
  let description = [{
    `grad` [N, C, H', W'] -> [N, C, H, W] with `input_size` = [H, W] (the
    forward's input size cannot be recovered from H' in floor mode).
    FLOPs: KH*KW per element of `grad`.

    ```mlir
    %dx = nn.avgpool2d_backward %dy {input_size = array<i64: 28, 28>, kernel = array<i64: 2, 2>, padding = array<i64: 0, 0>, stride = array<i64: 2, 2>} : tensor<?x6x14x14xf32> -> tensor<?x6x28x28xf32>
    ```
  }];
  let assemblyFormat = "$grad attr-dict `:` type($grad) `->` type($result)";
}

def NN_GlobalAvgPoolBackwardOp : NN_TrainOp<"global_avgpool_backward", (ins
    NN_FloatTensor:$grad, NN_Pair:$input_size),
    (outs NN_FloatTensor:$result)> {
  let summary = "global_avgpool backward: [N, C] -> [N, C, H, W] (dy / (H*W))";
  let description = [{
    FLOPs: 1 per element of the result.

    ```mlir
    %dx = nn.global_avgpool_backward %dy {input_size = array<i64: 8, 8>} : tensor<?x64xf32> -> tensor<?x64x8x8xf32>
    ```
  }];
  let assemblyFormat = "$grad attr-dict `:` type($grad) `->` type($result)";
}

def NN_ConcatBackwardOp : NN_TrainOp<"concat_backward", (ins
    NN_FloatTensor:$grad, ConfinedAttr<I64Attr, [IntNonNegative]>:$dim,
    DenseI64ArrayAttr:$sizes),
    (outs Variadic<NN_FloatTensor>:$results)> {
  let summary = "concat backward: splits dL/dy along `dim` into `sizes`";
  let description = [{
    One result per entry of `sizes` (>= 2 positive sizes summing to the
    size of `grad` along `dim`). FLOPs: 0.

    ```mlir
    %da, %db = nn.concat_backward %dy {dim = 1 : i64, sizes = array<i64: 3, 5>} : (tensor<?x8x4xf32>) -> (tensor<?x3x4xf32>, tensor<?x5x4xf32>)
    ```
  }];
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

def NN_CrossEntropyBackwardOp : NN_TrainOp<"cross_entropy_backward", (ins
    NN_ScalarF32Tensor:$grad, NN_FloatTensor:$logits, NN_IntTensor:$labels),
    (outs NN_FloatTensor:$result)> {
  let summary = "cross_entropy backward, softmax folded in";
  let description = [{
    dL/dlogits = grad * (softmax(logits) - onehot(labels)) / N, where `grad`
    is dL/dloss (1 for the loss itself). Sequence logits [N, T, C] with
    labels [N, T]: every position is a row (N * T of them). FLOPs: 5*N*C.

    ```mlir
    %dlogits = nn.cross_entropy_backward %one, %logits, %labels : (tensor<f32>, tensor<?x10xf32>, tensor<?xi64>) -> tensor<?x10xf32>
    ```
  }];
}

/// The attributes of the distillation loss and its backward.
defvar NN_DistillAttrs = (ins F64Attr:$temperature, F64Attr:$alpha);

def NN_DistillLossOp : NN_TrainForwardOp<"distill_loss", !con((ins
    NN_FloatTensor:$logits, NN_FloatTensor:$teacher_logits,
    NN_IntTensor:$labels), NN_DistillAttrs),
    (outs NN_ScalarF32Tensor:$result), ["getSavedForBackward"]> {
  let summary = "knowledge-distillation loss: soft targets mixed with "
                "cross_entropy";
  let description = [{
    Student logits s [N, C], teacher logits t [N, C], labels [N]; with
    temperature T > 0 and alpha in [0, 1] (Hinton et al. 2015):
    `alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) *
    cross_entropy(s, labels)`, the KL summed over the classes and averaged
    over the rows like PyTorch's `KLDivLoss(reduction='batchmean')`. Rows
    whose label is outside [0, C) (the padding of a partial batch) count in
    neither term, as in nn.cross_entropy. -nn-autodiff emits it for
    `distill-temperature=T`. The teacher logits get no gradient. FLOPs:
    12*N*C. Backward keeps all three inputs.

    ```mlir
    %loss = nn.distill_loss %s, %t, %labels {alpha = 9.0e-01 : f64, temperature = 4.0 : f64} : (tensor<?x10xf32>, tensor<?x10xf32>, tensor<?xi64>) -> tensor<f32>
    ```
  }];
  let hasVerifier = 1;
}

def NN_DistillLossBackwardOp : NN_TrainOp<"distill_loss_backward", !con((ins
    NN_ScalarF32Tensor:$grad, NN_FloatTensor:$logits,
    NN_FloatTensor:$teacher_logits, NN_IntTensor:$labels), NN_DistillAttrs),
    (outs NN_FloatTensor:$result)> {
  let summary = "distill_loss backward with respect to the student logits";
  let description = [{
    dL/ds = grad * (alpha * T * (softmax(s/T) - softmax(t/T)) + (1 - alpha)
    * (softmax(s) - onehot(labels))) / V, V the rows with a valid label;
    rows with an invalid label get 0. FLOPs: 10*N*C.

    ```mlir
    %ds = nn.distill_loss_backward %one, %s, %t, %labels {alpha = 9.0e-01 : f64, temperature = 4.0 : f64} : (tensor<f32>, tensor<?x10xf32>, tensor<?x10xf32>, tensor<?xi64>) -> tensor<?x10xf32>
    ```
  }];
  let hasVerifier = 1;
}

def NN_MseBackwardOp : NN_TrainOp<"mse_backward", (ins
    NN_ScalarF32Tensor:$grad, NN_FloatTensor:$pred, NN_FloatTensor:$target),
    (outs NN_FloatTensor:$result), [], [Pure, AllTypesMatch<["pred", "target"]>]> {
  let summary = "mse backward: grad * 2 * (pred - target) / numel";
  let description = [{
    dL/dpred; the gradient w.r.t. the target is its negation (not
    produced). FLOPs: 3 per element.

    ```mlir
    %dpred = nn.mse_backward %one, %pred, %target : (tensor<f32>, tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
    ```
  }];
}

def NN_CountCorrectOp : NN_TrainOp<"count_correct", (ins
    NN_FloatTensor:$logits, NN_IntTensor:$labels),
    (outs 0DTensorOf<[I64]>:$result)> {
  let summary = "number of rows whose argmax equals the label";
  let description = [{
    logits [N, C], labels [N] -> `tensor<i64>`; ties go to the first
    maximum (as torch.argmax). Sequence logits [N, T, C] with labels [N, T]
    count every correct position. Not differentiated. FLOPs: N*C.

    ```mlir
    %correct = nn.count_correct %logits, %labels : tensor<?x10xf32>, tensor<?xi64>
    ```
  }];
  let assemblyFormat =
      "$logits `,` $labels attr-dict `:` type($logits) `,` type($labels)";
}

//===----------------------------------------------------------------------===//
// Optimizer updates
//===----------------------------------------------------------------------===//

def NN_SgdUpdateOp : NN_TrainOp<"sgd_update", (ins NN_FloatTensor:$param,
    NN_FloatTensor:$grad, NN_LrTensor:$lr,
    DefaultValuedAttr<F64Attr, "0.0">:$weight_decay),
    (outs NN_FloatTensor:$new_param), [],
    [Pure, AllTypesMatch<["param", "grad"]>]> {
  let summary = "plain SGD step (torch.optim.SGD, momentum = 0)";
  let description = [{
    `g = grad + weight_decay * param; new_param = param - lr * g`.
    `weight_decay` >= 0. FLOPs: 4 per element.

    ```mlir
    %p1 = nn.sgd_update %p, %g, %lr : tensor<10x84xf32>
    ```
  }];
  let assemblyFormat =
      "$param `,` $grad `,` $lr attr-dict `:` type($param)";
  let hasVerifier = 1;
}

def NN_MomentumUpdateOp : NN_TrainOp<"momentum_update", (ins
    NN_FloatTensor:$param, NN_FloatTensor:$grad,
    NN_FloatTensor:$momentum_buffer, NN_LrTensor:$lr,
    DefaultValuedAttr<F64Attr, "0.9">:$momentum, UnitAttr:$nesterov,
    DefaultValuedAttr<F64Attr, "0.0">:$weight_decay),
    (outs NN_FloatTensor:$new_param, NN_FloatTensor:$new_momentum_buffer),
    [], [Pure, AllTypesMatch<["param", "grad", "momentum_buffer"]>]> {
  let summary = "SGD with momentum (torch.optim.SGD, dampening = 0)";
  let description = [{
    `g = grad + weight_decay * param; buf = momentum * buf + g;`
    `d = nesterov ? g + momentum * buf : buf; new_param = param - lr * d`.
    `momentum_buffer` starts at zero, so the first step's buffer is `g` as
    in PyTorch. `momentum` in (0, 1], `weight_decay` >= 0. FLOPs: 6 per
    element.

    ```mlir
    %p1, %buf1 = nn.momentum_update %p, %g, %buf, %lr {momentum = 9.0e-01 : f64, nesterov} : tensor<10x84xf32>
    ```
  }];
  let assemblyFormat = [{
    $param `,` $grad `,` $momentum_buffer `,` $lr attr-dict `:` type($param)
  }];
  let hasVerifier = 1;
}

def NN_AdamUpdateOp : NN_TrainOp<"adam_update", (ins
    NN_FloatTensor:$param, NN_FloatTensor:$grad, NN_FloatTensor:$exp_avg,
    NN_FloatTensor:$exp_avg_sq, NN_LrTensor:$lr, NN_I64Scalar:$step,
    UnitAttr:$adamw, DefaultValuedAttr<F64Attr, "0.9">:$beta1,
    DefaultValuedAttr<F64Attr, "0.999">:$beta2,
    DefaultValuedAttr<F64Attr, "1.0e-8">:$eps,
    DefaultValuedAttr<F64Attr, "0.0">:$weight_decay),
    (outs NN_FloatTensor:$new_param, NN_FloatTensor:$new_exp_avg,
          NN_FloatTensor:$new_exp_avg_sq),
    [], [Pure, AllTypesMatch<["param", "grad", "exp_avg", "exp_avg_sq"]>]> {
  let summary = "Adam / AdamW step (torch.optim.Adam, AdamW; amsgrad off)";
  let description = [{
    `step` is this update's 1-based count t. Adam: `g = grad + weight_decay *
    param`; AdamW (`adamw`): `g = grad`, `param' = param * (1 - lr *
    weight_decay)`, else `param' = param`. Then
    `m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g^2;`
    `new_param = param' - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`.
    beta1, beta2 in [0, 1), eps > 0, weight_decay >= 0. FLOPs: 12 per
    element.

    ```mlir
    %p1, %m1, %v1 = nn.adam_update %p, %g, %m, %v, %lr, %step {adamw, weight_decay = 1.0e-02 : f64} : tensor<10x84xf32>
    ```
  }];
  let assemblyFormat = [{
    $param `,` $grad `,` $exp_avg `,` $exp_avg_sq `,` $lr `,` $step attr-dict
    `:` type($param)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Parameter writes
//===----------------------------------------------------------------------===//

def NN_ParamAssignOp : NN_Op<"param_assign", [
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "writes a parameter, buffer or optimizer state";
  let description = [{
    Writes `value` to the `nn.param` named `sym` (nearest symbol table); the
    value's type must be the parameter's. Semantics within a function: every
    `nn.param_ref` reads the value the symbol had when the function was
    entered, and the writes take effect when it returns (so `param_ref`
    stays `Pure`); a function writes a symbol at most once (-nn-autodiff
    checks this). The op has a write effect on the symbol.

    ```mlir
    nn.param_assign @"fc3.weight", %p1 : tensor<10x84xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$sym, AnyRankedTensor:$value);
  let assemblyFormat = "$sym `,` $value attr-dict `:` type($value)";
}

#endif // NNC_DIALECT_NNTRAINOPS_TD
