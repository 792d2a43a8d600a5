//===- ASTDump.cpp - Print the AST as an indented tree --------------------===//
//
// The format of `nnc compile -emit=ast`: one node per line, children indented
// by two spaces, each node followed by `@line:col` (named nodes: the location
// of the name). For examples/lenet.nn:
//
//   Model 'lenet' @2:7                    (or Block)
//     Param 'classes' @2:13               (child: the default, if any)
//       Int 10 @2:23
//     Input 'image' @3:9 f32 @3:16        (children: the dims; untyped: none)
//       Ident 'N' @3:20
//       ...
//     Assign 'x' @4:3
//       Call 'maxpool2d' piped @4:60      (a |> f(b) is f(a, b), marked piped)
//         Call 'relu' piped @4:52
//           Call 'conv2d' @4:7
//             Ident 'image' @4:14
//             Kwarg 'out' @4:21           (child: the value)
//               Int 6 @4:25
//             ...
//         Int 2 @4:70
//     Output 'logits' @7:10               (unnamed: `Output @<stmt loc>`)
//       Call 'linear' @7:19
//       ...
//     Train @9:3
//       Setting 'lr' @9:51
//         Float 0.001 @9:56
//
// Other nodes: `Call 'f' @L:C as 'name' @L:C`, `Repeat @L:C` or
// `Repeat 'i' @L:C` (first child: the count, then the body), `Binary '+'`,
// `Unary '-'` (at the operator), `List`, `Bool true`, `String "..."`.
// Strings are printed double-quoted with `\"`, `\\`, `\t` and other control
// bytes (`\xNN`) escaped; floats with the fewest digits that read back to the
// same double.
//
//===----------------------------------------------------------------------===//

#include "frontend/AST.h"
#include "frontend/Diagnostics.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Casting.h"

#include <charconv>
#include <cmath>
#include <optional>

using namespace nnc;
using namespace nnc::ast;
using llvm::SMLoc;

namespace {

/// Formats `value` with the fewest significant digits that round-trip, and
/// always with a `.`, an exponent or a non-finite spelling so that it reads
/// as a float.
std::string formatFloat(double value) {
  if (std::isnan(value))
    return "nan";
  if (std::isinf(value))
    return value < 0 ? "-inf" : "inf";
  char buf[64];
  // The shortest representation that reads back to the same double.
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc())
    return "?";
  std::string s(buf, end);
  if (s.find_first_of(".e") == std::string::npos)
    s += ".0";
  return s;
}

class ASTPrinter {
public:
  ASTPrinter(const llvm::SourceMgr &srcMgr, llvm::raw_ostream &os)
      : srcMgr(srcMgr), os(os) {}

  void print(const Definition &def) {
    line(0) << (def.isModel() ? "Model '" : "Block '") << def.getName() << "'";
    printLoc(def.getLoc());
    os << "\n";
    for (const Param &param : def.getParams()) {
      line(1) << "Param '" << param.name << "'";
      printLoc(param.loc);
      os << "\n";
      if (param.defaultValue)
        print(*param.defaultValue, 2);
    }
    for (const StmtPtr &stmt : def.getBody())
      print(*stmt, 1);
  }

private:
  llvm::raw_ostream &line(unsigned indent) {
    os.indent(2 * indent);
    return os;
  }

  void printLoc(SMLoc loc) {
    os << " @";
    // Not SourceMgr::getLineAndColumn (nor FindLineNumber, which calls it):
    // O(line length) per call, quadratic on a hostile one-line file.
    if (!locator && srcMgr.getNumBuffers())
      locator.emplace(
          srcMgr.getMemoryBuffer(srcMgr.getMainFileID())->getBuffer());
    if (!loc.isValid() || !locator || !locator->contains(loc)) {
      os << "?";
      return;
    }
    auto [lineNo, col] = locator->getLineAndColumn(loc);
    os << lineNo << ":" << col;
  }

  /// Prints `"text"` with `"` and `\\` escaped, `\t` for tabs and `\xNN` for
  /// other control bytes; UTF-8 text is printed as is.
  void printQuoted(llvm::StringRef text) {
    os << '"';
    for (char c : text) {
      unsigned char b = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\')
        os << '\\' << c;
      else if (c == '\t')
        os << "\\t";
      else if (b < 0x20 || b == 0x7F)
        os << "\\x" << llvm::hexdigit(b >> 4) << llvm::hexdigit(b & 0xF);
      else
        os << c;
    }
    os << '"';
  }

