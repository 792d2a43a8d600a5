//===- CheckpointTest.cpp - Tests of safetensors checkpoints --------------===//
//
// Part of nnc. Round trips, a file written by PyTorch
// (scripts/make_test_checkpoint.py), header validation, shape-mismatch
// messages, and atomic writes that keep the previous file on failure.
//
//===----------------------------------------------------------------------===//

#include "runtime/Checkpoint.h"
#include "runtime/Json.h"
#include "test/unit/RuntimeTestUtil.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <sys/resource.h>

using namespace nnc::rt;
using nnc::rt::test::readFile;
using nnc::rt::test::ScratchDir;
using nnc::rt::test::writeFile;

namespace {

std::vector<uint8_t> bytesOf(const std::string &s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

/// A safetensors file with the given header text and data size.
std::vector<uint8_t> fileWithHeader(std::string header, size_t dataBytes) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[size_t(i)] = static_cast<char>((uint64_t(header.size()) >> (8 * i)));
  return bytesOf(out + header + std::string(dataBytes, '\0'));
}

std::string parseError(std::string header, size_t dataBytes) {
  Result<Checkpoint> c = parseCheckpoint(
      "m.safetensors", fileWithHeader(std::move(header), dataBytes));
  return c ? "" : c.message();
}

/// The entries of `dir` (to check that no temporary file is left).
std::vector<std::string> listDir(const std::string &dir) {
  std::vector<std::string> names;
  if (DIR *d = ::opendir(dir.c_str())) {
    while (dirent *e = ::readdir(d))
      if (e->d_name[0] != '.')
        names.push_back(e->d_name);
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(CheckpointTest, RoundTrip) {
  ScratchDir dir;
  std::string path = dir.file("m.safetensors");
  std::vector<float> w = {1.0f, -2.5f, 3.25f, 0.1f, 65504.0f, -0.0f};
  std::vector<float> b = {0.5f, 1e-3f};
  std::vector<int64_t> steps = {12345678901LL};
  std::vector<WriteTensor> tensors = {
      {"fc.weight", TensorDType::F32, {2, 3}, w.data()},
      {"fc.bias", TensorDType::F32, {2}, b.data()},
      {"half", TensorDType::F16, {2, 3}, w.data(), /*fromF32=*/true},
      {"bf", TensorDType::BF16, {2}, b.data(), /*fromF32=*/true},
      {"bn.num_batches_tracked", TensorDType::I64, {}, steps.data()},
      {"empty", TensorDType::F32, {0, 4}, nullptr}};
  Status s = writeCheckpoint(path, tensors, {{"format", "pt"}});
  ASSERT_TRUE(s.ok()) << s.message();

  // The file size is the one the report predicts.
  std::vector<TensorEntry> entries;
  for (const WriteTensor &t : tensors)
    entries.push_back({t.name, t.dtype, t.shape});
  std::string error;
  EXPECT_EQ(readFile(path).size(),
            *nnc::safetensorsFileSize(entries, {{"format", "pt"}}, error));

  Result<Checkpoint> c = readCheckpoint(path);
  ASSERT_TRUE(c) << c.message();
  EXPECT_EQ(c->metadata, (SafetensorsMetadata{{"format", "pt"}}));
  ASSERT_EQ(c->tensors.size(), 6u);
  EXPECT_EQ(c->tensors[0].name, "fc.weight");
  EXPECT_EQ(c->tensors[2].dtype, TensorDType::F16);

  std::vector<float> w2(6), b2(2), h2(6), bf2(2);
  std::vector<int64_t> steps2(1);
  Status load = loadCheckpoint(
      *c, {{"fc.weight", TensorDType::F32, {2, 3}, w2.data()},
           {"fc.bias", TensorDType::F32, {2}, b2.data()},
           {"half", TensorDType::F32, {2, 3}, h2.data()},
           {"bf", TensorDType::F32, {2}, bf2.data()},
           {"bn.num_batches_tracked", TensorDType::I64, {}, steps2.data()},
           {"empty", TensorDType::F32, {0, 4}, nullptr}});
  ASSERT_TRUE(load.ok()) << load.message();
  EXPECT_EQ(w2, w);
  EXPECT_EQ(b2, b);
  EXPECT_EQ(steps2, steps);
  for (size_t i = 0; i < 6; ++i) // F16 keeps 11 significant bits.
    EXPECT_NEAR(h2[i], w[i], std::fabs(w[i]) * 1e-3) << i;
  EXPECT_EQ(h2[4], 65504.0f);
  EXPECT_EQ(bf2[0], 0.5f);
  EXPECT_NEAR(bf2[1], 1e-3f, 1e-5f);
  EXPECT_EQ(listDir(dir.path()), (std::vector<std::string>{"m.safetensors"}));
}

TEST(CheckpointTest, HalfConversions) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7C00);              // Rounds to infinity.
  EXPECT_EQ(floatToHalf(5.960464477539063e-8f), 0x0001); // Smallest subnormal.
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f), 0x3C00);       // Tie to even.
  EXPECT_EQ(halfToFloat(0x0001), 5.960464477539063e-8f);
  EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(NAN))));
  for (uint32_t h = 0; h < 0x7C00; ++h) // Every finite half round-trips.
    ASSERT_EQ(floatToHalf(halfToFloat(uint16_t(h))), h);
  EXPECT_EQ(floatToBFloat16(1.0f), 0x3F80);
  EXPECT_EQ(floatToBFloat16(1.0f + 0x1p-8f), 0x3F80); // Tie to even.
  EXPECT_EQ(bfloat16ToFloat(0x4049), 3.140625f);
}

