//===- LowerToBuffers.cpp - nn models to memref code over one arena -------===//
//
// Each entry function of a model becomes `@nnc_<name>(%arena: memref<?xi8>)`.
// Parameters, inputs and outputs are views of the arena at fixed offsets (the
// layout is the artifact's ABI); every op writes a fresh memref.alloc that
// -nn-plan-memory places in the arena. Library ops go to the target's
// LibraryBackend (CPULibraryBackend.cpp: calls of runtime/Kernels.h); the
// linalg on tensors of -nn-lower-to-linalg is bufferized in place
// (bufferizeLinalg), tensor.insert_slice becomes a copy into a subview
// (linalg.copy), tensor.extract_slice a subview.
//
//===----------------------------------------------------------------------===//

#include "codegen/FlatUpdate.h"
#include "codegen/FunctionLowering.h"
#include "codegen/Passes.h"

#include "dialect/NNOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/SaveAndRestore.h"

#include <numeric>

#define DEBUG_TYPE "nn-lower-to-buffers"

namespace nnc {
#define GEN_PASS_DEF_NNLOWERTOBUFFERS
#include "codegen/Passes.h.inc"
} // namespace nnc

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

namespace {

/// The persistent layout of one model's arena.
class ArenaLayout {
public:
  explicit ArenaLayout(MLIRContext *ctx) : ctx(ctx) {}

  /// Reserves `bytes` for regions placed by the caller; returns the offset.
  int64_t reserve(int64_t bytes) {
    int64_t offset = cursor;
    cursor = alignTo(cursor + bytes);
    return offset;
  }

  /// Adds a region, at `at` (in memory reserved before) or else at a new
  /// offset, and returns its offset.
  int64_t add(StringRef name, StringRef kind, ShapedType type, ArrayRef<NamedAttribute> extra = {},
              std::optional<int64_t> at = {}) {
    int64_t offset = at ? *at : reserve(byteSize(type));
    Builder b(ctx);
    SmallVector<NamedAttribute> attrs(extra);
    attrs.append({
        b.getNamedAttr("name", b.getStringAttr(name)),
        b.getNamedAttr("kind", b.getStringAttr(kind)),
        b.getNamedAttr("offset", b.getI64IntegerAttr(offset)),
        b.getNamedAttr("bytes", b.getI64IntegerAttr(byteSize(type))),
        b.getNamedAttr("dtype", b.getStringAttr(dtypeString(type.getElementType()))),
        b.getNamedAttr("shape", b.getDenseI64ArrayAttr(type.getShape())),
    });
    regions.push_back(b.getDictionaryAttr(attrs));
    return offset;
  }
  int64_t size() const { return cursor; }
  ArrayAttr attr() const { return ArrayAttr::get(ctx, regions); }

private:
  MLIRContext *ctx;
  int64_t cursor = 0;
  SmallVector<Attribute> regions;
};

} // namespace

Value FunctionLowering::view(int64_t offset, MemRefType type) {
  Value shift = arith::ConstantIndexOp::create(b, loc(), offset);
  return memref::ViewOp::create(b, loc(), type, arena, shift, ValueRange{});
}

Value FunctionLowering::allocBytes(int64_t bytes) {
  if (bytes <= 0)
    return nullptr;
  Value scratch = alloc(MemRefType::get({bytes}, b.getI8Type()));
  scratch.getDefiningOp()->setAttr(kBufferKindAttr, b.getStringAttr("scratch"));
  return scratch;
}

/// The layer of `op`: its `nn.layer` (linalg ops of a layer) or `name` (nn
/// ops), else "".
static StringRef layerOf(Operation *op) {
  if (!op || isa<KernelOp>(op))
    return "";
  if (auto layer = op->getAttrOfType<StringAttr>("nn.layer"))
    return layer.getValue();
  if (auto name = op->getAttrOfType<StringAttr>("name"))
    return name.getValue();
  return "";
}

void FunctionLowering::tag(Operation *op) {
  StringRef layer = layerOf(currentOp);
  if (layer.empty() && currentLayers)
    layer = currentLayers.getValue();
  std::string step;
  if (currentKernel)
    step = currentKernel.str();
  else if (currentOp)
    step = (currentOp->getName().stripDialect() + (layer.empty() ? "" : " ") + layer).str();
  op->setAttr(kStepAttr, b.getStringAttr(step));
  op->setAttr(kLayerAttr, b.getStringAttr(layer));
}

Value FunctionLowering::ptr(Value memref) {
  if (!memref)
    return nullPtr();
  // base + offset * element size: views and reshapes keep offset 0, but
  // computing it keeps this correct for any strided memref.
  auto type = cast<MemRefType>(memref.getType());
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc(), memref);
  auto meta = memref::ExtractStridedMetadataOp::create(b, loc(), memref);
  int64_t elemBytes = std::max<int64_t>(type.getElementTypeBitWidth() / 8, 1);
  Value scaled = arith::MulIOp::create(
      b, loc(), meta.getOffset(), arith::ConstantIndexOp::create(b, loc(), elemBytes));
  Value addr = arith::AddIOp::create(b, loc(), base, scaled);
  Value asInt = arith::IndexCastOp::create(b, loc(), b.getI64Type(), addr);
  return LLVM::IntToPtrOp::create(b, loc(), LLVM::LLVMPointerType::get(b.getContext()),
                                  asInt);
}

