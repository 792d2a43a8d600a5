//===- test/unit/GeneratedKernelTest.cpp - generated kernels vs PyTorch ---===//
//
// Part of nnc. The kernels nnc generates (softmax, the losses, dropout, the
// activations' backward ops) compiled through the CPU pipeline into a
// shared library, loaded and run through the artifact's C ABI
// (docs/abi.md): their results against PyTorch 1.13's for the same inputs
// (Inputs/kernel_reference.inc), against finite differences of the
// forward ops, and the handling of out-of-range labels and dropout's
// counter-based masks.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

#include "codegen/CPUPipeline.h"
#include "tools/common/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <dlfcn.h>
#include <functional>
#include <iterator>
#include <limits>
#include <map>

using namespace nnc::test;

namespace {

#include "Inputs/kernel_reference.inc"

/// A model module compiled to a shared library and loaded, with its arena.
class Compiled {
public:
  /// Compiles the nn-dialect text `mlir` (one `module @m attributes
  /// {nn.model}` with static shapes).
  explicit Compiled(const std::string &mlir) {
    nnc::registerAllPasses(); // the CPU pipeline parses its pass list
    mlir::DialectRegistry registry;
    nnc::registerAllDialects(registry);
    mlir::MLIRContext ctx(registry);
    auto module = mlir::parseSourceString<mlir::ModuleOp>(mlir, &ctx);
    if (!module) {
      ADD_FAILURE() << "cannot parse the test model";
      return;
    }
    llvm::SmallString<128> path;
    if (llvm::sys::fs::createTemporaryFile("nnc-generated-kernel", "so", path)) {
      ADD_FAILURE() << "no temporary file";
      return;
    }
    nnc::ArtifactOptions options;
    options.runtimeLibDir = NNC_RUNTIME_LIB_DIR;
    if (mlir::failed(nnc::buildArtifact(*module, path, options))) {
      ADD_FAILURE() << "the test model does not build";
      return;
    }
    lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    llvm::sys::fs::remove(path);
    if (!lib) {
      ADD_FAILURE() << dlerror();
      return;
    }
    auto *info = static_cast<const char *>(dlsym(lib, "nnc_model_info"));
    llvm::Expected<llvm::json::Value> table = llvm::json::parse(info);
    if (!table) {
      ADD_FAILURE() << llvm::toString(table.takeError());
      return;
    }
    const llvm::json::Object *obj = table->getAsObject();
    arena.assign(static_cast<size_t>(*obj->getInteger("arena_bytes") / 8 + 16), 0);
    for (const llvm::json::Value &r : *obj->getArray("regions")) {
      const llvm::json::Object *region = r.getAsObject();
      offsets[region->getString("name")->str()] = *region->getInteger("offset");
    }
  }
  ~Compiled() {
    if (lib)
      dlclose(lib);
  }

  bool ok() const { return lib != nullptr; }

  /// The symbol `name` of the library or the libraries it loaded (the
  /// runtime's entry points), or null.
  template <typename T> T symbol(const char *name) {
    return reinterpret_cast<T>(dlsym(lib, name));
  }

  /// Region `name` (`entry.arg`) of the arena as T*.
  template <typename T> T *at(const std::string &name) {
    auto it = offsets.find(name);
    EXPECT_NE(it, offsets.end()) << "no region " << name;
    return reinterpret_cast<T *>(base() + (it == offsets.end() ? 0 : it->second));
  }
  template <typename T> void set(const std::string &name, const std::vector<T> &v) {
    std::memcpy(at<T>(name), v.data(), v.size() * sizeof(T));
  }
  template <typename T> std::vector<T> get(const std::string &name, size_t n) {
    T *p = at<T>(name);
    return std::vector<T>(p, p + n);
  }

  /// Runs entry point `entry` (the function `@entry` of the model).
  void run(const std::string &entry) {
    struct MemRef1D {
      void *allocated, *aligned;
      int64_t offset, size, stride;
    } arg{base(), base(), 0, int64_t(arena.size() * 8 - 64), 1};
    auto fn =
        reinterpret_cast<void (*)(MemRef1D *)>(dlsym(lib, ("_mlir_ciface_nnc_" + entry).c_str()));
    ASSERT_NE(fn, nullptr) << "no entry " << entry;
    fn(&arg);
  }

private:
  /// The 64-byte aligned start of the arena.
  char *base() {
    auto p = reinterpret_cast<uintptr_t>(arena.data());
    return reinterpret_cast<char *>((p + 63) / 64 * 64);
  }

