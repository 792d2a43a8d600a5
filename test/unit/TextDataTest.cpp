//===- TextDataTest.cpp - Tests of byte-level language-model data ---------===//
//
// Part of nnc. `--data text:PATH`: windows and their next-byte labels, the
// contiguous test split (no window crosses it), directories of text files,
// the unigram entropy and the errors.
//
//===----------------------------------------------------------------------===//

#include "runtime/Data.h"
#include "test/unit/RuntimeTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sys/stat.h>
#include <unistd.h>

using namespace nnc::rt;
using nnc::rt::test::ScratchDir;
using nnc::rt::test::writeFile;

namespace {

/// A byte-level language model's sample: T token ids, T labels of 256
/// classes, an embedding of `vocab` rows.
SampleSpec lmSpec(int64_t window, int64_t vocab = 256) {
  SampleSpec spec;
  spec.shape = {window};
  spec.numClasses = vocab;
  spec.labelsPerSample = window;
  spec.tokenInputs = true;
  spec.vocabSize = vocab;
  return spec;
}

DataOptions textOptions(const std::string &path) {
  DataOptions options;
  options.data = std::string(kTextPrefix) + path;
  return options;
}

bool contains(const std::string &text, const std::string &needle) {
  return text.find(needle) != std::string::npos;
}

TEST(TextDataTest, WindowsAndNextByteLabels) {
  ScratchDir dir;
  // 100 bytes: the last 10 are the test split.
  std::string text;
  for (int i = 0; i < 100; ++i)
    text.push_back(char('a' + i % 26));
  text[95] = char(0xff); // Any byte is a token.
  writeFile(dir.file("t.txt"), text);
  Result<DataSplits> splits = loadSplits(textOptions(dir.file("t.txt")), lmSpec(4));
  ASSERT_TRUE(splits) << splits.message();
  const Dataset &train = splits->train, &test = splits->test;
  // Train: bytes [0, 90): windows at 0, 4, ..., 84 (the labels of the last
  // end at byte 88, the one at 88 would need byte 92).
  EXPECT_EQ(train.size(), 22);
  EXPECT_EQ(train.labelWidth, 4);
  EXPECT_TRUE(train.tokenInputs);
  EXPECT_TRUE(train.byteText);
  for (int64_t w = 0; w < train.size(); ++w)
    for (int64_t t = 0; t < 4; ++t) {
      EXPECT_EQ(train.tokens[w * 4 + t], (unsigned char)text[w * 4 + t]);
      EXPECT_EQ(train.labels[w * 4 + t], (unsigned char)text[w * 4 + t + 1]);
    }
  // Test: bytes [90, 100): windows at 90 and 94; none reads a train byte.
  ASSERT_EQ(test.size(), 2);
  EXPECT_EQ(test.tokens[0], 'a' + 90 % 26);
  EXPECT_EQ(test.labels[3], 'a' + 94 % 26);
  EXPECT_EQ(test.tokens[5], 0xff);
  EXPECT_EQ(test.labels[7], 'a' + 98 % 26);
  ASSERT_EQ(splits->notes.size(), 2u);
  EXPECT_TRUE(contains(splits->notes[0], "holding out the last 10% of text:"));
  EXPECT_TRUE(contains(splits->notes[0], "(bytes 90 to 100 of 100, contiguous"));
  EXPECT_TRUE(contains(splits->notes[1], "text: 90 training bytes in 22 windows of 4"));

  // --holdout and --limit.
  DataOptions options = textOptions(dir.file("t.txt"));
  options.holdout = 0.5;
  options.trainLimit = 3;
  splits = loadSplits(options, lmSpec(4));
  ASSERT_TRUE(splits) << splits.message();
  EXPECT_EQ(splits->train.size(), 3);
  EXPECT_EQ(splits->train.labels.size(), 12u);
  EXPECT_EQ(splits->test.size(), 12);
  EXPECT_EQ(splits->test.tokens[0], 'a' + 50 % 26);

  // A batch holds the windows' ids and their labels, T per row.
  Result<Batcher> batcher = Batcher::create(splits->train, 2, /*shuffle=*/false, 1);
  ASSERT_TRUE(batcher) << batcher.message();
  std::vector<int64_t> ids(8), labels(8);
  BatchBuffers out;
  out.tokens = ids.data();
  out.labels = labels.data();
  EXPECT_EQ(batcher->copyBatch(1, out), 1);
  EXPECT_EQ(ids[0], 'a' + 8);
  EXPECT_EQ(labels[3], 'a' + 12);
  EXPECT_EQ(labels[4], kIgnoreLabel);
}

TEST(TextDataTest, DirectoryOfTextFiles) {
  ScratchDir dir;
  ::mkdir(dir.file("corpus").c_str(), 0755);
  ::mkdir(dir.file("corpus/sub").c_str(), 0755);
  writeFile(dir.file("corpus/b"), "BBBB");
  writeFile(dir.file("corpus/a"), "AAAA");
  writeFile(dir.file("corpus/a.dat"), "index");
  writeFile(dir.file("corpus/.hidden"), "hidden");
  writeFile(dir.file("corpus/sub/c"), "nested");
  ASSERT_EQ(::symlink("a", dir.file("corpus/a.u8").c_str()), 0);
  ASSERT_EQ(::symlink("b", dir.file("corpus/z").c_str()), 0);
  Result<std::string> text = readTextCorpus(dir.file("corpus"));
  ASSERT_TRUE(text) << text.message();
  EXPECT_EQ(*text, "AAAABBBB");
  ::mkdir(dir.file("empty").c_str(), 0755);
  Result<std::string> none = readTextCorpus(dir.file("empty"));
  EXPECT_FALSE(none);
  EXPECT_TRUE(contains(none.message(), "has no text files"));
}

TEST(TextDataTest, UnigramEntropy) {
  EXPECT_DOUBLE_EQ(unigramEntropyBits("aaaa"), 0.0);
  EXPECT_DOUBLE_EQ(unigramEntropyBits("abab"), 1.0);
  EXPECT_DOUBLE_EQ(unigramEntropyBits("abcd"), 2.0);
  // p = 3/4, 1/4.
  EXPECT_NEAR(unigramEntropyBits("aaab"), 0.8112781244591328, 1e-12);
}

TEST(TextDataTest, Errors) {
  ScratchDir dir;
  writeFile(dir.file("empty.txt"), "");
  writeFile(dir.file("short.txt"), std::string(20, 'x'));
  writeFile(dir.file("t.txt"), std::string(200, 'x'));
  auto error = [&](const DataOptions &options, const SampleSpec &spec) {
    Result<DataSplits> s = loadSplits(options, spec);
    return s ? std::string("success") : s.message();
  };
  EXPECT_TRUE(contains(error(textOptions(dir.file("empty.txt")), lmSpec(4)),
                       "empty.txt: the text is empty"));
  EXPECT_TRUE(contains(error(textOptions(dir.file("none.txt")), lmSpec(4)),
                       "none.txt: no such file or directory"));
  EXPECT_TRUE(contains(error(textOptions(dir.file("short.txt")), lmSpec(16)),
                       "short.txt has 20 bytes; a train and a test split of at least 17 each"));
  EXPECT_TRUE(
      contains(error(textOptions(dir.file("t.txt")), lmSpec(4, 100)),
               "the vocabulary is the 256 byte values; the model's embedding has 100 rows"));
  SampleSpec classifier;
  classifier.shape = {4};
  classifier.numClasses = 256;
  classifier.tokenInputs = true;
  classifier.vocabSize = 256;
  EXPECT_TRUE(contains(error(textOptions(dir.file("t.txt")), classifier),
                       "byte-level text needs a language model"));
  DataOptions other = textOptions(dir.file("t.txt"));
  other.testData = dir.file("short.txt");
  EXPECT_TRUE(contains(error(other, lmSpec(4)), "the test set is text too"));
  other.testData = std::string(kTextPrefix) + dir.file("short.txt");
  Result<DataSplits> separate = loadSplits(other, lmSpec(4));
  ASSERT_TRUE(separate) << separate.message();
  EXPECT_EQ(separate->train.size(), 49); // All 200 bytes.
  EXPECT_EQ(separate->test.size(), 4);
}

} // namespace