Value FunctionLowering::call(StringRef name, ArrayRef<Value> args, Type result) {
  SmallVector<Type> argTypes;
  for (Value a : args)
    argTypes.push_back(a.getType());
  SmallVector<Type> results;
  if (result)
    results.push_back(result);
  auto fnType = b.getFunctionType(argTypes, results);
  func::FuncOp &fn = declared[name];
  if (!fn)
    fn = model.lookupSymbol<func::FuncOp>(name);
  if (!fn) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(model.getBody());
    fn = func::FuncOp::create(b, model.getLoc(), name, fnType);
    fn.setPrivate();
  }
  auto callOp = func::CallOp::create(b, loc(), fn, args);
  tag(callOp);
  return result ? callOp.getResult(0) : Value();
}

void FunctionLowering::copyInto(Value from, Value to) {
  // linalg.copy becomes loops (memref.copy of a strided view would need a
  // library call).
  linalg::CopyOp::create(b, loc(), ValueRange{from}, ValueRange{to});
}

/// Checks an `nn.normalize` argument attribute: {mean = [f64...], std =
/// [f64...]} of equal length, one value or one per channel (dimension 1),
/// std > 0, on a floating-point argument.
static LogicalResult verifyNormalize(func::FuncOp fn, unsigned i, Attribute attr) {
  auto dict = dyn_cast<DictionaryAttr>(attr);
  auto type = cast<ShapedType>(fn.getArgumentTypes()[i]);
  ArrayAttr mean = dict ? dict.getAs<ArrayAttr>("mean") : ArrayAttr();
  ArrayAttr stddev = dict ? dict.getAs<ArrayAttr>("std") : ArrayAttr();
  auto isValue = [](Attribute a) { return isa<FloatAttr>(a); };
  bool ok =
      mean && stddev && !mean.empty() && mean.size() == stddev.size() &&
      llvm::all_of(mean, isValue) && llvm::all_of(stddev, isValue) &&
      llvm::all_of(stddev, [](Attribute a) { return cast<FloatAttr>(a).getValueAsDouble() > 0; });
  if (!ok)
    return fn.emitError("argument ")
           << i << ": nn.normalize must be {mean = [f64...], std = [f64...]} of "
           << "equal length with std > 0";
  if (!isa<FloatType>(type.getElementType()))
    return fn.emitError("argument ") << i << ": nn.normalize needs a floating-point input";
  if (mean.size() > 1 && (type.getRank() < 2 || type.getDimSize(1) != int64_t(mean.size())))
    return fn.emitError("argument ")
           << i << ": nn.normalize has " << mean.size() << " values per channel but the input has "
           << (type.getRank() < 2 ? 0 : type.getDimSize(1)) << " channels";
  return success();
}

Value FunctionLowering::normalizeInput(Value input, DictionaryAttr normalize, StringRef name) {
  auto type = cast<MemRefType>(input.getType());
  auto elemType = cast<FloatType>(type.getElementType());
  int64_t rank = type.getRank();
  // x' = (x - mean) * (1 / std), the reciprocal rounded to the element type.
  SmallVector<APFloat> mean, invStd;
  auto convert = [&](double v) {
    bool lost;
    APFloat f(v);
    f.convert(elemType.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
    return f;
  };
  for (auto [m, s] :
       llvm::zip(normalize.getAs<ArrayAttr>("mean"), normalize.getAs<ArrayAttr>("std"))) {
    mean.push_back(convert(cast<FloatAttr>(m).getValueAsDouble()));
    APFloat inv = convert(1.0);
    inv.divide(convert(cast<FloatAttr>(s).getValueAsDouble()), APFloat::rmNearestTiesToEven);
    invStd.push_back(inv);
  }
  bool perChannel = llvm::any_of(mean, [&](const APFloat &v) { return v != mean[0]; }) ||
                    llvm::any_of(invStd, [&](const APFloat &v) { return v != invStd[0]; });
  // A kernel of its own in the memory plan.
  StringAttr kernelName = b.getStringAttr("normalize_" + name);
  llvm::SaveAndRestore<StringAttr> inKernel(currentKernel, kernelName);
  llvm::SaveAndRestore<StringAttr> kernelLayers(currentLayers, b.getStringAttr("normalize"));
  Value out = alloc(type);
  SmallVector<Value> ins = {input};
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  SmallVector<AffineMap> maps = {identity};
  if (perChannel) {
    // Per-channel constants: two read-only globals indexed by dimension 1.
    auto table = [&](StringRef what, ArrayRef<APFloat> values) -> Value {
      auto tableType = MemRefType::get({int64_t(values.size())}, elemType);
      auto data =
          DenseElementsAttr::get(RankedTensorType::get(tableType.getShape(), elemType), values);
      std::string symbol = ("__nnc_normalize_" + name + "_" + what).str();
      if (!model.lookupSymbol(symbol)) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(model.getBody());
        memref::GlobalOp::create(b, loc(), symbol, b.getStringAttr("private"), tableType, data,
                                 /*constant=*/true, IntegerAttr());
      }
      return memref::GetGlobalOp::create(b, loc(), tableType, symbol);
    };
    ins.push_back(table("mean", mean));
    ins.push_back(table("inv_std", invStd));
    AffineMap channel = AffineMap::get(rank, 0, b.getAffineDimExpr(1), b.getContext());
    maps.append({channel, channel});
  }
  maps.push_back(identity);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  auto normalizeOp = linalg::GenericOp::create(
      b, loc(), ins, ValueRange{out}, maps, iters, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value m = perChannel ? args[1] : arith::ConstantFloatOp::create(nb, l, elemType, mean[0]);
        Value inv =
            perChannel ? args[2] : arith::ConstantFloatOp::create(nb, l, elemType, invStd[0]);
        Value centered = arith::SubFOp::create(nb, l, args[0], m);
        linalg::YieldOp::create(nb, l, arith::MulFOp::create(nb, l, centered, inv).getResult());
      });
  normalizeOp->setAttr("nn.kernel", kernelName);
  normalizeOp->setAttr("nn.layer", currentLayers);
  return out;
}

