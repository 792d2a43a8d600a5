//===- NNOps.cpp - Ops of the nn dialect ----------------------------------===//
//
// Part of nnc. Type inference, verifiers and custom assembly of the nn ops.
// Every shape check goes through dialect/ShapeRules.h.
//
//===----------------------------------------------------------------------===//

#include "dialect/NNOps.h"
#include "dialect/NNInferCtx.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::nn;
namespace shape = nnc::shape;
using nn::detail::ctxFor;
using nn::detail::InferCtx;

//===----------------------------------------------------------------------===//
// Inference helpers
//===----------------------------------------------------------------------===//

LogicalResult nn::detail::inferPool2dTypes(
    StringRef opName, std::optional<Location> loc, Value input,
    DenseI64ArrayAttr kernel, DenseI64ArrayAttr stride,
    DenseI64ArrayAttr padding, std::optional<StringRef> layer,
    SmallVectorImpl<Type> &types) {
  InferCtx ctx(opName, loc, layer);
  FailureOr<RankedTensorType> in = ctx.tensor(input, "input");
  FailureOr<std::array<int64_t, 2>> k = ctx.pair(kernel, "kernel");
  FailureOr<std::array<int64_t, 2>> s = ctx.pair(stride, "stride");
  FailureOr<std::array<int64_t, 2>> p = ctx.pair(padding, "padding");
  if (failed(in) || failed(k) || failed(s) || failed(p))
    return failure();
  std::string err;
  shape::Pool2dParams params{*k, *s, *p};
  return ctx.result(shape::inferPool2d(in->getShape(), params, err), err,
                    in->getElementType(), types);
}

