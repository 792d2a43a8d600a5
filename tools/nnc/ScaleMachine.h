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

/// FLOP/s of one library operation over its two channel dimensions (a
/// convolution's implicit GEMM inner size, input channels per group x
/// kernel height x width, and output channels; a GEMM's inner and output
/// widths), measured at a grid of values; read between
/// them by bilinear interpolation in log2 space, clamped at the edges.
struct RateTable {
  std::vector<int64_t> ins, outs;
  std::vector<double> rates; // [i * outs.size() + j]
  double at(int64_t in, int64_t out) const;
};

/// The library's throughput in one precision (f32, or the bf16/f16 mixed
/// precision kernels that convert f32 operands at each call).
struct LibraryRates {
  RateTable convFwd, convBwd, convBwdWeights, gemmFwd, gemmBwd;
};

/// The machine model --measure calibrates, at the thread count it measures
/// with.
struct Machine {
  int threads = 1;
  /// f32; bf16 and f16 calibrated when a variant computes in them.
  LibraryRates f32;
  std::optional<LibraryRates> bf16, f16;
  /// Per recurrent layer kind (lstm, gru, rnn): its time over the GEMM
  /// table's prediction of its FLOPs, calibrated on a model of one such
  /// layer when a variant has one (the recurrent GEMMs are small and
  /// sequential, and the gates run between them).
  std::map<std::string, double> recurrentFactor;
  /// Bytes/s a generated kernel moves (read + written): a compiled relu +
  /// maxpool kernel over 4 MiB.
  double bandwidth = 0;
  /// Seconds a library call costs beyond its FLOPs (a tiny call).
  double callOverhead = 0;
};

/// The library layers of a variant, by layer name: what the machine model
/// needs to pick a rate.
struct LibraryLayer {
  enum Kind { Conv, Linear, Recurrent } kind = Linear;
  /// Conv: input channels per group x kernel size, output channels;
  /// linear: in, out;
  /// recurrent: the per-timestep GEMM's inner (input + hidden) and output
  /// (gates x hidden) widths.
  int64_t in = 0, out = 0;
  /// The weight bytes (a backward call writing little more computes no
  /// input gradient).
  int64_t weightBytes = 0;
  /// Recurrent: `lstm`, `gru` or `rnn`.
  std::string op = {};
};
using LibraryLayers = std::map<std::string, LibraryLayer>;

/// The clock of --measure, in seconds: with one kernel thread, the CPU time
/// of the process (on an idle machine the wall time; on a shared one it
/// leaves out the time spent waiting for a CPU, which is not the model's);
/// with more threads, the wall time (their CPU times add up).
double clockSeconds();

/// Seconds per call of `fn` on clockSeconds: the best of 5 rounds of enough
/// calls to take ~20 ms.
double secondsPerCall(llvm::function_ref<void()> fn);

/// The library's rates in `precision` (NNC_PRECISION_*, runtime/Kernels.h).
LibraryRates calibrateRates(int32_t precision);

/// Calibrates the machine at the current kernel threads: the f32 rates, the
/// cost of a tiny call, and the generated-kernel bandwidth (a model built
/// with `model`'s options, which are restored); bandwidth 0 after reporting.
Machine calibrate(ModelOptions &model);

/// The predicted seconds of one training step of the variant whose kernels
/// (of @train_step), layer costs and library layers are given, computing in
/// `precision` ("", "bf16", "f16"); in `recurrentSeconds`, the part of it
/// that is recurrent layers.
double predictSeconds(const Machine &machine, llvm::ArrayRef<nnc::EntryKernels> kernels,
                      llvm::ArrayRef<nnc::LayerReport> layers, const LibraryLayers &library,
                      llvm::StringRef precision, double *recurrentSeconds = nullptr);

} // namespace nnc::driver

#endif // NNC_TOOLS_NNC_SCALEMACHINE_H