TEST(CheckpointTest, ReadsFileWrittenByPyTorch) {
  std::string path =
      std::string(NNC_TEST_INPUTS_DIR) + "/torch-tiny.safetensors";
  Result<Checkpoint> c = readCheckpoint(path);
  ASSERT_TRUE(c) << c.message();
  // Key order in the header is sorted, offsets follow dtype alignment.
  ASSERT_EQ(c->tensors.size(), 11u);
  EXPECT_EQ(c->tensors.front().name, "bn.bias");
  EXPECT_EQ(c->metadata.front(),
            (std::pair<std::string, std::string>{"format", "pt"}));
  std::vector<TensorEntry> model = {
      {"conv.weight", TensorDType::F32, {2, 1, 3, 3}},
      {"conv.bias", TensorDType::F32, {2}},
      {"bn.weight", TensorDType::F32, {2}},
      {"bn.bias", TensorDType::F32, {2}},
      {"bn.running_mean", TensorDType::F32, {2}},
      {"bn.running_var", TensorDType::F32, {2}},
      {"bn.num_batches_tracked", TensorDType::I64, {}},
      {"fc.weight", TensorDType::F32, {3, 8}},
      {"fc.bias", TensorDType::F32, {3}},
      {"extra.half", TensorDType::F32, {2, 2}},
      {"extra.bf16", TensorDType::F32, {3}}};
  std::vector<std::vector<float>> values;
  std::vector<LoadTarget> targets;
  int64_t tracked = -1;
  for (const TensorEntry &e : model) {
    uint64_t n = 1;
    for (uint64_t d : e.shape)
      n *= d;
    values.emplace_back(n);
  }
  for (size_t i = 0; i < model.size(); ++i)
    targets.push_back({model[i].name, model[i].dtype, model[i].shape,
                       model[i].dtype == TensorDType::I64
                           ? static_cast<void *>(&tracked)
                           : values[i].data()});
  Status s = loadCheckpoint(*c, targets);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(tracked, 1);
  // Each float tensor's sum matches the one torch stored in the metadata.
  for (size_t i = 0; i < model.size(); ++i) {
    if (model[i].dtype != TensorDType::F32)
      continue;
    double sum = 0;
    for (float v : values[i])
      sum += v;
    std::string want;
    for (const auto &m : c->metadata)
      if (m.first == "sum." + model[i].name)
        want = m.second;
    ASSERT_FALSE(want.empty()) << model[i].name;
    EXPECT_NEAR(sum, std::stod(want), 1e-5 * (1 + std::fabs(sum)))
        << model[i].name;
  }
  EXPECT_EQ(values[9][3], 65504.0f);
  EXPECT_EQ(values[10][0], 3.140625f);
}