LogicalResult nn::detail::inferRecurrentTypes(
    StringRef opName, std::optional<Location> loc, Value input,
    ValueRange weights, const shape::RecurrentParams &params,
    std::optional<StringRef> layer, SmallVectorImpl<Type> &types) {
  InferCtx ctx(opName, loc, layer);
  FailureOr<RankedTensorType> in = ctx.tensor(input, "input");
  if (failed(in))
    return failure();
  std::string err;
  FailureOr<shape::Shape> out =
      shape::inferRecurrent(in->getShape(), params, err);
  if (failed(out))
    return ctx.fail(err);
  int64_t perDirection = params.hasBias ? 4 : 2;
  int64_t count =
      params.numLayers * (params.bidirectional ? 2 : 1) * perDirection;
  if (static_cast<int64_t>(weights.size()) != count)
    return ctx.fail(Twine("expects ") + Twine(count) + " weights (" +
                    (params.hasBias ? "weight_ih, weight_hh, bias_ih, bias_hh"
                                    : "weight_ih, weight_hh") +
                    " per layer and direction), got " + Twine(weights.size()));
  auto expected = shape::recurrentParamShapes(
      params.kind, in->getDimSize(2), params.hiddenSize, params.numLayers,
      params.bidirectional, params.hasBias);
  for (auto [w, entry] : llvm::zip_equal(weights, expected))
    if (failed(ctx.expectShape(w, entry.second, entry.first)))
      return failure();
  if (failed(ctx.sameElementType(in->getElementType(), weights)))
    return failure();
  types.push_back(RankedTensorType::get(*out, in->getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

/// Parses `zeros`, `ones`, `uniform(0.2)` or `normal(1.0)`.
static ParseResult parseParamInit(OpAsmParser &parser, NNInitAttr &init,
                                  FloatAttr &scale) {
  StringRef keyword;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseKeyword(&keyword))
    return failure();
  std::optional<NNInit> kind = symbolizeNNInit(keyword);
  if (!kind)
    return parser.emitError(loc, "unknown initializer '")
           << keyword << "' (expected zeros, ones, uniform or normal)";
  init = NNInitAttr::get(parser.getContext(), *kind);
  if (succeeded(parser.parseOptionalLParen())) {
    double value;
    if (parser.parseFloat(value) || parser.parseRParen())
      return failure();
    scale = parser.getBuilder().getF64FloatAttr(value);
  }
  return success();
}

/// Prints the initializer as parsed by parseParamInit.
static void printParamInit(OpAsmPrinter &p, ParamOp, NNInitAttr init,
                           FloatAttr scale) {
  p << stringifyNNInit(init.getValue());
  if (scale) {
    p << '(';
    p.printFloat(scale.getValue());
    p << ')';
  }
}

LogicalResult ParamOp::verify() {
  if (getBuffer() && getState())
    return emitOpError("is both a buffer and optimizer state");
  bool needsScale = getInit() == NNInit::uniform || getInit() == NNInit::normal;
  std::optional<double> scale;
  if (getScaleAttr())
    scale = getScaleAttr().getValueAsDouble();
  if (needsScale && !scale)
    return emitOpError("initializer '")
           << stringifyNNInit(getInit()) << "' needs a scale";
  if (!needsScale && scale)
    return emitOpError("initializer '")
           << stringifyNNInit(getInit()) << "' takes no scale";
  if (scale && !(*scale >= 0.0 && std::isfinite(*scale)))
    return emitOpError("initializer scale must be finite and non-negative, "
                       "got ")
           << *scale;
  // Integer parameters (int8 weights, counters) are loaded, not drawn.
  if (!isa<FloatType>(getType().getElementType()) && getInit() != NNInit::zeros)
    return emitOpError("an integer parameter's initializer must be 'zeros', got '")
           << stringifyNNInit(getInit()) << "'";
  return success();
}

//===----------------------------------------------------------------------===//
// ParamRefOp
//===----------------------------------------------------------------------===//

LogicalResult ParamRefOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  Operation *symbol =
      symbolTable.lookupNearestSymbolFrom(getOperation(), getSymAttr());
  if (!symbol)
    return emitOpError("refers to unknown parameter ") << getSymAttr();
  auto param = dyn_cast<ParamOp>(symbol);
  if (!param)
    return emitOpError("refers to ")
           << getSymAttr() << ", which is not an nn.param";
  if (param.getType() != getType())
    return emitOpError("type ")
           << getType() << " does not match the type " << param.getType()
           << " of parameter " << getSymAttr();
  return success();
}

//===----------------------------------------------------------------------===//
// Layers with weights
//===----------------------------------------------------------------------===//

FailureOr<shape::Shape> nn::detail::inferConv2dShape(const InferCtx &ctx, Value input, Value weight,
                                                     Value bias, DenseI64ArrayAttr strideAttr,
                                                     DenseI64ArrayAttr paddingAttr,
                                                     DenseI64ArrayAttr dilationAttr,
                                                     int64_t groups) {
  FailureOr<RankedTensorType> in = ctx.tensor(input, "input");
  FailureOr<RankedTensorType> w = ctx.tensor(weight, "weight");
  if (failed(in) || failed(w))
    return failure();
  FailureOr<std::array<int64_t, 2>> stride = ctx.pair(strideAttr, "stride");
  FailureOr<std::array<int64_t, 2>> padding = ctx.pair(paddingAttr, "padding");
  FailureOr<std::array<int64_t, 2>> dilation = ctx.pair(dilationAttr, "dilation");
  if (failed(stride) || failed(padding) || failed(dilation))
    return failure();
  ArrayRef<int64_t> ws = w->getShape();
  if (ws.size() != 4) {
    (void)ctx.fail("expects a 4-d weight [O, C/groups, KH, KW], got " + shape::formatShape(ws));
    return failure();
  }
  shape::Conv2dParams params;
  params.outChannels = ws[0];
  params.kernel = {ws[2], ws[3]};
  params.stride = *stride;
  params.padding = *padding;
  params.dilation = *dilation;
  params.groups = groups;
  std::string err;
  FailureOr<shape::Shape> out = shape::inferConv2d(in->getShape(), params, err);
  if (failed(out)) {
    (void)ctx.fail(err);
    return failure();
  }
  if (failed(
          ctx.expectShape(weight, shape::conv2dWeightShape(in->getDimSize(1), params), "weight")) ||
      failed(ctx.expectShape(bias, {ws[0]}, "bias")))
    return failure();
  return out;
}

FailureOr<shape::Shape> nn::detail::inferLinearShape(const InferCtx &ctx, Value input, Value weight,
                                                     Value bias) {
  FailureOr<RankedTensorType> in = ctx.tensor(input, "input");
  FailureOr<RankedTensorType> w = ctx.tensor(weight, "weight");
  if (failed(in) || failed(w))
    return failure();
  ArrayRef<int64_t> ws = w->getShape();
  if (ws.size() != 2) {
    (void)ctx.fail("expects a 2-d weight [out, in], got " + shape::formatShape(ws));
    return failure();
  }
  std::string err;
  FailureOr<shape::Shape> out = shape::inferLinear(in->getShape(), ws[1], ws[0], err);
  if (failed(out)) {
    (void)ctx.fail(err);
    return failure();
  }
  if (failed(ctx.expectShape(bias, {ws[0]}, "bias")))
    return failure();
  return out;
}

LogicalResult Conv2dOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         Adaptor adaptor, SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<Conv2dOp>(loc, adaptor);
  FailureOr<shape::Shape> out = nn::detail::inferConv2dShape(
      ctx, adaptor.getInput(), adaptor.getWeight(), adaptor.getBias(), adaptor.getStrideAttr(),
      adaptor.getPaddingAttr(), adaptor.getDilationAttr(), adaptor.getGroups());
  if (failed(out))
    return failure();
  Type elem = cast<RankedTensorType>(adaptor.getInput().getType()).getElementType();
  if (failed(ctx.sameElementType(elem, adaptor.getOperands())))
    return failure();
  types.push_back(RankedTensorType::get(*out, elem));
  return success();
}

