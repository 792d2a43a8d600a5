//===- MLIRGen.cpp - Lower evaluated models to the nn dialect -------------===//
//
// A one-to-one translation of Sema's ModelGraph: parameters become nn.param
// symbols, layers become nn ops in @forward, the loss goes to @loss. All
// checking happened in Sema; this file only builds.
//
//===----------------------------------------------------------------------===//

#include "frontend/MLIRGen.h"

#include "dialect/NNDialect.h"
#include "dialect/NNOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/DenseMap.h"

using namespace mlir;
using namespace mlir::nn;
using nnc::DType;
using nnc::Layer;
using nnc::LayerKind;
using nnc::ModelGraph;

namespace {

/// Builds the IR of one model.
class ModelBuilder {
public:
  /// One LineLocator per buffer, shared by the models of a file.
  using Locators = llvm::DenseMap<unsigned, std::unique_ptr<nnc::LineLocator>>;

  ModelBuilder(OpBuilder &builder, const ModelGraph &graph,
               const llvm::SourceMgr &srcMgr, Locators &locators)
      : builder(builder), ctx(builder.getContext()), graph(graph), srcMgr(srcMgr),
        locators(locators) {}

  void build();

private:
  Location loc(llvm::SMLoc l) const;
  Type elementType(DType dtype) const;
  RankedTensorType tensorType(unsigned value) const;
  Value paramRef(unsigned param, Location l);
  void emitLayer(const Layer &layer);
  NamedAttribute attr(StringRef name, Attribute value) const {
    return builder.getNamedAttr(name, value);
  }
  DenseI64ArrayAttr pair(const int64_t v[2]) const {
    return builder.getDenseI64ArrayAttr({v[0], v[1]});
  }

  OpBuilder &builder;
  MLIRContext *ctx;
  const ModelGraph &graph;
  const llvm::SourceMgr &srcMgr;
  std::vector<Value> values;
  Locators &locators;
};

} // namespace

Location ModelBuilder::loc(llvm::SMLoc l) const {
  if (!l.isValid())
    return UnknownLoc::get(ctx);
  unsigned buffer = srcMgr.FindBufferContainingLoc(l);
  if (!buffer)
    return UnknownLoc::get(ctx);
  // Not SourceMgr::getLineAndColumn (nor FindLineNumber, which calls it): it
  // scans back to the line start, O(line length) per op, which made one long
  // line of 100,000 layers take minutes.
  std::unique_ptr<nnc::LineLocator> &locator = locators[buffer];
  if (!locator)
    locator = std::make_unique<nnc::LineLocator>(
        srcMgr.getMemoryBuffer(buffer)->getBuffer());
  auto [line, col] = locator->getLineAndColumn(l);
  StringRef file = srcMgr.getMemoryBuffer(buffer)->getBufferIdentifier();
  return FileLineColLoc::get(ctx, file, line, col);
}

Type ModelBuilder::elementType(DType dtype) const {
  switch (dtype) {
  case DType::F32:
    return builder.getF32Type();
  case DType::F16:
    return builder.getF16Type();
  case DType::BF16:
    return builder.getBF16Type();
  case DType::I64:
    return builder.getI64Type();
  case DType::I32:
    return builder.getI32Type();
  }
  return builder.getF32Type();
}

RankedTensorType ModelBuilder::tensorType(unsigned value) const {
  const nnc::TensorValue &v = graph.values[value];
  return RankedTensorType::get(v.shape, elementType(v.dtype));
}

Value ModelBuilder::paramRef(unsigned param, Location l) {
  const nnc::ParamInfo &p = graph.params[param];
  auto type = RankedTensorType::get(p.shape, elementType(p.dtype));
  return ParamRefOp::create(builder, l, type, FlatSymbolRefAttr::get(ctx, p.name))
      .getResult();
}

