//===- KernelReport.cpp - What runs: library calls and generated kernels --===//

#include "codegen/KernelReport.h"

#include "dialect/NNOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

namespace {

int64_t tensorBytes(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape() || !type.getElementType().isIntOrFloat())
    return 0;
  int64_t bits = type.getElementTypeBitWidth();
  return type.getNumElements() * std::max<int64_t>(bits / 8, 1);
}

/// Ops that move no data: views of their operand, parameter references and
/// the constants and scalar arithmetic between kernels.
bool isBookkeeping(Operation *op) {
  if (isa<nn::ParamRefOp, nn::ParamAssignOp, nn::FlattenOp, nn::ReshapeOp, func::ReturnOp>(op))
    return true;
  if (op->getDialect() && op->getDialect()->getNamespace() == "tensor")
    return true; // tensor.empty, reshapes.
  if (op->getDialect() && op->getDialect()->getNamespace() == "arith")
    return true;
  return false;
}

/// Bytes of the values `op` reads from outside it (operands, and tensors its
/// regions capture), a linalg destination only when its body reads it.
int64_t readBytes(Operation *op) {
  llvm::SetVector<Value> read;
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  for (OpOperand &operand : op->getOpOperands()) {
    if (linalgOp && linalgOp.isDpsInit(&operand) &&
        !linalgOp.payloadUsesValueFromOperand(&operand))
      continue;
    read.insert(operand.get());
  }
  op->walk([&](Operation *nested) {
    if (nested == op)
      return;
    for (Value v : nested->getOperands())
      if (isa<RankedTensorType>(v.getType()) && !op->isAncestor(v.getParentRegion()->getParentOp()))
        read.insert(v);
  });
  int64_t bytes = 0;
  for (Value v : read)
    bytes += tensorBytes(v);
  return bytes;
}

int64_t writtenBytes(Operation *op) {
  int64_t bytes = 0;
  for (Value v : op->getResults())
    bytes += tensorBytes(v);
  return bytes;
}

std::string joinLayers(ArrayRef<std::string> layers) {
  std::string s;
  for (const std::string &l : layers)
    s += (s.empty() ? "" : ", ") + l;
  return s;
}

} // namespace

bool nnc::isLibraryOp(Operation *op) { return isa<nn::LibraryOpInterface>(op); }

int64_t nnc::EntryKernels::count(KernelStep::Kind kind) const {
  return llvm::count_if(steps, [&](const KernelStep &s) { return s.kind == kind; });
}

/// The sum of `field` over the generated kernels of `steps`.
static int64_t sumOverKernels(ArrayRef<nnc::KernelStep> steps,
                              int64_t nnc::KernelStep::*field) {
  int64_t n = 0;
  for (const nnc::KernelStep &s : steps)
    if (s.kind == nnc::KernelStep::Kind::Kernel)
      n += s.*field;
  return n;
}

int64_t nnc::EntryKernels::kernelBytesRead() const {
  return sumOverKernels(steps, &KernelStep::bytesRead);
}

int64_t nnc::EntryKernels::kernelBytesWritten() const {
  return sumOverKernels(steps, &KernelStep::bytesWritten);
}

