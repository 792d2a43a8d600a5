//===- Data.cpp - Datasets, normalization and batching --------------------===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR). IDX, CSV, token and
// synthetic datasets, normalization, the name resolver and the batcher; the
// PNG image folders live in ImageFolder.cpp.
//
//===----------------------------------------------------------------------===//

#include "runtime/Data.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <zlib.h>

namespace nnc::rt {

int64_t Dataset::sampleElements() const {
  int64_t n = 1;
  for (int64_t d : sampleShape)
    n *= d;
  return n;
}

/// The one place pixels become normalized floats: `n` values of channel `c`
/// of `t`. Float samples normalized in place (normalizeImages) and u8 pixels
/// converted per batch go through this same expression, so both give the
/// same bits.
template <typename T>
static void transformPixels(const T *in, int64_t n, const PixelTransform &t, int64_t c,
                            float *out) {
  float m = t.mean[size_t(c)], inv = t.invStd[size_t(c)], scale = t.scale;
  for (int64_t k = 0; k < n; ++k)
    out[k] = (static_cast<float>(in[k]) * scale - m) * inv;
}

void Dataset::sampleAsFloats(int64_t i, float *out) const {
  size_t elems = size_t(sampleElements());
  if (pixels.empty()) {
    std::copy_n(inputs.data() + size_t(i) * elems, elems, out);
    return;
  }
  int64_t channels = int64_t(pixelTransform.mean.size());
  int64_t plane = channels ? int64_t(elems) / channels : 0;
  const uint8_t *in = pixels.data() + size_t(i) * elems;
  for (int64_t c = 0; c < channels; ++c)
    transformPixels(in + c * plane, plane, pixelTransform, c, out + c * plane);
}

uint64_t Dataset::storageBytes() const {
  return pixels.size() + inputs.size() * sizeof(float) + tokens.size() * sizeof(int64_t) +
         labels.size() * sizeof(int64_t) + targets.size() * sizeof(float);
}

const char *Dataset::storageType() const {
  return tokenInputs ? "i64" : pixels.empty() ? "f32" : "u8";
}

//===----------------------------------------------------------------------===//
// IDX
//===----------------------------------------------------------------------===//

static unsigned idxTypeSize(IdxType t) {
  switch (t) {
  case IdxType::U8:
  case IdxType::I8:
    return 1;
  case IdxType::I16:
    return 2;
  case IdxType::I32:
  case IdxType::F32:
    return 4;
  case IdxType::F64:
    return 8;
  }
  return 1;
}

uint64_t IdxArray::numElements() const {
  uint64_t n = 1;
  for (uint32_t d : dims)
    n *= d;
  return n;
}

double IdxArray::at(uint64_t i) const {
  unsigned size = idxTypeSize(type);
  const uint8_t *p = bytes.data() + i * size;
  uint64_t u = 0;
  for (unsigned k = 0; k < size; ++k)
    u = (u << 8) | p[k];
  switch (type) {
  case IdxType::U8:
    return static_cast<double>(u);
  case IdxType::I8:
    return static_cast<int8_t>(u);
  case IdxType::I16:
    return static_cast<int16_t>(u);
  case IdxType::I32:
    return static_cast<int32_t>(u);
  case IdxType::F32: {
    uint32_t w = static_cast<uint32_t>(u);
    float f;
    std::memcpy(&f, &w, 4);
    return f;
  }
  case IdxType::F64: {
    double d;
    std::memcpy(&d, &u, 8);
    return d;
  }
  }
  return 0;
}

namespace {
/// A gzip-or-plain input file (zlib reads plain files transparently).
class GzFile {
public:
  ~GzFile() {
    if (file_)
      gzclose(file_);
  }
  Status open(const std::string &path) {
    path_ = path;
    struct stat st;
    bool known = ::stat(path.c_str(), &st) == 0;
    if (known && S_ISDIR(st.st_mode))
      return Status::error(path + ": is a directory, not an IDX file");
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");
    if (!file_)
      return Status::error(path + ": cannot open: " +
                           (errno ? errnoText(errno) : "out of memory"));
    gzbuffer(file_, 1 << 17);
    fileBytes_ = known ? uint64_t(st.st_size) : 0;
    return Status::success();
  }

  /// The most bytes the file can yield: its size if plain, else its size
  /// times deflate's largest expansion (1032:1). A header that claims more
  /// is corrupt, so memory reserved up to this bound is never more than
  /// what a file of this size could fill.
  uint64_t maxDataBytes() const {
    if (gzdirect(file_))
      return fileBytes_;
    return fileBytes_ > (uint64_t(1) << 52) ? UINT64_MAX : fileBytes_ * 1032;
  }