  void *lib = nullptr;
  std::vector<uint64_t> arena;
  std::map<std::string, int64_t> offsets;
};

/// Outputs match PyTorch to this max |a-b| / max(1, |b|).
constexpr double kForwardTol = 1e-5;

template <size_t N> std::vector<float> vec(const float (&a)[N]) {
  return std::vector<float>(a, a + N);
}

/// (f(x + eps e_i) - f(x - eps e_i)) / (the f32 distance of the two points).
double centralDifference(const std::vector<float> &x, int64_t i, float eps,
                         const std::function<double(const std::vector<float> &)> &f) {
  std::vector<float> up = x, down = x;
  up[i] += eps;
  down[i] -= eps;
  return (f(up) - f(down)) / (double(up[i]) - down[i]);
}

/// A model with one function `@f(%x : <type>) -> <type>` applying `op`
/// (`%y = ...` over `%x`).
std::string unaryModel(const std::string &type, const std::string &op) {
  return "module @m attributes {nn.model} {\n"
         "  func.func @f(%x: " +
         type + " {nn.name = \"x\"}) -> (" + type + " {nn.name = \"y\"}) {\n    " + op +
         "\n    return %y : " + type + "\n  }\n}\n";
}

TEST(GeneratedKernel, ActivationsMatchTorch) {
  const std::pair<const char *, const float *> cases[] = {
      {"gelu", kGeluY}, {"sigmoid", kSigmoidY}, {"tanh", kTanhY}, {"leaky_relu", kLeakyY}};
  for (auto [op, want] : cases) {
    std::string attrs = std::string(op) == "leaky_relu" ? " {slope = 0.1 : f64}" : "";
    Compiled m(unaryModel("tensor<3x7xf32>",
                          std::string("%y = nn.") + op + " %x" + attrs + " : tensor<3x7xf32>"));
    ASSERT_TRUE(m.ok());
    m.set("f.x", vec(kEwX));
    m.run("f");
    std::vector<float> y = m.get<float>("f.y", std::size(kEwX));
    EXPECT_LT(maxRelErr(y.data(), want, y.size()), kForwardTol) << op;
  }
}

TEST(GeneratedKernel, SoftmaxMatchesTorch) {
  for (bool log : {false, true}) {
    Compiled m(unaryModel("tensor<3x7xf32>", std::string("%y = nn.") +
                                                 (log ? "log_softmax" : "softmax") +
                                                 " %x {dim = 1 : i64} : tensor<3x7xf32>"));
    ASSERT_TRUE(m.ok());
    m.set("f.x", vec(kEwX));
    m.run("f");
    std::vector<float> y = m.get<float>("f.y", std::size(kEwX));
    EXPECT_LT(maxRelErr(y.data(), log ? kLogSoftmaxY : kSoftmaxY, y.size()), kForwardTol);
  }
}

/// A training-style module computing cross entropy, the correct count and
/// the gradient of logits `rows` x [C] against labels `rows` (scaled by
/// `seed`): rows {N} for a classifier, {N, T} for a sequence.
std::string crossEntropyModel(std::vector<int64_t> rows, int64_t c) {
  std::string dims;
  for (int64_t d : rows)
    dims += std::to_string(d) + "x";
  std::string x = "tensor<" + dims + std::to_string(c) + "xf32>";
  std::string l = "tensor<" + dims + "i64>";
  return "module @m attributes {nn.model} {\n"
         "  func.func @ce(%x: " +
         x + " {nn.name = \"x\"}, %l: " + l +
         " {nn.name = \"l\"}, %s: tensor<f32> {nn.name = \"s\"}) -> (tensor<f32> {nn.name = "
         "\"loss\"}, tensor<i64> {nn.name = \"correct\"}, " +
         x +
         " {nn.name = \"dx\"}) {\n"
         "    %loss = nn.cross_entropy %x, %l {name = \"loss\"} : " +
         x + ", " + l +
         "\n"
         "    %c = nn.count_correct %x, %l : " +
         x + ", " + l +
         "\n"
         "    %dx = nn.cross_entropy_backward %s, %x, %l : (tensor<f32>, " +
         x + ", " + l + ") -> " + x +
         "\n"
         "    return %loss, %c, %dx : tensor<f32>, tensor<i64>, " +
         x +
         "\n  }\n"
         "  func.func @count(%x: " +
         x + " {nn.name = \"x\"}, %l: " + l +
         " {nn.name = \"l\"}) -> (tensor<i64> {nn.name = \"correct\"}) {\n"
         "    %c = nn.count_correct %x, %l : " +
         x + ", " + l +
         "\n"
         "    return %c : tensor<i64>\n  }\n}\n";
}
std::string crossEntropyModel(int64_t n, int64_t c) {
  return crossEntropyModel(std::vector<int64_t>{n}, c);
}

/// Runs the cross-entropy module: loss, correct count, dlogits.
struct CrossEntropyResult {
  float loss;
  int64_t correct, countAlone;
  std::vector<float> grad;
};
CrossEntropyResult crossEntropy(Compiled &m, const std::vector<float> &logits,
                                const std::vector<int64_t> &labels, float seed = 1.0f) {
  m.set("ce.x", logits);
  m.set("ce.l", labels);
  m.set("ce.s", std::vector<float>{seed});
  m.run("ce");
  m.set("count.x", logits);
  m.set("count.l", labels);
  m.run("count");
  return {m.get<float>("ce.loss", 1)[0], m.get<int64_t>("ce.correct", 1)[0],
          m.get<int64_t>("count.correct", 1)[0], m.get<float>("ce.dx", logits.size())};
}

TEST(GeneratedKernel, CrossEntropyMatchesTorch) {
  Compiled m(crossEntropyModel(5, 7));
  ASSERT_TRUE(m.ok());
  CrossEntropyResult r =
      crossEntropy(m, vec(kCeLogits), {std::begin(kCeLabels), std::end(kCeLabels)});
  EXPECT_NEAR(r.loss, kCeLoss[0], 1e-5);
  EXPECT_EQ(r.correct, kCeCorrect);
  EXPECT_EQ(r.countAlone, kCeCorrect);
}

TEST(GeneratedKernel, CrossEntropyGradientMatchesFiniteDifferences) {
  const int64_t n = 3, c = 4;
  Compiled m(crossEntropyModel(n, c));
  ASSERT_TRUE(m.ok());
  std::vector<float> x = randomVec(n * c, 21, -2.0f, 2.0f);
  std::vector<int64_t> labels = {1, 3, 0};
  // The gradient seed scales the gradient.
  std::vector<float> grad = crossEntropy(m, x, labels, 2.0f).grad;
  for (int64_t i = 0; i < n * c; ++i) {
    double numeric = centralDifference(x, i, 1e-2f, [&](const std::vector<float> &in) {
      return 2.0 * crossEntropy(m, in, labels).loss;
    });
    EXPECT_NEAR(grad[i], numeric, 2e-3) << "element " << i;
  }
}

TEST(GeneratedKernel, CrossEntropyIgnoresOutOfRangeLabels) {
  // A partial batch padded with label -100 (and any label outside [0, C))
  // gives the loss and gradients of the smaller batch, as
  // torch.nn.CrossEntropyLoss(ignore_index=-100) does; such rows never read
  // outside the logits and never count as correct.
  const int64_t c = 4;
  Compiled three(crossEntropyModel(3, c)), two(crossEntropyModel(2, c));
  ASSERT_TRUE(three.ok() && two.ok());
  std::vector<float> logits = randomVec(3 * c, 11);
  logits[2 * c + 1] = 5.0f; // the padding row's argmax is column 1
  CrossEntropyResult part = crossEntropy(two, {logits.begin(), logits.begin() + 2 * c}, {2, 0});
  for (int64_t bad : {-100, 4, 1000000}) {
    CrossEntropyResult full = crossEntropy(three, logits, {2, 0, bad});
    EXPECT_FLOAT_EQ(full.loss, part.loss) << "label " << bad;
    EXPECT_EQ(full.correct, part.correct);
    for (int64_t i = 0; i < 2 * c; ++i)
      EXPECT_FLOAT_EQ(full.grad[i], part.grad[i]);
    for (int64_t i = 2 * c; i < 3 * c; ++i)
      EXPECT_EQ(full.grad[i], 0.0f);
  }
  // No valid label at all: loss 0, gradient 0.
  CrossEntropyResult none = crossEntropy(two, {logits.begin(), logits.begin() + 2 * c}, {-1, 7});
  EXPECT_EQ(none.loss, 0.0f);
  EXPECT_EQ(none.correct, 0);
  for (float g : none.grad)
    EXPECT_EQ(g, 0.0f);
}

TEST(GeneratedKernel, SequenceCrossEntropyMatchesTorch) {
  // Logits [2, 3, 5], labels [2, 3] with one ignored position: PyTorch's
  // F.cross_entropy of the flattened rows, its gradient, and the correct
  // positions (ignored ones never count).
  Compiled m(crossEntropyModel({2, 3}, 5));
  ASSERT_TRUE(m.ok());
  CrossEntropyResult r =
      crossEntropy(m, vec(kSeqCeLogits), {std::begin(kSeqCeLabels), std::end(kSeqCeLabels)});
  EXPECT_NEAR(r.loss, kSeqCeLoss[0], 1e-5);
  EXPECT_EQ(r.correct, kSeqCeCorrect);
  EXPECT_EQ(r.countAlone, kSeqCeCorrect);
  ASSERT_EQ(r.grad.size(), std::size(kSeqCeGrad));
  for (size_t i = 0; i < r.grad.size(); ++i)
    EXPECT_NEAR(r.grad[i], kSeqCeGrad[i], 1e-6) << "element " << i;
}

TEST(GeneratedKernel, MseAndGradient) {
  const std::string t = "tensor<2x5xf32>";
  Compiled m("module @m attributes {nn.model} {\n"
             "  func.func @mse(%p: " +
             t + " {nn.name = \"p\"}, %t: " + t +
             " {nn.name = \"t\"}, %s: tensor<f32> {nn.name = \"s\"}) -> (tensor<f32> {nn.name = "
             "\"loss\"}, " +
             t +
             " {nn.name = \"dp\"}) {\n"
             "    %0 = nn.mse %p, %t {name = \"loss\"} : " +
             t +
             "\n"
             "    %1 = nn.mse_backward %s, %p, %t : (tensor<f32>, " +
             t + ", " + t + ") -> " + t + "\n    return %0, %1 : tensor<f32>, " + t + "\n  }\n}\n");
  ASSERT_TRUE(m.ok());
  std::vector<float> p = randomVec(10, 3), target = randomVec(10, 4);
  m.set("mse.p", p);
  m.set("mse.t", target);
  m.set("mse.s", std::vector<float>{0.5f});
  m.run("mse");
  double sum = 0;
  for (int i = 0; i < 10; ++i)
    sum += double(p[i] - target[i]) * (p[i] - target[i]);
  EXPECT_NEAR(m.get<float>("mse.loss", 1)[0], sum / 10, 1e-6);
  std::vector<float> dp = m.get<float>("mse.dp", 10);
  for (int i = 0; i < 10; ++i)
    EXPECT_NEAR(dp[i], 0.5 * 2 * (p[i] - target[i]) / 10, 1e-6);
}

/// The forward op of each unary backward op, with a finite-difference check
/// of the backward (which reads the forward's input or output).
struct UnaryCase {
  const char *forward, *backward;
  bool fromOutput; ///< the backward reads y (else x)
};

class GeneratedUnaryGrad : public ::testing::TestWithParam<UnaryCase> {};

TEST_P(GeneratedUnaryGrad, MatchesFiniteDifferences) {
  const UnaryCase &c = GetParam();
  const std::string t = "tensor<4x6xf32>";
  std::string saved = c.fromOutput ? "%y" : "%x";
  Compiled m("module @m attributes {nn.model} {\n"
             "  func.func @f(%x: " +
             t + " {nn.name = \"x\"}, %dy: " + t + " {nn.name = \"dy\"}) -> (" + t +
             " {nn.name = \"y\"}, " + t +
             " {nn.name = \"dx\"}) {\n"
             "    %y = nn." +
             c.forward + " %x : " + t +
             "\n"
             "    %dx = nn." +
             c.backward + " %dy, " + saved + " : " + t +
             "\n"
             "    return %y, %dx : " +
             t + ", " + t + "\n  }\n}\n");
  ASSERT_TRUE(m.ok());
  std::vector<float> x = randomVec(24, 8, -2.0f, 2.0f), dy = randomVec(24, 9);
  for (float &v : x) // away from the kinks of relu and leaky_relu
    if (std::fabs(v) < 0.05f)
      v = 0.3f;
  auto forward = [&](const std::vector<float> &in) {
    m.set("f.x", in);
    m.set("f.dy", dy);
    m.run("f");
    return m.get<float>("f.y", 24);
  };
  forward(x);
  std::vector<float> dx = m.get<float>("f.dx", 24);
  for (int i = 0; i < 24; ++i) {
    double numeric = centralDifference(
        x, i, 1e-3f, [&](const std::vector<float> &in) { return double(forward(in)[i]); });
    EXPECT_NEAR(dx[i], dy[i] * numeric, 3e-3) << c.forward << " element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Activations, GeneratedUnaryGrad,
                         ::testing::Values(UnaryCase{"relu", "relu_backward", true},
                                           UnaryCase{"sigmoid", "sigmoid_backward", true},
                                           UnaryCase{"tanh", "tanh_backward", true},
                                           UnaryCase{"gelu", "gelu_backward", false},
                                           UnaryCase{"leaky_relu", "leaky_relu_backward", false}),
                         [](const auto &info) { return std::string(info.param.forward); });

/// Inputs for the transcendental functions: a sweep of [-30, 30] in steps of
/// 0.01 and the edges: zeros, subnormals, tiny and huge values, the ends of
/// f32's exp range, infinities and NaN. `n` values in all.
std::vector<float> mathInputs(int64_t n) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.0f,   -0.0f,  1e-40f,  -1e-40f, 1e-30f, -1e-30f, 1e-7f,
                          -1e-7f, 87.0f,  -87.0f,  88.7f,   -88.7f, 89.0f,   -89.0f,
                          -103.f, -104.f, 1e4f,    -1e4f,   1e30f,  -1e30f,  3e38f,
                          -3e38f, inf,    -inf,    std::numeric_limits<float>::quiet_NaN()};
  for (int64_t i = 0; int64_t(x.size()) < n; ++i)
    x.push_back(-30.0f + 0.01f * float(i % 6001));
  return x;
}

