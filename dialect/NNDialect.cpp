//===- NNDialect.cpp - The nn dialect -------------------------------------===//
//
// Part of nnc. Registers the nn ops and attributes.
//
//===----------------------------------------------------------------------===//

#include "dialect/NNDialect.h"
#include "dialect/NNOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::nn;

#include "dialect/NNDialect.cpp.inc"

#include "dialect/NNEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/NNAttrs.cpp.inc"

void NNDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/NNOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/NNAttrs.cpp.inc"
      >();
}