void ModelBuilder::emitLayer(const Layer &layer) {
  Location l = loc(layer.loc);
  SmallVector<Value> operands;
  for (unsigned in : layer.inputs)
    operands.push_back(values[in]);
  for (unsigned p : layer.params)
    operands.push_back(paramRef(p, l));
  const nnc::LayerAttrs &a = layer.attrs;
  SmallVector<NamedAttribute> attrs{attr("name", builder.getStringAttr(layer.name))};
  auto i64 = [&](int64_t v) { return builder.getI64IntegerAttr(v); };
  auto f64 = [&](double v) { return builder.getF64FloatAttr(v); };
  auto recurrentAttrs = [&] {
    attrs.push_back(attr("hidden_size", i64(a.hidden)));
    attrs.push_back(attr("num_layers", i64(a.numLayers)));
    attrs.push_back(attr("bidirectional", builder.getBoolAttr(a.bidirectional)));
    attrs.push_back(attr("return_sequences", builder.getBoolAttr(a.sequences)));
    attrs.push_back(attr("has_bias", builder.getBoolAttr(a.hasBias)));
  };
  auto poolAttrs = [&] {
    attrs.push_back(attr("kernel", pair(a.kernel)));
    attrs.push_back(attr("stride", pair(a.stride)));
    attrs.push_back(attr("padding", pair(a.padding)));
  };

  Operation *op = nullptr;
  switch (layer.kind) {
  case LayerKind::Conv2d:
    attrs.push_back(attr("stride", pair(a.stride)));
    attrs.push_back(attr("padding", pair(a.padding)));
    attrs.push_back(attr("dilation", pair(a.dilation)));
    attrs.push_back(attr("groups", i64(a.groups)));
    op = Conv2dOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Linear:
    op = LinearOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Embedding:
    op = EmbeddingOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Relu:
    op = ReluOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Sigmoid:
    op = SigmoidOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Tanh:
    op = TanhOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Gelu:
    op = GeluOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::LeakyRelu:
    attrs.push_back(attr("slope", f64(a.slope)));
    op = LeakyReluOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Dropout:
    attrs.push_back(attr("p", f64(a.p)));
    op = DropoutOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Softmax:
    attrs.push_back(attr("dim", i64(a.dim)));
    op = SoftmaxOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::LogSoftmax:
    attrs.push_back(attr("dim", i64(a.dim)));
    op = LogSoftmaxOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::MaxPool2d:
    poolAttrs();
    op = MaxPool2dOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::AvgPool2d:
    poolAttrs();
    op = AvgPool2dOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::GlobalAvgPool:
    op = GlobalAvgPoolOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::BatchNorm:
    attrs.push_back(attr("eps", f64(a.eps)));
    attrs.push_back(attr("momentum", f64(a.momentum)));
    op = BatchNormOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::PosEmbedding:
    op = PosEmbeddingOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::LayerNorm:
    attrs.push_back(attr("eps", f64(a.eps)));
    op = LayerNormOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Flatten:
    op = FlattenOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Reshape:
    attrs.push_back(attr("shape", builder.getDenseI64ArrayAttr(a.shape)));
    op = ReshapeOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Add:
    op = AddOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Concat:
    attrs.push_back(attr("dim", i64(a.dim)));
    op = ConcatOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Rnn:
    recurrentAttrs();
    attrs.push_back(attr("nonlinearity", builder.getStringAttr(a.nonlinearity)));
    op = RNNOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Lstm:
    recurrentAttrs();
    op = LSTMOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Gru:
    recurrentAttrs();
    op = GRUOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Attention:
    attrs.push_back(attr("heads", i64(a.heads)));
    attrs.push_back(attr("kv_heads", i64(a.kvHeads)));
    attrs.push_back(attr("causal", builder.getBoolAttr(a.causal)));
    attrs.push_back(attr("has_bias", builder.getBoolAttr(a.hasBias)));
    op = AttentionOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::CrossEntropy:
    op = CrossEntropyOp::create(builder, l, operands, attrs);
    break;
  case LayerKind::Mse:
    op = MseOp::create(builder, l, operands, attrs);
    break;
  }
  values[layer.result] = op->getResult(0);
}

