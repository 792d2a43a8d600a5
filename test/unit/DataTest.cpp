//===- DataTest.cpp - Tests of the runtime's datasets and batcher ---------===//
//
// Part of nnc. IDX files (plain and gzip) and every error path, Debian's
// Fashion-MNIST, PNG image folders, CSV, token files, synthetic data,
// normalization, shuffling determinism and the partial last batch.
//
//===----------------------------------------------------------------------===//

#include "runtime/Data.h"
#include "test/unit/RuntimeTestUtil.h"

#include <gtest/gtest.h>
#include <png.h>

#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <set>

using namespace nnc::rt;
using nnc::rt::test::readFile;
using nnc::rt::test::ScratchDir;
using nnc::rt::test::writeFile;

namespace {

::testing::AssertionResult failsWith(const Status &s,
                                     const std::string &needle) {
  if (s.ok())
    return ::testing::AssertionFailure()
           << "expected an error containing '" << needle << "', got success";
  if (s.message().find(needle) == std::string::npos)
    return ::testing::AssertionFailure()
           << "error '" << s.message() << "' does not contain '" << needle
           << "'";
  return ::testing::AssertionSuccess();
}

IdxArray u8Array(std::vector<uint32_t> dims, uint8_t start = 0) {
  IdxArray a;
  a.dims = std::move(dims);
  a.bytes.resize(a.numElements());
  for (size_t i = 0; i < a.bytes.size(); ++i)
    a.bytes[i] = static_cast<uint8_t>(start + i);
  return a;
}

/// Writes 5 images of 2x3 and labels 0..4 to dir, plain or gzip.
void writeSmallIdx(const std::string &images, const std::string &labels,
                   bool gzip, uint8_t maxLabel = 4) {
  ASSERT_TRUE(writeIdx(images, u8Array({5, 2, 3}), gzip).ok());
  IdxArray l = u8Array({5});
  l.bytes.back() = maxLabel;
  ASSERT_TRUE(writeIdx(labels, l, gzip).ok());
}

SampleSpec imageSpec(int64_t c, int64_t h, int64_t w, int64_t classes) {
  return SampleSpec{{c, h, w}, classes};
}

/// Every sample of `d` as the model input floats a batch would get.
std::vector<float> floatsOf(const Dataset &d) {
  std::vector<float> out(size_t(d.size() * d.sampleElements()));
  for (int64_t i = 0; i < d.size(); ++i)
    d.sampleAsFloats(i, out.data() + i * d.sampleElements());
  return out;
}

TEST(DataTest, IdxRoundTripPlainAndGzip) {
  ScratchDir dir;
  for (bool gzip : {false, true}) {
    std::string images = dir.file(gzip ? "i.gz" : "i"),
                labels = dir.file(gzip ? "l.gz" : "l");
    writeSmallIdx(images, labels, gzip);
    if (gzip) // Really compressed: the gzip magic.
      EXPECT_EQ(readFile(images).substr(0, 2), "\x1f\x8b");
    Normalization raw;
    raw.scale01 = false;
    Result<Dataset> d = loadIdx(images, labels, imageSpec(1, 2, 3, 10), raw);
    ASSERT_TRUE(d) << d.message();
    EXPECT_EQ(d->size(), 5);
    EXPECT_EQ(d->sampleElements(), 6);
    EXPECT_EQ(d->labels, (std::vector<int64_t>{0, 1, 2, 3, 4}));
    // Held as stored: 30 u8 pixels, no floats.
    EXPECT_STREQ(d->storageType(), "u8");
    ASSERT_EQ(d->pixels.size(), 30u);
    EXPECT_TRUE(d->inputs.empty());
    EXPECT_EQ(d->storageBytes(), 30u + 5u * 8u);
    std::vector<float> raw01 = floatsOf(*d);
    EXPECT_EQ(raw01[0], 0.0f);
    EXPECT_EQ(raw01[29], 29.0f);
    // Default normalization: [0, 1]; then mean/std.
    Result<Dataset> n = loadIdx(images, labels, imageSpec(1, 2, 3, 10));
    ASSERT_TRUE(n) << n.message();
    EXPECT_FLOAT_EQ(floatsOf(*n)[29], 29.0f / 255.0f);
    Normalization ms;
    ms.mean = {0.5f};
    ms.std = {0.25f};
    Result<Dataset> m = loadIdx(images, labels, imageSpec(1, 2, 3, 10), ms);
    ASSERT_TRUE(m) << m.message();
    EXPECT_FLOAT_EQ(floatsOf(*m)[29], (29.0f / 255.0f - 0.5f) / 0.25f);
  }
}

TEST(DataTest, U8PixelsGiveTheBitsOfFloatNormalization) {
  // Every u8 value through the per-batch conversion equals, bit for bit, the
  // float path it replaced: the pixel as a float, normalized in place by
  // (p * (1 / 255) - mean) * (1 / std) (the bits of the checkpoints trained
  // before pixels were kept as u8).
  ScratchDir dir;
  IdxArray images = u8Array({2, 16, 16});
  for (size_t i = 0; i < images.bytes.size(); ++i)
    images.bytes[i] = static_cast<uint8_t>(i * 7 + 3); // All 256 values.
  ASSERT_TRUE(writeIdx(dir.file("i"), images, false).ok());
  IdxArray labels = u8Array({2});
  ASSERT_TRUE(writeIdx(dir.file("l"), labels, false).ok());
  Normalization norm;
  norm.mean = {0.2860f};
  norm.std = {0.3530f};
  Result<Dataset> d = loadIdx(dir.file("i"), dir.file("l"), imageSpec(1, 16, 16, 2), norm);
  ASSERT_TRUE(d) << d.message();
  std::vector<float> want(images.bytes.size());
  for (size_t i = 0; i < want.size(); ++i) {
    float p = images.bytes[i];
    want[i] = (p * (1.0f / 255.0f) - 0.2860f) * (1.0f / 0.3530f);
  }
  std::vector<float> got = floatsOf(*d);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
  // A batch (in shuffled order) carries the same bits.
  Result<Batcher> b = Batcher::create(*d, 2, true, 5);
  ASSERT_TRUE(b);
  std::vector<float> batch(2 * 256);
  std::vector<int64_t> batchLabels(2);
  ASSERT_EQ(b->copyBatch(0, BatchBuffers{batch.data(), nullptr, batchLabels.data(), nullptr}), 2);
  for (int64_t r = 0; r < 2; ++r)
    EXPECT_EQ(std::memcmp(batch.data() + r * 256, want.data() + b->order()[size_t(r)] * 256,
                          256 * sizeof(float)),
              0);
}

TEST(DataTest, IdxLimitReadsOnlyTheSamplesKept) {
  ScratchDir dir;
  std::string images = dir.file("i"), labels = dir.file("l");
  writeSmallIdx(images, labels, false);
  SampleSpec spec = imageSpec(1, 2, 3, 10);
  // The first 2 of 5 samples.
  Result<Dataset> d = loadIdx(images, labels, spec, {}, 2);
  ASSERT_TRUE(d) << d.message();
  EXPECT_EQ(d->size(), 2);
  EXPECT_EQ(d->pixels.size(), 12u);
  EXPECT_EQ(d->labels, (std::vector<int64_t>{0, 1}));
  // What follows the kept samples is not read: a file cut after them loads
  // with the limit, and is still reported as truncated without it or when
  // the cut falls inside the kept samples.
  std::string full = readFile(images);
  writeFile(dir.file("cut"), full.substr(0, 16 + 13));
  Result<Dataset> cut = loadIdx(dir.file("cut"), labels, spec, {}, 2);
  ASSERT_TRUE(cut) << cut.message();
  EXPECT_EQ(floatsOf(*cut), floatsOf(*d));
  EXPECT_TRUE(failsWith(loadIdx(dir.file("cut"), labels, spec).status(),
                        dir.file("cut") + ": truncated: expected 30 image bytes, got 13"));
  EXPECT_TRUE(failsWith(loadIdx(dir.file("cut"), labels, spec, {}, 3).status(),
                        dir.file("cut") + ": truncated: expected 30 image bytes, got 13"));
  // A limit beyond the count keeps everything (and checks everything).
  writeFile(dir.file("long"), full + "xx");
  EXPECT_TRUE(failsWith(loadIdx(dir.file("long"), labels, spec, {}, 9).status(),
                        "unexpected data after the 30 image bytes"));
  Result<Dataset> four = loadIdx(dir.file("long"), labels, spec, {}, 4);
  EXPECT_TRUE(four) << four.message();
  // gzip: decompression stops soon after the kept samples, so a damaged
  // trailer (CRC) 1 MB further on is not reached. (Incompressible pixels:
  // zlib reads ahead by its buffer, 128 KB.)
  IdxArray big = u8Array({4096, 16, 16});
  uint32_t x = 1;
  for (uint8_t &b : big.bytes) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(x >> 24);
  }
  ASSERT_TRUE(writeIdx(dir.file("big.gz"), big, true).ok());
  ASSERT_TRUE(writeIdx(dir.file("bigl.gz"), u8Array({4096}, 0), true).ok());
  std::string gz = readFile(dir.file("big.gz"));
  gz[gz.size() - 8] ^= 0x55;
  writeFile(dir.file("crc.gz"), gz);
  SampleSpec bigSpec = imageSpec(1, 16, 16, 256);
  Result<Dataset> head = loadIdx(dir.file("crc.gz"), dir.file("bigl.gz"), bigSpec, {}, 10);
  ASSERT_TRUE(head) << head.message();
  EXPECT_EQ(head->size(), 10);
  EXPECT_EQ(head->pixels, std::vector<uint8_t>(big.bytes.begin(), big.bytes.begin() + 2560));
  EXPECT_TRUE(failsWith(loadIdx(dir.file("crc.gz"), dir.file("bigl.gz"), bigSpec).status(),
                        "corrupt gzip data"));
}

