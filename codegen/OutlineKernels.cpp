//===- OutlineKernels.cpp - One function per distinct CPU kernel nest -----===//
//
// Part of nnc. -nn-outline-kernels (its description in codegen/Passes.td):
// moves each kernel nest of the CPU kernel IR into a function of its own,
// with the buffers it touches as arguments, and makes each distinct nest
// once: the kernels of repeated layers share one function.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"

namespace nnc {
#define GEN_PASS_DEF_NNOUTLINEKERNELS
#include "codegen/Passes.h.inc"
} // namespace nnc

using namespace mlir;

namespace {

/// The attributes that name a kernel's layers; they do not change what it
/// computes, so the outlined copy drops them.
constexpr const char *kNameAttrs[] = {"nn.kernel", "nn.layer", "nn.layers"};

/// The aligned pointers of the LLVM function that a kernel function becomes
/// that no other argument reaches (nnc::markNoAliasArguments).
constexpr const char *kNoAliasAttr = "nn.noalias_pointers";

/// The op that computes `value` if the outlined function can compute it
/// again: pure, without regions, and not a buffer (constants and index
/// arithmetic). Buffers are arguments, so that the function does not depend
/// on where in the arena they lie.
Operation *recomputable(Value value) {
  Operation *def = value.getDefiningOp();
  if (!def || isa<BaseMemRefType>(value.getType()) || def->getNumRegions() != 0 || !isPure(def))
    return nullptr;
  return def;
}

/// Collects into `ops` (operands before users) the recomputable ops that
/// `value` depends on, and into `arguments` the values at their leaves.
void collectInputs(Value value, llvm::SetVector<Operation *> &ops,
                   llvm::SetVector<Value> &arguments) {
  Operation *def = recomputable(value);
  if (!def) {
    arguments.insert(value);
    return;
  }
  if (ops.contains(def))
    return;
  for (Value operand : def->getOperands())
    collectInputs(operand, ops, arguments);
  ops.insert(def);
}

/// The bytes [first, end) of the arena that `buffer` covers, when it is a
/// view of a function argument at a constant offset (or a reshape of one).
std::optional<std::pair<int64_t, int64_t>> arenaRange(Value buffer) {
  auto type = dyn_cast<MemRefType>(buffer.getType());
  if (!type || !type.hasStaticShape())
    return std::nullopt;
  Value source = buffer;
  while (Operation *def = source.getDefiningOp()) {
    if (!isa<memref::CollapseShapeOp, memref::ExpandShapeOp>(def))
      break;
    source = def->getOperand(0);
  }
  auto view = source.getDefiningOp<memref::ViewOp>();
  if (!view || !isa<BlockArgument>(view.getSource()) || !view.getSizes().empty())
    return std::nullopt;
  std::optional<int64_t> offset = getConstantIntValue(view.getByteShift());
  if (!offset)
    return std::nullopt;
  int64_t bytes = type.getNumElements() * std::max<int64_t>(type.getElementTypeBitWidth() / 8, 1);
  return std::make_pair(*offset, *offset + bytes);
}

/// For each of `arguments`, whether the kernel may tell LLVM that no other
/// argument reaches its memory (`llvm.noalias`): it is a buffer whose arena
/// bytes overlap no other buffer argument's (an in-place pair overlaps).
/// None may if a buffer argument's bytes are unknown.
SmallVector<bool> disjointBuffers(ArrayRef<Value> arguments) {
  SmallVector<std::optional<std::pair<int64_t, int64_t>>> ranges;
  SmallVector<bool> disjoint(arguments.size(), false);
  for (Value argument : arguments) {
    if (!isa<BaseMemRefType>(argument.getType())) {
      ranges.push_back(std::nullopt);
      continue;
    }
    ranges.push_back(arenaRange(argument));
    if (!ranges.back())
      return disjoint;
  }
  for (size_t i = 0; i < arguments.size(); ++i) {
    if (!ranges[i])
      continue;
    disjoint[i] = true;
    for (size_t j = 0; j < arguments.size() && disjoint[i]; ++j)
      if (j != i && ranges[j] && ranges[j]->first < ranges[i]->second &&
          ranges[i]->first < ranges[j]->second)
        disjoint[i] = false;
  }
  return disjoint;
}

/// The text that identifies what `fn` computes: its type and body in generic
/// form, SSA names local to it.
std::string bodyKey(func::FuncOp fn) {
  std::string key;
  llvm::raw_string_ostream os(key);
  os << fn.getFunctionType();
  if (Attribute noAlias = fn->getAttr(kNoAliasAttr))
    os << noAlias;
  fn.getBody().front().walk([&](Operation *op) {
    if (op->getParentOp() == fn)
      op->print(os, OpPrintingFlags().printGenericOpForm().useLocalScope());
  });
  return key;
}

struct OutlineKernels : nnc::impl::NNOutlineKernelsBase<OutlineKernels> {
  void runOnOperation() override {
    // The model's module, also when nested in a file of several models.
    getOperation()->walk([&](ModuleOp module) { outlineIn(module); });
  }