TEST(CheckpointTest, ShapeMismatchMessages) {
  ScratchDir dir;
  std::string path = dir.file("lenet.safetensors");
  std::vector<float> w(120 * 400), b(120), extra(3);
  ASSERT_TRUE(writeCheckpoint(
                  path, {{"fc1.weight", TensorDType::F32, {120, 400}, w.data()},
                         {"fc1.bias", TensorDType::F32, {120}, b.data()},
                         {"extra", TensorDType::F32, {3}, extra.data()}})
                  .ok());
  Result<Checkpoint> c = readCheckpoint(path);
  ASSERT_TRUE(c) << c.message();
  Status s =
      checkAgainstModel(*c, {{"fc1.weight", TensorDType::F32, {120, 784}},
                             {"fc1.bias", TensorDType::I64, {120}},
                             {"fc2.bias", TensorDType::F32, {10}}});
  ASSERT_TRUE(s.failed());
  EXPECT_EQ(s.message(),
            path +
                ": tensor 'fc1.weight' has shape [120, 400], the model "
                "expects [120, 784]\n" +
                path +
                ": tensor 'fc1.bias' has dtype F32, the model expects "
                "I64\n" +
                path +
                ": missing tensor 'fc2.bias' (the model expects F32 "
                "[10])\n" +
                path +
                ": unexpected tensor 'extra' (F32 [3]): the model has "
                "no such tensor");
  // loadCheckpoint refuses before writing anything.
  std::vector<float> dest(120 * 784, 7.0f);
  EXPECT_TRUE(
      loadCheckpoint(
          *c, {{"fc1.weight", TensorDType::F32, {120, 784}, dest.data()}})
          .failed());
  EXPECT_EQ(dest[0], 7.0f);
}

TEST(CheckpointTest, HeaderValidation) {
  const std::string ok =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_EQ(parseError(ok, 8), "");
  EXPECT_EQ(parseError(ok + "      ", 8), ""); // Space padding.
  auto has = [](const std::string &err, const std::string &needle) {
    return err.find(needle) != std::string::npos;
  };
  EXPECT_TRUE(has(parseError(ok, 4), "reach past the data section of 4"));
  EXPECT_TRUE(has(parseError(ok, 12), "the tensors cover 8 bytes but the "
                                      "data section has 12"));
  EXPECT_TRUE(has(parseError(R"({"a":{"dtype":"F31","shape":[2],)"
                             R"("data_offsets":[0,8]}})",
                             8),
                  "tensor 'a': unknown dtype \"F31\""));
  EXPECT_TRUE(has(parseError(R"({"a":{"dtype":"F32","shape":[3],)"
                             R"("data_offsets":[0,8]}})",
                             8),
                  "data_offsets [0, 8] hold 8 bytes, but F32 [3] needs 12"));
  EXPECT_TRUE(has(parseError(R"({"a":{"dtype":"F32","shape":[1],)"
                             R"("data_offsets":[4,8]},"b":{"dtype":"F32",)"
                             R"("shape":[1],"data_offsets":[4,8]}})",
                             8),
                  "(a hole in the data)"));
  EXPECT_TRUE(has(parseError(R"({"a":{"dtype":"F32","shape":[-1],)"
                             R"("data_offsets":[0,8]}})",
                             8),
                  "non-negative integer"));
  EXPECT_TRUE(has(parseError(R"({"a":{"dtype":"F32","shape":[2],)"
                             R"("data_offsets":[0,8],"x":1}})",
                             8),
                  "unknown field \"x\""));
  EXPECT_TRUE(
      has(parseError(R"({"a":1,"a":2})", 0),
          "not a valid safetensors file: header JSON: duplicate key \"a\""));
  EXPECT_TRUE(
      has(parseError(R"({"__metadata__":{"k":1}})", 0), "is not a string"));
  EXPECT_EQ(parseError(R"({"a":{)", 0),
            "m.safetensors: not a valid safetensors file: header JSON: at byte "
            "6: syntax error while parsing object key - unexpected end of "
            "input; expected string literal");
  EXPECT_TRUE(has(parseError("[]", 0), "does not start with '{'"));
  EXPECT_TRUE(has(parseError(ok + std::string(1, '\0'), 8),
                  "header JSON: at byte 54: a NUL byte"));
  EXPECT_TRUE(has(parseError(ok + "x", 8), "expected end of input"));
  // Length prefix problems.
  Result<Checkpoint> tiny = parseCheckpoint("m", bytesOf("abc"));
  EXPECT_TRUE(has(tiny.message(), "m: not a valid safetensors file: the file "
                                  "has 3 bytes"));
  std::vector<uint8_t> big = fileWithHeader("{}", 0);
  big[0] = 0xFF;
  EXPECT_TRUE(has(parseCheckpoint("m", big).message(),
                  "truncated: the header length is 255 bytes but only 2 "
                  "follow"));
  big[7] = 0x01;
  EXPECT_TRUE(has(parseCheckpoint("m", big).message(), "exceeds the limit"));
  EXPECT_TRUE(has(readCheckpoint("/nonexistent/x.safetensors").message(),
                  "/nonexistent/x.safetensors: cannot open the checkpoint: "
                  "No such file or directory"));
}

