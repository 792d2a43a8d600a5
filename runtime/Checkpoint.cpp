//===- Checkpoint.cpp - safetensors checkpoints: write, read, check -------===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR).
//
//===----------------------------------------------------------------------===//

#include "runtime/Checkpoint.h"
#include "runtime/Json.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the checkpoint code assumes a little-endian host"
#endif

namespace nnc::rt {

//===----------------------------------------------------------------------===//
// Float conversions
//===----------------------------------------------------------------------===//

static uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

static float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t floatToHalf(float f) {
  uint32_t x = floatBits(f);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t exp = (x >> 23) & 0xFF, mant = x & 0x7FFFFF;
  if (exp == 0xFF) // Inf or NaN (keep a quiet NaN).
    return static_cast<uint16_t>(sign | 0x7C00 | (mant ? 0x200 : 0));
  int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) // Overflow to infinity.
    return static_cast<uint16_t>(sign | 0x7C00);
  if (e <= 0) { // Subnormal half or zero.
    if (e < -10)
      return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t half = mant >> shift, rest = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1)))
      ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    ++half; // May carry into the exponent, up to infinity: correct.
  return static_cast<uint16_t>(sign | half);
}

float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  if (exp == 0x1F)
    return bitsFloat(sign | 0x7F800000 | (mant << 13));
  if (exp == 0) {
    if (mant == 0)
      return bitsFloat(sign);
    // Subnormal: mant * 2^-24.
    float v = static_cast<float>(mant) * 0x1p-24f;
    return sign ? -v : v;
  }
  return bitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t floatToBFloat16(float f) {
  uint32_t x = floatBits(f);
  if ((x & 0x7FFFFFFF) > 0x7F800000) // NaN: keep it quiet.
    return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7FFF + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

float bfloat16ToFloat(uint16_t b) {
  return bitsFloat(static_cast<uint32_t>(b) << 16);
}

std::string formatShape(const std::vector<uint64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

namespace {
uint64_t failAfterBytes = 0;
int failErrno = 0;

/// Writes to a file descriptor, retrying short writes and EINTR; honours the
/// test failure hook.
class FdWriter {
public:
  explicit FdWriter(int fd) : fd_(fd) {}

  /// Writes `n` bytes; false with errno set on failure.
  bool write(const void *data, size_t n) {
    const char *p = static_cast<const char *>(data);
    while (n > 0) {
      size_t chunk = n;
      if (failErrno != 0) {
        if (written_ >= failAfterBytes) {
          errno = failErrno;
          failErrno = 0;
          return false;
        }
        chunk = std::min<uint64_t>(chunk, failAfterBytes - written_);
      }
      ssize_t r = ::write(fd_, p, chunk);
      if (r < 0) {
        if (errno == EINTR)
          continue;
        return false;
      }
      p += r;
      n -= static_cast<size_t>(r);
      written_ += static_cast<uint64_t>(r);
    }
    return true;
  }

private:
  int fd_;
  uint64_t written_ = 0;
};

uint64_t numElements(const std::vector<uint64_t> &shape) {
  uint64_t n = 1;
  for (uint64_t d : shape)
    n *= d; // Overflow is excluded by layoutSafetensors before use.
  return n;
}

/// Writes the tensors' bytes, converting from F32 where asked.
bool writeTensorData(FdWriter &out, const WriteTensor &t) {
  uint64_t n = numElements(t.shape);
  if (!t.fromF32 || t.dtype == TensorDType::F32)
    return out.write(t.data, n * tensorDTypeSize(t.dtype));
  const float *src = static_cast<const float *>(t.data);
  constexpr uint64_t kChunk = 1 << 15;
  uint16_t buf[kChunk];
  for (uint64_t i = 0; i < n; i += kChunk) {
    uint64_t m = std::min(kChunk, n - i);
    for (uint64_t j = 0; j < m; ++j)
      buf[j] = t.dtype == TensorDType::F16 ? floatToHalf(src[i + j])
                                           : floatToBFloat16(src[i + j]);
    if (!out.write(buf, m * 2))
      return false;
  }
  return true;
}

std::string parentDirectory(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}
} // namespace

void setCheckpointWriteFailureForTesting(uint64_t afterBytes, int errnum) {
  failAfterBytes = afterBytes;
  failErrno = errnum;
}

Status writeCheckpoint(const std::string &path,
                       const std::vector<WriteTensor> &tensors,
                       const SafetensorsMetadata &metadata,
                       const SafetensorsMetadata &reserve) {
  std::vector<TensorEntry> entries;
  entries.reserve(tensors.size());
  for (const WriteTensor &t : tensors) {
    if (t.fromF32 && t.dtype != TensorDType::F32 &&
        t.dtype != TensorDType::F16 && t.dtype != TensorDType::BF16)
      return Status::error(path + ": tensor '" + t.name +
                           "': F32 data can only be stored as F32, F16 or "
                           "BF16, not " +
                           safetensorsDTypeName(t.dtype));
    entries.push_back({t.name, t.dtype, t.shape});
  }
  std::string error;
  std::optional<SafetensorsLayout> layout =
      layoutSafetensors(entries, metadata, error, reserve);
  if (!layout)
    return Status::error(path + ": cannot write the checkpoint: " + error);
  for (size_t i = 0; i < tensors.size(); ++i)
    if (!tensors[i].data && layout->offsets[i + 1] != layout->offsets[i])
      return Status::error(path + ": tensor '" + tensors[i].name +
                           "' has no data");

  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0)
    return Status::error(path + ": cannot create the temporary file '" + tmp +
                         "': " + errnoText(errno));
  auto failWith = [&](const std::string &what, int errnum) {
    if (fd >= 0)
      ::close(fd);
    ::unlink(tmp.c_str());
    return Status::error(path + ": cannot write the checkpoint (" + what +
                         "): " + errnoText(errnum) +
                         "; the previous file, if any, is unchanged");
  };

  FdWriter out(fd);
  uint8_t lengthBytes[8];
  uint64_t headerLength = layout->header.size();
  for (int i = 0; i < 8; ++i)
    lengthBytes[i] = static_cast<uint8_t>(headerLength >> (8 * i));
  if (!out.write(lengthBytes, 8) ||
      !out.write(layout->header.data(), layout->header.size()))
    return failWith("header", errno);
  for (const WriteTensor &t : tensors)
    if (!writeTensorData(out, t))
      return failWith("tensor '" + t.name + "'", errno);
  if (::fsync(fd) != 0)
    return failWith("fsync", errno);
  int closeResult = ::close(fd);
  fd = -1;
  if (closeResult != 0)
    return failWith("close", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return failWith("rename", errno);
  // Make the rename durable; failure here leaves a complete file, so it is
  // not an error.
  int dirFd =
      ::open(parentDirectory(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    ::fsync(dirFd);
    ::close(dirFd);
  }
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

int64_t Checkpoint::find(const std::string &name) const {
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].name == name)
      return static_cast<int64_t>(i);
  return -1;
}

Result<Checkpoint> readCheckpoint(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::error(path +
                         ": cannot open the checkpoint: " + errnoText(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int errnum = errno;
    ::close(fd);
    return Status::error(path +
                         ": cannot read the checkpoint: " + errnoText(errnum));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::error(path + ": is not a regular file");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t r = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      int errnum = errno;
      ::close(fd);
      return Status::error(
          path + ": cannot read the checkpoint: " +
          (r == 0 ? "the file shrank while reading" : errnoText(errnum)));
    }
    done += static_cast<size_t>(r);
  }
  ::close(fd);
  return parseCheckpoint(path, std::move(bytes));
}

namespace {
/// Parses one tensor entry of the header into `entry`, `begin`, `end`.
/// Returns an error text or "".
std::string parseTensorEntry(const std::string &name, const Json &v,
                             TensorEntry &entry, uint64_t &begin,
                             uint64_t &end) {
  std::string where = "tensor '" + name + "': ";
  const Json::object_t *fields = v.get_ptr<const Json::object_t *>();
  if (!fields)
    return where + "the entry is not a JSON object";
  const Json *dtype = nullptr, *shape = nullptr, *offsets = nullptr;
  for (const auto &[key, value] : *fields) {
    if (key == "dtype")
      dtype = &value;
    else if (key == "shape")
      shape = &value;
    else if (key == "data_offsets")
      offsets = &value;
    else
      return where + "unknown field \"" + key + "\"";
  }
  if (!dtype || !shape || !offsets)
    return where + "missing field \"" +
           (!dtype   ? "dtype"
            : !shape ? "shape"
                     : "data_offsets") +
           "\"";
  const std::string *dtypeName = jsonString(dtype);
  if (!dtypeName)
    return where + "\"dtype\" is not a string";
  std::optional<TensorDType> dt = parseSafetensorsDType(*dtypeName);
  if (!dt)
    return where + "unknown dtype \"" + *dtypeName + "\"";
  entry.name = name;
  entry.dtype = *dt;
  const Json::array_t *dims = shape->get_ptr<const Json::array_t *>();
  if (!dims)
    return where + "\"shape\" is not an array";
  uint64_t bytes = tensorDTypeSize(*dt);
  for (const Json &d : *dims) {
    std::optional<uint64_t> dim = jsonUInt64(&d);
    if (!dim)
      return where + "\"shape\" holds something other than a non-negative "
                     "integer";
    entry.shape.push_back(*dim);
    if (*dim != 0 && bytes > std::numeric_limits<uint64_t>::max() / *dim)
      return where + "the shape's byte size overflows 64 bits";
    bytes *= *dim;
  }
  const Json::array_t *pair = offsets->get_ptr<const Json::array_t *>();
  std::optional<uint64_t> first, last;
  if (pair && pair->size() == 2) {
    first = jsonUInt64(&(*pair)[0]);
    last = jsonUInt64(&(*pair)[1]);
  }
  if (!first || !last)
    return where + "\"data_offsets\" is not a pair of non-negative integers";
  begin = *first;
  end = *last;
  if (end < begin)
    return where + "data_offsets [" + std::to_string(begin) + ", " +
           std::to_string(end) + "] end before they begin";
  if (end - begin != bytes)
    return where + "data_offsets [" + std::to_string(begin) + ", " +
           std::to_string(end) + "] hold " + groupDigits(end - begin) +
           " bytes, but " + safetensorsDTypeName(*dt) + " " +
           formatShape(entry.shape) + " needs " + groupDigits(bytes);
  return "";
}
} // namespace

Result<Checkpoint> parseCheckpoint(const std::string &path,
                                   std::vector<uint8_t> bytes) {
  auto invalid = [&](const std::string &what) {
    return Status::error(path + ": not a valid safetensors file: " + what);
  };
  if (bytes.size() < 8)
    return invalid("the file has " + std::to_string(bytes.size()) +
                   " bytes, fewer than the 8-byte header length");
  uint64_t headerLength = 0;
  for (int i = 0; i < 8; ++i)
    headerLength |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  if (headerLength > kSafetensorsMaxHeaderSize)
    return invalid("the header length " + groupDigits(headerLength) +
                   " exceeds the limit of " +
                   groupDigits(kSafetensorsMaxHeaderSize) + " bytes");
  if (headerLength > bytes.size() - 8)
    return invalid("truncated: the header length is " +
                   groupDigits(headerLength) + " bytes but only " +
                   groupDigits(bytes.size() - 8) + " follow");
  std::string_view header(reinterpret_cast<const char *>(bytes.data()) + 8,
                          headerLength);
  if (header.empty() || header[0] != '{')
    return invalid("the header does not start with '{'");
  std::string error;
  std::optional<Json> json = parseJson(header, error);
  if (!json)
    return invalid("header JSON: " + error);
  const Json::object_t *members = json->get_ptr<const Json::object_t *>();
  if (!members)
    return invalid("the header is not a JSON object");

  Checkpoint ckpt;
  ckpt.path = path;
  uint64_t dataStart = 8 + headerLength;
  uint64_t dataSize = bytes.size() - dataStart;
  std::vector<std::pair<uint64_t, uint64_t>> ranges; // (begin, end)
  for (const auto &member : *members) {
    if (member.first == "__metadata__") {
      const Json::object_t *metadata =
          member.second.get_ptr<const Json::object_t *>();
      if (!metadata)
        return invalid("\"__metadata__\" is not a JSON object");
      for (const auto &[key, value] : *metadata) {
        const std::string *text = jsonString(&value);
        if (!text)
          return invalid("\"__metadata__\" value \"" + key +
                         "\" is not a string");
        ckpt.metadata.emplace_back(key, *text);
      }
      continue;
    }
    TensorEntry entry;
    uint64_t begin = 0, end = 0;
    std::string problem =
        parseTensorEntry(member.first, member.second, entry, begin, end);
    if (!problem.empty())
      return invalid(problem);
    if (end > dataSize)
      return invalid("tensor '" + member.first + "': data_offsets [" +
                     std::to_string(begin) + ", " + std::to_string(end) +
                     "] reach past the data section of " +
                     groupDigits(dataSize) + " bytes (truncated file?)");
    ckpt.tensors.push_back(std::move(entry));
    ckpt.offsets.push_back(dataStart + begin);
    ckpt.sizes.push_back(end - begin);
    ranges.emplace_back(begin, end);
  }
  // The data section must be covered exactly, without holes or overlaps.
  std::vector<size_t> order(ranges.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return ranges[a] < ranges[b]; });
  uint64_t expected = 0;
  for (size_t i : order) {
    if (ranges[i].first != expected)
      return invalid("tensor '" + ckpt.tensors[i].name + "' starts at byte " +
                     groupDigits(ranges[i].first) +
                     " of the data section, "
                     "expected " +
                     groupDigits(expected) +
                     (ranges[i].first < expected ? " (tensors overlap)"
                                                 : " (a hole in the data)"));
    expected = ranges[i].second;
  }
  if (expected != dataSize)
    return invalid("the tensors cover " + groupDigits(expected) +
                   " bytes but the data section has " + groupDigits(dataSize));
  ckpt.bytes = std::move(bytes);
  return ckpt;
}

//===----------------------------------------------------------------------===//
// Checking and loading
//===----------------------------------------------------------------------===//

namespace {
bool isFloat(TensorDType d) {
  return d == TensorDType::F32 || d == TensorDType::F16 ||
         d == TensorDType::BF16;
}
} // namespace

Status checkAgainstModel(const Checkpoint &ckpt,
                         const std::vector<TensorEntry> &expected,
                         bool allowFloatConversion) {
  std::vector<std::string> problems;
  std::map<std::string, size_t> modelIndex;
  for (size_t i = 0; i < expected.size(); ++i)
    modelIndex.emplace(expected[i].name, i);
  for (const TensorEntry &want : expected) {
    int64_t i = ckpt.find(want.name);
    std::string what = std::string(safetensorsDTypeName(want.dtype)) + " " +
                       formatShape(want.shape);
    if (i < 0) {
      problems.push_back("missing tensor '" + want.name +
                         "' (the model expects " + what + ")");
      continue;
    }
    const TensorEntry &have = ckpt.tensors[static_cast<size_t>(i)];
    if (have.shape != want.shape)
      problems.push_back("tensor '" + want.name + "' has shape " +
                         formatShape(have.shape) + ", the model expects " +
                         formatShape(want.shape));
    bool convertible = allowFloatConversion && want.dtype == TensorDType::F32 &&
                       isFloat(have.dtype);
    if (have.dtype != want.dtype && !convertible)
      problems.push_back("tensor '" + want.name + "' has dtype " +
                         safetensorsDTypeName(have.dtype) +
                         ", the model expects " +
                         safetensorsDTypeName(want.dtype));
  }
  for (const TensorEntry &have : ckpt.tensors)
    if (!modelIndex.count(have.name))
      problems.push_back("unexpected tensor '" + have.name + "' (" +
                         safetensorsDTypeName(have.dtype) + " " +
                         formatShape(have.shape) +
                         "): the model has no such tensor");
  if (problems.empty())
    return Status::success();
  constexpr size_t kMaxLines = 20;
  std::string message;
  for (size_t i = 0; i < problems.size() && i < kMaxLines; ++i) {
    if (i)
      message += '\n';
    message += ckpt.path + ": " + problems[i];
  }
  if (problems.size() > kMaxLines)
    message += "\n" + ckpt.path + ": ... and " +
               std::to_string(problems.size() - kMaxLines) + " more problems";
  return Status::error(message);
}

Status loadCheckpoint(const Checkpoint &ckpt,
                      const std::vector<LoadTarget> &targets) {
  std::vector<TensorEntry> expected;
  expected.reserve(targets.size());
  for (const LoadTarget &t : targets)
    expected.push_back({t.name, t.dtype, t.shape});
  Status check = checkAgainstModel(ckpt, expected);
  if (check.failed())
    return check;
  for (const LoadTarget &t : targets) {
    size_t i = static_cast<size_t>(ckpt.find(t.name));
    const uint8_t *src = ckpt.tensorData(i);
    TensorDType have = ckpt.tensors[i].dtype;
    if (ckpt.sizes[i] == 0)
      continue;
    if (have == t.dtype) {
      std::memcpy(t.dest, src, ckpt.sizes[i]);
      continue;
    }
    float *dst = static_cast<float *>(t.dest);
    uint64_t n = ckpt.sizes[i] / 2;
    for (uint64_t j = 0; j < n; ++j) {
      uint16_t h = static_cast<uint16_t>(src[2 * j] | (src[2 * j + 1] << 8));
      dst[j] = have == TensorDType::F16 ? halfToFloat(h) : bfloat16ToFloat(h);
    }
  }
  return Status::success();
}

} // namespace nnc::rt