LogicalResult LinearOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<LinearOp>(loc, adaptor);
  FailureOr<shape::Shape> out =
      nn::detail::inferLinearShape(ctx, adaptor.getInput(), adaptor.getWeight(), adaptor.getBias());
  if (failed(out))
    return failure();
  Type elem = cast<RankedTensorType>(adaptor.getInput().getType()).getElementType();
  if (failed(ctx.sameElementType(elem, adaptor.getOperands())))
    return failure();
  types.push_back(RankedTensorType::get(*out, elem));
  return success();
}

LogicalResult EmbeddingOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<EmbeddingOp>(loc, adaptor);
  FailureOr<RankedTensorType> ids = ctx.tensor(adaptor.getIds(), "ids");
  FailureOr<RankedTensorType> table = ctx.tensor(adaptor.getTable(), "table");
  if (failed(ids) || failed(table))
    return failure();
  if (table->getRank() != 2)
    return ctx.fail("expects a 2-d table [num, dim], got " +
                    shape::formatShape(table->getShape()));
  std::string err;
  return ctx.result(shape::inferEmbedding(ids->getShape(), table->getDimSize(0),
                                          table->getDimSize(1), err),
                    err, table->getElementType(), types);
}

LogicalResult PosEmbeddingOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                               Adaptor adaptor, SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<PosEmbeddingOp>(loc, adaptor);
  FailureOr<RankedTensorType> in = ctx.tensor(adaptor.getInput(), "input");
  FailureOr<RankedTensorType> table = ctx.tensor(adaptor.getTable(), "table");
  if (failed(in) || failed(table))
    return failure();
  if (table->getRank() != 2)
    return ctx.fail("expects a 2-d table [positions, dim], got " +
                    shape::formatShape(table->getShape()));
  if (failed(ctx.sameElementType(in->getElementType(), adaptor.getOperands())))
    return failure();
  std::string err;
  return ctx.result(
      shape::inferPosEmbedding(in->getShape(), table->getDimSize(0), table->getDimSize(1), err),
      err, in->getElementType(), types);
}