TEST(DataTest, SplitLimitsAndMemory) {
  ScratchDir dir;
  writeSmallIdx(dir.file("train-images-idx3-ubyte.gz"), dir.file("train-labels-idx1-ubyte.gz"),
                true);
  writeSmallIdx(dir.file("t10k-images-idx3-ubyte.gz"), dir.file("t10k-labels-idx1-ubyte.gz"), true);
  DataOptions options;
  options.data = dir.path();
  options.trainLimit = 3;
  options.testLimit = 2;
  SampleSpec spec = imageSpec(1, 2, 3, 5);
  Result<DataSplits> s = loadSplits(options, spec);
  ASSERT_TRUE(s) << s.message();
  EXPECT_EQ(s->train.size(), 3);
  EXPECT_EQ(s->test.size(), 2);
  EXPECT_EQ(s->train.pixels.size(), 18u);
  // The data pipeline's bytes: u8 pixels and i64 labels per split, the two
  // batch orders (4 B per sample) and evaluation's rows for batch 4 with 5
  // outputs (i64 labels, f32 targets).
  DataMemory m = dataMemory(s->train, s->test, 4, 5);
  EXPECT_EQ(m.train, 3u * 6u + 3u * 8u);
  EXPECT_EQ(m.test, 2u * 6u + 2u * 8u);
  EXPECT_EQ(m.staging, 5u * 4u + 4u * 8u + 4u * 5u * 4u);
  EXPECT_EQ(m.total(), m.train + m.test + m.staging);
  EXPECT_EQ(describeDataMemory(m, s->train, s->test),
            "data 202 B: train 42 B (3 u8 samples) + test 28 B (2 u8 "
            "samples) + staging 132 B");
  // nnc eval needs the test split only.
  options.needTrain = false;
  Result<DataSplits> testOnly = loadSplits(options, spec);
  ASSERT_TRUE(testOnly) << testOnly.message();
  EXPECT_EQ(testOnly->train.size(), 0);
  EXPECT_EQ(testOnly->test.size(), 2);
  // Synthetic data drawn up to the limit is the first part of the full set.
  options = DataOptions();
  options.data = "synthetic";
  options.syntheticCount = 40;
  Result<DataSplits> full = loadSplits(options, spec);
  options.trainLimit = 7;
  options.testLimit = 5;
  Result<DataSplits> part = loadSplits(options, spec);
  ASSERT_TRUE(full && part);
  Dataset cut = full->train;
  truncateDataset(cut, 7);
  EXPECT_EQ(part->train.inputs, cut.inputs);
  EXPECT_EQ(part->train.labels, cut.labels);
  EXPECT_EQ(part->test.size(), 5);
  EXPECT_STREQ(part->train.storageType(), "f32");
  // A held-out split is drawn from all samples, then cut.
  std::string csv = dir.file("c.csv");
  std::string text;
  for (int i = 0; i < 50; ++i)
    text += std::to_string(i) + "," + std::to_string(i % 2) + "\n";
  writeFile(csv, text);
  options = DataOptions();
  options.data = csv;
  Result<DataSplits> whole = loadSplits(options, SampleSpec{{1}, 2});
  options.trainLimit = 4;
  options.testLimit = 3;
  Result<DataSplits> limited = loadSplits(options, SampleSpec{{1}, 2});
  ASSERT_TRUE(whole && limited);
  EXPECT_EQ(limited->train.inputs,
            std::vector<float>(whole->train.inputs.begin(), whole->train.inputs.begin() + 4));
  EXPECT_EQ(limited->test.inputs,
            std::vector<float>(whole->test.inputs.begin(), whole->test.inputs.begin() + 3));
}

