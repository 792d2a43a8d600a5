//===- SemaControl.cpp - for, if, indexing, comparisons and len() ---------===//
//
// The compile-time control flow of the model language: `for v in list`,
// `if ... else if ... else`, `list[i]`, `len(list)`, the comparisons
// `== != < <= > >=` and the boolean operators `and or not`. Everything here
// works on constants; a tensor operand is an error at its location.
//
//===----------------------------------------------------------------------===//

#include "frontend/SemaImpl.h"

#include "llvm/ADT/ScopeExit.h"

using namespace nnc;
using namespace nnc::sema;
using llvm::failure;
using llvm::FailureOr;
using llvm::LogicalResult;
using llvm::SMLoc;
using llvm::StringRef;
using llvm::success;

static Val makeBool(bool b, SMLoc loc) {
  Val v;
  v.kind = Val::Kind::Bool;
  v.b = b;
  v.loc = loc;
  return v;
}

/// Runs `body` with the current frame marked as nested in a `kind` statement.
/// (The frame is looked up again afterwards: block calls in `body` grow the
/// frame stack, which may move it.)
template <typename Fn> static LogicalResult nested(Evaluator &eval, const char *kind, Fn body) {
  const char *outer = eval.frame().nestKind;
  eval.frame().nestKind = kind;
  ++eval.frame().repeatDepth;
  LogicalResult result = body();
  --eval.frame().repeatDepth;
  eval.frame().nestKind = outer;
  return result;
}

LogicalResult Evaluator::evalFor(const ast::ForStmt &stmt) {
  FailureOr<Val> list = evalExpr(stmt.getList());
  if (failed(list))
    return failure();
  if (list->kind != Val::Kind::List)
    return error(stmt.getList().getLoc(),
                 "'for' needs a list to iterate over, got " + describe(*list, graph));
  StringRef var = stmt.getVar();
  if (frame().vars.count(var) || frame().constants.count(var))
    return error(stmt.getVarLoc(), "loop variable '" + var + "' is already defined");
  LogicalResult result = nested(*this, "for", [&]() -> LogicalResult {
    for (const Val &element : list->list) {
      if (failed(step(stmt.getLoc())))
        return failure();
      Val v = element;
      v.loc = stmt.getVarLoc();
      frame().vars[var] = std::move(v);
      frame().constants[var] = stmt.getVarLoc();
      if (failed(evalStmts(stmt.getBody())))
        return failure();
    }
    return success();
  });
  frame().vars.erase(var);
  frame().constants.erase(var);
  return result;
}

FailureOr<bool> Evaluator::evalCondition(const ast::Expr &expr, StringRef what) {
  FailureOr<Val> v = evalExpr(expr);
  if (failed(v))
    return failure();
  if (v->kind != Val::Kind::Bool) {
    (void)error(expr.getLoc(), what + " must be a boolean, got " + describe(*v, graph));
    return failure();
  }
  return v->b;
}

LogicalResult Evaluator::evalIf(const ast::IfStmt &stmt) {
  for (const ast::IfArm &arm : stmt.getArms()) {
    if (arm.cond) {
      FailureOr<bool> taken = evalCondition(*arm.cond, "an 'if' condition");
      if (failed(taken))
        return failure();
      if (!*taken)
        continue;
    }
    return nested(*this, "if", [&] { return evalStmts(arm.body); });
  }
  return success();
}

FailureOr<Val> Evaluator::evalIndex(const ast::IndexExpr &expr) {
  FailureOr<Val> base = evalExpr(expr.getBase());
  if (failed(base))
    return failure();
  if (base->kind != Val::Kind::List) {
    (void)error(expr.getLoc(), "only a list can be indexed, got " + describe(*base, graph));
    return failure();
  }
  FailureOr<int64_t> index = evalIntExpr(expr.getIndex(), "an index");
  if (failed(index))
    return failure();
  int64_t size = base->list.size();
  if (*index < 0 || *index >= size) {
    (void)error(expr.getIndex().getLoc(),
                "index " + std::to_string(*index) + " is out of range for a list of " +
                    std::to_string(size) + " element" + (size == 1 ? "" : "s") +
                    " (indices run from 0 to len - 1)");
    return failure();
  }
  Val v = base->list[*index];
  v.loc = expr.getLoc();
  return v;
}