LogicalResult BatchNormOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<BatchNormOp>(loc, adaptor);
  FailureOr<RankedTensorType> in = ctx.tensor(adaptor.getInput(), "input");
  if (failed(in))
    return failure();
  std::string err;
  FailureOr<shape::Shape> out = shape::inferBatchNorm(in->getShape(), err);
  if (failed(out))
    return ctx.fail(err);
  int64_t c = in->getDimSize(1);
  if (failed(ctx.expectShape(adaptor.getWeight(), {c}, "weight")) ||
      failed(ctx.expectShape(adaptor.getBias(), {c}, "bias")) ||
      failed(ctx.expectShape(adaptor.getRunningMean(), {c}, "running_mean")) ||
      failed(ctx.expectShape(adaptor.getRunningVar(), {c}, "running_var")) ||
      failed(ctx.sameElementType(in->getElementType(), adaptor.getOperands())))
    return failure();
  return ctx.result(out, err, in->getElementType(), types);
}

LogicalResult BatchNormOp::verify() {
  double eps = getEps().convertToDouble();
  double momentum = getMomentum().convertToDouble();
  if (!(eps > 0.0 && std::isfinite(eps)))
    return emitOpError("eps must be positive, got ") << eps;
  if (!(momentum >= 0.0 && momentum <= 1.0))
    return emitOpError("momentum must be in [0, 1], got ") << momentum;
  return success();
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<LayerNormOp>(loc, adaptor);
  FailureOr<RankedTensorType> in = ctx.tensor(adaptor.getInput(), "input");
  if (failed(in))
    return failure();
  std::string err;
  FailureOr<shape::Shape> out = shape::inferLayerNorm(in->getShape(), err);
  if (failed(out))
    return ctx.fail(err);
  ValueRange affine = adaptor.getAffine();
  if (!affine.empty() && affine.size() != 2)
    return ctx.fail("expects no affine operands or two (weight, bias), got " +
                    std::to_string(affine.size()));
  int64_t d = in->getShape().back();
  if (!affine.empty() && (failed(ctx.expectShape(affine[0], {d}, "weight")) ||
                          failed(ctx.expectShape(affine[1], {d}, "bias"))))
    return failure();
  if (failed(ctx.sameElementType(in->getElementType(), adaptor.getOperands())))
    return failure();
  return ctx.result(out, err, in->getElementType(), types);
}