/// Whether `got` (f32, generated) agrees with `want` (computed in f64 with
/// libm): both NaN, both the same infinity, or within `absTol` + `relTol`
/// times |want|.
::testing::AssertionResult closeTo(float got, double want, double absTol, double relTol) {
  if (std::isnan(want) ? std::isnan(got)
                       : std::isinf(want) ? double(got) == want
                                          : std::fabs(double(got) - want) <=
                                                absTol + relTol * std::fabs(want))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << got << ", libm (f64) " << want;
}

/// The activations whose kernels use exp, tanh and erf (approximated by
/// polynomials in the CPU pipeline, not libm calls) agree with libm over the
/// whole f32 range, infinities and NaN included.
TEST(GeneratedKernel, TranscendentalsMatchLibm) {
  const double rt2 = std::sqrt(2.0), rt2pi = std::sqrt(2.0 * M_PI);
  const std::pair<const char *, std::function<double(double)>> cases[] = {
      {"tanh", [](double v) { return std::tanh(v); }},
      {"sigmoid", [](double v) { return 1.0 / (1.0 + std::exp(-v)); }},
      {"gelu", [&](double v) { return 0.5 * v * (1.0 + std::erf(v / rt2)); }},
      {"gelu_backward",
       [&](double v) { return 0.5 * (1.0 + std::erf(v / rt2)) + v * std::exp(-0.5 * v * v) / rt2pi; }},
  };
  const int64_t n = 64 * 100;
  const std::string t = "tensor<64x100xf32>";
  std::vector<float> x = mathInputs(n);
  for (const auto &[op, reference] : cases) {
    bool backward = std::string(op) == "gelu_backward";
    Compiled m(unaryModel(t, backward ? "%y = nn.gelu_backward %x, %x : " + t
                                      : std::string("%y = nn.") + op + " %x : " + t));
    ASSERT_TRUE(m.ok());
    m.set("f.x", x);
    m.run("f");
    std::vector<float> y = m.get<float>("f.y", n);
    int failures = 0;
    for (int64_t i = 0; i < n && failures < 10; ++i) {
      // The absolute error grows with |x| (rounding x in f32 alone moves
      // erf(x/sqrt(2)) by |x| ulp-sized steps; libm's f32 functions err by
      // up to 9e-8 |x| here), and the backward op multiplies by dy (= x).
      double dy = backward ? double(x[i]) : 1.0;
      double scale = std::max(1.0, std::fabs(double(x[i]))) * std::max(1.0, std::fabs(dy));
      ::testing::AssertionResult ok = closeTo(y[i], dy * reference(x[i]), 2e-7 * scale, 4e-6);
      failures += !ok;
      EXPECT_TRUE(ok) << op << "(" << x[i] << ")";
    }
  }
}