LogicalResult FunctionLowering::bufferizeLinalg(linalg::LinalgOp op) {
  if (!op.hasPureTensorSemantics())
    return op->emitError("expected a linalg op on tensors");
  // Inputs: their buffers (scalars: their values).
  SmallVector<Value> operands;
  for (OpOperand *in : op.getDpsInputOperands()) {
    // An empty input only gives dimensions their extents (a pooling
    // window): any buffer of its shape will do.
    if (in->get().getDefiningOp<tensor::EmptyOp>())
      operands.push_back(alloc(toMemRef(in->get().getType())));
    else
      operands.push_back(lookup(in->get()));
  }
  // Outputs: a fresh buffer unless the op reads its output's current value;
  // then that buffer, updated in place when nothing reads it later.
  SmallVector<Value> outputs;
  for (OpOperand &init : op.getDpsInitsMutable()) {
    auto type = toMemRef(init.get().getType());
    if (init.get().getDefiningOp<tensor::EmptyOp>() || !op.payloadUsesValueFromOperand(&init))
      outputs.push_back(alloc(type));
    else
      outputs.push_back(updatable(init.get(), op));
  }
  operands.append(outputs);
  if (llvm::any_of(operands, [](Value v) { return !v; }))
    return op->emitError("internal error: an operand of this op has no buffer");

  // The same op on buffers; values its body captures from the function are
  // remapped: scalars to their lowered values, tensors read with
  // tensor.extract to loads from their buffers.
  Operation *copy = cloneWithoutRegions(b, op, TypeRange{}, operands);
  if (currentKernel)
    copy->setAttr("nn.kernel", currentKernel);
  llvm::SetVector<Value> captured;
  getUsedValuesDefinedAbove(op->getRegions(), captured);
  IRMapping bodyMapping;
  for (Value v : captured)
    if (!isa<ShapedType>(v.getType()))
      bodyMapping.map(v, lookup(v));
  for (auto [from, to] : llvm::zip(op->getRegions(), copy->getRegions()))
    from.cloneInto(&to, bodyMapping);
  SmallVector<tensor::ExtractOp> extracts;
  copy->walk([&](tensor::ExtractOp e) {
    if (captured.contains(e.getTensor()))
      extracts.push_back(e);
  });
  for (tensor::ExtractOp e : extracts) {
    OpBuilder nb(e);
    Value load = memref::LoadOp::create(nb, e.getLoc(), lookup(e.getTensor()), e.getIndices());
    e.getResult().replaceAllUsesWith(load);
    e.erase();
  }
  for (Value v : captured)
    if (isa<ShapedType>(v.getType()) &&
        llvm::any_of(copy->getRegions(), [&](Region &r) {
          return llvm::any_of(v.getUses(), [&](OpOperand &use) {
            return r.isAncestor(use.getOwner()->getParentRegion());
          });
        }))
      return op->emitError("internal error: a tensor captured by this op's body is used "
                           "other than by tensor.extract");
  for (auto [result, buffer] : llvm::zip(op->getResults(), outputs))
    mapping[result] = buffer;
  return success();
}

LogicalResult FunctionLowering::lowerTensorReshape(Operation *op) {
  // Buffers are contiguous: a reshape is a reinterpretation.
  auto outType = toMemRef(op->getResult(0).getType());
  Value in = lookup(op->getOperand(0));
  Value out;
  if (auto c = dyn_cast<tensor::CollapseShapeOp>(op))
    out = memref::CollapseShapeOp::create(b, loc(), outType, in, c.getReassociationIndices());
  else
    out = memref::ExpandShapeOp::create(b, loc(), outType.getShape(), in,
                                        cast<tensor::ExpandShapeOp>(op).getReassociationIndices());
  mapping[op->getResult(0)] = out;
  return success();
}

