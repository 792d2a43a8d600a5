//===- ModelReportTest.cpp - Tests of the model cost report ---------------===//
//
// Part of nnc. Builds small nn modules from MLIR text (static shapes, as after
// -nn-infer-shapes) and checks computeReport against hand-computed values and
// the PyTorch reference numbers of test/report/Inputs/torch-reference.txt.
//
//===----------------------------------------------------------------------===//

#include "passes/ModelReport.h"

#include "dialect/NNDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace nnc;

namespace {

class ModelReportTest : public ::testing::Test {
protected:
  ModelReportTest() { context.loadDialect<nn::NNDialect, func::FuncDialect>(); }

  /// Parses `text` (one model module) and computes its report; on failure
  /// returns failure with the diagnostics in `diagnostics`.
  FailureOr<ModelReport> report(StringRef text, const ReportOptions &options) {
    diagnostics.clear();
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      diagnostics += diag.str() + "\n";
      return success();
    });
    module = parseSourceString<ModuleOp>(text, &context);
    if (!module)
      return failure();
    return computeReport(*module, options);
  }

  static ReportOptions opts(int64_t batch, StringRef optimizer = "adam",
                            StringRef dtype = "f32") {
    ReportOptions o;
    o.batch = batch;
    o.optimizer = optimizer.str();
    o.dtype = dtype.str();
    return o;
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  std::string diagnostics;
};

