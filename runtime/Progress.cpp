//===- Progress.cpp - Training progress bar and metrics log ---------------===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR).
//
//===----------------------------------------------------------------------===//

#include "runtime/Progress.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace nnc::rt {

std::string formatDuration(double seconds) {
  int64_t s = seconds > 0 ? static_cast<int64_t>(std::llround(seconds)) : 0;
  char buf[48];
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld",
                  static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60),
                  static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof(buf), "%lld:%02lld",
                  static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  return buf;
}

std::string formatProgressLine(const ProgressState &state, int barWidth) {
  std::string line = "epoch " + std::to_string(state.epoch) + "/" +
                     std::to_string(state.epochs) + " [";
  int64_t filled = 0;
  if (state.steps > 0)
    filled =
        std::clamp<int64_t>(state.step * barWidth / state.steps, 0, barWidth);
  line.append(static_cast<size_t>(filled), '#');
  line.append(static_cast<size_t>(barWidth - filled), '-');
  line += "]  ";
  std::string total = std::to_string(state.steps);
  std::string done = std::to_string(state.step);
  if (done.size() < total.size())
    line.append(total.size() - done.size(), ' ');
  line += done + "/" + total;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "  loss %.3f", state.loss);
  line += buf;
  if (state.accuracy >= 0) {
    std::snprintf(buf, sizeof(buf), "  acc %.1f%%", state.accuracy * 100.0);
    line += buf;
  }
  double rate = std::max(0.0, state.samplesPerSecond);
  line +=
      "  " + groupDigits(static_cast<uint64_t>(std::llround(rate))) + " img/s";
  if (state.etaSeconds >= 0)
    line += "  ETA " + formatDuration(state.etaSeconds);
  return line;
}

ProgressBar::ProgressBar(std::FILE *out, std::optional<bool> tty,
                         double plainIntervalSeconds)
    : out_(out), tty_(tty ? *tty : ::isatty(::fileno(out)) != 0),
      plainInterval_(plainIntervalSeconds) {}

ProgressBar::~ProgressBar() {
  if (lineOpen_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
}

double ProgressBar::clockSeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

void ProgressBar::beginEpoch(int64_t epoch, int64_t epochs, int64_t steps,
                             double now) {
  state_ = ProgressState();
  state_.epoch = epoch;
  state_.epochs = epochs;
  state_.steps = steps;
  samples_ = 0;
  epochStart_ = now < 0 ? clockSeconds() : now;
  lastDraw_ = -1e300;
  lastLength_ = 0;
}

void ProgressBar::update(int64_t step, int64_t samples, double loss,
                         double accuracy, double now) {
  if (now < 0)
    now = clockSeconds();
  state_.step = step;
  state_.loss = loss;
  state_.accuracy = accuracy;
  samples_ = samples;
  double interval = tty_ ? 0.1 : plainInterval_;
  if (now - lastDraw_ >= interval)
    draw(false, now);
}

void ProgressBar::endEpoch(double now) {
  if (now < 0)
    now = clockSeconds();
  draw(true, now);
}

void ProgressBar::draw(bool final, double now) {
  double elapsed = std::max(now - epochStart_, 1e-9);
  state_.samplesPerSecond = samples_ / elapsed;
  if (final)
    state_.etaSeconds = elapsed; // The epoch's duration replaces the ETA.
  else if (state_.step > 0)
    state_.etaSeconds =
        elapsed / state_.step * double(state_.steps - state_.step);
  else
    state_.etaSeconds = -1;
  std::string line = formatProgressLine(state_);
  if (final) {
    size_t eta = line.rfind("  ETA ");
    if (eta != std::string::npos)
      line.replace(eta, 6, "  time ");
  }
  if (tty_) {
    // Redraw in place; pad with spaces over a longer previous line.
    std::string text = "\r" + line;
    if (line.size() < lastLength_)
      text.append(lastLength_ - line.size(), ' ');
    if (final)
      text += '\n';
    std::fputs(text.c_str(), out_);
    lineOpen_ = !final;
  } else {
    std::fputs((line + "\n").c_str(), out_);
  }
  std::fflush(out_);
  lastLength_ = line.size();
  lastDraw_ = now;
}

//===----------------------------------------------------------------------===//
// Metrics
//===----------------------------------------------------------------------===//

MetricsRecord &MetricsRecord::add(const std::string &name, int64_t value) {
  body_[name] = value;
  return *this;
}

MetricsRecord &MetricsRecord::add(const std::string &name, double value) {
  if (!std::isfinite(value)) {
    body_[name] = nullptr;
    return *this;
  }
  // The shortest text that reads back as the rounded double is the rounded
  // decimal itself, and that is what nlohmann writes.
  char rounded[32];
  std::snprintf(rounded, sizeof(rounded), "%.6g", value);
  body_[name] = std::strtod(rounded, nullptr);
  return *this;
}

MetricsRecord &MetricsRecord::add(const std::string &name,
                                  const std::string &value) {
  body_[name] = value;
  return *this;
}

Result<MetricsLog> MetricsLog::open(const std::string &path, bool append) {
  std::FILE *f = std::fopen(path.c_str(), append ? "ab" : "wb");
  if (!f)
    return Status::error(path +
                         ": cannot open the metrics file: " + errnoText(errno));
  return MetricsLog(path, f);
}

MetricsLog::MetricsLog(MetricsLog &&other) noexcept
    : path_(std::move(other.path_)), file_(other.file_) {
  other.file_ = nullptr;
}

MetricsLog &MetricsLog::operator=(MetricsLog &&other) noexcept {
  if (this != &other) {
    if (file_)
      std::fclose(file_);
    path_ = std::move(other.path_);
    file_ = other.file_;
    other.file_ = nullptr;
  }
  return *this;
}

MetricsLog::~MetricsLog() {
  if (file_)
    std::fclose(file_);
}

Status MetricsLog::write(const MetricsRecord &record) {
  if (!file_)
    return Status::error(path_ + ": the metrics file is closed");
  std::string line = record.json() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() ||
      std::fflush(file_) != 0)
    return Status::error(path_ + ": cannot write metrics: " + errnoText(errno));
  return Status::success();
}

Status MetricsLog::close() {
  if (!file_)
    return Status::success();
  int r = std::fclose(file_);
  file_ = nullptr;
  if (r != 0)
    return Status::error(path_ + ": cannot write metrics: " + errnoText(errno));
  return Status::success();
}

} // namespace nnc::rt
