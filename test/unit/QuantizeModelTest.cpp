//===- QuantizeModelTest.cpp - quantization table and quantized weights ---===//
//
// Part of nnc. runtime/QuantizeModel.h: batchnorm folding against the
// unfolded conv + batchnorm computed in double (bound: the folded f32 weights
// and bias are each rounded once, so the folded conv is within 2^-23 of the
// accumulated magnitude), the table's JSON round trip and its validation
// errors, the quantized tensor set (names, dtypes, folded and dropped
// tensors), and the safetensors file round trip.
//
//===----------------------------------------------------------------------===//

#include "runtime/QuantizeModel.h"
#include "runtime/Checkpoint.h"
#include "test/unit/RuntimeTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace nnc::rt;
using nnc::rt::test::ScratchDir;

namespace {

std::vector<float> uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(gen);
  return v;
}

/// conv2d of x [N,C,H,W] with w [O,C,3,3], padding 1, stride 1, in double;
/// `mag` gets sum |x| |w| + |b| per output.
template <typename WT>
std::vector<double> conv3x3(const std::vector<float> &x, const WT *w, const WT *b, int N, int C,
                            int H, int W, int O, std::vector<double> *mag = nullptr) {
  std::vector<double> y(size_t(N) * O * H * W);
  if (mag)
    mag->assign(y.size(), 0.0);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o)
      for (int i = 0; i < H; ++i)
        for (int j = 0; j < W; ++j) {
          double acc = b ? double(b[o]) : 0.0, m = b ? std::fabs(double(b[o])) : 0.0;
          for (int c = 0; c < C; ++c)
            for (int ki = 0; ki < 3; ++ki)
              for (int kj = 0; kj < 3; ++kj) {
                int ii = i + ki - 1, jj = j + kj - 1;
                if (ii < 0 || ii >= H || jj < 0 || jj >= W)
                  continue;
                double p = double(x[((n * C + c) * H + ii) * W + jj]) *
                           double(w[((o * C + c) * 3 + ki) * 3 + kj]);
                acc += p;
                m += std::fabs(p);
              }
          size_t k = ((size_t(n) * O + o) * H + i) * W + j;
          y[k] = acc;
          if (mag)
            (*mag)[k] = m;
        }
  return y;
}

void checkFolding(bool withBias) {
  const int N = 2, C = 3, H = 6, W = 5, O = 4;
  const double eps = 1e-3;
  std::vector<float> x = uniform(N * C * H * W, 1, -1, 1), w = uniform(O * C * 9, 2, -0.5, 0.5),
                     b = uniform(O, 3, -1, 1), gamma = uniform(O, 4, 0.5, 2),
                     beta = uniform(O, 5, -1, 1), mean = uniform(O, 6, -0.5, 0.5),
                     var = uniform(O, 7, 0.001f, 0.05f); // eps matters at this size
  // Unfolded: batchnorm(conv(x) + b) in double.
  std::vector<double> y = conv3x3(x, w.data(), withBias ? b.data() : nullptr, N, C, H, W, O);
  for (size_t k = 0; k < y.size(); ++k) {
    int o = int(k / (H * W)) % O;
    y[k] = (y[k] - mean[o]) / std::sqrt(double(var[o]) + eps) * gamma[o] + beta[o];
  }
  std::vector<float> wf, bf;
  foldBatchNorm(w.data(), O, C * 9, withBias ? b.data() : nullptr, gamma.data(), beta.data(),
                mean.data(), var.data(), eps, wf, bf);
  std::vector<double> mag;
  std::vector<double> z = conv3x3(x, wf.data(), bf.data(), N, C, H, W, O, &mag);
  for (size_t k = 0; k < y.size(); ++k)
    ASSERT_LE(std::fabs(z[k] - y[k]), 1.2e-7 * mag[k] + 1e-12)
        << "at " << k << ": folded " << z[k] << ", unfolded " << y[k];
}

TEST(QuantizeModelTest, FoldingMatchesConvThenBatchNorm) {
  checkFolding(true);
  checkFolding(false);
}

TEST(QuantizeModelTest, FoldingFormula) {
  // One channel, exact in binary: s = 2 / sqrt(3 + 1) = 1.
  const float w[2] = {0.5f, -1.5f}, b = 3.0f, gamma = 2.0f, beta = 0.25f, mean = 1.0f, var = 3.0f;
  std::vector<float> wf, bf;
  foldBatchNorm(w, 1, 2, &b, &gamma, &beta, &mean, &var, 1.0, wf, bf);
  EXPECT_EQ(wf, (std::vector<float>{0.5f, -1.5f}));
  EXPECT_EQ(bf, (std::vector<float>{2.25f}));
}

