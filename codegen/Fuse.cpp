//===- Fuse.cpp - Group the generated linalg ops into kernels -------------===//
//
// -nn-fuse: folds batchnorm into a preceding convolution and relu into a
// library op's epilogue, fuses elementwise producers into their consumers
// with upstream linalg elementwise fusion, and wraps every remaining linalg op
// into an `nn.kernel` named after the layers it covers. See the pass
// description in Passes.td for the rules.
//
//===----------------------------------------------------------------------===//

#include "codegen/FlatUpdate.h"
#include "codegen/Passes.h"

#include "dialect/NNOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "nn-fuse"

namespace nnc {
#define GEN_PASS_DEF_NNFUSE
#define GEN_PASS_DEF_NNFOLDBATCHNORM
#include "codegen/Passes.h.inc"
} // namespace nnc

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

namespace {

/// The layer of a generated linalg op (set by -nn-lower-to-linalg).
constexpr StringLiteral kLayerAttr = "nn.layer";
/// The layers a fused linalg op (internal to this pass) or an nn.kernel
/// covers, in order.
constexpr StringLiteral kLayersAttr = "nn.layers";
/// The layers whose ops a kernel recomputes instead of reading their value.
constexpr StringLiteral kRecomputedAttr = "nn.recomputed";
/// Linalg ops that go into one kernel (internal to this pass).
constexpr StringLiteral kGroupAttr = "nn.kernel_group";
/// The activation a library op applies to its result.
constexpr StringLiteral kEpilogueAttr = "nn.epilogue";
/// The most scalar ops a producer may have for a reduction to recompute it.
constexpr int kMaxRecomputedOps = 8;

//===----------------------------------------------------------------------===//
// Layer bookkeeping
//===----------------------------------------------------------------------===//

/// The layers `op` covers: `nn.layers` of a fused op, else its `nn.layer`,
/// else its mnemonic.
SmallVector<StringAttr> layersOf(Operation *op) {
  if (auto layers = op->getAttrOfType<ArrayAttr>(kLayersAttr))
    return llvm::to_vector(layers.getAsRange<StringAttr>());
  if (auto layer = op->getAttrOfType<StringAttr>(kLayerAttr))
    return {layer};
  return {StringAttr::get(op->getContext(), op->getName().stripDialect())};
}

/// The layers `op` recomputes (`nn.recomputed`).
SmallVector<StringAttr> recomputedOf(Operation *op) {
  if (auto layers = op->getAttrOfType<ArrayAttr>(kRecomputedAttr))
    return llvm::to_vector(layers.getAsRange<StringAttr>());
  return {};
}

/// Appends the names of `more` that `into` lacks.
void appendUnique(SmallVectorImpl<StringAttr> &into,
                  ArrayRef<StringAttr> more) {
  for (StringAttr name : more)
    if (!llvm::is_contained(into, name))
      into.push_back(name);
}

ArrayAttr toArrayAttr(MLIRContext *ctx, ArrayRef<StringAttr> names) {
  return ArrayAttr::get(ctx,
                        SmallVector<Attribute>(names.begin(), names.end()));
}

//===----------------------------------------------------------------------===//
// Library epilogues and batchnorm folding
//===----------------------------------------------------------------------===//

/// Whether `generic` is an elementwise relu: one input of the result's type,
/// identity maps, and a body computing max(x, 0) (arith.maximumf/maxnumf,
/// or select(x > 0, x, 0)).
bool isRelu(linalg::GenericOp generic) {
  if (generic.getNumDpsInputs() != 1 || generic->getNumResults() != 1 ||
      generic.getNumReductionLoops() != 0 ||
      generic.getDpsInputOperand(0)->get().getType() !=
          generic->getResult(0).getType() ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return false;
  Block &body = generic.getRegion().front();
  Value x = body.getArgument(0);
  SmallVector<Operation *> ops;
  for (Operation &op : body.without_terminator())
    if (!op.hasTrait<mlir::OpTrait::ConstantLike>())
      ops.push_back(&op);
  Value result = body.getTerminator()->getOperand(0);
  auto isZero = [](Value v) { return matchPattern(v, m_AnyZeroFloat()); };
  auto isMaxWithZero = [&](Operation *op) {
    return isa<arith::MaximumFOp, arith::MaxNumFOp>(op) &&
           ((op->getOperand(0) == x && isZero(op->getOperand(1))) ||
            (op->getOperand(1) == x && isZero(op->getOperand(0))));
  };
  if (ops.size() == 1)
    return result == ops[0]->getResult(0) && isMaxWithZero(ops[0]);
  if (ops.size() != 2)
    return false;
  auto cmp = dyn_cast<arith::CmpFOp>(ops[0]);
  auto select = dyn_cast<arith::SelectOp>(ops[1]);
  return cmp && select && result == select.getResult() &&
         select.getCondition() == cmp.getResult() && cmp.getLhs() == x &&
         isZero(cmp.getRhs()) &&
         (cmp.getPredicate() == arith::CmpFPredicate::OGT ||
          cmp.getPredicate() == arith::CmpFPredicate::UGT) &&
         select.getTrueValue() == x && isZero(select.getFalseValue());
}

/// Folds a relu whose only input is the result of a library op that accepts
/// a relu epilogue (nn.conv2d, nn.linear), and that result's only user, into
/// the library op: `nn.epilogue = "relu"`.
bool foldReluEpilogue(linalg::GenericOp relu, RewriterBase &rewriter) {
  Value input = relu.getDpsInputOperand(0)->get();
  auto library = input.getDefiningOp<LibraryOpInterface>();
  if (!library || !library.acceptsEpilogue("relu") || !input.hasOneUse() ||
      library->hasAttr(kEpilogueAttr) || !isRelu(relu))
    return false;
  LLVM_DEBUG(llvm::dbgs() << "relu epilogue: " << *library.getOperation()
                          << "\n");
  library->setAttr(kEpilogueAttr, rewriter.getStringAttr("relu"));
  rewriter.replaceOp(relu, input);
  return true;
}

/// A linalg.generic over `shape` with the given inputs and maps (the output
/// map is the identity), tagged with `layer`; `body` computes the element.
Value buildGeneric(
    RewriterBase &rewriter, Location loc, StringAttr layer,
    RankedTensorType type, ArrayRef<Value> inputs,
    ArrayRef<AffineMap> inputMaps,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  Value init = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                       type.getElementType());
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(rewriter.getMultiDimIdentityMap(type.getRank()));
  SmallVector<utils::IteratorType> iterators(type.getRank(),
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      rewriter, loc, TypeRange{type}, inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &b, Location l, ValueRange args) {
        linalg::YieldOp::create(b, l, body(b, l, args.drop_back()));
      });
  generic->setAttr(kLayerAttr, layer);
  return generic.getResult(0);
}

