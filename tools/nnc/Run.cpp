//===- Run.cpp - nnc run: the forward pass on a batch from a file ---------===//
//
//   nnc run model.nn --weights W.safetensors --inputs X.safetensors [--check]
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "runtime/Checkpoint.h"
#include "runtime/Train.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand runCmd("run", "Run the forward pass on inputs from a safetensors file");

ModelOptions model(runCmd);
ThreadsOption threads(runCmd);
DeviceOptions device(runCmd, /*withArch=*/false);
cl::opt<std::string> weightsPath("weights", cl::desc("The weights (safetensors)"),
                                 cl::sub(runCmd), cl::cat(category()));
cl::opt<std::string> inputsPath("inputs",
                                cl::desc("safetensors file whose '__input' tensor is the batch"),
                                cl::sub(runCmd), cl::cat(category()));
cl::opt<bool> checkOutput("check",
                          cl::desc("Compare the output with the inputs file's '__output'"),
                          cl::sub(runCmd), cl::cat(category()));
cl::opt<std::string> outputFilename(
    "o",
    cl::desc("Write the output batch as the '__output' tensor of a safetensors file "
             "(instead of printing it)"),
    cl::value_desc("out.safetensors"), cl::sub(runCmd), cl::cat(category()));
cl::opt<double> tolerance("tolerance",
                          cl::desc("--check: max |difference| / (1 + |expected|), >= 0"),
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
  // Region dtypes ("f32", "i32", ...) are the safetensors names in lower case.
  bool dtypeOk =
      StringRef(nnc::safetensorsDTypeName(t.dtype)).lower() == region.dtype;
  if (!dtypeOk || t.shape != shape) {
    std::string hint;
    // Only the batch differs: say which --batch fits the file.
    if (dtypeOk && !shape.empty() && t.shape.size() == shape.size() &&
        std::equal(shape.begin() + 1, shape.end(), t.shape.begin() + 1))
      hint = formatv("; run with --batch {0}", t.shape[0]).str();
    fail(ckpt.path + ": tensor '" + name + "' is " + nnc::safetensorsDTypeName(t.dtype) +
         " " + nnc::rt::formatShape(t.shape) + ", the model expects " + region.dtype + " " +
         nnc::rt::formatShape(shape) + hint);
    return failure();
  }
  std::memcpy(m.data(region), ckpt.tensorData(index), region.bytes);
  return success();
}

/// Token ids outside the model's vocabulary are an error (the generated
/// embedding lookup would clamp them into the table).
static LogicalResult checkTokenIds(nnc::rt::Model &m, const nnc::rt::Region &in) {
  auto spec = nnc::rt::sampleSpecOf(m);
  if (!spec || !spec->tokenInputs || spec->vocabSize <= 0)
    return success();
  for (int64_t i = 0, n = in.numElements(); i < n; ++i) {
    int64_t id = in.dtype == "i32" ? int64_t(m.dataAs<int32_t>(in)[i]) : m.dataAs<int64_t>(in)[i];
    if (id < 0 || id >= spec->vocabSize) {
      fail(inputsPath + ": token id " + Twine(id) + " at index " + Twine(i) +
           " of '__input' is out of range for a vocabulary of " + Twine(spec->vocabSize));
      return failure();
    }
  }
  return success();
}

/// Prints one row per sample with every value (%.9g: the float exactly), and
/// the argmax of a classifier's row.
static void printRows(const float *y, const nnc::rt::Region &out) {
  int64_t rows = out.shape.empty() ? 1 : out.shape[0];
  int64_t perRow = rows ? out.numElements() / rows : 0;
  bool classifier = out.shape.size() == 2 && perRow > 1;
  char value[32];
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = y + r * perRow;
    outs() << r << ":";
    for (int64_t i = 0; i < perRow; ++i) {
      std::snprintf(value, sizeof(value), " %.9g", double(row[i]));
      outs() << value;
    }
    if (classifier)
      outs() << "  (argmax " << (std::max_element(row, row + perRow) - row) << ")";
    outs() << "\n";
  }
}

/// `nnc run`: weights and an input batch from safetensors files, the forward
/// output printed (or, with --check, compared with the file's `__output`; with
/// -o, written as the `__output` tensor of a safetensors file).
static int runRun() {
  if (!model.check() || !threads.check() || !checkReal(tolerance, 0, /*strict=*/false) ||
      !device.checkRunnable())
    return 1;
  if (weightsPath.empty() || inputsPath.empty())
    return fail("nnc run needs --weights FILE and --inputs FILE");
  auto inputs = nnc::rt::readCheckpoint(inputsPath);
  if (!inputs)
    return fail(inputs.message());
  // Without --batch, the batch is the input file's.
  int64_t inputIndex = inputs->find("__input");
  if (inputIndex >= 0 && !inputs->tensors[inputIndex].shape.empty())
    model.impliedBatch = int64_t(inputs->tensors[inputIndex].shape[0]);
  BuildRequest request{model, nullptr, false, std::nullopt, device.value()};
  // int8 weights (nnc quantize) build the int8 model of their table.
  if (isQuantizedWeights(weightsPath))
    request.quantizedWeights = weightsPath;
  std::unique_ptr<LoadedModel> loaded = loadModel(request, threads.value());
  if (!loaded)
    return 1;
  nnc::rt::Model &m = *loaded->model;
  auto weights = nnc::rt::readCheckpoint(weightsPath);
  if (!weights)
    return fail(weights.message());
  const nnc::rt::Region *in, *out;
  if (failed(forwardIO(m, in, out)))
    return 1;
  if (out->dtype != "f32")
    return fail("nnc run prints f32 outputs; the model's output is " + out->dtype);
  for (const nnc::rt::Region &r : m.regions())
    if ((r.kind == "param" || r.kind == "buffer") &&
        failed(copyTensor(*weights, r.name, m, r)))
      return 1;
  m.hostChanged();
  if (failed(copyTensor(*inputs, "__input", m, *in)) || failed(checkTokenIds(m, *in)))
    return 1;
  if (auto st = m.run("forward"); st.failed())
    return fail(st.message());
  const float *y = m.dataAs<float>(*out);
  int64_t n = out->numElements();
  if (outputFilename.getNumOccurrences()) {
    std::vector<uint64_t> shape(out->shape.begin(), out->shape.end());
    if (auto st = nnc::rt::writeCheckpoint(outputFilename,
                                           {{"__output", nnc::TensorDType::F32, shape, y}});
        st.failed())
      return fail(st.message());
  }
  if (!checkOutput) {
    if (!outputFilename.getNumOccurrences())
      printRows(y, *out);
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