/// Softmax and log-softmax (exp and log) over rows with large, tiny and
/// infinite logits agree with libm in f64.
TEST(GeneratedKernel, SoftmaxMatchesLibmOverTheRange) {
  const int64_t rows = 64, cols = 100;
  std::vector<float> x = mathInputs(rows * cols);
  // One NaN or infinity spoils its whole row; keep them in the first row.
  for (int64_t i = 25; i < rows * cols; ++i)
    x[i] = 0.37f * float((i * 7919) % 241) - 44.0f;
  for (bool log : {false, true}) {
    Compiled m(unaryModel("tensor<64x100xf32>",
                          std::string("%y = nn.") + (log ? "log_softmax" : "softmax") +
                              " %x {dim = 1 : i64} : tensor<64x100xf32>"));
    ASSERT_TRUE(m.ok());
    m.set("f.x", x);
    m.run("f");
    std::vector<float> y = m.get<float>("f.y", rows * cols);
    for (int64_t r = 1; r < rows; ++r) {
      double top = -INFINITY, sum = 0.0;
      for (int64_t c = 0; c < cols; ++c)
        top = std::max(top, double(x[r * cols + c]));
      for (int64_t c = 0; c < cols; ++c)
        sum += std::exp(double(x[r * cols + c]) - top);
      for (int64_t c = 0; c < cols; ++c) {
        double z = double(x[r * cols + c]) - top;
        double want = log ? z - std::log(sum) : std::exp(z) / sum;
        EXPECT_TRUE(closeTo(y[r * cols + c], want, 1e-7, 4e-6))
            << (log ? "log_softmax" : "softmax") << " row " << r << " column " << c;
      }
    }
    // The first row holds NaN: all NaN.
    EXPECT_TRUE(std::isnan(y[0])) << (log ? "log_softmax" : "softmax");
  }
}

