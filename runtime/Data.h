//===- Data.h - Datasets, normalization and batching ------------*- C++ -*-===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR). Loads a dataset into
// memory compactly: images as the u8 pixels they are stored as (NCHW, the
// normalization applied per batch while a batch is written into the arena),
// CSV features and synthetic samples as float32, token ids as int64; labels
// are int64 class indices or float targets. Then it hands out batches:
//
//   IDX          MNIST/Fashion-MNIST files, plain or gzip (zlib)
//   fashion-mnist  the name resolves to /usr/share/datasets/fashion-mnist
//                (Debian's dataset-fashion-mnist), train or test split
//   image folder one sub-folder per class (sorted names = class indices),
//                PNG files decoded by libpng; another size or colour type
//                than the model's is an error unless resizing is asked for
//   CSV          numeric features and the label or target column(s)
//   tokens       one sample per line: whitespace-separated integer ids, the
//                last integer on the line is the label
//   synthetic    seeded class prototypes plus noise (learnable), suited to
//                the model's input (floats or token ids) and loss
//
// loadSplits picks the train and test splits: a dataset's own split, a
// separate test set, or a seeded held-out fraction (docs/data.md). A sample
// limit reads only the samples it keeps where the format allows (IDX files
// stop decompressing, image folders stop decoding, synthetic data stops
// drawing); dataMemory states the bytes the whole pipeline holds.
//
// Every error names the file and what is wrong:
//
//   /x/train-images.gz: truncated: expected 47,040,000 image bytes, got 1,000
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_DATA_H
#define NNC_RUNTIME_DATA_H

#include "runtime/Random.h"
#include "runtime/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nnc::rt {

/// What the model expects of one sample.
struct SampleSpec {
  /// The input shape without the batch dimension: {C, H, W} for images,
  /// {features} for CSV, {sequence length} for tokens.
  std::vector<int64_t> shape;
  /// Number of classes; labels must lie in [0, numClasses). 0 means the
  /// targets are real numbers (regression; CSV only) or are not checked.
  int64_t numClasses = 0;
  /// Regression (mse): the float targets per sample (the model's output
  /// width). 0: class labels.
  int64_t targetWidth = 0;
  /// Class labels per sample: 1 for a classifier (logits [N, C]), T for a
  /// sequence model (logits [N, T, C], labels [N, T], one per position).
  int64_t labelsPerSample = 1;
  /// Whether the input is integer token ids (an i64 input).
  bool tokenInputs = false;
  /// Token ids must lie in [0, vocabSize) (the embedding's size; 0: not
  /// known).
  int64_t vocabSize = 0;
};

/// Pixel normalization: x = (pixel / 255 - mean[c]) / std[c] when scale01,
/// x = (pixel - mean[c]) / std[c] otherwise. Empty mean/std mean 0 and 1; a
/// single value applies to every channel.
struct Normalization {
  bool scale01 = true;
  std::vector<float> mean;
  std::vector<float> std;
};

/// Normalization resolved per channel for u8 pixels: a model input is
/// x = (pixel * scale - mean[c]) * invStd[c], computed in float in this
/// order wherever pixels become floats (so u8 storage converted per batch
/// gives the bits a float copy normalized up front would).
struct PixelTransform {
  float scale = 1.0f;
  std::vector<float> mean, invStd;
};

/// A dataset held in memory.
struct Dataset {
  /// Where it came from, for messages ("/x/train-images-idx3-ubyte.gz").
  std::string source;
  /// One sample's shape (SampleSpec::shape).
  std::vector<int64_t> sampleShape;
  /// Float samples, size() * sampleElements() values: CSV features,
  /// synthetic samples and resized images, already normalized (empty for u8
  /// images and tokens).
  std::vector<float> inputs;
  /// Images as stored: u8 pixels, size() * sampleElements() values (channel
  /// planes), turned into model inputs by `pixelTransform` as a batch is
  /// written (empty unless the samples are u8 images).
  std::vector<uint8_t> pixels;
  /// How `pixels` become model inputs (set by normalizeImages).
  PixelTransform pixelTransform;
  /// Token ids, size() * sampleElements() values (only for tokens).
  std::vector<int64_t> tokens;
  /// Class labels, labelWidth per sample (empty if the targets are floats).
  std::vector<int64_t> labels;
  /// Class labels per sample: 1, or T for per-position labels of a sequence
  /// (SampleSpec::labelsPerSample).
  int64_t labelWidth = 1;
  /// Float targets, targetWidth per sample (regression; empty for class
  /// labels).
  std::vector<float> targets;
  /// Float targets per sample (0 for class labels).
  int64_t targetWidth = 0;
  /// Byte-level text (`text:PATH`): token ids are bytes, so a loss in nats
  /// per token is also given in bits per character (loss / ln 2).
  bool byteText = false;
  /// Class names, index = label (image folders; empty otherwise).
  std::vector<std::string> classNames;

