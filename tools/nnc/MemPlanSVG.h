//===- MemPlanSVG.h - A model's memory plan as an SVG chart -----*- C++ -*-===//
//
// Draws one entry point of a memory plan (codegen/MemoryPlan.h) for
// `nnc memplan --svg`: kernel order across, arena offset up, one rectangle
// per placed buffer coloured by its kind, the persistent regions as one band
// at the bottom, dashed lines at the lower bound and at the planned arena.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_TOOLS_NNC_MEMPLANSVG_H
#define NNC_TOOLS_NNC_MEMPLANSVG_H

#include "codegen/MemoryPlan.h"

#include "llvm/ADT/StringRef.h"

#include <string>

namespace nnc::plot {

/// The display name of a buffer or region kind of the plan (`activation`:
/// "saved activation", `param`: "parameter", ...).
llvm::StringRef kindLabel(llvm::StringRef kind);

/// The SVG document of `entry`'s plan (one of `plan.entries`), titled
/// `title`. Every buffer is a `<rect class="buffer">` with a `<title>`
/// tooltip; the persistent regions are `<rect class="region">`s.
std::string renderMemPlanSVG(const nnc::MemoryPlan &plan, const nnc::EntryPlan &entry,
                             llvm::StringRef title);

} // namespace nnc::plot

#endif // NNC_TOOLS_NNC_MEMPLANSVG_H
