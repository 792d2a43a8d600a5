//===- Recompute.cpp - -nn-recompute --------------------------------------===//
//
// Part of nnc. Gradient checkpointing on @train_step: the backward pass
// computes chosen forward values again instead of keeping them from the
// forward pass. See passes/Recompute.h and docs/training.md.
//
//===----------------------------------------------------------------------===//

#include "passes/Recompute.h"

#include "passes/Passes.h"

#include "dialect/NNOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "nn-recompute"

namespace nnc {
#define GEN_PASS_DEF_NNRECOMPUTE
#include "passes/Passes.h.inc"
} // namespace nnc

using namespace mlir;
using namespace mlir::nn;

namespace {

/// The forward pass of @train_step: the ops the loss (the first result)
/// depends on, and which of their results the rest of the step reads.
class ForwardPass {
public:
  explicit ForwardPass(func::FuncOp fn) : body(fn.getBody().front()) {
    Operation *terminator = body.getTerminator();
    SmallVector<Operation *> work;
    if (terminator->getNumOperands() > 0)
      if (Operation *loss = terminator->getOperand(0).getDefiningOp())
        work.push_back(loss);
    while (!work.empty()) {
      Operation *op = work.pop_back_val();
      if (op->getBlock() != &body || !forward.insert(op).second)
        continue;
      for (Value v : op->getOperands())
        if (Operation *def = v.getDefiningOp())
          work.push_back(def);
    }
    for (Operation *op : forward)
      for (Value v : op->getResults())
        if (llvm::any_of(v.getUsers(),
                         [&](Operation *u) { return isLateUser(u); }))
          kept.insert(v);
  }

  bool isForward(Operation *op) const { return forward.contains(op); }

  /// Whether `user` reads a forward value after the forward pass (the
  /// backward pass, the updates, the count of correct predictions).
  bool isLateUser(Operation *user) const {
    return !forward.contains(user) && user != body.getTerminator();
  }

  /// Whether a later part of the step read `v`, a forward value, when this
  /// analysis was made: the backward pass keeps it.
  bool isKept(Value v) const { return kept.contains(v); }

  bool hasKeptResult(Operation *op) const {
    return llvm::any_of(op->getResults(), [&](Value r) { return isKept(r); });
  }

  /// Whether `op` may be computed a second time with the same result: a
  /// side-effect-free nn op of the forward pass that is not a parameter read
  /// (weights are not activations) or a recurrent layer (its saved state is
  /// the expensive part).
  bool isRecomputable(Operation *op) const {
    return forward.contains(op) && isa<NNDialect>(op->getDialect()) &&
           op->getNumRegions() == 0 && isMemoryEffectFree(op) &&
           !isa<ParamRefOp, RNNTrainOp, LSTMTrainOp, GRUTrainOp>(op);
  }

  /// Adds to `ops` what recomputing `op` takes: `op` and, through its
  /// operands, every forward op up to the values that stay available (kept
  /// values of ops not in `chosen`, parameters, constants, arguments): a
  /// chosen op's kept results are not available, so they are recomputed as
  /// well. Values in `recomputed` (already computed again) are available
  /// too. False if one of them cannot be recomputed.
  bool collect(Operation *op, const DenseSet<Operation *> &chosen,
               llvm::SetVector<Operation *> &ops,
               const DenseMap<Value, Value> &recomputed =
                   DenseMap<Value, Value>()) const {
    if (ops.contains(op))
      return true;
    if (!isRecomputable(op))
      return false;
    ops.insert(op);
    for (Value v : op->getOperands()) {
      Operation *def = v.getDefiningOp();
      if (!def || !forward.contains(def) || isa<ParamRefOp>(def) ||
          def->hasTrait<mlir::OpTrait::ConstantLike>() || recomputed.count(v))
        continue;
      if (isKept(v) && !chosen.contains(def))
        continue;
      if (!collect(def, chosen, ops, recomputed))
        return false;
    }
    return true;
  }