  /// Number of samples.
  int64_t count = 0;
  /// True if the samples are token ids (`tokens`) rather than floats.
  bool tokenInputs = false;
  /// What the loader wants the user told ("skipped 3 non-PNG files in
  /// data/"), one line each.
  std::vector<std::string> notes;

  /// Number of samples.
  int64_t size() const { return count; }
  /// Elements per sample (the product of sampleShape).
  int64_t sampleElements() const;
  /// Writes sample `i` as model input floats (normalized) to `out`
  /// (sampleElements() values). Float datasets only (!tokenInputs).
  void sampleAsFloats(int64_t i, float *out) const;
  /// The bytes the samples, labels and targets occupy in memory.
  uint64_t storageBytes() const;
  /// How the samples are stored: "u8", "f32" or "i64" (token ids).
  const char *storageType() const;
};

/// Which part of a dataset with a fixed split.
enum class Split { Train, Test };

//===----------------------------------------------------------------------===//
// IDX files
//===----------------------------------------------------------------------===//

/// The element types an IDX file can hold (the third magic byte).
enum class IdxType : uint8_t {
  U8 = 0x08,
  I8 = 0x09,
  I16 = 0x0B,
  I32 = 0x0C,
  F32 = 0x0D,
  F64 = 0x0E
};

/// A decoded IDX file.
struct IdxArray {
  IdxType type = IdxType::U8;
  std::vector<uint32_t> dims;
  /// The elements as stored (big-endian for multi-byte types).
  std::vector<uint8_t> bytes;

  /// Element `i` converted to double.
  double at(uint64_t i) const;
  /// Number of elements.
  uint64_t numElements() const;
};

/// Reads an IDX file, gzip-compressed or plain (detected from the content).
/// `what` names the data in messages ("image", "label"). Checks the magic
/// number, the element type, the dimensions, truncation, trailing data and
/// gzip integrity. With `limit` > 0 it reads only the first `limit` entries
/// along the first dimension: `bytes` holds those, `dims` stays the header's,
/// and what follows them is not read (so neither checked for trailing data
/// nor for the gzip trailer's CRC); a file that ends before them is still
/// reported as truncated.
Result<IdxArray> readIdx(const std::string &path, const std::string &what, uint64_t limit = 0);

/// Writes `array` as an IDX file, gzip-compressed if `gzip` (for tests and
/// tools).
Status writeIdx(const std::string &path, const IdxArray &array, bool gzip);

/// Loads an IDX image file (N x H x W, u8) and an IDX label file (N, u8) as a
/// dataset of u8 pixels: images must match spec.shape {1, H, W}, labels must
/// lie in [0, spec.numClasses). `limit` > 0: only the first `limit` samples
/// are read.
Result<Dataset> loadIdx(const std::string &imagesPath, const std::string &labelsPath,
                        const SampleSpec &spec, const Normalization &norm = {}, int64_t limit = 0);

/// The directory of Debian's Fashion-MNIST.
inline constexpr const char *kFashionMnistDir =
    "/usr/share/datasets/fashion-mnist";

/// The image and label files of an MNIST-style directory for `split`:
/// `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]` in `dir`.
Result<std::pair<std::string, std::string>>
resolveIdxFiles(const std::string &dir, Split split);

//===----------------------------------------------------------------------===//
// Other formats
//===----------------------------------------------------------------------===//

/// How PNG images are read.
struct ImageOptions {
  /// Convert images with another channel count (gray/RGB) and resize images
  /// of another size (bilinear) to the model's; otherwise such an image is
  /// an error naming the file.
  bool resize = false;
};

