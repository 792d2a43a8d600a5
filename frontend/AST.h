//===- AST.h - Abstract syntax tree of nnc model files ----------*- C++ -*-===//
//
// The parser produces this tree; Sema evaluates it. Every node carries the
// source location (an SMLoc into the llvm::SourceMgr buffer) of the token that
// starts it, so every later diagnostic can point into the model file.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_FRONTEND_AST_H
#define NNC_FRONTEND_AST_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Casting.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nnc {
namespace ast {

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

/// Base class of expressions (LLVM-style RTTI through getKind()).
class Expr {
public:
  enum class Kind { Int, Float, Bool, String, Ident, List, Unary, Binary, Call, Index };
  Expr(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  virtual ~Expr() = default;
  Kind getKind() const { return kind; }
  llvm::SMLoc getLoc() const { return loc; }

private:
  Kind kind;
  llvm::SMLoc loc;
};
using ExprPtr = std::unique_ptr<Expr>;

/// An integer literal.
class IntExpr : public Expr {
public:
  IntExpr(llvm::SMLoc loc, int64_t value) : Expr(Kind::Int, loc), value(value) {}
  int64_t getValue() const { return value; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Int; }

private:
  int64_t value;
};

/// A floating-point literal.
class FloatExpr : public Expr {
public:
  FloatExpr(llvm::SMLoc loc, double value) : Expr(Kind::Float, loc), value(value) {}
  double getValue() const { return value; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Float; }

private:
  double value;
};

/// `true` or `false`.
class BoolExpr : public Expr {
public:
  BoolExpr(llvm::SMLoc loc, bool value) : Expr(Kind::Bool, loc), value(value) {}
  bool getValue() const { return value; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Bool; }

private:
  bool value;
};

/// A string literal (the unescaped contents, without quotes).
class StringExpr : public Expr {
public:
  StringExpr(llvm::SMLoc loc, std::string value)
      : Expr(Kind::String, loc), value(std::move(value)) {}
  llvm::StringRef getValue() const { return value; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::String; }

private:
  std::string value;
};

/// A use of a name: a tensor, a constant, a hyperparameter, or (in a pipeline
/// or a train section) a bare layer / option word.
class IdentExpr : public Expr {
public:
  IdentExpr(llvm::SMLoc loc, std::string name)
      : Expr(Kind::Ident, loc), name(std::move(name)) {}
  llvm::StringRef getName() const { return name; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Ident; }

private:
  std::string name;
};

/// `[a, b, ...]`.
class ListExpr : public Expr {
public:
  ListExpr(llvm::SMLoc loc, std::vector<ExprPtr> elements)
      : Expr(Kind::List, loc), elements(std::move(elements)) {}
  const std::vector<ExprPtr> &getElements() const { return elements; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::List; }

private:
  std::vector<ExprPtr> elements;
};

/// The spelling of a unary or binary operator code: the one-character
/// operators stand for themselves; `=` is `==`, `!` is `!=` (binary) or `not`
/// (unary), `l` is `<=`, `g` is `>=`, `&` is `and`, `|` is `or`.
inline llvm::StringRef opSpelling(char op, bool unary = false) {
  switch (op) {
  case '=':
    return "==";
  case '!':
    return unary ? "not" : "!=";
  case 'l':
    return "<=";
  case 'g':
    return ">=";
  case '&':
    return "and";
  case '|':
    return "or";
  case '<':
    return "<";
  case '>':
    return ">";
  case '+':
    return "+";
  case '-':
    return "-";
  case '*':
    return "*";
  case '/':
    return "/";
  case '%':
    return "%";
  default:
    return "?";
  }
}

/// `-x` or `not x` (op '!'). The location is that of the operator.
class UnaryExpr : public Expr {
public:
  UnaryExpr(llvm::SMLoc loc, char op, ExprPtr operand)
      : Expr(Kind::Unary, loc), op(op), operand(std::move(operand)) {}
  char getOp() const { return op; }
  const Expr &getOperand() const { return *operand; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Unary; }

private:
  char op;
  ExprPtr operand;
};

/// `a op b` with op one of + - * / % and the comparison and boolean codes of
/// opSpelling(). The location is that of the operator.
class BinaryExpr : public Expr {
public:
  BinaryExpr(llvm::SMLoc loc, char op, ExprPtr lhs, ExprPtr rhs)
      : Expr(Kind::Binary, loc), op(op), lhs(std::move(lhs)), rhs(std::move(rhs)) {}
  char getOp() const { return op; }
  const Expr &getLHS() const { return *lhs; }
  const Expr &getRHS() const { return *rhs; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Binary; }

private:
  char op;
  ExprPtr lhs, rhs;
};

/// `base[index]`. The location is that of the `[`.
class IndexExpr : public Expr {
public:
  IndexExpr(llvm::SMLoc loc, ExprPtr base, ExprPtr index)
      : Expr(Kind::Index, loc), base(std::move(base)), index(std::move(index)) {}
  const Expr &getBase() const { return *base; }
  const Expr &getIndex() const { return *index; }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Index; }

private:
  ExprPtr base, index;
};

/// One call argument: positional when `keyword` is empty.
struct Arg {
  std::string keyword;
  llvm::SMLoc keywordLoc; ///< Valid only for keyword arguments.
  ExprPtr value;
};

/// A layer or block call `callee(args) [as name]`. A pipeline `a |> f(b)` is
/// desugared by the parser into `f(a, b)` with `isPiped()` true (args[0] is `a`).
/// The location of a call is that of the callee identifier.
class CallExpr : public Expr {
public:
  CallExpr(llvm::SMLoc loc, std::string callee, std::vector<Arg> args,
           bool piped = false)
      : Expr(Kind::Call, loc), callee(std::move(callee)), args(std::move(args)),
        piped(piped) {}
  llvm::StringRef getCallee() const { return callee; }
  const std::vector<Arg> &getArgs() const { return args; }
  bool isPiped() const { return piped; }
  /// The explicit layer name given with `as`, or "" when none.
  llvm::StringRef getAsName() const { return asName; }
  llvm::SMLoc getAsLoc() const { return asLoc; }
  void setAsName(std::string name, llvm::SMLoc loc) {
    asName = std::move(name);
    asLoc = loc;
  }
  static bool classof(const Expr *e) { return e->getKind() == Kind::Call; }

private:
  std::string callee;
  std::vector<Arg> args;
  bool piped;
  std::string asName;
  llvm::SMLoc asLoc;
};

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

class Stmt {
public:
  enum class Kind { Input, Assign, Output, Repeat, For, If, Train };
  Stmt(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  virtual ~Stmt() = default;
  Kind getKind() const { return kind; }
  /// The location of the statement's first token.
  llvm::SMLoc getLoc() const { return loc; }

private:
  Kind kind;
  llvm::SMLoc loc;
};
using StmtPtr = std::unique_ptr<Stmt>;

/// The written type of a model input: `f32[N, 1, 28, 28]`.
struct TensorTypeAST {
  std::string dtype;
  llvm::SMLoc dtypeLoc;
  std::vector<ExprPtr> dims;
};

/// `input name [: dtype[dims]]`.
class InputStmt : public Stmt {
public:
  InputStmt(llvm::SMLoc loc, std::string name, llvm::SMLoc nameLoc,
            std::unique_ptr<TensorTypeAST> type)
      : Stmt(Kind::Input, loc), name(std::move(name)), nameLoc(nameLoc),
        type(std::move(type)) {}
  llvm::StringRef getName() const { return name; }
  llvm::SMLoc getNameLoc() const { return nameLoc; }
  /// Null for block inputs, which are untyped.
  const TensorTypeAST *getType() const { return type.get(); }
  static bool classof(const Stmt *s) { return s->getKind() == Kind::Input; }

private:
  std::string name;
  llvm::SMLoc nameLoc;
  std::unique_ptr<TensorTypeAST> type;
};

/// `name = expr`.
class AssignStmt : public Stmt {
public:
  AssignStmt(llvm::SMLoc loc, std::string name, ExprPtr value)
      : Stmt(Kind::Assign, loc), name(std::move(name)), value(std::move(value)) {}
  llvm::StringRef getName() const { return name; }
  const Expr &getValue() const { return *value; }
  static bool classof(const Stmt *s) { return s->getKind() == Kind::Assign; }

private:
  std::string name;
  ExprPtr value;
};

/// `output [name =] expr`.
class OutputStmt : public Stmt {
public:
  OutputStmt(llvm::SMLoc loc, std::string name, llvm::SMLoc nameLoc, ExprPtr value)
      : Stmt(Kind::Output, loc), name(std::move(name)), nameLoc(nameLoc),
        value(std::move(value)) {}
  /// "" when the output is unnamed.
  llvm::StringRef getName() const { return name; }
  llvm::SMLoc getNameLoc() const { return nameLoc; }
  const Expr &getValue() const { return *value; }
  static bool classof(const Stmt *s) { return s->getKind() == Kind::Output; }

private:
  std::string name;
  llvm::SMLoc nameLoc;
  ExprPtr value;
};

/// `repeat [var in] count { body }`.
class RepeatStmt : public Stmt {
public:
  RepeatStmt(llvm::SMLoc loc, std::string indexVar, llvm::SMLoc indexLoc,
             ExprPtr count, std::vector<StmtPtr> body)
      : Stmt(Kind::Repeat, loc), indexVar(std::move(indexVar)), indexLoc(indexLoc),
        count(std::move(count)), body(std::move(body)) {}
  /// "" when there is no index variable.
  llvm::StringRef getIndexVar() const { return indexVar; }
  llvm::SMLoc getIndexLoc() const { return indexLoc; }
  const Expr &getCount() const { return *count; }
  const std::vector<StmtPtr> &getBody() const { return body; }
  static bool classof(const Stmt *s) { return s->getKind() == Kind::Repeat; }

private:
  std::string indexVar;
  llvm::SMLoc indexLoc;
  ExprPtr count;
  std::vector<StmtPtr> body;
};

/// `for var in list { body }`.
class ForStmt : public Stmt {
public:
  ForStmt(llvm::SMLoc loc, std::string var, llvm::SMLoc varLoc, ExprPtr list,
          std::vector<StmtPtr> body)
      : Stmt(Kind::For, loc), var(std::move(var)), varLoc(varLoc), list(std::move(list)),
        body(std::move(body)) {}
  llvm::StringRef getVar() const { return var; }
  llvm::SMLoc getVarLoc() const { return varLoc; }
  const Expr &getList() const { return *list; }
  const std::vector<StmtPtr> &getBody() const { return body; }
  static bool classof(const Stmt *s) { return s->getKind() == Kind::For; }

private:
  std::string var;
  llvm::SMLoc varLoc;
  ExprPtr list;
  std::vector<StmtPtr> body;
};

/// One `if cond { body }` arm; `cond` is null for a final `else`.
struct IfArm {
  ExprPtr cond;
  std::vector<StmtPtr> body;
};

/// `if c1 { ... } else if c2 { ... } else { ... }`.
class IfStmt : public Stmt {
public:
  IfStmt(llvm::SMLoc loc, std::vector<IfArm> arms) : Stmt(Kind::If, loc), arms(std::move(arms)) {}
  const std::vector<IfArm> &getArms() const { return arms; }
  static bool classof(const Stmt *s) { return s->getKind() == Kind::If; }

private:
  std::vector<IfArm> arms;
};

/// One `key = value` of a train section.
struct TrainSetting {
  std::string key;
  llvm::SMLoc keyLoc;
  ExprPtr value;
};

/// `train { key = value ... }`.
class TrainStmt : public Stmt {
public:
  TrainStmt(llvm::SMLoc loc, std::vector<TrainSetting> settings)
      : Stmt(Kind::Train, loc), settings(std::move(settings)) {}
  const std::vector<TrainSetting> &getSettings() const { return settings; }
  static bool classof(const Stmt *s) { return s->getKind() == Kind::Train; }

private:
  std::vector<TrainSetting> settings;
};

//===----------------------------------------------------------------------===//
// Definitions
//===----------------------------------------------------------------------===//

/// A hyperparameter of a model or block; `defaultValue` is null when absent.
struct Param {
  std::string name;
  llvm::SMLoc loc;
  ExprPtr defaultValue;
};

/// `model name(params) { ... }` or `block name(params) { ... }`.
class Definition {
public:
  enum class Kind { Model, Block };
  Definition(Kind kind, llvm::SMLoc loc, std::string name, std::vector<Param> params,
             std::vector<StmtPtr> body)
      : kind(kind), loc(loc), name(std::move(name)), params(std::move(params)),
        body(std::move(body)) {}
  Kind getKind() const { return kind; }
  bool isModel() const { return kind == Kind::Model; }
  /// The location of the definition's name.
  llvm::SMLoc getLoc() const { return loc; }
  llvm::StringRef getName() const { return name; }
  const std::vector<Param> &getParams() const { return params; }
  const std::vector<StmtPtr> &getBody() const { return body; }

private:
  Kind kind;
  llvm::SMLoc loc;
  std::string name;
  std::vector<Param> params;
  std::vector<StmtPtr> body;
};

/// A whole model file.
struct Module {
  std::vector<std::unique_ptr<Definition>> definitions;
};

/// Prints the tree in the indented form `nnc compile -emit=ast` shows, with
/// `@line:col` locations resolved through `srcMgr`.
void dumpAST(const Module &module, const llvm::SourceMgr &srcMgr,
             llvm::raw_ostream &os);

} // namespace ast
} // namespace nnc

#endif // NNC_FRONTEND_AST_H