  void outlineIn(ModuleOp module) {
    MLIRContext *ctx = module.getContext();
    SymbolTable symbols(module);
    SmallVector<std::pair<Operation *, func::FuncOp>> kernels;
    // The entry points only (nnc_forward, nnc_train_step, ...): a recurrent
    // layer's gate functions are one kernel each already.
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn.isExternal() || !fn->hasAttr("llvm.emit_c_interface"))
        continue;
      for (Block &block : fn.getBody())
        for (Operation &op : block)
          if (isa<scf::ParallelOp>(op) && op.getNumResults() == 0)
            kernels.emplace_back(&op, fn);
    }
    llvm::StringMap<func::FuncOp> made; // by bodyKey
    for (auto [kernel, parent] : kernels) {
      llvm::SetVector<Value> used;
      getUsedValuesDefinedAbove(kernel->getRegions(), used);
      for (Value operand : kernel->getOperands())
        used.insert(operand);
      llvm::SetVector<Operation *> ops;
      llvm::SetVector<Value> leaves;
      for (Value value : used)
        collectInputs(value, ops, leaves);
      // A buffer written in place of another (the same arena bytes, the
      // same type) is the same argument: inside, as before, reads and
      // writes go through one pointer.
      llvm::SetVector<Value> arguments;
      DenseMap<Value, Value> sameAs;
      for (Value leaf : leaves) {
        std::optional<std::pair<int64_t, int64_t>> range = arenaRange(leaf);
        Value earlier;
        for (Value argument : arguments)
          if (range && argument.getType() == leaf.getType() && arenaRange(argument) == range)
            earlier = argument;
        if (earlier)
          sameAs[leaf] = earlier;
        else
          arguments.insert(leaf);
      }

      SmallVector<Type> argumentTypes;
      for (Value argument : arguments)
        argumentTypes.push_back(argument.getType());
      StringRef label = "kernel";
      for (const char *key : kNameAttrs)
        if (auto attr = kernel->getAttrOfType<StringAttr>(key)) {
          label = attr.getValue();
          break;
        }
      OpBuilder b(ctx);
      b.setInsertionPoint(parent);
      auto fn = func::FuncOp::create(b, kernel->getLoc(), (parent.getSymName() + "_" + label).str(),
                                     FunctionType::get(ctx, argumentTypes, {}));
      // Internal: not exported from the artifact; noinline: LLVM's inliner
      // would put a function called once back into its caller.
      fn.setPrivate();
      fn->setAttr("llvm.linkage", LLVM::LinkageAttr::get(ctx, LLVM::Linkage::Internal));
      fn->setAttr("passthrough", b.getArrayAttr({b.getStringAttr("noinline")}));
      // Distinct buffers: LLVM need not check at run time that a store does
      // not change what a later load reads (vectorization).
      // convert-func-to-llvm drops argument attributes of memrefs, so the
      // function lists the positions of their aligned pointers among its
      // LLVM arguments (a static memref of rank r is 3 + 2r of them), for
      // markNoAliasArguments.
      SmallVector<int64_t> noAlias;
      int64_t position = 0;
      for (auto [argument, disjoint] :
           llvm::zip(arguments, disjointBuffers(arguments.getArrayRef()))) {
        auto memref = dyn_cast<MemRefType>(argument.getType());
        if (disjoint && memref)
          noAlias.push_back(position + 1);
        position += memref ? 3 + 2 * memref.getRank() : 1;
      }
      if (!noAlias.empty())
        fn->setAttr(kNoAliasAttr, b.getDenseI64ArrayAttr(noAlias));
      Block *body = fn.addEntryBlock();
      IRMapping mapping;
      for (auto [argument, blockArgument] : llvm::zip(arguments, body->getArguments()))
        mapping.map(argument, blockArgument);
      for (auto [leaf, argument] : sameAs)
        mapping.map(leaf, mapping.lookup(argument));
      b.setInsertionPointToStart(body);
      for (Operation *op : ops)
        b.clone(*op, mapping);
      Operation *copy = b.clone(*kernel, mapping);
      copy->walk([](Operation *op) {
        for (const char *key : kNameAttrs)
          op->removeAttr(key);
      });
      func::ReturnOp::create(b, kernel->getLoc());

      auto [it, isNew] = made.try_emplace(bodyKey(fn), fn);
      if (isNew)
        symbols.insert(fn); // renamed if the name is taken
      else
        fn.erase();
      b.setInsertionPoint(kernel);
      func::CallOp::create(b, kernel->getLoc(), it->second, arguments.getArrayRef());
      kernel->erase();
    }
  }
};

} // namespace

void nnc::markNoAliasArguments(ModuleOp module) {
  module.walk([](LLVM::LLVMFuncOp fn) {
    auto positions = fn->getAttrOfType<DenseI64ArrayAttr>(kNoAliasAttr);
    if (!positions)
      return;
    for (int64_t i : positions.asArrayRef())
      if (i < int64_t(fn.getNumArguments()) &&
          isa<LLVM::LLVMPointerType>(fn.getArgument(i).getType()))
        fn.setArgAttr(i, LLVM::LLVMDialect::getNoAliasAttrName(), UnitAttr::get(fn.getContext()));
    fn->removeAttr(kNoAliasAttr);
  });
}