void ModelBuilder::build() {
  Location modelLoc = loc(graph.loc);
  auto model = ModuleOp::create(builder, modelLoc, StringRef(graph.name));
  model->setAttr("nn.model", builder.getUnitAttr());

  SmallVector<NamedAttribute> hparams;
  for (const auto &[name, v] : graph.hparams) {
    Attribute value;
    switch (v.kind) {
    case nnc::HParamValue::Kind::Int:
      value = builder.getI64IntegerAttr(v.i);
      break;
    case nnc::HParamValue::Kind::Float:
      value = builder.getF64FloatAttr(v.f);
      break;
    case nnc::HParamValue::Kind::Bool:
      value = builder.getBoolAttr(v.b);
      break;
    case nnc::HParamValue::Kind::String:
      value = builder.getStringAttr(v.s);
      break;
    }
    hparams.push_back(attr(name, value));
  }
  model->setAttr("nn.hparams", builder.getDictionaryAttr(hparams));
  const nnc::TrainConfig &t = graph.train;
  model->setAttr("nn.train",
                 builder.getDictionaryAttr({
                     attr("loss", builder.getStringAttr(t.loss)),
                     attr("optimizer", builder.getStringAttr(t.optimizer)),
                     attr("lr", builder.getF64FloatAttr(t.lr)),
                     attr("batch", builder.getI64IntegerAttr(t.batch)),
                     attr("epochs", builder.getI64IntegerAttr(t.epochs)),
                     attr("momentum", builder.getF64FloatAttr(t.momentum)),
                     attr("weight_decay", builder.getF64FloatAttr(t.weightDecay)),
                     attr("schedule", builder.getStringAttr(t.schedule)),
                 }));

  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(model.getBody());

  // Parameters, located at the layer that owns them.
  std::vector<llvm::SMLoc> paramLocs(graph.params.size(), graph.loc);
  // A tied weight (linear's `tie=`) stays at the layer that made it.
  std::vector<bool> located(graph.params.size(), false);
  for (const Layer &layer : graph.layers)
    for (unsigned p : layer.params)
      if (!located[p]) {
        paramLocs[p] = layer.loc;
        located[p] = true;
      }
  for (size_t i = 0; i < graph.params.size(); ++i) {
    const nnc::ParamInfo &p = graph.params[i];
    if (i > 0 && paramLocs[i] == graph.loc)
      paramLocs[i] = paramLocs[i - 1]; // e.g. num_batches_tracked
    NNInit init = p.init == nnc::Init::Zeros    ? NNInit::zeros
                  : p.init == nnc::Init::Ones   ? NNInit::ones
                  : p.init == nnc::Init::Uniform ? NNInit::uniform
                                                 : NNInit::normal;
    SmallVector<NamedAttribute> attrs{
        attr("sym_name", builder.getStringAttr(p.name)),
        attr("type", TypeAttr::get(RankedTensorType::get(p.shape, elementType(p.dtype)))),
        attr("init", NNInitAttr::get(ctx, init))};
    if (p.buffer)
      attrs.push_back(attr("buffer", builder.getUnitAttr()));
    if (p.init == nnc::Init::Uniform || p.init == nnc::Init::Normal)
      attrs.push_back(attr("scale", builder.getF64FloatAttr(p.scale)));
    ParamOp::create(builder, loc(paramLocs[i]), TypeRange{}, ValueRange{}, attrs);
  }

  // @forward: inputs -> layers -> outputs.
  values.assign(graph.values.size(), Value());
  SmallVector<Type> argTypes, resultTypes;
  for (const nnc::InputInfo &in : graph.inputs)
    argTypes.push_back(tensorType(in.value));
  for (const nnc::OutputInfo &out : graph.outputs)
    resultTypes.push_back(tensorType(out.value));
  auto forward = func::FuncOp::create(builder, modelLoc, "forward",
                                      builder.getFunctionType(argTypes, resultTypes));
  // The train section's normalization belongs to every floating-point input:
  // the lowering applies it on entry, so callers pass unnormalized data.
  DictionaryAttr normalize;
  if (!t.normMean.empty())
    normalize = builder.getDictionaryAttr(
        {attr("mean", builder.getF64ArrayAttr(t.normMean)),
         attr("std", builder.getF64ArrayAttr(t.normStd))});
  for (auto [i, in] : llvm::enumerate(graph.inputs)) {
    forward.setArgAttr(i, "nn.name", builder.getStringAttr(in.name));
    if (normalize && nnc::isFloat(graph.values[in.value].dtype))
      forward.setArgAttr(i, "nn.normalize", normalize);
  }
  for (auto [i, out] : llvm::enumerate(graph.outputs))
    forward.setResultAttr(i, "nn.name", builder.getStringAttr(out.name));
  Block *entry = forward.addEntryBlock();
  {
    OpBuilder::InsertionGuard bodyGuard(builder);
    builder.setInsertionPointToStart(entry);
    for (auto [i, in] : llvm::enumerate(graph.inputs)) {
      // Located at the declaration, for errors about an input.
      entry->getArgument(i).setLoc(loc(in.loc));
      values[in.value] = entry->getArgument(i);
    }
    for (const Layer &layer : graph.layers)
      emitLayer(layer);
    SmallVector<Value> results;
    for (const nnc::OutputInfo &out : graph.outputs)
      results.push_back(values[out.value]);
    func::ReturnOp::create(builder, loc(graph.outputs.back().loc), results);
  }

  // @loss(first output, labels) -> scalar.
  if (graph.loss) {
    const Layer &lossLayer = *graph.loss;
    unsigned out = graph.outputs.front().value;
    auto lossFn = func::FuncOp::create(
        builder, loc(lossLayer.loc), "loss",
        builder.getFunctionType({tensorType(out), tensorType(graph.labels)},
                                {tensorType(lossLayer.result)}));
    lossFn.setArgAttr(0, "nn.name", builder.getStringAttr(graph.outputs.front().name));
    lossFn.setArgAttr(1, "nn.name", builder.getStringAttr("labels"));
    Block *body = lossFn.addEntryBlock();
    OpBuilder::InsertionGuard bodyGuard(builder);
    builder.setInsertionPointToStart(body);
    values[out] = body->getArgument(0);
    values[graph.labels] = body->getArgument(1);
    emitLayer(lossLayer);
    func::ReturnOp::create(builder, loc(lossLayer.loc), values[lossLayer.result]);
  }
}

OwningOpRef<ModuleOp> nnc::mlirGen(MLIRContext &context,
                                   llvm::ArrayRef<ModelGraph> graphs,
                                   const llvm::SourceMgr &srcMgr) {
  context.loadDialect<NNDialect, func::FuncDialect>();
  OpBuilder builder(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(builder.getUnknownLoc());
  builder.setInsertionPointToEnd(module->getBody());
  ModelBuilder::Locators locators;
  for (const ModelGraph &graph : graphs)
    ModelBuilder(builder, graph, srcMgr, locators).build();
  if (failed(verify(*module))) {
    emitError(module->getLoc(), "internal error: the generated nn IR does not verify");
    return nullptr;
  }
  return module;
}
