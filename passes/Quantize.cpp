//===- Quantize.cpp - -nn-quantize: post-training static int8 ------------===//
//
// Part of nnc. Plans (planQuantization, Quantize.h) and applies int8
// quantization to the inference @forward of a model: quantize ops in front of
// the int8 library ops, int8 weights with per-channel scales in place of the
// f32 weights, batchnorms folded into their convolutions, requantization in
// the library op's epilogue where its only consumer is a quantize. The table
// of activation parameters (JSON) comes from calibration (`nnc quantize`);
// observation mode exposes the f32 values calibration needs. See the pass
// description in Passes.td and docs/quantization.md.
//
//===----------------------------------------------------------------------===//

#include "passes/Quantize.h"
#include "passes/Passes.h"

#include "dialect/NNOps.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>

#define DEBUG_TYPE "nn-quantize"

namespace nnc {
#define GEN_PASS_DEF_NNQUANTIZE
#include "passes/Passes.h.inc"
} // namespace nnc

using namespace mlir;
using namespace mlir::nn;
using nnc::QuantizationPlan;
using nnc::QuantLayer;

namespace {

/// The per-tensor quantization of a layer's input.
struct InputParams {
  double scale = 1.0;
  int64_t zeroPoint = 0, qmin = 0, qmax = 255;
};

/// One entry of the table's "layers".
struct TableLayer {
  std::string batchnorm; ///< "" for null.
  InputParams input;
  bool used = false;
};

/// The parsed table.
struct Table {
  std::string path;
  llvm::StringMap<TableLayer> layers;
  std::vector<std::string> layerOrder;
  std::vector<std::string> f32Layers;
};

/// Reads and checks the table at `path`; errors at `loc` name it `name`.
FailureOr<Table> readTable(StringRef path, StringRef name, Location loc) {
  auto fail = [&](const Twine &msg) -> FailureOr<Table> {
    emitError(loc) << "nn-quantize: quantization table '" << name << "': " << msg;
    return failure();
  };
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return fail("cannot read it: " + buffer.getError().message());
  llvm::Expected<llvm::json::Value> json = llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return fail("not valid JSON: " + llvm::toString(json.takeError()));
  Table table;
  table.path = name.str();
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return fail("expected a JSON object");
  std::optional<int64_t> version = root->getInteger("version");
  if (!version || *version != 1)
    return fail("expected \"version\": 1");
  if (const llvm::json::Array *f32 = root->getArray("f32_layers")) {
    for (const llvm::json::Value &v : *f32) {
      std::optional<StringRef> name = v.getAsString();
      if (!name)
        return fail("\"f32_layers\" must hold layer names");
      table.f32Layers.push_back(name->str());
    }
  }
  const llvm::json::Array *layers = root->getArray("layers");
  if (!layers)
    return fail("expected an array \"layers\"");
  for (auto [i, v] : llvm::enumerate(*layers)) {
    std::string where = "layers[" + std::to_string(i) + "]";
    const llvm::json::Object *entry = v.getAsObject();
    std::optional<StringRef> name = entry ? entry->getString("layer") : std::nullopt;
    if (!name)
      return fail(where + " needs a string \"layer\"");
    TableLayer layer;
    if (const llvm::json::Value *bn = entry->get("batchnorm"); bn && !bn->getAsNull()) {
      std::optional<StringRef> bnName = bn->getAsString();
      if (!bnName)
        return fail(where + ".batchnorm must be a layer name or null");
      layer.batchnorm = bnName->str();
    }
    const llvm::json::Object *input = entry->getObject("input");
    std::optional<double> scale = input ? input->getNumber("scale") : std::nullopt;
    std::optional<int64_t> zp = input ? input->getInteger("zero_point") : std::nullopt;
    std::optional<int64_t> qmin = input ? input->getInteger("qmin") : std::nullopt;
    std::optional<int64_t> qmax = input ? input->getInteger("qmax") : std::nullopt;
    if (!scale || !zp || !qmin || !qmax)
      return fail(where + ".input needs \"scale\", \"zero_point\", \"qmin\" and \"qmax\"");
    if (!(*scale > 0 && std::isfinite(*scale)))
      return fail(where + ".input.scale must be positive and finite");
    bool u8 = *qmin >= 0 && *qmax <= 255, s8 = *qmin >= -128 && *qmax <= 127;
    if (*qmin >= *qmax || !(u8 || s8) || *zp < *qmin || *zp > *qmax)
      return fail(where + ".input: expected qmin <= zero_point <= qmax, qmin < qmax, within "
                          "[0, 255] (u8) or [-128, 127] (s8)");
    layer.input = {*scale, *zp, *qmin, *qmax};
    if (!table.layers.try_emplace(*name, layer).second)
      return fail("layer '" + *name + "' is listed twice");
    table.layerOrder.push_back(name->str());
  }
  return table;
}

/// The single model module of `module` (itself if it is one).
FailureOr<ModuleOp> modelOf(ModuleOp module) {
  SmallVector<ModuleOp> models = nnc::modelModules(module);
  if (models.size() != 1)
    return module.emitError("nn-quantize: expected one model module, found ") << models.size();
  return models.front();
}

/// The layer name of `op`, or "" if it has none.
StringRef layerName(Operation *op) {
  auto name = op->getAttrOfType<StringAttr>("name");
  return name ? name.getValue() : StringRef();
}

/// Replaces the param symbol `sym` by `type` (i8 or f32), initializer zeros,
/// and updates its references.
void retypeParam(ModuleOp model, ParamOp param, RankedTensorType type) {
  param.setType(type);
  param.setInit(NNInit::zeros);
  param.removeScaleAttr();
  model.walk([&](ParamRefOp ref) {
    if (ref.getSym() == param.getSymName())
      ref.getResult().setType(type);
  });
}

/// Creates the parameter `name` of `type` with `init` after `after`, and a
/// reference to it before `user`.
Value createParam(ParamOp after, StringRef name, RankedTensorType type, NNInit init,
                  Operation *user) {
  OpBuilder b(after->getContext());
  b.setInsertionPointAfter(after);
  ParamOp::create(b, after.getLoc(), name, type, /*buffer=*/false, init, /*scale=*/nullptr);
  b.setInsertionPoint(user);
  return ParamRefOp::create(b, user->getLoc(), type, FlatSymbolRefAttr::get(b.getContext(), name));
}

/// Deletes the parameters read by `refs` that nothing else reads, and the refs.
void eraseParamsOf(ModuleOp model, ArrayRef<Value> refs) {
  for (Value v : refs) {
    auto ref = v.getDefiningOp<ParamRefOp>();
    if (!ref || !ref->use_empty())
      continue;
    StringRef sym = ref.getSym();
    ref->erase();
    bool stillRead = false;
    model.walk([&](ParamRefOp other) { stillRead |= other.getSym() == sym; });
    if (!stillRead)
      if (auto param = model.lookupSymbol<ParamOp>(sym))
        param->erase();
  }
}

/// Rewrites one planned layer with its input parameters.
void quantizeLayer(ModuleOp model, const QuantLayer &l, const InputParams &in) {
  Operation *op = l.op;
  MLIRContext *ctx = op->getContext();
  OpBuilder b(op);
  Location loc = op->getLoc();
  auto f32 = b.getF32Type();
  auto i8 = b.getIntegerType(8);
  Value q =
      QuantizeOp::create(b, loc, op->getOperand(0), b.getF32FloatAttr(in.scale),
                         b.getI64IntegerAttr(in.zeroPoint), b.getI64IntegerAttr(in.qmin),
                         b.getI64IntegerAttr(in.qmax), b.getStringAttr(l.layer + ".quantize"));
  // The int8 weight and its scales.
  auto weightRef = op->getOperand(1).getDefiningOp<ParamRefOp>();
  auto weightParam = model.lookupSymbol<ParamOp>(weightRef.getSym());
  auto weightType = cast<RankedTensorType>(weightParam.getType());
  retypeParam(model, weightParam, RankedTensorType::get(weightType.getShape(), i8));
  auto channels = RankedTensorType::get({weightType.getDimSize(0)}, f32);
  // Scales of 1 until weights are loaded: the kernels want positive scales.
  Value scales = createParam(weightParam, l.prefix + ".weight_scale", channels, NNInit::ones, op);
  Value bias = op->getNumOperands() > 2 ? op->getOperand(2) : Value();
  if (!bias && l.bn)
    bias = createParam(model.lookupSymbol<ParamOp>(l.prefix + ".weight_scale"), l.prefix + ".bias",
                       channels, NNInit::zeros, op);
  SmallVector<Value> operands = {q, weightRef, scales};
  if (bias)
    operands.push_back(bias);
  SmallVector<NamedAttribute> attrs = {
      b.getNamedAttr("input_scale", b.getF32FloatAttr(in.scale)),
      b.getNamedAttr("input_zero_point", b.getI64IntegerAttr(in.zeroPoint)),
      b.getNamedAttr("name", b.getStringAttr(l.layer))};
  if (in.qmin >= 0 && in.qmax > 127)
    attrs.push_back(b.getNamedAttr("input_unsigned", UnitAttr::get(ctx)));
  Operation *qop;
  if (auto conv = dyn_cast<Conv2dOp>(op)) {
    for (StringRef name : {"stride", "padding", "dilation", "groups"})
      if (Attribute a = op->getAttr(name))
        attrs.push_back(b.getNamedAttr(name, a));
    qop = QConv2dOp::create(b, loc, operands, attrs);
  } else {
    qop = QLinearOp::create(b, loc, operands, attrs);
  }
  Operation *replaced = l.bn ? l.bn : op;
  replaced->getResult(0).replaceAllUsesWith(qop->getResult(0));
  if (l.bn) {
    SmallVector<Value> bnParams(l.bn->getOperands().drop_front());
    // The batchnorm's step counter (a training-only buffer) goes with it.
    std::string counter;
    if (auto gamma = bnParams.front().getDefiningOp<ParamRefOp>();
        gamma && gamma.getSym().ends_with(".weight"))
      counter = gamma.getSym().drop_back(7).str() + ".num_batches_tracked";
    l.bn->erase();
    eraseParamsOf(model, bnParams);
    bool counterRead = false;
    model.walk([&](ParamRefOp ref) { counterRead |= ref.getSym() == counter; });
    if (auto param = model.lookupSymbol<ParamOp>(counter); param && !counterRead)
      param->erase();
  }
  op->erase();
}

/// Whether `q` quantizes to the full u8 or s8 range (what the library's
/// requantization saturates to).
bool isFullRange(QuantizeOp q) {
  int64_t qmin = q.getQminAttr().getInt(), qmax = q.getQmaxAttr().getInt();
  return (qmin == 0 && qmax == 255) || (qmin == -128 && qmax == 127);
}

/// Moves the quantize that is the only consumer of `qop`'s f32 result
/// (through an optional relu, which becomes the epilogue) into `qop`.
void fuseOutputQuantization(Operation *qop) {
  Value v = qop->getResult(0);
  if (!v.hasOneUse())
    return;
  Operation *user = *v.getUsers().begin();
  auto relu = dyn_cast<ReluOp>(user);
  if (relu) {
    if (!relu->hasOneUse())
      return;
    user = *relu->getUsers().begin();
  }
  auto q = dyn_cast<QuantizeOp>(user);
  if (!q || !isFullRange(q))
    return;
  Builder b(qop->getContext());
  qop->setAttr("output_scale", q.getScaleAttr());
  qop->setAttr("output_zero_point", q.getZeroPointAttr());
  if (q.getQminAttr().getInt() >= 0)
    qop->setAttr("output_unsigned", b.getUnitAttr());
  if (relu)
    qop->setAttr("nn.epilogue", b.getStringAttr("relu"));
  v.setType(q.getType());
  q.getResult().replaceAllUsesWith(v);
  q->erase();
  if (relu)
    relu->erase();
}

/// Adds the f32 input of every planned layer to @forward's results
/// (`observe.<layer>`).
LogicalResult addObservations(const QuantizationPlan &plan) {
  ModuleOp model = plan.model;
  auto fn = model.lookupSymbol<func::FuncOp>("forward");
  Operation *ret = fn.getBody().front().getTerminator();
  for (const QuantLayer &l : plan.layers) {
    Value x = l.op->getOperand(0);
    unsigned index = fn.getNumResults();
    Builder b(fn->getContext());
    if (failed(fn.insertResult(
            index, x.getType(),
            b.getDictionaryAttr(b.getNamedAttr("nn.name", b.getStringAttr("observe." + l.layer))))))
      return failure();
    ret->insertOperands(ret->getNumOperands(), x);
  }
  return success();
}

struct NNQuantizePass : public nnc::impl::NNQuantizeBase<NNQuantizePass> {
  using Base::Base;