  void print(const Stmt &stmt, unsigned indent) {
    if (auto *input = llvm::dyn_cast<InputStmt>(&stmt)) {
      line(indent) << "Input '" << input->getName() << "'";
      printLoc(input->getNameLoc());
      const TensorTypeAST *type = input->getType();
      if (type) {
        os << " " << type->dtype;
        printLoc(type->dtypeLoc);
      }
      os << "\n";
      if (type)
        for (const ExprPtr &dim : type->dims)
          print(*dim, indent + 1);
      return;
    }
    if (auto *assign = llvm::dyn_cast<AssignStmt>(&stmt)) {
      line(indent) << "Assign '" << assign->getName() << "'";
      printLoc(assign->getLoc());
      os << "\n";
      print(assign->getValue(), indent + 1);
      return;
    }
    if (auto *output = llvm::dyn_cast<OutputStmt>(&stmt)) {
      line(indent) << "Output";
      if (output->getName().empty()) {
        printLoc(output->getLoc());
      } else {
        os << " '" << output->getName() << "'";
        printLoc(output->getNameLoc());
      }
      os << "\n";
      print(output->getValue(), indent + 1);
      return;
    }
    if (auto *repeat = llvm::dyn_cast<RepeatStmt>(&stmt)) {
      line(indent) << "Repeat";
      if (repeat->getIndexVar().empty()) {
        printLoc(repeat->getLoc());
      } else {
        os << " '" << repeat->getIndexVar() << "'";
        printLoc(repeat->getIndexLoc());
      }
      os << "\n";
      print(repeat->getCount(), indent + 1);
      for (const StmtPtr &child : repeat->getBody())
        print(*child, indent + 1);
      return;
    }
    if (auto *loop = llvm::dyn_cast<ForStmt>(&stmt)) {
      line(indent) << "For '" << loop->getVar() << "'";
      printLoc(loop->getVarLoc());
      os << "\n";
      print(loop->getList(), indent + 1);
      for (const StmtPtr &child : loop->getBody())
        print(*child, indent + 1);
      return;
    }
    if (auto *cond = llvm::dyn_cast<IfStmt>(&stmt)) {
      line(indent) << "If";
      printLoc(cond->getLoc());
      os << "\n";
      for (const IfArm &arm : cond->getArms()) {
        line(indent + 1) << (arm.cond ? "Case" : "Else") << "\n";
        if (arm.cond)
          print(*arm.cond, indent + 2);
        for (const StmtPtr &child : arm.body)
          print(*child, indent + 2);
      }
      return;
    }
    auto &train = llvm::cast<TrainStmt>(stmt);
    line(indent) << "Train";
    printLoc(train.getLoc());
    os << "\n";
    for (const TrainSetting &setting : train.getSettings()) {
      line(indent + 1) << "Setting '" << setting.key << "'";
      printLoc(setting.keyLoc);
      os << "\n";
      print(*setting.value, indent + 2);
    }
  }

  void print(const Expr &expr, unsigned indent) {
    line(indent);
    switch (expr.getKind()) {
    case Expr::Kind::Int:
      os << "Int " << llvm::cast<IntExpr>(expr).getValue();
      break;
    case Expr::Kind::Float:
      os << "Float " << formatFloat(llvm::cast<FloatExpr>(expr).getValue());
      break;
    case Expr::Kind::Bool:
      os << "Bool "
         << (llvm::cast<BoolExpr>(expr).getValue() ? "true" : "false");
      break;
    case Expr::Kind::String:
      os << "String ";
      printQuoted(llvm::cast<StringExpr>(expr).getValue());
      break;
    case Expr::Kind::Ident:
      os << "Ident '" << llvm::cast<IdentExpr>(expr).getName() << "'";
      break;
    case Expr::Kind::List:
      os << "List";
      break;
    case Expr::Kind::Unary:
      os << "Unary '" << opSpelling(llvm::cast<UnaryExpr>(expr).getOp(), /*unary=*/true) << "'";
      break;
    case Expr::Kind::Binary:
      os << "Binary '" << opSpelling(llvm::cast<BinaryExpr>(expr).getOp()) << "'";
      break;
    case Expr::Kind::Index:
      os << "Index";
      break;
    case Expr::Kind::Call: {
      auto &call = llvm::cast<CallExpr>(expr);
      os << "Call '" << call.getCallee() << "'";
      if (call.isPiped())
        os << " piped";
      break;
    }
    }
    printLoc(expr.getLoc());
    if (auto *call = llvm::dyn_cast<CallExpr>(&expr)) {
      if (!call->getAsName().empty()) {
        os << " as '" << call->getAsName() << "'";
        printLoc(call->getAsLoc());
      }
    }
    os << "\n";

    if (auto *list = llvm::dyn_cast<ListExpr>(&expr)) {
      for (const ExprPtr &element : list->getElements())
        print(*element, indent + 1);
    } else if (auto *unary = llvm::dyn_cast<UnaryExpr>(&expr)) {
      print(unary->getOperand(), indent + 1);
    } else if (auto *binary = llvm::dyn_cast<BinaryExpr>(&expr)) {
      print(binary->getLHS(), indent + 1);
      print(binary->getRHS(), indent + 1);
    } else if (auto *index = llvm::dyn_cast<IndexExpr>(&expr)) {
      print(index->getBase(), indent + 1);
      print(index->getIndex(), indent + 1);
    } else if (auto *call = llvm::dyn_cast<CallExpr>(&expr)) {
      for (const Arg &arg : call->getArgs()) {
        if (arg.keyword.empty()) {
          print(*arg.value, indent + 1);
          continue;
        }
        line(indent + 1) << "Kwarg '" << arg.keyword << "'";
        printLoc(arg.keywordLoc);
        os << "\n";
        print(*arg.value, indent + 2);
      }
    }
  }

  const llvm::SourceMgr &srcMgr;
  llvm::raw_ostream &os;
  /// Lines of the main buffer, built on the first location printed.
  std::optional<LineLocator> locator;
};

} // namespace

void nnc::ast::dumpAST(const Module &module, const llvm::SourceMgr &srcMgr,
                       llvm::raw_ostream &os) {
  ASTPrinter printer(srcMgr, os);
  for (const auto &def : module.definitions)
    printer.print(*def);
}
