//===- Progress.h - Training progress bar and metrics log -------*- C++ -*-===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR). The progress line
// (one line on screen; split here)
//
//   epoch 1/5 [#############-------]  612/937  loss 0.412  acc 85.1%
//     9,870 img/s  ETA 0:03
//
// is redrawn in place (carriage return) on a terminal, at most 10 times a
// second; when the output is not a terminal (CI logs, pipes) a plain line is
// printed every `plainIntervalSeconds` and at the end of each epoch. Metrics
// go to a JSON-lines file, one object per record:
//
//   {"kind":"step","epoch":1,"step":612,"loss":0.412,"lr":0.001,"time_s":3.2}
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_PROGRESS_H
#define NNC_RUNTIME_PROGRESS_H

#include "runtime/Json.h"
#include "runtime/Status.h"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace nnc::rt {

/// What one progress line shows.
struct ProgressState {
  int64_t epoch = 1;           ///< 1-based.
  int64_t epochs = 1;          ///< Total epochs.
  int64_t step = 0;            ///< Steps done in this epoch.
  int64_t steps = 0;           ///< Steps per epoch.
  double loss = 0;             ///< Running mean loss of the epoch.
  double accuracy = -1;        ///< Fraction in [0, 1]; < 0 hides it.
  double samplesPerSecond = 0; ///< Throughput of the epoch so far.
  double etaSeconds = -1;      ///< Time left; < 0 hides it.
};

/// Formats `state` as one line without a newline (the exact text shown).
std::string formatProgressLine(const ProgressState &state, int barWidth = 20);

/// Formats seconds as "M:SS" or "H:MM:SS".
std::string formatDuration(double seconds);

/// Draws the progress line of a training loop.
class ProgressBar {
public:
  /// A bar writing to `out`; `tty` defaults to isatty(fileno(out)).
  explicit ProgressBar(std::FILE *out = stderr,
                       std::optional<bool> tty = std::nullopt,
                       double plainIntervalSeconds = 10.0);

  /// Starts epoch `epoch` (1-based) of `epochs` with `steps` steps at time
  /// `now` (seconds; steady clock if < 0, tests pass their own).
  void beginEpoch(int64_t epoch, int64_t epochs, int64_t steps,
                  double now = -1);

  /// Records that `step` steps (1-based count) are done, `samples` samples
  /// seen this epoch, with the epoch's running loss and accuracy (< 0: none)
  /// at time `now` (as for beginEpoch). Redraws if due.
  void update(int64_t step, int64_t samples, double loss, double accuracy,
              double now = -1);

  /// Draws the final line of the epoch and ends it with a newline.
  void endEpoch(double now = -1);

  /// Ends a line left open on a terminal (a run stopped by an error mid
  /// epoch), so that the error starts a line of its own.
  ~ProgressBar();

  /// Whether the bar redraws in place.
  bool isTty() const { return tty_; }

private:
  void draw(bool final, double now);
  static double clockSeconds();

  std::FILE *out_;
  bool tty_;
  double plainInterval_;
  ProgressState state_;
  int64_t samples_ = 0;
  double epochStart_ = 0, lastDraw_ = -1e300;
  size_t lastLength_ = 0;
  bool lineOpen_ = false;
};

/// One JSON object of the metrics log, built field by field in order.
class MetricsRecord {
public:
  MetricsRecord &add(const std::string &name, int64_t value);
  MetricsRecord &add(const std::string &name, int value) {
    return add(name, static_cast<int64_t>(value));
  }
  /// Adds `value` rounded to 6 significant digits ("0.412" rather than a
  /// float loss's 0.41200000047683716); null for NaN and infinities, which
  /// JSON cannot hold.
  MetricsRecord &add(const std::string &name, double value);
  MetricsRecord &add(const std::string &name, const std::string &value);
  /// The object's text, without a newline.
  std::string json() const { return toJsonText(body_); }

private:
  Json body_ = Json::object();
};

/// A JSON-lines metrics file, flushed after every record.
class MetricsLog {
public:
  /// Opens `path` for writing (truncating, or appending if `append`, as for
  /// --resume).
  static Result<MetricsLog> open(const std::string &path, bool append);

  MetricsLog(MetricsLog &&other) noexcept;
  MetricsLog &operator=(MetricsLog &&other) noexcept;
  MetricsLog(const MetricsLog &) = delete;
  MetricsLog &operator=(const MetricsLog &) = delete;
  ~MetricsLog();

  /// Appends `record` and a newline, and flushes.
  Status write(const MetricsRecord &record);
  /// Closes the file, reporting a deferred write error.
  Status close();

private:
  MetricsLog(std::string path, std::FILE *file)
      : path_(std::move(path)), file_(file) {}
  std::string path_;
  std::FILE *file_ = nullptr;
};

} // namespace nnc::rt

#endif // NNC_RUNTIME_PROGRESS_H
