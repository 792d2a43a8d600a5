//===- SemaLayers.cpp - The layer table, argument binding, shape checks ---===//
//
// What every built-in layer accepts, how a call's arguments bind to it, and
// how each layer's result shape and PyTorch-equivalent parameters are made.
// The shape arithmetic itself is dialect/ShapeRules, shared with the ops.
//
//===----------------------------------------------------------------------===//

#include "frontend/SemaImpl.h"

#include "dialect/ShapeRules.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <array>
#include <cmath>

using namespace nnc;
using namespace nnc::sema;
using llvm::failure;
using llvm::FailureOr;
using llvm::LogicalResult;
using llvm::SMLoc;
using llvm::StringRef;
using llvm::success;

//===----------------------------------------------------------------------===//
// The layer table
//===----------------------------------------------------------------------===//

static const std::vector<LayerSpec> &layerTable() {
  using A = ArgType;
  static const std::vector<ArgSpec> recurrentArgs = {
      {"hidden", A::Int, true},     {"layers", A::Int, false}, {"bidirectional", A::Bool, false},
      {"sequence", A::Bool, false}, {"bias", A::Bool, false},  {"in", A::Int, false}};
  // rnn's positional order is docs/language.md's (and torch.nn.RNN's):
  // nonlinearity before bias.
  static const std::vector<ArgSpec> rnnArgs = [] {
    std::vector<ArgSpec> args = recurrentArgs;
    auto bias = std::find_if(args.begin(), args.end(),
                             [](const ArgSpec &a) { return StringRef(a.name) == "bias"; });
    args.insert(bias, {"nonlinearity", A::String, false});
    return args;
  }();
  static const std::vector<ArgSpec> poolArgs = {{"kernel", A::IntPair, true},
                                                {"stride", A::IntPair, false},
                                                {"padding", A::IntPair, false}};
  static const std::vector<ArgSpec> bnArgs = {{"eps", A::Float, false},
                                              {"momentum", A::Float, false}};
  static const std::vector<LayerSpec> table = {
      {"conv2d",
       LayerKind::Conv2d,
       1,
       "conv",
       {{"out", A::Int, true},
        {"kernel", A::IntPair, true},
        {"stride", A::IntPair, false},
        {"padding", A::PaddingSpec, false},
        {"dilation", A::IntPair, false},
        {"groups", A::Int, false},
        {"bias", A::Bool, false},
        {"in", A::Int, false}}},
      {"linear",
       LayerKind::Linear,
       1,
       "fc",
       {{"out", A::Int, true},
        {"bias", A::Bool, false},
        {"in", A::Int, false},
        {"tie", A::String, false}}},
      {"embedding",
       LayerKind::Embedding,
       1,
       "embed",
       {{"num", A::Int, true}, {"dim", A::Int, true}, {"std", A::Float, false}}},
      {"pos_embedding",
       LayerKind::PosEmbedding,
       1,
       "pos",
       {{"num", A::Int, true}, {"std", A::Float, false}}},
      {"relu", LayerKind::Relu, 1, "relu", {}},
      {"sigmoid", LayerKind::Sigmoid, 1, "sigmoid", {}},
      {"tanh", LayerKind::Tanh, 1, "tanh", {}},
      {"gelu", LayerKind::Gelu, 1, "gelu", {}},
      {"leaky_relu", LayerKind::LeakyRelu, 1, "leaky_relu", {{"slope", A::Float, false}}},
      {"softmax", LayerKind::Softmax, 1, "softmax", {{"dim", A::Int, false}}},
      {"log_softmax", LayerKind::LogSoftmax, 1, "log_softmax", {{"dim", A::Int, false}}},
      {"maxpool2d", LayerKind::MaxPool2d, 1, "pool", poolArgs},
      {"avgpool2d", LayerKind::AvgPool2d, 1, "pool", poolArgs},
      {"global_avgpool", LayerKind::GlobalAvgPool, 1, "pool", {}},
      {"batchnorm", LayerKind::BatchNorm, 1, "bn", bnArgs},
      {"batchnorm1d", LayerKind::BatchNorm, 1, "bn", bnArgs},
      {"batchnorm2d", LayerKind::BatchNorm, 1, "bn", bnArgs},
      {"layernorm",
       LayerKind::LayerNorm,
       1,
       "ln",
       {{"eps", A::Float, false}, {"affine", A::Bool, false}}},
      {"dropout", LayerKind::Dropout, 1, "drop", {{"p", A::Float, false}}},
      {"flatten", LayerKind::Flatten, 1, "flatten", {}},
      {"reshape", LayerKind::Reshape, 1, "reshape", {{"shape", A::IntList, true}}},
      {"add", LayerKind::Add, 2, "add", {}},
      {"concat", LayerKind::Concat, -1, "concat", {{"dim", A::Int, false}}},
      {"rnn", LayerKind::Rnn, 1, "rnn", rnnArgs},
      {"lstm", LayerKind::Lstm, 1, "lstm", recurrentArgs},
      {"gru", LayerKind::Gru, 1, "gru", recurrentArgs},
      {"attention",
       LayerKind::Attention,
       1,
       "attn",
       {{"heads", A::Int, true},
        {"kv_heads", A::Int, false},
        {"causal", A::Bool, false},
        {"bias", A::Bool, false},
        {"in", A::Int, false}}},
  };
  return table;
}