TEST(DataTest, IdxOtherTypes) {
  ScratchDir dir;
  IdxArray a;
  a.type = IdxType::I32;
  a.dims = {2};
  a.bytes = {0xFF, 0xFF, 0xFF, 0xFE, 0, 0, 1, 0}; // -2, 256 (big-endian)
  ASSERT_TRUE(writeIdx(dir.file("a"), a, false).ok());
  Result<IdxArray> r = readIdx(dir.file("a"), "value");
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(r->at(0), -2.0);
  EXPECT_EQ(r->at(1), 256.0);
}

TEST(DataTest, IdxErrors) {
  ScratchDir dir;
  std::string images = dir.file("img"), labels = dir.file("lab");
  writeSmallIdx(images, labels, false);
  SampleSpec spec = imageSpec(1, 2, 3, 10);

  // Missing file.
  EXPECT_TRUE(failsWith(loadIdx(dir.file("nope"), labels, spec).status(),
                        dir.file("nope") + ": cannot open: No such file"));
  // Truncated: 36-byte file cut to 16 + 1,000? No: cut to header + 10 bytes.
  std::string full = readFile(images);
  writeFile(dir.file("trunc"), full.substr(0, 16 + 10));
  EXPECT_TRUE(failsWith(loadIdx(dir.file("trunc"), labels, spec).status(),
                        dir.file("trunc") +
                            ": truncated: expected 30 image bytes, got 10"));
  // Truncated header.
  writeFile(dir.file("short"), full.substr(0, 6));
  EXPECT_TRUE(
      failsWith(readIdx(dir.file("short"), "image").status(), "ends early"));
  // Wrong magic.
  writeFile(dir.file("magic"), "PK\x03\x04" + full.substr(4));
  EXPECT_TRUE(failsWith(readIdx(dir.file("magic"), "image").status(),
                        ": not an IDX file: wrong magic number 0x504B0304"));
  // Unknown element type.
  std::string badType = full;
  badType[2] = 0x07;
  writeFile(dir.file("type"), badType);
  EXPECT_TRUE(failsWith(readIdx(dir.file("type"), "image").status(),
                        "unknown element type 0x07"));
  // Trailing data.
  writeFile(dir.file("long"), full + "xx");
  EXPECT_TRUE(failsWith(readIdx(dir.file("long"), "image").status(),
                        "unexpected data after the 30 image bytes"));
  // Wrong image size for the model.
  EXPECT_TRUE(
      failsWith(loadIdx(images, labels, imageSpec(1, 28, 28, 10)).status(),
                images + ": images are 1x2x3 (channels x height x "
                         "width), the model expects 1x28x28"));
  // Label out of range for the model's class count.
  std::string labels9 = dir.file("lab9");
  writeSmallIdx(dir.file("img9"), labels9, false, 9);
  EXPECT_TRUE(
      failsWith(loadIdx(images, labels9, imageSpec(1, 2, 3, 5)).status(),
                labels9 + ": label 9 of sample 4 is out of range for "
                          "a model with 5 classes"));
  // Counts differ.
  ASSERT_TRUE(writeIdx(dir.file("lab3"), u8Array({3}), false).ok());
  EXPECT_TRUE(failsWith(loadIdx(images, dir.file("lab3"), spec).status(),
                        "has 3 labels but " + images + " has 5 images"));
  // Images given as labels (rank).
  EXPECT_TRUE(failsWith(loadIdx(labels, labels, spec).status(),
                        "expected images (3 dimensions"));
  // A directory.
  EXPECT_TRUE(
      failsWith(readIdx(dir.path(), "image").status(), "is a directory"));
}