  Block &body;

private:
  DenseSet<Operation *> forward;
  DenseSet<Value> kept;
};

/// Up to this many candidates are ordered greedily by their cost on top of
/// the cheaper ones (quadratic in the count); more keep their own cost's
/// order.
constexpr size_t kMaxGreedyCandidates = 96;

/// Forward FLOPs of `op` (0 without a cost).
int64_t forwardFlops(Operation *op) {
  if (auto cost = dyn_cast<CostOpInterface>(op))
    return cost.getForwardFlops().value_or(0);
  return 0;
}

/// Bytes of a statically shaped tensor value, else 0.
int64_t staticBytes(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape())
    return 0;
  return type.getNumElements() *
         std::max<int64_t>(type.getElementTypeBitWidth() / 8, 1);
}

std::string layerName(Operation *op) {
  if (auto name = op->getAttrOfType<StringAttr>("name"))
    return name.str();
  return op->getName().getStringRef().str();
}

} // namespace

SmallVector<nnc::RecomputeCandidate>
nnc::findRecomputeCandidates(func::FuncOp trainStep) {
  ForwardPass fwd(trainStep);
  SmallVector<RecomputeCandidate> result;
  unsigned index = 0;
  for (Operation &op : fwd.body) {
    unsigned at = index++;
    if (!fwd.isRecomputable(&op) || !fwd.hasKeptResult(&op))
      continue;
    llvm::SetVector<Operation *> ops;
    if (!fwd.collect(&op, {}, ops))
      continue;
    RecomputeCandidate c{&op, at, layerName(&op), 0, 0};
    for (Value r : op.getResults())
      if (fwd.isKept(r))
        c.savedBytes += staticBytes(r);
    for (Operation *o : ops)
      c.flops += forwardFlops(o);
    result.push_back(std::move(c));
  }
  // FLOPs per byte saved, ascending (a candidate that saves nothing last);
  // among equals, the one that saves more first, then the earlier one.
  auto cheaper = [](const RecomputeCandidate &a, const RecomputeCandidate &b) {
    if ((a.savedBytes == 0) != (b.savedBytes == 0))
      return b.savedBytes == 0;
    double lhs = double(a.flops) * double(b.savedBytes);
    double rhs = double(b.flops) * double(a.savedBytes);
    if (lhs != rhs)
      return lhs < rhs;
    if (a.savedBytes != b.savedBytes)
      return a.savedBytes > b.savedBytes;
    return a.index < b.index;
  };
  llvm::sort(result, cheaper);
  if (result.size() > kMaxGreedyCandidates)
    return result;

  // Greedily, by what each costs on top of those before it: recomputing an
  // op whose kept result a chosen op's chain starts from lengthens that
  // chain (each chosen op is recomputed from the nearest values kept), so a
  // run of chosen convolutions costs more than its ops one by one.
  DenseSet<Operation *> chosen;
  int64_t chosenFlops = 0;
  auto flopsOf = [&](const DenseSet<Operation *> &set) {
    int64_t total = 0;
    for (Operation *op : set) {
      llvm::SetVector<Operation *> chain;
      fwd.collect(op, set, chain);
      for (Operation *o : chain)
        total += forwardFlops(o);
    }
    return total;
  };
  SmallVector<RecomputeCandidate> ordered;
  while (!result.empty()) {
    for (RecomputeCandidate &c : result) {
      chosen.insert(c.op);
      c.flops = flopsOf(chosen) - chosenFlops;
      chosen.erase(c.op);
    }
    auto best = llvm::min_element(result, cheaper);
    chosen.insert(best->op);
    chosenFlops += best->flops;
    ordered.push_back(std::move(*best));
    result.erase(best);
  }
  return ordered;
}

