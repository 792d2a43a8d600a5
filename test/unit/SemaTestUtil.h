//===- SemaTestUtil.h - Parse and analyze model text in tests ---*- C++ -*-===//
//
// Shared by the tests that run Sema on model source (SemaTest,
// PruneChannelsTest).
//
//===----------------------------------------------------------------------===//

#ifndef NNC_TEST_UNIT_SEMATESTUTIL_H
#define NNC_TEST_UNIT_SEMATESTUTIL_H

#include "frontend/Parser.h"
#include "frontend/Sema.h"

#include "llvm/Support/MemoryBuffer.h"

#include "gtest/gtest.h"

namespace nnc::test {

/// Parses and analyzes `source`; diagnostics go to `diagText`.
struct Analyzed {
  llvm::SourceMgr srcMgr;
  std::string diagText;
  std::optional<std::vector<ModelGraph>> graphs;

  Analyzed(llvm::StringRef source, std::vector<std::string> overrides = {},
           SemaLimits limits = SemaLimits()) {
    srcMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(source, "t.nn"), llvm::SMLoc());
    llvm::raw_string_ostream os(diagText);
    DiagEngine diag(srcMgr, os);
    auto module = parseModelFile(diag);
    if (module)
      graphs = analyzeModule(*module, "", overrides, diag, limits);
  }
  const ModelGraph &graph() const { return graphs->front(); }
  const Layer &layer(llvm::StringRef name) const {
    for (const Layer &l : graph().layers)
      if (l.name == name)
        return l;
    ADD_FAILURE() << "no layer " << name.str();
    return graph().layers.front();
  }
  Shape shapeOf(llvm::StringRef layerName) const {
    return graph().values[layer(layerName).result].shape;
  }
};

inline int64_t numel(const Shape &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

inline int64_t trainableCount(const ModelGraph &g) {
  int64_t total = 0;
  for (const ParamInfo &p : g.params)
    if (!p.buffer)
      total += numel(p.shape);
  return total;
}

/// LeNet-5 as in examples/lenet.nn, without its train section.
inline const char *const kLeNet = R"(
model lenet(classes = 10) {
  input image: f32[N, 1, 28, 28]
  x = conv2d(image, out=6, kernel=5, padding=2) |> relu |> maxpool2d(2)
  x = conv2d(x, out=16, kernel=5) |> relu |> maxpool2d(2)
  x = flatten(x) |> linear(120) |> relu |> linear(84) |> relu
  output logits = linear(x, classes)
}
)";

} // namespace nnc::test

#endif // NNC_TEST_UNIT_SEMATESTUTIL_H