TEST(DataTest, IdxGzipErrors) {
  ScratchDir dir;
  std::string images = dir.file("img.gz"), labels = dir.file("lab.gz");
  writeSmallIdx(images, labels, true);
  std::string gz = readFile(images);
  SampleSpec spec = imageSpec(1, 2, 3, 10);

  // A gzip stream cut short.
  writeFile(dir.file("cut.gz"), gz.substr(0, gz.size() / 2));
  Status cut = loadIdx(dir.file("cut.gz"), labels, spec).status();
  EXPECT_TRUE(failsWith(cut, dir.file("cut.gz") + ": truncated"));
  // Corrupt deflate data after a valid gzip header.
  std::string bad = gz;
  for (size_t i = 10; i < bad.size() - 8; ++i)
    bad[i] = static_cast<char>(0xFF);
  writeFile(dir.file("bad.gz"), bad);
  EXPECT_TRUE(failsWith(readIdx(dir.file("bad.gz"), "image").status(),
                        dir.file("bad.gz") + ": corrupt gzip data"));
  // A wrong CRC in the trailer.
  std::string crc = gz;
  crc[crc.size() - 8] ^= 0x55;
  writeFile(dir.file("crc.gz"), crc);
  EXPECT_TRUE(failsWith(readIdx(dir.file("crc.gz"), "image").status(),
                        "corrupt gzip data"));
}

TEST(DataTest, FashionMnistFromDebian) {
  Result<std::pair<std::string, std::string>> train =
      resolveIdxFiles(kFashionMnistDir, Split::Train);
  if (!train)
    GTEST_SKIP() << "Debian's dataset-fashion-mnist is not installed ("
                 << train.message() << ")";
  // Headers and sizes of both splits.
  Result<IdxArray> images = readIdx(train->first, "image");
  ASSERT_TRUE(images) << images.message();
  EXPECT_EQ(images->dims, (std::vector<uint32_t>{60000, 28, 28}));
  EXPECT_EQ(images->bytes.size(), 47040000u);
  Result<IdxArray> labels = readIdx(train->second, "label");
  ASSERT_TRUE(labels) << labels.message();
  EXPECT_EQ(labels->dims, (std::vector<uint32_t>{60000}));
  // The same header with only 1,000 bytes of pixels.
  ScratchDir dir;
  IdxArray cut = *images;
  cut.bytes.resize(1000);
  ASSERT_TRUE(writeIdx(dir.file("train-images.gz"), cut, true).ok());
  EXPECT_EQ(readIdx(dir.file("train-images.gz"), "image").message(),
            dir.file("train-images.gz") +
                ": truncated: expected 47,040,000 image bytes, got 1,000");
  Result<Dataset> test =
      loadDataset("fashion-mnist", Split::Test, imageSpec(1, 28, 28, 10));
  ASSERT_TRUE(test) << test.message();
  EXPECT_EQ(test->size(), 10000);
  EXPECT_EQ(test->pixels.size(), 10000u * 784u);
  std::set<int64_t> classes(test->labels.begin(), test->labels.end());
  EXPECT_EQ(classes.size(), 10u);
  std::vector<float> floats = floatsOf(*test);
  auto [lo, hi] = std::minmax_element(floats.begin(), floats.end());
  EXPECT_EQ(*lo, 0.0f);
  EXPECT_EQ(*hi, 1.0f);
  // --limit reads the first samples only: the same as cutting the whole.
  Result<Dataset> head =
      loadDataset("fashion-mnist", Split::Test, imageSpec(1, 28, 28, 10), {}, 0, 0, {}, {}, 100);
  ASSERT_TRUE(head) << head.message();
  EXPECT_EQ(head->size(), 100);
  EXPECT_EQ(head->pixels, std::vector<uint8_t>(test->pixels.begin(), test->pixels.begin() + 78400));
  EXPECT_EQ(head->labels, std::vector<int64_t>(test->labels.begin(), test->labels.begin() + 100));
  // The real file is checked against the model: a 32x32 model is refused.
  EXPECT_TRUE(failsWith(
      loadDataset("fashion-mnist", Split::Test, imageSpec(1, 32, 32, 10))
          .status(),
      "t10k-images-idx3-ubyte.gz: images are 1x28x28"));
}

void writePng(const std::string &path, uint32_t w, uint32_t h, bool rgb,
              const std::vector<uint8_t> &pixels) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = w;
  image.height = h;
  image.format = rgb ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  ASSERT_TRUE(png_image_write_to_file(&image, path.c_str(), 0, pixels.data(), 0,
                                      nullptr))
      << image.message;
}

