//===- LowerToLinalg.cpp - Generated nn ops to linalg on tensors ----------===//
//
// Every nn op that nnc generates code for (everything but the library ops:
// convolutions, linear layers and the recurrent layers' GEMMs) is replaced
// by linalg on tensors, built by its family's lowering (codegen/Linalg*.cpp).
// Library ops stay nn ops; -nn-lower-to-buffers turns them into library
// calls.
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

namespace {

struct NNLowerToLinalgPass : public nnc::impl::NNLowerToLinalgBase<NNLowerToLinalgPass> {
  void runOnOperation() override {
    if (failed(nnc::checkCodegenElementTypes(getOperation())))
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
      for (Operation &op : llvm::make_early_inc_range(fn.getBody().front())) {
        if (!op.getDialect() || op.getDialect()->getNamespace() != "nn")
          continue;
        for (Type t : op.getResultTypes())
          if (auto st = dyn_cast<ShapedType>(t); st && !st.hasStaticShape()) {
            op.emitError("code generation needs static shapes; run "
                         "-nn-infer-shapes=batch=N first");
            return signalPassFailure();
          }
        lb.startOp(&op);
        // Each op family's lowering, in turn (codegen/Linalg*.cpp).
        for (auto lower : {lowerElementwiseToLinalg}) {
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