/// Folds an inference batchnorm whose input is an nn.conv2d result with no
/// other use into the convolution: one generated kernel (kernel group
/// `group`) computes the scaled weights and bias, and a new nn.conv2d on them
/// replaces both ops. The fold runs on every call (the weights may change),
/// so it is done only where it touches no more elements than the batchnorm
/// it replaces: where the weights are no larger than the convolution's
/// output (at batch 1 a wide 3x3 layer's weights can be 9x its output).
bool foldBatchNorm(BatchNormOp bn, RewriterBase &rewriter, int64_t group) {
  auto conv = bn.getInput().getDefiningOp<Conv2dOp>();
  if (!conv || !conv->hasOneUse() || conv->hasAttr(kEpilogueAttr))
    return false;
  if (cast<ShapedType>(conv.getWeight().getType()).getNumElements() >
      cast<ShapedType>(conv.getType()).getNumElements())
    return false;
  LLVM_DEBUG(llvm::dbgs() << "batchnorm fold: " << bn << "\n");
  rewriter.setInsertionPoint(bn);
  Location loc = bn.getLoc();
  auto weightType = cast<RankedTensorType>(conv.getWeight().getType());
  auto elemType = cast<FloatType>(weightType.getElementType());
  auto channelType =
      RankedTensorType::get({weightType.getDimSize(0)}, elemType);
  StringAttr layer =
      bn.getNameAttr() ? bn.getNameAttr() : rewriter.getStringAttr("batchnorm");
  double eps = bn.getEps().convertToDouble();
  // gamma / sqrt(var + eps): the factor of output channel o.
  auto scale = [&](OpBuilder &b, Location l, Value gamma, Value var) -> Value {
    Value epsValue =
        arith::ConstantFloatOp::create(b, l, elemType, APFloat(float(eps)));
    Value root =
        math::SqrtOp::create(b, l, arith::AddFOp::create(b, l, var, epsValue));
    return arith::DivFOp::create(b, l, gamma, root);
  };
  MLIRContext *ctx = rewriter.getContext();
  AffineMap channelOfWeight = AffineMap::get(4, 0, getAffineDimExpr(0, ctx));
  AffineMap identity4 = rewriter.getMultiDimIdentityMap(4);
  // w'[o, c, kh, kw] = w[o, c, kh, kw] * gamma[o] / sqrt(var[o] + eps)
  Value weight = buildGeneric(
      rewriter, loc, layer, weightType,
      {conv.getWeight(), bn.getWeight(), bn.getRunningVar()},
      {identity4, channelOfWeight, channelOfWeight},
      [&](OpBuilder &b, Location l, ValueRange a) -> Value {
        return arith::MulFOp::create(b, l, a[0], scale(b, l, a[1], a[2]));
      });
  // b'[o] = (b[o] - mean[o]) * gamma[o] / sqrt(var[o] + eps) + beta[o]
  SmallVector<Value> biasInputs = {bn.getRunningMean(), bn.getWeight(),
                                   bn.getRunningVar(), bn.getBias()};
  if (conv.getBias())
    biasInputs.push_back(conv.getBias());
  AffineMap identity1 = rewriter.getMultiDimIdentityMap(1);
  Value bias = buildGeneric(
      rewriter, loc, layer, channelType, biasInputs,
      SmallVector<AffineMap>(biasInputs.size(), identity1),
      [&](OpBuilder &b, Location l, ValueRange a) -> Value {
        Value centered =
            a.size() == 5 ? arith::SubFOp::create(b, l, a[4], a[0]).getResult()
                          : arith::NegFOp::create(b, l, a[0]).getResult();
        Value scaled =
            arith::MulFOp::create(b, l, centered, scale(b, l, a[1], a[2]));
        return arith::AddFOp::create(b, l, scaled, a[3]);
      });
  for (Value v : {weight, bias})
    v.getDefiningOp()->setAttr(kGroupAttr, rewriter.getI64IntegerAttr(group));
  auto folded = Conv2dOp::create(
      rewriter, conv.getLoc(), conv.getType(), conv.getInput(), weight, bias,
      conv.getStrideAttr(), conv.getPaddingAttr(), conv.getDilationAttr(),
      conv.getGroupsAttr(), conv.getNameAttr());
  rewriter.replaceOp(bn, folded.getResult());
  rewriter.eraseOp(conv);
  return true;
}