TEST(DataTest, ImageFolder) {
  ScratchDir dir;
  std::string root = dir.path();
  ASSERT_EQ(::mkdir((root + "/cat").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root + "/ant").c_str(), 0755), 0);
  // ant: one 2x2 gray image; cat: one 4x2 RGB image and a README.
  writePng(root + "/ant/a.png", 2, 2, false, {0, 100, 200, 255});
  std::vector<uint8_t> rgb;
  for (int i = 0; i < 8; ++i)
    rgb.insert(rgb.end(), {uint8_t(10 * i), 0, 255});
  writePng(root + "/cat/x.PNG", 4, 2, true, rgb);
  writeFile(root + "/cat/README", "not an image");

  Normalization raw;
  raw.scale01 = false;
  // Without resizing, another size or colour type is an error naming the
  // file, its size and colour and the model's.
  EXPECT_TRUE(
      failsWith(loadImageFolder(root, imageSpec(1, 2, 2, 2), raw).status(),
                root + "/cat/x.PNG: the image is 4x2 RGB, the model "
                       "expects 2x2 gray (pass --resize"));
  EXPECT_TRUE(
      failsWith(loadImageFolder(root, imageSpec(3, 4, 4, 2), raw).status(),
                root + "/ant/a.png: the image is 2x2 gray, the model "
                       "expects 4x4 RGB"));
  ImageOptions resize;
  resize.resize = true;
  Result<Dataset> same =
      loadImageFolder(root, imageSpec(1, 2, 2, 2), raw, resize);
  ASSERT_TRUE(same) << same.message();
  // Skipped files and converted images are counted.
  EXPECT_EQ(same->notes,
            (std::vector<std::string>{"skipped 1 non-PNG entry in " + root +
                                          "/ (first: " + root + "/cat/README)",
                                      "resized or converted 1 of 2 images in " +
                                          root + "/ to the model's 2x2 gray"}));
  EXPECT_EQ(same->classNames, (std::vector<std::string>{"ant", "cat"}));
  EXPECT_EQ(same->labels, (std::vector<int64_t>{0, 1}));
  // 2x2 -> 2x2 is the identity. The cat (4x2) was resized, so its values
  // are fractional and the dataset is held as floats.
  EXPECT_STREQ(same->storageType(), "f32");
  std::vector<float> sameFloats = floatsOf(*same);
  EXPECT_EQ(std::vector<float>(sameFloats.begin(), sameFloats.begin() + 4),
            (std::vector<float>{0, 100, 200, 255}));
  // --limit: only the first image is decoded (every folder still listed);
  // without resizing the pixels stay u8 as decoded.
  Result<Dataset> one = loadImageFolder(root, imageSpec(1, 2, 2, 2), raw, resize, 1);
  ASSERT_TRUE(one) << one.message();
  EXPECT_EQ(one->size(), 1);
  EXPECT_EQ(one->pixels, (std::vector<uint8_t>{0, 100, 200, 255}));

  // Upscale 2x2 -> 4x4 (bilinear, half-pixel centres): the first row is
  // 0, 25, 75, 100 as torch.nn.functional.interpolate gives.
  Result<Dataset> up =
      loadImageFolder(root, imageSpec(3, 4, 4, 2), raw, resize);
  ASSERT_TRUE(up) << up.message();
  // Resized values are fractional: the dataset is held as floats.
  EXPECT_STREQ(up->storageType(), "f32");
  EXPECT_TRUE(up->pixels.empty());
  ASSERT_EQ(up->inputs.size(), 2u * 48u);
  for (int c = 0; c < 3; ++c) { // Gray replicated into R, G and B.
    EXPECT_FLOAT_EQ(up->inputs[c * 16 + 0], 0);
    EXPECT_FLOAT_EQ(up->inputs[c * 16 + 1], 25);
    EXPECT_FLOAT_EQ(up->inputs[c * 16 + 2], 75);
    EXPECT_FLOAT_EQ(up->inputs[c * 16 + 3], 100);
  }
  // The RGB image: blue plane all 255, green 0.
  const float *cat = up->inputs.data() + 48;
  EXPECT_FLOAT_EQ(cat[16 + 5], 0.0f);
  EXPECT_FLOAT_EQ(cat[32 + 5], 255.0f);

  // Errors: class count, empty class folder, corrupt PNG, no classes.
  EXPECT_TRUE(failsWith(loadImageFolder(root, imageSpec(1, 2, 2, 3)).status(),
                        "has 2 class folders, the model has 3 classes"));
  writeFile(root + "/cat/broken.png", "\x89PNG\r\n\x1a\nnonsense");
  EXPECT_TRUE(failsWith(loadImageFolder(root, imageSpec(1, 2, 2, 2)).status(),
                        root + "/cat/broken.png: "));
  std::remove((root + "/cat/broken.png").c_str());
  ASSERT_EQ(::mkdir((root + "/dog").c_str(), 0755), 0);
  EXPECT_TRUE(failsWith(
      loadImageFolder(root, imageSpec(1, 2, 2, 0), {}, resize).status(),
      root + "/dog: the class folder has no .png files"));
  EXPECT_TRUE(
      failsWith(loadImageFolder(root + "/ant", imageSpec(1, 2, 2, 0)).status(),
                "no class sub-folders"));
}

TEST(DataTest, Csv) {
  ScratchDir dir;
  std::string path = dir.file("d.csv");
  writeFile(path, "x1,label,x2\n1.5,2,-3\n0,0,1e2\r\n\n");
  SampleSpec spec{{2}, 3};
  CsvOptions opts;
  opts.targetColumns = {"label"};
  Result<Dataset> d = loadCsv(path, spec, opts);
  ASSERT_TRUE(d) << d.message();
  EXPECT_EQ(d->size(), 2);
  EXPECT_EQ(d->inputs, (std::vector<float>{1.5f, -3, 0, 100}));
  EXPECT_EQ(d->labels, (std::vector<int64_t>{2, 0}));
  // Regression targets, label column by index, no header.
  writeFile(path, "1,2,0.5\n3,4,-0.25\n");
  Result<Dataset> r = loadCsv(path, SampleSpec{{2}, 0});
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(r->targets, (std::vector<float>{0.5f, -0.25f}));
  EXPECT_TRUE(r->labels.empty());
  // Errors.
  writeFile(path, "1,2,0\n3,x,1\n");
  EXPECT_TRUE(failsWith(loadCsv(path, SampleSpec{{2}, 2}).status(),
                        path + ":2: field 2 'x' is not a number"));
  writeFile(path, "1,2,0\n3,1\n");
  EXPECT_TRUE(failsWith(loadCsv(path, SampleSpec{{2}, 2}).status(),
                        path + ":2: has 2 fields, expected 3"));
  writeFile(path, "1,2,7\n");
  EXPECT_TRUE(failsWith(loadCsv(path, SampleSpec{{2}, 2}).status(),
                        path + ":1: label 7 is out of range for a model with "
                               "2 classes"));
  EXPECT_TRUE(failsWith(loadCsv(path, SampleSpec{{5}, 10}).status(),
                        "has 2 feature columns (plus the label), the model "
                        "expects 5 features"));
}

