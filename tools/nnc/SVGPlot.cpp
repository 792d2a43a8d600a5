//===- SVGPlot.cpp - Training curves from a metrics file as SVG -----------===//

#include "tools/nnc/SVGPlot.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

using namespace llvm;
using namespace nnc::plot;

Expected<TrainingCurves> nnc::plot::readMetrics(StringRef path) {
  auto buffer = MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (std::error_code ec = buffer.getError())
    return createStringError(ec, "cannot read '%s': %s", path.str().c_str(),
                             ec.message().c_str());
  TrainingCurves curves;
  SmallVector<StringRef> lines;
  (*buffer)->getBuffer().split(lines, '\n');
  for (auto [index, line] : llvm::enumerate(lines)) {
    line = line.trim();
    if (line.empty())
      continue;
    auto error = [&, index = index](const Twine &msg) {
      return createStringError(inconvertibleErrorCode(), "%s:%zu: %s", path.str().c_str(),
                               index + 1, msg.str().c_str());
    };
    Expected<json::Value> value = json::parse(line);
    if (!value)
      return error("not JSON: " + toString(value.takeError()));
    const json::Object *record = value->getAsObject();
    if (!record)
      return error("expected a JSON object per line");
    std::optional<double> step = record->getNumber("step");
    std::optional<double> loss = record->getNumber("loss");
    if (!step || !loss)
      return error("the record has no numeric \"step\" and \"loss\"");
    std::optional<StringRef> kind = record->getString("kind");
    if (kind && *kind == "step") {
      curves.stepLoss.push_back({*step, *loss});
      continue;
    }
    if (kind && *kind != "epoch")
      return error("unknown record kind '" + *kind + "' (expected step or epoch)");
    curves.epochLoss.push_back({*step, *loss});
    if (std::optional<double> testLoss = record->getNumber("test_loss"))
      curves.testLoss.push_back({*step, *testLoss});
    if (std::optional<double> accuracy = record->getNumber("test_accuracy"))
      curves.testAccuracy.push_back({*step, *accuracy});
  }
  if (curves.stepLoss.empty() && curves.epochLoss.empty())
    return createStringError(inconvertibleErrorCode(), "%s: no metrics records",
                             path.str().c_str());
  return curves;
}

Axis Axis::fit(double lo, double hi) {
  if (!(hi > lo)) {
    double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  Axis best;
  double bestSpan = INFINITY;
  for (int targetTicks = 4; targetTicks <= 8; ++targetTicks) {
    double raw = (hi - lo) / targetTicks;
    double magnitude = std::pow(10, std::floor(std::log10(raw)));
    double tick = magnitude;
    for (double f : {1.0, 2.0, 5.0, 10.0})
      if (f * magnitude >= raw) {
        tick = f * magnitude;
        break;
      }
    Axis axis{std::floor(lo / tick) * tick, std::ceil(hi / tick) * tick, tick};
    if (axis.hi - axis.lo < bestSpan * (1 - 1e-9)) {
      best = axis;
      bestSpan = axis.hi - axis.lo;
    }
  }
  return best;
}

SmallVector<double> Axis::ticks() const {
  SmallVector<double> values;
  for (int64_t i = 0; lo + double(i) * tick <= hi + tick * 1e-9; ++i)
    values.push_back(std::round((lo + double(i) * tick) / tick) * tick);
  return values;
}

std::string nnc::plot::escapeXML(StringRef text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    default: out += c;
    }
  }
  return out;
}

namespace {

/// A tick label: short, without floating-point noise.
std::string label(double v) {
  if (v == 0)
    return "0";
  char text[32];
  std::snprintf(text, sizeof(text), "%.4g", v);
  return text;
}

/// `v` with an SI suffix: 174970 -> "175.0k", 1.2e9 -> "1.20G".
std::string siLabel(double v) {
  static const char *suffixes[] = {"", "k", "M", "G", "T", "P"};
  int i = 0;
  while (std::abs(v) >= 1000 && i < 5)
    v /= 1000, ++i;
  char text[32];
  std::snprintf(text, sizeof(text), std::abs(v) >= 100 ? "%.0f%s" : "%.3g%s", v, suffixes[i]);
  return text;
}

/// The drawing area and its mapping from data to SVG coordinates.
struct Frame {
  static constexpr double width = 900, height = 540;
  static constexpr double left = 80, right = 80, top = 80, bottom = 70;
  Axis x, y, y2;