/// LeNet-5 (examples/lenet.nn) at batch 64.
constexpr const char *kLeNet = R"mlir(
module @lenet attributes {nn.model} {
  nn.param @"conv1.weight" : tensor<6x1x5x5xf32> init uniform(0.2)
  nn.param @"conv1.bias" : tensor<6xf32> init uniform(0.2)
  nn.param @"conv2.weight" : tensor<16x6x5x5xf32> init uniform(0.08)
  nn.param @"conv2.bias" : tensor<16xf32> init uniform(0.08)
  nn.param @"fc1.weight" : tensor<120x400xf32> init uniform(0.05)
  nn.param @"fc1.bias" : tensor<120xf32> init uniform(0.05)
  nn.param @"fc2.weight" : tensor<84x120xf32> init uniform(0.09)
  nn.param @"fc2.bias" : tensor<84xf32> init uniform(0.09)
  nn.param @"fc3.weight" : tensor<10x84xf32> init uniform(0.1)
  nn.param @"fc3.bias" : tensor<10xf32> init uniform(0.1)
  func.func @forward(%image: tensor<64x1x28x28xf32>) -> tensor<64x10xf32> {
    %w1 = nn.param_ref @"conv1.weight" : tensor<6x1x5x5xf32>
    %b1 = nn.param_ref @"conv1.bias" : tensor<6xf32>
    %0 = nn.conv2d %image, %w1, %b1 {name = "conv1", stride = array<i64: 1, 1>, padding = array<i64: 2, 2>, dilation = array<i64: 1, 1>} : (tensor<64x1x28x28xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>) -> tensor<64x6x28x28xf32>
    %1 = nn.relu %0 {name = "relu1"} : tensor<64x6x28x28xf32>
    %2 = nn.maxpool2d %1 {name = "pool1", kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<64x6x28x28xf32> -> tensor<64x6x14x14xf32>
    %w2 = nn.param_ref @"conv2.weight" : tensor<16x6x5x5xf32>
    %b2 = nn.param_ref @"conv2.bias" : tensor<16xf32>
    %3 = nn.conv2d %2, %w2, %b2 {name = "conv2", stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<64x6x14x14xf32>, tensor<16x6x5x5xf32>, tensor<16xf32>) -> tensor<64x16x10x10xf32>
    %4 = nn.relu %3 {name = "relu2"} : tensor<64x16x10x10xf32>
    %5 = nn.maxpool2d %4 {name = "pool2", kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<64x16x10x10xf32> -> tensor<64x16x5x5xf32>
    %6 = nn.flatten %5 {name = "flatten1"} : tensor<64x16x5x5xf32> -> tensor<64x400xf32>
    %w3 = nn.param_ref @"fc1.weight" : tensor<120x400xf32>
    %b3 = nn.param_ref @"fc1.bias" : tensor<120xf32>
    %7 = nn.linear %6, %w3, %b3 {name = "fc1"} : (tensor<64x400xf32>, tensor<120x400xf32>, tensor<120xf32>) -> tensor<64x120xf32>
    %8 = nn.relu %7 {name = "relu3"} : tensor<64x120xf32>
    %w4 = nn.param_ref @"fc2.weight" : tensor<84x120xf32>
    %b4 = nn.param_ref @"fc2.bias" : tensor<84xf32>
    %9 = nn.linear %8, %w4, %b4 {name = "fc2"} : (tensor<64x120xf32>, tensor<84x120xf32>, tensor<84xf32>) -> tensor<64x84xf32>
    %10 = nn.relu %9 {name = "relu4"} : tensor<64x84xf32>
    %w5 = nn.param_ref @"fc3.weight" : tensor<10x84xf32>
    %b5 = nn.param_ref @"fc3.bias" : tensor<10xf32>
    %11 = nn.linear %10, %w5, %b5 {name = "fc3"} : (tensor<64x84xf32>, tensor<10x84xf32>, tensor<10xf32>) -> tensor<64x10xf32>
    return %11 : tensor<64x10xf32>
  }
  func.func @loss(%out: tensor<64x10xf32>, %labels: tensor<64xi64>) -> tensor<f32> {
    %0 = nn.cross_entropy %out, %labels {name = "loss"} : tensor<64x10xf32>, tensor<64xi64>
    return %0 : tensor<f32>
  }
}
)mlir";

const LayerReport *findLayer(const ModelReport &r, StringRef name) {
  for (const LayerReport &l : r.layers)
    if (l.name == name)
      return &l;
  return nullptr;
}

// Reference: torch-reference.txt, "== lenet".
TEST_F(ModelReportTest, LeNetParametersMatchTorch) {
  FailureOr<ModelReport> r = report(kLeNet, opts(64));
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  EXPECT_EQ(r->model, "lenet");
  EXPECT_EQ(r->parameters, 61706);
  EXPECT_EQ(r->trainableParameters, 61706);
  EXPECT_EQ(r->parameterTensors, 10);
  EXPECT_EQ(r->bufferElements, 0);
  EXPECT_EQ(r->parameterBytesF32, 246824);
  EXPECT_EQ(r->parameterBytesF16, 123412);
  EXPECT_EQ(r->parameterBytesInt8, 61706);
  // safetensors_file_bytes 247568 + the training-progress metadata.
  EXPECT_EQ(r->checkpointBytes, 247640);
  struct Expected {
    const char *name;
    int64_t params;
  };
  for (Expected e :
       {Expected{"conv1", 156}, Expected{"conv2", 2416}, Expected{"fc1", 48120},
        Expected{"fc2", 10164}, Expected{"fc3", 850}, Expected{"relu1", 0}}) {
    const LayerReport *l = findLayer(*r, e.name);
    ASSERT_NE(l, nullptr) << e.name;
    EXPECT_EQ(l->params, e.params) << e.name;
    EXPECT_EQ(l->paramBytes, 4 * e.params) << e.name;
  }
  // Output shapes: torch-reference.txt "output conv2 [64, 16, 10, 10]".
  EXPECT_EQ(findLayer(*r, "conv2")->outputShape,
            (SmallVector<int64_t, 4>{64, 16, 10, 10}));
  EXPECT_EQ(findLayer(*r, "loss")->function, "loss");
  EXPECT_TRUE(r->uncostedOps.empty());
}

TEST_F(ModelReportTest, BytesFollowTheDtype) {
  for (auto [dtype, size] : {std::pair<const char *, int64_t>{"f32", 4},
                             {"f16", 2},
                             {"bf16", 2},
                             {"int8", 1}}) {
    FailureOr<ModelReport> r = report(kLeNet, opts(64, "adam", dtype));
    ASSERT_TRUE(succeeded(r)) << diagnostics;
    EXPECT_EQ(r->dtypeBytes, size) << dtype;
    // Counts never change with the dtype; bytes do.
    EXPECT_EQ(r->parameters, 61706) << dtype;
    EXPECT_EQ(r->parameterBytes, 61706 * size) << dtype;
    EXPECT_EQ(findLayer(*r, "fc1")->paramBytes, 48120 * size) << dtype;
    // The checkpoint always holds the declared f32 tensors.
    EXPECT_EQ(r->checkpointBytes, 247640) << dtype;
  }
}

// FLOPs by the convention of docs/dialect.md (a multiply-add is 2 FLOPs).
TEST_F(ModelReportTest, LeNetFlops) {
  FailureOr<ModelReport> r = report(kLeNet, opts(64));
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  // conv1: 2*N*O*H'*W'*C*KH*KW + N*O*H'*W'.
  int64_t conv1 = 2 * 64 * 6 * 28 * 28 * 1 * 5 * 5 + 64 * 6 * 28 * 28;
  int64_t conv2 = 2 * 64 * 16 * 10 * 10 * 6 * 5 * 5 + 64 * 16 * 10 * 10;
  int64_t fc1 = 2 * 64 * 400 * 120 + 64 * 120;
  int64_t fc2 = 2 * 64 * 120 * 84 + 64 * 84;
  int64_t fc3 = 2 * 64 * 84 * 10 + 64 * 10;
  int64_t relus = 64 * (6 * 28 * 28 + 16 * 10 * 10 + 120 + 84);
  int64_t pools = 4 * 64 * (6 * 14 * 14 + 16 * 5 * 5); // K*K per output.
  int64_t loss = 5 * 64 * 10;
  EXPECT_EQ(findLayer(*r, "conv1")->forwardFlops, conv1);
  EXPECT_EQ(findLayer(*r, "conv1")->backwardFlops, 2 * conv1);
  EXPECT_EQ(findLayer(*r, "relu1")->backwardFlops, 64 * 6 * 28 * 28);
  int64_t weighted = conv1 + conv2 + fc1 + fc2 + fc3;
  EXPECT_EQ(r->forwardFlops, weighted + relus + pools);
  EXPECT_EQ(r->forwardFlops, 54551680);
  EXPECT_EQ(r->lossFlops, loss);
  EXPECT_EQ(r->backwardFlops, 2 * weighted + relus + pools + loss);
  EXPECT_EQ(r->trainingStepFlops,
            r->forwardFlops + r->lossFlops + r->backwardFlops);
}

// Elementwise ops around a skip connection: 1 FLOP per element each.
TEST_F(ModelReportTest, SkipConnectionFlops) {
  const char *text = R"mlir(
module @skip attributes {nn.model} {
  func.func @forward(%x: tensor<4x10xf32>) -> tensor<4x10xf32> {
    %a = nn.relu %x {name = "relu1"} : tensor<4x10xf32>
    %b = nn.sigmoid %a {name = "sigmoid1"} : tensor<4x10xf32>
    %c = nn.add %a, %b {name = "add1"} : tensor<4x10xf32>
    %d = nn.tanh %c {name = "tanh1"} : tensor<4x10xf32>
    return %d : tensor<4x10xf32>
  }
}
)mlir";
  FailureOr<ModelReport> r = report(text, opts(4, "sgd"));
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  EXPECT_EQ(r->parameters, 0);
  // 1 FLOP per element for relu, sigmoid, tanh and add.
  EXPECT_EQ(r->forwardFlops, 4 * 40);
}

