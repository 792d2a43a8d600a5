//===- Predict.cpp - nnc predict: classify PNG images ---------------------===//
//
//   nnc predict model.nn --weights W.safetensors image.png... [--labels a,b,...]
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "runtime/Train.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand predictCmd("predict", "Classify PNG images with trained weights");

ModelOptions model(predictCmd);
ThreadsOption threads(predictCmd);
DeviceOptions device(predictCmd, /*withArch=*/false);
cl::list<std::string> imagePaths(cl::Positional, cl::desc("<image.png>..."),
                                 cl::sub(predictCmd), cl::cat(category()));
cl::opt<std::string> weightsPath("weights", cl::desc("The trained weights (safetensors)"),
                                 cl::sub(predictCmd), cl::cat(category()));
cl::opt<bool> resizeImages("resize",
                           cl::desc("Convert and resize PNGs of another size or colour "
                                    "type to the model's"),
                           cl::sub(predictCmd), cl::cat(category()));
cl::opt<std::string> classNames("labels",
                                cl::desc("Comma-separated class names "
                                         "(default: Fashion-MNIST's for 10 classes)"),
                                cl::sub(predictCmd), cl::cat(category()));
} // namespace

/// `nnc predict`: the class of each PNG image.
static int runPredict() {
  if (!model.check() || !threads.check() || !device.checkRunnable())
    return 1;
  if (weightsPath.empty() || imagePaths.empty())
    return fail("nnc predict needs --weights FILE and at least one image");
  // One batch holds all images.
  model.impliedBatch = int64_t(imagePaths.size());
  if (model.batchFor(0) < int64_t(imagePaths.size()))
    return fail("--batch must be at least the number of images");
  std::unique_ptr<LoadedModel> loaded =
      loadModelWithWeights(model, weightsPath, threads.value(), device.value());
  if (!loaded)
    return 1;
  nnc::rt::Model &m = *loaded->model;
  const nnc::rt::Region *in, *out;
  if (failed(forwardIO(m, in, out)))
    return 1;
  if (out->shape.size() != 2 || in->dtype != "f32")
    return fail("nnc predict needs an image classifier (f32 images in, [N, classes] out)");
  // Rows beyond the images would take part in a softmax over the batch.
  if (std::string layer = nnc::rt::batchCoupledLayer(m);
      !layer.empty() && in->shape[0] != int64_t(imagePaths.size()))
    return fail("layer '" + layer +
                "' normalizes over the batch dimension; run with --batch " +
                Twine(imagePaths.size()) + " (the number of images)");
  int64_t perImage = in->numElements() / in->shape[0], classes = out->shape[1];
  for (auto [i, path] : llvm::enumerate(imagePaths)) {
    auto pixels = nnc::rt::loadImage(path, loaded->spec, {}, {resizeImages});
    if (!pixels)
      return fail(pixels.message());
    std::memcpy(m.dataAs<float>(*in) + i * perImage, pixels->data(),
                perImage * sizeof(float));
  }
  if (auto st = m.run("forward"); st.failed())
    return fail(st.message());
  SmallVector<StringRef> names;
  StringRef(classNames).split(names, ',');
  static const char *const fashion[] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                        "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                        "Bag",         "Ankle boot"};
  if (classNames.empty() && classes == 10)
    names.assign(std::begin(fashion), std::end(fashion));
  for (auto [i, path] : llvm::enumerate(imagePaths)) {
    const float *row = m.dataAs<float>(*out) + i * classes;
    int64_t best = std::max_element(row, row + classes) - row;
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c)
      sum += std::exp(double(row[c]) - row[best]);
    outs() << formatv("{0}: class {1}", path, best);
    if (best < int64_t(names.size()) && !names[best].empty())
      outs() << " (" << names[best] << ")";
    outs() << formatv("  p = {0:F3}\n", 1.0 / sum);
  }
  return 0;
}

static Command registration(predictCmd, runPredict);