TEST(CheckpointTest, StrictJson) {
  std::string error;
  auto bad = [&](const std::string &text) {
    error.clear();
    return !parseJson(text, error) && !error.empty();
  };
  EXPECT_TRUE(bad("{\"a\":1,}"));
  EXPECT_TRUE(bad("{\"a\":01}"));
  EXPECT_TRUE(bad("{'a':1}"));
  EXPECT_TRUE(bad("{\"a\":NaN}"));
  EXPECT_TRUE(bad("{\"a\":\"\\x\"}"));
  EXPECT_TRUE(bad("{\"a\":\"\\ud800\"}"));
  EXPECT_TRUE(bad("{\"a\":\"\xff\"}"));
  EXPECT_TRUE(bad(std::string(100, '[') + std::string(100, ']')));
  EXPECT_TRUE(bad("{\"a\":1e400}")); // Does not fit a double.
  EXPECT_TRUE(bad("{\"a\":1} x"));
  EXPECT_TRUE(bad(std::string("{\"a\":1}\0{", 9))); // Not the end.
  EXPECT_EQ(error, "at byte 7: a NUL byte (JSON text cannot hold one)");
  // A repeated key anywhere (nlohmann alone would keep the last value).
  EXPECT_TRUE(bad("{\"a\":1,\"b\":{\"c\":1,\"c\":2}}"));
  EXPECT_EQ(error, "duplicate key \"c\" in \"b\"");
  // The root is at depth 0: 65 nested arrays reach depth 64.
  EXPECT_TRUE(bad(std::string(66, '[') + std::string(66, ']')));
  EXPECT_EQ(error, "nesting deeper than 64");
  EXPECT_FALSE(bad(std::string(65, '[') + std::string(65, ']')));
  std::optional<Json> v =
      parseJson("{\"s\":\"\\u00e9\\ud83d\\ude00\\n\",\"n\":[1.5e3,-0,true,"
                "null,1.0]}",
                error);
  ASSERT_TRUE(v) << error;
  EXPECT_EQ(*jsonString(jsonMember(v, "s")), "\xc3\xa9\xf0\x9f\x98\x80\n");
  const Json *n = jsonMember(v, "n");
  ASSERT_TRUE(n && n->is_array() && n->size() == 5);
  EXPECT_EQ((*n)[0].get<double>(), 1500.0);
  // Only literals without sign, fraction or exponent are integers.
  EXPECT_FALSE(jsonUInt64(&(*n)[0]));
  EXPECT_FALSE(jsonUInt64(&(*n)[1]));
  EXPECT_FALSE(jsonUInt64(&(*n)[4]));
  EXPECT_FALSE(jsonUInt64(&(*n)[2]));
  EXPECT_FALSE(jsonString(&(*n)[2]));
  EXPECT_FALSE(jsonMember(n, "s")); // Not an object.
  EXPECT_FALSE(jsonMember(v, "t"));
  // Integers are exact up to 2^64 - 1; beyond, not integers.
  auto integer = [&](const std::string &text) {
    std::optional<Json> j = parseJson(text, error);
    return j ? jsonUInt64(&*j) : std::nullopt;
  };
  EXPECT_EQ(integer("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(integer("9223372036854775809"), (uint64_t(1) << 63) + 1);
  EXPECT_FALSE(integer("18446744073709551616"));
  // The position and the parser's reason.
  EXPECT_TRUE(bad("{\"a\" 1}"));
  EXPECT_EQ(error.rfind("at byte 5: syntax error", 0), 0u) << error;
  EXPECT_NE(error.find("expected ':'"), std::string::npos) << error;
}

TEST(CheckpointTest, Utf8) {
  EXPECT_TRUE(isValidUtf8("plain \xc3\xa9 \xf0\x9f\x98\x80"));
  EXPECT_FALSE(isValidUtf8("\xff"));
  EXPECT_FALSE(isValidUtf8("a\xc3"));        // Cut short.
  EXPECT_FALSE(isValidUtf8("\xed\xa0\x80")); // A surrogate.
  EXPECT_FALSE(isValidUtf8("\xc0\xaf"));     // Overlong.
  // The writer refuses such names rather than change them.
  std::string error;
  EXPECT_FALSE(
      nnc::layoutSafetensors({{"a\xff", TensorDType::F32, {1}}}, {}, error));
  EXPECT_EQ(error, "tensor name 'a\xff' is not valid UTF-8 (a safetensors "
                   "header is JSON)");
  EXPECT_FALSE(nnc::layoutSafetensors({}, {{"k", "\xff"}}, error));
  EXPECT_EQ(error, "metadata entry 'k' is not valid UTF-8 (a safetensors "
                   "header is JSON)");
  // Text output replaces what JSON cannot hold instead of aborting.
  EXPECT_EQ(toJsonText(Json("a\xff")), "\"a\xef\xbf\xbd\"");
}

/// Writes a good checkpoint, then fails a second write; the first must stay.
class AtomicWriteTest : public ::testing::Test {
protected:
  void SetUp() override {
    path = dir.file("model.safetensors");
    data.assign(4096, 1.5f);
    ASSERT_TRUE(
        writeCheckpoint(path, {{"w", TensorDType::F32, {4096}, data.data()}})
            .ok());
    before = readFile(path);
    data.assign(8192, 2.5f);
  }
  Status writeBigger() {
    return writeCheckpoint(path,
                           {{"w", TensorDType::F32, {8192}, data.data()}});
  }
  void expectUnchanged() {
    EXPECT_EQ(readFile(path), before);
    EXPECT_EQ(listDir(dir.path()),
              (std::vector<std::string>{"model.safetensors"}));
  }
  ScratchDir dir;
  std::string path, before;
  std::vector<float> data;
};

TEST_F(AtomicWriteTest, InjectedNoSpace) {
  setCheckpointWriteFailureForTesting(10000, ENOSPC);
  Status s = writeBigger();
  setCheckpointWriteFailureForTesting(0, 0);
  ASSERT_TRUE(s.failed());
  EXPECT_EQ(s.message(), path + ": cannot write the checkpoint (tensor 'w'): "
                                "No space left on device; the previous file, "
                                "if any, is unchanged");
  expectUnchanged();
  // The hook is one-shot: the next write succeeds.
  ASSERT_TRUE(writeBigger().ok());
  EXPECT_NE(readFile(path), before);
}

TEST_F(AtomicWriteTest, FileSizeLimit) {
  // RLIMIT_FSIZE makes write() fail with EFBIG once SIGXFSZ is ignored.
  struct rlimit old;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 20000;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  Status s = writeBigger();
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, oldHandler);
  ASSERT_TRUE(s.failed());
  EXPECT_NE(s.message().find("File too large"), std::string::npos)
      << s.message();
  expectUnchanged();
}

TEST_F(AtomicWriteTest, ReadOnlyDirectory) {
  if (::geteuid() == 0)
    GTEST_SKIP() << "root ignores directory permissions";
  ASSERT_EQ(::chmod(dir.path().c_str(), 0555), 0);
  Status s = writeBigger();
  ::chmod(dir.path().c_str(), 0755);
  ASSERT_TRUE(s.failed());
  EXPECT_NE(s.message().find("cannot create the temporary file"),
            std::string::npos);
  expectUnchanged();
}

} // namespace