  /// Reads up to `n` bytes, appending to `out`. Returns the number read; on
  /// a stream error sets `error` (truncation: `truncated` is set too).
  uint64_t read(std::vector<uint8_t> &out, uint64_t n, std::string &error,
                bool &truncated) {
    uint64_t got = 0;
    while (got < n) {
      unsigned chunk =
          static_cast<unsigned>(std::min<uint64_t>(n - got, 1u << 20));
      size_t old = out.size();
      out.resize(old + chunk);
      int r = gzread(file_, out.data() + old, chunk);
      if (r < 0) {
        out.resize(old);
        int code;
        const char *msg = gzerror(file_, &code);
        truncated = code == Z_BUF_ERROR;
        // zlib's message starts with the path; ours already does.
        std::string text = msg ? msg : "unknown error";
        if (text.compare(0, path_.size() + 2, path_ + ": ") == 0)
          text.erase(0, path_.size() + 2);
        error = truncated ? "unexpected end of the gzip stream"
                          : "corrupt gzip data (" + text + ")";
        return got;
      }
      out.resize(old + static_cast<size_t>(r));
      got += static_cast<uint64_t>(r);
      if (r == 0) {
        // End of input; zlib reports a cut-off gzip stream here too.
        int code;
        gzerror(file_, &code);
        if (code == Z_BUF_ERROR) {
          truncated = true;
          error = "unexpected end of the gzip stream";
        }
        return got;
      }
    }
    return got;
  }

private:
  gzFile file_ = nullptr;
  std::string path_;
  uint64_t fileBytes_ = 0;
};
} // namespace

Result<IdxArray> readIdx(const std::string &path, const std::string &what, uint64_t limit) {
  GzFile in;
  if (Status s = in.open(path); s.failed())
    return s;
  std::vector<uint8_t> head;
  std::string error;
  bool truncated = false;
  in.read(head, 4, error, truncated);
  if (!error.empty() && !truncated)
    return Status::error(path + ": " + error);
  if (head.size() < 4)
    return Status::error(path + ": truncated: the file has " +
                         std::to_string(head.size()) +
                         " bytes, too short for an IDX header");
  if (head[0] != 0 || head[1] != 0) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "0x%02X%02X%02X%02X", head[0], head[1],
                  head[2], head[3]);
    return Status::error(path + ": not an IDX file: wrong magic number " + buf +
                         " (expected 0x0000TTNN)");
  }
  IdxArray array;
  switch (head[2]) {
  case 0x08:
  case 0x09:
  case 0x0B:
  case 0x0C:
  case 0x0D:
  case 0x0E:
    array.type = static_cast<IdxType>(head[2]);
    break;
  default: {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "0x%02X", head[2]);
    return Status::error(path + ": not an IDX file: unknown element type " +
                         buf);
  }
  }
  unsigned rank = head[3];
  if (rank == 0)
    return Status::error(path + ": corrupt IDX header: 0 dimensions");
  std::vector<uint8_t> dimBytes;
  in.read(dimBytes, 4ull * rank, error, truncated);
  if (!error.empty() && !truncated)
    return Status::error(path + ": " + error);
  if (dimBytes.size() < 4ull * rank)
    return Status::error(path + ": truncated: the IDX header declares " +
                         std::to_string(rank) + " dimensions but ends early");
  uint64_t total = idxTypeSize(array.type);
  for (unsigned i = 0; i < rank; ++i) {
    uint32_t d = (uint32_t(dimBytes[4 * i]) << 24) |
                 (uint32_t(dimBytes[4 * i + 1]) << 16) |
                 (uint32_t(dimBytes[4 * i + 2]) << 8) | dimBytes[4 * i + 3];
    array.dims.push_back(d);
    if (d != 0 && total > (uint64_t(1) << 62) / d)
      return Status::error(path + ": corrupt IDX header: the dimensions are "
                                  "impossibly large");
    total *= d;
  }
  // Only the first `limit` entries: decompression stops after them.
  uint64_t wanted = total;
  if (limit > 0 && limit < array.dims[0])
    wanted = total / array.dims[0] * limit;
  // Read in chunks into memory reserved once (no copy as it grows, so the
  // peak is the data's size): as much as the header declares if the file
  // can hold it at all, so memory never grows with what a corrupt header
  // claims beyond that.
  array.bytes.reserve(size_t(std::min(wanted, in.maxDataBytes())));
  uint64_t got = in.read(array.bytes, wanted, error, truncated);
  if (!error.empty() && !truncated)
    return Status::error(path + ": " + error);
  if (got < wanted)
    return Status::error(path + ": truncated: expected " + groupDigits(total) +
                         " " + what + " bytes, got " + groupDigits(got));
  if (wanted < total)
    return array;
  std::vector<uint8_t> extra;
  in.read(extra, 1, error, truncated);
  if (!error.empty())
    return Status::error(path + ": " + error);
  if (!extra.empty())
    return Status::error(path + ": unexpected data after the " +
                         groupDigits(total) + " " + what +
                         " bytes the header declares (wrong file?)");
  return array;
}

Status writeIdx(const std::string &path, const IdxArray &array, bool gzip) {
  std::vector<uint8_t> out = {0, 0, static_cast<uint8_t>(array.type),
                              static_cast<uint8_t>(array.dims.size())};
  for (uint32_t d : array.dims)
    for (int s = 24; s >= 0; s -= 8)
      out.push_back(static_cast<uint8_t>(d >> s));
  out.insert(out.end(), array.bytes.begin(), array.bytes.end());
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (!f)
      return Status::error(path + ": cannot create: " + errnoText(errno));
    bool ok = gzwrite(f, out.data(), static_cast<unsigned>(out.size())) ==
              static_cast<int>(out.size());
    if (gzclose(f) != Z_OK || !ok)
      return Status::error(path + ": cannot write the gzip stream");
    return Status::success();
  }
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return Status::error(path + ": cannot create: " + errnoText(errno));
  bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
  if (std::fclose(f) != 0 || !ok)
    return Status::error(path + ": cannot write: " + errnoText(errno));
  return Status::success();
}

