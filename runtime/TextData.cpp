//===- TextData.cpp - Byte-level language-model data ----------------------===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR). `--data text:PATH`: a
// text file, or a directory of them concatenated in name order, cut into
// windows of T bytes for a model that takes token ids [N, T] and predicts
// every next byte (sequence logits [N, T, V], labels [N, T]). The last
// fraction of the text is the test split, contiguous, so no window of one
// split holds bytes of the other (docs/data.md, "Text").
//
//===----------------------------------------------------------------------===//

#include "runtime/Data.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <dirent.h>
#include <sys/stat.h>

namespace nnc::rt {

namespace {
bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// The windows [s, s + T) of `text` with s = 0, T, 2T, ... (the labels of a
/// window are the bytes [s + 1, s + T + 1), so the last window ends a byte
/// before the text does).
Dataset windowsOf(const std::string &text, int64_t window, const std::string &source) {
  Dataset data;
  data.source = source;
  data.sampleShape = {window};
  data.tokenInputs = true;
  data.labelWidth = window;
  data.byteText = true;
  int64_t n = (int64_t(text.size()) - 1) / window;
  data.count = std::max<int64_t>(n, 0);
  data.tokens.resize(size_t(data.count * window));
  data.labels.resize(size_t(data.count * window));
  const unsigned char *bytes = reinterpret_cast<const unsigned char *>(text.data());
  for (int64_t i = 0; i < data.count * window; ++i) {
    data.tokens[size_t(i)] = bytes[i];
    data.labels[size_t(i)] = bytes[i + 1];
  }
  return data;
}
} // namespace

bool isTextData(const std::string &name) { return name.rfind(kTextPrefix, 0) == 0; }

Result<std::string> readTextCorpus(const std::string &path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return Status::error(path + ": no such file or directory");
  std::string text;
  if (!S_ISDIR(st.st_mode)) {
    if (Status s = appendFileBytes(path, text); s.failed())
      return s;
    if (text.empty())
      return Status::error(path + ": the text is empty");
    return text;
  }
  DIR *d = ::opendir(path.c_str());
  if (!d)
    return Status::error(path + ": cannot list: " + errnoText(errno));
  std::vector<std::string> names;
  while (struct dirent *e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.' || endsWith(name, ".dat") || endsWith(name, ".u8"))
      continue;
    struct stat fst;
    // Regular files only: symbolic links (fortune's *.u8) and folders are
    // skipped.
    if (::lstat((path + "/" + name).c_str(), &fst) == 0 && S_ISREG(fst.st_mode))
      names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  if (names.empty())
    return Status::error(path + ": has no text files (regular files not ending in .dat or .u8)");
  for (const std::string &name : names)
    if (Status s = appendFileBytes(path + "/" + name, text); s.failed())
      return s;
  if (text.empty())
    return Status::error(path + ": the text is empty (" + std::to_string(names.size()) +
                         " empty files)");
  return text;
}

double unigramEntropyBits(const std::string &text) {
  uint64_t counts[256] = {};
  for (unsigned char c : text)
    ++counts[c];
  double h = 0, n = double(text.size());
  for (uint64_t c : counts)
    if (c)
      h -= double(c) / n * std::log2(double(c) / n);
  return h;
}

Result<DataSplits> loadTextSplits(const DataOptions &options, const SampleSpec &spec) {
  std::string path = options.data.substr(std::string(kTextPrefix).size());
  if (!spec.tokenInputs || spec.shape.size() != 1 || spec.labelsPerSample != spec.shape[0] ||
      spec.targetWidth > 0)
    return Status::error(options.data +
                         ": byte-level text needs a language model: token ids [N, T] in and "
                         "sequence logits [N, T, V] out (loss = cross_entropy)");
  int64_t window = spec.shape[0];
  if (spec.vocabSize < 256 || spec.numClasses < 256)
    return Status::error(options.data + ": the vocabulary is the 256 byte values; the model's " +
                         (spec.vocabSize < 256
                              ? "embedding has " + std::to_string(spec.vocabSize) + " rows"
                              : "logits have " + std::to_string(spec.numClasses) + " classes"));
  if (!options.testData.empty() && !isTextData(options.testData))
    return Status::error("--test-data " + options.testData + ": with --data " + options.data +
                         " the test set is text too: pass text:PATH");
  if (options.holdout && !options.testData.empty())
    return Status::error("--holdout: --test-data gives the test split; --holdout applies only "
                         "to data without one");
  double fraction = options.holdout.value_or(0.1);
  if (!(fraction > 0 && fraction < 1))
    return Status::error("--holdout must be a fraction in (0, 1)");
  Result<std::string> text = readTextCorpus(path);
  if (!text)
    return text.status();
  auto tooShort = [&](const std::string &what, uint64_t bytes) {
    return Status::error(what + " has " + groupDigits(bytes) + " bytes; the model's context of " +
                         std::to_string(window) + " needs at least " + std::to_string(window + 1) +
                         " (a window and the byte after it)");
  };
  DataSplits splits;
  std::string trainText, testText;
  if (!options.testData.empty()) {
    Result<std::string> other =
        readTextCorpus(options.testData.substr(std::string(kTextPrefix).size()));
    if (!other)
      return other.status();
    trainText = std::move(*text);
    testText = std::move(*other);
    if (int64_t(testText.size()) < window + 1)
      return tooShort(options.testData, testText.size());
  } else {
    uint64_t n = text->size();
    uint64_t held = uint64_t(std::llround(fraction * double(n)));
    if (int64_t(n) < 2 * (window + 1))
      return Status::error(options.data + " has " + groupDigits(n) +
                           " bytes; a train and a test split of at least " +
                           std::to_string(window + 1) +
                           " each (a window of the model's context and the byte after it) need " +
                           std::to_string(2 * (window + 1)));
    held = std::clamp<uint64_t>(held, uint64_t(window + 1), n - uint64_t(window + 1));
    testText = text->substr(n - held);
    trainText = text->substr(0, n - held);
    char percent[32];
    std::snprintf(percent, sizeof(percent), "%g%%", 100 * fraction);
    splits.notes.push_back("holding out the last " + std::string(percent) + " of " + options.data +
                           " (bytes " + groupDigits(n - held) + " to " + groupDigits(n) + " of " +
                           groupDigits(n) +
                           ", contiguous: no window crosses it) as the test split; use "
                           "--test-data for a separate test set");
  }
  if (int64_t(trainText.size()) < window + 1)
    return tooShort(options.data, trainText.size());
  char entropy[64];
  std::snprintf(entropy, sizeof(entropy), "%.3f", unigramEntropyBits(trainText));
  splits.notes.push_back("text: " + groupDigits(trainText.size()) + " training bytes in " +
                         groupDigits(uint64_t(int64_t(trainText.size() - 1) / window)) +
                         " windows of " + std::to_string(window) + ", unigram entropy " + entropy +
                         " bits per byte");
  if (options.needTrain) {
    splits.train = windowsOf(trainText, window, options.data);
    truncateDataset(splits.train, options.trainLimit);
  }
  splits.test = windowsOf(testText, window,
                          options.testData.empty() ? options.data + " (test)" : options.testData);
  truncateDataset(splits.test, options.testLimit);
  return splits;
}

} // namespace nnc::rt
