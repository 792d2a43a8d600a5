//===- ProgressTest.cpp - Tests of the progress bar and metrics log -------===//
//
// Part of nnc. The exact progress line, in-place redraws on a terminal,
// periodic plain lines otherwise, and the JSON-lines metrics file.
//
//===----------------------------------------------------------------------===//

#include "runtime/Progress.h"
#include "runtime/Json.h"
#include "test/unit/RuntimeTestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

using namespace nnc::rt;
using nnc::rt::test::readFile;
using nnc::rt::test::ScratchDir;

namespace {

TEST(ProgressTest, LineFormat) {
  ProgressState s;
  s.epoch = 1;
  s.epochs = 5;
  s.step = 612;
  s.steps = 937;
  s.loss = 0.4123;
  s.accuracy = 0.8514;
  s.samplesPerSecond = 9870.4;
  s.etaSeconds = 3.2;
  EXPECT_EQ(formatProgressLine(s),
            "epoch 1/5 [#############-------]  612/937  loss 0.412  acc 85.1%"
            "  9,870 img/s  ETA 0:03");
  s.step = 7;
  s.accuracy = -1;
  s.etaSeconds = -1;
  EXPECT_EQ(formatProgressLine(s),
            "epoch 1/5 [--------------------]    7/937  loss 0.412  9,870 "
            "img/s");
  EXPECT_EQ(formatDuration(3725), "1:02:05");
  EXPECT_EQ(formatDuration(59.6), "1:00");
}

/// Runs a bar over a temporary FILE and returns what it printed.
std::string runBar(bool tty) {
  std::FILE *f = std::tmpfile();
  ProgressBar bar(f, tty, /*plainIntervalSeconds=*/10.0);
  bar.beginEpoch(2, 3, 100, /*now=*/1000.0);
  for (int step = 1; step <= 100; ++step)
    bar.update(step, step * 32, 1.0 / step, 0.5, 1000.0 + step * 0.25);
  bar.endEpoch(1025.0);
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
    out.append(buf, n);
  std::fclose(f);
  return out;
}

TEST(ProgressTest, PlainLinesWhenNotATerminal) {
  std::string out = runBar(false);
  EXPECT_EQ(out.find('\r'), std::string::npos);
  // Step 1 (at once), then every 10 s of the 25 s epoch, then the end.
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4);
  EXPECT_NE(out.find("epoch 2/3 [####################]  100/100  loss 0.010  "
                     "acc 50.0%  128 img/s  time 0:25\n"),
            std::string::npos)
      << out;
}

TEST(ProgressTest, RedrawsInPlaceOnATerminal) {
  std::string out = runBar(true);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1); // Only at the end.
  EXPECT_GT(std::count(out.begin(), out.end(), '\r'), 10);
  EXPECT_EQ(out.back(), '\n');
}

TEST(ProgressTest, EndsAnOpenLineWhenStoppedMidEpoch) {
  std::FILE *f = std::tmpfile();
  {
    ProgressBar bar(f, /*tty=*/true);
    bar.beginEpoch(1, 1, 10, /*now=*/0.0);
    bar.update(3, 96, 0.5, 0.5, 1.0);
  } // An error stops the run here.
  std::fputs("nnc: error: stopped\n", f);
  std::rewind(f);
  char buf[512] = {};
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  std::string out(buf, n);
  EXPECT_NE(out.find("\nnnc: error: stopped\n"), std::string::npos) << out;
}

TEST(ProgressTest, MetricsJsonLines) {
  ScratchDir dir;
  std::string path = dir.file("metrics.jsonl");
  {
    Result<MetricsLog> log = MetricsLog::open(path, /*append=*/false);
    ASSERT_TRUE(log) << log.message();
    ASSERT_TRUE(log->write(MetricsRecord()
                               .add("epoch", 1)
                               .add("step", int64_t(612))
                               .add("loss", 0.412)
                               .add("acc", 0.851)
                               .add("phase", std::string("train")))
                    .ok());
  }
  {
    Result<MetricsLog> log = MetricsLog::open(path, /*append=*/true);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->write(MetricsRecord().add("loss", std::nan(""))).ok());
    ASSERT_TRUE(log->close().ok());
  }
  std::string text = readFile(path);
  EXPECT_EQ(text, "{\"epoch\":1,\"step\":612,\"loss\":0.412,\"acc\":0.851,"
                  "\"phase\":\"train\"}\n{\"loss\":null}\n");
  // Every line is valid JSON.
  std::string error;
  EXPECT_TRUE(parseJson(text.substr(0, text.find('\n')), error)) << error;
  // A float's double is written rounded (6 significant digits); a string
  // that is not UTF-8 gets U+FFFD, so the line stays JSON.
  EXPECT_EQ(MetricsRecord()
                .add("lr", double(0.1f))
                .add("n", 1234567.0)
                .add("data", std::string("a\xff"))
                .json(),
            "{\"lr\":0.1,\"n\":1234570.0,\"data\":\"a\xef\xbf\xbd\"}");
  Result<MetricsLog> bad = MetricsLog::open("/nonexistent/m.jsonl", false);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.message(), "/nonexistent/m.jsonl: cannot open the metrics "
                           "file: No such file or directory");
}

} // namespace