TEST(DataTest, CsvTargets) {
  ScratchDir dir;
  std::string path = dir.file("r.csv");
  writeFile(path, "a,b,y,z\n1,2,0.5,7\n3,4,-0.25,8\n");
  // Regression: the last targetWidth columns by default.
  SampleSpec two{{2}, 0, 2};
  Result<Dataset> d = loadCsv(path, two);
  ASSERT_TRUE(d) << d.message();
  EXPECT_EQ(d->targetWidth, 2);
  EXPECT_EQ(d->inputs, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(d->targets, (std::vector<float>{0.5f, 7, -0.25f, 8}));
  // By name and by index, in the order given.
  CsvOptions opts;
  opts.targetColumns = {"z", "0"};
  Result<Dataset> e = loadCsv(path, two, opts);
  ASSERT_TRUE(e) << e.message();
  EXPECT_EQ(e->inputs, (std::vector<float>{2, 0.5f, 4, -0.25f}));
  EXPECT_EQ(e->targets, (std::vector<float>{7, 1, 8, 3}));
  // A float target for a one-output mse model; never a class label.
  SampleSpec one{{3}, 0, 1};
  opts.targetColumns = {"y"};
  Result<Dataset> f = loadCsv(path, one, opts);
  ASSERT_TRUE(f) << f.message();
  EXPECT_EQ(f->targets, (std::vector<float>{0.5f, -0.25f}));
  EXPECT_TRUE(f->labels.empty());
  EXPECT_TRUE(failsWith(loadCsv(path, SampleSpec{{3}, 1}, opts).status(),
                        path +
                            ":2: label 0.5 is out of range for a model with 1 "
                            "classes (a regression model needs loss = mse)"));
  opts.targetColumns = {"nosuch"};
  EXPECT_TRUE(failsWith(loadCsv(path, one, opts).status(),
                        path + ": no column 'nosuch'"));
  opts.targetColumns = {"y"};
  EXPECT_TRUE(
      failsWith(loadCsv(path, two, opts).status(),
                "1 target columns given, the model predicts 2 value(s)"));
  // Batches copy targetWidth values per row.
  Result<Batcher> b = Batcher::create(*d, 3, false, 0);
  ASSERT_TRUE(b);
  std::vector<float> inputs(6), targets(6, -1);
  EXPECT_EQ(b->copyBatch(0, BatchBuffers{inputs.data(), nullptr, nullptr,
                                         targets.data()}),
            2);
  // The padding row repeats the first sample: mse has no ignore label.
  EXPECT_EQ(targets, (std::vector<float>{0.5f, 7, -0.25f, 8, 0.5f, 7}));
  EXPECT_EQ(inputs, (std::vector<float>{1, 2, 3, 4, 1, 2}));
}

TEST(DataTest, HoldoutSplit) {
  ScratchDir dir;
  std::string path = dir.file("c.csv");
  std::string text;
  for (int i = 0; i < 50; ++i)
    text += std::to_string(i) + "," + std::to_string(i % 2) + "\n";
  writeFile(path, text);
  DataOptions options;
  options.data = path;
  SampleSpec spec{{1}, 2};
  Result<DataSplits> s = loadSplits(options, spec);
  ASSERT_TRUE(s) << s.message();
  EXPECT_EQ(s->test.size(), 5);
  EXPECT_EQ(s->train.size(), 45);
  EXPECT_EQ(
      s->notes,
      (std::vector<std::string>{
          "holding out 10% (5 of 50 samples, seed 1) of " + path +
          " as the test split; use --test-data for a separate test set"}));
  // Disjoint and together every sample (the feature is the row number).
  std::set<float> all(s->train.inputs.begin(), s->train.inputs.end());
  for (float x : s->test.inputs)
    EXPECT_TRUE(all.insert(x).second) << "sample " << x << " is in both splits";
  EXPECT_EQ(all.size(), 50u);
  for (int64_t i = 0; i < s->test.size(); ++i)
    EXPECT_EQ(s->test.labels[i], int64_t(s->test.inputs[i]) % 2);
  // Same seed, same split; another seed, another one.
  Result<DataSplits> again = loadSplits(options, spec);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->test.inputs, s->test.inputs);
  options.seed = 2;
  options.holdout = 0.5;
  Result<DataSplits> other = loadSplits(options, spec);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->test.size(), 25);
  EXPECT_NE(std::vector<float>(other->test.inputs.begin(),
                               other->test.inputs.begin() + 5),
            s->test.inputs);
  // A separate test set: nothing held out.
  options.holdout.reset();
  options.testData = path;
  Result<DataSplits> separate = loadSplits(options, spec);
  ASSERT_TRUE(separate);
  EXPECT_EQ(separate->train.size(), 50);
  EXPECT_EQ(separate->test.size(), 50);
  EXPECT_TRUE(separate->notes.empty());
  // --holdout where there is a test split.
  options.holdout = 0.2;
  EXPECT_TRUE(failsWith(loadSplits(options, spec).status(),
                        "--test-data gives the test split"));
  options.testData.clear();
  options.data = "synthetic";
  EXPECT_TRUE(failsWith(loadSplits(options, spec).status(),
                        "--holdout: synthetic has its own test split"));
  EXPECT_TRUE(hasOwnTestSplit("synthetic"));
  EXPECT_FALSE(hasOwnTestSplit(path));
}

