//===- ImageFolder.cpp - Image-folder datasets (PNG via libpng) -----------===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR). `root/<class>/*.png`:
// classes are the sorted sub-folder names; each PNG is decoded by libpng's
// simplified API (which converts any PNG bit depth to 8 bits and composes
// alpha onto black). An image of another size or colour type than the
// model's is an error unless resizing was asked for: then it is converted to
// gray or RGB and resized bilinearly to the model's H x W. Pixels are kept
// as the u8 values decoded (channel planes) unless an image was resized.
//
//===----------------------------------------------------------------------===//

#include "runtime/Data.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <dirent.h>
#include <png.h>
#include <sys/stat.h>

namespace nnc::rt {

namespace {
/// The entries of directory `dir` (without "." and ".."), sorted bytewise,
/// split into sub-directories and files.
Status listDirectory(const std::string &dir, std::vector<std::string> &dirs,
                     std::vector<std::string> &files) {
  DIR *d = ::opendir(dir.c_str());
  if (!d)
    return Status::error(dir +
                         ": cannot open the directory: " + errnoText(errno));
  while (struct dirent *e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.') // ".", "..", hidden files.
      continue;
    struct stat st;
    if (::stat((dir + "/" + name).c_str(), &st) != 0)
      continue;
    if (S_ISDIR(st.st_mode))
      dirs.push_back(name);
    else if (S_ISREG(st.st_mode))
      files.push_back(name);
  }
  ::closedir(d);
  std::sort(dirs.begin(), dirs.end());
  std::sort(files.begin(), files.end());
  return Status::success();
}

bool isPngName(const std::string &name) {
  if (name.size() < 4)
    return false;
  std::string ext = name.substr(name.size() - 4);
  for (char &c : ext)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png";
}

/// Decodes `path` into 8-bit `channels`-channel pixels (1: gray, 3: RGB);
/// `fileChannels` is the file's own (1 or 3, alpha not counted).
Status decodePng(const std::string &path, int64_t channels,
                 std::vector<uint8_t> &pixels, uint32_t &width,
                 uint32_t &height, int64_t &fileChannels) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str()))
    return Status::error(path + ": cannot read the PNG: " + image.message);
  fileChannels = (image.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  width = image.width;
  height = image.height;
  // Refuse absurd sizes before allocating (a hostile header).
  if (uint64_t(width) * height > (uint64_t(1) << 28)) {
    png_image_free(&image);
    return Status::error(path + ": the PNG is " + std::to_string(width) + "x" +
                         std::to_string(height) +
                         ", larger than the 268M-pixel limit");
  }
  pixels.resize(PNG_IMAGE_SIZE(image));
  png_color black = {0, 0, 0};
  if (!png_image_finish_read(&image, &black, pixels.data(), 0, nullptr)) {
    std::string msg = image.message;
    png_image_free(&image);
    return Status::error(path + ": corrupt PNG: " + msg);
  }
  return Status::success();
}

/// Resizes `channels`-channel 8-bit pixels (inW x inH, interleaved) to
/// outW x outH planar floats in [0, 255] (bilinear, half-pixel centres;
/// align_corners=False).
void resizeBilinear(const std::vector<uint8_t> &in, uint32_t inW, uint32_t inH,
                    int64_t channels, int64_t outW, int64_t outH, float *out) {
  double sx = double(inW) / double(outW), sy = double(inH) / double(outH);
  for (int64_t y = 0; y < outH; ++y) {
    double fy = std::max(0.0, (y + 0.5) * sy - 0.5);
    int64_t y0 = std::min<int64_t>(int64_t(fy), inH - 1);
    int64_t y1 = std::min<int64_t>(y0 + 1, inH - 1);
    double wy = fy - double(y0);
    for (int64_t x = 0; x < outW; ++x) {
      double fx = std::max(0.0, (x + 0.5) * sx - 0.5);
      int64_t x0 = std::min<int64_t>(int64_t(fx), inW - 1);
      int64_t x1 = std::min<int64_t>(x0 + 1, inW - 1);
      double wx = fx - double(x0);
      for (int64_t c = 0; c < channels; ++c) {
        auto px = [&](int64_t yy, int64_t xx) {
          return double(in[size_t((yy * inW + xx) * channels + c)]);
        };
        double top = px(y0, x0) * (1 - wx) + px(y0, x1) * wx;
        double bottom = px(y1, x0) * (1 - wx) + px(y1, x1) * wx;
        out[(c * outH + y) * outW + x] =
            static_cast<float>(top * (1 - wy) + bottom * wy);
      }
    }
  }
}

const char *colourName(int64_t channels) {
  return channels == 1 ? "gray" : "RGB";
}

/// A decoded image in the model's channel count: interleaved 8-bit pixels.
struct DecodedImage {
  std::vector<uint8_t> pixels;
  uint32_t width = 0, height = 0;
  /// Whether it was converted (colour type) or needs resizing.
  bool converted = false;
  /// Whether its size differs from the model's (resizeBilinear's values are
  /// then fractional, so they need floats).
  bool resized = false;
};

/// Decodes `path` in the model's channel count (spec.shape[0]). Another size
/// or channel count is an error unless options.resize.
Status readImage(const std::string &path, const SampleSpec &spec, const ImageOptions &options,
                 DecodedImage &image) {
  int64_t channels = spec.shape[0], outH = spec.shape[1], outW = spec.shape[2];
  uint32_t &w = image.width, &h = image.height;
  int64_t fileChannels = 0;
  if (Status s = decodePng(path, channels, image.pixels, w, h, fileChannels); s.failed())
    return s;
  image.resized = int64_t(w) != outW || int64_t(h) != outH;
  image.converted = image.resized || fileChannels != channels;
  if (image.converted && !options.resize)
    return Status::error(path + ": the image is " + std::to_string(w) + "x" +
                         std::to_string(h) + " " + colourName(fileChannels) +
                         ", the model expects " + std::to_string(outW) + "x" +
                         std::to_string(outH) + " " + colourName(channels) +
                         " (pass --resize to convert and resize images)");
  return Status::success();
}