/// Loads an image folder: `root/<class>/*.png`, classes sorted by name. An
/// image must have spec.shape[0] channels (1: gray, 3: RGB; alpha is
/// composed onto black) and size spec.shape[1] x spec.shape[2], unless
/// options.resize: then it is converted and resized bilinearly (half-pixel
/// centres, like torch's interpolate with align_corners=False), and a note
/// counts them. Files not ending in .png are skipped and counted in a note;
/// a class folder without PNGs is an error. The pixels are kept as u8 unless
/// an image had to be resized (its values are then fractional, and the whole
/// dataset is kept as floats). `limit` > 0: only the first `limit` images
/// (in class order) are decoded; every class folder is still listed and
/// checked.
Result<Dataset> loadImageFolder(const std::string &root, const SampleSpec &spec,
                                const Normalization &norm = {}, const ImageOptions &options = {},
                                int64_t limit = 0);

/// How a CSV file is read.
struct CsvOptions {
  /// The label or target columns: header names or 0-based indices as text.
  /// Empty: the last column (classification) or the last spec.targetWidth
  /// columns (regression).
  std::vector<std::string> targetColumns;
  /// Whether the first line is a header. Auto-detected (a first line with a
  /// non-numeric field is a header) unless set.
  std::optional<bool> hasHeader;
  char separator = ',';
};

/// Loads a CSV file of numbers: every column but the target columns is a
/// feature (their count must equal spec.shape's product). The label is a
/// class index in [0, spec.numClasses); for regression (spec.targetWidth >
/// 0, or numClasses 0: one column) the targets are floats.
Result<Dataset> loadCsv(const std::string &path, const SampleSpec &spec,
                        const CsvOptions &options = {});

/// How a token file is read.
struct TokenOptions {
  /// The id that pads sequences shorter than spec.shape[0].
  int64_t padId = 0;
  /// Ids must lie in [0, vocabSize) if vocabSize > 0.
  int64_t vocabSize = 0;
  /// Longer sequences are an error unless truncate is set (then only their
  /// first spec.shape[0] ids are kept).
  bool truncate = false;
};

/// Loads token sequences: one sample per non-empty line, whitespace-separated
/// integers, the last of which is the label; padded with padId to
/// spec.shape[0].
Result<Dataset> loadTokens(const std::string &path, const SampleSpec &spec,
                           const TokenOptions &options = {});

/// A learnable synthetic dataset of `count` samples: each class has a
/// prototype drawn from N(0, 1) (the same for both splits of a seed); a
/// sample is its class prototype plus N(0, noise^2), drawn from a stream
/// that depends on the split. Labels are uniform. Same seed, same data.
/// Sequence labels (spec.labelsPerSample = T > 1, labels [T] per sample):
/// float samples get position t's label from their class's label prototype
/// (one label per class and position), token samples the label of their
/// id at position t under a fixed random map from ids to classes; either
/// is learnable position by position.
/// Token inputs (spec.tokenInputs): a class prototype is a sequence of ids in
/// [0, spec.vocabSize), and each id of a sample is replaced by a random one
/// with probability noise / 2. Regression (spec.targetWidth > 0): the
/// targets of a sample are its hidden class's target prototype (N(0, 1)).
Result<Dataset> makeSynthetic(const SampleSpec &spec, int64_t count,
                              uint64_t seed, Split split = Split::Train,
                              float noise = 0.5f);

/// Loads a dataset by name: "fashion-mnist" (Debian's files), "synthetic"
/// (syntheticCount samples from syntheticSeed), a directory holding IDX
/// files (MNIST layout), a directory of class folders (PNG; if it has
/// `train/` and `test/` sub-folders, the split picks one, else both splits
/// are the whole folder), a *.csv file or a token file (any other file; both
/// splits are the whole file). Use loadSplits to train and test: it never
/// tests on the training samples. `limit` > 0 keeps the first `limit`
/// samples (IDX, image folders and synthetic data read no more; CSV and
/// token files are parsed whole, then cut).
Result<Dataset> loadDataset(const std::string &name, Split split, const SampleSpec &spec,
                            const Normalization &norm = {}, uint64_t syntheticSeed = 0,
                            int64_t syntheticCount = 1024, const ImageOptions &image = {},
                            const CsvOptions &csv = {}, int64_t limit = 0);