Status normalizeImages(Dataset &data, const Normalization &norm) {
  int64_t channels = data.sampleShape.empty() ? 1 : data.sampleShape[0];
  int64_t plane = channels ? data.sampleElements() / channels : 0;
  auto pick = [&](const std::vector<float> &v, const char *what, float fallback,
                  std::vector<float> &out) -> Status {
    if (v.empty()) {
      out.assign(static_cast<size_t>(channels), fallback);
    } else if (v.size() == 1) {
      out.assign(static_cast<size_t>(channels), v[0]);
    } else if (static_cast<int64_t>(v.size()) == channels) {
      out = v;
    } else {
      return Status::error(
          data.source + ": the normalization has " + std::to_string(v.size()) +
          " " + what + " values for " + std::to_string(channels) + " channels");
    }
    return Status::success();
  };
  std::vector<float> mean, stddev;
  if (Status s = pick(norm.mean, "mean", 0.0f, mean); s.failed())
    return s;
  if (Status s = pick(norm.std, "std", 1.0f, stddev); s.failed())
    return s;
  for (float s : stddev)
    if (!(s > 0.0f))
      return Status::error(data.source +
                           ": the normalization's std values must be > 0");
  PixelTransform &t = data.pixelTransform;
  t.scale = norm.scale01 ? 1.0f / 255.0f : 1.0f;
  t.mean = mean;
  t.invStd.clear();
  for (float s : stddev)
    t.invStd.push_back(1.0f / s);
  // u8 pixels are converted per batch; float samples (resized images) now.
  if (data.pixels.empty())
    for (int64_t i = 0; i < data.size(); ++i)
      for (int64_t c = 0; c < channels; ++c) {
        float *p = data.inputs.data() + (i * channels + c) * plane;
        transformPixels(p, plane, t, c, p);
      }
  return Status::success();
}

Result<Dataset> loadIdx(const std::string &imagesPath, const std::string &labelsPath,
                        const SampleSpec &spec, const Normalization &norm, int64_t limit) {
  uint64_t keep = limit > 0 ? uint64_t(limit) : 0;
  Result<IdxArray> images = readIdx(imagesPath, "image", keep);
  if (!images)
    return images.status();
  if (images->dims.size() != 3)
    return Status::error(imagesPath + ": expected images (3 dimensions: " +
                         "count, rows, columns), the file has " +
                         std::to_string(images->dims.size()));
  if (images->type != IdxType::U8)
    return Status::error(imagesPath + ": expected u8 pixels (type 0x08)");
  uint32_t n = images->dims[0], rows = images->dims[1], cols = images->dims[2];
  if (spec.shape.size() != 3 || spec.shape[0] != 1 ||
      spec.shape[1] != int64_t(rows) || spec.shape[2] != int64_t(cols)) {
    std::string want;
    for (size_t i = 0; i < spec.shape.size(); ++i)
      want += (i ? "x" : "") + std::to_string(spec.shape[i]);
    return Status::error(imagesPath + ": images are 1x" + std::to_string(rows) +
                         "x" + std::to_string(cols) +
                         " (channels x height x width), the model expects " +
                         (want.empty() ? "a scalar" : want));
  }
  Result<IdxArray> labels = readIdx(labelsPath, "label", keep);
  if (!labels)
    return labels.status();
  if (labels->dims.size() != 1)
    return Status::error(labelsPath +
                         ": expected labels (1 dimension), the "
                         "file has " +
                         std::to_string(labels->dims.size()));
  if (labels->dims[0] != n)
    return Status::error(labelsPath + ": has " + groupDigits(labels->dims[0]) +
                         " labels but " + imagesPath + " has " +
                         groupDigits(n) + " images");

  // The samples read (all, or the first `limit`).
  if (keep > 0 && keep < n)
    n = uint32_t(keep);
  Dataset data;
  data.source = imagesPath;
  data.sampleShape = spec.shape;
  data.count = n;
  data.labels.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    double v = labels->at(i);
    if (v != std::floor(v) || v < 0 ||
        (spec.numClasses > 0 && v >= double(spec.numClasses)))
      return Status::error(
          labelsPath + ": label " + std::to_string(static_cast<int64_t>(v)) +
          " of sample " + groupDigits(i) + " is out of range for a model " +
          "with " + std::to_string(spec.numClasses) + " classes");
    data.labels[i] = static_cast<int64_t>(v);
  }
  // Kept as stored: u8, normalized per batch.
  data.pixels = std::move(images->bytes);
  if (Status s = normalizeImages(data, norm); s.failed())
    return s;
  return data;
}

static bool fileExists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