LogicalResult LayerNormOp::verify() {
  double eps = getEps().convertToDouble();
  if (!(eps > 0.0 && std::isfinite(eps)))
    return emitOpError("eps must be positive, got ") << eps;
  return success();
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

LogicalResult DropoutOp::verify() {
  double p = getP().convertToDouble();
  if (!(p >= 0.0 && p < 1.0))
    return emitOpError("probability p must be in [0, 1), got ") << p;
  return success();
}

/// Checks 0 <= dim < rank for softmax-like ops.
static LogicalResult verifyDim(Operation *op, int64_t dim, Value input) {
  int64_t rank = cast<RankedTensorType>(input.getType()).getRank();
  if (dim >= rank)
    return op->emitOpError("dim ")
           << dim << " is out of range for a " << rank << "-d input";
  return success();
}

LogicalResult SoftmaxOp::verify() {
  return verifyDim(*this, getDim(), getInput());
}

LogicalResult LogSoftmaxOp::verify() {
  return verifyDim(*this, getDim(), getInput());
}

LogicalResult AddOp::inferReturnTypes(MLIRContext *,
                                      std::optional<Location> loc,
                                      Adaptor adaptor,
                                      SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<AddOp>(loc, adaptor);
  FailureOr<RankedTensorType> lhs = ctx.tensor(adaptor.getLhs(), "lhs");
  FailureOr<RankedTensorType> rhs = ctx.tensor(adaptor.getRhs(), "rhs");
  if (failed(lhs) || failed(rhs) ||
      failed(ctx.sameElementType(lhs->getElementType(), adaptor.getRhs())))
    return failure();
  std::string err;
  return ctx.result(
      shape::inferSameShape(lhs->getShape(), rhs->getShape(), err), err,
      lhs->getElementType(), types);
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

/// Inference of an op with one input whose shape rule is `rule`.
template <typename OpTy, typename Rule>
static LogicalResult inferFromInput(std::optional<Location> loc,
                                    typename OpTy::Adaptor adaptor,
                                    SmallVectorImpl<Type> &types, Rule rule) {
  InferCtx ctx = ctxFor<OpTy>(loc, adaptor);
  FailureOr<RankedTensorType> in = ctx.tensor(adaptor.getInput(), "input");
  if (failed(in))
    return failure();
  std::string err;
  return ctx.result(rule(in->getShape(), err), err, in->getElementType(),
                    types);
}

LogicalResult GlobalAvgPoolOp::inferReturnTypes(MLIRContext *,
                                                std::optional<Location> loc,
                                                Adaptor adaptor,
                                                SmallVectorImpl<Type> &types) {
  return inferFromInput<GlobalAvgPoolOp>(loc, adaptor, types,
                                         shape::inferGlobalAvgPool);
}

LogicalResult FlattenOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &types) {
  return inferFromInput<FlattenOp>(loc, adaptor, types, shape::inferFlatten);
}

LogicalResult ReshapeOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &types) {
  DenseI64ArrayAttr target = adaptor.getShapeAttr();
  return inferFromInput<ReshapeOp>(
      loc, adaptor, types,
      [&](ArrayRef<int64_t> input,
          std::string &err) -> FailureOr<shape::Shape> {
        if (!target || llvm::is_contained(target.asArrayRef(), -1)) {
          err = "expects a fully resolved target shape (no -1)";
          return failure();
        }
        return shape::inferReshape(input, target.asArrayRef(), err);
      });
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<ConcatOp>(loc, adaptor);
  SmallVector<shape::Shape> shapes;
  Type elementType;
  for (Value v : adaptor.getInputs()) {
    FailureOr<RankedTensorType> t = ctx.tensor(v, "inputs");
    if (failed(t))
      return failure();
    shapes.emplace_back(t->getShape());
    elementType = t->getElementType();
  }
  if (elementType &&
      failed(ctx.sameElementType(elementType, adaptor.getInputs())))
    return failure();
  std::string err;
  int64_t dim =
      adaptor.getDimAttr() ? adaptor.getDimAttr().getValue().getSExtValue() : 0;
  return ctx.result(shape::inferConcat(shapes, dim, err), err, elementType,
                    types);
}

//===----------------------------------------------------------------------===//
// Recurrent layers
//===----------------------------------------------------------------------===//

