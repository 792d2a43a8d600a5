//===- NNOps.td - Ops of the nn dialect -------------------*- tablegen -*-===//
//
// Part of nnc. The layer ops of the nn dialect. Shapes are checked and
// inferred by the shared rules in dialect/ShapeRules.h (called from the C++
// `inferReturnTypes`); FLOP conventions are documented per op.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_DIALECT_NNOPS_TD
#define NNC_DIALECT_NNOPS_TD

include "dialect/NNDialect.td"
include "dialect/NNInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Base classes
//===----------------------------------------------------------------------===//

class NN_Op<string mnemonic, list<Trait> traits = []>
    : Op<NN_Dialect, mnemonic, traits>;

/// Verifies the op by running its type inference with error reporting, so
/// that a shape error is reported once, by the shape rule's message, before
/// InferTypeOpInterface's generic "failed to infer returned types".
def NN_VerifyInferredShape : NativeOpTrait<"VerifyInferredShape"> {
  let cppNamespace = "::mlir::nn::OpTrait";
}

/// A layer: `args` plus the optional layer `name`, one ranked tensor result
/// whose type is inferred, a cost model and a gradient rule. `costOverrides` lists the
/// CostOpInterface methods with defaults that the op implements itself.
class NN_LayerOp<string mnemonic, dag args, list<string> costOverrides = [],
                 list<Trait> traits = [Pure]>
    : NN_Op<mnemonic, !listconcat(traits, [NN_VerifyInferredShape,
          InferTypeOpAdaptor,
          DeclareOpInterfaceMethods<NN_CostOpInterface, costOverrides>,
          DeclareOpInterfaceMethods<NN_GradientOpInterface>])> {
  let arguments = !con(args, (ins OptionalAttr<StrAttr>:$name));
  let results = (outs AnyRankedTensor:$result);
}

/// An elementwise op on one float tensor with a same-typed result:
/// `flops` FLOPs per element; backward keeps `saved` ("Input" or "Result").
class NN_UnaryOp<string mnemonic, int flops, string saved,
                 dag attrs = (ins), list<Trait> traits = [Pure]>
    : NN_LayerOp<mnemonic, !con((ins NN_FloatTensor:$input), attrs),
                 ["getSavedForBackward"], traits> {
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location>,
        Adaptor adaptor, ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      types.push_back(adaptor.getInput().getType());
      return ::mlir::success();
    }
    std::optional<int64_t> $cppClass::getForwardFlops() {
      return ::mlir::nn::detail::flopsPerElement(getResult(), }] # flops # [{);
    }
    ::llvm::SmallVector<::mlir::Value> $cppClass::getSavedForBackward() {
      return {get}] # saved # [{()};
    }
  }];
}

/// An op on one float tensor that changes its shape (pooling, flatten,
/// reshape); printed with both types.
class NN_ShapeOp<string mnemonic, dag attrs = (ins),
                 list<string> costOverrides = []>
    : NN_LayerOp<mnemonic, !con((ins NN_FloatTensor:$input), attrs),
                 costOverrides> {
  let assemblyFormat =
      "$input attr-dict `:` type($input) `->` type($result)";
}

/// 2-d max/avg pooling over [N, C, H, W] (floor mode); avg counts padding.
/// FLOPs: KH*KW per output element.
class NN_Pool2dOp<string mnemonic, list<string> costOverrides = []>
    : NN_ShapeOp<mnemonic, (ins NN_Pair:$kernel, NN_Pair:$stride,
                                NN_Pair:$padding), costOverrides> {
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location> loc,
        Adaptor adaptor, ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      return ::mlir::nn::detail::inferPool2dTypes(
          getOperationName(), loc, adaptor.getInput(),
          adaptor.getKernelAttr(), adaptor.getStrideAttr(),
          adaptor.getPaddingAttr(), adaptor.getName(),
          types);
    }
    std::optional<int64_t> $cppClass::getForwardFlops() {
      return ::mlir::nn::detail::pool2dFlops(getResult(), getKernel());
    }
  }];
}

/// A layer whose operands are listed plainly and whose types are printed as
/// a function type: `nn.op %a, %b {attrs} : (A, B) -> R`.
class NN_MultiOperandOp<string mnemonic, dag args,
                        list<string> costOverrides = [],
                        list<Trait> traits = [Pure]>
    : NN_LayerOp<mnemonic, args, costOverrides, traits> {
  let assemblyFormat =
      "operands attr-dict `:` functional-type(operands, results)";
}