TEST(GeneratedKernel, SoftmaxGradientMatchesFiniteDifferences) {
  // Over the middle dimension of [2, 3, 4]: L = sum(w * y), dL/dy = w.
  const std::string t = "tensor<2x3x4xf32>";
  for (bool log : {false, true}) {
    std::string fwd = log ? "log_softmax" : "softmax";
    Compiled m("module @m attributes {nn.model} {\n"
               "  func.func @f(%x: " +
               t + " {nn.name = \"x\"}, %w: " + t + " {nn.name = \"w\"}) -> (" + t +
               " {nn.name = \"y\"}, " + t +
               " {nn.name = \"dx\"}) {\n"
               "    %y = nn." +
               fwd + " %x {dim = 1 : i64} : " + t +
               "\n"
               "    %dx = nn." +
               fwd + "_backward %w, %y {dim = 1 : i64} : " + t +
               "\n"
               "    return %y, %dx : " +
               t + ", " + t + "\n  }\n}\n");
    ASSERT_TRUE(m.ok());
    std::vector<float> x = randomVec(24, 12, -2.0f, 2.0f), w = randomVec(24, 13);
    auto loss = [&](const std::vector<float> &in) {
      m.set("f.x", in);
      m.set("f.w", w);
      m.run("f");
      std::vector<float> y = m.get<float>("f.y", 24);
      double l = 0;
      for (int i = 0; i < 24; ++i)
        l += double(w[i]) * y[i];
      return l;
    };
    loss(x);
    std::vector<float> dx = m.get<float>("f.dx", 24);
    for (int i = 0; i < 24; ++i)
      EXPECT_NEAR(dx[i], centralDifference(x, i, 1e-3f, loss), 3e-3) << fwd << " element " << i;
  }
}

/// The documented dropout hash (docs/training.md), written out here as the
/// specification the generated code must follow.
bool keeps(uint64_t seed, uint64_t counter, float p) {
  uint64_t z = (seed * 0x9E3779B97F4A7C15ULL) ^ counter;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * 0x1.0p-24f >= p;
}

TEST(GeneratedKernel, DropoutMaskIsCounterBased) {
  // [40, 25]: the mask of element i is a function of (seed, stream << 40 |
  // i) only, so any tiling or thread count, and a resumed run that passes
  // the same seed, gets the same mask.
  const std::string t = "tensor<40x25xf32>", mt = "tensor<40x25xi8>";
  Compiled m("module @m attributes {nn.model} {\n"
             "  func.func @f(%x: " +
             t +
             " {nn.name = \"x\"}, %s: tensor<i64> {nn.name = \"s\"}, "
             "%dy: " +
             t + " {nn.name = \"dy\"}) -> (" + t + " {nn.name = \"y\"}, " + mt +
             " {nn.name = \"mask\"}, " + t +
             " {nn.name = \"dx\"}) {\n"
             "    %y, %mask = nn.dropout_train %x, %s {p = 0.25 : f64, stream = 2 : i64} : (" +
             t + ", tensor<i64>) -> (" + t + ", " + mt +
             ")\n"
             "    %dx = nn.dropout_backward %dy, %mask {p = 0.25 : f64} : " +
             t + ", " + mt +
             "\n"
             "    return %y, %mask, %dx : " +
             t + ", " + mt + ", " + t + "\n  }\n}\n");
  ASSERT_TRUE(m.ok());
  const int64_t n = 1000;
  std::vector<float> x = randomVec(n, 14), dy = randomVec(n, 15);
  m.set("f.x", x);
  m.set("f.dy", dy);
  int kept = 0;
  for (int64_t seed : {int64_t(99), int64_t(-7)}) {
    m.set("f.s", std::vector<int64_t>{seed});
    m.run("f");
    std::vector<int8_t> mask = m.get<int8_t>("f.mask", n);
    std::vector<float> y = m.get<float>("f.y", n), dx = m.get<float>("f.dx", n);
    for (int64_t i = 0; i < n; ++i) {
      bool keep = keeps(uint64_t(seed), (uint64_t(2) << 40) + uint64_t(i), 0.25f);
      ASSERT_EQ(mask[i], keep ? 1 : 0) << "seed " << seed << " element " << i;
      EXPECT_EQ(y[i], keep ? x[i] * (1.0f / 0.75f) : 0.0f);
      EXPECT_EQ(dx[i], keep ? dy[i] * (1.0f / 0.75f) : 0.0f);
      kept += keep;
    }
  }
  EXPECT_NEAR(kept, 2 * 750, 100);
}