// Batchnorm running statistics are buffers: listed, not parameters.
TEST_F(ModelReportTest, BuffersAreNotParameters) {
  const char *text = R"mlir(
module @bn attributes {nn.model} {
  nn.param @"bn1.weight" : tensor<8xf32> init ones
  nn.param @"bn1.bias" : tensor<8xf32> init zeros
  nn.param buffer @"bn1.running_mean" : tensor<8xf32> init zeros
  nn.param buffer @"bn1.running_var" : tensor<8xf32> init ones
  nn.param buffer @"bn1.num_batches_tracked" : tensor<i64> init zeros
  func.func @forward(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
    %g = nn.param_ref @"bn1.weight" : tensor<8xf32>
    %b = nn.param_ref @"bn1.bias" : tensor<8xf32>
    %m = nn.param_ref @"bn1.running_mean" : tensor<8xf32>
    %v = nn.param_ref @"bn1.running_var" : tensor<8xf32>
    %0 = nn.batchnorm %x, %g, %b, %m, %v {eps = 1.0e-5, momentum = 0.1, name = "bn1"} : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
    return %0 : tensor<2x8xf32>
  }
}
)mlir";
  FailureOr<ModelReport> r = report(text, opts(2, "adam", "f16"));
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  EXPECT_EQ(r->parameters, 16);
  EXPECT_EQ(r->parameterTensors, 2);
  EXPECT_EQ(r->bufferElements, 17);
  EXPECT_EQ(r->bufferTensors, 3);
  // f16 running statistics, num_batches_tracked stays i64.
  EXPECT_EQ(r->bufferBytes, 16 * 2 + 8);
  EXPECT_EQ(findLayer(*r, "bn1")->params, 16);
  EXPECT_EQ(findLayer(*r, "bn1")->buffers, 16); // num_batches_tracked unread.
}

