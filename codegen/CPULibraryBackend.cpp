//===- CPULibraryBackend.cpp - Library ops on the CPU: oneDNN -------------===//
//
// The CPU's LibraryBackend: every LibraryOpInterface op (conv2d, linear, the
// recurrent layers, their training and backward ops) becomes a call of the
// runtime's entry point for it (runtime/Kernels.h: oneDNN convolution
// primitives, oneDNN GEMMs, the recurrent time loop calling the generated gate
// step functions through a pointer). Scratch memory is sized here, at compile
// time, by the runtime's own *_scratch_bytes functions and planned in the
// arena like any buffer.
//
// The lowering itself (lowerLibraryCalls) is shared with the GPU's backend
// (GPULibraryBackend.cpp): the two targets' entry points take the same
// arguments and differ only in their names, their convolution scratch rule
// and where the recurrent layers' pointer tables live (LibraryCalls).
//
//===----------------------------------------------------------------------===//

#include "codegen/FunctionLowering.h"
#include "codegen/LibraryBackend.h"

#include "dialect/NNOps.h"
#include "runtime/Kernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

LibraryBackend::~LibraryBackend() = default;

namespace {

/// The runtime code of a library op's `nn.epilogue` (set by -nn-fuse): 0
/// without one, 1 for "relu"; anything else is an error.
FailureOr<int32_t> libraryEpilogue(Operation *op) {
  Attribute attr = op->getAttr("nn.epilogue");
  if (!attr)
    return 0;
  auto kind = dyn_cast<StringAttr>(attr);
  if (kind && kind.getValue() == "relu")
    return 1;
  return op->emitOpError("has an unsupported nn.epilogue ")
         << attr << " (supported: \"relu\")";
}

/// The output of an int8 library op for the runtime: type (0 f32, 1 s8, 2
/// u8), scale and zero point (1 and 0 for f32).
struct QuantOutput {
  int32_t type = 0;
  float scale = 1.0f;
  int32_t zeroPoint = 0;
};

template <typename OpTy> QuantOutput quantOutput(OpTy op) {
  if (!op.getOutputScaleAttr())
    return {};
  return {op.getOutputUnsigned() ? 2 : 1, float(op.getOutputScaleAttr().getValueAsDouble()),
          int32_t(op.getOutputZeroPointAttr().getInt())};
}

/// The runtime's precision code (NNC_PRECISION_*) of a library op's
/// `nn.precision` (set by -nn-autocast from the model's float type): f32
/// without one, else "bf16" or "f16". With `mixed` false (the target has no
/// mixed-precision entry points) a reduced precision is an error at the op.
FailureOr<int32_t> libraryPrecision(Operation *op, bool mixed) {
  auto attr = op->getAttrOfType<StringAttr>("nn.precision");
  if (!attr || attr.getValue() == "f32")
    return NNC_PRECISION_F32;
  int32_t code = attr.getValue() == "bf16"  ? NNC_PRECISION_BF16
                 : attr.getValue() == "f16" ? NNC_PRECISION_F16
                                            : -1;
  if (code < 0)
    return op->emitOpError("has an unsupported nn.precision ")
           << attr << " (supported: \"f32\", \"bf16\", \"f16\")";
  if (!mixed)
    return op->emitError("reduced precision (")
           << attr.getValue()
           << ") is not implemented on this target: only the CPU has mixed-precision library "
              "kernels (build for the CPU, or declare the model's input f32)";
  return code;
}

/// The attributes of a recurrent layer's training or backward op.
struct RecurrentAttrs {
  StringRef kind; ///< "lstm", "gru" or "rnn".
  int64_t hidden, layers;
  bool bidir, hasBias, sequences, relu;
};

RecurrentAttrs recurrentAttrs(Operation *op) {
  auto intAttr = [&](StringRef name, int64_t dflt) {
    auto a = op->getAttrOfType<IntegerAttr>(name);
    return a ? a.getInt() : dflt;
  };
  auto boolAttr = [&](StringRef name, bool dflt) {
    auto a = op->getAttrOfType<BoolAttr>(name);
    return a ? a.getValue() : dflt;
  };
  auto nonlin = op->getAttrOfType<StringAttr>("nonlinearity");
  StringRef kind = isa<LSTMTrainOp, LSTMBackwardOp>(op) ? "lstm"
                   : isa<GRUTrainOp, GRUBackwardOp>(op) ? "gru"
                                                        : "rnn";
  return {kind,
          cast<IntegerAttr>(op->getAttr("hidden_size")).getInt(),
          intAttr("num_layers", 1),
          boolAttr("bidirectional", false),
          boolAttr("has_bias", true),
          boolAttr("return_sequences", false),
          nonlin && nonlin.getValue() == "relu"};
}

/// The runtime's size function of `kind` among one for each cell.
using RecurrentSizeFn = int64_t (*)(int64_t, int64_t, int64_t, int64_t, int64_t,
                                    int32_t);
RecurrentSizeFn recurrentBytes(StringRef kind, RecurrentSizeFn lstm,
                               RecurrentSizeFn gru, RecurrentSizeFn rnn) {
  return kind == "lstm" ? lstm : kind == "gru" ? gru : rnn;
}

/// Lowers the library ops of one function to the calls of `calls`, with the
/// helpers of its FunctionLowering.
struct LibraryLowering {
  LibraryLowering(FunctionLowering &fl, const LibraryCalls &calls)
      : fl(fl), calls(calls), b(fl.b), mapping(fl.mapping), model(fl.model) {}