/// Loads one PNG as a model input sample, normalized; its channels and size
/// must be the model's unless options.resize (then converted and resized as
/// loadImageFolder does).
Result<std::vector<float>> loadImage(const std::string &path,
                                     const SampleSpec &spec,
                                     const Normalization &norm = {},
                                     const ImageOptions &options = {});

/// Which data a run trains and tests on.
struct DataOptions {
  /// Dataset name or path (loadDataset).
  std::string data = "fashion-mnist";
  /// A separate test set (name or path); empty: the dataset's own test split
  /// or a held-out fraction.
  std::string testData;
  /// The fraction of a dataset without a test split that is held out as the
  /// test split, in (0, 1); unset: 0.1. Setting it for a dataset that has a
  /// test split (or with testData) is an error.
  std::optional<double> holdout;
  /// The seed of the held-out selection and of synthetic data.
  uint64_t seed = 1;
  /// Number of synthetic samples per split.
  int64_t syntheticCount = 1024;
  /// Use only the first N samples of the train / test split (0: all). Data
  /// with its own split (or a separate test set) reads only those; a
  /// held-out split is drawn from all samples first, then cut.
  int64_t trainLimit = 0, testLimit = 0;
  /// Whether the train split is needed: false (nnc eval) leaves it empty
  /// unless it must be read to hold out the test split.
  bool needTrain = true;
  ImageOptions image;
  CsvOptions csv;
};

/// A train and a test split, and what the user should be told about them.
struct DataSplits {
  Dataset train, test;
  /// One line each ("holding out 10% (6 of 60 samples, seed 1) of d.csv as
  /// the test split; ..."), plus the loaders' notes.
  std::vector<std::string> notes;
};

/// Whether `name` has its own train/test split: fashion-mnist, synthetic,
/// an IDX directory with both splits, an image folder with train/ and test/.
bool hasOwnTestSplit(const std::string &name);

/// Loads the train and test splits of options.data: options.testData (its
/// test part) is the test split if given; else the data's own split if it has
/// one; else a seeded fraction options.holdout (0.1) of the samples is the
/// test split (the same for every command given the same seed).
Result<DataSplits> loadSplits(const DataOptions &options,
                              const SampleSpec &spec,
                              const Normalization &norm = {});

/// The samples of `data` at `indices`, in that order.
Dataset selectSamples(const Dataset &data,
                      const std::vector<uint32_t> &indices);

/// Keeps only the first `limit` samples (limit <= 0: all).
void truncateDataset(Dataset &data, int64_t limit);

/// Applies `norm` to image samples with pixel values in [0, 255] (loaders do
/// this; exposed for tests): sets data.pixelTransform, which u8 pixels go
/// through per batch, and normalizes float samples in place.
Status normalizeImages(Dataset &data, const Normalization &norm);

/// The bytes a run's data pipeline holds (docs/data.md): each split's
/// storage (Dataset::storageBytes) and the staging batching needs besides
/// the arena: the batchers' sample orders (4 B per sample, the train and
/// the test batcher) and evaluation's label and target rows. Batches are
/// written straight into the arena's input region, so there is no other
/// batch buffer.
struct DataMemory {
  uint64_t train = 0, test = 0, staging = 0;
  uint64_t total() const { return train + test + staging; }
};

/// What training on `train` and evaluating on `test` holds, for batches of
/// `batch` rows and a model output of `outputWidth` values per row.
DataMemory dataMemory(const Dataset &train, const Dataset &test, int64_t batch,
                      int64_t outputWidth);

/// `memory` as one line: "data 47,990,000 B (train 47,040,000 B u8 +
/// 480,000 B labels, test ..., staging ...)".
std::string describeDataMemory(const DataMemory &memory, const Dataset &train, const Dataset &test);

//===----------------------------------------------------------------------===//
// Byte-level text (runtime/TextData.cpp)
//===----------------------------------------------------------------------===//

/// `--data text:PATH`: raw text for a byte-level language model.
inline constexpr const char *kTextPrefix = "text:";

/// Appends the bytes of the file `path` to `text`.
Status appendFileBytes(const std::string &path, std::string &text);

/// Whether `name` names byte-level text (`text:PATH`).
bool isTextData(const std::string &name);

/// The bytes of a text file, or of a directory's regular files (not ending
/// in .dat or .u8, not hidden; symbolic links and folders are skipped)
/// concatenated in bytewise name order. Empty text is an error.
Result<std::string> readTextCorpus(const std::string &path);