std::vector<nnc::EntryKernels> nnc::analyzeKernels(ModuleOp model) {
  std::vector<EntryKernels> entries;
  for (func::FuncOp fn : model.getOps<func::FuncOp>()) {
    if (fn.isExternal())
      continue;
    EntryKernels entry;
    entry.entry = fn.getSymName().str();
    int64_t kernelIndex = 0;
    for (Operation &op : fn.getBody().front()) {
      if (isBookkeeping(&op))
        continue;
      KernelStep step;
      llvm::SetVector<StringRef> layers;
      // An nn.kernel lists the layers of its fused ops (-nn-fuse).
      if (auto covered = op.getAttrOfType<ArrayAttr>("nn.layers"))
        for (auto layer : covered.getAsRange<StringAttr>())
          layers.insert(layer.getValue());
      else
        op.walk([&](Operation *inner) {
          if (auto layer = inner->getAttrOfType<StringAttr>("nn.layer"))
            layers.insert(layer.getValue());
          else if (auto name = inner->getAttrOfType<StringAttr>("name"); name && inner == &op)
            layers.insert(name.getValue());
        });
      for (StringRef l : layers)
        step.layers.push_back(l.str());
      // Generated: kernels, linalg ops, and the loops -nn-lower-to-linalg
      // writes directly (the embedding backward's scatter-add).
      bool isKernel = op.getName().getStringRef() == "nn.kernel" || isa<linalg::LinalgOp>(op) ||
                      op.hasAttr("nn.layer");
      if (isKernel) {
        step.kind = KernelStep::Kind::Kernel;
        auto name = op.getAttrOfType<StringAttr>("name");
        if (name && op.getName().getStringRef() == "nn.kernel")
          step.name = name.str();
        else
          step.name = "k" + std::to_string(kernelIndex) +
                      (layers.empty() ? "" : "_" + layers.front().str());
        ++kernelIndex;
      } else {
        step.kind = isLibraryOp(&op) ? KernelStep::Kind::Library : KernelStep::Kind::Runtime;
        step.name = op.getName().stripDialect().str();
      }
      step.bytesRead = readBytes(&op);
      step.bytesWritten = writtenBytes(&op);
      entry.steps.push_back(std::move(step));
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

namespace {

const char *kindName(nnc::KernelStep::Kind kind) {
  switch (kind) {
  case nnc::KernelStep::Kind::Kernel:
    return "kernel";
  case nnc::KernelStep::Kind::Library:
    return "library";
  case nnc::KernelStep::Kind::Runtime:
    return "runtime";
  }
  return "?";
}

std::string plural(int64_t n, StringRef what) {
  return std::to_string(n) + " " + what.str() + (n == 1 ? "" : "s");
}

std::string withCommas(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = int(s.size()) - 3; i > (s[0] == '-' ? 1 : 0); i -= 3)
    s.insert(i, ",");
  return s;
}

} // namespace

void nnc::printKernelTable(ArrayRef<EntryKernels> entries, bool fused, bool perKernel,
                           raw_ostream &os) {
  using Kind = KernelStep::Kind;
  os << "kernels (fusion " << (fused ? "on" : "off") << "):\n";
  for (const EntryKernels &e : entries) {
    os << "  " << e.entry << ": " << plural(e.count(Kind::Library), "library call") << ", "
       << plural(e.count(Kind::Kernel), "generated kernel");
    if (int64_t runtime = e.count(Kind::Runtime))
      os << ", " << plural(runtime, "runtime kernel");
    os << "; the generated kernels read " << withCommas(e.kernelBytesRead())
       << " B and write " << withCommas(e.kernelBytesWritten()) << " B\n";
    if (!perKernel)
      continue;
    for (const KernelStep &s : e.steps)
      os << llvm::formatv("    {0,-8}{1,-30} reads {2,13} B  writes {3,13} B  {4}\n",
                          kindName(s.kind), s.name, withCommas(s.bytesRead),
                          withCommas(s.bytesWritten), joinLayers(s.layers));
  }
}

llvm::json::Value nnc::kernelsToJSON(ArrayRef<EntryKernels> entries, bool fused) {
  using Kind = KernelStep::Kind;
  llvm::json::Array entryArray;
  for (const EntryKernels &e : entries) {
    llvm::json::Array steps;
    for (const KernelStep &s : e.steps) {
      llvm::json::Array layers;
      for (const std::string &l : s.layers)
        layers.push_back(l);
      steps.push_back(llvm::json::Object{{"kind", kindName(s.kind)},
                                         {"name", s.name},
                                         {"layers", std::move(layers)},
                                         {"bytes_read", s.bytesRead},
                                         {"bytes_written", s.bytesWritten}});
    }
    entryArray.push_back(llvm::json::Object{
        {"entry", e.entry},
        {"library_calls", e.count(Kind::Library)},
        {"generated_kernels", e.count(Kind::Kernel)},
        {"runtime_kernels", e.count(Kind::Runtime)},
        {"kernel_bytes_read", e.kernelBytesRead()},
        {"kernel_bytes_written", e.kernelBytesWritten()},
        {"steps", std::move(steps)}});
  }
  return llvm::json::Object{{"fused", fused}, {"entries", std::move(entryArray)}};
}