static bool isDirectory(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<std::pair<std::string, std::string>>
resolveIdxFiles(const std::string &dir, Split split) {
  std::string prefix = dir + "/" + (split == Split::Train ? "train" : "t10k");
  std::string files[2] = {prefix + "-images-idx3-ubyte",
                          prefix + "-labels-idx1-ubyte"};
  for (std::string &f : files) {
    if (fileExists(f + ".gz"))
      f += ".gz";
    else if (!fileExists(f))
      return Status::error(f + ".gz: no such file (nor " +
                           f.substr(f.rfind('/') + 1) + " uncompressed)" +
                           (dir == kFashionMnistDir
                                ? "; install Debian's dataset-fashion-mnist "
                                  "(scripts/install-deps.sh)"
                                : ""));
  }
  return std::make_pair(files[0], files[1]);
}

//===----------------------------------------------------------------------===//
// CSV and tokens
//===----------------------------------------------------------------------===//

namespace {
/// Reads a whole text file.
Status readText(const std::string &path, std::string &text) {
  if (isDirectory(path))
    return Status::error(path + ": is a directory");
  return appendFileBytes(path, text);
}

} // namespace

Status appendFileBytes(const std::string &path, std::string &text) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return Status::error(path + ": cannot open: " + errnoText(errno));
  char buf[1 << 16];
  size_t r;
  while ((r = std::fread(buf, 1, sizeof(buf), f)) > 0)
    text.append(buf, r);
  bool bad = std::ferror(f);
  std::fclose(f);
  if (bad)
    return Status::error(path + ": read error");
  return Status::success();
}

namespace {

/// Splits `text` into lines (without '\n' or a trailing '\r').
std::vector<std::string> splitLines(const std::string &text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos)
      end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> splitFields(const std::string &line, char sep) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (;;) {
    size_t end = line.find(sep, start);
    fields.push_back(trim(line.substr(start, end - start)));
    if (end == std::string::npos)
      return fields;
    start = end + 1;
  }
}

bool parseDouble(const std::string &s, double &out) {
  if (s.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && errno == 0 && std::isfinite(out);
}

bool parseInt(const char *&p, int64_t &out) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(p, &end, 10);
  if (end == p || errno != 0)
    return false;
  p = end;
  out = v;
  return true;
}
} // namespace

Result<Dataset> loadCsv(const std::string &path, const SampleSpec &spec,
                        const CsvOptions &options) {
  std::string text;
  if (Status s = readText(path, text); s.failed())
    return s;
  std::vector<std::string> lines = splitLines(text);
  while (!lines.empty() && trim(lines.back()).empty())
    lines.pop_back();
  if (lines.empty())
    return Status::error(path + ": the file is empty");
  std::vector<std::string> first = splitFields(lines[0], options.separator);
  bool header = false;
  if (options.hasHeader) {
    header = *options.hasHeader;
  } else {
    double d;
    for (const std::string &f : first)
      header |= !parseDouble(f, d);
  }
  size_t columns = first.size();
  bool regression = spec.targetWidth > 0 || spec.numClasses == 0;
  size_t width = size_t(std::max<int64_t>(spec.targetWidth, 1));
  // The target columns: named, or the last `width`.
  std::vector<size_t> targetCols;
  if (options.targetColumns.empty()) {
    if (columns <= width)
      return Status::error(path + ": has " + std::to_string(columns) +
                           " columns, too few for " + std::to_string(width) +
                           " target column(s) and the features");
    for (size_t i = columns - width; i < columns; ++i)
      targetCols.push_back(i);
  }
  for (const std::string &want : options.targetColumns) {
    std::optional<size_t> col;
    if (header)
      for (size_t i = 0; i < columns && !col; ++i) {
        std::string name = first[i];
        if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
          name = name.substr(1, name.size() - 2);
        if (name == want)
          col = i;
      }
    if (!col) {
      const char *p = want.c_str();
      int64_t idx;
      if (!parseInt(p, idx) || *p != 0 || idx < 0 || size_t(idx) >= columns)
        return Status::error(
            path + ": no column '" + want + "' (the file has " +
            std::to_string(columns) + " columns" +
            (header ? ", named in its header line" : ", no header") +
            "; give a name or a 0-based index)");
      col = static_cast<size_t>(idx);
    }
    if (std::find(targetCols.begin(), targetCols.end(), *col) !=
        targetCols.end())
      return Status::error(path + ": target column '" + want +
                           "' is given twice");
    targetCols.push_back(*col);
  }
  if (targetCols.size() != width)
    return Status::error(
        path + ": " + std::to_string(targetCols.size()) +
        " target columns given, the model " +
        (regression
             ? "predicts " + std::to_string(width) + " value(s) per sample"
             : std::string("takes one class label per sample")));
  Dataset data;
  data.source = path;
  data.sampleShape = spec.shape;
  data.targetWidth = regression ? int64_t(width) : 0;
  int64_t features = data.sampleElements();
  if (int64_t(columns - width) != features)
    return Status::error(path + ": has " + std::to_string(columns - width) +
                         " feature columns (plus " +
                         (width == 1 ? std::string("the label")
                                     : std::to_string(width) + " targets") +
                         "), the model expects " + std::to_string(features) +
                         " features");
  // slot[c]: the target index of column c, or -1 for a feature.
  std::vector<int64_t> slot(columns, -1);
  for (size_t t = 0; t < targetCols.size(); ++t)
    slot[targetCols[t]] = int64_t(t);
  std::vector<float> rowTargets(width);
  for (size_t l = header ? 1 : 0; l < lines.size(); ++l) {
    std::string where = path + ":" + std::to_string(l + 1) + ": ";
    if (trim(lines[l]).empty())
      continue;
    std::vector<std::string> fields = splitFields(lines[l], options.separator);
    if (fields.size() != columns)
      return Status::error(where + "has " + std::to_string(fields.size()) +
                           " fields, expected " + std::to_string(columns));
    for (size_t c = 0; c < columns; ++c) {
      double v;
      if (!parseDouble(fields[c], v))
        return Status::error(where + "field " + std::to_string(c + 1) + " '" +
                             fields[c] + "' is not a number");
      if (slot[c] < 0) {
        data.inputs.push_back(static_cast<float>(v));
        continue;
      }
      if (regression) {
        rowTargets[size_t(slot[c])] = static_cast<float>(v);
        continue;
      }
      if (v != std::floor(v) || v < 0 || v >= double(spec.numClasses))
        return Status::error(where + "label " + fields[c] +
                             " is out of range for a model with " +
                             std::to_string(spec.numClasses) + " classes" +
                             (v != std::floor(v)
                                  ? " (a regression model needs loss = mse)"
                                  : ""));
      data.labels.push_back(static_cast<int64_t>(v));
    }
    if (regression)
      data.targets.insert(data.targets.end(), rowTargets.begin(),
                          rowTargets.end());
    ++data.count;
  }
  if (data.count == 0)
    return Status::error(path + ": has no data rows");
  return data;
}

