//===- LinalgTensors.cpp - concat, constants and 0-d arithmetic -----------===//
//
// The ops that move or make whole tensors:
// - concat: each input inserted (tensor.insert_slice) at its offset along
//   the dimension into the result, which starts as a tensor.empty;
// - concat_backward: per input gradient, its slice of dL/dy
//   (tensor.extract_slice, a strided view once bufferized) copied by an
//   elementwise linalg.generic into a tensor of its own;
// - splat tensor constants (the loss's gradient seed, counters' steps):
//   linalg.fill;
// - the 0-d arithmetic of -nn-autodiff's bookkeeping (num_batches_tracked
//   += 1): a rank-0 linalg.generic.
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilder.h"

#include "dialect/NNOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

FailureOr<bool> nnc::codegen::lowerTensorsToLinalg(LinalgBuilder &lb, Operation *op) {
  OpBuilder &b = lb.b;
  auto replace = [&](Value v) { return replaceOp(op, v); };
  return llvm::TypeSwitch<Operation *, FailureOr<bool>>(op)
      .Case<ConcatOp>([&](ConcatOp c) {
        auto type = cast<RankedTensorType>(c.getType());
        int64_t dim = c.getDim(), offset = 0, rank = type.getRank();
        Value result = lb.empty(type);
        for (Value in : c.getInputs()) {
          auto inType = cast<RankedTensorType>(in.getType());
          SmallVector<int64_t> offsets(rank, 0), strides(rank, 1);
          offsets[dim] = offset;
          MLIRContext *ctx = b.getContext();
          result = tensor::InsertSliceOp::create(
              b, lb.loc(), in, result, getAsIndexOpFoldResult(ctx, offsets),
              getAsIndexOpFoldResult(ctx, inType.getShape()), getAsIndexOpFoldResult(ctx, strides));
          offset += inType.getDimSize(dim);
        }
        return replace(result);
      })
      .Case<ConcatBackwardOp>([&](ConcatBackwardOp c) {
        int64_t dim = c.getDim(), offset = 0;
        for (auto [result, size] : llvm::zip(c.getResults(), c.getSizes())) {
          auto type = cast<RankedTensorType>(result.getType());
          int64_t rank = type.getRank();
          SmallVector<int64_t> offsets(rank, 0), strides(rank, 1);
          offsets[dim] = offset;
          MLIRContext *ctx = b.getContext();
          Value slice = tensor::ExtractSliceOp::create(
              b, lb.loc(), type, c.getGrad(), getAsIndexOpFoldResult(ctx, offsets),
              getAsIndexOpFoldResult(ctx, type.getShape()), getAsIndexOpFoldResult(ctx, strides));
          // The copy into a buffer of its own (the slice is a strided view).
          Value copy =
              lb.elementwise(slice, type, [](OpBuilder &, Location, ValueRange a) { return a[0]; });
          result.replaceAllUsesWith(copy);
          offset += size;
        }
        c->erase();
        return true;
      })
      .Case<arith::ConstantOp>([&](arith::ConstantOp c) -> FailureOr<bool> {
        auto type = dyn_cast<RankedTensorType>(c.getType());
        auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
        if (!type)
          return false;
        if (!dense || !dense.isSplat()) {
          c.emitError("the CPU backend supports only splat tensor constants");
          return failure();
        }
        Value v = arith::ConstantOp::create(b, lb.loc(), dense.getSplatValue<TypedAttr>());
        return replace(
            linalg::FillOp::create(b, lb.loc(), ValueRange{v}, ValueRange{lb.empty(type)})
                .getResult(0));
      })
      .Case<arith::AddIOp, arith::AddFOp>([&](Operation *) -> FailureOr<bool> {
        // Scalar bookkeeping on 0-d tensors.
        auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
        if (!type)
          return false;
        if (type.getRank() != 0) {
          op->emitError("the CPU backend supports this op on 0-d tensors only");
          return failure();
        }
        bool isInt = isa<arith::AddIOp>(op);
        return replace(lb.elementwise(op->getOperands(), type,
                                      [isInt](OpBuilder &nb, Location l, ValueRange a) -> Value {
                                        if (isInt)
                                          return arith::AddIOp::create(nb, l, a[0], a[1]);
                                        return arith::AddFOp::create(nb, l, a[0], a[1]);
                                      }));
      })
      .Default([](Operation *) { return false; });
}