  double px(double v) const {
    return left + (v - x.lo) / (x.hi - x.lo) * (width - left - right);
  }
  double py(double v, const Axis &axis) const {
    return height - bottom - (v - axis.lo) / (axis.hi - axis.lo) * (height - top - bottom);
  }
};

/// Appends one curve as a polyline (class `cls`), with markers if asked.
void drawSeries(raw_ostream &os, const Frame &f, const Series &series, const Axis &axis,
                StringRef cls, StringRef color, bool markers, double scale = 1,
                StringRef dash = "") {
  if (series.empty())
    return;
  os << "<polyline class=\"" << cls << "\" fill=\"none\" stroke=\"" << color
     << "\" stroke-width=\"" << (markers ? "2" : "1.5") << "\" stroke-linejoin=\"round\"";
  if (!dash.empty())
    os << " stroke-dasharray=\"" << dash << "\"";
  os << " points=\"";
  for (auto [i, point] : llvm::enumerate(series))
    os << (i ? " " : "")
       << formatv("{0:F1},{1:F1}", f.px(point.first), f.py(point.second * scale, axis));
  os << "\"/>\n";
  if (markers)
    for (auto [step, value] : series)
      os << formatv("<circle cx=\"{0:F1}\" cy=\"{1:F1}\" r=\"3.5\" fill=\"{2}\"/>\n",
                    f.px(step), f.py(value * scale, axis), color);
}

/// The centered moving average of `series` over 2 * `half` + 1 points.
Series movingAverage(const Series &series, size_t half) {
  Series out;
  double sum = 0;
  size_t begin = 0, end = 0; // the window [begin, end)
  for (size_t i = 0; i < series.size(); ++i) {
    size_t lo = i >= half ? i - half : 0, hi = std::min(series.size(), i + half + 1);
    for (; end < hi; ++end)
      sum += series[end].second;
    for (; begin < lo; ++begin)
      sum -= series[begin].second;
    out.push_back({series[i].first, sum / double(end - begin)});
  }
  return out;
}

} // namespace

