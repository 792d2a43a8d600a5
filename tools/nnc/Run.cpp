//===- Run.cpp - nnc run: the forward pass on a batch from a file ---------===//
//
//   nnc run model.nn --weights W.safetensors --inputs X.safetensors [--check]
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "runtime/Checkpoint.h"
#include "runtime/Train.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstring>

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand runCmd("run", "Run the forward pass on inputs from a safetensors file");

ModelOptions model(runCmd);
ThreadsOption threads(runCmd);
cl::opt<std::string> weightsPath("weights", cl::desc("The weights (safetensors)"),
                                 cl::sub(runCmd), cl::cat(category()));
cl::opt<std::string> inputsPath("inputs",
                                cl::desc("safetensors file whose '__input' tensor is the batch"),
                                cl::sub(runCmd), cl::cat(category()));
cl::opt<bool> checkOutput("check",
                          cl::desc("Compare the output with the inputs file's '__output'"),
                          cl::sub(runCmd), cl::cat(category()));
cl::opt<double> tolerance("tolerance", cl::desc("--check: max |difference| / (1 + |expected|)"),
                          cl::init(1e-4), cl::sub(runCmd), cl::cat(category()));
} // namespace

/// Copies tensor `name` of `ckpt` into `region`, checking dtype and shape.
static LogicalResult copyTensor(const nnc::rt::Checkpoint &ckpt, StringRef name,
                                nnc::rt::Model &m, const nnc::rt::Region &region) {
  int64_t index = ckpt.find(name.str());
  if (index < 0) {
    fail(ckpt.path + ": has no tensor '" + name + "'");
    return failure();
  }
  const nnc::TensorEntry &t = ckpt.tensors[index];
  std::vector<uint64_t> shape(region.shape.begin(), region.shape.end());
  bool dtypeOk = (region.dtype == "f32" && t.dtype == nnc::TensorDType::F32) ||
                 (region.dtype == "i64" && t.dtype == nnc::TensorDType::I64);
  if (!dtypeOk || t.shape != shape) {
    fail(ckpt.path + ": tensor '" + name + "' is " + nnc::safetensorsDTypeName(t.dtype) +
         " " + nnc::rt::formatShape(t.shape) + ", the model expects " + region.dtype + " " +
         nnc::rt::formatShape(shape));
    return failure();
  }
  std::memcpy(m.data(region), ckpt.tensorData(index), region.bytes);
  return success();
}

/// `nnc run`: weights and an input batch from safetensors files, the forward
/// output printed (or, with --check, compared with the file's `__output`).
static int runRun() {
  if (weightsPath.empty() || inputsPath.empty())
    return fail("nnc run needs --weights FILE and --inputs FILE");
  std::unique_ptr<Session> session = Session::open(model);
  if (!session)
    return 1;
  std::unique_ptr<LoadedModel> loaded = session->buildAndLoad({model}, threads.value());
  if (!loaded)
    return 1;
  nnc::rt::Model &m = *loaded->model;
  auto weights = nnc::rt::readCheckpoint(weightsPath);
  if (!weights)
    return fail(weights.message());
  auto inputs = nnc::rt::readCheckpoint(inputsPath);
  if (!inputs)
    return fail(inputs.message());
  const nnc::rt::Region *in, *out;
  if (failed(forwardIO(m, in, out)))
    return 1;
  for (const nnc::rt::Region &r : m.regions())
    if ((r.kind == "param" || r.kind == "buffer") &&
        failed(copyTensor(*weights, r.name, m, r)))
      return 1;
  if (failed(copyTensor(*inputs, "__input", m, *in)))
    return 1;
  if (auto st = m.run("forward"); st.failed())
    return fail(st.message());
  const float *y = m.dataAs<float>(*out);
  int64_t n = out->numElements();
  if (!checkOutput) {
    for (int64_t i = 0; i < n; ++i)
      outs() << formatv("{0:g}", y[i]) << (i + 1 == n ? "\n" : " ");
    return 0;
  }
  int64_t index = inputs->find("__output");
  if (index < 0 || inputs->sizes[index] != uint64_t(out->bytes))
    return fail(inputsPath + ": no '__output' tensor of " + Twine(n) + " f32 values");
  std::vector<float> expected(n);
  std::memcpy(expected.data(), inputs->tensorData(index), out->bytes);
  double worst = 0;
  for (int64_t i = 0; i < n; ++i)
    worst = std::max(worst, std::abs(double(y[i]) - expected[i]) / (1 + std::abs(expected[i])));
  outs() << formatv("{0}: {1} outputs, max |difference| / (1 + |expected|) = {2:e}\n",
                    m.name(), n, worst);
  if (worst > tolerance)
    return fail(formatv("the output differs from the expected one by {0:e} (tolerance {1:e})",
                        worst, double(tolerance))
                    .str());
  outs() << "outputs match\n";
  return 0;
}

static Command registration(runCmd, runRun);
