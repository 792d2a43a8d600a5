//===- NNQuantOps.td - Int8 ops of the nn dialect ---------*- tablegen -*-===//
//
// Part of nnc. The ops of post-training static int8 quantization that
// -nn-quantize emits: nn.quantize / nn.dequantize (generated kernels) and the
// library ops nn.qconv2d / nn.qlinear (oneDNN int8 on the CPU). Included from
// NNOps.td (one op list); the C++ lives in NNQuantOps.cpp. See
// docs/quantization.md.
//
// Int8 tensors are signless `i8`; whether their bits are read as u8 [0, 255]
// or s8 [-128, 127] is an attribute of the op that reads them, never the type.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_DIALECT_NNQUANTOPS_TD
#define NNC_DIALECT_NNQUANTOPS_TD

def NN_I8Tensor : RankedTensorOf<[I8]>;
def NN_F32Tensor : RankedTensorOf<[F32]>;

/// An int8 op: a cost model, inferred result types, no gradient.
class NN_QuantOp<string mnemonic, dag args, list<string> costOverrides = [],
                 list<Trait> traits = []>
    : NN_Op<mnemonic, !listconcat([Pure, NN_VerifyInferredShape,
          InferTypeOpAdaptor,
          DeclareOpInterfaceMethods<NN_CostOpInterface, costOverrides>],
          traits)> {
  let arguments = !con(args, (ins OptionalAttr<StrAttr>:$name));
  let results = (outs AnyRankedTensor:$result);
  let hasVerifier = 1;
}

def NN_QuantizeOp : NN_QuantOp<"quantize", (ins NN_F32Tensor:$input,
    F32Attr:$scale, I64Attr:$zero_point, I64Attr:$qmin, I64Attr:$qmax)> {
  let summary = "f32 -> i8: clamp(roundeven(x / scale) + zero_point, qmin, qmax)";
  let description = [{
    Per-tensor affine quantization, elementwise. `scale` > 0 (finite);
    `qmin` <= `zero_point` <= `qmax`, all in [-128, 255]: u8 activations use
    [0, 255] (the i8 result holds the u8 bits), s8 [-128, 127] (symmetric
    weights -127..127). The result has the input's shape, element type i8.
    Lowered to a linalg.generic (math.roundeven), which -nn-fuse fuses with
    its elementwise producers. FLOPs: 2 per element.

    ```mlir
    %q = nn.quantize %x {scale = 0.02 : f32, zero_point = 0, qmin = 0, qmax = 255}
        : tensor<64x6x14x14xf32> -> tensor<64x6x14x14xi8>
    ```
  }];
  let assemblyFormat =
      "$input attr-dict `:` type($input) `->` type($result)";
}

def NN_DequantizeOp : NN_QuantOp<"dequantize", (ins NN_I8Tensor:$input,
    F32Attr:$scale, I64Attr:$zero_point, UnitAttr:$is_unsigned)> {
  let summary = "i8 -> f32: (q - zero_point) * scale";
  let description = [{
    The inverse of nn.quantize for an f32 consumer of an int8 value; the
    bits are read as u8 with `is_unsigned`, else as s8. `scale` > 0 (finite),
    `zero_point` in the range of the read type. Elementwise, lowered to a
    linalg.generic. FLOPs: 2 per element.
  }];
  let assemblyFormat =
      "$input attr-dict `:` type($input) `->` type($result)";
}

/// The attributes of a quantized library op: the input's quantization, and
/// optionally the output's (then the result is i8, requantized in the
/// library's epilogue; else f32).
defvar NN_QuantLibraryAttrs = (ins F32Attr:$input_scale,
    I64Attr:$input_zero_point, UnitAttr:$input_unsigned,
    OptionalAttr<F32Attr>:$output_scale,
    OptionalAttr<I64Attr>:$output_zero_point, UnitAttr:$output_unsigned);

def NN_QConv2dOp : NN_QuantOp<"qconv2d", !con((ins NN_I8Tensor:$input,
    NN_I8Tensor:$weight, NN_F32Tensor:$weight_scale,
    Optional<NN_F32Tensor>:$bias,
    NN_Pair:$stride, NN_Pair:$padding, NN_Pair:$dilation,
    DefaultValuedAttr<I64Attr, "1">:$groups), NN_QuantLibraryAttrs), [],
    [DeclareOpInterfaceMethods<NN_LibraryOpInterface, ["acceptsEpilogue"]>]> {
  let summary = "int8 2-d convolution with per-output-channel weight scales";
  let description = [{
    input i8 [N, C, H, W] (real value (x - input_zero_point) * input_scale,
    read as u8 with `input_unsigned`), weight i8 [O, C/groups, KH, KW]
    (s8, real value w * weight_scale[o]), weight_scale f32 [O], optional
    bias f32 [O]; geometry as nn.conv2d. Accumulates in int32:
    y = input_scale * weight_scale[o] * sum(x - zp) * w + bias[o], then the
    `nn.epilogue` (relu), then, with `output_scale`, requantization to i8
    (`output_zero_point`, u8 with `output_unsigned`, else s8, saturating to
    the full range); without it the result is f32.

    FLOPs: as nn.conv2d (2*N*O*H'*W'*(C/groups)*KH*KW, plus N*O*H'*W' for
    the bias).
  }];
  let assemblyFormat =
      "operands attr-dict `:` functional-type(operands, results)";
}

def NN_QLinearOp : NN_QuantOp<"qlinear", !con((ins NN_I8Tensor:$input,
    NN_I8Tensor:$weight, NN_F32Tensor:$weight_scale,
    Optional<NN_F32Tensor>:$bias), NN_QuantLibraryAttrs), [],
    [DeclareOpInterfaceMethods<NN_LibraryOpInterface, ["acceptsEpilogue"]>]> {
  let summary = "int8 fully connected layer with per-output-channel weight scales";
  let description = [{
    input i8 [..., I], weight i8 [O, I], weight_scale f32 [O], optional bias
    f32 [O] -> [..., O]; quantization attributes and epilogue as
    nn.qconv2d. FLOPs: as nn.linear (2*M*I*O plus M*O for the bias).
  }];
  let assemblyFormat =
      "operands attr-dict `:` functional-type(operands, results)";
}

#endif // NNC_DIALECT_NNQUANTOPS_TD
