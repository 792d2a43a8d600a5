//===- RuntimeTestUtil.h - Helpers for the runtime's unit tests -*- C++ -*-===//
//
// Part of nnc. A scratch directory per test and small file helpers; used by
// the tests in nnc-runtime-tests, which link only nnc_runtime and GoogleTest.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_TEST_UNIT_RUNTIMETESTUTIL_H
#define NNC_TEST_UNIT_RUNTIMETESTUTIL_H

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <ftw.h>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace nnc::rt::test {

/// A fresh directory under $TMPDIR, removed with its contents at the end.
class ScratchDir {
public:
  ScratchDir() {
    const char *base = std::getenv("TMPDIR");
    std::string templ =
        std::string(base && *base ? base : "/tmp") + "/nnc-runtime-test-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()))
      path_ = buf.data();
  }
  ~ScratchDir() {
    if (path_.empty())
      return;
    ::chmod(path_.c_str(), 0755);
    ::nftw(
        path_.c_str(),
        [](const char *p, const struct stat *, int, struct FTW *) {
          return std::remove(p);
        },
        16, FTW_DEPTH | FTW_PHYS);
  }
  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

/// Writes `bytes` to `path`.
inline void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Reads `path` (empty if absent).
inline std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Whether `path` exists.
inline bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

} // namespace nnc::rt::test

#endif // NNC_TEST_UNIT_RUNTIMETESTUTIL_H