Result<Dataset> loadTokens(const std::string &path, const SampleSpec &spec,
                           const TokenOptions &options) {
  if (spec.shape.size() != 1 || spec.shape[0] < 1)
    return Status::error(path + ": token sequences need a model input of "
                                "shape [N, T]");
  int64_t seqLen = spec.shape[0];
  std::string text;
  if (Status s = readText(path, text); s.failed())
    return s;
  Dataset data;
  data.source = path;
  data.sampleShape = spec.shape;
  data.tokenInputs = true;
  std::vector<std::string> lines = splitLines(text);
  std::vector<int64_t> ids;
  for (size_t l = 0; l < lines.size(); ++l) {
    std::string where = path + ":" + std::to_string(l + 1) + ": ";
    ids.clear();
    const char *p = lines[l].c_str();
    for (;;) {
      while (*p == ' ' || *p == '\t')
        ++p;
      if (*p == 0)
        break;
      int64_t v;
      const char *start = p;
      if (!parseInt(p, v) || (*p != 0 && *p != ' ' && *p != '\t')) {
        const char *e = start;
        while (*e && *e != ' ' && *e != '\t')
          ++e;
        return Status::error(where + "'" + std::string(start, e) +
                             "' is not an integer token id");
      }
      ids.push_back(v);
    }
    if (ids.empty())
      continue;
    if (ids.size() < 2)
      return Status::error(where + "has a label but no token ids");
    int64_t label = ids.back();
    ids.pop_back();
    if (label < 0 || (spec.numClasses > 0 && label >= spec.numClasses))
      return Status::error(where + "label " + std::to_string(label) +
                           " is out of range for a model with " +
                           std::to_string(spec.numClasses) + " classes");
    for (int64_t id : ids)
      if (id < 0 || (options.vocabSize > 0 && id >= options.vocabSize))
        return Status::error(where + "token id " + std::to_string(id) +
                             " is out of range for a vocabulary of " +
                             std::to_string(options.vocabSize));
    if (int64_t(ids.size()) > seqLen && !options.truncate)
      return Status::error(where + "has " + std::to_string(ids.size()) +
                           " token ids, longer than the model's sequence "
                           "length " +
                           std::to_string(seqLen));
    ids.resize(static_cast<size_t>(seqLen), options.padId);
    data.tokens.insert(data.tokens.end(), ids.begin(), ids.end());
    data.labels.push_back(label);
    ++data.count;
  }
  if (data.count == 0)
    return Status::error(path + ": has no token sequences");
  return data;
}

//===----------------------------------------------------------------------===//
// Synthetic data and the resolver
//===----------------------------------------------------------------------===//

