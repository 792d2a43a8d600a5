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
#include "dialect/ShapeRules.h"
#include "runtime/Kernels.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

Value FunctionLowering::updatable(Value tensor, Operation *op) {
  Value buffer = lookup(tensor);
  auto readAfter = [](Value value, Operation *op) {
    return llvm::any_of(value.getUsers(), [&](Operation *user) {
      return user != op && op->isBeforeInBlock(user) && !isa<ParamAssignOp>(user);
    });
  };
  bool readLater = readAfter(tensor, op);
  // An input of an nn.kernel: also read after the kernel, or through
  // another input of it.
  if (auto arg = dyn_cast<BlockArgument>(tensor))
    if (auto kernel = dyn_cast<KernelOp>(arg.getOwner()->getParentOp())) {
      Value outer = kernel.getInputs()[arg.getArgNumber()];
      readLater = readLater || readAfter(outer, kernel) ||
                  llvm::count(kernel.getInputs(), outer) > 1;
    }
  if (!readLater)
    return buffer;
  Value copy = alloc(cast<MemRefType>(buffer.getType()));
  memref::CopyOp::create(b, loc(), buffer, copy);
  return copy;
}

Value FunctionLowering::loadScalar(Value tensor) {
  return memref::LoadOp::create(b, loc(), lookup(tensor), ValueRange{});
}

