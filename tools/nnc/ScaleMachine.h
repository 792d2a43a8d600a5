//===- ScaleMachine.h - The machine model of nnc scale --measure -*- C++ -*-===//
//
// The calibrated machine model that predicts a training step's time from
// its plan (docs/scale.md "Measured and predicted step time"): the
// library's throughput over a grid of channel counts, the bandwidth of a
// generated kernel and the cost of a library call, measured on this machine.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_TOOLS_NNC_SCALEMACHINE_H
#define NNC_TOOLS_NNC_SCALEMACHINE_H

#include "tools/nnc/Driver.h"

#include "codegen/KernelReport.h"
#include "passes/ModelReport.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nnc::driver {

/// The library layers of a variant, by layer name: the shapes of their
/// library calls.
struct LibraryLayer {
  enum Kind { Conv, Linear, Recurrent } kind = Linear;
  /// Conv: input [batch, c, h, w] -> o channels, kernel kh x kw, stride,
  /// padding, dilation, groups.
  int64_t c = 0, h = 0, w = 0, o = 0, kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1,
          dw = 1, groups = 1;
  /// Linear: rows per sample (the input's dimensions between the batch and
  /// the last), in, out; recurrent: the per-timestep GEMM's inner (input +
  /// hidden) and output (gates x hidden) widths, one row per sample.
  int64_t rows = 1, in = 0, out = 0;
  /// The weight bytes (a backward call writing little more computes no
  /// input gradient).
  int64_t weightBytes = 0;
  /// Recurrent: `lstm`, `gru` or `rnn`, its input [batch, steps, features]
  /// and attributes, and `shape`, the text naming all of them (the key of
  /// its calibrated factor).
  std::string op = {};
  int64_t steps = 0, features = 0, hidden = 0, layers = 1;
  bool bidirectional = false, sequences = false;
  std::string nonlinearity = {}, shape = {};
};
using LibraryLayers = std::map<std::string, LibraryLayer>;

/// One library call timed at its shape.
struct TimedCall {
  std::string what; ///< e.g. "conv2d backward (weights) 64x1x28x28 -> 6, 5x5, bf16"
  double flops = 0; ///< per call
  double seconds = 0;
};

/// The machine model --measure calibrates, at the thread count it measures
/// with.
struct Machine {
  int threads = 1;
  /// Seconds per library call, timed in isolation at each shape a variant
  /// calls (memoized by the call's precision, kind and shape): oneDNN's rate
  /// jumps between nearby shapes (channels around the vector width, bf16
  /// below 16 output channels, the batch past the caches), so no small grid
  /// of shapes predicts it.
  std::map<std::vector<int64_t>, TimedCall> calls;
  /// Per recurrent layer shape (LibraryLayer::shape): its time over its
  /// per-timestep GEMMs' time, calibrated on a model of one such layer when
  /// a variant has one (the recurrent GEMMs are small and sequential, the
  /// generated gate kernels run between them, and the saved gates of a long
  /// sequence leave the caches).
  std::map<std::string, double> recurrentFactor;
  /// Bytes/s a generated kernel moves (read + written): a compiled relu +
  /// maxpool kernel over 4 MiB (5 MiB moved), and over 256 KiB (320 KiB,
  /// in the caches).
  double bandwidth = 0, cachedBandwidth = 0;
  /// The bandwidth of a kernel moving `bytes`: the cached one up to 320
  /// KiB, the 5 MiB one from 5 MiB, interpolated in log-log between.
  double bandwidthAt(double bytes) const;
  /// Seconds a library call costs beyond its work (a tiny call).
  double callOverhead = 0;
};

/// The clock of --measure, in seconds: with one kernel thread, the CPU time
/// of the process (on an idle machine the wall time; on a shared one it
/// leaves out the time spent waiting for a CPU, which is not the model's);
/// with more threads, the wall time (their CPU times add up).
double clockSeconds();

/// Seconds per call of `fn` on clockSeconds: the best of 5 rounds of enough
/// calls to take ~20 ms.
double secondsPerCall(llvm::function_ref<void()> fn);

/// Calibrates the machine at the current kernel threads: the cost of a tiny
/// call and the generated-kernel bandwidth (models built with `model`'s
/// options, which are restored); bandwidth 0 after reporting. Library calls
/// are timed when a prediction needs them.
Machine calibrate(ModelOptions &model);

/// The predicted seconds of one training step at `batch` of the variant
/// whose kernels (of @train_step), layer costs and library layers are given,
/// computing in `precision` ("", "bf16", "f16"); times the library calls it
/// has not timed yet. In `recurrentSeconds`, the part of it that is
/// recurrent layers.
double predictSeconds(Machine &machine, llvm::ArrayRef<nnc::EntryKernels> kernels,
                      llvm::ArrayRef<nnc::LayerReport> layers, const LibraryLayers &library,
                      llvm::StringRef precision, int64_t batch, double *recurrentSeconds = nullptr);

} // namespace nnc::driver

#endif // NNC_TOOLS_NNC_SCALEMACHINE_H