//===----------------------------------------------------------------------===//
// Elementwise fusion
//===----------------------------------------------------------------------===//

/// How a producer is fused into a consumer.
enum class Fusion {
  /// Not fused.
  None,
  /// The consumer is the producer's only user.
  Fuse,
  /// The fused op also yields the producer's value for its other users.
  Yield,
  /// The consumer fuses a copy; the producer stays for its other users.
  Recompute,
};

/// Whether upstream can fuse the producer of `operand` into its owner and
/// the owner reads it along all its parallel loops (no broadcast, which
/// would recompute the producer for every broadcast element).
bool canFuse(OpOperand *operand) {
  if (!linalg::areElementwiseOpsFusable(operand))
    return false;
  auto consumer = cast<linalg::GenericOp>(operand->getOwner());
  AffineMap map = consumer.getMatchingIndexingMap(operand);
  for (auto [dim, iterator] : llvm::enumerate(consumer.getIteratorTypesArray()))
    if (iterator == utils::IteratorType::parallel && !map.isFunctionOfDim(dim))
      return false;
  return true;
}

/// The number of scalar ops in `generic`'s body, constants excluded.
int64_t bodySize(linalg::GenericOp generic) {
  return llvm::count_if(generic.getRegion().front().without_terminator(),
                        [](Operation &op) {
                          return !op.hasTrait<mlir::OpTrait::ConstantLike>();
                        });
}

/// Whether computing `generic`'s body twice gives the same values (no
/// side effects, e.g. no random draws).
bool isRecomputable(linalg::GenericOp generic) {
  return llvm::all_of(generic.getRegion().front().without_terminator(),
                      [](Operation &op) { return isMemoryEffectFree(&op); });
}

