//===- QuantCodegenTest.cpp - Generated int8 conversions, i8 regions ------===//
//
// Part of nnc's tests. nn.quantize and nn.dequantize compiled by the CPU
// pipeline against a reference (round half to even, zero point, clamping,
// u8 and s8), and an i8 parameter region: its dtype in the model table and
// an I8 checkpoint tensor loaded into it (runtime/Train.h loadWeights).
//
//===----------------------------------------------------------------------===//

#include "codegen/CPUPipeline.h"
#include "runtime/Checkpoint.h"
#include "runtime/Model.h"
#include "runtime/Train.h"
#include "tools/common/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "passes/Passes.h"

#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace {

/// x -> quantize (u8, zp 3, scale 0.5) -> dequantize, and s8 (zp -2, scale
/// 0.25, symmetric range -127..127); plus y = x + dequantize(@w), @w an i8
/// parameter read as s8 with scale 0.5.
constexpr const char *kModel = R"mlir(
module @m attributes {nn.model} {
  nn.param @w : tensor<8xi8> init zeros
  func.func @forward(%x: tensor<8xf32> {nn.name = "x"})
      -> (tensor<8xi8> {nn.name = "qu"}, tensor<8xf32> {nn.name = "du"},
          tensor<8xi8> {nn.name = "qs"}, tensor<8xf32> {nn.name = "y"}) {
    %qu = nn.quantize %x {scale = 0.5 : f32, zero_point = 3, qmin = 0, qmax = 255} : tensor<8xf32> -> tensor<8xi8>
    %du = nn.dequantize %qu {scale = 0.5 : f32, zero_point = 3, is_unsigned} : tensor<8xi8> -> tensor<8xf32>
    %qs = nn.quantize %x {scale = 0.25 : f32, zero_point = -2, qmin = -127, qmax = 127} : tensor<8xf32> -> tensor<8xi8>
    %w = nn.param_ref @w : tensor<8xi8>
    %dw = nn.dequantize %w {scale = 0.5 : f32, zero_point = 0} : tensor<8xi8> -> tensor<8xf32>
    %y = nn.add %x, %dw : tensor<8xf32>
    return %qu, %du, %qs, %y : tensor<8xi8>, tensor<8xf32>, tensor<8xi8>, tensor<8xf32>
  }
}
)mlir";

/// Parses the nn-dialect text `mlir`, runs `pass` on it if given, builds it
/// with the CPU pipeline and loads it; null after a failed assertion.
std::unique_ptr<nnc::rt::Model> buildModel(const char *mlir,
                                           std::unique_ptr<mlir::Pass> pass = nullptr) {
  nnc::registerAllPasses();
  mlir::DialectRegistry registry;
  nnc::registerAllDialects(registry);
  mlir::MLIRContext ctx(registry);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(mlir, &ctx);
  EXPECT_TRUE(module);
  if (!module)
    return nullptr;
  if (pass) {
    mlir::PassManager pm(&ctx);
    pm.addPass(std::move(pass));
    EXPECT_TRUE(mlir::succeeded(pm.run(*module)));
  }
  llvm::SmallString<128> lib;
  EXPECT_FALSE(llvm::sys::fs::createTemporaryFile("nnc-quant", "so", lib));
  nnc::ArtifactOptions options;
  options.runtimeLibDir = NNC_RUNTIME_LIB_DIR;
  EXPECT_TRUE(mlir::succeeded(nnc::buildArtifact(*module, lib, options)));
  auto model = nnc::rt::Model::load(std::string(lib));
  llvm::sys::fs::remove(lib);
  EXPECT_TRUE(bool(model)) << model.message();
  return model ? std::move(*model) : nullptr;
}

/// The reference of nn.quantize.
int64_t quantize(float x, float scale, int64_t zp, int64_t qmin, int64_t qmax) {
  float q = std::nearbyint(x / scale) + float(zp); // round half to even (default mode)
  return int64_t(std::fmin(std::fmax(q, float(qmin)), float(qmax)));
}