  LogicalResult lower(Operation *op);
  Value lowerRecurrent(Operation *op, StringRef kind, Value input,
                       ValueRange weights, int64_t hidden, int64_t layers,
                       bool bidir, bool hasBias, bool sequences, int32_t relu,
                       Value reserve = nullptr);
  /// A pointer to the generated step function (LinalgRecurrent.cpp) of the
  /// recurrent layer `op` of `kind` ("rnn", "lstm", "gru"), for `pass`.
  Value recurrentStep(Operation *op, StringRef kind, bool relu, GatePass pass,
                      int64_t hidden, bool bidir);
  /// An array of the addresses of `buffers` (int64 each), in the arena or,
  /// with LibraryCalls::hostPointerTables, on the host's stack.
  Value pointerTable(ArrayRef<Value> buffers);
  /// The precision code of the library op `op` on this target.
  FailureOr<int32_t> precisionOf(Operation *op) const {
    return libraryPrecision(op, calls.mixedPrecision);
  }
  /// The runtime function of `op` ("conv2d_fwd") for this target.
  std::string name(StringRef op) const { return (calls.prefix + op).str(); }

  Location loc() const { return fl.loc(); }
  Value alloc(MemRefType type) { return fl.alloc(type); }
  Value allocBytes(int64_t bytes) { return fl.allocBytes(bytes); }
  Value ptr(Value memref) { return fl.ptr(memref); }
  Value ptrOrNull(Value tensor) { return fl.ptrOrNull(tensor); }
  Value nullPtr() { return fl.nullPtr(); }
  Value i64(int64_t v) { return fl.i64(v); }
  Value i32(int64_t v) { return fl.i32(v); }
  Value f32(double v) { return arith::ConstantOp::create(b, loc(), b.getF32FloatAttr(float(v))); }
  /// Lowers nn.qconv2d / nn.qlinear.
  LogicalResult lowerInt8(Operation *op);
  Value call(StringRef name, ArrayRef<Value> args) {
    return fl.call(name, args);
  }
  Value lookup(Value tensor) { return fl.lookup(tensor); }