/// LSTM (inference, training forward and backward) and a bidirectional GRU
/// at batch `batch` (NB below): each thread runs the time loop on its own
/// rows.
std::string recurrentModel(int64_t batch) {
  std::string text = R"(module @m attributes {nn.model} {
  func.func @f(%x: tensor<NBx4x3xf32> {nn.name = "x"}, %wih: tensor<20x3xf32> {nn.name = "wih"},
               %whh: tensor<20x5xf32> {nn.name = "whh"}, %bih: tensor<20xf32> {nn.name = "bih"},
               %bhh: tensor<20xf32> {nn.name = "bhh"}, %dy: tensor<NBx5xf32> {nn.name = "dy"},
               %gf: tensor<15x3xf32> {nn.name = "gf"}, %gfh: tensor<15x5xf32> {nn.name = "gfh"},
               %gr: tensor<15x3xf32> {nn.name = "gr"}, %grh: tensor<15x5xf32> {nn.name = "grh"})
      -> (tensor<NBx5xf32> {nn.name = "y"}, tensor<NBx4x3xf32> {nn.name = "dx"},
          tensor<20x5xf32> {nn.name = "dwhh"}, tensor<NBx4x10xf32> {nn.name = "g"},
          tensor<15x5xf32> {nn.name = "dgrh"}) {
    %y = nn.lstm %x, %wih, %whh, %bih, %bhh {hidden_size = 5 : i64} : (tensor<NBx4x3xf32>, tensor<20x3xf32>, tensor<20x5xf32>, tensor<20xf32>, tensor<20xf32>) -> tensor<NBx5xf32>
    %l:2 = nn.lstm_train %x, %wih, %whh, %bih, %bhh {hidden_size = 5 : i64} : (tensor<NBx4x3xf32>, tensor<20x3xf32>, tensor<20x5xf32>, tensor<20xf32>, tensor<20xf32>) -> (tensor<NBx5xf32>, tensor<1x4xNBx30xf32>)
    %lb:5 = nn.lstm_backward %dy, %x, %l#1, %wih, %whh, %bih, %bhh {hidden_size = 5 : i64, needs_input_grad} : (tensor<NBx5xf32>, tensor<NBx4x3xf32>, tensor<1x4xNBx30xf32>, tensor<20x3xf32>, tensor<20x5xf32>, tensor<20xf32>, tensor<20xf32>) -> (tensor<NBx4x3xf32>, tensor<20x3xf32>, tensor<20x5xf32>, tensor<20xf32>, tensor<20xf32>)
    %g:2 = nn.gru_train %x, %gf, %gfh, %gr, %grh {hidden_size = 5 : i64, has_bias = false, bidirectional = true, return_sequences = true} : (tensor<NBx4x3xf32>, tensor<15x3xf32>, tensor<15x5xf32>, tensor<15x3xf32>, tensor<15x5xf32>) -> (tensor<NBx4x10xf32>, tensor<2x4xNBx25xf32>)
    %gb:4 = nn.gru_backward %g#0, %x, %g#1, %gf, %gfh, %gr, %grh {hidden_size = 5 : i64, has_bias = false, bidirectional = true, return_sequences = true} : (tensor<NBx4x10xf32>, tensor<NBx4x3xf32>, tensor<2x4xNBx25xf32>, tensor<15x3xf32>, tensor<15x5xf32>, tensor<15x3xf32>, tensor<15x5xf32>) -> (tensor<15x3xf32>, tensor<15x5xf32>, tensor<15x3xf32>, tensor<15x5xf32>)
    return %y, %lb#0, %lb#2, %g#0, %gb#3 : tensor<NBx5xf32>, tensor<NBx4x3xf32>, tensor<20x5xf32>, tensor<NBx4x10xf32>, tensor<15x5xf32>
  }
}
)";
  for (size_t at; (at = text.find("NB")) != std::string::npos;)
    text.replace(at, 2, std::to_string(batch));
  return text;
}

/// The recurrent layers' results are bitwise the same for 1, 2 and 3
/// threads (the rows a thread runs do not change a row's arithmetic), and
/// every output is written. Batch 13 runs plain GEMMs per step, batch 40
/// packed ones (PackedGemm).
class RecurrentThreads : public ::testing::TestWithParam<int64_t> {};

TEST_P(RecurrentThreads, SameResultsForAnyThreadCount) {
  const int64_t n = GetParam();
  Compiled m(recurrentModel(n));
  ASSERT_TRUE(m.ok());
  const std::pair<const char *, int64_t> inputs[] = {
      {"x", n * 4 * 3}, {"wih", 60}, {"whh", 100}, {"bih", 20}, {"bhh", 20},
      {"dy", n * 5},    {"gf", 45},  {"gfh", 75},  {"gr", 45},  {"grh", 75}};
  uint32_t seed = 1;
  for (auto [name, size] : inputs)
    m.set(std::string("f.") + name, randomVec(size, seed++));
  const std::pair<const char *, int64_t> outputs[] = {
      {"y", n * 5}, {"dx", n * 4 * 3}, {"dwhh", 100}, {"g", n * 4 * 10}, {"dgrh", 75}};
  auto setThreads = m.symbol<void (*)(int32_t)>("nnc_set_num_threads");
  ASSERT_NE(setThreads, nullptr);
  auto run = [&](int32_t threads) {
    setThreads(threads);
    for (auto [name, size] : outputs)
      m.set(std::string("f.") + name, std::vector<float>(size, NAN));
    m.run("f");
    std::vector<float> all;
    for (auto [name, size] : outputs) {
      std::vector<float> v = m.get<float>(std::string("f.") + name, size);
      EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float f) { return std::isfinite(f); }))
          << name;
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  };
  std::vector<float> one = run(1);
  for (int32_t threads : {2, 3}) {
    std::vector<float> more = run(threads);
    EXPECT_EQ(std::memcmp(one.data(), more.data(), one.size() * sizeof(float)), 0)
        << threads << " threads";
  }
  setThreads(0);
}
INSTANTIATE_TEST_SUITE_P(Batches, RecurrentThreads, ::testing::Values(13, 40));