std::string nnc::plot::renderSVG(const TrainingCurves &curves, StringRef title) {
  const bool perStep = !curves.stepLoss.empty();
  const Series &trainLoss = perStep ? curves.stepLoss : curves.epochLoss;
  const bool accuracy = !curves.testAccuracy.empty();

  double maxStep = 1, minLoss = INFINITY, maxLoss = -INFINITY;
  for (const Series *s : {&trainLoss, &curves.testLoss})
    for (auto [step, value] : *s) {
      maxStep = std::max(maxStep, step);
      minLoss = std::min(minLoss, value);
      maxLoss = std::max(maxLoss, value);
    }
  Frame f;
  f.x = Axis::fit(0, maxStep);
  f.y = Axis::fit(std::min(0.0, minLoss), maxLoss);
  f.y2 = {0, 100, 20};

  std::string text;
  raw_string_ostream os(text);
  os << formatv("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
                "viewBox=\"0 0 {0} {1}\" font-family=\"DejaVu Sans, Helvetica, Arial, "
                "sans-serif\" font-size=\"13\">\n",
                Frame::width, Frame::height);
  os << formatv("<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n", Frame::width,
                Frame::height);
  os << formatv("<text class=\"title\" x=\"{0}\" y=\"32\" text-anchor=\"middle\" "
                "font-size=\"18\" font-weight=\"bold\">{1}</text>\n",
                Frame::width / 2, escapeXML(title));

  double x0 = Frame::left, x1 = Frame::width - Frame::right;
  double y0 = Frame::height - Frame::bottom, y1 = Frame::top;
  // Grid, ticks and tick labels.
  os << "<g class=\"grid\" stroke=\"#e0e0e0\" stroke-width=\"1\">\n";
  for (double t : f.x.ticks())
    os << formatv("<line x1=\"{0:F1}\" y1=\"{1}\" x2=\"{0:F1}\" y2=\"{2}\"/>\n", f.px(t), y0,
                  y1);
  for (double t : f.y.ticks())
    os << formatv("<line x1=\"{0}\" y1=\"{1:F1}\" x2=\"{2}\" y2=\"{1:F1}\"/>\n", x0,
                  f.py(t, f.y), x1);
  os << "</g>\n<g class=\"ticks\" fill=\"#333\">\n";
  for (double t : f.x.ticks())
    os << formatv("<text x=\"{0:F1}\" y=\"{1}\" text-anchor=\"middle\">{2}</text>\n", f.px(t),
                  y0 + 20, label(t));
  for (double t : f.y.ticks())
    os << formatv("<text x=\"{0}\" y=\"{1:F1}\" text-anchor=\"end\">{2}</text>\n", x0 - 8,
                  f.py(t, f.y) + 4, label(t));
  if (accuracy)
    for (double t : f.y2.ticks())
      os << formatv("<text x=\"{0}\" y=\"{1:F1}\" text-anchor=\"start\">{2}%</text>\n",
                    x1 + 8, f.py(t, f.y2) + 4, label(t));
  os << "</g>\n";
  // Axes and their titles.
  os << formatv("<g class=\"axes\" stroke=\"#333\" stroke-width=\"1.5\">"
                "<line x1=\"{0}\" y1=\"{2}\" x2=\"{1}\" y2=\"{2}\"/>"
                "<line x1=\"{0}\" y1=\"{2}\" x2=\"{0}\" y2=\"{3}\"/>",
                x0, x1, y0, y1);
  if (accuracy)
    os << formatv("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>", x1, y0, y1);
  os << "</g>\n";
  os << formatv("<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\">global step</text>\n",
                (x0 + x1) / 2, Frame::height - 22);
  os << formatv("<text x=\"22\" y=\"{0}\" text-anchor=\"middle\" "
                "transform=\"rotate(-90 22 {0})\">loss</text>\n",
                (y0 + y1) / 2);
  if (accuracy)
    os << formatv("<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" "
                  "transform=\"rotate(90 {0} {1})\">test accuracy</text>\n",
                  Frame::width - 22, (y0 + y1) / 2);

  // The curves.
  struct Entry {
    StringRef name, color, dash;
  };
  SmallVector<Entry> legend;
  // Many noisy steps: the raw curve light, a moving average on top.
  bool smooth = trainLoss.size() > 100;
  drawSeries(os, f, trainLoss, f.y, "train-loss", smooth ? "#aec7e8" : "#1f77b4",
             /*markers=*/!perStep);
  legend.push_back({perStep ? "train loss (per step)" : "train loss (per epoch)",
                    smooth ? "#aec7e8" : "#1f77b4", ""});
  if (smooth) {
    drawSeries(os, f, movingAverage(trainLoss, trainLoss.size() / 50), f.y,
               "train-loss-average", "#1f77b4", /*markers=*/false);
    legend.push_back({"moving average", "#1f77b4", ""});
  }
  if (!curves.testLoss.empty()) {
    drawSeries(os, f, curves.testLoss, f.y, "test-loss", "#ff7f0e", /*markers=*/true);
    legend.push_back({"test loss", "#ff7f0e", ""});
  }
  if (accuracy) {
    drawSeries(os, f, curves.testAccuracy, f.y2, "test-accuracy", "#2ca02c",
               /*markers=*/true, /*scale=*/100, "6 4");
    legend.push_back({"test accuracy (right axis)", "#2ca02c", "6 4"});
  }

  // The legend: one row between the title and the plot area, where no
  // curve can hide it.
  auto entryWidth = [](const Entry &e) { return 38 + 7.4 * double(e.name.size()) + 18; };
  double total = 0;
  for (const Entry &e : legend)
    total += entryWidth(e);
  double lx = (Frame::width - total) / 2, ly = 54;
  os << "<g class=\"legend\">\n";
  for (const Entry &e : legend) {
    os << formatv("<line x1=\"{0:F1}\" y1=\"{1}\" x2=\"{2:F1}\" y2=\"{1}\" stroke=\"{3}\" "
                  "stroke-width=\"2.5\"{4}/>",
                  lx, ly, lx + 30, e.color,
                  e.dash.empty() ? std::string() : " stroke-dasharray=\"" + e.dash.str() + "\"");
    os << formatv("<text x=\"{0:F1}\" y=\"{1}\">{2}</text>\n", lx + 38, ly + 4, escapeXML(e.name));
    lx += entryWidth(e);
  }
  os << "</g>\n</svg>\n";
  return text;
}