LogicalResult FunctionLowering::lowerTensorLoopOp(Operation *op) {
  if (auto extract = dyn_cast<tensor::ExtractOp>(op)) {
    SmallVector<Value> indices;
    for (Value i : extract.getIndices())
      indices.push_back(lookup(i));
    mapping[extract.getResult()] =
        memref::LoadOp::create(b, loc(), lookup(extract.getTensor()), indices);
    return success();
  }
  if (auto insert = dyn_cast<tensor::InsertOp>(op)) {
    SmallVector<Value> indices;
    for (Value i : insert.getIndices())
      indices.push_back(lookup(i));
    Value dest = updatable(insert.getDest(), op);
    memref::StoreOp::create(b, loc(), lookup(insert.getScalar()), dest, indices);
    mapping[insert.getResult()] = dest;
    return success();
  }
  // A loop on tensors: each loop-carried tensor lives in one buffer that the
  // body updates in place; the body's ops are lowered into the new loop.
  auto loop = cast<scf::ForOp>(op);
  SmallVector<Value> buffers;
  for (Value init : loop.getInitArgs()) {
    if (!isa<RankedTensorType>(init.getType()))
      return op->emitError("internal error: a loop-carried value that is not a tensor");
    buffers.push_back(updatable(init, op));
  }
  auto lowered = scf::ForOp::create(b, loc(), lookup(loop.getLowerBound()),
                                    lookup(loop.getUpperBound()), lookup(loop.getStep()));
  if (Attribute layer = loop->getAttr("nn.layer"))
    lowered->setAttr("nn.layer", layer);
  mapping[loop.getInductionVar()] = lowered.getInductionVar();
  for (auto [arg, buffer] : llvm::zip(loop.getRegionIterArgs(), buffers))
    mapping[arg] = buffer;
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(lowered.getBody()->getTerminator());
    for (Operation &inner : loop.getBody()->without_terminator())
      if (failed(lowerOp(&inner)))
        return failure();
  }
  currentLoc = loop.getLoc();
  for (auto [yielded, buffer] : llvm::zip(loop.getYieldedValues(), buffers))
    if (lookup(yielded) != buffer)
      return op->emitError("internal error: a loop-carried tensor is not updated in place");
  for (auto [result, buffer] : llvm::zip(loop.getResults(), buffers))
    mapping[result] = buffer;
  return success();
}

LogicalResult FunctionLowering::lowerInsertSlice(tensor::InsertSliceOp op) {
  Value dest = op.getDest().getDefiningOp<tensor::EmptyOp>()
                   ? alloc(toMemRef(op.getDest().getType()))
                   : updatable(op.getDest(), op);
  Value source = lookup(op.getSource());
  if (!dest || !source)
    return op->emitError("internal error: an operand of this op has no buffer");
  copyInto(source, memref::SubViewOp::create(b, loc(), dest, op.getMixedOffsets(),
                                             op.getMixedSizes(), op.getMixedStrides()));
  mapping[op.getResult()] = dest;
  return success();
}

LogicalResult FunctionLowering::lowerKernel(KernelOp kernel) {
  // The body, inlined: its arguments are the buffers of the kernel's inputs.
  for (auto [arg, input] : llvm::zip(kernel.getBodyBlock().getArguments(), kernel.getInputs()))
    mapping[arg] = lookup(input);
  llvm::SaveAndRestore<StringAttr> inKernel(currentKernel, kernel.getNameAttr());
  std::string layers;
  if (auto names = kernel->getAttrOfType<ArrayAttr>("nn.layers"))
    for (Attribute n : names)
      if (auto str = dyn_cast<StringAttr>(n))
        layers += (layers.empty() ? "" : "+") + str.str();
  llvm::SaveAndRestore<StringAttr> kernelLayers(currentLayers, b.getStringAttr(layers));
  auto body = kernel.getBodyBlock().without_terminator();
  // A flat update: its scalar code (which reads no update's result) first,
  // then, if the layout allows, one loop for all its updates.
  auto readsNoUpdate = [](Operation &op) {
    return llvm::none_of(op.getOperands(),
                         [](Value v) { return v.getDefiningOp<linalg::GenericOp>(); });
  };
  bool tried = kernel->hasAttr(kFlatUpdateAttr) && llvm::all_of(body, [&](Operation &op) {
                 return isa<linalg::GenericOp>(op) || readsNoUpdate(op);
               });
  bool flat = false;
  if (tried) {
    for (Operation &op : body)
      if (!isa<linalg::GenericOp>(op) && failed(lowerOp(&op)))
        return failure();
    flat = lowerFlatUpdate(kernel);
  }
  if (dataParallel && kernel->hasAttr(kFlatUpdateAttr) && !flat)
    return kernel.emitError("data-parallel training: the optimizer update ")
           << kernel.getName() << " cannot run as one loop over its parameters' elements";
  for (Operation &op : body) {
    bool lowered = isa<linalg::GenericOp>(op) ? flat : tried;
    if (!lowered && failed(lowerOp(&op)))
      return failure();
  }
  for (auto [result, value] : llvm::zip(kernel.getResults(), kernel.getYield().getValues()))
    mapping[result] = lookup(value);
  return success();
}