  void runOnOperation() override {
    for (ModuleOp model : nnc::modelModules(getOperation()))
      if (failed(runOnModel(model)))
        return signalPassFailure();
  }

  LogicalResult runOnModel(ModuleOp model) {
    std::optional<Table> table;
    std::vector<std::string> keep(keepF32.begin(), keepF32.end());
    if (!observe) {
      if (this->table.empty())
        return model.emitError("nn-quantize: needs a quantization table (table=PATH) or observe");
      FailureOr<Table> read =
          readTable(this->table, tableName.empty() ? StringRef(this->table) : StringRef(tableName),
                    model.getLoc());
      if (failed(read))
        return failure();
      table = std::move(*read);
      keep.insert(keep.end(), table->f32Layers.begin(), table->f32Layers.end());
    }
    FailureOr<QuantizationPlan> plan = nnc::planQuantization(model, keep);
    if (failed(plan))
      return failure();
    if (observe)
      return addObservations(*plan);
    return apply(*plan, *table);
  }

  /// Checks the plan against the table, then rewrites.
  LogicalResult apply(const QuantizationPlan &plan, Table &table) {
    ModuleOp model = plan.model;
    auto where = [&] { return "the quantization table '" + table.path + "'"; };
    for (const QuantLayer &l : plan.layers) {
      auto it = table.layers.find(l.layer);
      if (it == table.layers.end())
        return l.op->emitError("nn-quantize: layer '")
               << l.layer << "' is not in " << where()
               << " (list it, or keep it in f32 with keep-f32)";
      if (it->second.batchnorm != l.batchnorm)
        return l.op->emitError("nn-quantize: layer '")
               << l.layer << "' folds "
               << (l.batchnorm.empty() ? "no batchnorm" : "batchnorm '" + l.batchnorm + "'")
               << ", but " << where() << " says "
               << (it->second.batchnorm.empty() ? "none" : "'" + it->second.batchnorm + "'");
      it->second.used = true;
    }
    for (const std::string &name : table.layerOrder) {
      if (table.layers[name].used)
        continue;
      auto f32 = llvm::find(plan.f32Layers, name);
      if (f32 == plan.f32Layers.end())
        return model.emitError("nn-quantize: ")
               << where() << " lists layer '" << name
               << "', which is not a convolution or linear layer of @forward";
      Operation *op = nullptr;
      model.walk([&](Operation *o) {
        if (isa<Conv2dOp, LinearOp>(o) && layerName(o) == name)
          op = o;
      });
      return op->emitError("nn-quantize: layer '")
             << name << "' is kept in f32, but " << where() << " lists it";
    }
    SmallVector<Operation *> qops;
    for (const QuantLayer &l : plan.layers)
      quantizeLayer(model, l, table.layers[l.layer].input);
    model.walk([&](Operation *op) {
      if (isa<QConv2dOp, QLinearOp>(op))
        qops.push_back(op);
    });
    for (Operation *qop : qops)
      fuseOutputQuantization(qop);
    return success();
  }
};

} // namespace