LogicalResult RNNOp::verify() {
  if (getNonlinearity() != "tanh" && getNonlinearity() != "relu")
    return emitOpError("nonlinearity must be \"tanh\" or \"relu\", got \"")
           << getNonlinearity() << "\"";
  return success();
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

LogicalResult CrossEntropyOp::inferReturnTypes(MLIRContext *context,
                                               std::optional<Location> loc,
                                               Adaptor adaptor,
                                               SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<CrossEntropyOp>(loc, adaptor);
  FailureOr<RankedTensorType> logits =
      ctx.tensor(adaptor.getLogits(), "logits");
  FailureOr<RankedTensorType> labels =
      ctx.tensor(adaptor.getLabels(), "labels");
  if (failed(logits) || failed(labels))
    return failure();
  std::string err;
  return ctx.result(
      shape::inferCrossEntropy(logits->getShape(), labels->getShape(), err),
      err, Float32Type::get(context), types);
}

LogicalResult MseOp::inferReturnTypes(MLIRContext *context,
                                      std::optional<Location> loc,
                                      Adaptor adaptor,
                                      SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<MseOp>(loc, adaptor);
  FailureOr<RankedTensorType> pred = ctx.tensor(adaptor.getPred(), "pred");
  FailureOr<RankedTensorType> target =
      ctx.tensor(adaptor.getTarget(), "target");
  if (failed(pred) || failed(target))
    return failure();
  std::string err;
  return ctx.result(shape::inferMse(pred->getShape(), target->getShape(), err),
                    err, Float32Type::get(context), types);
}

//===----------------------------------------------------------------------===//
// Generated definitions
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// LibraryOpInterface
//===----------------------------------------------------------------------===//

// oneDNN applies an eltwise relu post-op to a convolution or inner product
// (cuBLASLt and cuDNN have the same epilogue).
bool Conv2dOp::acceptsEpilogue(StringRef kind) { return kind == "relu"; }
bool LinearOp::acceptsEpilogue(StringRef kind) { return kind == "relu"; }

#include "dialect/NNInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "dialect/NNOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

/// The shape of attention's input [N, T, d] checked for `heads`/`kvHeads`.
static FailureOr<shape::Shape> attentionShape(const InferCtx &ctx, Value input, int64_t heads,
                                              int64_t kvHeads) {
  FailureOr<RankedTensorType> in = ctx.tensor(input, "input");
  if (failed(in))
    return failure();
  std::string err;
  FailureOr<shape::Shape> out = shape::inferAttention(in->getShape(), heads, kvHeads, err);
  if (failed(out))
    (void)ctx.fail(err);
  return out;
}

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<AttentionOp>(loc, adaptor);
  int64_t heads = adaptor.getHeadsAttr() ? adaptor.getHeads() : 0;
  int64_t kvHeads = adaptor.getKvHeadsAttr() ? adaptor.getKvHeads() : 0;
  FailureOr<shape::Shape> out = attentionShape(ctx, adaptor.getInput(), heads, kvHeads);
  if (failed(out))
    return failure();
  ValueRange weights = adaptor.getWeights();
  size_t expected = adaptor.getHasBias() ? 4 : 2;
  if (weights.size() != expected)
    return ctx.fail(Twine("expects ") + Twine(expected) + " weights (" +
                    (adaptor.getHasBias() ? "qkv.weight, qkv.bias, out.weight, out.bias"
                                          : "qkv.weight, out.weight") +
                    "), got " + Twine(weights.size()));
  int64_t d = (*out)[2];
  if (d != ShapedType::kDynamic) {
    int64_t rows = shape::attentionQkvRows(d, heads, kvHeads);
    unsigned i = 0;
    if (failed(ctx.expectShape(weights[i++], {rows, d}, "qkv.weight")) ||
        (adaptor.getHasBias() && failed(ctx.expectShape(weights[i++], {rows}, "qkv.bias"))) ||
        failed(ctx.expectShape(weights[i++], {d, d}, "out.weight")) ||
        (adaptor.getHasBias() && failed(ctx.expectShape(weights[i++], {d}, "out.bias"))))
      return failure();
  }
  Type elem = cast<RankedTensorType>(adaptor.getInput().getType()).getElementType();
  if (failed(ctx.sameElementType(elem, adaptor.getOperands())))
    return failure();
  types.push_back(RankedTensorType::get(*out, elem));
  return success();
}

LogicalResult AttentionOp::verify() {
  if (getInput().getType().getDimSize(2) == ShapedType::kDynamic)
    return emitOpError("expects a static model dimension (input dimension 2)");
  return success();
}

Value AttentionOp::decompose(OpBuilder &b) {
  Location loc = getLoc();
  SmallVector<NamedAttribute> named;
  if (auto name = getNameAttr())
    named.push_back(b.getNamedAttr("name", name));
  SmallVector<Value> qkvOperands = {getInput(), getQkvWeight()};
  if (Value bias = getQkvBias())
    qkvOperands.push_back(bias);
  Value qkv = LinearOp::create(b, loc, qkvOperands, named).getResult();
  SmallVector<NamedAttribute> coreAttrs(named);
  coreAttrs.push_back(b.getNamedAttr("heads", getHeadsAttr()));
  coreAttrs.push_back(b.getNamedAttr("kv_heads", getKvHeadsAttr()));
  coreAttrs.push_back(b.getNamedAttr("causal", getCausalAttr()));
  Value core = AttentionCoreOp::create(b, loc, ValueRange{qkv}, coreAttrs).getResult();
  SmallVector<Value> outOperands = {core, getOutWeight()};
  if (Value bias = getOutBias())
    outOperands.push_back(bias);
  return LinearOp::create(b, loc, outOperands, named).getResult();
}

