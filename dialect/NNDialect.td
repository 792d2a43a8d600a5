//===- NNDialect.td - The nn dialect ----------------------*- tablegen -*-===//
//
// Part of nnc. The dialect definition, its enums and attributes, and the op
// base classes shared by NNOps.td.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_DIALECT_NNDIALECT_TD
#define NNC_DIALECT_NNDIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def NN_Dialect : Dialect {
  let name = "nn";
  let cppNamespace = "::mlir::nn";
  let summary = "Tensor-level neural-network layers";
  let description = [{
    One op per layer kind on builtin ranked tensors. The batch dimension
    (dimension 0 of model inputs) is dynamic; all other dimensions are static.
    Every op infers its result type, verifies its operands with the shared
    shape rules of `dialect/ShapeRules.h`, and carries an optional `name`
    attribute (the layer name from the model file). See docs/dialect.md.
  }];
  let useDefaultAttributePrinterParser = 1;
}

//===----------------------------------------------------------------------===//
// Enums and attributes
//===----------------------------------------------------------------------===//

def NN_InitZeros : I32EnumCase<"zeros", 0>;
def NN_InitOnes : I32EnumCase<"ones", 1>;
def NN_InitUniform : I32EnumCase<"uniform", 2>;
def NN_InitNormal : I32EnumCase<"normal", 3>;

def NN_Init : I32Enum<"NNInit", "parameter initializer",
    [NN_InitZeros, NN_InitOnes, NN_InitUniform, NN_InitNormal]> {
  let cppNamespace = "::mlir::nn";
}

/// `#nn.init<uniform>` in generic form, a bare keyword in `nn.param`.
def NN_InitAttr : EnumAttr<NN_Dialect, NN_Init, "init"> {
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// Type and attribute constraints
//===----------------------------------------------------------------------===//

def NN_FloatTensor : RankedTensorOf<[AnyFloat]>;
def NN_IntTensor : RankedTensorOf<[AnySignlessInteger]>;
def NN_ScalarF32Tensor : 0DTensorOf<[F32]>;

/// A `[h, w]` pair of sizes (kernel, stride, padding, dilation).
def NN_Pair : ConfinedAttr<DenseI64ArrayAttr, [DenseArrayCount<2>]>;

#endif // NNC_DIALECT_NNDIALECT_TD