/// Decides how (whether) to fuse the producer of `operand` into its owner.
Fusion decide(OpOperand *operand) {
  // The updates of a flat update kernel keep their bodies equal.
  if (operand->getOwner()->hasAttr(kFlatUpdateAttr) || !canFuse(operand))
    return Fusion::None;
  auto consumer = cast<linalg::GenericOp>(operand->getOwner());
  auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
  SmallVector<OpOperand *> otherUses;
  for (Value result : producer->getResults())
    for (OpOperand &use : result.getUses())
      if (use.getOwner() != consumer)
        otherUses.push_back(&use);
  if (otherUses.empty())
    return Fusion::Fuse;
  // Yield: same iteration space, the other users after the consumer (they
  // will read the fused op's extra result).
  Block *block = consumer->getBlock();
  bool othersAfter = llvm::all_of(otherUses, [&](OpOperand *use) {
    Operation *user = block->findAncestorOpInBlock(*use->getOwner());
    return user && consumer->isBeforeInBlock(user);
  });
  if (consumer.getNumReductionLoops() == 0 &&
      consumer.getMatchingIndexingMap(operand).isPermutation() && othersAfter)
    return Fusion::Yield;
  // Recompute: a cheap producer that every other user can fuse as well, so
  // that its value need not be written at all.
  bool othersCanFuse =
      producer->getNumResults() == 1 &&
      llvm::all_of(otherUses, [](OpOperand *use) {
        return isa<linalg::GenericOp>(use->getOwner()) && canFuse(use);
      });
  if (consumer.getNumReductionLoops() > 0 && othersCanFuse &&
      bodySize(producer) <= kMaxRecomputedOps && isRecomputable(producer))
    return Fusion::Recompute;
  return Fusion::None;
}

/// Fuses the producer of `operand` into its owner as `how` says; returns the
/// fused op, or null if upstream refused (nothing changed then).
linalg::GenericOp fuse(OpOperand *operand, Fusion how, RewriterBase &rewriter) {
  auto consumer = cast<linalg::GenericOp>(operand->getOwner());
  auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
  MLIRContext *ctx = consumer.getContext();
  SmallVector<StringAttr> layers = layersOf(producer);
  appendUnique(layers, layersOf(consumer));
  SmallVector<StringAttr> recomputed = recomputedOf(consumer);
  appendUnique(recomputed, recomputedOf(producer));
  Value original = operand->get();
  if (how == Fusion::Recompute) {
    // The consumer fuses a private copy.
    appendUnique(recomputed, layersOf(producer));
    rewriter.setInsertionPoint(consumer);
    Operation *copy = rewriter.clone(*producer);
    rewriter.modifyOpInPlace(consumer, [&] {
      operand->set(copy->getResult(cast<OpResult>(original).getResultNumber()));
    });
    producer = cast<linalg::GenericOp>(copy);
  }
  rewriter.setInsertionPoint(consumer);
  FailureOr<linalg::ElementwiseOpFusionResult> fused =
      linalg::fuseElementwiseOps(rewriter, operand);
  if (failed(fused)) {
    if (how == Fusion::Recompute) {
      rewriter.modifyOpInPlace(consumer, [&] { operand->set(original); });
      rewriter.eraseOp(producer); // the copy
    }
    return nullptr;
  }
  auto fusedOp = cast<linalg::GenericOp>(fused->fusedOp);
  LLVM_DEBUG(llvm::dbgs() << "fused (" << int(how) << "): " << fusedOp << "\n");
  // The producer's other users (after the consumer) read the fused op's
  // extra result; the fused op itself may still read the producer's value
  // through another operand (fused next).
  for (auto [value, replacement] : fused->replacements)
    rewriter.replaceUsesWithIf(value, replacement, [&](OpOperand &use) {
      return use.getOwner() != fusedOp;
    });
  rewriter.eraseOp(consumer);
  if (producer->use_empty())
    rewriter.eraseOp(producer);
  fusedOp->setAttr(kLayersAttr, toArrayAttr(ctx, layers));
  if (!recomputed.empty())
    fusedOp->setAttr(kRecomputedAttr, toArrayAttr(ctx, recomputed));
  return fusedOp;
}

/// Generalizes the named linalg ops that read the result of an all-parallel
/// linalg.generic, so that upstream elementwise fusion (generic ops only)
/// can fuse the producer into them (relu into a pooling reduction).
void generalizeConsumers(func::FuncOp fn, RewriterBase &rewriter) {
  SmallVector<linalg::LinalgOp> named;
  fn.walk([&](linalg::LinalgOp op) {
    if (isa<linalg::GenericOp, linalg::FillOp>(op) ||
        !op.hasPureTensorSemantics())
      return;
    bool readsElementwise =
        llvm::any_of(op.getDpsInputOperands(), [](OpOperand *operand) {
          auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
          return producer &&
                 producer.getNumParallelLoops() == producer.getNumLoops();
        });
    if (readsElementwise)
      named.push_back(op);
  });
  for (linalg::LinalgOp op : named) {
    Attribute layer = op->getAttr(kLayerAttr);
    rewriter.setInsertionPoint(op);
    FailureOr<linalg::GenericOp> generic =
        linalg::generalizeNamedOp(rewriter, op);
    if (succeeded(generic) && layer)
      (*generic)->setAttr(kLayerAttr, layer);
  }
}

