//===- NNDialect.h - The nn dialect -----------------------------*- C++ -*-===//
//
// Part of nnc. Declares the nn dialect, its enums (NNInit) and attributes.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_DIALECT_NNDIALECT_H
#define NNC_DIALECT_NNDIALECT_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectImplementation.h"

#include "dialect/NNDialect.h.inc"

#include "dialect/NNEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/NNAttrs.h.inc"

#endif // NNC_DIALECT_NNDIALECT_H