FailureOr<int64_t> nnc::recomputeInBackward(func::FuncOp trainStep,
                                            ArrayRef<Operation *> ops,
                                            bool reuse) {
  ForwardPass fwd(trainStep);
  DenseSet<Operation *> chosen(ops.begin(), ops.end());

  /// One chosen op: where its clone goes (before the first later read of
  /// one of its kept results) and those reads.
  struct Recomputation {
    Operation *op;
    Operation *place = nullptr;
    SmallVector<OpOperand *> lateUses;
  };
  SmallVector<Recomputation> plan;
  for (Operation *op : ops) {
    llvm::SetVector<Operation *> chain;
    if (!fwd.isRecomputable(op) || !fwd.hasKeptResult(op))
      return op->emitError("nn-recompute: '")
             << layerName(op)
             << "' is not a forward layer whose results the backward pass "
                "keeps and that can be computed again";
    if (!fwd.collect(op, chosen, chain))
      return op->emitError("nn-recompute: '")
             << layerName(op)
             << "' needs a forward value that cannot be computed again";
    Recomputation r{op, nullptr, {}};
    for (Value v : op->getResults())
      for (OpOperand &use : v.getUses())
        if (fwd.isLateUser(use.getOwner())) {
          r.lateUses.push_back(&use);
          if (!r.place || use.getOwner()->isBeforeInBlock(r.place))
            r.place = use.getOwner();
        }
    plan.push_back(std::move(r));
  }
  // In the order the backward pass needs them, so that with `reuse` a clone
  // made for an earlier need is there for a later one.
  llvm::sort(plan, [](const Recomputation &a, const Recomputation &b) {
    return a.place != b.place ? a.place->isBeforeInBlock(b.place)
                              : a.op->isBeforeInBlock(b.op);
  });

  // Each chosen op is computed again just before its first later read, from
  // the values that stay available; the clones of one chain read each
  // other.
  OpBuilder b(trainStep.getContext());
  DenseMap<Value, Value> available;
  int64_t flops = 0;
  for (Recomputation &r : plan) {
    // With `reuse`, a clone made for an earlier need may serve these reads.
    if (llvm::all_of(r.lateUses, [&](OpOperand *use) {
          return available.count(use->get());
        })) {
      for (OpOperand *use : r.lateUses)
        use->set(available.lookup(use->get()));
      continue;
    }
    llvm::SetVector<Operation *> chainSet;
    fwd.collect(r.op, chosen, chainSet, available);
    SmallVector<Operation *> chain(chainSet.begin(), chainSet.end());
    llvm::sort(chain, [](Operation *x, Operation *y) {
      return x->isBeforeInBlock(y);
    });
    DenseMap<Value, Value> local = available;
    b.setInsertionPoint(r.place);
    for (Operation *op : chain) {
      IRMapping operands;
      for (Value v : op->getOperands()) {
        Operation *def = v.getDefiningOp();
        auto it = local.find(v);
        if (it != local.end() && (!fwd.isKept(v) || chosen.contains(def)))
          operands.map(v, it->second);
      }
      Operation *clone = b.clone(*op, operands);
      clone->setAttr("nn.recomputed", b.getUnitAttr());
      for (auto [v, c] : llvm::zip_equal(op->getResults(), clone->getResults()))
        local[v] = c;
      flops += forwardFlops(op);
    }
    LLVM_DEBUG(llvm::dbgs()
               << "recomputing " << layerName(r.op) << " (" << chain.size()
               << " ops) before " << *r.place << "\n");
    for (OpOperand *use : r.lateUses)
      use->set(local.lookup(use->get()));
    if (reuse)
      available = std::move(local);
  }
  return flops;
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

namespace {

class RecomputePass : public nnc::impl::NNRecomputeBase<RecomputePass> {
public:
  using NNRecomputeBase::NNRecomputeBase;

  void runOnOperation() override {
    for (ModuleOp model : nnc::modelModules(getOperation()))
      if (failed(runOnModel(model)))
        return signalPassFailure();
  }

private:
  LogicalResult runOnModel(ModuleOp model) {
    auto trainStep = model.lookupSymbol<func::FuncOp>("train_step");
    if (!trainStep || trainStep.isExternal()) {
      if (!all && layers.empty())
        return success();
      return model.emitError("nn-recompute: the model has no @train_step (run "
                             "-nn-autodiff first)");
    }
    SmallVector<Operation *> ops;
    if (all) {
      for (const nnc::RecomputeCandidate &c :
           nnc::findRecomputeCandidates(trainStep))
        ops.push_back(c.op);
    }
    ForwardPass fwd(trainStep);
    for (const std::string &name : layers) {
      Operation *found = nullptr;
      for (Operation &op : fwd.body)
        if (fwd.isForward(&op) && layerName(&op) == name && !found)
          found = &op;
      if (!found)
        return model.emitError(
                   "nn-recompute: @train_step has no forward layer '")
               << name << "'";
      if (!llvm::is_contained(ops, found))
        ops.push_back(found);
    }
    if (ops.empty())
      return success();
    return nnc::recomputeInBackward(trainStep, ops, reuse);
  }
};

} // namespace