const LayerSpec *sema::lookupLayer(StringRef name) {
  for (const LayerSpec &spec : layerTable())
    if (name == spec.name)
      return &spec;
  return nullptr;
}

std::vector<StringRef> sema::allLayerNames() {
  std::vector<StringRef> names;
  for (const LayerSpec &spec : layerTable())
    names.push_back(spec.name);
  return names;
}

StringRef nnc::layerKindName(LayerKind kind) {
  switch (kind) {
  case LayerKind::CrossEntropy:
    return "cross_entropy";
  case LayerKind::Mse:
    return "mse";
  default:
    break;
  }
  for (const LayerSpec &spec : layerTable())
    if (spec.kind == kind)
      return spec.name;
  return "?";
}

//===----------------------------------------------------------------------===//
// Argument binding
//===----------------------------------------------------------------------===//

static const char *typeText(ArgType type) {
  switch (type) {
  case ArgType::Int:
    return "an integer";
  case ArgType::Float:
    return "a number";
  case ArgType::Bool:
    return "true or false";
  case ArgType::String:
    return "a string";
  case ArgType::IntPair:
    return "an integer or a list of 2 integers";
  case ArgType::PaddingSpec:
    return "an integer, a list of 2 integers, \"same\" or \"valid\"";
  case ArgType::IntList:
    return "a list of integers";
  }
  return "a value";
}

static bool isIntList(const Val &v, size_t size) {
  if (v.kind != Val::Kind::List || (size && v.list.size() != size) || v.list.empty())
    return false;
  return llvm::all_of(v.list, [](const Val &e) { return e.kind == Val::Kind::Int; });
}

LogicalResult Evaluator::checkArgType(const Val &v, const ArgSpec &spec,
                                      StringRef callee) {
  bool ok = false;
  switch (spec.type) {
  case ArgType::Int:
    ok = v.kind == Val::Kind::Int;
    break;
  case ArgType::Float:
    ok = v.isNumber();
    break;
  case ArgType::Bool:
    ok = v.kind == Val::Kind::Bool;
    break;
  case ArgType::String:
    ok = v.kind == Val::Kind::String;
    break;
  case ArgType::IntPair:
    ok = v.kind == Val::Kind::Int || isIntList(v, 2);
    break;
  case ArgType::PaddingSpec:
    ok = v.kind == Val::Kind::Int || isIntList(v, 2) ||
         (v.kind == Val::Kind::String && (v.s == "same" || v.s == "valid"));
    break;
  case ArgType::IntList:
    ok = isIntList(v, 0);
    break;
  }
  if (ok)
    return success();
  return error(v.loc, "argument '" + llvm::Twine(spec.name) + "' of " + callee +
                          " must be " + typeText(spec.type) + ", got " +
                          describe(v, graph));
}