LogicalResult FunctionLowering::lowerOp(Operation *op) {
  currentLoc = op->getLoc();
  llvm::SaveAndRestore<Operation *> lowering(currentOp, op);
  for (Type t : op->getResultTypes())
    if (auto st = dyn_cast<ShapedType>(t); st && !st.hasStaticShape())
      return op->emitError("the CPU backend needs static shapes; run "
                           "-nn-infer-shapes=batch=N first");
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
    return bufferizeLinalg(linalgOp);
  if (auto kernel = dyn_cast<KernelOp>(op))
    return lowerKernel(kernel);
  if (isa<tensor::EmptyOp>(op))
    return success(); // Each destination gets its own buffer (bufferizeLinalg).
  if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(op))
    return lowerTensorReshape(op);
  if (isa<scf::ForOp, tensor::ExtractOp, tensor::InsertOp>(op))
    return lowerTensorLoopOp(op);
  if (auto insert = dyn_cast<tensor::InsertSliceOp>(op))
    return lowerInsertSlice(insert);
  if (auto extract = dyn_cast<tensor::ExtractSliceOp>(op)) {
    // A strided view; only linalg ops read it (LinalgTensors.cpp).
    mapping[extract.getResult()] = memref::SubViewOp::create(
        b, loc(), lookup(extract.getSource()), extract.getMixedOffsets(),
        extract.getMixedSizes(), extract.getMixedStrides());
    return success();
  }
  if (llvm::none_of(op->getOperandTypes(), llvm::IsaPred<ShapedType>) &&
      llvm::none_of(op->getResultTypes(), llvm::IsaPred<ShapedType>) &&
      op->getNumRegions() == 0) {
    // Scalar code between kernels (constants, index arithmetic): as it is.
    IRMapping scalars;
    for (Value v : op->getOperands())
      scalars.map(v, lookup(v));
    Operation *copy = b.clone(*op, scalars);
    for (auto [from, to] : llvm::zip(op->getResults(), copy->getResults()))
      mapping[from] = to;
    return success();
  }
  auto setResult = [&](Value m) {
    mapping[op->getResult(0)] = m;
    return success();
  };

  if (isa<LibraryOpInterface>(op))
    return library->lower(*this, op);
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<ParamRefOp>([&](ParamRefOp p) -> LogicalResult {
        auto it = paramOffsets.find(p.getSym());
        if (it == paramOffsets.end())
          return p.emitError("unknown parameter @") << p.getSym();
        Value v = view(it->second, toMemRef(p.getType()));
        paramViewOffset[v] = it->second;
        return setResult(v);
      })
      .Case<FlattenOp, ReshapeOp>([&](Operation *) {
        // Buffers are contiguous: a reshape is a reinterpretation.
        auto outType = toMemRef(op->getResult(0).getType());
        SmallVector<int64_t> strides(outType.getRank(), 1);
        for (int64_t i = outType.getRank() - 2; i >= 0; --i)
          strides[i] = strides[i + 1] * outType.getDimSize(i + 1);
        return setResult(memref::ReinterpretCastOp::create(
            b, loc(), outType, lookup(op->getOperand(0)), 0, outType.getShape(), strides));
      })
      .Default([&](Operation *) { return lowerTrainOp(op); });
}

LogicalResult FunctionLowering::lowerBody(func::FuncOp source,
                                          ArrayRef<int64_t> inputOffsets,
                                          ArrayRef<int64_t> outputOffsets) {
  currentLoc = source.getLoc();
  for (auto [arg, offset] : llvm::zip(source.getArguments(), inputOffsets)) {
    mapping[arg] = view(offset, toMemRef(arg.getType()));
    unsigned i = arg.getArgNumber();
    Attribute normalize = source.getArgAttr(i, "nn.normalize");
    if (!normalize)
      continue;
    if (failed(verifyNormalize(source, i, normalize)))
      return failure();
    mapping[arg] = normalizeInput(mapping[arg], cast<DictionaryAttr>(normalize),
                                  (source.getSymName() + "_" + std::to_string(i)).str());
  }
  for (Operation &op : source.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      currentLoc = ret.getLoc();
      for (auto [value, offset] : llvm::zip(ret.getOperands(), outputOffsets))
        memref::CopyOp::create(b, loc(), lookup(value),
                               view(offset, toMemRef(value.getType())));
      func::ReturnOp::create(b, loc());
      continue;
    }
    if (failed(lowerOp(&op)))
      return failure();
    // A fill only initializes a destination (max pooling's -inf), and a
    // slice is a view of a checked buffer: neither is an output that could
    // first hold NaN or Inf.
    if (!numericsOps || isa<ParamRefOp, linalg::FillOp, tensor::ExtractSliceOp>(op))
      continue;
    for (Value result : op.getResults()) {
      Value buffer = lookup(result);
      auto type = buffer ? dyn_cast<MemRefType>(buffer.getType()) : MemRefType();
      if (!type || !type.getElementType().isF32())
        continue;
      auto name = op.getAttrOfType<StringAttr>("name");
      if (auto layer = op.getAttrOfType<StringAttr>("nn.layer"))
        numericsOps->push_back(layer.str() + " (generated kernel)");
      else
        numericsOps->push_back((name ? name.str() : std::string("-")) + " (" +
                               op.getName().getStringRef().str() + ")");
      call(library->checkFiniteFunction(),
           {ptr(buffer), i64(type.getNumElements()), i64(int64_t(numericsOps->size()) - 1)});
    }
  }
  return success();
}