TEST(QuantCodegen, QuantizeDequantizeAndI8Params) {
  std::unique_ptr<nnc::rt::Model> model = buildModel(kModel);
  ASSERT_TRUE(model);
  nnc::rt::Model &m = *model;
  llvm::SmallString<128> weights;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("nnc-quant", "safetensors", weights));

  // The i8 parameter is an i8 region of 8 bytes.
  const nnc::rt::Region *w = m.region("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, "i8");
  EXPECT_EQ(w->bytes, 8);
  ASSERT_NE(m.region("forward.qu"), nullptr);
  EXPECT_EQ(m.region("forward.qu")->dtype, "i8");

  // An I8 checkpoint tensor loads into it bit for bit.
  const int8_t wValues[8] = {-128, -3, -1, 0, 1, 2, 100, 127};
  nnc::rt::WriteTensor tensor{"w", nnc::TensorDType::I8, {8}, wValues};
  ASSERT_FALSE(nnc::rt::writeCheckpoint(std::string(weights), {tensor}).failed());
  nnc::rt::Status st = nnc::rt::loadWeights(m, std::string(weights));
  llvm::sys::fs::remove(weights);
  ASSERT_FALSE(st.failed()) << st.message();
  EXPECT_EQ(std::memcmp(m.dataAs<int8_t>(*w), wValues, 8), 0);

  // Ties round to even; values beyond the range clamp.
  const float x[8] = {0.25f, 0.75f, -0.25f, -1.75f, 1.0f, -40.0f, 200.0f, 31.6f};
  std::memcpy(m.dataAs<float>(*m.region("forward.x")), x, sizeof(x));
  st = m.run("forward");
  ASSERT_FALSE(st.failed()) << st.message();
  const auto *qu = m.dataAs<uint8_t>(*m.region("forward.qu"));
  const auto *du = m.dataAs<float>(*m.region("forward.du"));
  const auto *qs = m.dataAs<int8_t>(*m.region("forward.qs"));
  const auto *y = m.dataAs<float>(*m.region("forward.y"));
  for (int i = 0; i < 8; ++i) {
    int64_t wantU = quantize(x[i], 0.5f, 3, 0, 255);
    EXPECT_EQ(int64_t(qu[i]), wantU) << "u8 " << i << " x=" << x[i];
    EXPECT_FLOAT_EQ(du[i], float(wantU - 3) * 0.5f) << i;
    EXPECT_EQ(int64_t(qs[i]), quantize(x[i], 0.25f, -2, -127, 127)) << "s8 " << i;
    EXPECT_FLOAT_EQ(y[i], x[i] + float(wValues[i]) * 0.5f) << i;
  }
  // Spot checks of the reference itself: 0.25 / 0.5 = 0.5 rounds to 0; 0.75 /
  // 0.5 = 1.5 rounds to 2; -40 clamps to 0 (u8) and -127 (s8).
  EXPECT_EQ(qu[0], 3);
  EXPECT_EQ(qu[1], 5);
  EXPECT_EQ(qu[5], 0);
  EXPECT_EQ(qs[5], -127);
  EXPECT_EQ(qu[6], 255);
}

/// -nn-quantize{observe} makes the planned layers' f32 inputs results of
/// @forward; the one of the first layer is the model input itself.
TEST(QuantCodegen, ObserveOutputsHoldLayerInputs) {
  constexpr const char *kLinear = R"mlir(
module @m attributes {nn.model} {
  nn.param @"fc1.weight" : tensor<3x4xf32> init ones
  nn.param @"fc2.weight" : tensor<2x3xf32> init ones
  func.func @forward(%x: tensor<2x4xf32> {nn.name = "x"}) -> (tensor<2x2xf32> {nn.name = "y"}) {
    %w1 = nn.param_ref @"fc1.weight" : tensor<3x4xf32>
    %h = nn.linear %x, %w1 {name = "fc1"} : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
    %r = nn.relu %h {name = "relu1"} : tensor<2x3xf32>
    %w2 = nn.param_ref @"fc2.weight" : tensor<2x3xf32>
    %y = nn.linear %r, %w2 {name = "fc2"} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x2xf32>
    return %y : tensor<2x2xf32>
  }
}
)mlir";
  nnc::NNQuantizeOptions observe;
  observe.observe = true;
  std::unique_ptr<nnc::rt::Model> model = buildModel(kLinear, nnc::createNNQuantize(observe));
  ASSERT_TRUE(model);
  nnc::rt::Model &m = *model;
  m.initialize(1);
  const float x[8] = {1, -2, 3, -4, 0.5f, 0.25f, -1, 2};
  std::memcpy(m.dataAs<float>(*m.region("forward.x")), x, sizeof(x));
  ASSERT_FALSE(m.run("forward").failed());
  const nnc::rt::Region *in1 = m.region("forward.observe.fc1");
  const nnc::rt::Region *in2 = m.region("forward.observe.fc2");
  ASSERT_NE(in1, nullptr);
  ASSERT_NE(in2, nullptr);
  EXPECT_EQ(std::memcmp(m.dataAs<float>(*in1), x, sizeof(x)), 0);
  // fc1 with all-ones weights: each output is the row sum, then relu.
  const float *r = m.dataAs<float>(*in2);
  for (int b = 0; b < 2; ++b)
    for (int o = 0; o < 3; ++o)
      EXPECT_FLOAT_EQ(r[b * 3 + o],
                      std::fmax(0.0f, x[b * 4] + x[b * 4 + 1] + x[b * 4 + 2] + x[b * 4 + 3]));
}

} // namespace
