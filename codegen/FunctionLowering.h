//===- FunctionLowering.h - Lowering one nn function to buffers -*- C++ -*-===//
//
// Internal to codegen/: the builder that turns one nn function with static
// shapes into memref code over the arena (see LowerToBuffers.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_FUNCTIONLOWERING_H
#define NNC_CODEGEN_FUNCTIONLOWERING_H

#include "codegen/LibraryBackend.h"
#include "codegen/LinalgRecurrent.h"
#include "codegen/MemoryPlan.h"
#include "dialect/NNOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

namespace nnc::codegen {

using namespace mlir;

constexpr int64_t kAlign = 64;

inline int64_t alignTo(int64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

/// Bytes of a static tensor or memref type.
inline int64_t byteSize(ShapedType type) {
  int64_t bits = type.getElementTypeBitWidth();
  return type.getNumElements() * std::max<int64_t>(bits / 8, 1);
}

inline MemRefType toMemRef(Type type) {
  auto t = cast<RankedTensorType>(type);
  return MemRefType::get(t.getShape(), t.getElementType());
}

inline std::string dtypeString(Type elem) {
  if (elem.isF32())
    return "f32";
  if (elem.isF16())
    return "f16";
  if (elem.isBF16())
    return "bf16";
  if (elem.isInteger(64))
    return "i64";
  if (elem.isInteger(32))
    return "i32";
  // Int8 tensors are signless i8 (quantized weights and activations); u8
  // only where the type says so.
  if (elem.isUnsignedInteger(8))
    return "u8";
  if (elem.isInteger(8))
    return "i8";
  return "unknown";
}

/// The symbols of the parameters a flat update kernel updates, then of each
/// of their states (one column per destination of its updates, in order).
using FlatUpdateColumns = SmallVector<SmallVector<StringRef>>;

/// The flat update kernels (codegen/FlatUpdate.h) of the functions of
/// `model`, before lowering: each one's columns, where every destination is
/// an nn.param_ref and no symbol is in two of them.
SmallVector<FlatUpdateColumns> flatUpdateGroups(ModuleOp model);

/// The data-parallel lowering of the flat update groups (model attribute
/// `nn.data_parallel`, codegen/FlatUpdate.h), planned with the arena.
struct DataParallelPlan {
  int64_t ranks = 1;
  /// ZeRO-1: each rank updates its shard of count / ranks elements.
  bool sharded = false;
  struct Group {
    /// The elements of the group's parameters (padded to a multiple of
    /// `ranks` when sharded).
    int64_t count = 0;
    /// The elements before padding.
    int64_t used = 0;
    /// Sharded: the arena offset of each state column's region
    /// `dp<group>.<state>` (count / ranks elements each).
    SmallVector<int64_t> stateOffsets;
  };
  SmallVector<Group> groups;
  /// The group whose first parameter lies at this arena offset.
  DenseMap<int64_t, unsigned> groupAt;
};

/// Builds the body of one entry function.
class FunctionLowering {
public:
  FunctionLowering(ModuleOp model, func::FuncOp entry, const llvm::StringMap<int64_t> &paramOffsets)
      : model(model), b(entry.getBody()), arena(entry.getArgument(0)), paramOffsets(paramOffsets) {}

  LogicalResult lowerBody(func::FuncOp source, ArrayRef<int64_t> inputOffsets,
                          ArrayRef<int64_t> outputOffsets);

  /// With a non-null `ops`, every floating-point op result is checked for
  /// NaN/Inf and the op's description appended to `ops` (its index is the
  /// id passed to nnc_check_finite).
  void setNumericsTable(std::vector<std::string> *ops) { numericsOps = ops; }
  std::vector<std::string> *numericsOps = nullptr;

  // Helpers shared by the forward (LowerToBuffers.cpp) and training
  // (LowerTrainOps.cpp) lowerings.
  Location loc() const { return currentLoc; }
  Value view(int64_t offset, MemRefType type);
  /// A fresh buffer, tagged for the memory plan (-nn-plan-memory) with the
  /// step and layer that allocate it (`tag`).
  Value alloc(MemRefType type) {
    auto op = memref::AllocOp::create(b, loc(), type, b.getI64IntegerAttr(kAlign));
    tag(op);
    return op;
  }
  /// Marks `op` with the step being lowered: `nn.step` (the kernel's name,
  /// or a library op's `<op> <layer>`) and `nn.layer`.
  void tag(Operation *op);
  Value allocBytes(int64_t bytes);
  Value ptr(Value memref);
  Value nullPtr() {
    return LLVM::ZeroOp::create(b, loc(), LLVM::LLVMPointerType::get(b.getContext()));
  }
  Value i64(int64_t v) { return arith::ConstantIntOp::create(b, loc(), v, 64); }
  Value i32(int64_t v) { return arith::ConstantIntOp::create(b, loc(), v, 32); }
  Value f32(double v) {
    return arith::ConstantFloatOp::create(b, loc(), b.getF32Type(), APFloat(float(v)));
  }
  Value call(StringRef name, ArrayRef<Value> args, Type result = nullptr);
  Value lookup(Value tensor) { return mapping.lookup(tensor); }
  Value ptrOrNull(Value tensor) { return tensor ? ptr(lookup(tensor)) : nullPtr(); }

  LogicalResult lowerOp(Operation *op);
  /// A linalg op on tensors (from -nn-lower-to-linalg) as the same op on
  /// buffers.
  LogicalResult bufferizeLinalg(linalg::LinalgOp op);
  /// An nn.kernel (from -nn-fuse), inlined: its body's ops lowered in turn
  /// on the buffers of its inputs, each bufferized linalg op tagged
  /// `nn.kernel = "<name>"`.
  LogicalResult lowerKernel(nn::KernelOp kernel);
  /// tensor.collapse_shape / expand_shape as the memref reshapes.
  LogicalResult lowerTensorReshape(Operation *op);
  /// scf.for on tensors (its loop-carried tensors updated in place in one
  /// buffer each), tensor.extract (a load) and tensor.insert (a store, in
  /// place when nothing reads the old tensor later).
  LogicalResult lowerTensorLoopOp(Operation *op);
  /// tensor.insert_slice as a copy into a subview of the destination's
  /// buffer (updated in place when nothing reads it later).
  LogicalResult lowerInsertSlice(tensor::InsertSliceOp op);
  /// Training-mode, backward and optimizer ops (LowerTrainOps.cpp).
  LogicalResult lowerTrainOp(Operation *op);
  /// The buffer of `tensor` for an op that overwrites it in place: the
  /// buffer itself when `op` is its last reader, else a fresh copy.
  Value updatable(Value tensor, Operation *op);
  /// Whether something other than nn.param_assign reads `tensor` after
  /// `op` (then `op` cannot overwrite its buffer).
  bool readLater(Value tensor, Operation *op);
  /// An nn.kernel tagged `nn.flat_update` (codegen/FlatUpdate.h), its
  /// non-linalg ops already lowered: one linalg.generic over all the
  /// parameters' elements, if their regions and those of each state lie
  /// one after the other and the kernel may update them in place. The
  /// gradients' buffers become slices of one gradient buffer (or are copied
  /// into it). Returns false, having built nothing, where that does not
  /// hold.
  /// With `dataParallel`, the gradient buffer is reduced first
  /// (nnc_dp_reduce_gradients), and a sharded group updates only this
  /// rank's shard, then gathers the parameters.
  bool lowerFlatUpdate(nn::KernelOp kernel);
  /// A scalar read from a rank-0 buffer.
  Value loadScalar(Value tensor);
  /// Generated code computing (x - mean[c]) / std[c] over channel
  /// dimension 1 of the input buffer `input` (one value: every element), for
  /// an entry argument carrying `nn.normalize = {mean = [...], std = [...]}`.
  /// Returns the normalized copy; the caller's input region is left as is.
  Value normalizeInput(Value input, DictionaryAttr normalize, StringRef name);
  /// Copies `from` into `to` (same shape, any strides) with generated loops.
  void copyInto(Value from, Value to);
  ModuleOp model;
  OpBuilder b;
  Value arena;
  const llvm::StringMap<int64_t> &paramOffsets;
  DenseMap<Value, Value> mapping;
  /// The library functions declared so far (call): a module lookup scans
  /// every symbol, parameters included.
  llvm::StringMap<func::FuncOp> declared;
  /// Arena offsets of the parameter views handed out by param_ref.
  DenseMap<Value, int64_t> paramViewOffset;
  Location currentLoc = UnknownLoc::get(model.getContext());
  /// The target's implementation of the library ops (LibraryOpInterface).
  const LibraryBackend *library = &cpuLibraryBackend();
  /// Data-parallel training: the hooks around each flat update (null: none).
  const DataParallelPlan *dataParallel = nullptr;
  /// The name of the nn.kernel being inlined (null outside kernels).
  StringAttr currentKernel;
  /// The op being lowered (the innermost one).
  Operation *currentOp = nullptr;
  /// The layers of the nn.kernel being inlined, joined by '+' (the layer of
  /// its buffers whose op names none).
  StringAttr currentLayers;
};

} // namespace nnc::codegen

#endif // NNC_CODEGEN_FUNCTIONLOWERING_H
