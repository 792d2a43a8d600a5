//===- MemPlan.cpp - nnc memplan: the arena plan, buffer by buffer --------===//
//
//   nnc memplan model.nn [--batch N] [--train] [--entry NAME|all]
//               [--format table|json] [--regions] [--svg plan.svg] [-o FILE]
//               [--model NAME] [-D name=value] [--no-fuse] [optimizer flags]
//               [--memory-budget BYTES]
//
// Prints the plan -nn-plan-memory makes for the artifact (codegen/
// MemoryPlan.h) as a table or JSON, and draws it as SVG (MemPlanSVG.cpp).
// docs/memplan.md describes both formats.
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"
#include "tools/nnc/MemPlanSVG.h"

#include "codegen/CPUPipeline.h"
#include "codegen/MemoryBudget.h"
#include "passes/ModelReport.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand memplanCmd("memplan", "Print the arena plan: every buffer with its kind, "
                                     "layer, bytes, offset and live range");

ModelOptions model(memplanCmd);
DeviceOptions device(memplanCmd, /*withArch=*/false);
OptimizerOptions optimizer(memplanCmd);
MemoryBudgetOption memoryBudget(memplanCmd);
cl::opt<std::string> outputFilename("o", cl::desc("Output file (default: stdout)"),
                                    cl::value_desc("file"), cl::init("-"), cl::sub(memplanCmd),
                                    cl::cat(category()));
cl::opt<bool> withTraining("train", cl::desc("Include @train_step (autodiff + optimizer update)"),
                           cl::sub(memplanCmd), cl::cat(category()));
cl::opt<std::string> entryName("entry",
                               cl::desc("The entry point to show: forward, loss, train_step or "
                                        "all (default: train_step with --train, else forward)"),
                               cl::value_desc("name"), cl::sub(memplanCmd), cl::cat(category()));
enum class Format { Table, JSON };
cl::opt<Format> planFormat("format", cl::desc("Output format"), cl::init(Format::Table),
                           cl::values(clEnumValN(Format::Table, "table", "a table"),
                                      clEnumValN(Format::JSON, "json", "JSON")),
                           cl::sub(memplanCmd), cl::cat(category()));
cl::opt<bool> listRegions("regions",
                          cl::desc("List every persistent region (default: one row per kind; "
                                   "the JSON always lists them)"),
                          cl::sub(memplanCmd), cl::cat(category()));
cl::opt<std::string> svgFilename("svg",
                                 cl::desc("Also draw the plan of the (largest) entry shown "
                                          "as an SVG chart"),
                                 cl::value_desc("plan.svg"), cl::sub(memplanCmd),
                                 cl::cat(category()));
} // namespace

using nnc::EntryPlan;
using nnc::formatBytes;
using nnc::formatCount;
using nnc::MemoryPlan;
using nnc::PlannedBuffer;
using nnc::plot::kindLabel;

/// Bytes by kind of the buffers live at `step` (shared bytes once), and
/// their total.
static std::pair<StringMap<int64_t>, int64_t> liveAt(const EntryPlan &e, int64_t step) {
  StringMap<int64_t> byKind = nnc::liveBytesAt(e, step);
  int64_t total = nnc::totalBytes(byKind);
  return {std::move(byKind), total};
}

/// (planned - lower bound) / planned: the share of the arena no plan needs.
static double fragmentation(const EntryPlan &e) {
  return e.planned ? double(e.planned - e.lowerBound) / double(e.planned) : 0;
}

static double ratio(const EntryPlan &e) {
  return e.lowerBound ? double(e.planned) / double(e.lowerBound) : 1;
}

/// `k<i> <name>` of step i.
static std::string stepLabel(const EntryPlan &e, int64_t i) {
  return "s" + std::to_string(i) + " " +
         (i >= 0 && i < int64_t(e.steps.size()) ? e.steps[i] : std::string("?"));
}

/// Whether the entry updates parameters (a training step): its optimizer
/// updates write the parameter and state regions in place.
static bool updatesInPlace(const EntryPlan &e) {
  return llvm::any_of(e.steps, [](const std::string &s) {
    return StringRef(s).contains("update") || StringRef(s).contains("param_assign");
  });
}

static std::string pad(StringRef s, size_t width, bool right = false) {
  if (s.size() >= width)
    return s.str();
  std::string fill(width - s.size(), ' ');
  return right ? fill + s.str() : s.str() + fill;
}

