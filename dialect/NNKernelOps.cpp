//===- NNKernelOps.cpp - Generated kernels of the nn dialect --------------===//
//
// Part of nnc. Builder and verifiers of nn.kernel and nn.yield
// (NNKernelOps.td).
//
//===----------------------------------------------------------------------===//

#include "dialect/NNOps.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::nn;

void KernelOp::build(OpBuilder &builder, OperationState &state, StringRef name,
                     TypeRange results, ValueRange inputs) {
  state.addAttribute(getNameAttrName(state.name), builder.getStringAttr(name));
  state.addOperands(inputs);
  state.addTypes(results);
  Region *body = state.addRegion();
  Block *block = new Block();
  body->push_back(block);
  for (Value input : inputs)
    block->addArgument(input.getType(), input.getLoc());
}

YieldOp KernelOp::getYield() {
  return dyn_cast<YieldOp>(getBodyBlock().getTerminator());
}

LogicalResult KernelOp::verify() {
  // An identifier: it names the kernel in reports and in the IR after
  // bufferization (`nn.kernel = "<name>"`).
  StringRef name = getName();
  bool identifier =
      !name.empty() && !llvm::isDigit(name.front()) &&
      llvm::all_of(name, [](char c) { return llvm::isAlnum(c) || c == '_'; });
  if (!identifier)
    return emitOpError("name must be an identifier ([A-Za-z_][A-Za-z0-9_]*), "
                       "got '")
           << name << "'";
  return success();
}

LogicalResult KernelOp::verifyRegions() {
  Block &block = getBodyBlock();
  if (block.getNumArguments() != getInputs().size())
    return emitOpError("body has ")
           << block.getNumArguments() << " arguments for " << getInputs().size()
           << " inputs";
  for (auto [i, pair] :
       llvm::enumerate(llvm::zip(block.getArgumentTypes(), getInputs())))
    if (std::get<0>(pair) != std::get<1>(pair).getType())
      return emitOpError("body argument ")
             << i << " has type " << std::get<0>(pair) << " but input " << i
             << " has type " << std::get<1>(pair).getType();
  auto yield = block.empty() ? YieldOp() : dyn_cast<YieldOp>(block.back());
  if (!yield)
    return emitOpError("body must end in nn.yield");
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError("yields ")
           << yield.getValues().getTypes() << " but the kernel's results are "
           << getResultTypes();
  return success();
}