FailureOr<QuantizationPlan> nnc::planQuantization(ModuleOp module, ArrayRef<std::string> keepF32) {
  FailureOr<ModuleOp> model = modelOf(module);
  if (failed(model))
    return failure();
  StringRef modelName = model->getSymName() ? *model->getSymName() : "model";
  if (auto train = model->lookupSymbol<func::FuncOp>("train_step"))
    return train.emitError("nn-quantize: model '")
           << modelName
           << "' has a @train_step; int8 quantization is for inference models (quantize the "
              "model without --train)";
  auto forward = model->lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal())
    return model->emitError("nn-quantize: model '") << modelName << "' has no @forward";
  QuantizationPlan plan;
  plan.model = *model;
  SmallVector<Operation *> layers;
  for (Operation &op : forward.getBody().front())
    if (isa<Conv2dOp, LinearOp>(op))
      layers.push_back(&op);
  for (Operation *op : layers)
    if (layerName(op).empty())
      return op->emitError("nn-quantize: a layer without a name cannot be quantized");
  // Resolve keep-f32.
  llvm::StringSet<> keep;
  for (const std::string &name : keepF32) {
    if (name == "first" || name == "last") {
      if (!layers.empty())
        keep.insert(layerName(name == "first" ? layers.front() : layers.back()));
      continue;
    }
    if (llvm::none_of(layers, [&](Operation *op) { return layerName(op) == name; }))
      return model->emitError("nn-quantize: keep-f32 names '")
             << name << "', which is not a convolution or linear layer of @forward";
    keep.insert(name);
  }
  for (Operation *op : layers) {
    StringRef name = layerName(op);
    if (keep.contains(name)) {
      plan.f32Layers.push_back(name.str());
      continue;
    }
    auto weightRef = op->getOperand(1).getDefiningOp<ParamRefOp>();
    if (!weightRef)
      return op->emitError("nn-quantize: the weight of layer '") << name << "' is not an nn.param";
    QuantLayer l;
    l.layer = name.str();
    StringRef sym = weightRef.getSym();
    l.prefix = sym.ends_with(".weight") ? sym.drop_back(7).str() : name.str();
    l.op = op;
    if (isa<Conv2dOp>(op) && op->getResult(0).hasOneUse())
      if (auto bn = dyn_cast<BatchNormOp>(*op->getResult(0).getUsers().begin());
          bn && bn.getInput() == op->getResult(0)) {
        l.bn = bn;
        l.batchnorm = layerName(bn).str();
      }
    plan.layers.push_back(std::move(l));
  }
  return plan;
}