TEST(DataTest, SyntheticSuitsTheModel) {
  // Token inputs: ids within the vocabulary, class labels.
  SampleSpec tokens{{6}, 4};
  tokens.tokenInputs = true;
  tokens.vocabSize = 50;
  Result<Dataset> t = makeSynthetic(tokens, 40, 3);
  ASSERT_TRUE(t) << t.message();
  EXPECT_TRUE(t->tokenInputs);
  EXPECT_TRUE(t->inputs.empty());
  ASSERT_EQ(t->tokens.size(), 240u);
  for (int64_t id : t->tokens)
    EXPECT_TRUE(id >= 0 && id < 50) << id;
  EXPECT_EQ(t->labels.size(), 40u);
  tokens.vocabSize = 0;
  EXPECT_TRUE(failsWith(makeSynthetic(tokens, 4, 3).status(),
                        "vocabulary size is unknown"));
  // Regression: float targets of the output's width, no labels, finite.
  SampleSpec regression{{3}, 0, 2};
  Result<Dataset> r = makeSynthetic(regression, 10, 3);
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(r->targetWidth, 2);
  EXPECT_EQ(r->targets.size(), 20u);
  EXPECT_TRUE(r->labels.empty());
  for (float y : r->targets)
    EXPECT_TRUE(std::isfinite(y));
  Result<Batcher> b = Batcher::create(*r, 4, true, 1);
  ASSERT_TRUE(b);
  std::vector<float> inputs(12), targets(8);
  EXPECT_EQ(b->copyBatch(0, BatchBuffers{inputs.data(), nullptr, nullptr,
                                         targets.data()}),
            4);
}

TEST(DataTest, Tokens) {
  ScratchDir dir;
  std::string path = dir.file("t.txt");
  writeFile(path, "5 6 7 1\n\n  8\t9 0\n");
  SampleSpec spec{{4}, 2};
  Result<Dataset> d = loadTokens(path, spec);
  ASSERT_TRUE(d) << d.message();
  EXPECT_TRUE(d->tokenInputs);
  EXPECT_EQ(d->size(), 2);
  EXPECT_EQ(d->tokens, (std::vector<int64_t>{5, 6, 7, 0, 8, 9, 0, 0}));
  EXPECT_EQ(d->labels, (std::vector<int64_t>{1, 0}));
  TokenOptions vocab;
  vocab.vocabSize = 9;
  EXPECT_TRUE(failsWith(loadTokens(path, spec, vocab).status(),
                        path + ":3: token id 9 is out of range for a "
                               "vocabulary of 9"));
  EXPECT_TRUE(failsWith(loadTokens(path, SampleSpec{{2}, 2}).status(),
                        path + ":1: has 3 token ids, longer than the model's "
                               "sequence length 2"));
  writeFile(path, "1 2 x 0\n");
  EXPECT_TRUE(failsWith(loadTokens(path, spec).status(),
                        path + ":1: 'x' is not an integer token id"));
  writeFile(path, "1 2 3\n");
  EXPECT_TRUE(failsWith(loadTokens(path, spec).status(),
                        path + ":1: label 3 is out of range"));
}

TEST(DataTest, SyntheticSequenceLabels) {
  // A sequence model (logits [N, 6, 4]): 6 labels per sample, each a
  // function of the token id at its position, so the data is learnable.
  SampleSpec tokens{{6}, 4};
  tokens.tokenInputs = true;
  tokens.vocabSize = 50;
  tokens.labelsPerSample = 6;
  Result<Dataset> t = makeSynthetic(tokens, 40, 3);
  ASSERT_TRUE(t) << t.message();
  EXPECT_EQ(t->labelWidth, 6);
  ASSERT_EQ(t->labels.size(), 240u);
  std::map<int64_t, int64_t> labelOf;
  std::set<int64_t> seen;
  for (size_t k = 0; k < t->labels.size(); ++k) {
    int64_t l = t->labels[k];
    EXPECT_TRUE(l >= 0 && l < 4) << l;
    seen.insert(l);
    auto [it, fresh] = labelOf.emplace(t->tokens[k], l);
    EXPECT_EQ(it->second, l) << "token " << t->tokens[k] << " has two labels";
  }
  EXPECT_GT(seen.size(), 1u);
  // Float samples [6, 3]: position t's label depends on the class and t.
  SampleSpec floats{{6, 3}, 4};
  floats.labelsPerSample = 6;
  Result<Dataset> f = makeSynthetic(floats, 10, 3);
  ASSERT_TRUE(f) << f.message();
  ASSERT_EQ(f->labels.size(), 60u);
  // A partial batch pads every position of its padding rows.
  Result<Batcher> b = Batcher::create(*t, 3, false, 1);
  ASSERT_TRUE(b);
  b->beginEpoch(0);
  std::vector<int64_t> ids(18), labels(18);
  BatchBuffers out;
  out.tokens = ids.data();
  out.labels = labels.data();
  int64_t last = b->numBatches() - 1;
  ASSERT_EQ(b->copyBatch(last, out), 1); // 40 = 13 * 3 + 1
  EXPECT_TRUE(std::equal(labels.begin(), labels.begin() + 6, t->labels.begin() + 39 * 6));
  for (size_t k = 6; k < 18; ++k)
    EXPECT_EQ(labels[k], kIgnoreLabel);
  // Selecting and truncating keep whole label rows.
  Dataset part = selectSamples(*t, {39, 0});
  EXPECT_EQ(part.labelWidth, 6);
  EXPECT_TRUE(std::equal(part.labels.begin(), part.labels.begin() + 6, t->labels.begin() + 39 * 6));
  EXPECT_TRUE(std::equal(part.labels.begin() + 6, part.labels.end(), t->labels.begin()));
  Dataset cut = *t;
  truncateDataset(cut, 5);
  EXPECT_EQ(cut.labels.size(), 30u);
}

TEST(DataTest, SyntheticIsSeeded) {
  SampleSpec spec{{1, 4, 4}, 3};
  Result<Dataset> a = makeSynthetic(spec, 50, 7);
  Result<Dataset> b = makeSynthetic(spec, 50, 7);
  Result<Dataset> c = makeSynthetic(spec, 50, 8);
  Result<Dataset> t = makeSynthetic(spec, 50, 7, Split::Test);
  ASSERT_TRUE(a && b && c && t);
  EXPECT_EQ(a->inputs, b->inputs);
  EXPECT_EQ(a->labels, b->labels);
  EXPECT_NE(a->inputs, c->inputs);
  EXPECT_NE(a->inputs, t->inputs);
  for (int64_t l : a->labels)
    EXPECT_TRUE(l >= 0 && l < 3);
}