Result<Dataset> makeSynthetic(const SampleSpec &spec, int64_t count,
                              uint64_t seed, Split split, float noise) {
  if (count < 1)
    return Status::error("synthetic: needs at least one sample");
  bool regression = spec.targetWidth > 0;
  // Regression samples still come from hidden classes (learnable targets).
  int64_t classes = regression ? 8 : spec.numClasses;
  if (classes < 1)
    return Status::error("synthetic: needs a model with at least one class");
  if (spec.tokenInputs && spec.vocabSize < 1)
    return Status::error(
        "synthetic: the model takes token ids but its vocabulary "
        "size is unknown (no embedding layer found)");
  Dataset data;
  data.source = "synthetic(seed=" + std::to_string(seed) + ")";
  data.sampleShape = spec.shape;
  data.count = count;
  data.tokenInputs = spec.tokenInputs;
  data.targetWidth = regression ? spec.targetWidth : 0;
  int64_t width = regression ? 1 : std::max<int64_t>(spec.labelsPerSample, 1);
  data.labelWidth = width;
  int64_t elems = data.sampleElements();
  // Prototypes depend on the seed only, so both splits share them.
  Pcg32 protoRng(seed, 0);
  std::vector<float> prototypes(static_cast<size_t>(classes * elems));
  std::vector<int64_t> tokenPrototypes;
  if (spec.tokenInputs) {
    tokenPrototypes.resize(prototypes.size());
    for (int64_t &id : tokenPrototypes)
      id = protoRng.bounded(static_cast<uint32_t>(spec.vocabSize));
  } else {
    initNormal(prototypes.data(), int64_t(prototypes.size()), 0.0f, 1.0f,
               protoRng);
  }
  std::vector<float> targetPrototypes(
      static_cast<size_t>(classes * data.targetWidth));
  if (regression)
    initNormal(targetPrototypes.data(), int64_t(targetPrototypes.size()), 0.0f,
               1.0f, protoRng);
  // Sequence labels: a label per class and position (float samples) or per
  // token id (token samples), drawn after every other prototype so that
  // classifier data is what it was.
  std::vector<int64_t> labelPrototypes;
  if (width > 1) {
    labelPrototypes.resize(size_t(spec.tokenInputs ? spec.vocabSize : classes * width));
    for (int64_t &l : labelPrototypes)
      l = protoRng.bounded(static_cast<uint32_t>(classes));
  }
  Pcg32 rng(seed, split == Split::Train ? 1 : 2);
  if (spec.tokenInputs)
    data.tokens.resize(static_cast<size_t>(count * elems));
  else
    data.inputs.resize(static_cast<size_t>(count * elems));
  if (!regression)
    data.labels.resize(static_cast<size_t>(count * width));
  uint32_t replaceBelow =
      static_cast<uint32_t>(std::min(1.0f, noise / 2) * 1000);
  for (int64_t i = 0; i < count; ++i) {
    int64_t label = rng.bounded(static_cast<uint32_t>(classes));
    if (regression)
      data.targets.insert(data.targets.end(),
                          targetPrototypes.begin() + label * data.targetWidth,
                          targetPrototypes.begin() +
                              (label + 1) * data.targetWidth);
    else if (width == 1)
      data.labels[size_t(i)] = label;
    if (spec.tokenInputs) {
      int64_t *dst = data.tokens.data() + i * elems;
      const int64_t *proto = tokenPrototypes.data() + label * elems;
      for (int64_t k = 0; k < elems; ++k)
        dst[k] = rng.bounded(1000) < replaceBelow
                     ? rng.bounded(static_cast<uint32_t>(spec.vocabSize))
                     : proto[k];
      // Position t's label is that of its id (the first `width` ids).
      for (int64_t t = 0; width > 1 && t < width; ++t)
        data.labels[size_t(i * width + t)] = labelPrototypes[size_t(dst[t % elems])];
      continue;
    }
    for (int64_t t = 0; width > 1 && t < width; ++t)
      data.labels[size_t(i * width + t)] = labelPrototypes[size_t(label * width + t)];
    float *dst = data.inputs.data() + i * elems;
    const float *proto = prototypes.data() + label * elems;
    for (int64_t k = 0; k < elems; ++k)
      dst[k] = proto[k] + noise * static_cast<float>(rng.normal());
  }
  return data;
}

static bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<Dataset> loadDataset(const std::string &name, Split split, const SampleSpec &spec,
                            const Normalization &norm, uint64_t syntheticSeed,
                            int64_t syntheticCount, const ImageOptions &image,
                            const CsvOptions &csv, int64_t limit) {
  if (name == "fashion-mnist" || name == "fashion_mnist") {
    auto files = resolveIdxFiles(kFashionMnistDir, split);
    if (!files)
      return files.status();
    return loadIdx(files->first, files->second, spec, norm, limit);
  }
  if (isTextData(name))
    return Status::error(name + ": byte-level text is read with its splits (loadSplits)");
  if (name == "synthetic") {
    // Samples are drawn one after another: the first `limit` of a larger
    // set are the same.
    if (limit > 0 && limit < syntheticCount)
      syntheticCount = limit;
    return makeSynthetic(spec, syntheticCount, syntheticSeed, split);
  }
  if (isDirectory(name)) {
    if (auto files = resolveIdxFiles(name, split))
      return loadIdx(files->first, files->second, spec, norm, limit);
    // An IDX directory with a train split only.
    if (auto files = resolveIdxFiles(name, Split::Train))
      return loadIdx(files->first, files->second, spec, norm, limit);
    std::string sub = name + (split == Split::Train ? "/train" : "/test");
    if (isDirectory(name + "/train") && isDirectory(name + "/test"))
      return loadImageFolder(sub, spec, norm, image, limit);
    return loadImageFolder(name, spec, norm, image, limit);
  }
  if (!fileExists(name))
    return Status::error(name + ": no such dataset (expected fashion-mnist, "
                                "synthetic, a directory or a file)");
  if (!endsWith(name, ".csv") && spec.targetWidth > 0)
    return Status::error(name + ": token files hold class labels; a regression "
                                "(mse) model needs a .csv file");
  TokenOptions tokens;
  tokens.vocabSize = spec.vocabSize;
  Result<Dataset> data =
      endsWith(name, ".csv") ? loadCsv(name, spec, csv) : loadTokens(name, spec, tokens);
  if (data)
    truncateDataset(*data, limit);
  return data;
}

bool hasOwnTestSplit(const std::string &name) {
  if (name == "fashion-mnist" || name == "fashion_mnist" || name == "synthetic")
    return true;
  if (!isDirectory(name))
    return false;
  if (resolveIdxFiles(name, Split::Train) && resolveIdxFiles(name, Split::Test))
    return true;
  return isDirectory(name + "/train") && isDirectory(name + "/test");
}