/// The entropy of the byte frequencies of `text`, in bits per byte.
double unigramEntropyBits(const std::string &text);

/// The train and test splits of `text:PATH` (options.data) for a language
/// model with token ids [N, T] in and sequence logits [N, T, V >= 256] out:
/// windows of T bytes at stride T (inputs bytes [s, s + T), labels the
/// bytes [s + 1, s + T + 1)). The test split is the last options.holdout
/// (0.1) of the text, contiguous, so no window holds bytes of both splits,
/// or options.testData (`text:PATH` too). The notes say so and give the
/// training text's unigram entropy in bits per byte.
Result<DataSplits> loadTextSplits(const DataOptions &options, const SampleSpec &spec);

//===----------------------------------------------------------------------===//
// Batching
//===----------------------------------------------------------------------===//

/// Label written for the padding rows of a partial batch: PyTorch's
/// CrossEntropyLoss ignore_index default. Losses must skip it.
inline constexpr int64_t kIgnoreLabel = -100;

/// Caller-provided batch buffers (views into the arena), each sized for a
/// full batch. Only the fields the dataset has are written: `inputs` (float
/// samples) or token ids (`tokens` for an i64 input, else `tokens32` for an
/// i32 one), and `labels` (labelWidth per row) or `targets` (targetWidth per
/// row).
struct BatchBuffers {
  float *inputs = nullptr;
  int64_t *tokens = nullptr;
  int64_t *labels = nullptr;
  float *targets = nullptr;
  int32_t *tokens32 = nullptr;
};

/// Hands out the batches of an epoch. The sample order of epoch e is a
/// shuffle by Pcg32(seed, e) (or the file order without shuffling), so it is
/// the same on every machine and an epoch can be reproduced on its own (for
/// --resume). The last batch holds the remaining samples; its true size is
/// returned, never silently dropped.
class Batcher {
public:
  /// A batcher over `data`, which must outlive it. Fails if batchSize < 1 or
  /// the dataset is empty.
  static Result<Batcher> create(const Dataset &data, int64_t batchSize,
                                bool shuffle, uint64_t seed);

  /// Fixes the sample order of epoch `epoch` (0-based).
  void beginEpoch(uint64_t epoch);

  /// Data parallelism (docs/distributed.md): from now on the batcher hands
  /// out rank `rank`'s part of global batches of batchSize() * ranks
  /// samples, rows rank, rank + ranks, rank + 2 ranks, ... of each (strided,
  /// so a partial last batch splits evenly); every rank's batcher has the
  /// same order. 0 <= rank < ranks.
  void setShard(int64_t rank, int64_t ranks) {
    rank_ = rank;
    ranks_ = ranks;
  }

  /// Batches per epoch, the last one possibly partial.
  int64_t numBatches() const { return (data_->size() + batch_ * ranks_ - 1) / (batch_ * ranks_); }
  /// The full batch size (this rank's part of a global batch).
  int64_t batchSize() const { return batch_; }
  /// The true number of samples in batch `index` (this rank's part).
  int64_t batchCount(int64_t index) const;
  /// The true number of samples in global batch `index` (all ranks').
  int64_t globalBatchCount(int64_t index) const;
  /// The sample order of the current epoch.
  const std::vector<uint32_t> &order() const { return order_; }

  /// Copies batch `index` of the current epoch into `out` and returns its
  /// true size n. Rows n..batchSize-1 are zero-filled and their labels (all
  /// labelWidth of them) set to kIgnoreLabel; with float targets (mse, which has no ignore value)
  /// they repeat the batch's rows 0, 1, ... instead. Returns 0 (and copies
  /// nothing) if index is out of range or a needed buffer is null.
  int64_t copyBatch(int64_t index, const BatchBuffers &out) const;

private:
  Batcher(const Dataset &data, int64_t batchSize, bool shuffle, uint64_t seed)
      : data_(&data), batch_(batchSize), shuffle_(shuffle), seed_(seed) {}

  const Dataset *data_;
  int64_t batch_;
  bool shuffle_;
  uint64_t seed_;
  int64_t rank_ = 0, ranks_ = 1;
  std::vector<uint32_t> order_;
};

} // namespace nnc::rt

#endif // NNC_RUNTIME_DATA_H