std::string nnc::plot::renderLogLogSVG(ArrayRef<LogLogLine> lines, StringRef title,
                                       StringRef xLabel) {
  // Decades of the data, each line divided by its first value.
  double xlo = INFINITY, xhi = -INFINITY, ylo = 1, yhi = 1;
  std::vector<Series> normalized;
  for (const LogLogLine &line : lines) {
    Series s;
    for (auto [x, y] : line.points) {
      if (x <= 0 || y <= 0 || line.points.front().second <= 0)
        continue;
      double v = y / line.points.front().second;
      s.push_back({std::log10(x), std::log10(v)});
      xlo = std::min(xlo, x), xhi = std::max(xhi, x);
      ylo = std::min(ylo, v), yhi = std::max(yhi, v);
    }
    normalized.push_back(std::move(s));
  }
  if (!(xlo < xhi))
    xlo = 1, xhi = 10;
  Frame f;
  // Whole powers of two on x (the usual hyperparameter values), powers of
  // ten on y.
  f.x = {std::log10(xlo) - 0.05 * std::log10(xhi / xlo),
         std::log10(xhi) + 0.05 * std::log10(xhi / xlo), 0};
  f.y = {std::floor(std::log10(ylo)),
         std::max(std::ceil(std::log10(yhi)), std::floor(std::log10(ylo)) + 1), 1};
  std::string text;
  raw_string_ostream os(text);
  const double height = Frame::height + 40;
  os << formatv("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
                "viewBox=\"0 0 {0} {1}\" font-family=\"DejaVu Sans, Helvetica, Arial, "
                "sans-serif\" font-size=\"13\">\n",
                Frame::width, height);
  os << formatv("<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n", Frame::width, height);
  os << formatv("<text class=\"title\" x=\"{0}\" y=\"30\" text-anchor=\"middle\" "
                "font-size=\"17\" font-weight=\"bold\">{1}</text>\n",
                Frame::width / 2, escapeXML(title));
  double x0 = Frame::left, x1 = Frame::width - 250;
  double y0 = Frame::height - Frame::bottom, y1 = Frame::top - 20;
  auto px = [&](double lx) { return x0 + (lx - f.x.lo) / (f.x.hi - f.x.lo) * (x1 - x0); };
  auto py = [&](double ly) { return y0 - (ly - f.y.lo) / (f.y.hi - f.y.lo) * (y0 - y1); };
  // Grid: each x value of the data; each decade (and 2x, 5x) on y.
  std::vector<double> xs;
  for (const LogLogLine &line : lines)
    for (auto [x, y] : line.points)
      if (x > 0 && !llvm::is_contained(xs, x))
        xs.push_back(x);
  llvm::sort(xs);
  os << "<g class=\"grid\" stroke=\"#e0e0e0\" stroke-width=\"1\">\n";
  for (double x : xs)
    os << formatv("<line x1=\"{0:F1}\" y1=\"{1}\" x2=\"{0:F1}\" y2=\"{2}\"/>\n", px(std::log10(x)),
                  y0, y1);
  for (double d = f.y.lo; d <= f.y.hi + 1e-9; d += 1)
    for (double m : {1.0, 2.0, 5.0}) {
      double ly = d + std::log10(m);
      if (ly > f.y.hi + 1e-9)
        continue;
      os << formatv("<line x1=\"{0}\" y1=\"{1:F1}\" x2=\"{2}\" y2=\"{1:F1}\"{3}/>\n", x0, py(ly),
                    x1, m == 1 ? " stroke=\"#c0c0c0\"" : "");
    }
  os << "</g>\n<g class=\"ticks\" fill=\"#333\">\n";
  for (double x : xs)
    os << formatv("<text x=\"{0:F1}\" y=\"{1}\" text-anchor=\"middle\">{2}</text>\n",
                  px(std::log10(x)), y0 + 20, label(x));
  for (double d = f.y.lo; d <= f.y.hi + 1e-9; d += 1)
    os << formatv("<text x=\"{0}\" y=\"{1:F1}\" text-anchor=\"end\">{2}x</text>\n", x0 - 8,
                  py(d) + 4, label(std::pow(10.0, d)));
  os << "</g>\n";
  os << formatv("<g class=\"axes\" stroke=\"#333\" stroke-width=\"1.5\">"
                "<line x1=\"{0}\" y1=\"{2}\" x2=\"{1}\" y2=\"{2}\"/>"
                "<line x1=\"{0}\" y1=\"{2}\" x2=\"{0}\" y2=\"{3}\"/></g>\n",
                x0, x1, y0, y1);
  os << formatv("<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\">{2} (log scale)</text>\n",
                (x0 + x1) / 2, y0 + 45, escapeXML(xLabel));
  os << formatv("<text x=\"22\" y=\"{0}\" text-anchor=\"middle\" "
                "transform=\"rotate(-90 22 {0})\">relative to the first variant (log scale)"
                "</text>\n",
                (y0 + y1) / 2);
  static const char *colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                 "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  // Lines that coincide (params, FLOPs and checkpoint all grow as width^2)
  // stay visible: the first ones wider, later ones dashed on top.
  static const char *dashes[] = {"", "10 6", "", "", "2 4", "", "8 4", "8 3 2 3"};
  static const double widths[] = {6, 3.5, 3, 2.5, 2.5, 2.5, 2.5, 2};
  os << "<g class=\"lines\">\n";
  for (auto [i, s] : llvm::enumerate(normalized)) {
    const char *color = colors[i % 8];
    os << formatv("<polyline class=\"{0}\" fill=\"none\" stroke=\"{1}\" stroke-width=\"{2}\" "
                  "stroke-opacity=\"0.9\"",
                  escapeXML(lines[i].name), color, widths[i % 8]);
    if (*dashes[i % 8])
      os << " stroke-dasharray=\"" << dashes[i % 8] << "\"";
    os << " points=\"";
    for (auto [j, p] : llvm::enumerate(s))
      os << (j ? " " : "") << formatv("{0:F1},{1:F1}", px(p.first), py(p.second));
    os << "\"/>\n";
    for (auto p : s)
      os << formatv("<circle cx=\"{0:F1}\" cy=\"{1:F1}\" r=\"3.5\" fill=\"{2}\"/>\n", px(p.first),
                    py(p.second), color);
  }
  os << "</g>\n<g class=\"legend\">\n";
  double lx = x1 + 20, ly = y1 + 10;
  for (auto [i, line] : llvm::enumerate(lines)) {
    os << formatv("<line x1=\"{0:F1}\" y1=\"{1:F1}\" x2=\"{2:F1}\" y2=\"{1:F1}\" stroke=\"{3}\" "
                  "stroke-width=\"{5}\"{4}/>",
                  lx, ly, lx + 28, colors[i % 8],
                  *dashes[i % 8] ? std::string(" stroke-dasharray=\"") + dashes[i % 8] + "\""
                                 : std::string(),
                  std::min(widths[i % 8], 4.0));
    os << formatv("<text x=\"{0:F1}\" y=\"{1:F1}\">{2} &#8733; {3}^{4:F2}</text>\n", lx + 36,
                  ly + 4, escapeXML(line.name), escapeXML(xLabel), line.exponent);
    // The values the line runs between.
    if (!line.points.empty())
      os << formatv("<text x=\"{0:F1}\" y=\"{1:F1}\" fill=\"#666\" font-size=\"11\">{2} to "
                    "{3}</text>\n",
                    lx + 36, ly + 19, siLabel(line.points.front().second),
                    siLabel(line.points.back().second));
    ly += 42;
  }
  os << "</g>\n</svg>\n";
  return text;
}
