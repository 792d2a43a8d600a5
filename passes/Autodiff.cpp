//===- Autodiff.cpp - -nn-autodiff ----------------------------------------===//
//
// Part of nnc. Builds @train_step for every model module: @forward cloned in
// training mode, @loss, reverse-mode gradients through GradientOpInterface,
// and the optimizer update and write-back of every parameter. See
// docs/training.md (Autodiff) and the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialect/NNOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Debug.h"

#include <cmath>

#define DEBUG_TYPE "nn-autodiff"

namespace nnc {
#define GEN_PASS_DEF_NNAUTODIFF
#include "passes/Passes.h.inc"
} // namespace nnc

using namespace mlir;
using namespace mlir::nn;

namespace {

/// The optimizer of a model, its options resolved.
struct OptimizerConfig {
  enum class Kind { SGD, Momentum, Adam, AdamW };
  Kind kind = Kind::SGD;
  double momentum = 0.9;
  bool nesterov = false;
  double weightDecay = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

/// Knowledge distillation (the pass's distill-temperature > 0): the loss
/// becomes nn.distill_loss of the student's logits, the teacher's logits (an
/// extra @train_step argument) and the labels.
struct DistillConfig {
  double temperature = 0.0; ///< 0: no distillation.
  double alpha = 0.9;
  bool enabled() const { return temperature != 0.0; }
};

/// A batchnorm of @forward in training mode: its running statistics are
/// written back after the step.
struct BatchNormUpdate {
  BatchNormTrainOp op;
  FlatSymbolRefAttr runningMean, runningVar;
};

/// Builds @train_step of one model module.
class TrainStepBuilder {
public:
  TrainStepBuilder(ModuleOp model, const OptimizerConfig &config, const DistillConfig &distill)
      : model(model), config(config), distill(distill), b(model.getContext()), symbols(model) {}

  LogicalResult build();

private:
  LogicalResult cloneForward(func::FuncOp forward, ValueRange inputs,
                             Value seed, SmallVectorImpl<Value> &outputs);
  Operation *cloneInTrainingMode(Operation &op, IRMapping &map, Value seed);
  LogicalResult backward(Value loss, ArrayRef<Operation *> forwardOps);
  LogicalResult accumulate(Value value, Value grad, Operation *at);
  LogicalResult updateParameters(Value lr, Value step);
  LogicalResult writeRunningStats();
  FailureOr<Value> stateRef(ParamOp param, StringRef key);
  LogicalResult assign(FlatSymbolRefAttr sym, Value value, Location loc);
  FailureOr<Value> distillLoss(Value loss, Value teacherLogits);

  /// The nn.param a param_ref reads, or null.
  ParamOp paramOf(ParamRefOp ref) {
    return symbols.lookup<ParamOp>(ref.getSymAttr().getValue());
  }