QuantizationTable sampleTable() {
  QuantizationTable t;
  t.method = "entropy";
  t.f32Layers = {"first", "fc3"};
  t.layers.push_back({"conv2", std::string("bn2"), {0.0123f, 7, 0, 255}});
  t.layers.push_back({"conv3", std::nullopt, {3.0e-7f, 0, -127, 127}});
  t.layers.push_back({"fc1", std::nullopt, {1.0f / 3.0f, 255, 0, 255}});
  return t;
}

void expectSameTable(const QuantizationTable &a, const QuantizationTable &b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.f32Layers, b.f32Layers);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    EXPECT_EQ(a.layers[i].layer, b.layers[i].layer);
    EXPECT_EQ(a.layers[i].batchnorm, b.layers[i].batchnorm);
    // Bitwise: the scale must read back exactly.
    EXPECT_EQ(std::memcmp(&a.layers[i].input.scale, &b.layers[i].input.scale, 4), 0)
        << a.layers[i].input.scale << " vs " << b.layers[i].input.scale;
    EXPECT_EQ(a.layers[i].input.zeroPoint, b.layers[i].input.zeroPoint);
    EXPECT_EQ(a.layers[i].input.qmin, b.layers[i].input.qmin);
    EXPECT_EQ(a.layers[i].input.qmax, b.layers[i].input.qmax);
  }
}

TEST(QuantizeModelTest, TableJsonRoundTrip) {
  QuantizationTable t = sampleTable();
  std::string json = quantizationTableToJson(t);
  Result<QuantizationTable> back = parseQuantizationTable(json, "t.json");
  ASSERT_TRUE(back.ok()) << back.message();
  expectSameTable(t, *back);
  EXPECT_EQ(back->find("fc1"), &back->layers[2]);
  EXPECT_EQ(back->find("fc3"), nullptr);
  EXPECT_NE(json.find("\"batchnorm\":null"), std::string::npos) << json;
}

TEST(QuantizeModelTest, ParsesTheDesignExample) {
  Result<QuantizationTable> t = parseQuantizationTable(
      R"({"version":1, "method":"entropy", "f32_layers":["fc3"],
          "layers":[{"layer":"conv1","batchnorm":"bn1",
                     "input":{"scale":0.0123,"zero_point":0,"qmin":0,"qmax":255}},
                    {"layer":"fc1","batchnorm":null,
                     "input":{"scale":0.5,"zero_point":-3,"qmin":-127,"qmax":127}}]})",
      "t.json");
  ASSERT_TRUE(t.ok()) << t.message();
  ASSERT_EQ(t->layers.size(), 2u);
  EXPECT_EQ(t->layers[0].batchnorm, std::optional<std::string>("bn1"));
  EXPECT_EQ(t->layers[0].input.scale, 0.0123f);
  EXPECT_EQ(t->layers[1].batchnorm, std::nullopt);
  EXPECT_EQ(t->layers[1].input.zeroPoint, -3);
  EXPECT_EQ(t->f32Layers, std::vector<std::string>{"fc3"});
}