static void printRegions(const MemoryPlan &plan, raw_ostream &os) {
  os << "persistent regions (" << formatBytes(plan.persistentBytes) << ", live in every entry):\n";
  if (listRegions) {
    os << "  " << pad("kind", 18) << pad("name", 34) << pad("bytes", 14, true)
       << pad("offset", 14, true) << "\n";
    for (const PlannedBuffer &r : plan.regions)
      os << "  " << pad(kindLabel(r.kind), 18) << pad(r.name, 34)
         << pad(formatCount(r.bytes), 14, true) << pad(formatCount(r.offset), 14, true) << "\n";
    return;
  }
  // One row per kind, in layout order of first appearance.
  SmallVector<std::string> kinds;
  for (const PlannedBuffer &r : plan.regions)
    if (!llvm::is_contained(kinds, r.kind))
      kinds.push_back(r.kind);
  for (const std::string &kind : kinds) {
    int64_t count = 0, bytes = 0, lo = INT64_MAX, hi = 0;
    for (const PlannedBuffer &r : plan.regions)
      if (r.kind == kind) {
        ++count;
        bytes += r.bytes;
        lo = std::min(lo, r.offset);
        hi = std::max(hi, r.offset + r.bytes);
      }
    os << "  " << pad(kindLabel(kind), 18) << pad(formatv("{0} region(s)", count).str(), 14)
       << pad(formatBytes(bytes), 28) << " within " << formatCount(lo) << ".." << formatCount(hi)
       << "\n";
  }
  os << "  (--regions lists each)\n";
}

static void printEntryTable(const EntryPlan &e, raw_ostream &os) {
  os << "entry " << e.entry << ": " << e.steps.size() << " steps, " << e.buffers.size()
     << " buffers, placement: " << e.heuristic << "\n";
  os << "  " << pad("#", 5, true) << "  " << pad("kind", 17) << pad("layer", 22)
     << pad("bytes", 13, true) << pad("offset", 14, true) << "  live (first .. last step; made by)"
     << "\n";
  for (auto [i, b] : llvm::enumerate(e.buffers)) {
    std::string live = stepLabel(e, b.first);
    if (b.last != b.first)
      live += " .. " + stepLabel(e, b.last);
    // The step that allocates it, where it is not the first step named.
    if (!b.step.empty() && (b.first >= int64_t(e.steps.size()) || e.steps[b.first] != b.step))
      live += "; made by " + b.step;
    if (b.inPlaceOf >= 0)
      live += "; in place of #" + std::to_string(b.inPlaceOf);
    os << "  " << pad(std::to_string(i), 5, true) << "  " << pad(kindLabel(b.kind), 17)
       << pad(b.layer, 22) << pad(formatCount(b.bytes), 13, true)
       << pad(formatCount(b.offset), 14, true) << "  " << live << "\n";
  }
  int64_t inPlace = llvm::count_if(e.buffers, [](auto &b) { return b.inPlaceOf >= 0; });
  os << "totals (each including the persistent regions):\n";
  os << "  naive (no reuse):      " << formatBytes(e.naive) << "\n";
  os << "  planned arena:         " << formatBytes(e.planned) << "\n";
  os << "  lower bound:           " << formatBytes(e.lowerBound)
     << " (the most bytes live at once)\n";
  os << formatv("  planned / lower bound: {0:F3}\n", ratio(e));
  os << formatv("  fragmentation:         {0:F1}% ((planned - lower bound) / planned)\n",
                100 * fragmentation(e));
  int64_t peak = nnc::peakStep(e);
  auto [byKind, total] = liveAt(e, peak);
  os << "  peak of the placed buffers at " << stepLabel(e, peak) << ": " << formatBytes(total);
  std::string sep = " = ";
  for (StringRef kind : {"activation", "gradient", "temporary", "scratch", "output"})
    if (byKind.count(kind)) {
      os << sep << kindLabel(kind) << " " << formatCount(byKind[kind]);
      sep = " + ";
    }
  os << "\n";
  os << "  in place: " << inPlace << " buffer(s) overwrite an input that dies there";
  if (updatesInPlace(e))
    os << "; the optimizer updates the parameter and state regions in place";
  os << "\n";
}

static json::Object bufferToJSON(const EntryPlan &e, size_t i, const PlannedBuffer &b) {
  json::Object o{{"index", int64_t(i)},
                 {"kind", b.kind},
                 {"layer", b.layer},
                 {"step", b.step},
                 {"bytes", b.bytes},
                 {"offset", b.offset},
                 {"first", b.first},
                 {"last", b.last},
                 {"first_step", stepLabel(e, b.first)},
                 {"last_step", stepLabel(e, b.last)}};
  if (b.inPlaceOf >= 0)
    o["in_place_of"] = b.inPlaceOf;
  return o;
}

static json::Object entryToJSON(const EntryPlan &e) {
  json::Array steps, buffers;
  for (const std::string &s : e.steps)
    steps.push_back(s);
  for (auto [i, b] : llvm::enumerate(e.buffers))
    buffers.push_back(bufferToJSON(e, i, b));
  int64_t peak = nnc::peakStep(e);
  auto [byKind, total] = liveAt(e, peak);
  json::Object kinds;
  for (auto &kv : byKind)
    kinds[kv.getKey().str()] = kv.getValue();
  return json::Object{
      {"entry", e.entry},
      {"heuristic", e.heuristic},
      {"steps", std::move(steps)},
      {"buffers", std::move(buffers)},
      {"naive", e.naive},
      {"planned", e.planned},
      {"lower_bound", e.lowerBound},
      {"ratio", ratio(e)},
      {"fragmentation", fragmentation(e)},
      {"in_place", int64_t(llvm::count_if(e.buffers, [](auto &b) { return b.inPlaceOf >= 0; }))},
      {"optimizer_updates_in_place", updatesInPlace(e)},
      {"peak", json::Object{{"step", peak},
                            {"name", stepLabel(e, peak)},
                            {"bytes", total},
                            {"by_kind", std::move(kinds)}}}};
}

