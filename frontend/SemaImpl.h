//===- SemaImpl.h - Sema internals shared by its .cpp files -----*- C++ -*-===//
//
// Not a public header: the evaluator that Sema.cpp (statements, expressions,
// blocks, names) and SemaLayers.cpp (the layer table and shape checks) share.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_FRONTEND_SEMAIMPL_H
#define NNC_FRONTEND_SEMAIMPL_H

#include "frontend/Sema.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/LogicalResult.h"

#include <string>
#include <vector>

namespace nnc {
namespace sema {

/// A value during evaluation.
struct Val {
  enum class Kind { Int, Float, Bool, String, List, Tensor };
  Kind kind = Kind::Int;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s;
  std::vector<Val> list;
  unsigned tensor = 0;
  llvm::SMLoc loc; ///< Where the value was written (for argument errors).

  static Val makeInt(int64_t v, llvm::SMLoc loc);
  static Val makeFloat(double v, llvm::SMLoc loc);
  static Val makeTensor(unsigned id, llvm::SMLoc loc);
  bool isNumber() const { return kind == Kind::Int || kind == Kind::Float; }
  double asDouble() const { return kind == Kind::Int ? double(i) : f; }
};

/// "integer", "tensor [N, 6, 28, 28]", ...: how a value is named in errors.
std::string describe(const Val &v, const ModelGraph &graph);

/// One model or block instance being evaluated.
struct Frame {
  const ast::Definition *def = nullptr;
  std::string prefix; ///< "" for a model, "stage1." inside block call stage1.
  llvm::StringMap<Val> vars;
  llvm::StringMap<llvm::SMLoc> constants; ///< Hyperparameters: not rebindable.
  llvm::StringMap<unsigned> counters;     ///< Auto-naming counters.
  std::optional<Val> output;              ///< A block's result.
  llvm::SMLoc outputLoc;
  std::vector<Val> blockInputs; ///< Tensor arguments of a block call.
  unsigned nextInput = 0;       ///< The next block input to bind.
  unsigned repeatDepth = 0;     ///< Nesting in repeat, for and if bodies.
  const char *nestKind = "repeat"; ///< The innermost of those statements.
  bool isBlock() const { return def && !def->isModel(); }
};

/// The argument types a layer accepts.
enum class ArgType { Int, Float, Bool, String, IntPair, PaddingSpec, IntList };

struct ArgSpec {
  const char *name;
  ArgType type;
  bool required;
};

/// What the language knows about a layer.
struct LayerSpec {
  const char *name;
  LayerKind kind;
  int numTensors; ///< -1: two or more (concat).
  const char *prefix; ///< Auto-name prefix.
  std::vector<ArgSpec> args;
};

/// Looks up a layer by its language name ("conv2d"); null when unknown.
const LayerSpec *lookupLayer(llvm::StringRef name);
/// All layer names (for "did you mean").
std::vector<llvm::StringRef> allLayerNames();

/// Arguments bound to a layer's or block's parameters.
struct BoundArgs {
  std::vector<Val> tensors;
  llvm::StringMap<Val> named;
  bool has(llvm::StringRef name) const { return named.count(name); }
  const Val &get(llvm::StringRef name) const { return named.find(name)->second; }
};

/// A `-D name=value` override, split but not yet converted: the value is read
/// by the kind of the hyperparameter's default.
struct Override {
  std::string text; ///< As given, for errors.
  std::string name, value;
};

/// Evaluates one model definition into a ModelGraph.
class Evaluator {
public:
  Evaluator(const ast::Module &module, DiagEngine &diag, const SemaLimits &limits,
            ModelGraph &graph);

  llvm::LogicalResult evaluateModel(const ast::Definition &model,
                                    llvm::ArrayRef<Override> overrides);