TEST(QuantizeModelTest, MalformedTables) {
  auto layer = [](const std::string &input, const std::string &extra = "") {
    return R"({"version":1,"method":"minmax","layers":[{"layer":"c1")" + extra + R"(,"input":)" +
           input + "}]}";
  };
  const std::string ok = R"({"scale":0.5,"zero_point":0,"qmin":0,"qmax":255})";
  ASSERT_TRUE(parseQuantizationTable(layer(ok), "t.json").ok());
  const std::pair<std::string, std::string> cases[] = {
      {"{\"version\":1,", "t.json: at byte"},
      {"[]", "t.json: table: must be a JSON object"},
      {R"({"version":2,"method":"m","layers":[]})", "t.json: version: must be 1"},
      {R"({"method":"m","layers":[]})", "t.json: version: must be 1"},
      {R"({"version":1,"layers":[]})", "t.json: method: must be a string"},
      {R"({"version":1,"method":"m"})", "t.json: layers: must be an array"},
      {R"({"version":1,"method":"m","layers":[],"extra":1})",
       "t.json: table: unknown key \"extra\""},
      {R"({"version":1,"method":"m","layers":[],"f32_layers":[3]})",
       "t.json: f32_layers[0]: must be a non-empty string"},
      {R"({"version":1,"method":"m","layers":[7]})", "t.json: layers[0]: must be an object"},
      {R"({"version":1,"method":"m","layers":[{"input":{}}]})",
       "t.json: layers[0]: \"layer\" must be a non-empty string"},
      {layer(ok, R"(,"batchnorm":5)"), "layers[0].batchnorm: must be a non-empty string or null"},
      {layer(ok, R"(,"bias":1)"), "t.json: layers[0]: unknown key \"bias\""},
      {layer("3"), "t.json: layers[0]: \"input\" must be an object"},
      {layer(R"({"scale":0,"zero_point":0,"qmin":0,"qmax":255})"),
       "layers[0].input.scale: must be a positive finite number"},
      {layer(R"({"scale":-1,"zero_point":0,"qmin":0,"qmax":255})"),
       "layers[0].input.scale: must be a positive finite number"},
      {layer(R"({"scale":1e300,"zero_point":0,"qmin":0,"qmax":255})"),
       "layers[0].input.scale: must be a positive finite number"},
      {layer(R"({"scale":"1","zero_point":0,"qmin":0,"qmax":255})"),
       "layers[0].input.scale: must be a positive finite number"},
      {layer(R"({"scale":1,"qmin":0,"qmax":255})"),
       "t.json: layers[0].input: missing \"zero_point\""},
      {layer(R"({"scale":1,"zero_point":1.5,"qmin":0,"qmax":255})"),
       "layers[0].input.zero_point: must be an integer"},
      {layer(R"({"scale":1,"zero_point":0,"qmin":0,"qmax":256})"),
       "layers[0].input.qmax: must be in [-128, 255]"},
      {layer(R"({"scale":1,"zero_point":0,"qmin":5,"qmax":5})"),
       "layers[0].input: qmin must be below qmax"},
      {layer(R"({"scale":1,"zero_point":0,"qmin":-128,"qmax":255})"),
       "must lie in [-128, 127] (s8) or [0, 255] (u8)"},
      {layer(R"({"scale":1,"zero_point":-1,"qmin":0,"qmax":255})"),
       "layers[0].input.zero_point: must be in [qmin, qmax]"},
      {layer(R"({"scale":1,"zero_point":0,"zero_point":0,"qmin":0,"qmax":255})"),
       "t.json: duplicate key \"zero_point\" in \"input\""},
      {R"({"version":1,"method":"m","layers":[{"layer":"a","input":)" + ok +
           R"(},{"layer":"a","input":)" + ok + "}]}",
       "t.json: layers[1]: layer \"a\" is listed twice"},
      {R"({"version":1,"method":"m","f32_layers":["a"],"layers":[{"layer":"a","input":)" + ok +
           "}]}",
       "t.json: layers[0]: layer \"a\" is also in f32_layers"},
      {R"({"version":1,"method":"m","layers":[{"layer":"a","batchnorm":"bn","input":)" + ok +
           R"(},{"layer":"b","batchnorm":"bn","input":)" + ok + "}]}",
       "t.json: layers[1]: batchnorm \"bn\" is folded into two layers"},
  };
  for (const auto &[text, want] : cases) {
    Result<QuantizationTable> t = parseQuantizationTable(text, "t.json");
    ASSERT_FALSE(t.ok()) << text;
    EXPECT_NE(t.message().find(want), std::string::npos)
        << text << "\n  gave: " << t.message() << "\n  want: " << want;
  }
}