FailureOr<Val> Evaluator::evalLen(const ast::CallExpr &call) {
  const auto &args = call.getArgs();
  if (args.size() != 1 || !args[0].keyword.empty() || !call.getAsName().empty()) {
    (void)error(call.getLoc(), "len takes one list, as in len(cfg)");
    return failure();
  }
  FailureOr<Val> v = evalExpr(*args[0].value);
  if (failed(v))
    return failure();
  if (v->kind != Val::Kind::List) {
    (void)error(args[0].value->getLoc(), "len needs a list, got " + describe(*v, graph));
    return failure();
  }
  return Val::makeInt(int64_t(v->list.size()), call.getLoc());
}

FailureOr<Val> Evaluator::evalNot(const ast::UnaryExpr &expr) {
  FailureOr<bool> b = evalCondition(expr.getOperand(), "the operand of 'not'");
  if (failed(b))
    return failure();
  return makeBool(!*b, expr.getLoc());
}

FailureOr<Val> Evaluator::evalLogic(const ast::BinaryExpr &expr) {
  StringRef op = ast::opSpelling(expr.getOp());
  std::string what = ("an operand of '" + op + "'").str();
  FailureOr<bool> lhs = evalCondition(expr.getLHS(), what);
  if (failed(lhs))
    return failure();
  // Short-circuit, so that `i < len(l) and l[i] == 0` is safe.
  bool isAnd = expr.getOp() == '&';
  if (*lhs != isAnd)
    return makeBool(*lhs, expr.getLoc());
  FailureOr<bool> rhs = evalCondition(expr.getRHS(), what);
  if (failed(rhs))
    return failure();
  return makeBool(*rhs, expr.getLoc());
}

FailureOr<Val> Evaluator::evalComparison(const ast::BinaryExpr &expr) {
  FailureOr<Val> lhs = evalExpr(expr.getLHS());
  if (failed(lhs))
    return failure();
  FailureOr<Val> rhs = evalExpr(expr.getRHS());
  if (failed(rhs))
    return failure();
  char op = expr.getOp();
  SMLoc loc = expr.getLoc();
  std::string opText = ast::opSpelling(op).str();
  bool equality = op == '=' || op == '!';
  for (const Val *v : {&*lhs, &*rhs}) {
    bool ok =
        equality ? (v->kind != Val::Kind::Tensor && v->kind != Val::Kind::List) : v->isNumber();
    if (ok)
      continue;
    (void)error(loc, "operator '" + opText + "' needs " +
                         (equality ? "numbers, booleans or strings" : "numbers") + ", got " +
                         describe(*v, graph));
    return failure();
  }
  if (equality) {
    // Values of different kinds (a number and a string) are simply unequal,
    // so that `v == "M"` works on a list mixing both.
    bool equal = false;
    if (lhs->isNumber() && rhs->isNumber())
      equal = lhs->kind == Val::Kind::Int && rhs->kind == Val::Kind::Int
                  ? lhs->i == rhs->i
                  : lhs->asDouble() == rhs->asDouble();
    else if (lhs->kind == rhs->kind)
      equal = lhs->kind == Val::Kind::Bool ? lhs->b == rhs->b : lhs->s == rhs->s;
    return makeBool(equal == (op == '='), loc);
  }
  int cmp;
  if (lhs->kind == Val::Kind::Int && rhs->kind == Val::Kind::Int)
    cmp = lhs->i < rhs->i ? -1 : lhs->i > rhs->i;
  else
    cmp = lhs->asDouble() < rhs->asDouble() ? -1 : lhs->asDouble() > rhs->asDouble();
  bool r = op == '<' ? cmp < 0 : op == 'l' ? cmp <= 0 : op == '>' ? cmp > 0 : cmp >= 0;
  return makeBool(r, loc);
}