/// Writes a decoded image of the model's size as channel planes of u8.
void toPlanes(const DecodedImage &image, int64_t channels, uint8_t *out) {
  int64_t plane = int64_t(image.width) * image.height;
  for (int64_t k = 0; k < plane; ++k)
    for (int64_t c = 0; c < channels; ++c)
      out[c * plane + k] = image.pixels[size_t(k * channels + c)];
}

/// Writes a decoded image as the model's channels x H x W floats in
/// [0, 255] (resized bilinearly; the identity at the model's size).
void toFloats(const DecodedImage &image, const SampleSpec &spec, float *out) {
  resizeBilinear(image.pixels, image.width, image.height, spec.shape[0], spec.shape[2],
                 spec.shape[1], out);
}
} // namespace

Result<Dataset> loadImageFolder(const std::string &root, const SampleSpec &spec,
                                const Normalization &norm, const ImageOptions &options,
                                int64_t limit) {
  if (spec.shape.size() != 3 || (spec.shape[0] != 1 && spec.shape[0] != 3) ||
      spec.shape[1] < 1 || spec.shape[2] < 1)
    return Status::error(root + ": image folders need a model input of shape "
                                "[N, 1 or 3, H, W]");
  int64_t channels = spec.shape[0], outH = spec.shape[1], outW = spec.shape[2];
  std::vector<std::string> classes, ignored;
  if (Status s = listDirectory(root, classes, ignored); s.failed())
    return s;
  if (classes.empty())
    return Status::error(root + ": no class sub-folders (expected " + root +
                         "/<class>/*.png)");
  if (spec.numClasses > 0 && int64_t(classes.size()) != spec.numClasses)
    return Status::error(root + ": has " + std::to_string(classes.size()) +
                         " class folders, the model has " +
                         std::to_string(spec.numClasses) + " classes");
  Dataset data;
  data.source = root;
  data.sampleShape = spec.shape;
  data.classNames = classes;
  int64_t elems = data.sampleElements();
  DecodedImage image;
  int64_t skipped = 0, convertedCount = 0;
  // u8 planes until an image needs resizing; then floats for all.
  bool asFloats = false;
  std::string firstSkipped;
  auto skip = [&](const std::string &path) {
    if (skipped++ == 0)
      firstSkipped = path;
  };
  for (const std::string &file : ignored)
    skip(root + "/" + file);
  for (size_t label = 0; label < classes.size(); ++label) {
    std::string dir = root + "/" + classes[label];
    std::vector<std::string> subdirs, files;
    if (Status s = listDirectory(dir, subdirs, files); s.failed())
      return s;
    for (const std::string &sub : subdirs)
      skip(dir + "/" + sub + "/");
    bool anyPng = false;
    for (const std::string &file : files) {
      if (!isPngName(file)) {
        skip(dir + "/" + file);
        continue;
      }
      anyPng = true;
      if (limit > 0 && data.count >= limit)
        continue; // Listed, not decoded.
      if (Status s = readImage(dir + "/" + file, spec, options, image); s.failed())
        return s;
      if (image.resized && !asFloats) {
        asFloats = true;
        data.inputs.assign(data.pixels.begin(), data.pixels.end());
        data.pixels = {};
      }
      size_t at = size_t(data.count * elems);
      if (asFloats) {
        data.inputs.resize(at + size_t(elems));
        toFloats(image, spec, data.inputs.data() + at);
      } else {
        data.pixels.resize(at + size_t(elems));
        toPlanes(image, channels, data.pixels.data() + at);
      }
      convertedCount += image.converted;
      data.labels.push_back(int64_t(label));
      ++data.count;
    }
    if (!anyPng)
      return Status::error(dir + ": the class folder has no .png files");
  }
  if (skipped)
    data.notes.push_back("skipped " + groupDigits(uint64_t(skipped)) +
                         " non-PNG " + (skipped == 1 ? "entry" : "entries") +
                         " in " + root + "/ (first: " + firstSkipped + ")");
  if (convertedCount)
    data.notes.push_back(
        "resized or converted " + groupDigits(uint64_t(convertedCount)) +
        " of " + groupDigits(uint64_t(data.count)) + " images in " + root +
        "/ to the model's " + std::to_string(outW) + "x" +
        std::to_string(outH) + " " + colourName(channels));
  if (Status s = normalizeImages(data, norm); s.failed())
    return s;
  return data;
}

Result<std::vector<float>> loadImage(const std::string &path,
                                     const SampleSpec &spec,
                                     const Normalization &norm,
                                     const ImageOptions &options) {
  if (spec.shape.size() != 3 || (spec.shape[0] != 1 && spec.shape[0] != 3))
    return Status::error(path + ": images need a model input of shape [N, 1 or 3, H, W]");
  Dataset one;
  one.source = path;
  one.sampleShape = spec.shape;
  one.count = 1;
  one.inputs.resize(spec.shape[0] * spec.shape[1] * spec.shape[2]);
  DecodedImage image;
  if (Status s = readImage(path, spec, options, image); s.failed())
    return s;
  toFloats(image, spec, one.inputs.data());
  if (Status s = normalizeImages(one, norm); s.failed())
    return s;
  return std::move(one.inputs);
}

} // namespace nnc::rt