/// A small model's f32 state_dict: conv1 + bn1 (folded), fc1 (int8, no bn),
/// fc2 (kept f32), bn2 (not folded), and its table.
TensorMap sampleModel() {
  TensorMap m;
  m["conv1.weight"] = HostTensor::fromF32({4, 3, 3, 3}, uniform(108, 1, -0.5, 0.5));
  m["conv1.bias"] = HostTensor::fromF32({4}, uniform(4, 2, -1, 1));
  m["bn1.weight"] = HostTensor::fromF32({4}, uniform(4, 3, 0.5, 2));
  m["bn1.bias"] = HostTensor::fromF32({4}, uniform(4, 4, -1, 1));
  m["bn1.running_mean"] = HostTensor::fromF32({4}, uniform(4, 5, -1, 1));
  m["bn1.running_var"] = HostTensor::fromF32({4}, uniform(4, 6, 0.5, 2));
  HostTensor steps;
  steps.dtype = TensorDType::I64;
  steps.bytes.assign(8, 0);
  steps.bytes[0] = 42;
  m["bn1.num_batches_tracked"] = steps;
  m["fc1.weight"] = HostTensor::fromF32({5, 16}, uniform(80, 7, -1, 1));
  m["fc2.weight"] = HostTensor::fromF32({2, 5}, uniform(10, 8, -1, 1));
  m["fc2.bias"] = HostTensor::fromF32({2}, uniform(2, 9, -1, 1));
  m["bn2.running_var"] = HostTensor::fromF32({5}, uniform(5, 10, 0.5, 2));
  return m;
}

QuantizationTable sampleModelTable() {
  QuantizationTable t;
  t.method = "minmax";
  t.f32Layers = {"fc2"};
  t.layers.push_back({"conv1", std::string("bn1"), {0.02f, 128, 0, 255}});
  t.layers.push_back({"fc1", std::nullopt, {0.1f, 0, -127, 127}});
  return t;
}

TEST(QuantizeModelTest, BuildsTheQuantizedTensorSet) {
  TensorMap m = sampleModel();
  Result<TensorMap> q = buildQuantizedTensors(m, sampleModelTable(), {{"bn1", 1e-3}});
  ASSERT_TRUE(q.ok()) << q.message();
  std::vector<std::string> names;
  for (const auto &[name, t] : *q)
    names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"bn2.running_var", "conv1.bias", "conv1.weight",
                                             "conv1.weight_scale", "fc1.weight", "fc1.weight_scale",
                                             "fc2.bias", "fc2.weight"}));
  const HostTensor &w = q->at("conv1.weight"), &s = q->at("conv1.weight_scale"),
                   &b = q->at("conv1.bias");
  EXPECT_EQ(w.dtype, TensorDType::I8);
  EXPECT_EQ(w.shape, (std::vector<uint64_t>{4, 3, 3, 3}));
  EXPECT_EQ(w.bytes.size(), 108u);
  EXPECT_EQ(s.shape, (std::vector<uint64_t>{4}));
  // The int8 weights dequantize to the folded weights within scale / 2, and
  // the bias is the folded one exactly.
  std::vector<float> wf, bf;
  foldBatchNorm(m["conv1.weight"].f32(), 4, 27, m["conv1.bias"].f32(), m["bn1.weight"].f32(),
                m["bn1.bias"].f32(), m["bn1.running_mean"].f32(), m["bn1.running_var"].f32(), 1e-3,
                wf, bf);
  for (size_t i = 0; i < 108; ++i) {
    const float scale = s.f32()[i / 27];
    EXPECT_LE(std::fabs(static_cast<int8_t>(w.bytes[i]) * scale - wf[i]), scale / 2 + 1e-7f) << i;
  }
  EXPECT_EQ(std::memcmp(b.bytes.data(), bf.data(), 16), 0);
  EXPECT_EQ(q->count("fc1.bias"), 0u); // neither bias nor batchnorm
  EXPECT_EQ(q->at("fc1.weight").dtype, TensorDType::I8);
  EXPECT_EQ(q->at("fc2.weight").bytes, m["fc2.weight"].bytes); // f32 layer untouched
  EXPECT_EQ(q->at("fc2.weight").dtype, TensorDType::F32);

  // Another eps gives another fold.
  Result<TensorMap> q2 = buildQuantizedTensors(m, sampleModelTable());
  ASSERT_TRUE(q2.ok());
  EXPECT_NE(q2->at("conv1.bias").bytes, b.bytes);
}

TEST(QuantizeModelTest, BuildErrors) {
  TensorMap m = sampleModel();
  m.erase("bn1.running_var");
  Result<TensorMap> q = buildQuantizedTensors(m, sampleModelTable());
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.message(), "quantizing layer 'conv1': missing tensor 'bn1.running_var'");
  m = sampleModel();
  m["conv1.bias"] = HostTensor::fromF32({5}, uniform(5, 1, 0, 1));
  q = buildQuantizedTensors(m, sampleModelTable());
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.message(), "quantizing layer 'conv1': tensor 'conv1.bias' has shape [5], "
                         "expected [4]");
  m = sampleModel();
  m["fc1.weight"] = HostTensor::fromF32({80}, uniform(80, 1, 0, 1));
  q = buildQuantizedTensors(m, sampleModelTable());
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.message(), "quantizing layer 'fc1': weight has shape [80], expected [out, ...] of "
                         "rank >= 2");
  m = sampleModel();
  m.erase("fc1.weight");
  q = buildQuantizedTensors(m, sampleModelTable());
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.message(), "quantizing layer 'fc1': missing tensor 'fc1.weight'");
}