  // Statements and expressions (Sema.cpp).
  llvm::LogicalResult evalStmts(const std::vector<ast::StmtPtr> &stmts);
  llvm::LogicalResult evalStmt(const ast::Stmt &stmt);
  llvm::FailureOr<Val> evalExpr(const ast::Expr &expr);
  llvm::FailureOr<Val> evalBinary(const ast::BinaryExpr &expr);
  llvm::FailureOr<Val> evalCall(const ast::CallExpr &call);
  llvm::FailureOr<Val> evalBlockCall(const ast::CallExpr &call,
                                     const ast::Definition &block);
  llvm::LogicalResult evalTrain(const ast::TrainStmt &stmt);

  // Compile-time control flow (SemaControl.cpp).
  llvm::LogicalResult evalFor(const ast::ForStmt &stmt);
  llvm::LogicalResult evalIf(const ast::IfStmt &stmt);
  /// Evaluates a boolean expression; `what` names it in the error otherwise.
  llvm::FailureOr<bool> evalCondition(const ast::Expr &expr, llvm::StringRef what);
  llvm::FailureOr<Val> evalIndex(const ast::IndexExpr &expr);
  llvm::FailureOr<Val> evalLen(const ast::CallExpr &call);
  llvm::FailureOr<Val> evalNot(const ast::UnaryExpr &expr);
  /// `and`, `or`.
  llvm::FailureOr<Val> evalLogic(const ast::BinaryExpr &expr);
  /// `== != < <= > >=`.
  llvm::FailureOr<Val> evalComparison(const ast::BinaryExpr &expr);
  llvm::LogicalResult evalInput(const ast::InputStmt &stmt);
  llvm::FailureOr<int64_t> evalIntExpr(const ast::Expr &expr, llvm::StringRef what);

  // Layers (SemaLayers.cpp).
  llvm::FailureOr<Val> evalLayerCall(const ast::CallExpr &call, const LayerSpec &spec);
  llvm::FailureOr<BoundArgs> bindArgs(const ast::CallExpr &call,
                                      const LayerSpec &spec);
  llvm::LogicalResult checkArgType(const Val &v, const ArgSpec &spec,
                                   llvm::StringRef callee);
  llvm::LogicalResult buildLoss();
  /// Checks the train section's `normalize` against the model's inputs.
  llvm::LogicalResult checkNormalize();

  // Naming and graph construction.
  /// Names the layer of `call` (explicit `as` or the auto rule) and checks it
  /// is unique; returns the full name.
  llvm::FailureOr<std::string> nameLayer(const ast::CallExpr &call,
                                         llvm::StringRef prefix);
  unsigned addValue(Shape shape, DType dtype, std::string origin = "");
  unsigned addParam(llvm::StringRef layer, llvm::StringRef suffix, Shape shape,
                    Init init, double scale, bool buffer = false,
                    DType dtype = DType::F32);
  llvm::LogicalResult addLayer(Layer layer);
  /// The parameter a `tie=` argument names: the weight of an earlier layer
  /// (looked up in the current block, then in the model), which must have
  /// `shape` and `dtype`; `what` names the tying layer in errors.
  llvm::FailureOr<unsigned> tiedWeight(const Val &tie, llvm::StringRef what, const Shape &shape,
                                       DType dtype);

  /// Counts one evaluation step; fails (reporting at `loc`) past the limit.
  llvm::LogicalResult step(llvm::SMLoc loc);

  /// Reports an error and returns failure, for `return error(loc, ...)`.
  llvm::LogicalResult error(llvm::SMLoc loc, const llvm::Twine &msg);

  const ast::Module &module;
  DiagEngine &diag;
  const SemaLimits &limits;
  ModelGraph &graph;
  llvm::StringMap<const ast::Definition *> blocks;
  std::vector<Frame> frames;
  std::vector<const ast::Definition *> blockStack;
  llvm::StringMap<llvm::SMLoc> layerNames; ///< Full names in the model.
  std::optional<std::string> batchSymbol;
  llvm::SMLoc batchLoc;
  const ast::TrainStmt *trainStmt = nullptr;
  const ast::OutputStmt *firstOutput = nullptr;
  int64_t steps = 0;
  unsigned evalDepth = 0; ///< Nesting of evalExpr calls.

  Frame &frame() { return frames.back(); }
};

} // namespace sema
} // namespace nnc

#endif // NNC_FRONTEND_SEMAIMPL_H