namespace {

/// The name of argument/result `i` of `fn` (its `nn.name`, else `arg<i>`).
std::string ioName(func::FuncOp fn, unsigned i, bool result) {
  auto name = result ? fn.getResultAttrOfType<StringAttr>(i, "nn.name")
                     : fn.getArgAttrOfType<StringAttr>(i, "nn.name");
  if (name)
    return name.str();
  return (result ? "result" : "arg") + std::to_string(i);
}

/// The model's `nn.data_parallel = {ranks = N : i64, shard = "none" | "opt"}`
/// (codegen/FlatUpdate.h) as a plan without groups yet; none where absent or
/// for one rank without sharding (nothing changes then). Failure after
/// reporting a malformed attribute.
FailureOr<std::optional<DataParallelPlan>> readDataParallel(ModuleOp model) {
  Attribute attr = model->getAttr(kDataParallelAttr);
  if (!attr)
    return std::optional<DataParallelPlan>();
  auto dict = dyn_cast<DictionaryAttr>(attr);
  auto ranks = dict ? dict.getAs<IntegerAttr>("ranks") : IntegerAttr();
  auto shard = dict ? dict.getAs<StringAttr>("shard") : StringAttr();
  if (!ranks || ranks.getInt() < 1 || !shard ||
      !llvm::is_contained({"none", "opt"}, shard.getValue()))
    return emitError(model.getLoc())
           << kDataParallelAttr
           << " must be {ranks = N : i64 (N >= 1), shard = \"none\" or \"opt\"}, not " << attr;
  DataParallelPlan plan;
  plan.ranks = ranks.getInt();
  plan.sharded = shard.getValue() == "opt";
  if (plan.ranks == 1 && !plan.sharded) {
    model->removeAttr(kDataParallelAttr);
    return std::optional<DataParallelPlan>();
  }
  return std::optional<DataParallelPlan>(std::move(plan));
}

/// The parameter an optimizer update generic (in an nn.kernel) updates: the
/// nn.param_ref behind its first destination, else null.
ParamRefOp updatedParam(linalg::GenericOp update) {
  if (update.getNumDpsInits() == 0)
    return nullptr;
  Value init = update.getDpsInits()[0];
  if (auto arg = dyn_cast<BlockArgument>(init))
    if (auto kernel = dyn_cast<KernelOp>(arg.getOwner()->getParentOp()))
      init = kernel.getInputs()[arg.getArgNumber()];
  return init.getDefiningOp<ParamRefOp>();
}

struct NNLowerToBuffersPass
    : public nnc::impl::NNLowerToBuffersBase<NNLowerToBuffersPass> {
  void runOnOperation() override {
    // f32 storage for f16/bf16 models; others refused before lowering anything.
    if (failed(nnc::autocastModels(getOperation())))
      return signalPassFailure();
    SmallVector<ModuleOp> models;
    getOperation()->walk([&](ModuleOp m) {
      if (m->hasAttr("nn.model"))
        models.push_back(m);
    });
    library = libraryBackendFor(target);
    if (!library) {
      emitError(getOperation().getLoc())
          << "-nn-lower-to-buffers: unknown target '" << target << "' (expected cpu or gpu)";
      return signalPassFailure();
    }
    for (ModuleOp model : models)
      if (failed(lowerModel(model)))
        return signalPassFailure();
  }

  /// The library ops' implementation for `target`.
  const LibraryBackend *library = nullptr;

  using NNLowerToBuffersBase::NNLowerToBuffersBase;

  /// The state regions of each sharded group: {suffix, region}.
  DenseMap<unsigned, SmallVector<Attribute>> dpStates;

  /// The model table's `data_parallel` (docs/abi.md) as an attribute.
  DictionaryAttr dataParallelTable(ModuleOp model, const DataParallelPlan &dp,
                                   ArrayRef<FlatUpdateColumns> groups,
                                   const llvm::StringMap<int64_t> &paramOffsets) {
    Builder b(model.getContext());
    SmallVector<Attribute> tableGroups;
    for (auto [g, columns] : llvm::enumerate(groups)) {
      SmallVector<Attribute> params;
      for (StringRef sym : columns.front())
        params.push_back(b.getStringAttr(sym));
      tableGroups.push_back(b.getDictionaryAttr({
          b.getNamedAttr("count", b.getI64IntegerAttr(dp.groups[g].count)),
          b.getNamedAttr("params", b.getArrayAttr(params)),
          b.getNamedAttr("param_offset",
                         b.getI64IntegerAttr(paramOffsets.lookup(columns.front().front()))),
          // The gradient buffer is a temporary: its offset is the memory
          // plan's (the model table's writer fills it in).
          b.getNamedAttr("grad_offset", b.getI64IntegerAttr(0)),
          b.getNamedAttr("state", b.getArrayAttr(dpStates.lookup(g))),
      }));
    }
    return b.getDictionaryAttr({
        b.getNamedAttr("ranks", b.getI64IntegerAttr(dp.ranks)),
        b.getNamedAttr("shard", b.getStringAttr(dp.sharded ? "opt" : "none")),
        b.getNamedAttr("groups", b.getArrayAttr(tableGroups)),
    });
  }

  LogicalResult lowerModel(ModuleOp model) {
    MLIRContext *ctx = model.getContext();
    dpStates.clear();
    std::vector<std::string> numericsOps;
    ArenaLayout layout(ctx);
    llvm::StringMap<int64_t> paramOffsets;
    // The regions a flat update kernel updates: each column (its parameters,
    // each state of theirs) one block, its regions one after the other with
    // no padding, in the kernel's order, placed where the first of them
    // would be.
    llvm::StringMap<int64_t> fixedOffsets;
    llvm::StringMap<unsigned> groupOf;
    SmallVector<FlatUpdateColumns> groups = flatUpdateGroups(model);
    for (auto [g, columns] : llvm::enumerate(groups))
      for (ArrayRef<StringRef> column : columns)
        for (StringRef sym : column)
          groupOf[sym] = g;
    auto dataParallel = readDataParallel(model);
    if (failed(dataParallel))
      return failure();
    std::optional<DataParallelPlan> &dp = *dataParallel;
    // Data parallelism: every update in a flat group, of f32 parameters;
    // ZeRO-1 replaces the per-parameter state regions by one region per
    // state column (`dp<g>.<state>`), which the regions of the column's
    // symbols then do not get.
    llvm::StringSet<> noRegion;
    if (dp) {
      WalkResult walk = model.walk([&](linalg::GenericOp update) {
        if (!update->hasAttr(kOptimizerAttr))
          return WalkResult::advance();
        auto kernel = update->getParentOfType<KernelOp>();
        ParamRefOp param = updatedParam(update);
        if (kernel && kernel->hasAttr(kFlatUpdateAttr) && param && groupOf.count(param.getSym()))
          return WalkResult::advance();
        update.emitError("data-parallel training needs every parameter's optimizer update in "
                         "one flat update loop (a fused build: not --no-fuse or "
                         "--check-numerics)");
        return WalkResult::interrupt();
      });
      if (walk.wasInterrupted())
        return failure();
      for (const FlatUpdateColumns &columns : groups) {
        DataParallelPlan::Group group;
        for (StringRef sym : columns.front()) {
          auto type = cast<ShapedType>(model.lookupSymbol<ParamOp>(sym).getType());
          if (!type.getElementType().isF32())
            return model.lookupSymbol<ParamOp>(sym).emitError("data-parallel training: parameter ")
                   << sym << " is " << type.getElementType()
                   << "; the gradient reduction supports f32 parameters only";
          group.used += type.getNumElements();
        }
        group.count = dp->sharded ? llvm::alignTo(group.used, dp->ranks) : group.used;
        dp->groups.push_back(std::move(group));
      }
    }
    // The parameters by name: a module lookup scans every symbol.
    llvm::StringMap<ParamOp> paramsByName;
    for (auto param : model.getOps<ParamOp>())
      paramsByName[param.getSymName()] = param;
    auto placeGroup = [&](unsigned g) {
      const FlatUpdateColumns &columns = groups[g];
      for (auto [k, column] : llvm::enumerate(columns)) {
        if (dp && dp->sharded && k > 0) {
          // One region of this rank's shard of the state column.
          DataParallelPlan::Group &group = dp->groups[g];
          StringRef param = columns.front().front(), sym = column.front();
          std::string suffix = sym.starts_with((param + ".").str())
                                   ? sym.drop_front(param.size() + 1).str()
                                   : "state" + std::to_string(k);
          std::string name = "dp" + std::to_string(g) + "." + suffix;
          Builder b(ctx);
          auto type = RankedTensorType::get({group.count / dp->ranks}, b.getF32Type());
          int64_t at =
              layout.add(name, "state", type, {b.getNamedAttr("init", b.getStringAttr("zeros"))});
          group.stateOffsets.push_back(at);
          dpStates[g].push_back(
              b.getDictionaryAttr({b.getNamedAttr("suffix", b.getStringAttr(suffix)),
                                   b.getNamedAttr("region", b.getStringAttr(name))}));
          for (StringRef s : column) {
            fixedOffsets[s] = at;
            noRegion.insert(s);
          }
          continue;
        }
        SmallVector<int64_t> bytes;
        for (StringRef sym : column)
          bytes.push_back(byteSize(cast<ShapedType>(paramsByName.lookup(sym).getType())));
        int64_t columnBytes = std::accumulate(bytes.begin(), bytes.end(), int64_t(0));
        if (dp && k == 0)
          columnBytes = std::max(columnBytes, dp->groups[g].count * 4); // padding
        int64_t at = layout.reserve(columnBytes);
        if (dp && k == 0)
          dp->groupAt[at] = g;
        for (auto [sym, size] : llvm::zip(column, bytes)) {
          fixedOffsets[sym] = at;
          at += size;
        }
      }
    };
    for (ParamOp p : model.getOps<ParamOp>()) {
      auto group = groupOf.find(p.getSymName());
      if (group != groupOf.end() && !fixedOffsets.count(p.getSymName()))
        placeGroup(group->second);
      if (noRegion.contains(p.getSymName())) {
        // Its param_ref's view is never accessed: the sharded update writes
        // the dp<g>.<state> region (lowerFlatUpdate; anything else is an
        // error with data parallelism).
        paramOffsets[p.getSymName()] = fixedOffsets.lookup(p.getSymName());
        continue;
      }
      auto type = cast<RankedTensorType>(p.getType());
      StringRef kind = p.getBuffer() ? "buffer" : p.getState() ? "state" : "param";
      Builder b(ctx);
      SmallVector<NamedAttribute> init = {
          b.getNamedAttr("init", b.getStringAttr(stringifyNNInit(p.getInit())))};
      if (p.getScale())
        init.push_back(b.getNamedAttr("scale", p.getScaleAttr()));
      std::optional<int64_t> at;
      if (auto fixed = fixedOffsets.find(p.getSymName()); fixed != fixedOffsets.end())
        at = fixed->second;
      paramOffsets[p.getSymName()] = layout.add(p.getSymName(), kind, type, init, at);
    }

    SmallVector<func::FuncOp> sources(model.getOps<func::FuncOp>());
    for (func::FuncOp fn : sources) {
      if (fn.isExternal())
        continue;
      for (Type t : llvm::concat<const Type>(fn.getArgumentTypes(), fn.getResultTypes()))
      {
        if (!cast<ShapedType>(t).hasStaticShape())
          return fn.emitError("the CPU backend needs static shapes; run "
                              "-nn-infer-shapes=batch=N first");
        if (!cast<ShapedType>(t).getElementType().isIntOrFloat())
          return fn.emitError("entry arguments and results must have integer or "
                              "floating-point elements, not ")
                 << t;
      }
      SmallVector<int64_t> inputOffsets, outputOffsets;
      std::string prefix = fn.getSymName().str() + ".";
      for (unsigned i = 0; i < fn.getNumArguments(); ++i)
        inputOffsets.push_back(layout.add(prefix + ioName(fn, i, false), "input",
                                          cast<ShapedType>(fn.getArgumentTypes()[i])));
      for (unsigned i = 0; i < fn.getNumResults(); ++i)
        outputOffsets.push_back(layout.add(prefix + ioName(fn, i, true), "output",
                                           cast<ShapedType>(fn.getResultTypes()[i])));

      OpBuilder b(fn);
      auto arenaType = MemRefType::get({ShapedType::kDynamic}, b.getI8Type());
      auto entry = func::FuncOp::create(b, fn.getLoc(), ("nnc_" + fn.getSymName()).str(),
                                        b.getFunctionType({arenaType}, {}));
      entry->setAttr("llvm.emit_c_interface", b.getUnitAttr());
      entry.addEntryBlock();
      FunctionLowering lowering(model, entry, paramOffsets);
      lowering.library = library;
      lowering.dataParallel = dp ? &*dp : nullptr;
      if (checkNumerics)
        lowering.setNumericsTable(&numericsOps);
      if (failed(lowering.lowerBody(fn, inputOffsets, outputOffsets)))
        return failure();
      fn.erase();
    }
    // The nn.param symbols are now plain arena regions.
    for (ParamOp p : llvm::make_early_inc_range(model.getOps<ParamOp>()))
      p.erase();
    model->setAttr("nn.layout", layout.attr());
    if (dp)
      model->setAttr(kDataParallelAttr, dataParallelTable(model, *dp, groups, paramOffsets));
    if (checkNumerics) {
      SmallVector<Attribute> ops;
      for (const std::string &op : numericsOps)
        ops.push_back(StringAttr::get(ctx, op));
      model->setAttr("nn.numerics_ops", ArrayAttr::get(ctx, ops));
    }
    model->setAttr("nn.persistent_bytes",
                   IntegerAttr::get(IntegerType::get(ctx, 64), layout.size()));
    return success();
  }
};

} // namespace
