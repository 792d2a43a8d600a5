//===- LowerToLinalg.cpp - Generated nn ops to linalg on tensors ----------===//
//
// Every nn op that nnc generates code for (everything but the library ops:
// convolutions, linear layers and the recurrent layers' GEMMs) is replaced
// by linalg on tensors, built by its family's lowering (codegen/Linalg*.cpp).
// Library ops stay nn ops; -nn-lower-to-buffers turns them into library
// calls. With generated-matmul, the linear layers are generated too.
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilder.h"
#include "codegen/Passes.h"

#include "dialect/NNOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace nnc {
#define GEN_PASS_DEF_NNLOWERTOLINALG
#include "codegen/Passes.h.inc"
} // namespace nnc

using namespace mlir;
using namespace nnc::codegen;

std::string nnc::codegen::linalgLayerName(Operation *op) {
  StringRef mnemonic = op->getName().stripDialect();
  auto name = op->getAttrOfType<StringAttr>("name");
  if (mnemonic.ends_with("_update"))
    return "update";
  std::string base = name ? name.str() : mnemonic.str();
  if (mnemonic.ends_with("_backward"))
    base += "_bwd";
  return base;
}

Value LinalgBuilder::filled(RankedTensorType type, double value) {
  Value scalar = f(type.getElementType(), value);
  return linalg::FillOp::create(b, loc(), ValueRange{scalar}, ValueRange{empty(type)})
      .getResult(0);
}

Value LinalgBuilder::generic(ValueRange inputs, ArrayRef<AffineMap> maps,
                             ArrayRef<utils::IteratorType> iterators,
                             RankedTensorType resultType, BodyFn body, Value init) {
  Value out = init ? init : empty(resultType);
  auto op = linalg::GenericOp::create(
      b, loc(), TypeRange{resultType}, inputs, ValueRange{out}, maps, iterators,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        linalg::YieldOp::create(nb, l, body(nb, l, args));
      });
  return op.getResult(0);
}

ValueRange LinalgBuilder::generic(ValueRange inputs, ValueRange inits,
                                 ArrayRef<AffineMap> maps,
                                 ArrayRef<utils::IteratorType> iterators,
                                 MultiBodyFn body) {
  auto op = linalg::GenericOp::create(
      b, loc(), inits.getTypes(), inputs, inits, maps, iterators,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        linalg::YieldOp::create(nb, l, body(nb, l, args));
      });
  return op.getResults();
}

Value LinalgBuilder::elementwise(ValueRange inputs, RankedTensorType resultType,
                                 BodyFn body) {
  int64_t rank = resultType.getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap scalar = AffineMap::get(rank, 0, {}, b.getContext());
  SmallVector<AffineMap> maps;
  for (Value in : inputs)
    maps.push_back(cast<ShapedType>(in.getType()).getRank() == 0 ? scalar : identity);
  maps.push_back(identity);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  // The output's current value is not an input of an elementwise op.
  return generic(inputs, maps, iters, resultType,
                 [&](OpBuilder &nb, Location l, ValueRange args) {
                   return body(nb, l, args.drop_back());
                 });
}

AffineMap LinalgBuilder::mapAlong(int64_t operandRank, int64_t rank, int64_t dim) {
  if (operandRank == rank)
    return b.getMultiDimIdentityMap(rank);
  if (operandRank == 0)
    return AffineMap::get(rank, 0, {}, b.getContext());
  assert(operandRank == rank - 1 && "operand neither full, reduced nor scalar");
  SmallVector<AffineExpr> dims;
  for (int64_t i = 0; i < rank; ++i)
    if (i != dim)
      dims.push_back(b.getAffineDimExpr(i));
  return AffineMap::get(rank, 0, dims, b.getContext());
}

ValueRange LinalgBuilder::reduceAlong(ValueRange inputs, ValueRange inits,
                                      RankedTensorType full, int64_t dim,
                                      MultiBodyFn body) {
  int64_t rank = full.getRank();
  SmallVector<AffineMap> maps;
  for (Value v : llvm::concat<const Value>(inputs, inits))
    maps.push_back(mapAlong(cast<ShapedType>(v.getType()).getRank(), rank, dim));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  iters[dim] = utils::IteratorType::reduction;
  return generic(inputs, inits, maps, iters, body);
}

Value LinalgBuilder::broadcastAlong(ValueRange inputs, RankedTensorType full, int64_t dim,
                                    BodyFn body) {
  int64_t rank = full.getRank();
  SmallVector<AffineMap> maps;
  for (Value v : inputs)
    maps.push_back(mapAlong(cast<ShapedType>(v.getType()).getRank(), rank, dim));
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return generic(inputs, maps, iters, full,
                 [&](OpBuilder &nb, Location l, ValueRange args) {
                   return body(nb, l, args.drop_back());
                 });
}

namespace {

struct NNLowerToLinalgPass : public nnc::impl::NNLowerToLinalgBase<NNLowerToLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(nnc::autocastModels(getOperation())))
      return signalPassFailure();
    SmallVector<func::FuncOp> functions;
    getOperation()->walk([&](ModuleOp m) {
      if (m->hasAttr("nn.model"))
        for (func::FuncOp fn : m.getOps<func::FuncOp>())
          if (!fn.isExternal())
            functions.push_back(fn);
    });
    LinalgBuilder lb(&getContext());
    for (func::FuncOp fn : functions) {
      bool generatedMatmul =
          this->generatedMatmul || fn->getParentOp()->hasAttr("nn.generated_matmul");
      for (Operation &op : llvm::make_early_inc_range(fn.getBody().front())) {
        // nn ops, and the arith ops on tensors that -nn-autodiff emits
        // (constants, 0-d bookkeeping).
        StringRef dialect = op.getDialect() ? op.getDialect()->getNamespace() : "";
        if (dialect != "nn" &&
            (dialect != "arith" || llvm::none_of(op.getResultTypes(),
                                                 llvm::IsaPred<RankedTensorType>)))
          continue;
        for (Type t : op.getResultTypes())
          if (auto st = dyn_cast<ShapedType>(t); st && !st.hasStaticShape()) {
            op.emitError("code generation needs static shapes; run "
                         "-nn-infer-shapes=batch=N first");
            return signalPassFailure();
          }
        lb.startOp(&op);
        if (generatedMatmul) {
          FailureOr<bool> done = lowerLinearToLinalg(lb, &op);
          if (failed(done))
            return signalPassFailure();
          if (*done)
            continue;
        }
        // Each op family's lowering, in turn (codegen/Linalg*.cpp).
        for (auto lower : {lowerElementwiseToLinalg, lowerOptimizersToLinalg,
                           lowerEmbeddingToLinalg, lowerPoolingToLinalg, lowerNormToLinalg,
                           lowerActivationsToLinalg, lowerLossesToLinalg, lowerTensorsToLinalg,
                           lowerQuantToLinalg, lowerAttentionToLinalg}) {
          FailureOr<bool> done = lower(lb, &op);
          if (failed(done))
            return signalPassFailure();
          if (*done)
            break;
        }
      }
    }
  }
};

} // namespace
