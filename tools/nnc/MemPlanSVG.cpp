//===- MemPlanSVG.cpp - A model's memory plan as an SVG chart -------------===//

#include "tools/nnc/MemPlanSVG.h"
#include "tools/nnc/SVGPlot.h"

#include "passes/ModelReport.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

using namespace llvm;
using nnc::EntryPlan;
using nnc::MemoryPlan;
using nnc::PlannedBuffer;
using nnc::plot::Axis;
using nnc::plot::escapeXML;

namespace {

struct KindStyle {
  StringRef kind, label, color;
};

/// Buffer kinds first (legend order), then the persistent regions'.
constexpr KindStyle kStyles[] = {
    {"activation", "saved activation", "#4e79a7"},
    {"gradient", "gradient", "#e15759"},
    {"temporary", "temporary", "#f28e2b"},
    {"scratch", "library scratch", "#9d9d9d"},
    {"output", "output", "#b07aa1"},
    {"param", "parameter", "#8c6d31"},
    {"state", "optimizer state", "#d37295"},
    {"buffer", "running statistic", "#bab0ac"},
    {"input", "input", "#76b7b2"},
};

const KindStyle &styleOf(StringRef kind) {
  for (const KindStyle &s : kStyles)
    if (s.kind == kind)
      return s;
  static const KindStyle other{"", "other", "#555555"};
  return other;
}

/// A byte unit for axis labels: the largest binary unit not above `bytes`.
std::pair<double, StringRef> unitFor(int64_t bytes) {
  if (bytes >= (int64_t(1) << 30))
    return {double(int64_t(1) << 30), "GiB"};
  if (bytes >= (1 << 20))
    return {double(1 << 20), "MiB"};
  if (bytes >= (1 << 10))
    return {1024.0, "KiB"};
  return {1.0, "B"};
}

/// `bytes` in a binary unit, three significant digits: "5.50 MiB".
std::string shortBytes(int64_t bytes) {
  auto [scale, unit] = unitFor(bytes);
  char text[32];
  std::snprintf(text, sizeof(text), "%.3g %s", double(bytes) / scale, unit.str().c_str());
  return text;
}

/// `text` cut to `n` characters with an ellipsis.
std::string clip(StringRef text, size_t n) {
  if (text.size() <= n)
    return text.str();
  return (text.take_front(n - 1) + "\xE2\x80\xA6").str();
}

} // namespace

StringRef nnc::plot::kindLabel(StringRef kind) {
  const KindStyle &s = styleOf(kind);
  return s.kind.empty() ? kind : s.label;
}