/// rnn, lstm, gru (batch first). `kind` is the nnc::shape::RecurrentKind.
class NN_RecurrentOp<string mnemonic, string kind, dag extraAttrs = (ins)>
    : NN_MultiOperandOp<mnemonic, !con((ins NN_FloatTensor:$input,
          Variadic<NN_FloatTensor>:$weights,
          ConfinedAttr<I64Attr, [IntPositive]>:$hidden_size,
          DefaultValuedAttr<ConfinedAttr<I64Attr, [IntPositive]>, "1">:
              $num_layers,
          DefaultValuedAttr<BoolAttr, "false">:$bidirectional,
          DefaultValuedAttr<BoolAttr, "false">:$return_sequences,
          DefaultValuedAttr<BoolAttr, "true">:$has_bias), extraAttrs),
        ["hasTrainableWeights", "getSavedForBackward",
         "getExtraSavedBytes"], [Pure, NN_LibraryOpInterface]> {
  let extraClassDeclaration = [{
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
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location> loc,
        Adaptor adaptor, ::llvm::SmallVectorImpl<::mlir::Type> &types) {
      ::nnc::shape::RecurrentParams params{kKind,
          adaptor.getHiddenSizeAttr()
              ? adaptor.getHiddenSizeAttr().getValue().getSExtValue() : 0,
          static_cast<int64_t>(adaptor.getNumLayers()),
          adaptor.getBidirectional(), adaptor.getReturnSequences(),
          adaptor.getHasBias()};
      return ::mlir::nn::detail::inferRecurrentTypes(getOperationName(), loc,
          adaptor.getInput(), adaptor.getWeights(), params, adaptor.getName(),
          types);
    }
    std::optional<int64_t> $cppClass::getForwardFlops() {
      return ::mlir::nn::detail::recurrentFlops(getInput(), getParams());
    }
    std::optional<int64_t> $cppClass::getExtraSavedBytes() {
      return ::mlir::nn::detail::recurrentExtraSavedBytes(getInput(),
                                                         getParams());
    }
    bool $cppClass::hasTrainableWeights() { return true; }
    ::llvm::SmallVector<::mlir::Value> $cppClass::getSavedForBackward() {
      return {getInput()};
    }
  }];
}

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def NN_ParamOp : NN_Op<"param", [Symbol, HasParent<"::mlir::ModuleOp">]> {
  let summary = "a model parameter or buffer (one PyTorch state_dict entry)";
  let description = [{
    A module-level symbol named as PyTorch names the state_dict entry.
    `buffer` marks a non-trainable buffer (batchnorm running statistics);
    `state` marks optimizer state created by -nn-autodiff, named after its
    parameter and PyTorch's optimizer state key (`conv1.weight.exp_avg`,
    `conv1.weight.exp_avg_sq`, `conv1.weight.momentum_buffer`). A symbol is
    at most one of the two.
    Initializers: `zeros`, `ones`, `uniform(b)` = U(-b, b), `normal(s)` =
    N(0, s^2); uniform and normal take a non-negative scale, zeros and ones
    none.

    ```mlir
    nn.param @"conv1.weight" : tensor<6x1x5x5xf32> init uniform(0.2)
    nn.param buffer @"bn1.running_mean" : tensor<6xf32> init zeros
    nn.param state @"conv1.weight.exp_avg" : tensor<6x1x5x5xf32> init zeros
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<AnyStaticShapeTensor>:$type,
                       UnitAttr:$buffer, NN_InitAttr:$init,
                       OptionalAttr<F64Attr>:$scale, UnitAttr:$state);
  let assemblyFormat = [{
    (`buffer` $buffer^)? (`state` $state^)? $sym_name `:` $type `init`
    custom<ParamInit>($init, $scale) attr-dict
  }];
  let hasVerifier = 1;
}

def NN_ParamRefOp : NN_Op<"param_ref", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "reads a parameter";
  let description = [{
    Reads the `nn.param` named `sym` in the nearest enclosing symbol table;
    it must exist and have the result's type.

    ```mlir
    %w = nn.param_ref @"conv1.weight" : tensor<6x1x5x5xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$sym);
  let results = (outs AnyStaticShapeTensor:$result);
  let assemblyFormat = "$sym attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Layers with weights
//===----------------------------------------------------------------------===//

def NN_Conv2dOp : NN_MultiOperandOp<"conv2d", (ins NN_FloatTensor:$input,
    NN_FloatTensor:$weight, Optional<NN_FloatTensor>:$bias,
    NN_Pair:$stride, NN_Pair:$padding, NN_Pair:$dilation,
    DefaultValuedAttr<I64Attr, "1">:$groups),
    ["hasTrainableWeights", "getSavedForBackward"],
    [Pure, DeclareOpInterfaceMethods<NN_LibraryOpInterface, ["acceptsEpilogue"]>]> {
  let summary = "2-d convolution (PyTorch Conv2d)";
  let description = [{
    input [N, C, H, W], weight [O, C/groups, KH, KW], optional bias [O] ->
    [N, O, H', W'] with H' = (H + 2p - d(KH-1) - 1) / s + 1.

    FLOPs: 2*N*O*H'*W'*(C/groups)*KH*KW, plus N*O*H'*W' for the bias.
    Backward keeps the input.
  }];
}

def NN_LinearOp : NN_MultiOperandOp<"linear", (ins NN_FloatTensor:$input,
    NN_FloatTensor:$weight, Optional<NN_FloatTensor>:$bias),
    ["hasTrainableWeights", "getSavedForBackward"],
    [Pure, DeclareOpInterfaceMethods<NN_LibraryOpInterface, ["acceptsEpilogue"]>]> {
  let summary = "fully connected layer on the last dimension (PyTorch Linear)";
  let description = [{
    input [..., I] (rank >= 2), weight [O, I], optional bias [O] -> [..., O].

    FLOPs: 2*M*I*O plus M*O for the bias, M = product of the leading dims.
    Backward keeps the input.
  }];
}

/// The attributes of multi-head self-attention, shared by nn.attention and
/// nn.attention_core.
defvar NN_AttentionAttrs = (ins ConfinedAttr<I64Attr, [IntPositive]>:$heads,
    ConfinedAttr<I64Attr, [IntPositive]>:$kv_heads,
    DefaultValuedAttr<BoolAttr, "false">:$causal);

def NN_AttentionOp : NN_MultiOperandOp<"attention", !con((ins NN_FloatTensor:$input,
    Variadic<NN_FloatTensor>:$weights), NN_AttentionAttrs,
    (ins DefaultValuedAttr<BoolAttr, "true">:$has_bias)),
    ["hasTrainableWeights", "getBackwardFlops", "getSavedForBackward",
     "getExtraSavedBytes"]> {
  let summary = "multi-head self-attention (GPT-2's c_attn + c_proj)";
  let description = [{
    input [N, T, d] -> [N, T, d]; weights `qkv.weight [(H + 2 K) hd, d]`,
    `qkv.bias [(H + 2 K) hd]`, `out.weight [d, d]`, `out.bias [d]` (biases
    absent without `has_bias`), H = `heads`, K = `kv_heads` (H % K == 0; each
    group of H / K query heads shares one key/value head), hd = d / H. The
    qkv rows are the H hd query rows (head-major), then the K hd key rows,
    then the value rows. Scores are scaled by 1/sqrt(hd); with `causal`,
    position i attends to positions j <= i.

    FLOPs: the projections, 2 N T d (H + 2 K) hd + 2 N T d d plus one per
    bias element, and the two batched products QK^T and AV, 2 N H T T hd
    each, counted in full with `causal` too (the GEMMs compute the whole
    T x T scores; the mask is applied after). Scale, mask and softmax are
    not counted. Backward: twice the projections, and 5 products of the
    QK^T size (the scores recomputed, dP, dV, dQ, dK).

    Saved for backward: the input; extra bytes: the qkv projection
    [N, T, (H + 2 K) hd] and the attention output [N, T, d] (the inputs of
    the backward of nn.attention_core and of the output projection).
    -nn-autodiff replaces the op by nn.linear, nn.attention_core and
    nn.linear (AttentionOp::decompose), and so does -nn-lower-to-linalg.
  }];
  let extraClassDeclaration = [{
    /// The qkv weight, qkv bias (or null), out weight, out bias (or null).
    ::mlir::Value getQkvWeight() { return getWeights()[0]; }
    ::mlir::Value getQkvBias() { return getHasBias() ? getWeights()[1] : ::mlir::Value(); }
    ::mlir::Value getOutWeight() { return getWeights()[getHasBias() ? 2 : 1]; }
    ::mlir::Value getOutBias() { return getHasBias() ? getWeights()[3] : ::mlir::Value(); }
    /// Builds nn.linear (qkv), nn.attention_core and nn.linear (out) at
    /// `b`'s insertion point; returns the result (the op stays).
    ::mlir::Value decompose(::mlir::OpBuilder &b);
  }];
  let hasVerifier = 1;
}

def NN_AttentionCoreOp : NN_MultiOperandOp<"attention_core", !con(
    (ins NN_FloatTensor:$qkv), NN_AttentionAttrs), ["getSavedForBackward"]> {
  let summary = "scaled dot-product attention of packed qkv projections";
  let description = [{
    qkv [N, T, (H + 2 K) hd] (nn.attention's projection; H = `heads`,
    K = `kv_heads`) -> [N, T, H hd]: per sample and query head h, softmax(Q_h
    K_g^T / sqrt(hd), causally masked with `causal`) V_g with g = h / (H / K);
    the heads concatenated along the last dimension.

    FLOPs: 2 N H T T hd for each of QK^T and AV (in full with `causal`).
    Backward keeps qkv (and recomputes the scores).
  }];
  let extraClassDeclaration = [{
    /// The head dimension hd.
    int64_t getHeadDim() {
      return getQkv().getType().getDimSize(2) / (getHeads() + 2 * getKvHeads());
    }
  }];
}

def NN_EmbeddingOp : NN_MultiOperandOp<"embedding", (ins NN_IntTensor:$ids,
    NN_FloatTensor:$table),
    ["hasTrainableWeights", "getSavedForBackward"]> {
  let summary = "table lookup (PyTorch Embedding)";
  let description = [{
    ids (integer) [N, ...], table [V, D] -> [N, ..., D] of the table's
    element type. FLOPs: 0. Backward keeps the ids.
  }];
}

def NN_PosEmbeddingOp : NN_MultiOperandOp<"pos_embedding", (ins
    NN_FloatTensor:$input, NN_FloatTensor:$table),
    ["hasTrainableWeights", "getBackwardFlops"]> {
  let summary = "learned positional embedding added to a sequence";
  let description = [{
    input [N, T, D], table [P, D] with T <= P -> [N, T, D]:
    `y[n, t, :] = x[n, t, :] + table[t, :]` (GPT-2's wpe, BERT's position
    embeddings: the table row of each position, added). FLOPs: 1 per
    element forward; backward 1 per element (dL/dx is dL/dy; dL/dtable sums
    dL/dy over the batch).

    ```mlir
    %y = nn.pos_embedding %x, %wpe : (tensor<?x8x16xf32>, tensor<32x16xf32>) -> tensor<?x8x16xf32>
    ```
  }];
}

def NN_BatchNormOp : NN_MultiOperandOp<"batchnorm", (ins
    NN_FloatTensor:$input, NN_FloatTensor:$weight, NN_FloatTensor:$bias,
    NN_FloatTensor:$running_mean, NN_FloatTensor:$running_var,
    DefaultValuedAttr<F64Attr, "1.0e-5">:$eps,
    DefaultValuedAttr<F64Attr, "0.1">:$momentum),
    ["hasTrainableWeights", "getSavedForBackward"]> {
  let summary = "batch normalization over dimension 1 (BatchNorm1d/2d)";
  let description = [{
    input of rank 2 to 4 (channels = dim 1); weight (gamma), bias (beta),
    running_mean, running_var all [C]. Result: the input's type.
    `eps` > 0, `momentum` in [0, 1].

    FLOPs: 4 per element (statistics, normalization and affine in training).
    Backward keeps the input.
  }];
  let hasVerifier = 1;
}

def NN_LayerNormOp : NN_MultiOperandOp<"layernorm", (ins
    NN_FloatTensor:$input, Variadic<NN_FloatTensor>:$affine,
    DefaultValuedAttr<F64Attr, "1.0e-5">:$eps),
    ["hasTrainableWeights", "getSavedForBackward"]> {
  let summary = "layer normalization over the last dimension (LayerNorm)";
  let description = [{
    input [N, ..., D] (rank >= 2), each row of D values normalized by its
    own mean and (biased) variance: `(x - mean) / sqrt(var + eps)`, then,
    with `affine` = (weight, bias) both [D], `* weight + bias`; without
    `affine` nothing more (torch.nn.LayerNorm(D, elementwise_affine=False)).
    Result: the input's type. `eps` > 0.

    FLOPs: 5 per element (statistics, normalization, affine). Backward keeps
    the input (the statistics are recomputed).

    ```mlir
    %y = nn.layernorm %x, %w, %b {eps = 1.0e-05 : f64} : (tensor<?x8x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<?x8x16xf32>
    ```
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The weight [D], or null without an affine transform.
    ::mlir::Value getWeight() { return getAffine().empty() ? ::mlir::Value() : getAffine()[0]; }
    /// The bias [D], or null without an affine transform.
    ::mlir::Value getBias() { return getAffine().empty() ? ::mlir::Value() : getAffine()[1]; }
  }];
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

def NN_ReluOp : NN_UnaryOp<"relu", 1, "Result"> {
  let summary = "max(x, 0); FLOPs: 1 per element; backward keeps the result";
}
def NN_SigmoidOp : NN_UnaryOp<"sigmoid", 1, "Result"> {
  let summary = "1 / (1 + exp(-x)); FLOPs: 1 per element; keeps the result";
}
def NN_TanhOp : NN_UnaryOp<"tanh", 1, "Result"> {
  let summary = "tanh(x); FLOPs: 1 per element; keeps the result";
}
def NN_GeluOp : NN_UnaryOp<"gelu", 8, "Input"> {
  let summary = "x * Phi(x) (erf form); FLOPs: 8 per element; keeps the input";
}
def NN_LeakyReluOp : NN_UnaryOp<"leaky_relu", 2, "Input",
    (ins DefaultValuedAttr<F64Attr, "0.01">:$slope)> {
  let summary = "x >= 0 ? x : slope * x; FLOPs: 2 per element; keeps the input";
}
def NN_DropoutOp : NN_UnaryOp<"dropout", 1, "Result",
    (ins DefaultValuedAttr<F64Attr, "0.5">:$p), []> {
  let summary = "zeroes elements with probability p in training, scaling the "
                "rest by 1/(1-p); identity at inference";
  let description = [{
    `p` in [0, 1). Not `Pure`: each instance draws its own mask.
    FLOPs: 1 per element. Backward keeps the result (the mask is recoverable
    from it).
  }];
  let hasVerifier = 1;
}
def NN_SoftmaxOp : NN_UnaryOp<"softmax", 5, "Result",
    (ins ConfinedAttr<I64Attr, [IntNonNegative]>:$dim)> {
  let summary = "softmax along `dim` (0 <= dim < rank); FLOPs: 5 per element; "
                "keeps the result";
  let hasVerifier = 1;
}
def NN_LogSoftmaxOp : NN_UnaryOp<"log_softmax", 5, "Result",
    (ins ConfinedAttr<I64Attr, [IntNonNegative]>:$dim)> {
  let summary = "log of softmax along `dim` (0 <= dim < rank); FLOPs: 5 per "
                "element; keeps the result";
  let hasVerifier = 1;
}

def NN_AddOp : NN_LayerOp<"add", (ins NN_FloatTensor:$lhs,
    NN_FloatTensor:$rhs), [], [Pure, AllTypesMatch<["lhs", "rhs"]>]> {
  let summary = "elementwise sum of two tensors of the same type";
  let description = "FLOPs: 1 per element. Backward keeps nothing.";
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs)";
}

//===----------------------------------------------------------------------===//
// Pooling and shape manipulation
//===----------------------------------------------------------------------===//

def NN_MaxPool2dOp : NN_Pool2dOp<"maxpool2d", ["getSavedForBackward"]> {
  let summary = "2-d max pooling; FLOPs: KH*KW per output element; "
                "backward keeps the input";
}
def NN_AvgPool2dOp : NN_Pool2dOp<"avgpool2d"> {
  let summary = "2-d average pooling (counts padding); FLOPs: KH*KW per "
                "output element; backward keeps nothing";
}

def NN_GlobalAvgPoolOp : NN_ShapeOp<"global_avgpool"> {
  let summary = "mean over H and W: [N, C, H, W] -> [N, C]";
  let description = "FLOPs: 1 per input element. Backward keeps nothing.";
}

def NN_FlattenOp : NN_ShapeOp<"flatten"> {
  let summary = "[N, d1, d2, ...] -> [N, d1*d2*...]";
  let description = "FLOPs: 0. Backward keeps nothing.";
}

def NN_ReshapeOp : NN_ShapeOp<"reshape", (ins DenseI64ArrayAttr:$shape)> {
  let summary = "reshape to [N] + shape";
  let description = [{
    `shape` is the target without the batch dimension, fully resolved (no
    -1); the element counts per sample must match.
    FLOPs: 0. Backward keeps nothing.
  }];
}

def NN_ConcatOp : NN_LayerOp<"concat", (ins Variadic<NN_FloatTensor>:$inputs,
    ConfinedAttr<I64Attr, [IntNonNegative]>:$dim)> {
  let summary = "concatenation of >= 2 tensors along `dim`";
  let description = [{
    The inputs have equal element types and shapes except along `dim`
    (0 <= dim < rank). FLOPs: 0. Backward keeps nothing.
  }];
  let assemblyFormat =
      "$inputs attr-dict `:` functional-type($inputs, results)";
}

//===----------------------------------------------------------------------===//
// Recurrent layers
//===----------------------------------------------------------------------===//

defvar NN_RecurrentDoc = [{
    input [N, T, F] and the weights in PyTorch's state_dict order: for each
    layer l, for each direction (forward, then reverse): weight_ih [G*H, in_l],
    weight_hh [G*H, H], then with `has_bias` bias_ih [G*H], bias_hh [G*H]
    (in_0 = F, in_l = H*dirs). Result [N, T, H*dirs] with `return_sequences`,
    else the final hidden state of the top layer, both directions
    concatenated: [N, H*dirs].

    FLOPs per time step, layer and direction: 2*N*G*H*(in_l + H), plus
    2*N*G*H with bias, plus pointwise work (rnn 1*N*H, lstm 9*N*H,
    gru 10*N*H). Backward keeps the input; every step's state is counted by
    getExtraSavedBytes: T*layers*dirs*N*S*H*bytes(element) with S = 1 (rnn:
    h), 6 (lstm: 4 gates, h, c), 4 (gru: 3 gates, h).
}];

def NN_RNNOp : NN_RecurrentOp<"rnn", "RNN",
    (ins DefaultValuedAttr<StrAttr, "\"tanh\"">:$nonlinearity)> {
  let summary = "Elman RNN (G = 1), nonlinearity \"tanh\" or \"relu\"";
  let description = NN_RecurrentDoc;
  let hasVerifier = 1;
}
def NN_LSTMOp : NN_RecurrentOp<"lstm", "LSTM"> {
  let summary = "LSTM (G = 4, gates i, f, g, o)";
  let description = NN_RecurrentDoc;
}
def NN_GRUOp : NN_RecurrentOp<"gru", "GRU"> {
  let summary = "GRU (G = 3, gates r, z, n)";
  let description = NN_RecurrentDoc;
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

def NN_CrossEntropyOp : NN_LayerOp<"cross_entropy", (ins
    NN_FloatTensor:$logits, NN_IntTensor:$labels), ["getSavedForBackward"]> {
  let summary = "mean softmax cross entropy: logits [N, C], labels [N]";
  let description = [{
    Result `tensor<f32>`. Sequence logits [N, T, C] with labels [N, T] are
    N * T rows, the mean over all of them (PyTorch's
    `F.cross_entropy(logits.reshape(-1, C), labels.reshape(-1))`). FLOPs:
    5*N*C per row. Backward keeps logits and labels.
  }];
  let assemblyFormat =
      "$logits `,` $labels attr-dict `:` type($logits) `,` type($labels)";
}

def NN_MseOp : NN_LayerOp<"mse", (ins NN_FloatTensor:$pred,
    NN_FloatTensor:$target), ["getSavedForBackward"],
    [Pure, AllTypesMatch<["pred", "target"]>]> {
  let summary = "mean squared error over all elements";
  let description = [{
    Result `tensor<f32>`. FLOPs: 3 per element. Backward keeps both inputs.
  }];
  let assemblyFormat = "$pred `,` $target attr-dict `:` type($pred)";
}

// Training-mode forward ops, backward ops, optimizer updates and parameter
// writes (the ops -nn-autodiff emits).
include "dialect/NNTrainOps.td"

// Int8 quantization: quantize/dequantize and the int8 library ops
// (the ops -nn-quantize emits).
include "dialect/NNQuantOps.td"

// Generated kernels (the ops -nn-fuse emits).
include "dialect/NNKernelOps.td"

#endif // NNC_DIALECT_NNOPS_TD
