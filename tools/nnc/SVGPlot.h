//===- SVGPlot.h - Training curves from a metrics file as SVG ---*- C++ -*-===//
//
// Reads the JSON-lines metrics that `nnc train --metrics` writes and draws
// them as one self-contained SVG (no scripts, fonts or other files): the
// training loss against the global step, and per epoch the test loss and
// (on a right-hand axis) the test accuracy.
//
// Records: `{"kind":"step","step":G,"loss":L,...}` per training step and
// `{"kind":"epoch","step":G,"loss":L,"test_loss":T,"test_accuracy":A,...}`
// per epoch (a record without "kind" is an epoch record).
//
//===----------------------------------------------------------------------===//

#ifndef NNC_TOOLS_NNC_SVGPLOT_H
#define NNC_TOOLS_NNC_SVGPLOT_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <utility>
#include <vector>

namespace nnc::plot {

/// One curve: (global step, value) points in file order.
using Series = std::vector<std::pair<double, double>>;

/// The curves of one metrics file.
struct TrainingCurves {
  /// Training loss of every step record.
  Series stepLoss;
  /// Mean training loss of every epoch record (drawn when there are no step
  /// records).
  Series epochLoss;
  /// Test loss and accuracy (0..1) of the epoch records that have them.
  Series testLoss, testAccuracy;
};

/// Reads a metrics file; the error names the file and line.
llvm::Expected<TrainingCurves> readMetrics(llvm::StringRef path);

/// An axis range with "nice" tick marks (1, 2 or 5 times a power of ten).
struct Axis {
  double lo = 0, hi = 1, tick = 0.2;

  /// The range covering [lo, hi] with 4 to 8 ticks that wastes the least
  /// space.
  static Axis fit(double lo, double hi);
  /// The tick values from lo to hi.
  llvm::SmallVector<double> ticks() const;
};

/// Escapes text for an SVG text node or attribute.
std::string escapeXML(llvm::StringRef text);

/// The SVG document of `curves` with `title` on top.
std::string renderSVG(const TrainingCurves &curves, llvm::StringRef title);

/// One quantity of `nnc scale` against a hyperparameter, with its fitted
/// growth exponent.
struct LogLogLine {
  std::string name;
  double exponent = 0;
  Series points;
};

/// The SVG document of `lines` on log-log axes, each normalized to its
/// first point (so every line starts at 1 and its slope is its exponent),
/// with the exponents in the legend; `xLabel` names the x axis.
std::string renderLogLogSVG(llvm::ArrayRef<LogLogLine> lines, llvm::StringRef title,
                            llvm::StringRef xLabel);

} // namespace nnc::plot

#endif // NNC_TOOLS_NNC_SVGPLOT_H