  ModuleOp model;
  const OptimizerConfig &config;
  const DistillConfig &distill;
  OpBuilder b;
  SymbolTable symbols;
  /// The gradient of each value of @train_step reached from the loss.
  DenseMap<Value, Value> grads;
  /// Values that depend on a trainable parameter (they need gradients).
  DenseSet<Value> active;
  /// Trainable parameters in use: the first param_ref and the summed
  /// gradient over all param_refs of the symbol (null if none reached it).
  llvm::MapVector<StringAttr, std::pair<Value, Value>> params;
  SmallVector<BatchNormUpdate> batchNorms;
  llvm::DenseSet<StringAttr> assigned;
  /// The number of dropouts so far (each gets its own random stream).
  int64_t dropoutStreams = 0;
  /// Where optimizer state symbols are inserted (after the last nn.param).
  Operation *lastParam = nullptr;
};

} // namespace

//===----------------------------------------------------------------------===//
// Forward in training mode
//===----------------------------------------------------------------------===//

/// Replaces `op` by its training variant (dropout, batchnorm, recurrent), or
/// clones it. Returns the new op.
Operation *TrainStepBuilder::cloneInTrainingMode(Operation &op, IRMapping &map,
                                                 Value seed) {
  SmallVector<Value> operands;
  for (Value v : op.getOperands())
    operands.push_back(map.lookupOrDefault(v));
  SmallVector<NamedAttribute> attrs(op.getAttrs());
  Location loc = op.getLoc();

  Operation *train = nullptr;
  if (isa<DropoutOp>(op)) {
    operands.push_back(seed);
    attrs.push_back(
        b.getNamedAttr("stream", b.getI64IntegerAttr(dropoutStreams++)));
    train = DropoutTrainOp::create(b, loc, operands, attrs);
  } else if (auto bn = dyn_cast<BatchNormOp>(op)) {
    auto trainBn = BatchNormTrainOp::create(b, loc, operands, attrs);
    auto mean = bn.getRunningMean().getDefiningOp<ParamRefOp>();
    auto var = bn.getRunningVar().getDefiningOp<ParamRefOp>();
    if (mean && var)
      batchNorms.push_back({trainBn, mean.getSymAttr(), var.getSymAttr()});
    train = trainBn;
  } else if (isa<RNNOp>(op)) {
    train = RNNTrainOp::create(b, loc, operands, attrs);
  } else if (isa<LSTMOp>(op)) {
    train = LSTMTrainOp::create(b, loc, operands, attrs);
  } else if (isa<GRUOp>(op)) {
    train = GRUTrainOp::create(b, loc, operands, attrs);
  } else if (isa<AttentionOp>(op)) {
    // Its parts (linear, attention_core, linear), each differentiated on its
    // own: the backward keeps their inputs instead of recomputing them.
    auto clone = cast<AttentionOp>(b.clone(op, map));
    Value result = clone.decompose(b);
    clone->erase();
    map.map(op.getResult(0), result);
    return result.getDefiningOp();
  } else {
    return b.clone(op, map);
  }
  map.map(op.getResult(0), train->getResult(0));
  return train;
}

LogicalResult TrainStepBuilder::cloneForward(func::FuncOp forward,
                                             ValueRange inputs, Value seed,
                                             SmallVectorImpl<Value> &outputs) {
  IRMapping map;
  Block &body = forward.getBody().front();
  map.map(body.getArguments(), inputs);
  for (Operation &op : body.without_terminator())
    cloneInTrainingMode(op, map, seed);
  for (Value v : body.getTerminator()->getOperands())
    outputs.push_back(map.lookupOrDefault(v));
  return success();
}

//===----------------------------------------------------------------------===//
// Reverse mode
//===----------------------------------------------------------------------===//

LogicalResult TrainStepBuilder::accumulate(Value value, Value grad,
                                           Operation *at) {
  if (grad.getType() != value.getType())
    return at->emitOpError("internal error: gradient type ")
           << grad.getType() << " does not match the operand type "
           << value.getType();
  auto [it, inserted] = grads.try_emplace(value, grad);
  if (!inserted)
    it->second = AddOp::create(b, at->getLoc(), ValueRange{it->second, grad},
                               ArrayRef<NamedAttribute>{})
                     .getResult();
  return success();
}

LogicalResult TrainStepBuilder::backward(Value loss,
                                         ArrayRef<Operation *> forwardOps) {
  // Activity: a float value needs a gradient if it depends on a trainable
  // parameter. Model inputs, labels and buffers never do.
  for (Operation *op : forwardOps) {
    bool isActive = false;
    if (auto ref = dyn_cast<ParamRefOp>(op)) {
      ParamOp param = paramOf(ref);
      isActive = param && !param.getBuffer() && !param.getState() &&
                 isa<FloatType>(ref.getType().getElementType());
      if (isActive && !params.count(ref.getSymAttr().getAttr()))
        params.insert({ref.getSymAttr().getAttr(), {ref.getResult(), {}}});
    } else {
      isActive = llvm::any_of(op->getOperands(),
                              [&](Value v) { return active.contains(v); });
    }
    if (!isActive)
      continue;
    for (Value r : op->getResults())
      if (auto t = dyn_cast<RankedTensorType>(r.getType());
          t && isa<FloatType>(t.getElementType()))
        active.insert(r);
  }

  // The seed: dL/dL = 1.
  Location loc = loss.getLoc();
  auto scalar = RankedTensorType::get({}, b.getF32Type());
  grads[loss] = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(scalar, b.getF32FloatAttr(1.0f)));