/// Fuses in `fn` until nothing changes, consumers in program order.
void fuseElementwise(func::FuncOp fn, RewriterBase &rewriter) {
  bool changed = true;
  while (changed) {
    changed = false;
    SmallVector<linalg::GenericOp> consumers;
    fn.walk([&](linalg::GenericOp op) {
      if (op.hasPureTensorSemantics())
        consumers.push_back(op);
    });
    DenseSet<Operation *> erased;
    for (linalg::GenericOp consumer : consumers) {
      if (erased.contains(consumer))
        continue;
      // Fuse into this consumer until no operand qualifies; a refused
      // operand is not tried again on this op.
      DenseSet<unsigned> refused;
      while (true) {
        OpOperand *operand = nullptr;
        Fusion how = Fusion::None;
        for (OpOperand *candidate : consumer.getDpsInputOperands()) {
          if (refused.contains(candidate->getOperandNumber()))
            continue;
          how = decide(candidate);
          if (how != Fusion::None) {
            operand = candidate;
            break;
          }
        }
        if (!operand)
          break;
        Operation *producer = operand->get().getDefiningOp();
        bool producerStays = how == Fusion::Recompute;
        linalg::GenericOp fusedOp = fuse(operand, how, rewriter);
        if (!fusedOp) {
          refused.insert(operand->getOperandNumber());
          continue;
        }
        erased.insert(consumer);
        if (!producerStays)
          erased.insert(producer);
        consumer = fusedOp;
        refused.clear();
        changed = true;
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// Optimizer updates
//===----------------------------------------------------------------------===//

/// Whether `a` and `b` compute the same: equal ops (locations aside) whose
/// operands are pairwise equal or `sameOperand`, with equal regions up to
/// their block arguments. With `regionsOnly`, only the regions are compared.
bool equivalentOps(Operation *a, Operation *b,
                   function_ref<bool(Value, Value)> sameOperand,
                   bool regionsOnly = false) {
  DenseMap<Value, Value> marked;
  auto check = [&](Value l, Value r) {
    return success(l == r || marked.lookup(l) == r || sameOperand(l, r));
  };
  auto mark = [&](Value l, Value r) { marked[l] = r; };
  auto flags = OperationEquivalence::IgnoreLocations;
  if (!regionsOnly)
    return OperationEquivalence::isEquivalentTo(a, b, check, mark, flags);
  if (a->getNumRegions() != b->getNumRegions())
    return false;
  for (auto [l, r] : llvm::zip(a->getRegions(), b->getRegions()))
    if (!OperationEquivalence::isRegionEquivalentTo(&l, &r, check, mark, flags))
      return false;
  return true;
}

/// Whether the bodies of two update generics compute the same function of
/// their block arguments (the same values captured from above, constants
/// equal).
bool sameUpdateBody(linalg::GenericOp a, linalg::GenericOp b) {
  return a->getAttr(kOptimizerAttr) == b->getAttr(kOptimizerAttr) &&
         a.getNumDpsInputs() == b.getNumDpsInputs() &&
         a.getNumDpsInits() == b.getNumDpsInits() &&
         equivalentOps(
             a, b, [](Value, Value) { return false; },
             /*regionsOnly=*/true);
}

/// Whether `generic` can join a flat update kernel: an elementwise update
/// (identity maps, all loops parallel) of tensors read by nn.param_ref,
/// whose results only nn.param_assign ops of its block use.
bool isFlatUpdateCandidate(linalg::GenericOp generic) {
  if (!generic->hasAttr(kOptimizerAttr) ||
      generic.getNumReductionLoops() != 0 || generic.getNumDpsInputs() != 1 ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return false;
  bool initsAreParams = llvm::all_of(generic.getDpsInits(), [](Value init) {
    return init.getDefiningOp<ParamRefOp>() != nullptr;
  });
  return initsAreParams &&
         llvm::all_of(generic->getUsers(), [&](Operation *user) {
           return isa<ParamAssignOp>(user) &&
                  user->getBlock() == generic->getBlock();
         });
}

/// Puts the optimizer updates of the top-level block of `fn` into as few
/// kernels as possible: one copy of each per-step scalar computation, and
/// every set of updates with equal bodies moved together (their
/// nn.param_assign ops after the last of them) and tagged as one kernel
/// group `nn.flat_update`. Group ids start at `nextGroup`.
void groupOptimizerUpdates(func::FuncOp fn, RewriterBase &rewriter,
                           int64_t &nextGroup) {
  if (fn.getBody().empty())
    return;
  Block &block = fn.getBody().front();
  // One copy of each scalar generic (Adam's step size and bias correction
  // from lr and step, the same for every parameter).
  SmallVector<linalg::GenericOp> scalars;
  for (auto generic :
       llvm::make_early_inc_range(block.getOps<linalg::GenericOp>())) {
    if (!generic->hasAttr(kOptimizerScalarsAttr))
      continue;
    // Their destinations are empty tensors of one type.
    auto bothEmpty = [](Value l, Value r) {
      return l.getType() == r.getType() && l.getDefiningOp<tensor::EmptyOp>() &&
             r.getDefiningOp<tensor::EmptyOp>();
    };
    auto same = llvm::find_if(scalars, [&](linalg::GenericOp kept) {
      return equivalentOps(kept, generic, bothEmpty);
    });
    if (same == scalars.end())
      scalars.push_back(generic);
    else
      rewriter.replaceOp(generic, (*same)->getResults());
  }
  MLIRContext *ctx = fn.getContext();
  for (linalg::GenericOp kept : scalars) {
    StringRef optimizer =
        kept->getAttrOfType<StringAttr>(kOptimizerScalarsAttr).getValue();
    kept->setAttr(
        kLayersAttr,
        toArrayAttr(ctx, {StringAttr::get(ctx, optimizer + "_scalars")}));
  }
  // One read of each rank-0 tensor that update bodies use.
  DenseMap<Value, Value> firstRead;
  for (auto extract :
       llvm::make_early_inc_range(block.getOps<tensor::ExtractOp>())) {
    if (!extract.getIndices().empty())
      continue;
    auto [it, inserted] =
        firstRead.try_emplace(extract.getTensor(), extract.getResult());
    bool onlyUpdates = llvm::all_of(extract->getUsers(), [](Operation *user) {
      auto generic = user->getParentOfType<linalg::GenericOp>();
      return generic && generic->hasAttr(kOptimizerAttr);
    });
    if (!inserted && onlyUpdates)
      rewriter.replaceOp(extract, it->second);
  }
  // Classes of updates with equal bodies, in program order.
  SmallVector<SmallVector<linalg::GenericOp>> classes;
  for (auto generic : block.getOps<linalg::GenericOp>()) {
    if (!isFlatUpdateCandidate(generic))
      continue;
    auto same = llvm::find_if(classes, [&](ArrayRef<linalg::GenericOp> c) {
      return sameUpdateBody(c.front(), generic);
    });
    if (same == classes.end())
      classes.push_back({generic});
    else
      same->push_back(generic);
  }
  for (ArrayRef<linalg::GenericOp> members : classes) {
    linalg::GenericOp last = members.back();
    int64_t elements = 0;
    for (linalg::GenericOp member : members)
      elements +=
          cast<ShapedType>(member->getResult(0).getType()).getNumElements();
    std::string name =
        (last->getAttrOfType<StringAttr>(kOptimizerAttr).getValue() +
         "_update_" + Twine(members.size()) + "_params")
            .str();
    LLVM_DEBUG(llvm::dbgs()
               << "flat update " << name << ": " << elements << " elements\n");
    (void)elements; // Read by the debug output only.
    Operation *after = last;
    for (linalg::GenericOp member : members) {
      if (member != last)
        rewriter.moveOpBefore(member, last);
      member->setAttr(kGroupAttr, rewriter.getI64IntegerAttr(nextGroup));
      member->setAttr(kFlatUpdateAttr, last->getAttr(kOptimizerAttr));
      member->setAttr(kLayersAttr,
                      toArrayAttr(ctx, {StringAttr::get(ctx, name)}));
    }
    // Parameters are written at exit: the assigns go after the kernel.
    for (linalg::GenericOp member : members)
      for (Operation *user : llvm::to_vector(member->getUsers())) {
        rewriter.moveOpAfter(user, after);
        after = user;
      }
    ++nextGroup;
  }
}

//===----------------------------------------------------------------------===//
// Kernels
//===----------------------------------------------------------------------===//

/// Whether `fill` only initializes outputs of linalg ops (it then goes into
/// the kernel of each op it initializes).
bool initializesOnly(linalg::FillOp fill) {
  return llvm::all_of(fill->getResult(0).getUses(), [](OpOperand &use) {
    auto user = dyn_cast<linalg::LinalgOp>(use.getOwner());
    return user && !isa<linalg::FillOp>(user) && user.isDpsInit(&use);
  });
}

/// Whether the op defining a value a kernel reads is copied into the kernel
/// instead of being passed in.
bool isClonedIntoKernel(Operation *op) {
  if (op->hasTrait<mlir::OpTrait::ConstantLike>())
    return true;
  if (auto empty = dyn_cast<tensor::EmptyOp>(op))
    return empty.getType().hasStaticShape();
  if (auto fill = dyn_cast<linalg::FillOp>(op))
    return initializesOnly(fill);
  // Scalar code (a learning rate read from a rank-0 tensor, a constant
  // expression): recomputed in the kernel.
  return op->getNumRegions() == 0 && isMemoryEffectFree(op) &&
         llvm::none_of(op->getResultTypes(), llvm::IsaPred<ShapedType>);
}

/// Makes `name` an identifier fragment.
std::string sanitize(StringRef name) {
  std::string out;
  for (char c : name)
    out.push_back(llvm::isAlnum(c) || c == '_' ? c : '_');
  return out;
}

/// Wraps linalg ops into nn.kernel ops, numbering the kernels.
class KernelWrapper {
public:
  explicit KernelWrapper(RewriterBase &rewriter) : rewriter(rewriter) {}

  /// Wraps `roots` (linalg ops of one block in program order, whose results
  /// are used only after the last of them) into one kernel at the last one,
  /// with the ops they need cloned in.
  LogicalResult wrap(ArrayRef<linalg::LinalgOp> roots) {
    linalg::LinalgOp last = roots.back();
    MLIRContext *ctx = last->getContext();
    Block *body = new Block();
    IRMapping mapping;
    SmallVector<Value> inputs;
    OpBuilder inner(ctx);
    inner.setInsertionPointToEnd(body);
    std::function<LogicalResult(Value)> materialize =
        [&](Value value) -> LogicalResult {
      if (mapping.contains(value))
        return success();
      Operation *def = value.getDefiningOp();
      if (def && isClonedIntoKernel(def)) {
        for (Value operand : def->getOperands())
          if (failed(materialize(operand)))
            return failure();
        inner.clone(*def, mapping);
        return success();
      }
      if (!isa<RankedTensorType>(value.getType()))
        return last.emitError(
                   "internal error: a kernel cannot read the non-tensor value ")
               << value;
      inputs.push_back(value);
      mapping.map(value, body->addArgument(value.getType(), value.getLoc()));
      return success();
    };
    SmallVector<StringAttr> layers, recomputed;
    SmallVector<Value> results, yielded;
    for (linalg::LinalgOp root : roots) {
      SetVector<Value> captured;
      getUsedValuesDefinedAbove(root->getRegions(), captured);
      for (Value value : llvm::concat<Value>(root->getOperands(), captured))
        if (failed(materialize(value))) {
          delete body;
          return failure();
        }
      Operation *clone = inner.clone(*root, mapping);
      appendUnique(layers, layersOf(root));
      appendUnique(recomputed, recomputedOf(root));
      clone->removeAttr(kLayersAttr);
      clone->removeAttr(kRecomputedAttr);
      clone->removeAttr(kGroupAttr);
      clone->removeAttr(kFlatUpdateAttr);
      llvm::append_range(results, root->getResults());
      llvm::append_range(yielded, clone->getResults());
    }
    YieldOp::create(inner, last.getLoc(), yielded);

    std::string name = "k" + std::to_string(counter++);
    for (StringAttr layer : layers)
      name += "_" + sanitize(layer.getValue());
    rewriter.setInsertionPoint(last);
    auto kernel = KernelOp::create(rewriter, last.getLoc(), name,
                                   ValueRange(results).getTypes(), inputs);
    kernel.getBody().front().erase();
    kernel.getBody().push_back(body);
    kernel->setAttr(kLayersAttr, toArrayAttr(ctx, layers));
    if (!recomputed.empty())
      kernel->setAttr(kRecomputedAttr, toArrayAttr(ctx, recomputed));
    if (Attribute optimizer = last->getAttr(kFlatUpdateAttr))
      kernel->setAttr(kFlatUpdateAttr, optimizer);
    for (auto [result, replacement] : llvm::zip(results, kernel.getResults()))
      rewriter.replaceAllUsesWith(result, replacement);
    for (linalg::LinalgOp root : llvm::reverse(roots))
      rewriter.eraseOp(root);
    return success();
  }

private:
  RewriterBase &rewriter;
  int64_t counter = 0;
};

/// Wraps every linalg op of `module` outside kernels into its own kernel.
LogicalResult formKernels(ModuleOp module, RewriterBase &rewriter) {
  SmallVector<linalg::LinalgOp> roots;
  module.walk([&](linalg::LinalgOp op) {
    if (op->getParentOfType<KernelOp>() ||
        isa<linalg::LinalgOp>(op->getParentOp()))
      return;
    if (auto fill = dyn_cast<linalg::FillOp>(op.getOperation());
        fill && initializesOnly(fill))
      return;
    roots.push_back(op);
  });
  // Ops of one group (the batchnorm fold, an optimizer's flat update) share
  // a kernel when the results of the earlier ones are used only after the
  // last one: after it, that is, the earliest use of the kernel's ops so far
  // (their users' ancestors in the block; none outside it) comes after it.
  SmallVector<SmallVector<linalg::LinalgOp, 2>> kernels;
  // Of the last kernel: its earliest use, and whether a use is outside its
  // block.
  Operation *earliestUse = nullptr;
  bool usedOutside = false;
  auto addUses = [&](linalg::LinalgOp op) {
    Block *block = op->getBlock();
    for (Operation *user : op->getUsers()) {
      Operation *ancestor = block->findAncestorOpInBlock(*user);
      if (!ancestor)
        usedOutside = true;
      else if (!earliestUse || ancestor->isBeforeInBlock(earliestUse))
        earliestUse = ancestor;
    }
  };
  for (linalg::LinalgOp root : roots) {
    auto group = root->getAttrOfType<IntegerAttr>(kGroupAttr);
    if (!kernels.empty() && group) {
      linalg::LinalgOp previous = kernels.back().back();
      bool sameGroup = previous->getAttr(kGroupAttr) == group &&
                       previous->getBlock() == root->getBlock();
      if (sameGroup && !usedOutside &&
          (!earliestUse ||
           (earliestUse != root.getOperation() && root->isBeforeInBlock(earliestUse)))) {
        kernels.back().push_back(root);
        addUses(root);
        continue;
      }
    }
    kernels.push_back({root});
    earliestUse = nullptr;
    usedOutside = false;
    addUses(root);
  }
  KernelWrapper wrapper(rewriter);
  for (ArrayRef<linalg::LinalgOp> group : kernels)
    if (failed(wrapper.wrap(group)))
      return failure();
  // What was cloned into the kernels and has no other user.
  SmallVector<Operation *> worklist;
  module.walk([&](Operation *op) {
    if (isa_and_present<func::FuncOp>(op->getParentOp()) &&
        isClonedIntoKernel(op))
      worklist.push_back(op);
  });
  DenseSet<Operation *> erased;
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    if (erased.contains(op) || !isOpTriviallyDead(op))
      continue;
    for (Value operand : op->getOperands())
      if (Operation *def = operand.getDefiningOp())
        worklist.push_back(def);
    erased.insert(op);
    rewriter.eraseOp(op);
  }
  return success();
}

/// Folds every foldable inference batchnorm of `module`; returns the number
/// of kernel group ids used.
int64_t foldBatchNorms(ModuleOp module, RewriterBase &rewriter) {
  SmallVector<BatchNormOp> norms;
  module.walk([&](BatchNormOp bn) { norms.push_back(bn); });
  for (auto [group, bn] : llvm::enumerate(norms))
    foldBatchNorm(bn, rewriter, group);
  return norms.size();
}

struct NNFoldBatchNormPass : public nnc::impl::NNFoldBatchNormBase<NNFoldBatchNormPass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    foldBatchNorms(getOperation(), rewriter);
  }
};

struct NNFusePass : public nnc::impl::NNFuseBase<NNFusePass> {
  using NNFuseBase::NNFuseBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    IRRewriter rewriter(&getContext());
    if (enable) {
      int64_t nextGroup = foldBatchNorms(module, rewriter);
      SmallVector<linalg::GenericOp> generics;
      module.walk([&](linalg::GenericOp op) { generics.push_back(op); });
      for (linalg::GenericOp op : generics)
        foldReluEpilogue(op, rewriter);
      SmallVector<func::FuncOp> functions;
      module.walk([&](func::FuncOp fn) { functions.push_back(fn); });
      for (func::FuncOp fn : functions) {
        groupOptimizerUpdates(fn, rewriter, nextGroup);
        generalizeConsumers(fn, rewriter);
        fuseElementwise(fn, rewriter);
      }
    }
    if (failed(formKernels(module, rewriter)))
      return signalPassFailure();
  }
};

} // namespace