void FunctionLowering::scaleBySeed(Value buffer, Value seed) {
  if (auto cst = seed.getDefiningOp<arith::ConstantOp>())
    if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue()))
      if (dense.isSplat() && dense.getSplatValue<APFloat>().convertToDouble() == 1.0)
        return;
  auto type = cast<MemRefType>(buffer.getType());
  int64_t rank = type.getRank();
  AffineMap scalarMap = AffineMap::get(rank, 0, {}, b.getContext());
  SmallVector<AffineMap> maps = {scalarMap, b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  linalg::GenericOp::create(
      b, loc(), ValueRange{lookup(seed)}, ValueRange{buffer}, maps, iters,
      [](OpBuilder &nb, Location l, ValueRange a) {
        linalg::YieldOp::create(nb, l, arith::MulFOp::create(nb, l, a[0], a[1]).getResult());
      });
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
  auto spatial = [&](ArrayRef<int64_t> s) {
    int64_t n = 1;
    for (size_t i = 2; i < s.size(); ++i)
      n *= s[i];
    return n;
  };
  auto pairArgs = [&](ArrayRef<int64_t> k, ArrayRef<int64_t> st, ArrayRef<int64_t> p,
                      SmallVectorImpl<Value> &args) {
    for (int64_t v : {k[0], k[1], st[0], st[1], p[0], p[1]})
      args.push_back(i64(v));
  };
  // Elementwise backward rules generated as loops: dx = f(dy, value).
  auto unaryBackward = [&](auto fn) {
    mapping[op->getResult(0)] = lowerElementwise(op, op->getOperands(), fn);
    return success();
  };

  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<arith::ConstantOp>([&](arith::ConstantOp c) -> LogicalResult {
        auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
        if (!dense || !dense.isSplat())
          return c.emitError("the CPU backend supports only splat tensor constants");
        Value m = allocFor(c.getResult());
        Value v = arith::ConstantOp::create(b, loc(), dense.getSplatValue<TypedAttr>());
        linalg::FillOp::create(b, loc(), ValueRange{v}, ValueRange{m});
        return success();
      })
      .Case<arith::AddIOp, arith::AddFOp>([&](Operation *) -> LogicalResult {
        // Scalar bookkeeping on 0-d tensors (num_batches_tracked += 1).
        auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
        if (!type || type.getRank() != 0)
          return op->emitError("the CPU backend supports this op on 0-d tensors only");
        Value sum = isa<arith::AddIOp>(op)
                        ? arith::AddIOp::create(b, loc(), loadScalar(op->getOperand(0)),
                                                loadScalar(op->getOperand(1)))
                              .getResult()
                        : arith::AddFOp::create(b, loc(), loadScalar(op->getOperand(0)),
                                                loadScalar(op->getOperand(1)))
                              .getResult();
        memref::StoreOp::create(b, loc(), sum, allocFor(op->getResult(0)), ValueRange{});
        return success();
      })
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
      .Case<ConcatBackwardOp>([&](ConcatBackwardOp c) {
        // Each input's gradient is a copy of its slice of dL/dy.
        Value grad = lookup(c.getGrad());
        int64_t dim = c.getDim(), offset = 0;
        for (auto [result, size] : llvm::zip(c.getResults(), c.getSizes())) {
          copyInto(sliceAlong(grad, dim, offset, size), allocFor(result));
          offset += size;
        }
        return success();
      })
      .Case<CountCorrectOp>([&](CountCorrectOp c) {
        auto it = correctCounts.find(c.getLogits());
        if (it != correctCounts.end()) {
          mapping[c.getResult()] = it->second;
          return success();
        }
        auto x = shapeOf(c.getLogits());
        Value loss = alloc(MemRefType::get({}, b.getF32Type()));
        int64_t scratch = nnc_cross_entropy_fwd_scratch_bytes(x[0], x[1]);
        call("nnc_cross_entropy_fwd",
             {ptr(lookup(c.getLogits())), ptr(lookup(c.getLabels())), i64(x[0]), i64(x[1]),
              ptr(loss), ptr(allocFor(c.getResult())), ptr(allocBytes(scratch))},
             b.getI64Type());
        return success();
      })
      .Case<CrossEntropyBackwardOp>([&](CrossEntropyBackwardOp ce) {
        auto x = shapeOf(ce.getLogits());
        Value d = allocFor(ce.getResult());
        call("nnc_cross_entropy_bwd",
             {ptr(lookup(ce.getLogits())), ptr(lookup(ce.getLabels())), ptr(d), i64(x[0]),
              i64(x[1])},
             b.getI64Type());
        scaleBySeed(d, ce.getGrad());
        return success();
      })
      .Case<MseBackwardOp>([&](MseBackwardOp m) {
        Value d = allocFor(m.getResult());
        call("nnc_mse_bwd", {ptr(lookup(m.getPred())), ptr(lookup(m.getTarget())), ptr(d),
                             i64(numel(m.getPred()))});
        scaleBySeed(d, m.getGrad());
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
                                   ptr(allocBytes(scratch))};
        for (int64_t v : {x[0], x[1], x[2], x[3], w[0], w[2], w[3], st[0], st[1], pd[0],
                          pd[1], dl[0], dl[1], groups})
          args.push_back(i64(v));
        call("nnc_conv2d_bwd", args);
        return success();
      })
      .Case<ReluBackwardOp>([&](auto) {
        return unaryBackward([](OpBuilder &nb, Location l, ValueRange a) -> Value {
          auto ft = cast<FloatType>(a[0].getType());
          Value zero = arith::ConstantFloatOp::create(nb, l, ft, APFloat(0.0f));
          Value pos = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, a[1], zero);
          return arith::SelectOp::create(nb, l, pos, a[0], zero);
        });
      })
      .Case<SigmoidBackwardOp>([&](auto) {
        return unaryBackward([](OpBuilder &nb, Location l, ValueRange a) -> Value {
          auto ft = cast<FloatType>(a[0].getType());
          Value one = arith::ConstantFloatOp::create(nb, l, ft, APFloat(1.0f));
          Value oneMinus = arith::SubFOp::create(nb, l, one, a[1]);
          return arith::MulFOp::create(nb, l, a[0],
                                       arith::MulFOp::create(nb, l, a[1], oneMinus));
        });
      })
      .Case<TanhBackwardOp>([&](auto) {
        return unaryBackward([](OpBuilder &nb, Location l, ValueRange a) -> Value {
          auto ft = cast<FloatType>(a[0].getType());
          Value one = arith::ConstantFloatOp::create(nb, l, ft, APFloat(1.0f));
          Value sq = arith::MulFOp::create(nb, l, a[1], a[1]);
          return arith::MulFOp::create(nb, l, a[0], arith::SubFOp::create(nb, l, one, sq));
        });
      })
      .Case<GeluBackwardOp>([&](GeluBackwardOp g) {
        Value d = allocFor(g.getResult());
        call("nnc_gelu_bwd", {ptr(lookup(g.getGrad())), ptr(lookup(g.getValue())), ptr(d),
                              i64(numel(g.getGrad()))});
        return success();
      })
      .Case<LeakyReluBackwardOp>([&](LeakyReluBackwardOp g) {
        Value d = allocFor(g.getResult());
        call("nnc_leaky_relu_bwd",
             {ptr(lookup(g.getGrad())), ptr(lookup(g.getValue())), ptr(d),
              i64(numel(g.getGrad())), f32(g.getSlope().convertToDouble())});
        return success();
      })
      .Case<SoftmaxBackwardOp, LogSoftmaxBackwardOp>(
          [&](Operation *) -> LogicalResult {
            int64_t dim = cast<IntegerAttr>(op->getAttr("dim")).getInt();
            lowerSoftmaxBackward(op->getOperand(0), op->getOperand(1), dim,
                                 isa<LogSoftmaxBackwardOp>(op),
                                 allocFor(op->getResult(0)));
            return success();
          })
      .Case<MaxPool2dBackwardOp>([&](MaxPool2dBackwardOp p) {
        auto x = shapeOf(p.getInput());
        auto y = shapeOf(p.getGrad());
        SmallVector<Value> shapeArgs;
        for (int64_t v : x)
          shapeArgs.push_back(i64(v));
        pairArgs(p.getKernel(), p.getStride(), p.getPadding(), shapeArgs);
        Value indices = poolIndices.lookup(p.getInput());
        if (!indices) {
          // No forward max pool of this input here: recompute the argmax.
          indices = alloc(MemRefType::get(y, b.getI32Type()));
          Value out = alloc(MemRefType::get(y, b.getF32Type()));
          SmallVector<Value> args = {ptr(lookup(p.getInput())), ptr(out), ptr(indices)};
          args.append(shapeArgs);
          call("nnc_maxpool2d_fwd", args);
        }
        SmallVector<Value> args = {ptr(lookup(p.getGrad())), ptr(indices),
                                   ptr(allocFor(p.getResult()))};
        args.append(shapeArgs);
        call("nnc_maxpool2d_bwd", args);
        return success();
      })
      .Case<AvgPool2dBackwardOp>([&](AvgPool2dBackwardOp p) {
        auto x = shapeOf(p.getResult());
        SmallVector<Value> args = {ptr(lookup(p.getGrad())), ptr(allocFor(p.getResult()))};
        for (int64_t v : x)
          args.push_back(i64(v));
        pairArgs(p.getKernel(), p.getStride(), p.getPadding(), args);
        call("nnc_avgpool2d_bwd", args);
        return success();
      })
      .Case<GlobalAvgPoolBackwardOp>([&](GlobalAvgPoolBackwardOp p) {
        auto x = shapeOf(p.getResult());
        call("nnc_global_avgpool_bwd", {ptr(lookup(p.getGrad())),
                                        ptr(allocFor(p.getResult())), i64(x[0]), i64(x[1]),
                                        i64(spatial(x))});
        return success();
      })
      .Case<BatchNormTrainOp>([&](BatchNormTrainOp bn) -> LogicalResult {
        auto x = shapeOf(bn.getInput());
        // Batch statistics of one value per channel: a variance of 0 and a
        // meaningless update (PyTorch refuses this too).
        if (x[0] * spatial(x) == 1) {
          auto name = bn->getAttrOfType<StringAttr>("name");
          return bn.emitError("batchnorm '")
                 << (name ? name.getValue() : "batchnorm")
                 << "' has one value per channel at batch " << x[0]
                 << " (input " << nnc::shape::formatShape(x)
                 << "); training needs more than one (use a batch of at least "
                    "2)";
        }
        // The running statistics are updated in place (on a copy if they
        // are read again later).
        Value runningMean = updatable(bn.getRunningMean(), op);
        Value runningVar = updatable(bn.getRunningVar(), op);
        mapping[bn.getNewRunningMean()] = runningMean;
        mapping[bn.getNewRunningVar()] = runningVar;
        call("nnc_batchnorm_train_fwd",
             {ptr(lookup(bn.getInput())), ptr(lookup(bn.getWeight())),
              ptr(lookup(bn.getBias())), ptr(allocFor(bn.getResult())), ptr(runningMean),
              ptr(runningVar), ptr(allocFor(bn.getBatchMean())),
              ptr(allocFor(bn.getBatchInvstd())), i64(x[0]), i64(x[1]), i64(spatial(x)),
              f32(bn.getMomentum().convertToDouble()), f32(bn.getEps().convertToDouble())});
        return success();
      })
      .Case<BatchNormBackwardOp>([&](BatchNormBackwardOp bn) {
        auto x = shapeOf(bn.getInput());
        call("nnc_batchnorm_bwd",
             {ptr(lookup(bn.getGrad())), ptr(lookup(bn.getInput())),
              ptr(lookup(bn.getWeight())), ptr(lookup(bn.getBatchMean())),
              ptr(lookup(bn.getBatchInvstd())), ptr(allocFor(bn.getInputGrad())),
              ptr(allocFor(bn.getWeightGrad())), ptr(allocFor(bn.getBiasGrad())), i64(x[0]),
              i64(x[1]), i64(spatial(x))});
        return success();
      })
      .Case<DropoutTrainOp>([&](DropoutTrainOp d) {
        // Masks differ per layer (stream) and per step (the seed input).
        Value seed = loadScalar(d.getSeed());
        int64_t stream = d.getStream();
        call("nnc_dropout_fwd",
             {ptr(lookup(d.getInput())), ptr(allocFor(d.getResult())),
              ptr(allocFor(d.getMask())), i64(numel(d.getInput())),
              f32(d.getP().convertToDouble()), seed, i64(stream << 40)});
        return success();
      })
      .Case<DropoutBackwardOp>([&](DropoutBackwardOp d) {
        call("nnc_dropout_bwd", {ptr(lookup(d.getGrad())), ptr(lookup(d.getMask())),
                                 ptr(allocFor(d.getResult())), i64(numel(d.getGrad())),
                                 f32(d.getP().convertToDouble())});
        return success();
      })
      .Case<EmbeddingBackwardOp>([&](EmbeddingBackwardOp e) {
        auto t = shapeOf(e.getResult());
        call("nnc_embedding_bwd",
             {ptr(idsAsI64(e.getIds())), ptr(lookup(e.getGrad())),
              ptr(allocFor(e.getResult())), i64(numel(e.getIds())), i64(t[0]),
              i64(t[1])},
             b.getI64Type());
        return success();
      })
      .Case<LSTMTrainOp, GRUTrainOp, RNNTrainOp>([&](Operation *) {
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
        Value reserve = allocBytes(std::max(reserveBytes, byteSize(cast<ShapedType>(
                                                              op->getResult(1).getType()))));
        mapping[op->getResult(1)] = reserve;
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
        SmallVector<Value> args = {ptr(lookup(dy)), ptr(lookup(input)),
                                   ptr(tableOf(weightBuffers)), ptr(lookup(saved)),
                                   dx ? ptr(dx) : nullPtr(), ptr(tableOf(gradBuffers)),
                                   ptr(allocBytes(scratch)), i64(x[0]), i64(x[1]),
                                   i64(x[2]), i64(hidden), i64(layers), i32(bidir),
                                   i32(boolAttr("has_bias", true)),
                                   i32(boolAttr("return_sequences", false))};
        if (kind == "rnn") {
          auto nonlin = op->getAttrOfType<StringAttr>("nonlinearity");
          args.push_back(i32(nonlin && nonlin.getValue() == "relu"));
        }
        call(("nnc_" + kind + "_bwd").str(), args);
        return success();
      })
      .Case<SgdUpdateOp>([&](SgdUpdateOp u) {
        Value param = updatable(u.getParam(), op);
        mapping[u.getNewParam()] = param;
        call("nnc_sgd_update", {ptr(param), ptr(lookup(u.getGrad())),
                                i64(numel(u.getParam())), loadScalar(u.getLr()),
                                f32(u.getWeightDecay().convertToDouble())});
        return success();
      })
      .Case<MomentumUpdateOp>([&](MomentumUpdateOp u) {
        Value param = updatable(u.getParam(), op);
        Value buf = updatable(u.getMomentumBuffer(), op);
        mapping[u.getNewParam()] = param;
        mapping[u.getNewMomentumBuffer()] = buf;
        // dampening 0: with a zero-initialized buffer the first step gives
        // buf = grad, as torch.optim.SGD does; so `step` never needs to be 1.
        call("nnc_momentum_update",
             {ptr(param), ptr(lookup(u.getGrad())), ptr(buf), i64(numel(u.getParam())),
              loadScalar(u.getLr()), f32(u.getMomentum().convertToDouble()), f32(0.0),
              f32(u.getWeightDecay().convertToDouble()), i32(u.getNesterov()), i64(2)});
        return success();
      })
      .Case<AdamUpdateOp>([&](AdamUpdateOp u) {
        Value param = updatable(u.getParam(), op);
        Value m = updatable(u.getExpAvg(), op);
        Value v = updatable(u.getExpAvgSq(), op);
        mapping[u.getNewParam()] = param;
        mapping[u.getNewExpAvg()] = m;
        mapping[u.getNewExpAvgSq()] = v;
        call("nnc_adam_update",
             {ptr(param), ptr(lookup(u.getGrad())), ptr(m), ptr(v), i64(numel(u.getParam())),
              loadScalar(u.getLr()), f32(u.getBeta1().convertToDouble()),
              f32(u.getBeta2().convertToDouble()), f32(u.getEps().convertToDouble()),
              f32(u.getWeightDecay().convertToDouble()), i32(u.getAdamw()),
              loadScalar(u.getStep())});
        return success();
      })
      .Default([&](Operation *) -> LogicalResult {
        return op->emitError("the CPU backend cannot lower '") << op->getName() << "' yet";
      });
}