TEST(DataTest, ShufflingIsDeterministic) {
  Result<Dataset> d = makeSynthetic(SampleSpec{{2}, 2}, 100, 1);
  ASSERT_TRUE(d);
  Result<Batcher> a = Batcher::create(*d, 10, true, 42);
  Result<Batcher> b = Batcher::create(*d, 10, true, 42);
  Result<Batcher> c = Batcher::create(*d, 10, true, 43);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->order(), b->order());
  EXPECT_NE(a->order(), c->order());
  std::vector<uint32_t> epoch0 = a->order();
  a->beginEpoch(1);
  EXPECT_NE(a->order(), epoch0); // A new order each epoch ...
  a->beginEpoch(0);
  EXPECT_EQ(a->order(), epoch0); // ... reproducible on its own (--resume).
  std::vector<uint32_t> sorted = epoch0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<uint32_t> iota(100);
  std::iota(iota.begin(), iota.end(), 0u);
  EXPECT_EQ(sorted, iota); // A permutation.
  // The exact order is fixed across machines and standard libraries (PCG32
  // plus our own Fisher-Yates; a change here breaks --resume of old runs).
  EXPECT_EQ(std::vector<uint32_t>(epoch0.begin(), epoch0.begin() + 8),
            (std::vector<uint32_t>{30, 51, 53, 77, 7, 65, 74, 19}));
  Result<Batcher> plain = Batcher::create(*d, 10, false, 42);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->order(), iota);
}

TEST(DataTest, PartialLastBatch) {
  Result<Dataset> d = makeSynthetic(SampleSpec{{3}, 4}, 10, 3);
  ASSERT_TRUE(d);
  Result<Batcher> b = Batcher::create(*d, 4, true, 9);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->numBatches(), 3);
  EXPECT_EQ(b->batchCount(0), 4);
  EXPECT_EQ(b->batchCount(2), 2);
  std::vector<float> inputs(4 * 3, -1.0f);
  std::vector<int64_t> labels(4, -1);
  BatchBuffers out{inputs.data(), nullptr, labels.data(), nullptr};
  std::vector<int64_t> seen;
  for (int64_t i = 0; i < b->numBatches(); ++i) {
    int64_t n = b->copyBatch(i, out);
    EXPECT_EQ(n, i < 2 ? 4 : 2);
    for (int64_t r = 0; r < n; ++r) {
      uint32_t s = b->order()[size_t(i * 4 + r)];
      seen.push_back(s);
      EXPECT_EQ(labels[size_t(r)], d->labels[s]);
      EXPECT_EQ(inputs[size_t(r * 3 + 2)], d->inputs[s * 3 + 2]);
    }
  }
  // Padding rows of the last batch: zeros and the ignore label.
  EXPECT_EQ(labels[2], kIgnoreLabel);
  EXPECT_EQ(labels[3], kIgnoreLabel);
  EXPECT_EQ(inputs[2 * 3], 0.0f);
  EXPECT_EQ(seen.size(), 10u); // Every sample once, none dropped.
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 10u);
  EXPECT_EQ(b->copyBatch(3, out), 0);
  EXPECT_EQ(b->copyBatch(0, BatchBuffers{}), 0); // Missing buffers.
  EXPECT_FALSE(Batcher::create(*d, 0, false, 0));
}

TEST(DataTest, TokenBatches) {
  ScratchDir dir;
  writeFile(dir.file("t"), "1 2 0\n3 1\n4 5 6 1\n");
  Result<Dataset> d = loadTokens(dir.file("t"), SampleSpec{{3}, 2});
  ASSERT_TRUE(d) << d.message();
  Result<Batcher> b = Batcher::create(*d, 2, false, 0);
  ASSERT_TRUE(b);
  std::vector<int64_t> tokens(6), labels(2);
  EXPECT_EQ(b->copyBatch(1, BatchBuffers{nullptr, tokens.data(), labels.data(),
                                         nullptr}),
            1);
  EXPECT_EQ(tokens, (std::vector<int64_t>{4, 5, 6, 0, 0, 0}));
  EXPECT_EQ(labels, (std::vector<int64_t>{1, kIgnoreLabel}));
  // An i32 input takes the same ids.
  std::vector<int32_t> narrow(6, -1);
  BatchBuffers out32{nullptr, nullptr, labels.data(), nullptr, narrow.data()};
  EXPECT_EQ(b->copyBatch(0, out32), 2);
  EXPECT_EQ(narrow, (std::vector<int32_t>{1, 2, 0, 3, 0, 0}));
}

TEST(DataTest, LoadDatasetByName) {
  ScratchDir dir;
  writeSmallIdx(dir.file("train-images-idx3-ubyte.gz"),
                dir.file("train-labels-idx1-ubyte.gz"), true);
  Result<Dataset> d =
      loadDataset(dir.path(), Split::Train, imageSpec(1, 2, 3, 5));
  ASSERT_TRUE(d) << d.message();
  EXPECT_EQ(d->size(), 5);
  EXPECT_TRUE(failsWith(
      loadDataset(dir.file("nothing"), Split::Train, imageSpec(1, 2, 3, 5))
          .status(),
      "no such dataset"));
  Result<Dataset> s =
      loadDataset("synthetic", Split::Test, imageSpec(1, 2, 2, 3), {}, 5, 20);
  ASSERT_TRUE(s) << s.message();
  EXPECT_EQ(s->size(), 20);
}

} // namespace