FailureOr<BoundArgs> Evaluator::bindArgs(const ast::CallExpr &call,
                                         const LayerSpec &spec) {
  BoundArgs bound;
  StringRef callee = spec.name;
  size_t nextArg = 0;
  auto specNames = [&] {
    std::string names;
    for (const ArgSpec &a : spec.args)
      names += (names.empty() ? "" : ", ") + std::string(a.name);
    return names.empty() ? std::string("none") : names;
  };
  for (const ast::Arg &arg : call.getArgs()) {
    FailureOr<Val> v = evalExpr(*arg.value);
    if (failed(v))
      return failure();
    if (arg.keyword.empty()) {
      bool wantTensor = spec.numTensors < 0
                            ? v->kind == Val::Kind::Tensor && nextArg == 0
                            : bound.tensors.size() < size_t(spec.numTensors);
      if (wantTensor) {
        if (v->kind != Val::Kind::Tensor) {
          (void)error(v->loc, callee + " expects a tensor as input " +
                                  llvm::Twine(bound.tensors.size() + 1) + ", got " +
                                  describe(*v, graph));
          return failure();
        }
        bound.tensors.push_back(std::move(*v));
        continue;
      }
      if (nextArg >= spec.args.size()) {
        (void)error(v->loc, "too many arguments to " + callee +
                                "; after its tensor input it takes: " + specNames());
        return failure();
      }
      const ArgSpec &as = spec.args[nextArg++];
      if (failed(checkArgType(*v, as, callee)))
        return failure();
      bound.named[as.name] = std::move(*v);
      continue;
    }
    const ArgSpec *as = nullptr;
    for (const ArgSpec &a : spec.args)
      if (arg.keyword == a.name)
        as = &a;
    if (!as) {
      (void)error(arg.keywordLoc, callee + " has no argument '" + arg.keyword +
                                      "'; its arguments are: " + specNames());
      return failure();
    }
    if (bound.has(as->name)) {
      (void)error(arg.keywordLoc,
                  "argument '" + arg.keyword + "' of " + callee + " is given twice");
      return failure();
    }
    if (failed(checkArgType(*v, *as, callee)))
      return failure();
    bound.named[as->name] = std::move(*v);
  }
  size_t minTensors = spec.numTensors < 0 ? 2 : size_t(spec.numTensors);
  if (bound.tensors.size() < minTensors) {
    (void)error(call.getLoc(),
                minTensors == 1
                    ? callee + " needs a tensor input: write " + callee +
                          "(x, ...) or x |> " + callee
                    : callee + " needs " + llvm::Twine(minTensors) +
                          (spec.numTensors < 0 ? " or more" : "") + " tensor inputs");
    return failure();
  }
  for (const ArgSpec &a : spec.args)
    if (a.required && !bound.has(a.name)) {
      (void)error(call.getLoc(), callee + " is missing its argument '" +
                                     llvm::Twine(a.name) + "'");
      return failure();
    }
  return bound;
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

namespace {
/// Reads bound arguments with defaults.
struct ArgReader {
  const BoundArgs &args;
  int64_t getInt(StringRef name, int64_t dflt) const {
    return args.has(name) ? args.get(name).i : dflt;
  }
  double getFloat(StringRef name, double dflt) const {
    return args.has(name) ? args.get(name).asDouble() : dflt;
  }
  bool getBool(StringRef name, bool dflt) const {
    return args.has(name) ? args.get(name).b : dflt;
  }
  std::array<int64_t, 2> getPair(StringRef name, std::array<int64_t, 2> dflt) const {
    if (!args.has(name))
      return dflt;
    const Val &v = args.get(name);
    if (v.kind == Val::Kind::Int)
      return {v.i, v.i};
    return {v.list[0].i, v.list[1].i};
  }
};
} // namespace

static double fanInBound(int64_t fanIn) { return 1.0 / std::sqrt(double(fanIn)); }

FailureOr<Val> Evaluator::evalLayerCall(const ast::CallExpr &call,
                                        const LayerSpec &spec) {
  FailureOr<BoundArgs> bound = bindArgs(call, spec);
  if (failed(bound))
    return failure();
  FailureOr<std::string> name = nameLayer(call, spec.prefix);
  if (failed(name))
    return failure();

  SMLoc loc = call.getLoc();
  ArgReader args{*bound};
  // Copies: adding values below may reallocate graph.values.
  TensorValue in = graph.values[bound->tensors[0].tensor];
  std::string what = (llvm::Twine(spec.name) + " '" + *name + "'").str();
  auto fail = [&](const llvm::Twine &msg) -> FailureOr<Val> {
    (void)error(loc, what + " " + msg);
    return failure();
  };
  auto checkOk = [&](FailureOr<Shape> s, std::string &err) -> bool {
    if (succeeded(s))
      return true;
    (void)error(loc, what + " " + err);
    return false;
  };

  Layer layer;
  layer.kind = spec.kind;
  layer.name = *name;
  layer.loc = loc;
  for (const Val &t : bound->tensors)
    layer.inputs.push_back(t.tensor);
  LayerAttrs &at = layer.attrs;
  DType dtype = in.dtype;
  // Parameters have the input's float type (PyTorch's model.half()): the nn
  // ops require all float operands to share one element type.
  DType pdt = isFloat(in.dtype) ? in.dtype : DType::F32;
  std::string origin;
  std::string err;
  Shape out;

  // Every layer but embedding takes floats: the nn ops (flatten, reshape and
  // concat included) are defined on float tensors only.
  bool needsFloat = spec.kind != LayerKind::Embedding;
  if (needsFloat && !isFloat(in.dtype))
    return fail("needs a floating-point input, got " + dtypeName(in.dtype).str() +
                " tensor " + shape::formatShape(in.shape) +
                (spec.kind == LayerKind::Linear || spec.kind == LayerKind::Conv2d
                     ? "; token ids go through embedding first"
                     : ""));

  switch (spec.kind) {
  case LayerKind::Conv2d: {
    shape::Conv2dParams p;
    p.outChannels = args.getInt("out", 0);
    p.kernel = args.getPair("kernel", {1, 1});
    p.stride = args.getPair("stride", {1, 1});
    p.dilation = args.getPair("dilation", {1, 1});
    p.groups = args.getInt("groups", 1);
    if (bound->has("padding") && bound->get("padding").kind == Val::Kind::String) {
      if (bound->get("padding").s == "same") {
        auto pad = shape::samePadding(p.kernel, p.stride, p.dilation, err);
        if (failed(pad))
          return fail(err);
        p.padding = *pad;
      }
    } else {
      p.padding = args.getPair("padding", {0, 0});
    }
    if (bound->has("in") && in.shape.size() == 4 && in.shape[1] != args.getInt("in", 0))
      return fail("declares in_channels=" + llvm::Twine(args.getInt("in", 0)) +
                  " but its input has " + llvm::Twine(in.shape[1]) + " channels (" +
                  shape::formatShape(in.shape) + ")");
    if (!checkOk(shape::inferConv2d(in.shape, p, err), err))
      return failure();
    out = *shape::inferConv2d(in.shape, p, err);
    for (int i = 0; i < 2; ++i) {
      at.kernel[i] = p.kernel[i];
      at.stride[i] = p.stride[i];
      at.padding[i] = p.padding[i];
      at.dilation[i] = p.dilation[i];
    }
    at.groups = p.groups;
    at.hasBias = args.getBool("bias", true);
    int64_t fanIn = in.shape[1] / p.groups * p.kernel[0] * p.kernel[1];
    double bnd = fanInBound(fanIn);
    layer.params.push_back(addParam(*name, "weight",
                                    shape::conv2dWeightShape(in.shape[1], p),
                                    Init::Uniform, bnd, false, pdt));
    if (at.hasBias)
      layer.params.push_back(
          addParam(*name, "bias", {p.outChannels}, Init::Uniform, bnd, false, pdt));
    break;
  }
  case LayerKind::Linear: {
    int64_t outF = args.getInt("out", 0);
    if (in.shape.size() >= 2 && bound->has("in") &&
        in.shape.back() != args.getInt("in", 0)) {
      std::string source = in.origin.empty() ? shape::formatShape(in.shape) : in.origin;
      return fail("declares in_features=" + llvm::Twine(args.getInt("in", 0)) +
                  " but its input has " + llvm::Twine(in.shape.back()) + " features (" +
                  source + ")");
    }
    if (!checkOk(shape::inferLinear(in.shape, std::nullopt, outF, err), err))
      return failure();
    out = *shape::inferLinear(in.shape, std::nullopt, outF, err);
    at.hasBias = args.getBool("bias", true);
    int64_t inF = in.shape.back();
    double bnd = fanInBound(inF);
    if (bound->has("tie")) {
      FailureOr<unsigned> shared = tiedWeight(bound->get("tie"), what, {outF, inF}, pdt);
      if (failed(shared))
        return failure();
      at.tie = bound->get("tie").s;
      layer.params.push_back(*shared);
    } else {
      layer.params.push_back(
          addParam(*name, "weight", {outF, inF}, Init::Uniform, bnd, false, pdt));
    }
    if (at.hasBias)
      layer.params.push_back(
          addParam(*name, "bias", {outF}, Init::Uniform, bnd, false, pdt));
    break;
  }
  case LayerKind::Embedding: {
    if (isFloat(in.dtype))
      return fail("needs integer token ids (i64 or i32), got " +
                  dtypeName(in.dtype).str() + " tensor " + shape::formatShape(in.shape));
    int64_t num = args.getInt("num", 0), dim = args.getInt("dim", 0);
    if (!checkOk(shape::inferEmbedding(in.shape, num, dim, err), err))
      return failure();
    out = *shape::inferEmbedding(in.shape, num, dim, err);
    dtype = DType::F32;
    double stdDev = args.getFloat("std", 1.0);
    if (!(stdDev > 0) || !std::isfinite(stdDev))
      return fail("needs std > 0 (the initial weights' standard deviation)");
    layer.params.push_back(addParam(*name, "weight", {num, dim}, Init::Normal, stdDev));
    break;
  }
  case LayerKind::PosEmbedding: {
    // x + table[0:T]: GPT-2's wpe, BERT's position embeddings.
    int64_t num = args.getInt("num", 0);
    int64_t dim = in.shape.empty() ? 0 : in.shape.back();
    if (!checkOk(shape::inferPosEmbedding(in.shape, num, dim, err), err))
      return failure();
    out = in.shape;
    double stdDev = args.getFloat("std", 1.0);
    if (!(stdDev > 0) || !std::isfinite(stdDev))
      return fail("needs std > 0 (the initial weights' standard deviation)");
    layer.params.push_back(addParam(*name, "weight", {num, dim}, Init::Normal, stdDev, false, pdt));
    break;
  }
  case LayerKind::Relu:
  case LayerKind::Sigmoid:
  case LayerKind::Tanh:
  case LayerKind::Gelu:
    out = in.shape;
    break;
  case LayerKind::LeakyRelu:
    at.slope = args.getFloat("slope", 0.01);
    out = in.shape;
    break;
  case LayerKind::Dropout:
    at.p = args.getFloat("p", 0.5);
    if (!(at.p >= 0 && at.p < 1))
      return fail("needs a drop probability p in [0, 1)");
    out = in.shape;
    break;
  case LayerKind::Softmax:
  case LayerKind::LogSoftmax: {
    auto d = shape::normalizeDim(args.getInt("dim", -1), in.shape.size(), err);
    if (failed(d))
      return fail(err);
    at.dim = *d;
    out = in.shape;
    break;
  }
  case LayerKind::MaxPool2d:
  case LayerKind::AvgPool2d: {
    shape::Pool2dParams p;
    p.kernel = args.getPair("kernel", {1, 1});
    p.stride = args.getPair("stride", p.kernel);
    p.padding = args.getPair("padding", {0, 0});
    if (!checkOk(shape::inferPool2d(in.shape, p, err), err))
      return failure();
    out = *shape::inferPool2d(in.shape, p, err);
    for (int i = 0; i < 2; ++i) {
      at.kernel[i] = p.kernel[i];
      at.stride[i] = p.stride[i];
      at.padding[i] = p.padding[i];
    }
    break;
  }
  case LayerKind::GlobalAvgPool:
    if (!checkOk(shape::inferGlobalAvgPool(in.shape, err), err))
      return failure();
    out = *shape::inferGlobalAvgPool(in.shape, err);
    break;
  case LayerKind::BatchNorm: {
    int64_t lo = 2, hi = 4;
    if (StringRef(spec.name) == "batchnorm1d")
      hi = 3;
    else if (StringRef(spec.name) == "batchnorm2d")
      lo = 4;
    if (!checkOk(shape::inferBatchNorm(in.shape, err, lo, hi), err))
      return failure();
    out = in.shape;
    at.eps = args.getFloat("eps", 1e-5);
    at.momentum = args.getFloat("momentum", 0.1);
    if (!(at.eps > 0))
      return fail("needs eps > 0");
    int64_t c = in.shape[1];
    layer.params.push_back(addParam(*name, "weight", {c}, Init::Ones, 0, false, pdt));
    layer.params.push_back(addParam(*name, "bias", {c}, Init::Zeros, 0, false, pdt));
    layer.params.push_back(
        addParam(*name, "running_mean", {c}, Init::Zeros, 0, true, pdt));
    layer.params.push_back(
        addParam(*name, "running_var", {c}, Init::Ones, 0, true, pdt));
    // Part of PyTorch's state_dict, not an operand of the op.
    addParam(*name, "num_batches_tracked", {}, Init::Zeros, 0, true, DType::I64);
    break;
  }
  case LayerKind::LayerNorm: {
    // torch.nn.LayerNorm(d): over the last dimension, weight and bias [d].
    if (!checkOk(shape::inferLayerNorm(in.shape, err), err))
      return failure();
    out = in.shape;
    at.eps = args.getFloat("eps", 1e-5);
    at.affine = args.getBool("affine", true);
    if (!(at.eps > 0) || !std::isfinite(at.eps))
      return fail("needs eps > 0");
    int64_t d = in.shape.back();
    if (at.affine) {
      layer.params.push_back(addParam(*name, "weight", {d}, Init::Ones, 0, false, pdt));
      layer.params.push_back(addParam(*name, "bias", {d}, Init::Zeros, 0, false, pdt));
    }
    break;
  }
  case LayerKind::Flatten:
    if (!checkOk(shape::inferFlatten(in.shape, err), err))
      return failure();
    out = *shape::inferFlatten(in.shape, err);
    origin = shape::formatShape(in.shape) + " flattened";
    break;
  case LayerKind::Reshape: {
    Shape target;
    for (const Val &e : bound->get("shape").list)
      target.push_back(e.i);
    if (!checkOk(shape::inferReshape(in.shape, target, err), err))
      return failure();
    out = *shape::inferReshape(in.shape, target, err);
    at.shape.assign(out.begin() + 1, out.end());
    break;
  }
  case LayerKind::Add: {
    const TensorValue &rhs = graph.values[bound->tensors[1].tensor];
    if (rhs.dtype != in.dtype)
      return fail("adds tensors of different element types (" +
                  dtypeName(in.dtype).str() + " and " + dtypeName(rhs.dtype).str() + ")");
    if (!checkOk(shape::inferSameShape(in.shape, rhs.shape, err), err))
      return failure();
    out = *shape::inferSameShape(in.shape, rhs.shape, err);
    break;
  }
  case LayerKind::Concat: {
    std::vector<Shape> shapes;
    for (const Val &t : bound->tensors) {
      const TensorValue &tv = graph.values[t.tensor];
      if (tv.dtype != in.dtype)
        return fail("concatenates tensors of different element types");
      shapes.push_back(tv.shape);
    }
    auto d = shape::normalizeDim(args.getInt("dim", 1), in.shape.size(), err);
    if (failed(d))
      return fail(err);
    if (*d == 0)
      return fail("cannot concatenate along the batch dimension");
    if (!checkOk(shape::inferConcat(shapes, *d, err), err))
      return failure();
    out = *shape::inferConcat(shapes, *d, err);
    at.dim = *d;
    break;
  }
  case LayerKind::Rnn:
  case LayerKind::Lstm:
  case LayerKind::Gru: {
    shape::RecurrentParams p;
    p.kind = spec.kind == LayerKind::Rnn    ? shape::RecurrentKind::RNN
             : spec.kind == LayerKind::Lstm ? shape::RecurrentKind::LSTM
                                            : shape::RecurrentKind::GRU;
    p.hiddenSize = args.getInt("hidden", 0);
    p.numLayers = args.getInt("layers", 1);
    p.bidirectional = args.getBool("bidirectional", false);
    p.returnSequences = args.getBool("sequence", false);
    p.hasBias = args.getBool("bias", true);
    if (bound->has("nonlinearity")) {
      at.nonlinearity = bound->get("nonlinearity").s;
      if (at.nonlinearity != "tanh" && at.nonlinearity != "relu")
        return fail("nonlinearity must be \"tanh\" or \"relu\"");
    }
    // A written input size is checked, as linear's in= is.
    if (in.shape.size() == 3 && bound->has("in") && in.shape[2] != args.getInt("in", 0)) {
      std::string source = in.origin.empty() ? shape::formatShape(in.shape) : in.origin;
      return fail("declares input_size=" + llvm::Twine(args.getInt("in", 0)) +
                  " but its input has " + llvm::Twine(in.shape[2]) + " features per step (" +
                  source + ")");
    }
    if (!checkOk(shape::inferRecurrent(in.shape, p, err), err))
      return failure();
    out = *shape::inferRecurrent(in.shape, p, err);
    at.hidden = p.hiddenSize;
    at.numLayers = p.numLayers;
    at.bidirectional = p.bidirectional;
    at.sequences = p.returnSequences;
    at.hasBias = p.hasBias;
    double bnd = fanInBound(p.hiddenSize);
    for (auto &[suffix, pshape] :
         shape::recurrentParamShapes(p.kind, in.shape[2], p.hiddenSize, p.numLayers,
                                     p.bidirectional, p.hasBias))
      layer.params.push_back(
          addParam(*name, suffix, pshape, Init::Uniform, bnd, false, pdt));
    break;
  }
  case LayerKind::Attention: {
    at.heads = args.getInt("heads", 0);
    at.kvHeads = bound->has("kv_heads") ? args.getInt("kv_heads", 0) : at.heads;
    at.causal = args.getBool("causal", false);
    at.hasBias = args.getBool("bias", true);
    if (in.shape.size() == 3 && bound->has("in") && in.shape[2] != args.getInt("in", 0)) {
      std::string source = in.origin.empty() ? shape::formatShape(in.shape) : in.origin;
      return fail("declares in=" + llvm::Twine(args.getInt("in", 0)) + " but its input has " +
                  llvm::Twine(in.shape[2]) + " features per position (" + source + ")");
    }
    if (!checkOk(shape::inferAttention(in.shape, at.heads, at.kvHeads, err), err))
      return failure();
    out = in.shape;
    int64_t d = in.shape[2];
    double bnd = fanInBound(d);
    int64_t rows = shape::attentionQkvRows(d, at.heads, at.kvHeads);
    layer.params.push_back(
        addParam(*name, "qkv.weight", {rows, d}, Init::Uniform, bnd, false, pdt));
    if (at.hasBias)
      layer.params.push_back(addParam(*name, "qkv.bias", {rows}, Init::Uniform, bnd, false, pdt));
    layer.params.push_back(addParam(*name, "out.weight", {d, d}, Init::Uniform, bnd, false, pdt));
    if (at.hasBias)
      layer.params.push_back(addParam(*name, "out.bias", {d}, Init::Uniform, bnd, false, pdt));
    break;
  }
  case LayerKind::CrossEntropy:
  case LayerKind::Mse:
    return fail("is a loss; name it in the train section");
  }

  // One layer adds at most 80,000 tensors (a recurrent layer at its layers=
  // limit), so checking after it bounds memory.
  if (int64_t(graph.params.size()) > limits.maxParams)
    return fail("makes model '" + graph.name + "' have more than " +
                llvm::Twine(limits.maxParams) +
                " parameter tensors, the limit of nnc");
  layer.result = addValue(out, dtype, origin);
  unsigned id = layer.result;
  if (failed(addLayer(std::move(layer))))
    return failure();
  return Val::makeTensor(id, loc);
}

LogicalResult Evaluator::buildLoss() {
  const OutputInfo &out = graph.outputs.front();
  TensorValue value = graph.values[out.value];
  const TrainConfig &cfg = graph.train;
  SMLoc loc = cfg.lossExplicit ? cfg.lossLoc : out.loc;
  Layer loss;
  loss.name = "loss";
  loss.loc = loc;
  std::string err;
  Shape labelShape;
  DType labelType = DType::I64;
  if (cfg.loss == "cross_entropy") {
    loss.kind = LayerKind::CrossEntropy;
    // Logits [N, C] take labels [N]; sequence logits [N, T, C] labels [N, T].
    if (value.shape.size() >= 2)
      labelShape.assign(value.shape.begin(), value.shape.end() - 1);
    if (value.shape.size() < 2 || failed(shape::inferCrossEntropy(value.shape, labelShape, err)) ||
        !isFloat(value.dtype)) {
      if (!cfg.lossExplicit)
        return success(); // The default loss does not apply: no @loss.
      return error(loc, "cross_entropy needs the first output '" + out.name +
                            "' to be floating-point logits [N, classes] or [N, T, classes], "
                            "but it is " +
                            dtypeName(value.dtype).str() + " " + shape::formatShape(value.shape));
    }
  } else {
    loss.kind = LayerKind::Mse;
    labelShape = value.shape;
    labelType = value.dtype;
    if (!isFloat(value.dtype))
      return error(loc, "mse needs a floating-point first output, but '" + out.name +
                            "' is " + dtypeName(value.dtype).str());
  }
  graph.labels = addValue(labelShape, labelType);
  loss.inputs = {out.value, graph.labels};
  // A loss is an f32 scalar whatever the output's float type (as the ops infer).
  loss.result = addValue({}, DType::F32);
  graph.loss = std::move(loss);
  return success();
}