// LSTM: PyTorch's parameter count and per-step FLOPs.
TEST_F(ModelReportTest, RecurrentParametersAndFlops) {
  const char *text = R"mlir(
module @rec attributes {nn.model} {
  nn.param @"lstm1.weight_ih_l0" : tensor<20x4xf32> init uniform(0.4)
  nn.param @"lstm1.weight_hh_l0" : tensor<20x5xf32> init uniform(0.4)
  nn.param @"lstm1.bias_ih_l0" : tensor<20xf32> init uniform(0.4)
  nn.param @"lstm1.bias_hh_l0" : tensor<20xf32> init uniform(0.4)
  func.func @forward(%x: tensor<2x3x4xf32>) -> tensor<2x5xf32> {
    %w0 = nn.param_ref @"lstm1.weight_ih_l0" : tensor<20x4xf32>
    %w1 = nn.param_ref @"lstm1.weight_hh_l0" : tensor<20x5xf32>
    %b0 = nn.param_ref @"lstm1.bias_ih_l0" : tensor<20xf32>
    %b1 = nn.param_ref @"lstm1.bias_hh_l0" : tensor<20xf32>
    %0 = nn.lstm %x, %w0, %w1, %b0, %b1 {name = "lstm1", hidden_size = 5} : (tensor<2x3x4xf32>, tensor<20x4xf32>, tensor<20x5xf32>, tensor<20xf32>, tensor<20xf32>) -> tensor<2x5xf32>
    return %0 : tensor<2x5xf32>
  }
}
)mlir";
  FailureOr<ModelReport> f32 = report(text, opts(2));
  ASSERT_TRUE(succeeded(f32)) << diagnostics;
  // PyTorch: 4H*(F + H) + 2*4H = 20*9 + 40 = 220.
  EXPECT_EQ(f32->parameters, 220);
  // Per step: 2*N*G*H*(F + H) + 2*N*G*H + 9*N*H, G = 4.
  EXPECT_EQ(f32->forwardFlops, 3 * (2 * 2 * 4 * 5 * (4 + 5) + 2 * 2 * 4 * 5 + 9 * 2 * 5));
}

// A 10^12-parameter model prints exactly; beyond int64 is a clear error.
TEST_F(ModelReportTest, HugeModels) {
  const char *big = R"mlir(
module @big attributes {nn.model} {
  nn.param @"fc1.weight" : tensor<1000000x1000000xf32> init uniform(0.001)
  func.func @forward(%x: tensor<2x1000000xf32>) -> tensor<2x1000000xf32> {
    %w = nn.param_ref @"fc1.weight" : tensor<1000000x1000000xf32>
    %0 = nn.linear %x, %w {name = "fc1"} : (tensor<2x1000000xf32>, tensor<1000000x1000000xf32>) -> tensor<2x1000000xf32>
    return %0 : tensor<2x1000000xf32>
  }
}
)mlir";
  FailureOr<ModelReport> r = report(big, opts(2));
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  EXPECT_EQ(r->parameters, 1000000000000);
  EXPECT_EQ(r->parameterBytesF32, 4000000000000);
  EXPECT_EQ(r->forwardFlops, 2 * 2 * 1000000000000);
  EXPECT_EQ(formatBytes(r->parameterBytesF32), "4,000,000,000,000 B (3.6 TiB)");

  const char *huge = R"mlir(