std::string nnc::plot::renderMemPlanSVG(const MemoryPlan &plan, const EntryPlan &entry,
                                        StringRef title) {
  const int64_t steps = std::max<int64_t>(1, int64_t(entry.steps.size()));
  // At least 4 px per step, at most 36, about 1200 px in all.
  const double stepWidth = std::clamp(1200.0 / double(steps), 4.0, 36.0);
  const double left = 90, right = 150, top = 118, plotHeight = 560, band = 44, bottom = 190;
  const double plotWidth = stepWidth * double(steps);
  const double width = std::max(left + plotWidth + right, 900.0);
  const double height = top + plotHeight + band + bottom;
  const double plotBottom = top + plotHeight; // the band lies below it

  // Vertically: the placed buffers from the end of the persistent regions
  // (`base`) up to the planned arena; the regions are the band.
  int64_t base = plan.persistentBytes;
  for (const PlannedBuffer &b : entry.buffers)
    base = std::min(base, b.offset);
  const int64_t topBytes = std::max(entry.planned, base + 1);
  auto [scaleFound, unitFound] = unitFor(topBytes - base);
  const double scale = scaleFound;
  const StringRef unit = unitFound;
  // The axis spans exactly the placed bytes (and a little headroom), with
  // ticks at a nice step that gives 5 to 10 of them.
  const double lo = double(base) / scale, hi = double(topBytes) / scale * 1.02 + 1e-9;
  double tick = Axis::fit(0, (hi - lo) / 2).tick;
  auto py = [&](double bytes) {
    double v = bytes / scale;
    return plotBottom - (v - lo) / (hi - lo) * plotHeight;
  };
  auto px = [&](double step) { return left + step * stepWidth; };

  std::string text;
  raw_string_ostream os(text);
  os << formatv("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:F0}\" height=\"{1:F0}\" "
                "viewBox=\"0 0 {0:F0} {1:F0}\" font-family=\"DejaVu Sans, Helvetica, Arial, "
                "sans-serif\" font-size=\"12\">\n",
                width, height);
  os << formatv("<rect width=\"{0:F0}\" height=\"{1:F0}\" fill=\"white\"/>\n", width, height);
  os << formatv("<text class=\"title\" x=\"{0:F0}\" y=\"28\" text-anchor=\"middle\" "
                "font-size=\"18\" font-weight=\"bold\">{1}</text>\n",
                width / 2, escapeXML(title));
  double ratio = entry.lowerBound ? double(entry.planned) / double(entry.lowerBound) : 1;
  os << formatv("<text class=\"subtitle\" x=\"{0:F0}\" y=\"50\" text-anchor=\"middle\">"
                "planned {1} = {2:F3} x lower bound {3}; naive {4}; {5} buffers; placement: "
                "{6}</text>\n",
                width / 2, shortBytes(entry.planned), ratio, shortBytes(entry.lowerBound),
                shortBytes(entry.naive), entry.buffers.size(), escapeXML(entry.heuristic));

  // The legend: the kinds present, one row.
  StringMap<int64_t> kindBytes;
  for (const PlannedBuffer &b : entry.buffers)
    kindBytes[b.kind] += b.bytes;
  SmallVector<const KindStyle *> legend;
  for (const KindStyle &s : kStyles)
    if (kindBytes.count(s.kind))
      legend.push_back(&s);
  double lx = left, ly = 74;
  os << "<g class=\"legend\">\n";
  for (const KindStyle *s : legend) {
    os << formatv("<rect x=\"{0:F1}\" y=\"{1}\" width=\"14\" height=\"14\" fill=\"{2}\"/>"
                  "<text x=\"{3:F1}\" y=\"{4}\">{5}</text>\n",
                  lx, ly - 11, s->color, lx + 19, ly, s->label);
    lx += 19 + 7.2 * double(s->label.size()) + 18;
  }
  bool anyInPlace = llvm::any_of(entry.buffers, [](auto &b) { return b.inPlaceOf >= 0; });
  if (anyInPlace)
    os << formatv("<rect x=\"{0:F1}\" y=\"{1}\" width=\"14\" height=\"14\" fill=\"white\" "
                  "stroke=\"black\" stroke-dasharray=\"3 2\"/><text x=\"{2:F1}\" y=\"{3}\">"
                  "in place of its input</text>\n",
                  lx, ly - 11, lx + 19, ly);
  os << "</g>\n";

  // Grid and y ticks.
  os << "<g class=\"ticks\" fill=\"#333\">\n";
  for (double t = std::ceil(lo / tick) * tick; t <= hi; t += tick) {
    double y = py(t * scale);
    os << formatv("<line x1=\"{0}\" y1=\"{1:F1}\" x2=\"{2:F1}\" y2=\"{1:F1}\" "
                  "stroke=\"#e6e6e6\"/>",
                  left, y, left + plotWidth);
    char label[32];
    std::snprintf(label, sizeof(label), "%.4g %s", t, unit.str().c_str());
    os << formatv("<text x=\"{0}\" y=\"{1:F1}\" text-anchor=\"end\">{2}</text>\n", left - 6, y + 4,
                  label);
  }
  os << "</g>\n";
  os << formatv("<text x=\"18\" y=\"{0:F0}\" text-anchor=\"middle\" "
                "transform=\"rotate(-90 18 {0:F0})\">arena offset</text>\n",
                top + plotHeight / 2);

  // The buffers.
  struct Label {
    double x0, x1, y, height;
    size_t index;
  };
  std::vector<Label> labels;
  os << "<g class=\"buffers\">\n";
  for (auto [i, b] : llvm::enumerate(entry.buffers)) {
    const KindStyle &s = styleOf(b.kind);
    double x0 = px(double(b.first)), x1 = px(double(b.last + 1));
    double y0 = py(double(b.offset + b.bytes)), y1 = py(double(b.offset));
    // A tiny buffer stays visible.
    double h = std::max(y1 - y0, 1.5);
    auto stepName = [&](int64_t k) {
      return k >= 0 && k < int64_t(entry.steps.size()) ? entry.steps[k] : std::string("?");
    };
    std::string tip = formatv("#{0} {1}, layer {2}, made by {3}: {4} B at offset {5}; live "
                              "k{6} {7} .. k{8} {9}",
                              i, s.kind.empty() ? b.kind : s.label.str(), b.layer, b.step,
                              nnc::formatCount(b.bytes), nnc::formatCount(b.offset), b.first,
                              stepName(b.first), b.last, stepName(b.last))
                          .str();
    if (b.inPlaceOf >= 0)
      tip += formatv("; in place of #{0}", b.inPlaceOf).str();
    os << formatv("<rect class=\"buffer\" x=\"{0:F2}\" y=\"{1:F2}\" width=\"{2:F2}\" "
                  "height=\"{3:F2}\" fill=\"{4}\" stroke=\"{5}\" stroke-width=\"{6}\"{7}>"
                  "<title>{8}</title></rect>\n",
                  x0, y1 - h, x1 - x0, h, s.color, b.inPlaceOf >= 0 ? "black" : "white",
                  b.inPlaceOf >= 0 ? "1" : "0.5",
                  b.inPlaceOf >= 0 ? " stroke-dasharray=\"3 2\"" : "", escapeXML(tip));
    labels.push_back({x0, x1, y1 - h, h, i});
  }
  os << "</g>\n";
  // The layers, where they fit, above every rect: a buffer overwritten in
  // place shares its last step with its successor, so its label keeps off
  // that step.
  std::vector<bool> overwritten(entry.buffers.size(), false);
  for (const PlannedBuffer &b : entry.buffers)
    if (b.inPlaceOf >= 0 && size_t(b.inPlaceOf) < overwritten.size())
      overwritten[b.inPlaceOf] = true;
  os << "<g class=\"labels\" font-size=\"10\" fill=\"white\" text-anchor=\"middle\">\n";
  for (const Label &l : labels) {
    const PlannedBuffer &b = entry.buffers[l.index];
    double x1 = overwritten[l.index] ? l.x1 - stepWidth : l.x1;
    std::string layer = clip(b.layer, 24);
    double textWidth = 6.2 * double(layer.size()) + 4;
    if (!layer.empty() && x1 - l.x0 >= textWidth && l.height >= 12)
      os << formatv("<text x=\"{0:F1}\" y=\"{1:F1}\">{2}</text>\n", (l.x0 + x1) / 2,
                    l.y + l.height / 2 + 3.5, escapeXML(layer));
  }
  os << "</g>\n";

  // The persistent regions: one band, a part per kind in proportion to its
  // bytes, each region a rect with its tooltip.
  os << "<g class=\"regions\">\n";
  StringMap<int64_t> regionBytes;
  for (const PlannedBuffer &r : plan.regions)
    regionBytes[r.kind] += r.bytes;
  int64_t persistent = 0;
  for (const PlannedBuffer &r : plan.regions)
    persistent += r.bytes;
  double bandTop = plotBottom + 4, bandWidth = plotWidth;
  double rx = left;
  for (const KindStyle &s : kStyles) {
    auto it = regionBytes.find(s.kind);
    if (it == regionBytes.end() || persistent == 0)
      continue;
    double w = bandWidth * double(it->second) / double(persistent);
    int64_t count = llvm::count_if(plan.regions, [&](auto &r) { return r.kind == s.kind; });
    std::string tip =
        formatv("{0}: {1} region(s), {2} B", s.label, count, nnc::formatCount(it->second)).str();
    os << formatv("<rect class=\"region\" x=\"{0:F2}\" y=\"{1:F1}\" width=\"{2:F2}\" "
                  "height=\"{3}\" fill=\"{4}\" stroke=\"white\" stroke-width=\"0.5\">"
                  "<title>{5}</title></rect>\n",
                  rx, bandTop, w, band - 8, s.color, escapeXML(tip));
    std::string label = (s.label + " " + shortBytes(it->second)).str();
    if (w >= 6.2 * double(label.size()) + 6)
      os << formatv("<text x=\"{0:F1}\" y=\"{1:F1}\" font-size=\"11\" text-anchor=\"middle\" "
                    "fill=\"white\">{2}</text>\n",
                    rx + w / 2, bandTop + (band - 8) / 2 + 4, escapeXML(label));
    rx += w;
  }
  os << formatv("<text x=\"{0}\" y=\"{1:F1}\" text-anchor=\"end\" font-size=\"11\">"
                "persistent</text><text x=\"{0}\" y=\"{2:F1}\" text-anchor=\"end\" "
                "font-size=\"11\">{3}</text>\n",
                left - 6, bandTop + 14, bandTop + 28, shortBytes(base));
  os << "</g>\n";

  // Axes.
  os << formatv("<g class=\"axes\" stroke=\"#333\" stroke-width=\"1.2\">"
                "<line x1=\"{0}\" y1=\"{1:F1}\" x2=\"{2:F1}\" y2=\"{1:F1}\"/>"
                "<line x1=\"{0}\" y1=\"{1:F1}\" x2=\"{0}\" y2=\"{3}\"/></g>\n",
                left, plotBottom, left + plotWidth, top);

  // The lower bound and the planned arena.
  auto level = [&](int64_t bytes, StringRef cls, StringRef color, StringRef what, double dy) {
    double y = py(double(bytes));
    os << formatv("<line class=\"{0}\" x1=\"{1}\" y1=\"{2:F1}\" x2=\"{3:F1}\" y2=\"{2:F1}\" "
                  "stroke=\"{4}\" stroke-width=\"1.5\" stroke-dasharray=\"7 4\"/>"
                  "<text x=\"{5:F1}\" y=\"{6:F1}\" fill=\"{4}\">{7} {8}</text>\n",
                  cls, left, y, left + plotWidth, color, left + plotWidth + 6, y + dy, what,
                  shortBytes(bytes));
  };
  // Labels apart when the two lines are close.
  bool close = std::abs(py(double(entry.planned)) - py(double(entry.lowerBound))) < 14;
  level(entry.planned, "planned", "#000000", "planned", close ? -3 : 4);
  level(entry.lowerBound, "lower-bound", "#c00000", "lower bound", close ? 12 : 4);

  // Step names under the x axis, every n-th where they would crowd.
  int64_t every = std::max<int64_t>(1, int64_t(std::ceil(13.0 / stepWidth)));
  os << "<g class=\"steps\" font-size=\"10\" fill=\"#333\">\n";
  double labelsTop = plotBottom + band + 8;
  for (int64_t k = 0; k < int64_t(entry.steps.size()); k += every) {
    double x = px(double(k) + 0.5);
    os << formatv("<line x1=\"{0:F1}\" y1=\"{1:F1}\" x2=\"{0:F1}\" y2=\"{2:F1}\" "
                  "stroke=\"#999\"/>",
                  x, plotBottom, plotBottom + 4);
    std::string name = clip(("s" + Twine(k) + " " + entry.steps[k]).str(), 30);
    os << formatv("<text x=\"{0:F1}\" y=\"{1:F1}\" text-anchor=\"end\" "
                  "transform=\"rotate(-60 {0:F1} {1:F1})\">{2}</text>\n",
                  x + 3, labelsTop, escapeXML(name));
  }
  os << "</g>\n";
  os << formatv("<text x=\"{0:F1}\" y=\"{1:F0}\" text-anchor=\"middle\">step (kernels and "
                "library calls in order{2})</text>\n",
                left + plotWidth / 2, height - 10,
                every > 1 ? formatv("; one in {0} named", every).str() : std::string());
  os << "</svg>\n";
  return text;
}