Dataset selectSamples(const Dataset &data,
                      const std::vector<uint32_t> &indices) {
  Dataset out;
  out.source = data.source;
  out.sampleShape = data.sampleShape;
  out.classNames = data.classNames;
  out.tokenInputs = data.tokenInputs;
  out.byteText = data.byteText;
  out.targetWidth = data.targetWidth;
  out.labelWidth = data.labelWidth;
  out.pixelTransform = data.pixelTransform;
  out.count = int64_t(indices.size());
  size_t per = size_t(data.sampleElements()), width = size_t(data.targetWidth);
  for (uint32_t i : indices) {
    if (!data.pixels.empty())
      out.pixels.insert(out.pixels.end(), data.pixels.begin() + i * per,
                        data.pixels.begin() + (i + 1) * per);
    if (!data.inputs.empty())
      out.inputs.insert(out.inputs.end(), data.inputs.begin() + i * per,
                        data.inputs.begin() + (i + 1) * per);
    if (!data.tokens.empty())
      out.tokens.insert(out.tokens.end(), data.tokens.begin() + i * per,
                        data.tokens.begin() + (i + 1) * per);
    if (!data.labels.empty())
      out.labels.insert(out.labels.end(), data.labels.begin() + i * data.labelWidth,
                        data.labels.begin() + (i + 1) * data.labelWidth);
    if (!data.targets.empty())
      out.targets.insert(out.targets.end(), data.targets.begin() + i * width,
                         data.targets.begin() + (i + 1) * width);
  }
  return out;
}

void truncateDataset(Dataset &data, int64_t limit) {
  if (limit <= 0 || limit >= data.count)
    return;
  size_t per = size_t(data.sampleElements()), n = size_t(limit);
  data.count = limit;
  // shrink_to_fit: a cut dataset holds no more than it keeps.
  if (!data.pixels.empty()) {
    data.pixels.resize(n * per);
    data.pixels.shrink_to_fit();
  }
  if (!data.inputs.empty()) {
    data.inputs.resize(n * per);
    data.inputs.shrink_to_fit();
  }
  if (!data.tokens.empty()) {
    data.tokens.resize(n * per);
    data.tokens.shrink_to_fit();
  }
  if (!data.labels.empty()) {
    data.labels.resize(n * size_t(data.labelWidth));
    data.labels.shrink_to_fit();
  }
  if (!data.targets.empty()) {
    data.targets.resize(n * size_t(data.targetWidth));
    data.targets.shrink_to_fit();
  }
}

Result<DataSplits> loadSplits(const DataOptions &options,
                              const SampleSpec &spec,
                              const Normalization &norm) {
  auto load = [&](const std::string &name, Split split, int64_t limit) {
    return loadDataset(name, split, spec, norm, options.seed, options.syntheticCount, options.image,
                       options.csv, limit);
  };
  if (isTextData(options.data))
    return loadTextSplits(options, spec);
  if (!options.csv.targetColumns.empty() && !endsWith(options.data, ".csv") &&
      !endsWith(options.testData, ".csv"))
    return Status::error("--target: " + options.data +
                         " is not a CSV file; --target picks CSV columns");
  bool ownSplit = hasOwnTestSplit(options.data);
  if (options.holdout && (ownSplit || !options.testData.empty()))
    return Status::error(
        "--holdout: " +
        (options.testData.empty()
             ? options.data + " has its own test split"
             : std::string("--test-data gives the test split")) +
        "; --holdout applies only to data without one");
  DataSplits splits;
  auto keepNotes = [&](Dataset &d) {
    splits.notes.insert(splits.notes.end(), d.notes.begin(), d.notes.end());
  };
  if (ownSplit || !options.testData.empty()) {
    if (options.needTrain) {
      Result<Dataset> train = load(options.data, Split::Train, options.trainLimit);
      if (!train)
        return train.status();
      keepNotes(*train);
      splits.train = std::move(*train);
    }
    Result<Dataset> test = load(options.testData.empty() ? options.data : options.testData,
                                Split::Test, options.testLimit);
    if (!test)
      return test.status();
    keepNotes(*test);
    splits.test = std::move(*test);
    return splits;
  }
  double fraction = options.holdout.value_or(0.1);
  if (!(fraction > 0 && fraction < 1))
    return Status::error("--holdout must be a fraction in (0, 1)");
  Result<Dataset> all = load(options.data, Split::Train, 0);
  if (!all)
    return all.status();
  keepNotes(*all);
  int64_t n = all->size();
  if (n < 2)
    return Status::error(
        options.data + ": has " + std::to_string(n) +
        " sample, too few to hold out a test split; use --test-data");
  int64_t held =
      std::clamp<int64_t>(std::llround(fraction * double(n)), 1, n - 1);
  // A stream of its own: the split does not change with the shuffling.
  std::vector<uint32_t> order(static_cast<size_t>(n));
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = static_cast<uint32_t>(i);
  Pcg32 rng(options.seed, 0x686f6c646f7574ULL);
  shuffle(order, rng);
  std::vector<uint32_t> test(order.begin(), order.begin() + held),
      train(order.begin() + held, order.end());
  std::sort(test.begin(), test.end());
  std::sort(train.begin(), train.end());
  splits.test = selectSamples(*all, test);
  truncateDataset(splits.test, options.testLimit);
  if (options.needTrain) {
    splits.train = selectSamples(*all, train);
    truncateDataset(splits.train, options.trainLimit);
  }
  char percent[32];
  std::snprintf(percent, sizeof(percent), "%g%%", 100 * fraction);
  splits.notes.push_back(
      "holding out " + std::string(percent) + " (" + groupDigits(held) +
      " of " + groupDigits(n) + " samples, seed " +
      std::to_string(options.seed) + ") of " + options.data +
      " as the test split; use --test-data for a separate test set");
  return splits;
}

