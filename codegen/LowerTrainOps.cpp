//===- LowerTrainOps.cpp - Parameter writes and in-place updates ----------===//
//
// The part of -nn-lower-to-buffers for what -nn-autodiff adds: parameter
// writes (the library ops' training and backward forms go to the target's
// LibraryBackend; the generated ones are linalg by now). Updates
// run in place on the arena regions of parameters and optimizer state when
// nothing reads the old value afterwards (the autodiff pass emits them after
// the whole backward pass).
//
//===----------------------------------------------------------------------===//

#include "codegen/FunctionLowering.h"

#include "dialect/NNOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

bool FunctionLowering::readLater(Value tensor, Operation *op) {
  // A user inside a loop counts where the loop is; a user outside the block
  // of `op` (in a loop body) may read the tensor later.
  auto readAfter = [](Value value, Operation *op) {
    return llvm::any_of(value.getUsers(), [&](Operation *user) {
      Operation *at = op->getBlock()->findAncestorOpInBlock(*user);
      if (!at)
        return true;
      return at != op && op->isBeforeInBlock(at) && !isa<ParamAssignOp>(user);
    });
  };
  bool later = readAfter(tensor, op);
  // An input of an nn.kernel: also read after the kernel, or through
  // another input of it.
  if (auto arg = dyn_cast<BlockArgument>(tensor))
    if (auto kernel = dyn_cast<KernelOp>(arg.getOwner()->getParentOp())) {
      Value outer = kernel.getInputs()[arg.getArgNumber()];
      later = later || readAfter(outer, kernel) || llvm::count(kernel.getInputs(), outer) > 1;
    }
  return later;
}

Value FunctionLowering::updatable(Value tensor, Operation *op) {
  Value buffer = lookup(tensor);
  if (!readLater(tensor, op))
    return buffer;
  Value copy = alloc(cast<MemRefType>(buffer.getType()));
  memref::CopyOp::create(b, loc(), buffer, copy);
  return copy;
}

Value FunctionLowering::loadScalar(Value tensor) {
  return memref::LoadOp::create(b, loc(), lookup(tensor), ValueRange{});
}

LogicalResult FunctionLowering::lowerTrainOp(Operation *op) {
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<ParamAssignOp>([&](ParamAssignOp a) -> LogicalResult {
        auto it = paramOffsets.find(a.getSym());
        if (it == paramOffsets.end())
          return a.emitError("unknown parameter @") << a.getSym();
        Value source = lookup(a.getValue());
        auto viewIt = paramViewOffset.find(source);
        if (viewIt != paramViewOffset.end() && viewIt->second == it->second)
          return success(); // Updated in place.
        memref::CopyOp::create(b, loc(), source,
                               view(it->second, toMemRef(a.getValue().getType())));
        return success();
      })
      .Default([&](Operation *) -> LogicalResult {
        return op->emitError("the CPU backend cannot lower '") << op->getName() << "' yet";
      });
}