module @huge attributes {nn.model} {
  nn.param @"w" : tensor<4000000000x4000000000xf32> init zeros
  func.func @forward(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
    return %x : tensor<2x4xf32>
  }
}
)mlir";
  EXPECT_TRUE(failed(report(huge, opts(2))));
  EXPECT_NE(diagnostics.find("model 'huge' is too large to report: the "
                             "parameter count does not fit in a 64-bit "
                             "integer"),
            std::string::npos)
      << diagnostics;
}

TEST_F(ModelReportTest, Errors) {
  EXPECT_TRUE(failed(report(kLeNet, opts(32))));
  EXPECT_NE(diagnostics.find("specialized to batch 64 but the report is for "
                             "batch 32"),
            std::string::npos)
      << diagnostics;
  EXPECT_TRUE(failed(report(kLeNet, opts(64, "rmsprop"))));
  EXPECT_NE(diagnostics.find("unknown optimizer 'rmsprop'"), std::string::npos);
  EXPECT_TRUE(failed(report(kLeNet, opts(64, "adam", "f64"))));
  EXPECT_NE(diagnostics.find("unknown dtype 'f64'"), std::string::npos);
  EXPECT_TRUE(failed(report("module @m attributes {nn.model} {}", opts(1))));
  EXPECT_NE(diagnostics.find("has no func.func @forward"), std::string::npos);
}

TEST(ReportFormatTest, Numbers) {
  EXPECT_EQ(formatCount(0), "0");
  EXPECT_EQ(formatCount(999), "999");
  EXPECT_EQ(formatCount(1000), "1,000");
  EXPECT_EQ(formatCount(61706), "61,706");
  EXPECT_EQ(formatCount(-1234567), "-1,234,567");
  EXPECT_EQ(formatCount(INT64_MAX), "9,223,372,036,854,775,807");
  EXPECT_EQ(formatBytes(624), "624 B");
  EXPECT_EQ(formatBytes(246824), "246,824 B (241.0 KiB)");
  EXPECT_EQ(formatBytes(2408448), "2,408,448 B (2.3 MiB)");
  EXPECT_EQ(formatFlops(3200), "3,200 (3.2 KFLOP)");
  EXPECT_EQ(formatFlops(54551680), "54,551,680 (54.6 MFLOP)");
}

TEST_F(ModelReportTest, TableAndJSON) {
  FailureOr<ModelReport> r = report(kLeNet, opts(64));
  ASSERT_TRUE(succeeded(r)) << diagnostics;
  std::string table;
  llvm::raw_string_ostream os(table);
  printReportTable(*r, os);
  EXPECT_NE(table.find("total parameters: 61,706 (trainable 61,706) = "
                       "246,824 B f32 / 123,412 B f16 / 61,706 B int8\n"),
            std::string::npos)
      << table;
  // Memory is the plan's (nnc report), not the IR's: none here.
  EXPECT_EQ(table.find("memory"), std::string::npos) << table;

  llvm::json::Value json = reportToJSON(*r);
  llvm::json::Object *obj = json.getAsObject();
  ASSERT_NE(obj, nullptr);
  EXPECT_EQ(obj->getInteger("schema_version"), 2);
  EXPECT_EQ(obj->get("training_memory"), nullptr);
  EXPECT_EQ(obj->getObject("parameters")->getInteger("total"), 61706);
  EXPECT_EQ(obj->getObject("checkpoint")->getInteger("bytes"), 247640);
  EXPECT_EQ(obj->getArray("layers")->size(), r->layers.size());
}

} // namespace