/// Batch 40 (its per-step GEMMs packed) gives each sample the results batch
/// 13 (plain GEMMs) gives it: the rows of a recurrent layer are independent.
TEST(GeneratedKernel, RecurrentPackedGemmsMatchPlain) {
  Compiled big(recurrentModel(40)), small(recurrentModel(13));
  ASSERT_TRUE(big.ok() && small.ok());
  const std::pair<const char *, int64_t> weights[] = {
      {"wih", 60}, {"whh", 100}, {"bih", 20}, {"bhh", 20},
      {"gf", 45},  {"gfh", 75},  {"gr", 45},  {"grh", 75}};
  uint32_t seed = 1;
  for (auto [name, size] : weights) {
    std::vector<float> w = randomVec(size, seed++);
    big.set(std::string("f.") + name, w);
    small.set(std::string("f.") + name, w);
  }
  // Per sample: x [4, 3], dy [5]; the first 13 samples are the small batch.
  std::vector<float> x = randomVec(40 * 12, 20), dy = randomVec(40 * 5, 21);
  big.set("f.x", x);
  big.set("f.dy", dy);
  small.set("f.x", std::vector<float>(x.begin(), x.begin() + 13 * 12));
  small.set("f.dy", std::vector<float>(dy.begin(), dy.begin() + 13 * 5));
  big.run("f");
  small.run("f");
  // The per-sample outputs: y [5], dx [4, 3], g [4, 10].
  for (auto [name, size] : {std::pair<const char *, int64_t>{"y", 5}, {"dx", 12}, {"g", 40}}) {
    std::vector<float> want = small.get<float>(std::string("f.") + name, 13 * size);
    std::vector<float> got = big.get<float>(std::string("f.") + name, 13 * size);
    EXPECT_LT(maxRelErr(got.data(), want.data(), 13 * size), 1e-5) << name;
  }
}

//===----------------------------------------------------------------------===//
// Knowledge distillation: nn.distill_loss and its backward
//===----------------------------------------------------------------------===//

/// A module computing nn.distill_loss of student logits [N, C] against
/// teacher logits [N, C] and labels [N], and its backward scaled by `seed`.
std::string distillModel(int64_t n, int64_t c, double temperature, double alpha) {
  std::string x = "tensor<" + std::to_string(n) + "x" + std::to_string(c) + "xf32>";
  std::string l = "tensor<" + std::to_string(n) + "xi64>";
  std::string attrs = "{alpha = " + std::to_string(alpha) +
                      " : f64, temperature = " + std::to_string(temperature) + " : f64}";
  return "module @m attributes {nn.model} {\n  func.func @kd(%x: " + x +
         " {nn.name = \"x\"}, %t: " + x + " {nn.name = \"t\"}, %l: " + l +
         " {nn.name = \"l\"}, %s: tensor<f32> {nn.name = \"s\"}) -> (tensor<f32> {nn.name = "
         "\"loss\"}, " +
         x + " {nn.name = \"dx\"}) {\n    %loss = nn.distill_loss %x, %t, %l " + attrs + " : (" +
         x + ", " + x + ", " + l + ") -> tensor<f32>\n    %dx = nn.distill_loss_backward %s, %x, " +
         "%t, %l " + attrs + " : (tensor<f32>, " + x + ", " + x + ", " + l + ") -> " + x +
         "\n    return %loss, %dx : tensor<f32>, " + x + "\n  }\n}\n";
}

struct DistillResult {
  float loss;
  std::vector<float> grad;
};
DistillResult distill(Compiled &m, const std::vector<float> &x, const std::vector<float> &t,
                      const std::vector<int64_t> &labels, float seed = 1.0f) {
  m.set("kd.x", x);
  m.set("kd.t", t);
  m.set("kd.l", labels);
  m.set("kd.s", std::vector<float>{seed});
  m.run("kd");
  return {m.get<float>("kd.loss", 1)[0], m.get<float>("kd.dx", x.size())};
}

/// log softmax(row / temperature), in double.
std::vector<double> logSoftmax(const float *row, int64_t c, double temperature) {
  double max = *std::max_element(row, row + c), sum = 0;
  for (int64_t j = 0; j < c; ++j)
    sum += std::exp((row[j] - max) / temperature);
  std::vector<double> out(c);
  for (int64_t j = 0; j < c; ++j)
    out[j] = (row[j] - max) / temperature - std::log(sum);
  return out;
}