  FunctionLowering &fl;
  const LibraryCalls &calls;
  OpBuilder &b;
  DenseMap<Value, Value> &mapping;
  ModuleOp model;
};

LogicalResult LibraryLowering::lower(Operation *op) {
  auto shapeOf = [](Value v) {
    return cast<ShapedType>(v.getType()).getShape();
  };
  auto numel = [](Value v) {
    return cast<ShapedType>(v.getType()).getNumElements();
  };
  auto setResult = [&](Value m) {
    mapping[op->getResult(0)] = m;
    return success();
  };
  auto allocFor = [&](Value result) {
    Value m = alloc(toMemRef(result.getType()));
    mapping[result] = m;
    return m;
  };
  auto orNull = [&](Value result) {
    return result ? ptr(allocFor(result)) : nullPtr();
  };
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<Conv2dOp>([&](Conv2dOp c) -> LogicalResult {
        FailureOr<int32_t> epilogue = libraryEpilogue(op);
        FailureOr<int32_t> precision = precisionOf(op);
        if (failed(epilogue) || failed(precision))
          return failure();
        auto x = shapeOf(c.getInput()), w = shapeOf(c.getWeight());
        auto st = c.getStride(), pd = c.getPadding(), dl = c.getDilation();
        int64_t groups = c.getGroups();
        int64_t scratch =
            *precision ? nnc_conv2d_fwd_mixed_scratch_bytes(x[0], x[1], x[2], x[3], w[0], w[2],
                                                            w[3], st[0], st[1], pd[0], pd[1], dl[0],
                                                            dl[1], groups, *precision)
                       : calls.convFwdScratch(x[0], x[1], x[2], x[3], w[0], w[2], w[3], st[0],
                                              st[1], pd[0], pd[1], dl[0], dl[1], groups);
        Value out = alloc(toMemRef(c.getType()));
        SmallVector<Value> args = {ptr(lookup(c.getInput())),
                                   ptr(lookup(c.getWeight())),
                                   ptrOrNull(c.getBias()),
                                   ptr(out),
                                   ptr(allocBytes(scratch)),
                                   i64(scratch),
                                   i64(x[0]),
                                   i64(x[1]),
                                   i64(x[2]),
                                   i64(x[3]),
                                   i64(w[0]),
                                   i64(w[2]),
                                   i64(w[3]),
                                   i64(st[0]),
                                   i64(st[1]),
                                   i64(pd[0]),
                                   i64(pd[1]),
                                   i64(dl[0]),
                                   i64(dl[1]),
                                   i64(groups),
                                   i32(*epilogue)};
        if (*precision)
          args.push_back(i32(*precision));
        call(name(*precision ? "conv2d_fwd_mixed" : "conv2d_fwd"), args);
        return setResult(out);
      })
      .Case<LinearOp>([&](LinearOp l) -> LogicalResult {
        FailureOr<int32_t> epilogue = libraryEpilogue(op);
        FailureOr<int32_t> precision = precisionOf(op);
        if (failed(epilogue) || failed(precision))
          return failure();
        auto w = shapeOf(l.getWeight());
        int64_t m = numel(l.getInput()) / w[1];
        Value out = alloc(toMemRef(l.getType()));
        if (!*precision) {
          call(name("linear_fwd"),
               {ptr(lookup(l.getInput())), ptr(lookup(l.getWeight())), ptrOrNull(l.getBias()),
                ptr(out), i64(m), i64(w[1]), i64(w[0]), i32(*epilogue)});
          return setResult(out);
        }
        int64_t scratch = nnc_linear_fwd_mixed_scratch_bytes(m, w[1], w[0], *precision);
        call(name("linear_fwd_mixed"),
             {ptr(lookup(l.getInput())), ptr(lookup(l.getWeight())), ptrOrNull(l.getBias()),
              ptr(out), ptr(allocBytes(scratch)), i64(scratch), i64(m), i64(w[1]), i64(w[0]),
              i32(*epilogue), i32(*precision)});
        return setResult(out);
      })
      .Case<QConv2dOp, QLinearOp>([&](Operation *) { return lowerInt8(op); })
      .Case<BatchMatmulOp>([&](BatchMatmulOp m) -> LogicalResult {
        if (!m.getType().getElementType().isF32())
          return m.emitError("attention's batched products are implemented for f32 only, got ")
                 << m.getType().getElementType();
        auto r = shapeOf(m.getResult());
        int64_t k = shapeOf(m.getLhs())[m.getTransposeLhs() ? 1 : 2];
        Value out = alloc(toMemRef(m.getType()));
        call(name("batch_matmul"),
             {i32(m.getTransposeLhs()), i32(m.getTransposeRhs()), i64(r[0]), i64(r[1]), i64(r[2]),
              i64(k), f32(m.getAlpha().convertToDouble()), ptr(lookup(m.getLhs())),
              ptr(lookup(m.getRhs())), ptr(out)});
        return setResult(out);
      })
      .Case<LSTMOp>([&](LSTMOp r) {
        return setResult(lowerRecurrent(
            op, "lstm", r.getInput(), r.getWeights(), r.getHiddenSize(),
            r.getNumLayers(), r.getBidirectional(), r.getHasBias(),
            r.getReturnSequences(), 0));
      })
      .Case<GRUOp>([&](GRUOp r) {
        return setResult(lowerRecurrent(op, "gru", r.getInput(), r.getWeights(),
                                        r.getHiddenSize(), r.getNumLayers(),
                                        r.getBidirectional(), r.getHasBias(),
                                        r.getReturnSequences(), 0));
      })
      .Case<RNNOp>([&](RNNOp r) {
        return setResult(lowerRecurrent(
            op, "rnn", r.getInput(), r.getWeights(), r.getHiddenSize(),
            r.getNumLayers(), r.getBidirectional(), r.getHasBias(),
            r.getReturnSequences(), r.getNonlinearity() == "relu"));
      })
      .Case<LinearBackwardOp>([&](LinearBackwardOp l) -> LogicalResult {
        FailureOr<int32_t> precision = precisionOf(op);
        if (failed(precision))
          return failure();
        auto w = shapeOf(l.getWeight());
        int64_t m = numel(l.getInput()) / w[1];
        SmallVector<Value> args = {ptr(lookup(l.getGrad())),   ptr(lookup(l.getInput())),
                                   ptr(lookup(l.getWeight())), orNull(l.getInputGrad()),
                                   orNull(l.getWeightGrad()),  orNull(l.getBiasGrad())};
        if (*precision) {
          int64_t scratch = nnc_linear_bwd_mixed_scratch_bytes(m, w[1], w[0], *precision);
          args.append({ptr(allocBytes(scratch)), i64(scratch)});
        }
        args.append({i64(m), i64(w[1]), i64(w[0])});
        if (*precision)
          args.push_back(i32(*precision));
        call(name(*precision ? "linear_bwd_mixed" : "linear_bwd"), args);
        return success();
      })
      .Case<Conv2dBackwardOp>([&](Conv2dBackwardOp c) -> LogicalResult {
        FailureOr<int32_t> precision = precisionOf(op);
        if (failed(precision))
          return failure();
        auto x = shapeOf(c.getInput()), w = shapeOf(c.getWeight());
        auto st = c.getStride(), pd = c.getPadding(), dl = c.getDilation();
        int64_t groups = c.getGroups();
        int64_t scratch =
            *precision ? nnc_conv2d_bwd_mixed_scratch_bytes(x[0], x[1], x[2], x[3], w[0], w[2],
                                                            w[3], st[0], st[1], pd[0], pd[1], dl[0],
                                                            dl[1], groups, *precision)
                       : calls.convBwdScratch(x[0], x[1], x[2], x[3], w[0], w[2], w[3], st[0],
                                              st[1], pd[0], pd[1], dl[0], dl[1], groups);
        SmallVector<Value> args = {
            ptr(lookup(c.getGrad())),   ptr(lookup(c.getInput())),
            ptr(lookup(c.getWeight())), orNull(c.getInputGrad()),
            orNull(c.getWeightGrad()),  orNull(c.getBiasGrad()),
            ptr(allocBytes(scratch)),   i64(scratch)};
        for (int64_t v : {x[0], x[1], x[2], x[3], w[0], w[2], w[3], st[0],
                          st[1], pd[0], pd[1], dl[0], dl[1], groups})
          args.push_back(i64(v));
        if (*precision)
          args.push_back(i32(*precision));
        call(name(*precision ? "conv2d_bwd_mixed" : "conv2d_bwd"), args);
        return success();
      })
      .Case<LSTMTrainOp, GRUTrainOp, RNNTrainOp>(
          [&](Operation *) -> LogicalResult {
            Value input = op->getOperand(0);
            RecurrentAttrs r = recurrentAttrs(op);
            auto x = shapeOf(input);
            int64_t reserveBytes =
                recurrentBytes(r.kind, nnc_lstm_reserve_bytes,
                               nnc_gru_reserve_bytes, nnc_rnn_reserve_bytes)(
                    x[0], x[1], x[2], r.hidden, r.layers, r.bidir);
            // The runtime's reserve is the `saved` result, in its layout.
            if (reserveBytes !=
                byteSize(cast<ShapedType>(op->getResult(1).getType())))
              return op->emitError(
                         "internal error: the runtime's recurrent reserve (")
                     << reserveBytes << " B) is not the saved state's size";
            Value reserve = allocFor(op->getResult(1));
            mapping[op->getResult(0)] = lowerRecurrent(
                op, r.kind, input, op->getOperands().drop_front(), r.hidden,
                r.layers, r.bidir, r.hasBias, r.sequences, r.relu, reserve);
            return success();
          })
      .Case<LSTMBackwardOp, GRUBackwardOp, RNNBackwardOp>([&](Operation *) {
        Value dy = op->getOperand(0), input = op->getOperand(1),
              saved = op->getOperand(2);
        ValueRange weights = op->getOperands().drop_front(3);
        RecurrentAttrs r = recurrentAttrs(op);
        auto x = shapeOf(input);
        bool needsInput = op->hasAttr("needs_input_grad");
        int64_t scratch = recurrentBytes(r.kind, nnc_lstm_bwd_scratch_bytes,
                                         nnc_gru_bwd_scratch_bytes, nnc_rnn_bwd_scratch_bytes)(
            x[0], x[1], x[2], r.hidden, r.layers, r.bidir);
        SmallVector<Value> weightBuffers, gradBuffers;
        for (Value w : weights)
          weightBuffers.push_back(lookup(w));
        ResultRange grads = op->getResults();
        Value dx = needsInput ? allocFor(grads[0]) : Value();
        for (Value g : grads.drop_front(needsInput ? 1 : 0))
          gradBuffers.push_back(allocFor(g));
        SmallVector<Value> args = {
            ptr(lookup(dy)),
            ptr(lookup(input)),
            ptr(pointerTable(weightBuffers)),
            ptr(lookup(saved)),
            dx ? ptr(dx) : nullPtr(),
            ptr(pointerTable(gradBuffers)),
            ptr(allocBytes(scratch)),
            recurrentStep(op, r.kind, r.relu, GatePass::Backward, r.hidden, r.bidir),
            i64(x[0]),
            i64(x[1]),
            i64(x[2]),
            i64(r.hidden),
            i64(r.layers),
            i32(r.bidir),
            i32(r.hasBias),
            i32(r.sequences)};
        if (r.kind == "rnn")
          args.push_back(i32(r.relu));
        call(name((r.kind + "_bwd").str()), args);
        return success();
      })
      .Default([&](Operation *) -> LogicalResult {
        return op->emitError("the library backend (")
               << calls.prefix << "*) cannot lower '" << op->getName() << "'";
      });
}

LogicalResult LibraryLowering::lowerInt8(Operation *op) {
  if (!calls.qconvFwdScratch || !calls.qlinearFwdScratch)
    return op->emitError("int8 library ops are CPU-only for now ('")
           << op->getName() << "' on the " << calls.prefix << "* library)";
  FailureOr<int32_t> epilogue = libraryEpilogue(op);
  if (failed(epilogue))
    return failure();
  auto shapeOf = [](Value v) { return cast<ShapedType>(v.getType()).getShape(); };
  Value out = alloc(toMemRef(op->getResult(0).getType()));
  mapping[op->getResult(0)] = out;
  if (auto c = dyn_cast<QConv2dOp>(op)) {
    QuantOutput y = quantOutput(c);
    int32_t xUnsigned = c.getInputUnsigned();
    auto x = shapeOf(c.getInput()), w = shapeOf(c.getWeight());
    auto st = c.getStride(), pd = c.getPadding(), dl = c.getDilation();
    int64_t groups = c.getGroups();
    int64_t scratch = calls.qconvFwdScratch(x[0], x[1], x[2], x[3], w[0], w[2], w[3], st[0], st[1],
                                            pd[0], pd[1], dl[0], dl[1], groups, xUnsigned, y.type);
    SmallVector<Value> args = {ptr(lookup(c.getInput())),
                               ptr(lookup(c.getWeight())),
                               ptr(lookup(c.getWeightScale())),
                               ptrOrNull(c.getBias()),
                               ptr(out),
                               ptr(allocBytes(scratch)),
                               i64(scratch)};
    for (int64_t v : {x[0], x[1], x[2], x[3], w[0], w[2], w[3], st[0], st[1], pd[0], pd[1], dl[0],
                      dl[1], groups})
      args.push_back(i64(v));
    args.append({f32(c.getInputScale().convertToDouble()), i32(c.getInputZeroPointAttr().getInt()),
                 i32(xUnsigned), i32(*epilogue), i32(y.type), f32(y.scale), i32(y.zeroPoint)});
    call(name("qconv2d_fwd"), args);
    return success();
  }
  auto l = cast<QLinearOp>(op);
  QuantOutput y = quantOutput(l);
  int32_t xUnsigned = l.getInputUnsigned();
  auto w = shapeOf(l.getWeight());
  int64_t m = cast<ShapedType>(l.getInput().getType()).getNumElements() / w[1];
  int64_t scratch = calls.qlinearFwdScratch(m, w[1], w[0], xUnsigned, y.type);
  call(name("qlinear_fwd"),
       {ptr(lookup(l.getInput())), ptr(lookup(l.getWeight())), ptr(lookup(l.getWeightScale())),
        ptrOrNull(l.getBias()), ptr(out), ptr(allocBytes(scratch)), i64(scratch), i64(m), i64(w[1]),
        i64(w[0]), f32(l.getInputScale().convertToDouble()),
        i32(l.getInputZeroPointAttr().getInt()), i32(xUnsigned), i32(*epilogue), i32(y.type),
        f32(y.scale), i32(y.zeroPoint)});
  return success();
}

Value LibraryLowering::lowerRecurrent(Operation *op, StringRef kind, Value input,
                                      ValueRange weights, int64_t hidden, int64_t layers,
                                      bool bidir, bool hasBias, bool sequences, int32_t relu,
                                      Value reserve) {
  auto inType = cast<RankedTensorType>(input.getType());
  int64_t n = inType.getDimSize(0), t = inType.getDimSize(1),
          f = inType.getDimSize(2);
  Value out = alloc(toMemRef(op->getResult(0).getType()));
  // The weights as an array of pointers, in state_dict order.
  SmallVector<Value> weightBuffers;
  for (Value w : weights)
    weightBuffers.push_back(lookup(w));
  Value table = pointerTable(weightBuffers);
  int32_t train = reserve ? 1 : 0;
  int64_t scratchBytes = 0;
  if (kind == "lstm")
    scratchBytes =
        nnc_lstm_fwd_scratch_bytes(n, t, f, hidden, layers, bidir, train);
  else if (kind == "gru")
    scratchBytes =
        nnc_gru_fwd_scratch_bytes(n, t, f, hidden, layers, bidir, train);
  else
    scratchBytes =
        nnc_rnn_fwd_scratch_bytes(n, t, f, hidden, layers, bidir, train);
  Value step = recurrentStep(
      op, kind, relu, reserve ? GatePass::ForwardTrain : GatePass::Forward,
      hidden, bidir);
  SmallVector<Value> args = {ptr(lookup(input)),
                             ptr(table),
                             ptr(out),
                             reserve ? ptr(reserve) : nullPtr(),
                             ptr(allocBytes(scratchBytes)),
                             step,
                             i64(n),
                             i64(t),
                             i64(f),
                             i64(hidden),
                             i64(layers),
                             i32(bidir),
                             i32(hasBias),
                             i32(sequences)};
  if (kind == "rnn")
    args.push_back(i32(relu));
  call(name((kind + "_fwd").str()), args);
  return out;
}

Value LibraryLowering::pointerTable(ArrayRef<Value> buffers) {
  auto type = MemRefType::get({int64_t(buffers.size())}, b.getI64Type());
  // The host reads the table; on the GPU the arena is device memory.
  Value table =
      calls.hostPointerTables ? Value(memref::AllocaOp::create(b, loc(), type)) : alloc(type);
  for (auto [i, v] : llvm::enumerate(buffers)) {
    Value asInt = LLVM::PtrToIntOp::create(b, loc(), b.getI64Type(), ptr(v));
    memref::StoreOp::create(b, loc(), asInt, table,
                            ValueRange{arith::ConstantIndexOp::create(b, loc(), i)});
  }
  return table;
}

Value LibraryLowering::recurrentStep(Operation *op, StringRef kind, bool relu, GatePass pass,
                                     int64_t hidden, bool bidir) {
  RecurrentCell cell = kind == "lstm"  ? RecurrentCell::Lstm
                       : kind == "gru" ? RecurrentCell::Gru
                       : relu          ? RecurrentCell::RnnRelu
                                       : RecurrentCell::RnnTanh;
  auto name = op->getAttrOfType<StringAttr>("name");
  func::FuncOp fn = getOrCreateGateFunction(
      model, cell, pass, hidden, bidir ? 2 : 1,
      name ? name.getValue() : op->getName().stripDialect());
  Value fnRef =
      func::ConstantOp::create(b, loc(), fn.getFunctionType(), fn.getSymName());
  // The runtime takes it as a plain function pointer.
  return UnrealizedConversionCastOp::create(
             b, loc(), LLVM::LLVMPointerType::get(b.getContext()), fnRef)
      .getResult(0);
}

/// The CPU's library backend.
class CPULibraryBackend final : public LibraryBackend {
public:
  StringRef target() const override { return "cpu"; }
  StringRef checkFiniteFunction() const override { return "nnc_check_finite"; }
  LogicalResult lower(FunctionLowering &fl, Operation *op) const override {
    static const LibraryCalls calls = {"nnc_",
                                       nnc_conv2d_fwd_scratch_bytes,
                                       nnc_conv2d_bwd_scratch_bytes,
                                       /*hostPointerTables=*/false,
                                       nnc_qconv2d_fwd_scratch_bytes,
                                       nnc_qlinear_fwd_scratch_bytes,
                                       /*mixedPrecision=*/true};
    return lowerLibraryCalls(fl, op, calls);
  }
};

} // namespace

LogicalResult nnc::codegen::lowerLibraryCalls(FunctionLowering &fl, Operation *op,
                                              const LibraryCalls &calls) {
  return LibraryLowering(fl, calls).lower(op);
}

const LibraryBackend &nnc::codegen::cpuLibraryBackend() {
  static const CPULibraryBackend backend;
  return backend;
}