/// Prints the plan of every model to `os` (and draws --svg); returns the
/// exit status.
static int printPlans(Session &session, raw_ostream &os) {
  std::vector<nnc::ModelGraph> graphs;
  mlir::OwningOpRef<mlir::ModuleOp> module = session.lowerToNN(&graphs);
  if (!module)
    return 1;
  if (withTraining && failed(session.addTrainStep(*module, optimizer)))
    return 1;
  std::string wanted =
      entryName.empty() ? (withTraining ? "train_step" : "forward") : std::string(entryName);
  json::Array jsonPlans;
  std::string svg;
  unsigned index = 0;
  for (auto [m, graph] : modelsOf(*module, graphs)) {
    if (failed(session.specializeBatch(m, *graph)))
      return 1;
    // --memory-budget: the plan of the training step that recomputes what
    // the budget needs (docs/training.md).
    if (std::optional<int64_t> budget = memoryBudget.value()) {
      mlir::FailureOr<nnc::RecomputePlan> recompute =
          nnc::planMemoryBudget(m, *budget, /*checkNumerics=*/false, !model.noFuse, device.gpu());
      if (failed(recompute) || failed(nnc::applyRecomputePlan(m, *recompute)))
        return 1;
      if (!recompute->recomputedLayers.empty())
        errs() << "nnc: memory budget " << *budget << " B: recomputing "
               << llvm::join(recompute->recomputedLayers, ", ") << " (+" << recompute->extraFlops
               << " FLOPs per step)\n";
    }
    mlir::FailureOr<MemoryPlan> plan = nnc::planModelMemory(m, !model.noFuse, device.gpu());
    if (failed(plan))
      return 1;
    SmallVector<const EntryPlan *> shown;
    std::string names;
    for (const EntryPlan &e : plan->entries) {
      names += (names.empty() ? "" : ", ") + e.entry;
      if (wanted == "all" || e.entry == wanted)
        shown.push_back(&e);
    }
    if (shown.empty())
      return fail("model '" + graph->name + "' has no entry point '" + wanted + "' (it has: " +
                  names + (withTraining ? "" : "; train_step needs --train") + "; or all)");
    int64_t batch = model.batchFor(graph->train.batch);
    if (!svgFilename.empty() && svg.empty()) {
      const EntryPlan *largest = shown.front();
      for (const EntryPlan *e : shown)
        if (e->planned > largest->planned)
          largest = e;
      svg = nnc::plot::renderMemPlanSVG(
          *plan, *largest,
          formatv("nnc memplan: {0} {1}, batch {2}", graph->name, largest->entry, batch).str());
    }
    ++index;
    if (planFormat == Format::JSON) {
      json::Array regions, entries;
      for (const PlannedBuffer &r : plan->regions)
        regions.push_back(json::Object{{"kind", r.kind},
                                       {"name", r.name},
                                       {"layer", r.layer},
                                       {"bytes", r.bytes},
                                       {"offset", r.offset}});
      for (const EntryPlan *e : shown)
        entries.push_back(entryToJSON(*e));
      jsonPlans.push_back(json::Object{{"model", graph->name},
                                       {"batch", batch},
                                       {"fused", !model.noFuse},
                                       {"arena_bytes", plan->arenaBytes},
                                       {"persistent_bytes", plan->persistentBytes},
                                       {"regions", std::move(regions)},
                                       {"entries", std::move(entries)}});
      continue;
    }
    if (index > 1)
      os << "\n";
    os << "model " << graph->name << ", batch " << batch << (model.noFuse ? ", unfused" : "")
       << ": arena " << formatBytes(plan->arenaBytes) << " (the largest entry's plan)\n";
    printRegions(*plan, os);
    for (const EntryPlan *e : shown)
      printEntryTable(*e, os);
  }
  if (planFormat == Format::JSON) {
    if (jsonPlans.size() == 1)
      os << formatv("{0:2}", json::Value(std::move(jsonPlans[0]))) << "\n";
    else
      os << formatv("{0:2}", json::Value(std::move(jsonPlans))) << "\n";
  }
  if (!svgFilename.empty()) {
    if (int rc = writeOutput(svgFilename, svg))
      return rc;
    if (svgFilename != "-")
      errs() << "nnc: wrote " << svgFilename << "\n";
  }
  return 0;
}

static int runMemPlan() {
  if (!model.check() || !optimizer.check() || !memoryBudget.check() || !device.check())
    return 1;
  if (!withTraining && (entryName == "train_step"))
    return fail("--entry train_step needs --train");
  return printToOutput(model, outputFilename, printPlans);
}

static Command registration(memplanCmd, runMemPlan);