//===----------------------------------------------------------------------===//
// Batcher
//===----------------------------------------------------------------------===//

Result<Batcher> Batcher::create(const Dataset &data, int64_t batchSize,
                                bool shuffle, uint64_t seed) {
  if (batchSize < 1)
    return Status::error(data.source + ": batch size " +
                         std::to_string(batchSize) + " must be at least 1");
  if (data.size() < 1)
    return Status::error(data.source + ": the dataset is empty");
  if (data.size() > int64_t(UINT32_MAX))
    return Status::error(data.source + ": more than 2^32-1 samples");
  Batcher b(data, batchSize, shuffle, seed);
  b.beginEpoch(0);
  return b;
}

void Batcher::beginEpoch(uint64_t epoch) {
  order_.resize(static_cast<size_t>(data_->size()));
  for (size_t i = 0; i < order_.size(); ++i)
    order_[i] = static_cast<uint32_t>(i);
  if (shuffle_) {
    Pcg32 rng(seed_, epoch);
    shuffle(order_, rng);
  }
}

int64_t Batcher::globalBatchCount(int64_t index) const {
  if (index < 0 || index >= numBatches())
    return 0;
  return std::min(batch_ * ranks_, data_->size() - index * batch_ * ranks_);
}

int64_t Batcher::batchCount(int64_t index) const {
  int64_t global = globalBatchCount(index);
  return global > rank_ ? (global - rank_ + ranks_ - 1) / ranks_ : 0;
}

int64_t Batcher::copyBatch(int64_t index, const BatchBuffers &out) const {
  int64_t n = batchCount(index);
  const Dataset &d = *data_;
  bool useTokens = d.tokenInputs, useLabels = !d.labels.empty();
  if (n == 0 || (useTokens ? !out.tokens && !out.tokens32 : !out.inputs) ||
      (useLabels ? !out.labels : !out.targets))
    return 0;
  size_t elems = static_cast<size_t>(d.sampleElements());
  for (int64_t r = 0; r < batch_; ++r) {
    // Float targets have no ignore value: their padding rows repeat the
    // batch's samples, so an mse batch holds real data only.
    bool repeat = r >= n && !useLabels;
    bool real = r < n || repeat;
    size_t s = real ? order_[size_t(index * batch_ * ranks_ + rank_ + (r % n) * ranks_)] : 0;
    if (useTokens && out.tokens) {
      int64_t *dst = out.tokens + r * elems;
      if (real)
        std::copy_n(d.tokens.data() + s * elems, elems, dst);
      else
        std::fill_n(dst, elems, int64_t(0));
    } else if (useTokens) {
      // Ids are checked against the vocabulary when loaded, so they fit.
      int32_t *dst = out.tokens32 + r * elems;
      if (real)
        std::transform(d.tokens.data() + s * elems,
                       d.tokens.data() + (s + 1) * elems, dst,
                       [](int64_t id) { return int32_t(id); });
      else
        std::fill_n(dst, elems, int32_t(0));
    } else {
      float *dst = out.inputs + r * elems;
      if (real)
        d.sampleAsFloats(int64_t(s), dst);
      else
        std::fill_n(dst, elems, 0.0f);
    }
    if (useLabels) {
      size_t lw = size_t(d.labelWidth);
      if (real)
        std::copy_n(d.labels.data() + s * lw, lw, out.labels + r * lw);
      else
        std::fill_n(out.labels + r * lw, lw, kIgnoreLabel);
      continue;
    }
    size_t width = size_t(std::max<int64_t>(d.targetWidth, 1));
    float *dst = out.targets + r * width;
    if (real)
      std::copy_n(d.targets.data() + s * width, width, dst);
    else
      std::fill_n(dst, width, 0.0f);
  }
  return n;
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

DataMemory dataMemory(const Dataset &train, const Dataset &test, int64_t batch,
                      int64_t outputWidth) {
  DataMemory m;
  m.train = train.storageBytes();
  m.test = test.storageBytes();
  // Batcher::order_ of the train and the test batcher; evaluate's label and
  // target rows (runtime/Train.cpp).
  uint64_t rows = uint64_t(std::max<int64_t>(batch, 0));
  m.staging = uint64_t(train.size() + test.size()) * sizeof(uint32_t) +
              rows * uint64_t(std::max<int64_t>(train.labelWidth, 1)) * sizeof(int64_t) +
              rows * uint64_t(std::max<int64_t>(outputWidth, 1)) * sizeof(float);
  return m;
}

std::string describeDataMemory(const DataMemory &memory, const Dataset &train,
                               const Dataset &test) {
  auto split = [](const char *name, uint64_t bytes, const Dataset &d) {
    return std::string(name) + " " + groupDigits(bytes) + " B (" + groupDigits(uint64_t(d.size())) +
           " " + d.storageType() + " samples)";
  };
  return "data " + groupDigits(memory.total()) + " B: " + split("train", memory.train, train) +
         " + " + split("test", memory.test, test) + " + staging " + groupDigits(memory.staging) +
         " B";
}

} // namespace nnc::rt
