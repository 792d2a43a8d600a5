//===- Plot.cpp - nnc plot: draw a metrics file as an SVG chart -----------===//
//
//   nnc plot metrics.jsonl [-o loss.svg]
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"
#include "tools/nnc/SVGPlot.h"

#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand plotCmd("plot", "Draw the loss and accuracy curves of a --metrics file "
                               "as an SVG chart");

cl::opt<std::string> metricsPath(cl::Positional, cl::desc("<metrics.jsonl>"),
                                 cl::sub(plotCmd), cl::cat(category()));
cl::opt<std::string> outputFilename("o",
                                    cl::desc("The SVG file to write (default: the metrics "
                                             "file's name with .svg, here; - for stdout)"),
                                    cl::value_desc("file.svg"), cl::sub(plotCmd),
                                    cl::cat(category()));
} // namespace

int nnc::driver::writePlot(StringRef metrics, StringRef output, StringRef name) {
  Expected<nnc::plot::TrainingCurves> curves = nnc::plot::readMetrics(metrics);
  if (!curves)
    return fail(toString(curves.takeError()));
  return writeOutput(output, nnc::plot::renderSVG(*curves, ("nnc training: " + name).str()));
}

static int runPlot() {
  if (metricsPath.empty())
    return fail("nnc plot needs a metrics file (written by nnc train --metrics FILE)");
  std::string output = outputFilename;
  if (!outputFilename.getNumOccurrences())
    output = (sys::path::stem(metricsPath) + ".svg").str();
  if (int rc = writePlot(metricsPath, output, sys::path::filename(metricsPath)))
    return rc;
  if (output != "-")
    errs() << "nnc: wrote " << output << "\n";
  return 0;
}

static Command registration(plotCmd, runPlot);