/// The closed form in double (Hinton et al.; KLDivLoss(reduction='batchmean')
/// over the V rows with a valid label): loss = alpha T^2 KL(p || q) / V +
/// (1 - alpha) CE / V and dL/ds = alpha T (q - p) / V + (1 - alpha)
/// (softmax(s) - onehot) / V, p = softmax(t/T), q = softmax(s/T).
std::pair<double, std::vector<double>> distillReference(const std::vector<float> &x,
                                                        const std::vector<float> &t,
                                                        const std::vector<int64_t> &labels,
                                                        double temperature, double alpha) {
  int64_t n = int64_t(labels.size()), c = int64_t(x.size()) / n, valid = 0;
  for (int64_t label : labels)
    valid += label >= 0 && label < c;
  double loss = 0;
  std::vector<double> grad(x.size(), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= c)
      continue;
    std::vector<double> logQ = logSoftmax(&x[i * c], c, temperature);
    std::vector<double> logP = logSoftmax(&t[i * c], c, temperature);
    std::vector<double> logS = logSoftmax(&x[i * c], c, 1.0);
    for (int64_t j = 0; j < c; ++j) {
      double p = std::exp(logP[j]), q = std::exp(logQ[j]);
      loss += alpha * temperature * temperature * p * (logP[j] - logQ[j]) / valid;
      grad[i * c + j] =
          (alpha * temperature * (q - p) + (1 - alpha) * (std::exp(logS[j]) - (j == labels[i]))) /
          valid;
    }
    loss -= (1 - alpha) * logS[labels[i]] / valid;
  }
  return {loss, grad};
}

TEST(GeneratedKernel, DistillLossMatchesClosedForm) {
  const int64_t n = 4, c = 5;
  std::vector<float> x = randomVec(n * c, 31, -3.0f, 3.0f);
  std::vector<float> t = randomVec(n * c, 32, -6.0f, 6.0f);
  std::vector<int64_t> labels = {4, 0, 2, 2};
  for (double temperature : {1.0, 4.0, 0.5})
    for (double alpha : {0.0, 0.5, 0.9, 1.0}) {
      Compiled m(distillModel(n, c, temperature, alpha));
      ASSERT_TRUE(m.ok());
      DistillResult r = distill(m, x, t, labels);
      auto [loss, grad] = distillReference(x, t, labels, temperature, alpha);
      // f32 inputs, f64 accumulation: within 1e-5 of the closed form.
      EXPECT_NEAR(r.loss, loss, 1e-5 * std::max(1.0, std::abs(loss)))
          << "T " << temperature << " alpha " << alpha;
      for (int64_t i = 0; i < n * c; ++i)
        EXPECT_NEAR(r.grad[i], grad[i], 1e-6)
            << "T " << temperature << " alpha " << alpha << " element " << i;
    }
}

TEST(GeneratedKernel, DistillLossGradientMatchesFiniteDifferences) {
  const int64_t n = 3, c = 4;
  std::vector<float> x = randomVec(n * c, 41, -2.0f, 2.0f);
  std::vector<float> t = randomVec(n * c, 42, -4.0f, 4.0f);
  std::vector<int64_t> labels = {1, 3, 0};
  for (double alpha : {0.0, 0.7, 1.0}) {
    Compiled m(distillModel(n, c, 3.0, alpha));
    ASSERT_TRUE(m.ok());
    // The gradient seed scales the gradient.
    std::vector<float> grad = distill(m, x, t, labels, 2.0f).grad;
    for (int64_t i = 0; i < n * c; ++i) {
      double numeric = centralDifference(x, i, 1e-2f, [&](const std::vector<float> &in) {
        return 2.0 * distill(m, in, t, labels).loss;
      });
      EXPECT_NEAR(grad[i], numeric, 2e-3) << "alpha " << alpha << " element " << i;
    }
  }
}

TEST(GeneratedKernel, DistillLossAtAlphaZeroIsCrossEntropy) {
  // alpha = 0: the loss and gradient of the ordinary training step, bit for
  // bit, whatever the teacher says.
  const int64_t n = 3, c = 4;
  Compiled kd(distillModel(n, c, 4.0, 0.0)), ce(crossEntropyModel(n, c));
  ASSERT_TRUE(kd.ok() && ce.ok());
  std::vector<float> x = randomVec(n * c, 51, -2.0f, 2.0f);
  std::vector<int64_t> labels = {2, 0, 3};
  CrossEntropyResult want = crossEntropy(ce, x, labels, 0.5f);
  DistillResult got = distill(kd, x, randomVec(n * c, 52), labels, 0.5f);
  EXPECT_EQ(got.loss, want.loss);
  EXPECT_EQ(got.grad, want.grad);
}

TEST(GeneratedKernel, DistillLossIgnoresOutOfRangeLabels) {
  // A padding row (label -100) adds nothing: the loss and gradient of the
  // smaller batch, gradient 0 in the padding row, for both terms.
  const int64_t c = 4;
  Compiled three(distillModel(3, c, 2.0, 0.6)), two(distillModel(2, c, 2.0, 0.6));
  ASSERT_TRUE(three.ok() && two.ok());
  std::vector<float> x = randomVec(3 * c, 61, -2.0f, 2.0f), t = randomVec(3 * c, 62, -3.0f, 3.0f);
  DistillResult part =
      distill(two, {x.begin(), x.begin() + 2 * c}, {t.begin(), t.begin() + 2 * c}, {1, 3});
  DistillResult full = distill(three, x, t, {1, 3, -100});
  EXPECT_FLOAT_EQ(full.loss, part.loss);
  for (int64_t i = 0; i < 2 * c; ++i)
    EXPECT_FLOAT_EQ(full.grad[i], part.grad[i]);
  for (int64_t i = 2 * c; i < 3 * c; ++i)
    EXPECT_EQ(full.grad[i], 0.0f);
}

} // namespace