  for (Operation *op : llvm::reverse(forwardOps)) {
    SmallVector<Value> resultGrads;
    for (Value r : op->getResults())
      resultGrads.push_back(grads.lookup(r));
    if (llvm::all_of(resultGrads, [](Value g) { return !g; }))
      continue;
    if (auto ref = dyn_cast<ParamRefOp>(op)) {
      auto it = params.find(ref.getSymAttr().getAttr());
      if (it == params.end())
        continue; // a buffer or state: no update
      Value &sum = it->second.second;
      sum = sum ? AddOp::create(b, ref.getLoc(),
                                ValueRange{sum, resultGrads.front()},
                                ArrayRef<NamedAttribute>{})
                      .getResult()
                : resultGrads.front();
      continue;
    }
    SmallVector<bool> need;
    for (Value v : op->getOperands())
      need.push_back(active.contains(v));
    if (llvm::none_of(need, [](bool n) { return n; }))
      continue;
    auto rule = dyn_cast<GradientOpInterface>(op);
    if (!rule)
      return op->emitOpError("has no gradient (nn-autodiff needs one for "
                             "every op between the parameters and the loss)");
    LLVM_DEBUG(llvm::dbgs() << "differentiating " << *op << "\n");
    FailureOr<SmallVector<Value>> operandGrads =
        rule.buildGradient(b, resultGrads, need);
    if (failed(operandGrads))
      return failure();
    for (auto [operand, grad, wanted] :
         llvm::zip_equal(op->getOperands(), *operandGrads, need))
      if (grad && wanted && failed(accumulate(operand, grad, op)))
        return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Updates
//===----------------------------------------------------------------------===//

LogicalResult TrainStepBuilder::assign(FlatSymbolRefAttr sym, Value value,
                                       Location loc) {
  if (!assigned.insert(sym.getAttr()).second)
    return emitError(loc, "nn-autodiff: ")
           << sym << " would be written twice in one training step";
  ParamAssignOp::create(b, loc, sym, value);
  return success();
}

/// Reads (creating it if needed) the optimizer state `<param>.<key>`.
FailureOr<Value> TrainStepBuilder::stateRef(ParamOp param, StringRef key) {
  std::string name = (param.getSymName() + "." + key).str();
  Type type = param.getType();
  if (Operation *existing = symbols.lookup(name)) {
    auto state = dyn_cast<ParamOp>(existing);
    if (!state || !state.getState() || state.getType() != type)
      return existing->emitError("nn-autodiff: symbol @\"")
             << name << "\" exists but is not optimizer state of type " << type;
  } else {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointAfter(lastParam);
    auto state = ParamOp::create(
        b, param.getLoc(), TypeRange{}, ValueRange{},
        ArrayRef<NamedAttribute>{
            b.getNamedAttr("sym_name", b.getStringAttr(name)),
            b.getNamedAttr("type", TypeAttr::get(type)),
            b.getNamedAttr("init",
                           NNInitAttr::get(b.getContext(), NNInit::zeros)),
            b.getNamedAttr("state", b.getUnitAttr())});
    // Already in the module: this only records the symbol.
    symbols.insert(state);
    lastParam = state;
  }
  return ParamRefOp::create(b, param.getLoc(), type,
                            FlatSymbolRefAttr::get(b.getContext(), name))
      .getResult();
}

LogicalResult TrainStepBuilder::updateParameters(Value lr, Value step) {
  MLIRContext *ctx = b.getContext();
  for (auto &[symName, entry] : params) {
    auto [value, grad] = entry;
    if (!grad)
      continue; // the parameter does not reach the loss
    auto param = symbols.lookup<ParamOp>(symName);
    Location loc = param.getLoc();
    auto sym = FlatSymbolRefAttr::get(symName);
    NamedAttribute name =
        b.getNamedAttr("name", StringAttr::get(ctx, symName.getValue()));
    NamedAttribute wd =
        b.getNamedAttr("weight_decay", b.getF64FloatAttr(config.weightDecay));
    switch (config.kind) {
    case OptimizerConfig::Kind::SGD: {
      auto update = SgdUpdateOp::create(b, loc, ValueRange{value, grad, lr},
                                        ArrayRef<NamedAttribute>{wd, name});
      if (failed(assign(sym, update.getNewParam(), loc)))
        return failure();
      break;
    }
    case OptimizerConfig::Kind::Momentum: {
      FailureOr<Value> buf = stateRef(param, "momentum_buffer");
      if (failed(buf))
        return failure();
      SmallVector<NamedAttribute> attrs{
          b.getNamedAttr("momentum", b.getF64FloatAttr(config.momentum)), wd,
          name};
      if (config.nesterov)
        attrs.push_back(b.getNamedAttr("nesterov", b.getUnitAttr()));
      auto update = MomentumUpdateOp::create(
          b, loc, ValueRange{value, grad, *buf, lr}, attrs);
      if (failed(assign(sym, update.getNewParam(), loc)) ||
          failed(
              assign(FlatSymbolRefAttr::get(
                         ctx, (symName.getValue() + ".momentum_buffer").str()),
                     update.getNewMomentumBuffer(), loc)))
        return failure();
      break;
    }
    case OptimizerConfig::Kind::Adam:
    case OptimizerConfig::Kind::AdamW: {
      FailureOr<Value> m = stateRef(param, "exp_avg");
      FailureOr<Value> v = stateRef(param, "exp_avg_sq");
      if (failed(m) || failed(v))
        return failure();
      SmallVector<NamedAttribute> attrs{
          b.getNamedAttr("beta1", b.getF64FloatAttr(config.beta1)),
          b.getNamedAttr("beta2", b.getF64FloatAttr(config.beta2)),
          b.getNamedAttr("eps", b.getF64FloatAttr(config.eps)), wd, name};
      if (config.kind == OptimizerConfig::Kind::AdamW)
        attrs.push_back(b.getNamedAttr("adamw", b.getUnitAttr()));
      auto update = AdamUpdateOp::create(
          b, loc, ValueRange{value, grad, *m, *v, lr, step}, attrs);
      std::string base = symName.getValue().str();
      if (failed(assign(sym, update.getNewParam(), loc)) ||
          failed(assign(FlatSymbolRefAttr::get(ctx, base + ".exp_avg"),
                        update.getNewExpAvg(), loc)) ||
          failed(assign(FlatSymbolRefAttr::get(ctx, base + ".exp_avg_sq"),
                        update.getNewExpAvgSq(), loc)))
        return failure();
      break;
    }
    }
  }
  return success();
}

LogicalResult TrainStepBuilder::writeRunningStats() {
  for (BatchNormUpdate &bn : batchNorms) {
    Location loc = bn.op.getLoc();
    if (failed(assign(bn.runningMean, bn.op.getNewRunningMean(), loc)) ||
        failed(assign(bn.runningVar, bn.op.getNewRunningVar(), loc)))
      return failure();
    // PyTorch counts the batches: `<bn>.num_batches_tracked` += 1.
    StringRef mean = bn.runningMean.getValue();
    if (!mean.consume_back("running_mean"))
      continue;
    std::string counter = (mean + "num_batches_tracked").str();
    auto param = symbols.lookup<ParamOp>(counter);
    auto i64 = RankedTensorType::get({}, b.getI64Type());
    if (!param || param.getType() != i64)
      continue;
    auto sym = FlatSymbolRefAttr::get(b.getContext(), counter);
    Value count = ParamRefOp::create(b, loc, i64, sym);
    Value one = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(i64, b.getI64IntegerAttr(1)));
    if (failed(assign(sym, arith::AddIOp::create(b, loc, count, one), loc)))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// @train_step
//===----------------------------------------------------------------------===//

/// Replaces the cloned loss (which must be nn.cross_entropy) by
/// nn.distill_loss of the same logits and labels and `teacherLogits`.
FailureOr<Value> TrainStepBuilder::distillLoss(Value loss, Value teacherLogits) {
  auto ce = loss.getDefiningOp<CrossEntropyOp>();
  if (!ce)
    return emitError(loss.getLoc(), "nn-autodiff: distillation needs a "
                                    "cross_entropy loss (the student's @loss)");
  if (cast<RankedTensorType>(ce.getLogits().getType()).getRank() != 2)
    return emitError(loss.getLoc(), "nn-autodiff: distillation needs classifier logits "
                                    "[N, classes], not sequence logits");
  SmallVector<NamedAttribute> attrs{
      b.getNamedAttr("temperature", b.getF64FloatAttr(distill.temperature)),
      b.getNamedAttr("alpha", b.getF64FloatAttr(distill.alpha))};
  if (auto name = ce->getAttrOfType<StringAttr>("name"))
    attrs.push_back(b.getNamedAttr("name", name));
  Value mixed = DistillLossOp::create(
      b, ce.getLoc(), ValueRange{ce.getLogits(), teacherLogits, ce.getLabels()}, attrs);
  ce.erase();
  return mixed;
}

LogicalResult TrainStepBuilder::build() {
  auto forward = symbols.lookup<func::FuncOp>("forward");
  auto lossFn = symbols.lookup<func::FuncOp>("loss");
  if (!forward || forward.isExternal() || forward.getNumResults() == 0)
    return model.emitError("nn-autodiff: the model has no func.func @forward "
                           "with results");
  if (!lossFn || lossFn.isExternal() || lossFn.getNumArguments() != 2 ||
      lossFn.getNumResults() != 1)
    return model.emitError("nn-autodiff: the model has no func.func @loss "
                           "(output, labels) -> loss");
  if (symbols.lookup("train_step"))
    return model.emitError("nn-autodiff: the model already has @train_step");
  if (lossFn.getArgumentTypes()[0] != forward.getResultTypes()[0])
    return lossFn.emitError("nn-autodiff: @loss takes ")
           << lossFn.getArgumentTypes()[0] << " but @forward returns "
           << forward.getResultTypes()[0];
  auto f32 = RankedTensorType::get({}, b.getF32Type());
  auto i64 = RankedTensorType::get({}, b.getI64Type());
  if (lossFn.getResultTypes()[0] != f32)
    return lossFn.emitError("nn-autodiff: @loss must return tensor<f32>");
  for (ParamOp p : model.getBody()->getOps<ParamOp>())
    lastParam = p;

  // The signature: inputs..., labels, lr, step, seed[, teacher_logits] ->
  // (loss, correct).
  SmallVector<Type> argTypes(forward.getArgumentTypes());
  argTypes.append({lossFn.getArgumentTypes()[1], f32, i64, i64});
  if (distill.enabled())
    argTypes.push_back(forward.getResultTypes()[0]);
  b.setInsertionPointAfter(lossFn);
  auto fn = func::FuncOp::create(b, forward.getLoc(), "train_step",
                                 b.getFunctionType(argTypes, {f32, i64}));
  unsigned numInputs = forward.getNumArguments();
  for (unsigned i = 0; i < numInputs; ++i)
    if (DictionaryAttr attrs = forward.getArgAttrDict(i))
      fn.setArgAttrs(i, attrs); // nn.name, nn.normalize
  Attribute labelsName = lossFn.getArgAttr(1, "nn.name");
  fn.setArgAttr(numInputs, "nn.name",
                labelsName ? labelsName : b.getStringAttr("labels"));
  const char *const scalarNames[] = {"lr", "step", "seed"};
  for (unsigned i = 0; i < 3; ++i)
    fn.setArgAttr(numInputs + 1 + i, "nn.name",
                  b.getStringAttr(scalarNames[i]));
  if (distill.enabled())
    fn.setArgAttr(numInputs + 4, "nn.name", b.getStringAttr("teacher_logits"));
  fn.setResultAttr(0, "nn.name", b.getStringAttr("loss"));
  fn.setResultAttr(1, "nn.name", b.getStringAttr("correct"));
  Block *body = fn.addEntryBlock();
  b.setInsertionPointToStart(body);
  ValueRange args = body->getArguments();
  Value labels = args[numInputs], lr = args[numInputs + 1],
        step = args[numInputs + 2], seed = args[numInputs + 3];

  // Forward in training mode, then the loss on the first output.
  SmallVector<Value> outputs;
  if (failed(cloneForward(forward, args.take_front(numInputs), seed, outputs)))
    return failure();
  IRMapping lossMap;
  Block &lossBody = lossFn.getBody().front();
  lossMap.map(lossBody.getArgument(0), outputs.front());
  lossMap.map(lossBody.getArgument(1), labels);
  for (Operation &op : lossBody.without_terminator())
    b.clone(op, lossMap);
  Value loss = lossMap.lookupOrDefault(lossBody.getTerminator()->getOperand(0));
  if (distill.enabled()) {
    FailureOr<Value> mixed = distillLoss(loss, args[numInputs + 4]);
    if (failed(mixed))
      return failure();
    loss = *mixed;
  }

  SmallVector<Operation *> forwardOps;
  for (Operation &op : *body)
    forwardOps.push_back(&op);

  // Correct predictions (not differentiated; the hard labels').
  Value correct;
  auto countCorrect = [&](Location loc, Value logits, Value labels) {
    return CountCorrectOp::create(b, loc, ValueRange{logits, labels}, ArrayRef<NamedAttribute>{})
        .getResult();
  };
  if (auto ce = loss.getDefiningOp<CrossEntropyOp>())
    correct = countCorrect(ce.getLoc(), ce.getLogits(), ce.getLabels());
  else if (auto kd = loss.getDefiningOp<DistillLossOp>())
    correct = countCorrect(kd.getLoc(), kd.getLogits(), kd.getLabels());
  else
    correct = arith::ConstantOp::create(
        b, loss.getLoc(), DenseElementsAttr::get(i64, b.getI64IntegerAttr(0)));

  if (failed(backward(loss, forwardOps)) ||
      failed(updateParameters(lr, step)) || failed(writeRunningStats()))
    return failure();
  func::ReturnOp::create(b, forward.getLoc(), ValueRange{loss, correct});
  return success();
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {

class AutodiffPass : public nnc::impl::NNAutodiffBase<AutodiffPass> {
public:
  using NNAutodiffBase::NNAutodiffBase;

  void runOnOperation() override {
    ModuleOp root = getOperation();
    distillConfig = {distillTemperature, distillAlpha};
    if (distillConfig.temperature < 0.0 || !std::isfinite(distillConfig.temperature)) {
      root.emitError("nn-autodiff: distill-temperature must be finite and "
                     "positive (0: no distillation), got ")
          << distillConfig.temperature;
      return signalPassFailure();
    }
    if (distillConfig.enabled() && !(distillConfig.alpha >= 0.0 && distillConfig.alpha <= 1.0)) {
      root.emitError("nn-autodiff: distill-alpha must be in [0, 1], got ") << distillConfig.alpha;
      return signalPassFailure();
    }
    // @train_step is built only for models that nnc can compile, on f32
    // master weights for f16/bf16 models.
    if (failed(nnc::autocastModels(root)))
      return signalPassFailure();
    SmallVector<ModuleOp> models;
    root->walk([&](ModuleOp m) {
      if (m->hasAttr("nn.model"))
        models.push_back(m);
    });
    for (ModuleOp model : models) {
      FailureOr<OptimizerConfig> config = resolveConfig(model);
      if (failed(config) || failed(TrainStepBuilder(model, *config, distillConfig).build()))
        return signalPassFailure();
      recordConfig(model, *config);
    }
    // The backward conv2d/linear ops take their forward's precision.
    if (failed(nnc::autocastModels(root)))
      return signalPassFailure();
  }

private:
  DistillConfig distillConfig;

  /// Rewrites the optimizer entries of `model`'s nn.train attribute (which
  /// becomes the artifact's `train` table) to what @train_step was built
  /// with: the optimizer and exactly its hyperparameters.
  static void recordConfig(ModuleOp model, const OptimizerConfig &c) {
    Builder b(model.getContext());
    NamedAttrList train;
    if (auto old = model->getAttrOfType<DictionaryAttr>("nn.train"))
      for (NamedAttribute a : old)
        if (!llvm::is_contained({"optimizer", "momentum", "nesterov",
                                 "weight_decay", "beta1", "beta2", "eps"},
                                a.getName().getValue()))
          train.push_back(a);
    using Kind = OptimizerConfig::Kind;
    const char *names[] = {"sgd", "momentum", "adam", "adamw"};
    train.set("optimizer", b.getStringAttr(names[int(c.kind)]));
    train.set("weight_decay", b.getF64FloatAttr(c.weightDecay));
    if (c.kind == Kind::Momentum) {
      train.set("momentum", b.getF64FloatAttr(c.momentum));
      train.set("nesterov", b.getBoolAttr(c.nesterov));
    }
    if (c.kind == Kind::Adam || c.kind == Kind::AdamW) {
      train.set("beta1", b.getF64FloatAttr(c.beta1));
      train.set("beta2", b.getF64FloatAttr(c.beta2));
      train.set("eps", b.getF64FloatAttr(c.eps));
    }
    model->setAttr("nn.train", train.getDictionary(model.getContext()));
  }

  /// The optimizer of `model`: the pass options over its nn.train attribute
  /// over the defaults.
  FailureOr<OptimizerConfig> resolveConfig(ModuleOp model) {
    OptimizerConfig c;
    auto train = model->getAttrOfType<DictionaryAttr>("nn.train");
    auto trainString = [&](StringRef key) -> std::string {
      auto s = train ? train.getAs<StringAttr>(key) : StringAttr();
      return s ? s.getValue().str() : std::string();
    };
    auto trainDouble = [&](StringRef key, double fallback) {
      auto f = train ? train.getAs<FloatAttr>(key) : FloatAttr();
      return f ? f.getValueAsDouble() : fallback;
    };
    std::string name =
        !optimizer.empty() ? std::string(optimizer) : trainString("optimizer");
    if (name.empty())
      name = "sgd";
    if (name == "sgd")
      c.kind = OptimizerConfig::Kind::SGD;
    else if (name == "momentum")
      c.kind = OptimizerConfig::Kind::Momentum;
    else if (name == "adam")
      c.kind = OptimizerConfig::Kind::Adam;
    else if (name == "adamw")
      c.kind = OptimizerConfig::Kind::AdamW;
    else
      return model.emitError("nn-autodiff: unknown optimizer '")
             << name << "' (expected sgd, momentum, adam or adamw)";
    c.momentum =
        momentum >= 0.0 ? double(momentum) : trainDouble("momentum", 0.9);
    c.weightDecay = weightDecay >= 0.0 ? double(weightDecay)
                                       : trainDouble("weight_decay", 0.0);
    c.nesterov = nesterov;
    c.beta1 = beta1;
    c.beta2 = beta2;
    c.eps = eps;
    if (c.kind == OptimizerConfig::Kind::Momentum &&
        !(c.momentum > 0.0 && c.momentum <= 1.0))
      return model.emitError("nn-autodiff: momentum must be in (0, 1], got ")
             << c.momentum;
    if (c.nesterov && c.kind != OptimizerConfig::Kind::Momentum)
      return model.emitError("nn-autodiff: nesterov needs optimizer=momentum");
    // The update ops verify the remaining ranges, located at the parameter.
    return c;
  }
};

} // namespace
