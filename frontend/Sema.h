//===- Sema.h - Name resolution, evaluation and shape checking --*- C++ -*-===//
//
// Sema evaluates a model definition for given hyperparameters: it resolves
// names, computes constants, expands blocks and repeats, names every layer,
// infers and checks every shape, and creates the PyTorch-equivalent parameter
// list. The result, a ModelGraph, is a flat list of layers in program order
// that MLIRGen turns into the nn dialect one-to-one. Every user error is
// reported here, located in the model file.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_FRONTEND_SEMA_H
#define NNC_FRONTEND_SEMA_H

#include "frontend/AST.h"
#include "frontend/Diagnostics.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nnc {

/// A tensor shape; dimension 0 is the batch, `kBatch` while it is symbolic.
using Shape = llvm::SmallVector<int64_t, 4>;
constexpr int64_t kBatch = INT64_MIN; // == mlir::ShapedType::kDynamic

/// Element types of model tensors.
enum class DType { F32, F16, BF16, I64, I32 };
llvm::StringRef dtypeName(DType dtype);
bool isFloat(DType dtype);

/// Parameter initializers (PyTorch defaults are expressible with these).
enum class Init { Zeros, Ones, Uniform, Normal };

/// One state_dict entry: a trainable parameter or a buffer.
struct ParamInfo {
  std::string name; ///< e.g. "conv1.weight"
  Shape shape;
  DType dtype = DType::F32;
  Init init = Init::Zeros;
  double scale = 0; ///< Uniform bound or normal std.
  bool buffer = false;
};

enum class LayerKind {
  Conv2d,
  Linear,
  Embedding,
  Relu,
  LeakyRelu,
  Sigmoid,
  Tanh,
  Gelu,
  Softmax,
  LogSoftmax,
  MaxPool2d,
  AvgPool2d,
  GlobalAvgPool,
  BatchNorm,
  Dropout,
  Flatten,
  Reshape,
  Add,
  Concat,
  Rnn,
  Lstm,
  Gru,
  LayerNorm,
  CrossEntropy,
  Mse,
  Attention,
  PosEmbedding
};
/// The language's name of a layer kind ("conv2d").
llvm::StringRef layerKindName(LayerKind kind);

/// Attributes of a layer; each kind reads only the fields it needs.
struct LayerAttrs {
  int64_t kernel[2] = {1, 1}, stride[2] = {1, 1}, padding[2] = {0, 0},
          dilation[2] = {1, 1};
  int64_t groups = 1;
  int64_t dim = 1;          ///< softmax / log_softmax / concat (non-negative)
  double slope = 0.01;      ///< leaky_relu
  double p = 0.5;           ///< dropout
  double eps = 1e-5, momentum = 0.1; ///< batchnorm (eps: layernorm too)
  bool affine = true;                ///< layernorm: with weight and bias
  Shape shape;              ///< reshape target, without the batch dimension
  int64_t hidden = 0, numLayers = 1; ///< recurrent
  bool bidirectional = false, sequences = false, hasBias = true;
  std::string nonlinearity = "tanh"; ///< rnn
  int64_t heads = 1, kvHeads = 1;    ///< attention
  bool causal = false;               ///< attention
  /// linear: the layer whose weight it shares (`tie=`, as written), or empty.
  std::string tie;
};

/// One layer in program order.
struct Layer {
  LayerKind kind;
  std::string name;  ///< Full layer name, e.g. "stage1.conv2".
  llvm::SMLoc loc;   ///< The call's callee identifier.
  llvm::SmallVector<unsigned, 2> inputs;  ///< Value ids of tensor operands.
  llvm::SmallVector<unsigned, 4> params;  ///< Indices into ModelGraph::params.
  unsigned result = 0;                    ///< Value id of the result.
  LayerAttrs attrs;
};

/// A tensor value produced by an input or a layer.
struct TensorValue {
  Shape shape;
  DType dtype = DType::F32;
  /// How the value came about when that helps an error message, e.g.
  /// "[N, 64, 112, 112] flattened".
  std::string origin;
};

struct InputInfo {
  std::string name;
  llvm::SMLoc loc;
  unsigned value;
};

struct OutputInfo {
  std::string name;
  llvm::SMLoc loc;
  unsigned value;
};

/// A hyperparameter's final value, printed back into the IR and reports.
struct HParamValue {
  enum class Kind { Int, Float, Bool, String } kind = Kind::Int;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s;
};

/// The train section, with defaults filled in.
struct TrainConfig {
  std::string loss = "cross_entropy";
  bool lossExplicit = false;
  llvm::SMLoc lossLoc;
  std::string optimizer = "adam";
  double lr = 1e-3;
  int64_t batch = 64;
  int64_t epochs = 1;
  double momentum = 0.9;
  double weightDecay = 0.0;
  /// Learning-rate schedule: constant | step | cosine.
  std::string schedule = "constant";
  /// Input normalization x' = (x - mean) / std, compiled into the model's
  /// entry points for every floating-point input; one value for all channels
  /// or one per channel (dimension 1). Empty: none.
  std::vector<double> normMean, normStd;
  llvm::SMLoc normLoc;
};

/// A fully evaluated model.
struct ModelGraph {
  std::string name;
  llvm::SMLoc loc;
  std::vector<std::pair<std::string, HParamValue>> hparams;
  std::vector<ParamInfo> params;
  std::vector<TensorValue> values;
  std::vector<InputInfo> inputs;
  std::vector<Layer> layers;
  std::vector<OutputInfo> outputs;
  TrainConfig train;
  /// The loss layer applied to outputs[0] and the label input; absent when the
  /// model has no train section and the default loss does not apply.
  std::optional<Layer> loss;
  /// The labels/target tensor of the loss (a value id not produced by a layer).
  unsigned labels = 0;
};

/// Limits that keep hostile model files from hanging or exhausting memory.
struct SemaLimits {
  int64_t maxRepeat = 10000;
  int64_t maxLayers = 100000;
  unsigned maxBlockDepth = 64;
  /// Parameter tensors (state_dict entries) per model: one recurrent layer
  /// with layers=10000 has 80,000 of them, so the layer limit alone does not
  /// bound memory.
  int64_t maxParams = 500'000;
  /// Evaluation steps per model (statements run, repeat iterations and
  /// expression nodes evaluated): bounds the time of nested repeats whose
  /// bodies add no layers, e.g. `repeat 10000 { repeat 10000 { a = 1 } }`.
  int64_t maxSteps = 10'000'000;
  /// Nesting of expression evaluation across block calls: each expression is
  /// at most 256 deep (the parser's limit), but a block called at the bottom
  /// of one adds its own, and 64 nested blocks overflowed the stack.
  unsigned maxEvalDepth = 256;
};

/// Evaluates the models of `module`. `modelName` selects one (empty: all of
/// them); `overrides` are `-D name=value` strings applied to the selected
/// models (each must name a hyperparameter of at least one of them). Returns
/// std::nullopt after reporting errors.
std::optional<std::vector<ModelGraph>>
analyzeModule(const ast::Module &module, llvm::StringRef modelName,
              llvm::ArrayRef<std::string> overrides, DiagEngine &diag,
              const SemaLimits &limits = SemaLimits());

} // namespace nnc

#endif // NNC_FRONTEND_SEMA_H
