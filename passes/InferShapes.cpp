//===- InferShapes.cpp - -nn-infer-shapes ---------------------------------===//
//
// Part of nnc. Re-infers result types in program order, optionally replacing
// the dynamic batch dimension of function arguments by a fixed size.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialect/NNOps.h"

#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "nn-infer-shapes"

namespace nnc {
#define GEN_PASS_DEF_NNINFERSHAPES
#include "passes/Passes.h.inc"
} // namespace nnc

using namespace mlir;

namespace {

/// `type` with a dynamic dimension 0 replaced by `batch`.
Type withBatch(Type type, int64_t batch) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || tensor.getRank() == 0 || !tensor.isDynamicDim(0))
    return type;
  SmallVector<int64_t> shape(tensor.getShape());
  shape[0] = batch;
  return tensor.clone(shape);
}

class InferShapesPass : public nnc::impl::NNInferShapesBase<InferShapesPass> {
public:
  using NNInferShapesBase::NNInferShapesBase;

  void runOnOperation() override {
    if (batch < 0) {
      getOperation().emitError("nn-infer-shapes: batch must be >= 0, got ")
          << static_cast<int64_t>(batch);
      return signalPassFailure();
    }
    WalkResult result = getOperation().walk([&](func::FuncOp func) {
      return failed(inferFunction(func)) ? WalkResult::interrupt()
                                         : WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    // The train table records the batch the model is specialized to.
    if (batch > 0)
      getOperation().walk([&](ModuleOp m) {
        if (auto train = m->getAttrOfType<DictionaryAttr>("nn.train")) {
          NamedAttrList attrs(train);
          attrs.set("batch",
                    IntegerAttr::get(IntegerType::get(m.getContext(), 64),
                                     static_cast<int64_t>(batch)));
          m->setAttr("nn.train", attrs.getDictionary(m.getContext()));
        }
      });
  }

private:
  /// Fixes the batch of `func`'s arguments, re-infers its ops in order and
  /// updates its signature.
  LogicalResult inferFunction(func::FuncOp func) {
    if (func.isExternal())
      return success();
    Block &entry = func.getBody().front();
    if (batch > 0)
      for (BlockArgument arg : entry.getArguments())
        arg.setType(withBatch(arg.getType(), batch));

    WalkResult walk = func.getBody().walk([&](Operation *op) {
      auto infer = dyn_cast<InferTypeOpInterface>(op);
      if (!infer)
        return WalkResult::advance();
      SmallVector<Type> types;
      if (failed(infer.inferReturnTypes(
              op->getContext(), op->getLoc(), op->getOperands(),
              op->getRawDictionaryAttrs(), op->getPropertiesStorage(),
              op->getRegions(), types)))
        return WalkResult::interrupt();
      for (auto [res, type] : llvm::zip_equal(op->getResults(), types))
        res.setType(type);
      LLVM_DEBUG(llvm::dbgs() << "inferred " << *op << "\n");
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();

    SmallVector<Type> results(func.getResultTypes());
    if (auto ret = dyn_cast<func::ReturnOp>(entry.getTerminator()))
      results.assign(ret.getOperandTypes().begin(),
                     ret.getOperandTypes().end());
    func.setType(FunctionType::get(func.getContext(), entry.getArgumentTypes(),
                                   results));
    return success();
  }
};

} // namespace