TEST(QuantizeModelTest, FileRoundTrip) {
  ScratchDir dir;
  const std::string path = dir.file("q.safetensors");
  Result<TensorMap> q = buildQuantizedTensors(sampleModel(), sampleModelTable());
  ASSERT_TRUE(q.ok()) << q.message();
  Status s = writeQuantizedWeights(path, *q, sampleModelTable());
  ASSERT_TRUE(s.ok()) << s.message();
  // A plain safetensors reader sees the I8 tensors and the metadata.
  Result<Checkpoint> ckpt = readCheckpoint(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.message();
  ASSERT_EQ(ckpt->metadata.size(), 1u);
  EXPECT_EQ(ckpt->metadata[0].first, "nnc.quantization");
  EXPECT_EQ(ckpt->metadata[0].second, quantizationTableToJson(sampleModelTable()));
  EXPECT_EQ(ckpt->tensors[ckpt->find("conv1.weight")].dtype, TensorDType::I8);

  Result<QuantizedWeights> back = readQuantizedWeights(path);
  ASSERT_TRUE(back.ok()) << back.message();
  expectSameTable(back->table, sampleModelTable());
  ASSERT_EQ(back->tensors.size(), q->size());
  for (const auto &[name, t] : *q) {
    const HostTensor &u = back->tensors.at(name);
    EXPECT_EQ(u.dtype, t.dtype) << name;
    EXPECT_EQ(u.shape, t.shape) << name;
    EXPECT_EQ(u.bytes, t.bytes) << name;
  }
}

TEST(QuantizeModelTest, ReadErrors) {
  ScratchDir dir;
  // A plain f32 checkpoint is not a quantized weights file.
  const std::string plain = dir.file("plain.safetensors");
  std::vector<float> w(4, 1.0f);
  ASSERT_TRUE(writeCheckpoint(plain, {{"fc.weight", TensorDType::F32, {2, 2}, w.data()}}).ok());
  Result<QuantizedWeights> r = readQuantizedWeights(plain);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), plain + ": not a quantized weights file: no \"nnc.quantization\" in "
                                 "__metadata__");
  // The table names a layer whose weights are still f32.
  QuantizationTable t;
  t.method = "minmax";
  t.layers.push_back({"fc", std::nullopt, {0.1f, 0, 0, 255}});
  const std::string f32 = dir.file("f32.safetensors");
  ASSERT_TRUE(writeCheckpoint(f32, {{"fc.weight", TensorDType::F32, {2, 2}, w.data()}},
                              {{"nnc.quantization", quantizationTableToJson(t)}})
                  .ok());
  r = readQuantizedWeights(f32);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), f32 + ": int8 layer 'fc': tensor 'fc.weight' is F32 [2, 2], expected "
                               "I8 of rank >= 2");
  // A zero scale.
  const std::string zero = dir.file("zero.safetensors");
  int8_t q[4] = {1, 2, 3, 4};
  float scales[2] = {0.5f, 0.0f};
  ASSERT_TRUE(writeCheckpoint(zero,
                              {{"fc.weight", TensorDType::I8, {2, 2}, q},
                               {"fc.weight_scale", TensorDType::F32, {2}, scales}},
                              {{"nnc.quantization", quantizationTableToJson(t)}})
                  .ok());
  r = readQuantizedWeights(zero);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), zero + ": int8 layer 'fc': weight_scale[1] is not a positive finite "
                                "number");
  // A malformed table.
  const std::string bad = dir.file("bad.safetensors");
  ASSERT_TRUE(writeCheckpoint(bad, {{"fc.weight", TensorDType::I8, {2, 2}, q}},
                              {{"nnc.quantization", "{\"version\":1}"}})
                  .ok());
  r = readQuantizedWeights(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), bad + ": __metadata__ \"nnc.quantization\": method: must be a string");
}

} // namespace
