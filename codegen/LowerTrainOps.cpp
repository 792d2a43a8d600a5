//===- LowerTrainOps.cpp - Training ops to kernel calls and loops ---------===//
//
// The part of -nn-lower-to-buffers for what -nn-autodiff adds: training-mode
// forward ops, backward ops, optimizer updates and parameter writes. Updates
// run in place on the arena regions of parameters and optimizer state when
// nothing reads the old value afterwards (the autodiff pass emits them after
// the whole backward pass).
//
//===----------------------------------------------------------------------===//

#include "codegen/FunctionLowering.h"

#include "dialect/NNOps.h"
#include "runtime/Kernels.h"

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
  auto shapeOf = [](Value v) { return cast<ShapedType>(v.getType()).getShape(); };
  auto numel = [](Value v) { return cast<ShapedType>(v.getType()).getNumElements(); };
  auto allocFor = [&](Value result) {
    Value m = alloc(toMemRef(result.getType()));
    mapping[result] = m;
    return m;
  };
  auto orNull = [&](Value result) { return result ? ptr(allocFor(result)) : nullPtr(); };
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
      .Case<LinearBackwardOp>([&](LinearBackwardOp l) {
        auto w = shapeOf(l.getWeight());
        call("nnc_linear_bwd",
             {ptr(lookup(l.getGrad())), ptr(lookup(l.getInput())), ptr(lookup(l.getWeight())),
              orNull(l.getInputGrad()), orNull(l.getWeightGrad()), orNull(l.getBiasGrad()),
              i64(numel(l.getInput()) / w[1]), i64(w[1]), i64(w[0])});
        return success();
      })
      .Case<Conv2dBackwardOp>([&](Conv2dBackwardOp c) {
        auto x = shapeOf(c.getInput()), w = shapeOf(c.getWeight());
        auto st = c.getStride(), pd = c.getPadding(), dl = c.getDilation();
        int64_t groups = c.getGroups();
        int64_t scratch =
            nnc_conv2d_bwd_scratch_bytes(x[0], x[1], x[2], x[3], w[0], w[2], w[3], st[0],
                                         st[1], pd[0], pd[1], dl[0], dl[1], groups);
        SmallVector<Value> args = {ptr(lookup(c.getGrad())), ptr(lookup(c.getInput())),
                                   ptr(lookup(c.getWeight())), orNull(c.getInputGrad()),
                                   orNull(c.getWeightGrad()), orNull(c.getBiasGrad()),
                                   ptr(allocBytes(scratch)), i64(scratch)};
        for (int64_t v : {x[0], x[1], x[2], x[3], w[0], w[2], w[3], st[0], st[1], pd[0],
                          pd[1], dl[0], dl[1], groups})
          args.push_back(i64(v));
        call("nnc_conv2d_bwd", args);
        return success();
      })
      .Case<LSTMTrainOp, GRUTrainOp, RNNTrainOp>([&](Operation *) -> LogicalResult {
        Value input = op->getOperand(0);
        ValueRange weights = op->getOperands().drop_front();
        auto x = shapeOf(input);
        int64_t hidden = cast<IntegerAttr>(op->getAttr("hidden_size")).getInt();
        auto intAttr = [&](StringRef name, int64_t dflt) {
          auto a = op->getAttrOfType<IntegerAttr>(name);
          return a ? a.getInt() : dflt;
        };
        auto boolAttr = [&](StringRef name, bool dflt) {
          auto a = op->getAttrOfType<BoolAttr>(name);
          return a ? a.getValue() : dflt;
        };
        int64_t layers = intAttr("num_layers", 1);
        bool bidir = boolAttr("bidirectional", false);
        StringRef kind = isa<LSTMTrainOp>(op) ? "lstm" : isa<GRUTrainOp>(op) ? "gru" : "rnn";
        int64_t reserveBytes =
            kind == "lstm"  ? nnc_lstm_reserve_bytes(x[0], x[1], x[2], hidden, layers, bidir)
            : kind == "gru" ? nnc_gru_reserve_bytes(x[0], x[1], x[2], hidden, layers, bidir)
                            : nnc_rnn_reserve_bytes(x[0], x[1], x[2], hidden, layers, bidir);
        // The runtime's reserve is the `saved` result, in its layout.
        if (reserveBytes != byteSize(cast<ShapedType>(op->getResult(1).getType())))
          return op->emitError("internal error: the runtime's recurrent reserve (")
                 << reserveBytes << " B) is not the saved state's size";
        Value reserve = allocFor(op->getResult(1));
        auto nonlin = op->getAttrOfType<StringAttr>("nonlinearity");
        mapping[op->getResult(0)] =
            lowerRecurrent(op, kind, input, weights, hidden, layers, bidir,
                           boolAttr("has_bias", true), boolAttr("return_sequences", false),
                           nonlin && nonlin.getValue() == "relu", reserve);
        return success();
      })
      .Case<LSTMBackwardOp, GRUBackwardOp, RNNBackwardOp>([&](Operation *) {
        Value dy = op->getOperand(0), input = op->getOperand(1), saved = op->getOperand(2);
        ValueRange weights = op->getOperands().drop_front(3);
        auto x = shapeOf(input);
        int64_t hidden = cast<IntegerAttr>(op->getAttr("hidden_size")).getInt();
        auto intAttr = op->getAttrOfType<IntegerAttr>("num_layers");
        int64_t layers = intAttr ? intAttr.getInt() : 1;
        auto boolAttr = [&](StringRef name, bool dflt) {
          auto a = op->getAttrOfType<BoolAttr>(name);
          return a ? a.getValue() : dflt;
        };
        bool bidir = boolAttr("bidirectional", false);
        bool needsInput = op->hasAttr("needs_input_grad");
        StringRef kind = isa<LSTMBackwardOp>(op) ? "lstm" : isa<GRUBackwardOp>(op) ? "gru" : "rnn";
        int64_t scratch =
            kind == "lstm"  ? nnc_lstm_bwd_scratch_bytes(x[0], x[1], x[2], hidden, layers, bidir)
            : kind == "gru" ? nnc_gru_bwd_scratch_bytes(x[0], x[1], x[2], hidden, layers, bidir)
                            : nnc_rnn_bwd_scratch_bytes(x[0], x[1], x[2], hidden, layers, bidir);
        auto tableOf = [&](ValueRange values) {
          Value table = alloc(MemRefType::get({int64_t(values.size())}, b.getI64Type()));
          for (auto [i, v] : llvm::enumerate(values)) {
            Value asInt = LLVM::PtrToIntOp::create(b, loc(), b.getI64Type(), ptr(v));
            memref::StoreOp::create(b, loc(), asInt, table,
                                    ValueRange{arith::ConstantIndexOp::create(b, loc(), i)});
          }
          return table;
        };
        SmallVector<Value> weightBuffers, gradBuffers;
        for (Value w : weights)
          weightBuffers.push_back(lookup(w));
        ResultRange grads = op->getResults();
        Value dx = needsInput ? allocFor(grads[0]) : Value();
        for (Value g : grads.drop_front(needsInput ? 1 : 0))
          gradBuffers.push_back(allocFor(g));
        auto nonlin = op->getAttrOfType<StringAttr>("nonlinearity");
        bool relu = nonlin && nonlin.getValue() == "relu";
        SmallVector<Value> args = {ptr(lookup(dy)), ptr(lookup(input)),
                                   ptr(tableOf(weightBuffers)), ptr(lookup(saved)),
                                   dx ? ptr(dx) : nullPtr(), ptr(tableOf(gradBuffers)),
                                   ptr(allocBytes(scratch)),
                                   recurrentStep(op, kind, relu, GatePass::Backward, hidden, bidir),
                                   i64(x[0]), i64(x[1]),
                                   i64(x[2]), i64(hidden), i64(layers), i32(bidir),
                                   i32(boolAttr("has_bias", true)),
                                   i32(boolAttr("return_sequences", false))};
        if (kind == "rnn")
          args.push_back(i32(relu));
        call(("nnc_" + kind + "_bwd").str(), args);
        return success();
      })
      .Default([&](Operation *) -> LogicalResult {
        return op->emitError("the CPU backend cannot lower '") << op->getName() << "' yet";
      });
}