/// The result of attention_core for qkv [N, T, (H + 2 K) hd]: [N, T, H hd].
static LogicalResult inferAttentionCore(const InferCtx &ctx, Value qkv, int64_t heads,
                                        int64_t kvHeads, SmallVectorImpl<Type> &types) {
  FailureOr<RankedTensorType> t = ctx.tensor(qkv, "qkv");
  if (failed(t))
    return failure();
  if (t->getRank() != 3)
    return ctx.fail("expects qkv of rank 3 [N, T, (heads + 2 kv_heads) hd], got " +
                    shape::formatShape(t->getShape()));
  if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
    return ctx.fail(Twine("expects heads (") + Twine(heads) +
                    ") to be a positive multiple of kv_heads (" + Twine(kvHeads) + ")");
  int64_t c = t->getDimSize(2), parts = heads + 2 * kvHeads;
  if (c == ShapedType::kDynamic || c % parts != 0)
    return ctx.fail(Twine("expects qkv's last dimension to be a multiple of heads + 2 "
                          "kv_heads (") +
                    Twine(parts) + "), got " + shape::formatShape(t->getShape()));
  shape::Shape out(t->getShape());
  out[2] = c / parts * heads;
  types.push_back(RankedTensorType::get(out, t->getElementType()));
  return success();
}

LogicalResult AttentionCoreOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                                Adaptor adaptor, SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<AttentionCoreOp>(loc, adaptor);
  return inferAttentionCore(ctx, adaptor.getQkv(), adaptor.getHeadsAttr() ? adaptor.getHeads() : 0,
                            adaptor.getKvHeadsAttr() ? adaptor.getKvHeads() : 0, types);
}

LogicalResult AttentionCoreBackwardOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                                        Adaptor adaptor,
                                                        SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<AttentionCoreBackwardOp>(loc, adaptor);
  SmallVector<Type> forward;
  if (failed(inferAttentionCore(ctx, adaptor.getQkv(),
                                adaptor.getHeadsAttr() ? adaptor.getHeads() : 0,
                                adaptor.getKvHeadsAttr() ? adaptor.getKvHeads() : 0, forward)))
    return failure();
  auto grad = dyn_cast<RankedTensorType>(adaptor.getGrad().getType());
  if (!grad || failed(verifyCompatibleShape(grad, forward.front())))
    return ctx.fail("expects grad of the forward result's shape " +
                    shape::formatShape(cast<RankedTensorType>(forward.front()).getShape()));
  types.push_back(adaptor.getQkv().getType());
  return success();
}

LogicalResult BatchMatmulOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                              Adaptor adaptor, SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<BatchMatmulOp>(loc, adaptor);
  FailureOr<RankedTensorType> lhs = ctx.tensor(adaptor.getLhs(), "lhs");
  FailureOr<RankedTensorType> rhs = ctx.tensor(adaptor.getRhs(), "rhs");
  if (failed(lhs) || failed(rhs))
    return failure();
  if (lhs->getRank() != 3 || rhs->getRank() != 3)
    return ctx.fail("expects lhs and rhs of rank 3 [B, rows, cols], got " +
                    shape::formatShape(lhs->getShape()) + " and " +
                    shape::formatShape(rhs->getShape()));
  bool ta = adaptor.getTransposeLhs(), tb = adaptor.getTransposeRhs();
  int64_t m = lhs->getDimSize(ta ? 2 : 1), k = lhs->getDimSize(ta ? 1 : 2);
  int64_t k2 = rhs->getDimSize(tb ? 2 : 1), n = rhs->getDimSize(tb ? 1 : 2);
  if (lhs->getDimSize(0) != rhs->getDimSize(0) || k != k2)
    return ctx.fail("expects equal batch and contraction sizes, got " +
                    shape::formatShape(lhs->getShape()) + " and " +
                    shape::formatShape(rhs->getShape()));
  if (failed(ctx.sameElementType(lhs->getElementType(), adaptor.getRhs())))
    return failure();
  types.push_back(RankedTensorType::get({lhs->getDimSize(0), m, n}, lhs->getElementType()));
  return success();
}
