//===- Sema.cpp - Evaluate model definitions into layer graphs ------------===//
//
// Statements, expressions, hyperparameters, blocks, repeats and names. The
// layer table and per-layer shape checks live in SemaLayers.cpp.
//
//===----------------------------------------------------------------------===//

#include "frontend/SemaImpl.h"

#include "dialect/ShapeRules.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>

using namespace nnc;
using namespace nnc::sema;
using llvm::failure;
using llvm::FailureOr;
using llvm::LogicalResult;
using llvm::SMLoc;
using llvm::StringRef;
using llvm::success;
using llvm::Twine;

//===----------------------------------------------------------------------===//
// Small helpers
//===----------------------------------------------------------------------===//

StringRef nnc::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::I64:
    return "i64";
  case DType::I32:
    return "i32";
  }
  return "?";
}

bool nnc::isFloat(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

static std::optional<DType> parseDType(StringRef name) {
  return llvm::StringSwitch<std::optional<DType>>(name)
      .Case("f32", DType::F32)
      .Case("f16", DType::F16)
      .Case("bf16", DType::BF16)
      .Case("i64", DType::I64)
      .Case("i32", DType::I32)
      .Default(std::nullopt);
}

Val Val::makeInt(int64_t v, SMLoc loc) {
  Val r;
  r.kind = Kind::Int;
  r.i = v;
  r.loc = loc;
  return r;
}

Val Val::makeFloat(double v, SMLoc loc) {
  Val r;
  r.kind = Kind::Float;
  r.f = v;
  r.loc = loc;
  return r;
}

Val Val::makeTensor(unsigned id, SMLoc loc) {
  Val r;
  r.kind = Kind::Tensor;
  r.tensor = id;
  r.loc = loc;
  return r;
}

std::string sema::describe(const Val &v, const ModelGraph &graph) {
  switch (v.kind) {
  case Val::Kind::Int:
    return "integer " + std::to_string(v.i);
  case Val::Kind::Float:
    return "float";
  case Val::Kind::Bool:
    return "boolean";
  case Val::Kind::String:
    return "string \"" + v.s + "\"";
  case Val::Kind::List:
    return "list";
  case Val::Kind::Tensor:
    return "tensor " + shape::formatShape(graph.values[v.tensor].shape);
  }
  return "value";
}

/// Returns the closest candidate to `name` within a small edit distance.
static std::optional<std::string>
closestName(StringRef name, llvm::ArrayRef<StringRef> candidates) {
  std::optional<std::string> best;
  unsigned bestDist = 3;
  for (StringRef c : candidates) {
    unsigned d = name.edit_distance(c, /*AllowReplacements=*/true, bestDist);
    if (d < bestDist) {
      bestDist = d;
      best = c.str();
    }
  }
  return best;
}

//===----------------------------------------------------------------------===//
// Evaluator: graph construction and naming
//===----------------------------------------------------------------------===//

Evaluator::Evaluator(const ast::Module &module, DiagEngine &diag,
                     const SemaLimits &limits, ModelGraph &graph)
    : module(module), diag(diag), limits(limits), graph(graph) {
  for (const auto &def : module.definitions)
    if (!def->isModel())
      blocks[def->getName()] = def.get();
}

LogicalResult Evaluator::error(SMLoc loc, const llvm::Twine &msg) {
  diag.error(loc, msg);
  return failure();
}

unsigned Evaluator::addValue(Shape shape, DType dtype, std::string origin) {
  graph.values.push_back({std::move(shape), dtype, std::move(origin)});
  return graph.values.size() - 1;
}

unsigned Evaluator::addParam(StringRef layer, StringRef suffix, Shape shape,
                             Init init, double scale, bool buffer, DType dtype) {
  ParamInfo p;
  p.name = (layer + "." + suffix).str();
  p.shape = std::move(shape);
  p.dtype = dtype;
  p.init = init;
  p.scale = scale;
  p.buffer = buffer;
  graph.params.push_back(std::move(p));
  return graph.params.size() - 1;
}

FailureOr<unsigned> Evaluator::tiedWeight(const Val &tie, StringRef what, const Shape &shape,
                                          DType dtype) {
  std::string layer;
  for (const std::string &candidate : {frame().prefix + tie.s, tie.s})
    if (layer.empty() && layerNames.count(candidate))
      layer = candidate;
  if (layer.empty()) {
    (void)error(tie.loc, what + " ties its weight to '" + tie.s +
                             "', but no layer of that name comes before it");
    return failure();
  }
  std::string weight = layer + ".weight";
  for (size_t i = graph.params.size(); i-- > 0;) {
    const ParamInfo &p = graph.params[i];
    if (p.name != weight || p.buffer)
      continue;
    if (p.shape != shape) {
      (void)error(tie.loc, what + " ties its weight to '" + weight + "' " +
                               shape::formatShape(p.shape) +
                               ", but needs [out, in] = " + shape::formatShape(shape));
      return failure();
    }
    if (p.dtype != dtype) {
      (void)error(tie.loc, what + " ties its weight to '" + weight + "' of type " +
                               dtypeName(p.dtype) + ", but its input is " + dtypeName(dtype));
      return failure();
    }
    return unsigned(i);
  }
  (void)error(tie.loc, what + " ties its weight to layer '" + layer + "', which has no weight");
  return failure();
}

LogicalResult Evaluator::step(SMLoc loc) {
  if (++steps <= limits.maxSteps)
    return success();
  return error(loc, "model '" + graph.name + "' takes more than " +
                        std::to_string(limits.maxSteps) +
                        " evaluation steps, the limit of nnc (nested repeat or for loops?)");
}

LogicalResult Evaluator::addLayer(Layer layer) {
  if (int64_t(graph.layers.size()) >= limits.maxLayers)
    return error(layer.loc, "model '" + graph.name + "' has more than " +
                                std::to_string(limits.maxLayers) +
                                " layers, the limit of nnc");
  graph.layers.push_back(std::move(layer));
  return success();
}

FailureOr<std::string> Evaluator::nameLayer(const ast::CallExpr &call,
                                            StringRef prefix) {
  std::string local;
  SMLoc loc = call.getLoc();
  if (!call.getAsName().empty()) {
    local = call.getAsName().str();
    loc = call.getAsLoc();
  } else {
    local = (prefix + llvm::Twine(++frame().counters[prefix])).str();
  }
  std::string full = frame().prefix + local;
  auto [it, inserted] = layerNames.try_emplace(full, loc);
  if (!inserted) {
    diag.error(loc, "duplicate layer name '" + full + "'");
    diag.note(it->second, "'" + full + "' was first used here");
    return failure();
  }
  return full;
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

FailureOr<int64_t> Evaluator::evalIntExpr(const ast::Expr &expr, StringRef what) {
  FailureOr<Val> v = evalExpr(expr);
  if (failed(v))
    return failure();
  if (v->kind != Val::Kind::Int) {
    (void)error(expr.getLoc(), what + " must be an integer, got " + describe(*v, graph));
    return failure();
  }
  return v->i;
}

FailureOr<Val> Evaluator::evalExpr(const ast::Expr &expr) {
  using K = ast::Expr::Kind;
  SMLoc loc = expr.getLoc();
  if (failed(step(loc)))
    return failure();
  if (evalDepth >= limits.maxEvalDepth) {
    (void)error(loc, "expressions and block calls are nested more than " +
                         std::to_string(limits.maxEvalDepth) +
                         " deep, the limit of nnc");
    return failure();
  }
  ++evalDepth;
  llvm::scope_exit leave([&] { --evalDepth; });
  switch (expr.getKind()) {
  case K::Int:
    return Val::makeInt(llvm::cast<ast::IntExpr>(expr).getValue(), loc);
  case K::Float:
    return Val::makeFloat(llvm::cast<ast::FloatExpr>(expr).getValue(), loc);
  case K::Bool: {
    Val v;
    v.kind = Val::Kind::Bool;
    v.b = llvm::cast<ast::BoolExpr>(expr).getValue();
    v.loc = loc;
    return v;
  }
  case K::String: {
    Val v;
    v.kind = Val::Kind::String;
    v.s = llvm::cast<ast::StringExpr>(expr).getValue().str();
    v.loc = loc;
    return v;
  }
  case K::List: {
    Val v;
    v.kind = Val::Kind::List;
    v.loc = loc;
    for (const auto &e : llvm::cast<ast::ListExpr>(expr).getElements()) {
      FailureOr<Val> ev = evalExpr(*e);
      if (failed(ev))
        return failure();
      v.list.push_back(std::move(*ev));
    }
    return v;
  }
  case K::Ident: {
    StringRef name = llvm::cast<ast::IdentExpr>(expr).getName();
    auto it = frame().vars.find(name);
    if (it != frame().vars.end()) {
      Val v = it->second;
      v.loc = loc;
      return v;
    }
    if (lookupLayer(name) || blocks.count(name)) {
      (void)error(loc, "'" + name + "' is a layer; call it on a tensor, e.g. " + name +
                           "(x) or x |> " + name);
      return failure();
    }
    if (batchSymbol && *batchSymbol == name) {
      (void)error(loc, "'" + name +
                           "' is the symbolic batch dimension; it has no value");
      return failure();
    }
    std::vector<StringRef> names;
    for (const auto &kv : frame().vars)
      names.push_back(kv.getKey());
    std::string msg = ("use of undefined name '" + name + "'").str();
    if (auto near = closestName(name, names))
      msg += "; did you mean '" + *near + "'?";
    (void)error(loc, msg);
    return failure();
  }
  case K::Index:
    return evalIndex(llvm::cast<ast::IndexExpr>(expr));
  case K::Unary: {
    const auto &u = llvm::cast<ast::UnaryExpr>(expr);
    if (u.getOp() == '!')
      return evalNot(u);
    FailureOr<Val> v = evalExpr(u.getOperand());
    if (failed(v))
      return failure();
    if (v->kind == Val::Kind::Int) {
      if (v->i == INT64_MIN) {
        (void)error(loc, "integer overflow in negation");
        return failure();
      }
      return Val::makeInt(-v->i, loc);
    }
    if (v->kind == Val::Kind::Float)
      return Val::makeFloat(-v->f, loc);
    (void)error(loc, "operator '-' needs a number, got " + describe(*v, graph));
    return failure();
  }
  case K::Binary:
    return evalBinary(llvm::cast<ast::BinaryExpr>(expr));
  case K::Call:
    return evalCall(llvm::cast<ast::CallExpr>(expr));
  }
  return failure();
}

FailureOr<Val> Evaluator::evalBinary(const ast::BinaryExpr &expr) {
  if (expr.getOp() == '&' || expr.getOp() == '|')
    return evalLogic(expr);
  if (llvm::is_contained(StringRef("=!<l>g"), expr.getOp()))
    return evalComparison(expr);
  FailureOr<Val> lhs = evalExpr(expr.getLHS());
  if (failed(lhs))
    return failure();
  FailureOr<Val> rhs = evalExpr(expr.getRHS());
  if (failed(rhs))
    return failure();
  char op = expr.getOp();
  SMLoc loc = expr.getLoc();
  std::string opText(1, op);
  for (const Val *v : {&*lhs, &*rhs}) {
    if (v->isNumber())
      continue;
    std::string msg = "operator '" + opText + "' needs numbers, got " + describe(*v, graph);
    if (v->kind == Val::Kind::Tensor && op == '+')
      msg += "; add tensors with add(a, b)";
    (void)error(loc, msg);
    return failure();
  }
  if (lhs->kind == Val::Kind::Int && rhs->kind == Val::Kind::Int) {
    int64_t a = lhs->i, b = rhs->i, r = 0;
    bool overflow = false;
    switch (op) {
    case '+':
      overflow = llvm::AddOverflow(a, b, r);
      break;
    case '-':
      overflow = llvm::SubOverflow(a, b, r);
      break;
    case '*':
      overflow = llvm::MulOverflow(a, b, r);
      break;
    case '/':
    case '%':
      if (b == 0) {
        (void)error(loc, op == '/' ? "division by zero" : "remainder by zero");
        return failure();
      }
      if (a == INT64_MIN && b == -1) {
        overflow = true;
        break;
      }
      if (op == '%') {
        r = a % b;
        break;
      }
      if (a % b != 0) {
        (void)error(loc, "integer division " + std::to_string(a) + " / " +
                             std::to_string(b) +
                             " is not exact; sizes must divide evenly");
        return failure();
      }
      r = a / b;
      break;
    default:
      break;
    }
    if (overflow) {
      (void)error(loc, "integer overflow in " + std::to_string(a) + " " + opText +
                           " " + std::to_string(b));
      return failure();
    }
    return Val::makeInt(r, loc);
  }
  double a = lhs->asDouble(), b = rhs->asDouble(), r = 0;
  switch (op) {
  case '+':
    r = a + b;
    break;
  case '-':
    r = a - b;
    break;
  case '*':
    r = a * b;
    break;
  case '/':
  case '%':
    if (b == 0) {
      (void)error(loc, op == '/' ? "division by zero" : "remainder by zero");
      return failure();
    }
    r = op == '/' ? a / b : std::fmod(a, b);
    break;
  default:
    break;
  }
  if (!std::isfinite(r)) {
    (void)error(loc, "floating-point overflow in '" + opText + "'");
    return failure();
  }
  return Val::makeFloat(r, loc);
}

FailureOr<Val> Evaluator::evalCall(const ast::CallExpr &call) {
  StringRef callee = call.getCallee();
  auto blockIt = blocks.find(callee);
  if (blockIt != blocks.end())
    return evalBlockCall(call, *blockIt->second);
  if (const LayerSpec *spec = lookupLayer(callee))
    return evalLayerCall(call, *spec);
  if (callee == "len")
    return evalLen(call);
  if (callee == "cross_entropy" || callee == "mse") {
    (void)error(call.getLoc(), "'" + callee +
                                   "' is a loss; name it in the train section: "
                                   "train { loss = " + callee + " }");
    return failure();
  }
  std::vector<StringRef> names = allLayerNames();
  for (const auto &kv : blocks)
    names.push_back(kv.getKey());
  std::string msg = ("unknown layer '" + callee + "'").str();
  if (auto near = closestName(callee, names))
    msg += "; did you mean '" + *near + "'?";
  (void)error(call.getLoc(), msg);
  return failure();
}

//===----------------------------------------------------------------------===//
// Blocks
//===----------------------------------------------------------------------===//

FailureOr<Val> Evaluator::evalBlockCall(const ast::CallExpr &call,
                                        const ast::Definition &block) {
  StringRef name = block.getName();
  if (llvm::is_contained(blockStack, &block)) {
    (void)error(call.getLoc(), "block '" + name + "' calls itself; recursion is not allowed");
    return failure();
  }
  if (blockStack.size() >= limits.maxBlockDepth) {
    (void)error(call.getLoc(), "blocks are nested more than " +
                                   std::to_string(limits.maxBlockDepth) + " deep");
    return failure();
  }

  // The block's inputs are its top-level `input` statements, in order.
  unsigned numInputs = 0;
  for (const auto &stmt : block.getBody())
    numInputs += llvm::isa<ast::InputStmt>(*stmt);

  std::vector<Val> tensors;
  llvm::StringMap<Val> named;
  llvm::StringMap<const ast::Param *> params;
  for (const ast::Param &p : block.getParams())
    params[p.name] = &p;
  unsigned nextParam = 0;
  for (const ast::Arg &arg : call.getArgs()) {
    FailureOr<Val> v = evalExpr(*arg.value);
    if (failed(v))
      return failure();
    if (arg.keyword.empty() && tensors.size() < numInputs) {
      if (v->kind != Val::Kind::Tensor) {
        (void)error(v->loc, "block '" + name + "' expects a tensor as input " +
                                std::to_string(tensors.size() + 1) + ", got " +
                                describe(*v, graph));
        return failure();
      }
      tensors.push_back(std::move(*v));
      continue;
    }
    std::string pname;
    SMLoc ploc = arg.keyword.empty() ? v->loc : arg.keywordLoc;
    if (arg.keyword.empty()) {
      if (nextParam >= block.getParams().size()) {
        (void)error(v->loc, "too many arguments to block '" + name + "'");
        return failure();
      }
      pname = block.getParams()[nextParam++].name;
    } else {
      pname = arg.keyword;
      if (!params.count(pname)) {
        (void)error(ploc, "block '" + name + "' has no parameter '" + pname + "'");
        return failure();
      }
    }
    if (v->kind == Val::Kind::Tensor) {
      (void)error(v->loc, "parameter '" + pname + "' of block '" + name +
                              "' must be a constant, got " + describe(*v, graph));
      return failure();
    }
    if (!named.try_emplace(pname, std::move(*v)).second) {
      (void)error(ploc, "parameter '" + pname + "' of block '" + name + "' is given twice");
      return failure();
    }
  }
  if (tensors.size() < numInputs) {
    (void)error(call.getLoc(), "block '" + name + "' takes " + std::to_string(numInputs) +
                                   " tensor input(s), got " +
                                   std::to_string(tensors.size()));
    return failure();
  }

  FailureOr<std::string> instance = nameLayer(call, name);
  if (failed(instance))
    return failure();

  Frame f;
  f.def = &block;
  f.prefix = *instance + ".";
  f.blockInputs = std::move(tensors);
  frames.push_back(std::move(f));
  blockStack.push_back(&block);
  // Every error inside the instance is noted with where it was instantiated.
  diag.pushContext(call.getLoc(), ("in block '" + name + "' instantiated here").str());
  llvm::scope_exit popFrame([&] {
    diag.popContext();
    frames.pop_back();
    blockStack.pop_back();
  });

  for (const ast::Param &p : block.getParams()) {
    Val v;
    auto it = named.find(p.name);
    if (it != named.end()) {
      v = it->second;
    } else if (p.defaultValue) {
      FailureOr<Val> dv = evalExpr(*p.defaultValue);
      if (failed(dv))
        return failure();
      v = *dv;
    } else {
      (void)error(call.getLoc(), "call of block '" + name + "' is missing parameter '" +
                                     p.name + "'");
      return failure();
    }
    frame().vars[p.name] = v;
    frame().constants[p.name] = p.loc;
  }

  if (failed(evalStmts(block.getBody())))
    return failure();
  if (!frame().output) {
    (void)error(block.getLoc(), "block '" + name + "' has no output statement");
    return failure();
  }
  Val result = *frame().output;
  result.loc = call.getLoc();
  return result;
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

LogicalResult Evaluator::evalStmts(const std::vector<ast::StmtPtr> &stmts) {
  for (const auto &stmt : stmts)
    if (failed(evalStmt(*stmt)))
      return failure();
  return success();
}

LogicalResult Evaluator::evalInput(const ast::InputStmt &stmt) {
  StringRef name = stmt.getName();
  if (frame().repeatDepth > 0)
    return error(stmt.getLoc(), Twine("'input' declarations must be at the top level of a "
                                      "model or block, not inside '") +
                                    frame().nestKind + "'");
  if (frame().vars.count(name))
    return error(stmt.getNameLoc(), "input '" + name + "' is already defined");
  if (frame().isBlock()) {
    if (stmt.getType())
      return error(stmt.getType()->dtypeLoc,
                   "block inputs take their type from the call; write 'input " +
                       name + "'");
    Frame &f = frame();
    if (f.nextInput >= f.blockInputs.size())
      return error(stmt.getLoc(), "internal: block input count mismatch");
    frame().vars[name] = f.blockInputs[f.nextInput++];
    return success();
  }

  const ast::TensorTypeAST *type = stmt.getType();
  if (!type)
    return error(stmt.getNameLoc(), "model input '" + name +
                                        "' needs a type, e.g. 'input " + name +
                                        ": f32[N, 784]'");
  std::optional<DType> dtype = parseDType(type->dtype);
  if (!dtype)
    return error(type->dtypeLoc, "unknown element type '" + type->dtype +
                                     "'; expected f32, f16, bf16, i64 or i32");
  if (type->dims.empty())
    return error(type->dtypeLoc, "model input '" + name +
                                     "' needs at least the batch dimension");
  // Dimension 0: the symbolic batch.
  const ast::Expr &d0 = *type->dims[0];
  const auto *sym = llvm::dyn_cast<ast::IdentExpr>(&d0);
  if (!sym || frame().vars.count(sym->getName()))
    return error(d0.getLoc(), "the first dimension of an input is the batch and must "
                              "be a symbol such as N, not a value");
  if (batchSymbol && *batchSymbol != sym->getName()) {
    diag.error(d0.getLoc(), "all inputs must share the batch dimension '" +
                                *batchSymbol + "', got '" + sym->getName() + "'");
    diag.note(batchLoc, "batch dimension declared here");
    return failure();
  }
  if (!batchSymbol) {
    batchSymbol = sym->getName().str();
    batchLoc = d0.getLoc();
  }
  Shape shape{kBatch};
  for (size_t i = 1; i < type->dims.size(); ++i) {
    FailureOr<int64_t> d = evalIntExpr(*type->dims[i], "a dimension");
    if (failed(d))
      return failure();
    if (*d < 1)
      return error(type->dims[i]->getLoc(),
                   "dimension " + std::to_string(i) + " of input '" + name +
                       "' must be at least 1, got " + std::to_string(*d));
    shape.push_back(*d);
  }
  std::string err;
  if (failed(shape::checkShape(shape, err)))
    return error(stmt.getNameLoc(), "input '" + name + "' " + err);
  unsigned id = addValue(shape, *dtype);
  graph.inputs.push_back({name.str(), stmt.getNameLoc(), id});
  frame().vars[name] = Val::makeTensor(id, stmt.getNameLoc());
  return success();
}

LogicalResult Evaluator::evalStmt(const ast::Stmt &stmt) {
  if (failed(step(stmt.getLoc())))
    return failure();
  switch (stmt.getKind()) {
  case ast::Stmt::Kind::Input:
    return evalInput(llvm::cast<ast::InputStmt>(stmt));
  case ast::Stmt::Kind::Assign: {
    const auto &a = llvm::cast<ast::AssignStmt>(stmt);
    auto c = frame().constants.find(a.getName());
    if (c != frame().constants.end()) {
      diag.error(stmt.getLoc(), "cannot assign to '" + a.getName() +
                                    "': it is a hyperparameter or loop index");
      diag.note(c->second, "declared here");
      return failure();
    }
    FailureOr<Val> v = evalExpr(a.getValue());
    if (failed(v))
      return failure();
    frame().vars[a.getName()] = std::move(*v);
    return success();
  }
  case ast::Stmt::Kind::Output: {
    const auto &o = llvm::cast<ast::OutputStmt>(stmt);
    FailureOr<Val> v = evalExpr(o.getValue());
    if (failed(v))
      return failure();
    if (v->kind != Val::Kind::Tensor)
      return error(o.getValue().getLoc(),
                   "an output must be a tensor, got " + describe(*v, graph));
    if (frame().isBlock()) {
      if (frame().output) {
        diag.error(stmt.getLoc(), "block '" + frame().def->getName() +
                                      "' has more than one output");
        diag.note(frame().outputLoc, "first output here");
        return failure();
      }
      if (!o.getName().empty())
        frame().vars[o.getName()] = *v;
      frame().output = *v;
      frame().outputLoc = stmt.getLoc();
      return success();
    }
    if (frame().repeatDepth > 0)
      return error(stmt.getLoc(), "'output' must be at the top level of the model");
    std::string name = o.getName().str();
    if (name.empty())
      name = graph.outputs.empty() ? "output"
                                   : "output" + std::to_string(graph.outputs.size());
    for (const OutputInfo &prev : graph.outputs)
      if (prev.name == name) {
        diag.error(o.getNameLoc(), "duplicate output name '" + name + "'");
        diag.note(prev.loc, "previous output here");
        return failure();
      }
    SMLoc loc = o.getName().empty() ? stmt.getLoc() : o.getNameLoc();
    graph.outputs.push_back({name, loc, v->tensor});
    if (!firstOutput)
      firstOutput = &o;
    if (!o.getName().empty())
      frame().vars[o.getName()] = *v;
    return success();
  }
  case ast::Stmt::Kind::Repeat: {
    const auto &r = llvm::cast<ast::RepeatStmt>(stmt);
    FailureOr<int64_t> count = evalIntExpr(r.getCount(), "a repeat count");
    if (failed(count))
      return failure();
    if (*count < 0 || *count > limits.maxRepeat)
      return error(r.getCount().getLoc(),
                   "repeat count " + std::to_string(*count) + " is outside [0, " +
                       std::to_string(limits.maxRepeat) + "]");
    StringRef var = r.getIndexVar();
    if (!var.empty() && (frame().vars.count(var) || frame().constants.count(var)))
      return error(r.getIndexLoc(), "loop index '" + var + "' is already defined");
    ++frame().repeatDepth;
    const char *outerKind = frame().nestKind;
    frame().nestKind = "repeat";
    for (int64_t i = 0; i < *count; ++i) {
      if (failed(step(r.getLoc())))
        return failure();
      if (!var.empty()) {
        frame().vars[var] = Val::makeInt(i, r.getIndexLoc());
        frame().constants[var] = r.getIndexLoc();
      }
      if (failed(evalStmts(r.getBody())))
        return failure();
    }
    --frame().repeatDepth;
    frame().nestKind = outerKind;
    if (!var.empty()) {
      frame().vars.erase(var);
      frame().constants.erase(var);
    }
    return success();
  }
  case ast::Stmt::Kind::For:
    return evalFor(llvm::cast<ast::ForStmt>(stmt));
  case ast::Stmt::Kind::If:
    return evalIf(llvm::cast<ast::IfStmt>(stmt));
  case ast::Stmt::Kind::Train: {
    const auto &t = llvm::cast<ast::TrainStmt>(stmt);
    if (frame().isBlock() || frame().repeatDepth > 0)
      return error(stmt.getLoc(), "a train section belongs at the top level of a model");
    if (trainStmt) {
      diag.error(stmt.getLoc(), "model '" + graph.name + "' has more than one train section");
      diag.note(trainStmt->getLoc(), "first train section here");
      return failure();
    }
    trainStmt = &t;
    return evalTrain(t);
  }
  }
  return failure();
}

LogicalResult Evaluator::evalTrain(const ast::TrainStmt &stmt) {
  TrainConfig &cfg = graph.train;
  llvm::StringMap<SMLoc> seen;
  for (const ast::TrainSetting &s : stmt.getSettings()) {
    StringRef key = s.key;
    auto [it, inserted] = seen.try_emplace(key, s.keyLoc);
    if (!inserted) {
      diag.error(s.keyLoc, "train setting '" + key + "' is given twice");
      diag.note(it->second, "first given here");
      return failure();
    }
    // The key is checked before its value is evaluated: `optimiser = adamw`
    // is a misspelt key, not a use of an undefined name `adamw`.
    static constexpr StringRef kTrainKeys[] = {
        "loss",     "optimizer",    "lr",       "batch",    "epochs",
        "momentum", "weight_decay", "schedule", "normalize"};
    if (!llvm::is_contained(kTrainKeys, key)) {
      std::string msg = ("unknown train setting '" + key + "'").str();
      if (std::optional<std::string> near = closestName(key, kTrainKeys))
        msg += "; did you mean '" + *near + "'?";
      else
        msg += "; expected loss, optimizer, lr, batch, epochs, momentum, "
               "weight_decay, schedule or normalize";
      return error(s.keyLoc, msg);
    }
    if (key == "normalize") {
      FailureOr<Val> v = evalExpr(*s.value);
      if (failed(v))
        return failure();
      // [mean, std] or [[mean per channel], [std per channel]].
      auto numbers = [](const Val &l, std::vector<double> &out) {
        if (l.kind == Val::Kind::List) {
          for (const Val &e : l.list) {
            if (!e.isNumber())
              return false;
            out.push_back(e.asDouble());
          }
          return !out.empty();
        }
        if (!l.isNumber())
          return false;
        out.push_back(l.asDouble());
        return true;
      };
      bool ok = v->kind == Val::Kind::List && v->list.size() == 2 &&
                numbers(v->list[0], cfg.normMean) && numbers(v->list[1], cfg.normStd) &&
                cfg.normMean.size() == cfg.normStd.size() &&
                llvm::all_of(cfg.normStd, [](double x) { return x > 0; });
      if (!ok)
        return error(s.value->getLoc(),
                     "normalize must be [mean, std] (numbers, or lists with one "
                     "value per channel) with std > 0");
      cfg.normLoc = s.value->getLoc();
      continue;
    }
    // Word-valued settings: a bare identifier or a string.
    if (key == "loss" || key == "optimizer" || key == "schedule") {
      std::string word;
      if (const auto *id = llvm::dyn_cast<ast::IdentExpr>(s.value.get()))
        word = id->getName().str();
      else if (const auto *str = llvm::dyn_cast<ast::StringExpr>(s.value.get()))
        word = str->getValue().str();
      bool ok = key == "loss"        ? (word == "cross_entropy" || word == "mse")
                : key == "schedule" ? (word == "constant" || word == "step" ||
                                       word == "cosine")
                                    : (word == "sgd" || word == "momentum" ||
                                       word == "adam" || word == "adamw");
      if (!ok)
        return error(s.value->getLoc(),
                     key == "loss"       ? "unknown loss; expected cross_entropy or mse"
                     : key == "schedule" ? "unknown schedule; expected constant, step or cosine"
                                         : "unknown optimizer; expected sgd, momentum, "
                                           "adam or adamw");
      if (key == "schedule") {
        cfg.schedule = word;
      } else if (key == "loss") {
        cfg.loss = word;
        cfg.lossExplicit = true;
        cfg.lossLoc = s.value->getLoc();
      } else {
        cfg.optimizer = word;
      }
      continue;
    }
    FailureOr<Val> v = evalExpr(*s.value);
    if (failed(v))
      return failure();
    auto needNumber = [&](bool integer, double lo, bool loInclusive,
                          double hi) -> FailureOr<double> {
      if (integer ? v->kind != Val::Kind::Int : !v->isNumber()) {
        (void)error(s.value->getLoc(), "train setting '" + key + "' must be " +
                                           (integer ? "an integer" : "a number") +
                                           ", got " + describe(*v, graph));
        return failure();
      }
      double x = v->asDouble();
      if (x < lo || (!loInclusive && x == lo) || x > hi) {
        (void)error(s.value->getLoc(), "train setting '" + key + "' is out of range");
        return failure();
      }
      return x;
    };
    FailureOr<double> x = failure();
    if (key == "lr")
      x = needNumber(false, 0, false, 1e6);
    else if (key == "batch" || key == "epochs")
      x = needNumber(true, 1, true, 1e9);
    else if (key == "momentum")
      x = needNumber(false, 0, true, 0.999999);
    else // weight_decay
      x = needNumber(false, 0, true, 1e6);
    if (failed(x))
      return failure();
    if (key == "lr")
      cfg.lr = *x;
    else if (key == "batch")
      cfg.batch = v->i;
    else if (key == "epochs")
      cfg.epochs = v->i;
    else if (key == "momentum")
      cfg.momentum = *x;
    else
      cfg.weightDecay = *x;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Models
//===----------------------------------------------------------------------===//

/// `[64, "M", [1, 2]]`: a constant as it would be written.
static std::string formatConstant(const Val &v) {
  switch (v.kind) {
  case Val::Kind::Int:
    return std::to_string(v.i);
  case Val::Kind::Float: {
    std::string text;
    llvm::raw_string_ostream(text) << llvm::format("%g", v.f);
    return text;
  }
  case Val::Kind::Bool:
    return v.b ? "true" : "false";
  case Val::Kind::String:
    return "\"" + v.s + "\"";
  case Val::Kind::List: {
    std::string text = "[";
    for (size_t i = 0; i < v.list.size(); ++i)
      text += (i ? ", " : "") + formatConstant(v.list[i]);
    return text + "]";
  }
  case Val::Kind::Tensor:
    break;
  }
  return "tensor";
}

static HParamValue toHParam(const Val &v) {
  HParamValue h;
  switch (v.kind) {
  case Val::Kind::Int:
    h.kind = HParamValue::Kind::Int;
    h.i = v.i;
    break;
  case Val::Kind::Float:
    h.kind = HParamValue::Kind::Float;
    h.f = v.f;
    break;
  case Val::Kind::Bool:
    h.kind = HParamValue::Kind::Bool;
    h.b = v.b;
    break;
  case Val::Kind::List:
    h.kind = HParamValue::Kind::String;
    h.s = formatConstant(v);
    break;
  default:
    h.kind = HParamValue::Kind::String;
    h.s = v.s;
    break;
  }
  return h;
}

/// Reads an override's value by the kind of the default `dv`: the value, or
/// an error message saying what was expected.
static FailureOr<Val> convertOverride(const Override &ov, const Val &dv,
                                      std::string &problem) {
  StringRef text = ov.value;
  Val v;
  v.kind = dv.kind;
  int64_t i;
  double d;
  bool parsed = !text.getAsDouble(d), isNumber = parsed && std::isfinite(d);
  switch (dv.kind) {
  case Val::Kind::Int:
    if (!text.getAsInteger(10, i))
      return Val::makeInt(i, SMLoc());
    problem = "'" + ov.value + "' is not " + (isNumber ? "an integer" : "a number");
    return failure();
  case Val::Kind::Float:
    if (isNumber)
      return Val::makeFloat(d, SMLoc());
    problem = "'" + ov.value + "' is not a " + (parsed ? "finite number" : "number");
    return failure();
  case Val::Kind::Bool:
    if (text == "true" || text == "false") {
      v.b = text == "true";
      return v;
    }
    problem = "'" + ov.value + "' is not true or false";
    return failure();
  case Val::Kind::String:
    v.s = ov.value;
    return v;
  case Val::Kind::List: {
    // A flat list: `[64,M,128]`; each element an integer, a number, a
    // boolean or else a string.
    if (!text.consume_front("[") || !text.consume_back("]")) {
      problem = "'" + ov.value + "' is not a list; write it as [a,b,...]";
      return failure();
    }
    if (text.contains('[') || text.contains(']')) {
      problem = "nested lists cannot be given with -D";
      return failure();
    }
    v.loc = SMLoc();
    if (text.trim().empty())
      return v;
    llvm::SmallVector<StringRef, 16> parts;
    text.split(parts, ',');
    for (StringRef part : parts) {
      part = part.trim();
      double e;
      if (!part.getAsInteger(10, i))
        v.list.push_back(Val::makeInt(i, SMLoc()));
      else if (!part.getAsDouble(e) && std::isfinite(e))
        v.list.push_back(Val::makeFloat(e, SMLoc()));
      else {
        Val el;
        el.kind = part == "true" || part == "false" ? Val::Kind::Bool : Val::Kind::String;
        el.b = part == "true";
        el.s = part.str();
        v.list.push_back(std::move(el));
      }
    }
    return v;
  }
  case Val::Kind::Tensor:
    break;
  }
  problem = "a hyperparameter must be a number, boolean, string or list";
  return failure();
}

/// "an integer hyperparameter (default 64)" and the like, for override errors.
static std::string describeHParam(const Val &dv) {
  switch (dv.kind) {
  case Val::Kind::Int:
    return "an integer hyperparameter (default " + std::to_string(dv.i) + ")";
  case Val::Kind::Float: {
    std::string text;
    llvm::raw_string_ostream(text) << llvm::format("%g", dv.f);
    return "a number hyperparameter (default " + text + ")";
  }
  case Val::Kind::Bool:
    return std::string("a boolean hyperparameter (default ") + (dv.b ? "true" : "false") +
           ")";
  case Val::Kind::List:
    return "a list hyperparameter (default " + formatConstant(dv) + ")";
  default:
    return "a string hyperparameter";
  }
}

LogicalResult Evaluator::evaluateModel(const ast::Definition &model,
                                       llvm::ArrayRef<Override> overrides) {
  graph.name = model.getName().str();
  graph.loc = model.getLoc();
  Frame f;
  f.def = &model;
  frames.push_back(std::move(f));

  for (const ast::Param &p : model.getParams()) {
    if (!p.defaultValue)
      return error(p.loc, "model hyperparameter '" + p.name +
                              "' needs a default value, e.g. " + p.name + " = 10");
    FailureOr<Val> dv = evalExpr(*p.defaultValue);
    if (failed(dv))
      return failure();
    Val v = *dv;
    if (v.kind == Val::Kind::Tensor)
      return error(p.defaultValue->getLoc(),
                   "a hyperparameter must be a number, boolean, string or list");
    for (const Override &ov : overrides) {
      if (ov.name != p.name)
        continue;
      std::string problem;
      FailureOr<Val> converted = convertOverride(ov, *dv, problem);
      if (failed(converted)) {
        diag.commandLineError("-D " + ov.text + ": " + problem + "; '" + p.name +
                              "' is " + describeHParam(*dv) + " of model '" +
                              graph.name + "'");
        diag.note(p.loc, "'" + p.name + "' is declared here");
        return failure();
      }
      v = *converted;
      v.loc = p.loc;
    }
    frame().vars[p.name] = v;
    frame().constants[p.name] = p.loc;
    graph.hparams.emplace_back(p.name, toHParam(v));
  }

  if (failed(evalStmts(model.getBody())))
    return failure();
  if (graph.inputs.empty())
    return error(model.getLoc(), "model '" + graph.name + "' has no input");
  if (graph.outputs.empty())
    return error(model.getLoc(), "model '" + graph.name + "' has no output");
  if (failed(checkNormalize()))
    return failure();
  return buildLoss();
}

LogicalResult Evaluator::checkNormalize() {
  const TrainConfig &cfg = graph.train;
  if (cfg.normMean.empty())
    return success();
  bool anyFloat = false;
  for (const InputInfo &in : graph.inputs) {
    const TensorValue &v = graph.values[in.value];
    if (!isFloat(v.dtype))
      continue;
    anyFloat = true;
    size_t n = cfg.normMean.size();
    if (n > 1 && (v.shape.size() < 2 || v.shape[1] != int64_t(n))) {
      std::string has = v.shape.size() < 2 ? "no channel dimension"
                                           : std::to_string(v.shape[1]) + " channels";
      return error(cfg.normLoc, "normalize has " + std::to_string(n) +
                                    " values per channel, but input '" + in.name +
                                    "' " + shape::formatShape(v.shape) + " has " + has +
                                    " (dimension 1)");
    }
  }
  if (!anyFloat)
    return error(cfg.normLoc, "normalize needs a floating-point input, but input '" +
                                  graph.inputs.front().name + "' is " +
                                  dtypeName(graph.values[graph.inputs.front().value].dtype));
  return success();
}

/// Splits a `-D name=value` string; failure if it has no name or value.
static FailureOr<Override> splitOverride(StringRef text) {
  auto [name, value] = text.split('=');
  name = name.trim();
  value = value.trim();
  if (!text.contains('=') || name.empty() || value.empty())
    return failure();
  return Override{text.str(), name.str(), value.str()};
}

/// "model 'lenet' has no hyperparameter 'x'; its hyperparameters are: classes"
/// (or the same for each selected model), with a suggestion when one is close.
static std::string describeUnknownHParam(StringRef name,
                                         llvm::ArrayRef<const ast::Definition *> models) {
  std::string msg;
  llvm::raw_string_ostream os(msg);
  llvm::SmallVector<StringRef> all;
  auto list = [&](const ast::Definition *m) {
    if (m->getParams().empty()) {
      os << "none";
      return;
    }
    llvm::interleaveComma(m->getParams(), os, [&](const ast::Param &p) {
      os << p.name;
      all.push_back(p.name);
    });
  };
  if (models.size() == 1) {
    os << "model '" << models[0]->getName() << "' has no hyperparameter '" << name << "'";
    if (models[0]->getParams().empty()) {
      os << "; it has no hyperparameters";
    } else {
      os << "; its hyperparameters are: ";
      list(models[0]);
    }
  } else {
    os << "no selected model has a hyperparameter '" << name << "'; hyperparameters: ";
    llvm::interleave(
        models, os,
        [&](const ast::Definition *m) {
          os << "model '" << m->getName() << "': ";
          list(m);
        },
        "; ");
  }
  if (std::optional<std::string> near = closestName(name, all))
    os << "; did you mean '" << *near << "'?";
  return msg;
}

std::optional<std::vector<ModelGraph>>
nnc::analyzeModule(const ast::Module &module, StringRef modelName,
                   llvm::ArrayRef<std::string> overrides, DiagEngine &diag,
                   const SemaLimits &limits) {
  // Definition names are unique, and blocks do not shadow layers.
  llvm::StringMap<const ast::Definition *> defs;
  for (const auto &def : module.definitions) {
    auto [it, inserted] = defs.try_emplace(def->getName(), def.get());
    if (!inserted) {
      diag.error(def->getLoc(), "redefinition of '" + def->getName() + "'");
      diag.note(it->second->getLoc(), "previous definition is here");
      return std::nullopt;
    }
    if (!def->isModel() && sema::lookupLayer(def->getName())) {
      diag.error(def->getLoc(), "block '" + def->getName() +
                                    "' has the name of a built-in layer");
      return std::nullopt;
    }
  }

  std::vector<const ast::Definition *> selected;
  for (const auto &def : module.definitions)
    if (def->isModel() && (modelName.empty() || def->getName() == modelName))
      selected.push_back(def.get());
  if (selected.empty()) {
    SMLoc start = SMLoc::getFromPointer(
        diag.getSourceMgr()
            .getMemoryBuffer(diag.getSourceMgr().getMainFileID())
            ->getBufferStart());
    if (modelName.empty())
      diag.error(start, "the file defines no model");
    else
      diag.error(start, "the file defines no model named '" + modelName + "'");
    return std::nullopt;
  }

  std::vector<Override> parsed;
  for (const std::string &text : overrides) {
    FailureOr<Override> ov = splitOverride(text);
    if (failed(ov)) {
      diag.commandLineError("-D expects name=value, got '" + text + "'");
      return std::nullopt;
    }
    bool known = llvm::any_of(selected, [&](const ast::Definition *m) {
      return llvm::any_of(m->getParams(),
                          [&](const ast::Param &p) { return p.name == ov->name; });
    });
    if (!known) {
      diag.commandLineError("-D " + text + ": " + describeUnknownHParam(ov->name, selected));
      return std::nullopt;
    }
    parsed.push_back(std::move(*ov));
  }

  std::vector<ModelGraph> graphs;
  for (const ast::Definition *model : selected) {
    ModelGraph graph;
    Evaluator ev(module, diag, limits, graph);
    if (failed(ev.evaluateModel(*model, parsed)))
      return std::nullopt;
    graphs.push_back(std::move(graph));
  }
  return graphs;
}
