//===- CPUPipeline.cpp - From a static nn model to a native artifact ------===//

#include "codegen/CPUPipeline.h"

#include "codegen/FlatUpdate.h"
#include "codegen/GPUMapping.h"
#include "codegen/KernelLoops.h"
#include "codegen/Passes.h"

#include "dialect/NNOps.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/DiagnosticPrinter.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

using namespace mlir;

namespace {

/// The pipeline (on a builtin.module) from the kernel IR (-nn-kernel-loops),
/// after mapKernelsToCPU, to OpenMP: each remaining scf.parallel becomes an
/// omp.parallel region around an omp.wsloop (one fork per kernel). The
/// canonicalize after the conversion inlines the memref.alloca_scope it puts
/// around each loop body (convert-scf-to-cf cannot put the body's loops
/// into a single-block scope).
constexpr const char *kToOpenMPPipeline =
    "canonicalize,cse,convert-scf-to-openmp,canonicalize";

/// The pipeline from there to the LLVM dialect. expand-strided-metadata
/// computes the sizes and strides of views of dynamic shapes (the gate
/// functions' rows) with affine.apply: lowered by the second lower-affine.
/// convert-vector-to-llvm: the vector loads and stores of the GPU-mapped
/// kernels (-nn-gpu-map's vector-width) that --gpu-emulate runs.
constexpr const char *kToLLVMPipeline =
    "lower-affine,convert-scf-to-cf,expand-strided-metadata,lower-affine,convert-math-to-llvm,"
    "convert-math-to-libm,convert-vector-to-llvm,convert-openmp-to-llvm,finalize-memref-to-llvm,"
    "convert-arith-to-llvm,convert-index-to-llvm,convert-func-to-llvm,"
    "convert-cf-to-llvm,reconcile-unrealized-casts";

/// Kernels that execute fewer operations (nnc::estimateWork) than this run
/// on the calling thread: below it, forking the OpenMP team costs more than
/// the second thread saves (measured in docs/design.md, "One kernel IR, two
/// targets").
constexpr int64_t kMinParallelWork = 1 << 22;

/// Loops of fewer iterations than this are vectorized only when told to:
/// LLVM's loop vectorizer skips loops with a known trip count below 16
/// unless no scalar remainder is needed, e.g. a 14-wide pooling row.
constexpr int64_t kShortLoop = 16;

/// Asks LLVM to vectorize the element loop `loop` (an innermost parallel
/// dimension, so its iterations are independent) if it is short: 4 to 15
/// iterations.
void markShortLoopVectorizable(scf::ForOp loop) {
  std::optional<APInt> trips = loop.getStaticTripCount();
  if (!trips || trips->getSExtValue() < 4 || trips->getSExtValue() >= kShortLoop)
    return;
  MLIRContext *ctx = loop.getContext();
  auto vectorize = LLVM::LoopVectorizeAttr::get(
      ctx, /*disable=*/BoolAttr::get(ctx, false), {}, {}, {}, {}, {}, {});
  loop->setAttr("llvm.loop_annotation",
                LLVM::LoopAnnotationAttr::get(ctx, {}, vectorize, {}, {}, {}, {}, {}, {}, {},
                                              {}, {}, {}, {}, {}, {}));
}

/// Moves the loop annotations that convert-scf-to-cf copies onto the back
/// edge of a loop as the discardable `llvm.loop_annotation` into the
/// branch's own `loop_annotation`, which the translation to LLVM IR reads.
void attachLoopAnnotations(ModuleOp module) {
  module.walk([](Operation *op) {
    auto annotation = op->getAttrOfType<LLVM::LoopAnnotationAttr>("llvm.loop_annotation");
    if (!annotation)
      return;
    op->removeAttr("llvm.loop_annotation");
    if (auto br = dyn_cast<LLVM::BrOp>(op))
      br.setLoopAnnotationAttr(annotation);
    else if (auto condBr = dyn_cast<LLVM::CondBrOp>(op))
      condBr.setLoopAnnotationAttr(annotation);
  });
}

/// Maps the kernel IR's scf.parallel nests onto the CPU: a nest with less
/// work than kMinParallelWork becomes scf.for loops; a larger one keeps only
/// its outermost scf.parallel (the tiles, shared out by OpenMP), and the
/// loops over the elements of a tile become scf.for loops, the innermost of
/// which LLVM vectorizes (told to where it is short:
/// markShortLoopVectorizable).
LogicalResult mapKernelsToCPU(ModuleOp module) {
  SmallVector<scf::ParallelOp> kernels;
  module.walk([&](scf::ParallelOp loop) {
    if (!loop->getParentOfType<scf::ParallelOp>())
      kernels.push_back(loop);
  });
  IRRewriter rewriter(module.getContext());
  for (scf::ParallelOp kernel : kernels) {
    bool threaded = nnc::estimateWork(kernel) >= kMinParallelWork;
    SmallVector<scf::ParallelOp> sequential;
    kernel.walk([&](scf::ParallelOp loop) {
      if (loop != kernel || !threaded)
        sequential.push_back(loop);
    });
    for (scf::ParallelOp loop : sequential) {
      bool innermost = true;
      loop.getBody()->walk([&](scf::ParallelOp) { innermost = false; });
      rewriter.setInsertionPoint(loop);
      FailureOr<scf::LoopNest> nest = scf::parallelForToNestedFors(rewriter, loop);
      if (failed(nest))
        return loop.emitError("internal error: cannot make a parallel loop sequential");
      if (innermost && !nest->loops.empty())
        markShortLoopVectorizable(nest->loops.back());
    }
  }
  return success();
}

/// Drops the barrier at the end of each worksharing loop that ends its
/// parallel region: the region's join waits for every thread anyway.
void dropRedundantBarriers(ModuleOp module) {
  module.walk([](omp::WsloopOp loop) {
    Operation *next = loop->getNextNode();
    if (isa_and_nonnull<omp::ParallelOp>(loop->getParentOp()) && next &&
        next->hasTrait<OpTrait::IsTerminator>())
      loop.setNowait(true);
  });
}

/// Replaces the transcendental functions of the kernels (exp, log, tanh,
/// erf and their relatives) by MLIR's polynomial approximations: arith ops
/// only, which LLVM vectorizes with the loop around them. Left to
/// convert-math-to-llvm/-libm, each would be a scalar libm call per element
/// (LLVM has no vector library here). The approximations handle the whole
/// f32 range, infinities and NaN (test/unit/GeneratedKernelTest.cpp checks
/// them against libm).
LogicalResult approximateMath(ModuleOp module) {
  RewritePatternSet patterns(module.getContext());
  auto approximated = [](StringRef name) {
    return llvm::is_contained({math::ExpOp::getOperationName(),
                               math::ExpM1Op::getOperationName(),
                               math::LogOp::getOperationName(),
                               math::Log1pOp::getOperationName(),
                               math::Log2Op::getOperationName(),
                               math::TanhOp::getOperationName(),
                               math::ErfOp::getOperationName()},
                              name);
  };
  populateMathPolynomialApproximationPatterns(patterns, approximated);
  return applyPatternsGreedily(module, std::move(patterns));
}

llvm::json::Value toJSON(Attribute attr) {
  if (auto i = dyn_cast<IntegerAttr>(attr))
    return i.getType().isInteger(1) ? llvm::json::Value(i.getValue().getBoolValue())
                                    : llvm::json::Value(i.getInt());
  if (auto f = dyn_cast<FloatAttr>(attr))
    return f.getValueAsDouble();
  if (auto s = dyn_cast<StringAttr>(attr))
    return s.str();
  if (auto b = dyn_cast<BoolAttr>(attr))
    return b.getValue();
  if (auto a = dyn_cast<DenseI64ArrayAttr>(attr)) {
    llvm::json::Array arr;
    for (int64_t v : a.asArrayRef())
      arr.push_back(v);
    return arr;
  }
  if (auto a = dyn_cast<ArrayAttr>(attr)) {
    llvm::json::Array arr;
    for (Attribute e : a)
      arr.push_back(toJSON(e));
    return arr;
  }
  if (auto d = dyn_cast<DictionaryAttr>(attr)) {
    llvm::json::Object obj;
    for (NamedAttribute na : d)
      obj[na.getName().str()] = toJSON(na.getValue());
    return obj;
  }
  if (isa<UnitAttr>(attr))
    return true;
  return nullptr;
}

/// The layer name of `op` (its `name` attribute), for messages.
std::string layerName(Operation *op) {
  auto name = op->getAttrOfType<StringAttr>("name");
  return name ? name.str() : op->getName().stripDialect().str();
}

/// The batches the training loop must not hand to `model` (docs/abi.md):
/// `min_train_batch` when a training-mode batchnorm has one value per
/// channel at a batch of 1 ([N, C] input), `batch_coupled` when a layer
/// normalizes over the batch dimension (the padding rows of a partial batch
/// would change the real rows' results).
llvm::json::Object batchLimits(ModuleOp model) {
  llvm::json::Object limits;
  model.walk([&](Operation *op) {
    if (auto bn = dyn_cast<nn::BatchNormTrainOp>(op)) {
      auto shape = cast<ShapedType>(bn.getInput().getType()).getShape();
      int64_t perSample = 1;
      for (size_t i = 2; i < shape.size(); ++i)
        perSample *= shape[i];
      if (perSample == 1 && !limits.get("min_train_batch"))
        limits["min_train_batch"] =
            llvm::json::Object{{"batch", 2}, {"layer", layerName(op)}};
    }
    if (isa<nn::SoftmaxOp, nn::LogSoftmaxOp>(op) &&
        cast<IntegerAttr>(op->getAttr("dim")).getInt() == 0 &&
        !limits.get("batch_coupled"))
      limits["batch_coupled"] = layerName(op);
  });
  // The token vocabulary: the rows of the embedding that reads a model
  // input (the data readers check token ids against it).
  model.walk([&](nn::EmbeddingOp e) {
    if (isa<BlockArgument>(e.getIds()) && !limits.get("vocab"))
      limits["vocab"] = e.getTable().getType().getDimSize(0);
  });
  return limits;
}

/// The arena offset of the buffer behind `pointer`, a pointer that
/// FunctionLowering::ptr computed from views of the arena at constant
/// offsets (as -nn-plan-memory places the temporaries); none otherwise.
std::optional<int64_t> arenaOffsetOf(Value pointer) {
  auto toPtr = pointer.getDefiningOp<LLVM::IntToPtrOp>();
  auto asInt = toPtr ? toPtr.getArg().getDefiningOp<arith::IndexCastOp>() : nullptr;
  if (!asInt)
    return std::nullopt;
  // base + offset * element size, the offset (0 for a view) folded or not.
  Value address = asInt.getIn();
  if (auto add = address.getDefiningOp<arith::AddIOp>())
    address = add.getLhs();
  auto base = address.getDefiningOp<memref::ExtractAlignedPointerAsIndexOp>();
  if (!base)
    return std::nullopt;
  Value buffer = base.getSource();
  int64_t offset = 0;
  while (auto view = buffer.getDefiningOp<memref::ViewOp>()) {
    std::optional<int64_t> shift = getConstantIntValue(view.getByteShift());
    if (!shift)
      return std::nullopt;
    offset += *shift;
    buffer = view.getSource();
  }
  if (!isa<BlockArgument>(buffer))
    return std::nullopt;
  return offset;
}

/// The table's `data_parallel` (-nn-lower-to-buffers' `nn.data_parallel`)
/// with each group's `grad_offset`: where the memory plan put the gradient
/// buffer that train_step hands to nnc_dp_reduce_gradients.
llvm::json::Value dataParallelInfo(ModuleOp model, Attribute attr) {
  llvm::json::Value table = toJSON(attr);
  llvm::json::Array *groups =
      table.getAsObject() ? table.getAsObject()->getArray("groups") : nullptr;
  if (!groups)
    return table;
  model.walk([&](func::CallOp call) {
    if (call.getCallee() != nnc::codegen::kDpReduceFunction || call.getNumOperands() != 4)
      return;
    std::optional<int64_t> group = getConstantIntValue(call.getOperand(0));
    std::optional<int64_t> offset = arenaOffsetOf(call.getOperand(1));
    if (group && offset && *group >= 0 && size_t(*group) < groups->size())
      if (llvm::json::Object *entry = (*groups)[*group].getAsObject())
        (*entry)["grad_offset"] = *offset;
  });
  return table;
}

/// The model table the runtime reads (docs/abi.md).
llvm::json::Object modelInfo(ModuleOp model, ArrayRef<std::string> entries,
                             llvm::json::Object limits) {
  llvm::json::Object info = std::move(limits);
  info["format"] = "nnc-model";
  info["version"] = 1;
  info["model"] = model.getSymName() ? model.getSymName()->str() : "model";
  for (StringRef key : {"nn.arena_bytes", "nn.persistent_bytes"})
    if (Attribute a = model->getAttr(key))
      info[key.drop_front(3).str()] = toJSON(a);
  for (StringRef key : {"nn.hparams", "nn.train", "nn.layout", "nn.numerics_ops"})
    if (Attribute a = model->getAttr(key))
      info[key == "nn.layout" ? "regions" : key.drop_front(3).str()] = toJSON(a);
  if (model->hasAttr("nn.generated_matmul"))
    info["generated_matmul"] = true;
  if (Attribute dp = model->getAttr(nnc::codegen::kDataParallelAttr))
    info["data_parallel"] = dataParallelInfo(model, dp);
  // A reduced-precision model (-nn-autocast): its weights file's type.
  if (auto precision = model->getAttrOfType<StringAttr>("nn.precision"))
    info["precision"] = precision.getValue();
  llvm::json::Array entryArray;
  for (const std::string &e : entries)
    entryArray.push_back(e);
  info["entries"] = std::move(entryArray);
  return info;
}

} // namespace

LogicalResult nnc::runPipeline(ModuleOp module, StringRef pipeline) {
  PassManager pm(module.getContext(), ModuleOp::getOperationName());
  if (failed(parsePassPipeline(pipeline, pm)))
    return emitError(module.getLoc(), "internal error: cannot parse the pipeline ") << pipeline;
  return pm.run(module);
}

void nnc::addLinalgStages(OpPassManager &pm, bool fuse) {
  if (fuse)
    pm.addPass(nnc::createNNFoldBatchNorm());
  pm.addPass(nnc::createNNLowerToLinalg());
  nnc::NNFuseOptions fuseOptions;
  fuseOptions.enable = fuse;
  pm.addPass(nnc::createNNFuse(fuseOptions));
}

/// Adds the stages after the linalg ones up to the planned kernel IR:
/// buffers and the memory plan.
static void addPlanStages(OpPassManager &pm, bool checkNumerics, bool gpuTarget) {
  nnc::NNLowerToBuffersOptions bufferOptions;
  bufferOptions.checkNumerics = checkNumerics;
  bufferOptions.target = gpuTarget ? "gpu" : "cpu";
  pm.addPass(nnc::createNNLowerToBuffers(bufferOptions));
  pm.addPass(nnc::createNNPlanMemory());
}

/// Adds the stages up to the planned kernel IR: linalg, fusion, buffers and
/// the memory plan.
static void addBufferStages(OpPassManager &pm, bool checkNumerics, bool fuse,
                            bool gpuTarget = false) {
  // Checking numerics needs every layer's output, and a library's relu
  // epilogue turns a NaN into 0: no fusion then.
  nnc::addLinalgStages(pm, fuse && !checkNumerics);
  addPlanStages(pm, checkNumerics, gpuTarget);
}

/// A copy of `model` lowered up to the planned kernel IR.
static FailureOr<OwningOpRef<ModuleOp>> plannedCopy(ModuleOp model, bool checkNumerics, bool fuse,
                                                    bool gpuTarget, bool verify = true) {
  OwningOpRef<ModuleOp> standalone(cast<ModuleOp>(model->clone()));
  PassManager pm(model.getContext(), ModuleOp::getOperationName());
  pm.enableVerifier(verify);
  addBufferStages(pm, checkNumerics, fuse, gpuTarget);
  if (failed(pm.run(*standalone)))
    return failure();
  return standalone;
}

FailureOr<nnc::MemoryPlan> nnc::planModelMemory(ModuleOp model, bool fuse, bool gpuTarget,
                                                bool verify) {
  auto planned = plannedCopy(model, /*checkNumerics=*/false, fuse, gpuTarget, verify);
  if (failed(planned))
    return failure();
  return readMemoryPlan(**planned);
}

LogicalResult nnc::lowerToLinalg(ModuleOp model, bool fuse, bool verify) {
  PassManager pm(model.getContext(), ModuleOp::getOperationName());
  pm.enableVerifier(verify);
  addLinalgStages(pm, fuse);
  return pm.run(model);
}

FailureOr<nnc::MemoryPlan> nnc::planLinalgMemory(ModuleOp model, bool gpuTarget, bool verify) {
  PassManager pm(model.getContext(), ModuleOp::getOperationName());
  pm.enableVerifier(verify);
  addPlanStages(pm, /*checkNumerics=*/false, gpuTarget);
  if (failed(pm.run(model)))
    return failure();
  return readMemoryPlan(model);
}

void nnc::loadLinalgPlanDialects(MLIRContext *context, bool fuse, bool gpuTarget) {
  PassManager pm(context, ModuleOp::getOperationName());
  addLinalgStages(pm, fuse);
  addPlanStages(pm, /*checkNumerics=*/false, gpuTarget);
  DialectRegistry registry;
  pm.getDependentDialects(registry);
  context->appendDialectRegistry(registry);
  for (StringRef name : registry.getDialectNames())
    context->getOrLoadDialect(name);
}

FailureOr<nnc::ArenaSize> nnc::planArena(ModuleOp model, bool checkNumerics, bool fuse,
                                         bool gpuTarget, bool verify) {
  auto planned = plannedCopy(model, checkNumerics, fuse, gpuTarget, verify);
  if (failed(planned))
    return failure();
  auto arena = (**planned)->getAttrOfType<IntegerAttr>("nn.arena_bytes");
  auto persistent = (**planned)->getAttrOfType<IntegerAttr>("nn.persistent_bytes");
  if (!arena || !persistent)
    return emitError(model.getLoc(), "internal error: the memory plan has no arena size");
  return ArenaSize{arena.getInt(), persistent.getInt()};
}

FailureOr<nnc::KernelIR> nnc::lowerModelToKernelIR(ModuleOp model, bool checkNumerics, bool fuse,
                                                   bool gpuTarget) {
  llvm::json::Object limits = batchLimits(model);
  OwningOpRef<ModuleOp> standalone(cast<ModuleOp>(model->clone()));
  // The nested-module markers of nnc's multi-model files do not apply here.
  PassManager pm(model.getContext(), ModuleOp::getOperationName());
  addBufferStages(pm, checkNumerics, fuse, gpuTarget);
  pm.addPass(nnc::createNNKernelLoops());
  if (failed(pm.run(*standalone)))
    return failure();
  std::vector<std::string> entries;
  for (auto fn : standalone->getOps<func::FuncOp>())
    if (fn->hasAttr("llvm.emit_c_interface"))
      entries.push_back(fn.getSymName().drop_front(4).str()); // strip "nnc_"
  llvm::json::Object info = modelInfo(*standalone, entries, std::move(limits));
  return KernelIR{std::move(standalone), std::move(info)};
}

void nnc::addModelTable(ModuleOp module, llvm::json::Object info) {
  // The model table: a NUL-terminated JSON string.
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::json::Value(std::move(info));
  text.push_back('\0');
  OpBuilder b(module.getContext());
  b.setInsertionPointToEnd(module.getBody());
  auto type = LLVM::LLVMArrayType::get(b.getI8Type(), text.size());
  LLVM::GlobalOp::create(b, module.getLoc(), type, /*isConstant=*/true, LLVM::Linkage::External,
                         "nnc_model_info", b.getStringAttr(text));
  // Drop the attributes that only the nn passes understand.
  for (StringRef key :
       {"nn.layout", "nn.hparams", "nn.train", "nn.model", "nn.arena_bytes", "nn.persistent_bytes",
        "nn.numerics_ops", "nn.generated_matmul", "nn.precision", "nn.data_parallel"})
    module->removeAttr(key);
}

FailureOr<OwningOpRef<ModuleOp>> nnc::lowerModelToLLVM(ModuleOp model, bool checkNumerics,
                                                       bool fuse, bool gpuEmulate,
                                                       bool blockReductions) {
  FailureOr<KernelIR> kernelIR = lowerModelToKernelIR(model, checkNumerics, fuse);
  if (failed(kernelIR))
    return failure();
  OwningOpRef<ModuleOp> standalone = std::move(kernelIR->module);
  if (gpuEmulate) {
    // The kernels the GPU back end launches, run as loops over their block
    // and thread ids.
    PassManager pm(model.getContext(), ModuleOp::getOperationName());
    nnc::addGPUMappingStages(pm, blockReductions);
    pm.addPass(nnc::createNNGPULaunchToLoops());
    if (failed(pm.run(*standalone)))
      return failure();
  }
  // One function per distinct kernel (docs/design.md, "Compile time").
  if (failed(runPipeline(*standalone, "nn-outline-kernels")))
    return failure();
  if (failed(mapKernelsToCPU(*standalone)))
    return failure();
  if (failed(runPipeline(*standalone, kToOpenMPPipeline)))
    return failure();
  dropRedundantBarriers(*standalone);
  if (failed(approximateMath(*standalone)))
    return emitError(model.getLoc(), "internal error: cannot approximate the math functions");
  if (failed(runPipeline(*standalone, kToLLVMPipeline)))
    return failure();
  attachLoopAnnotations(*standalone);
  nnc::markNoAliasArguments(*standalone);
  addModelTable(*standalone, std::move(kernelIR->info));
  return standalone;
}

LogicalResult nnc::emitObjectFile(ModuleOp llvmModule, StringRef path, unsigned optLevel) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  // The host code of a GPU artifact: gpu.binary and gpu.launch_func.
  registerGPUDialectTranslation(registry);
  gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  llvmModule.getContext()->appendDialectRegistry(registry);

  llvm::LLVMContext llvmContext;
  // A short loop that markShortLoopVectorizable asked LLVM to vectorize but
  // that it cannot (an inner loop left, a reduction in order) stays as it
  // was: not the user's business, so no "loop not vectorized" warning (and,
  // as with LLVM's default handler, no optimization remarks).
  llvmContext.setDiagnosticHandlerCallBack(
      [](const llvm::DiagnosticInfo *info, void *) {
        if (info->getKind() == llvm::DK_OptimizationFailure ||
            info->getSeverity() == llvm::DS_Remark || info->getSeverity() == llvm::DS_Note)
          return;
        llvm::DiagnosticPrinterRawOStream printer(llvm::errs());
        llvm::errs() << llvm::LLVMContext::getDiagnosticMessagePrefix(info->getSeverity())
                     << ": ";
        info->print(printer);
        llvm::errs() << "\n";
      },
      nullptr);
  std::unique_ptr<llvm::Module> module = translateModuleToLLVMIR(llvmModule, llvmContext);
  if (!module)
    return emitError(llvmModule.getLoc(), "cannot translate the model to LLVM IR");

  llvm::Triple triple(llvm::sys::getProcessTriple());
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return emitError(llvmModule.getLoc(), "no LLVM target for the host: ") << error;
  llvm::SubtargetFeatures features;
  for (const auto &[name, enabled] : llvm::sys::getHostCPUFeatures())
    features.AddFeature(name, enabled);
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, llvm::sys::getHostCPUName(), features.getString(), options, llvm::Reloc::PIC_,
      std::nullopt,
      optLevel == 0 ? llvm::CodeGenOptLevel::None : llvm::CodeGenOptLevel::Aggressive));
  module->setDataLayout(machine->createDataLayout());
  module->setTargetTriple(triple);

  auto optimize = makeOptimizingTransformer(optLevel, /*sizeLevel=*/0, machine.get());
  if (llvm::Error err = optimize(module.get()))
    return emitError(llvmModule.getLoc(), "LLVM optimization failed: ")
           << llvm::toString(std::move(err));

  std::error_code ec;
  llvm::ToolOutputFile out(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return emitError(llvmModule.getLoc(), "cannot write '") << path << "': " << ec.message();
  llvm::legacy::PassManager codegen;
  if (machine->addPassesToEmitFile(codegen, out.os(), nullptr,
                                   llvm::CodeGenFileType::ObjectFile))
    return emitError(llvmModule.getLoc(), "the host target cannot emit objects");
  codegen.run(*module);
  out.keep();
  return success();
}

LogicalResult nnc::linkSharedLibrary(StringRef objectPath, StringRef outputPath,
                                     const ArtifactOptions &options, Location loc) {
  std::string linker = options.linker;
  if (linker.empty())
    for (const char *name : {"clang-22", "clang", "cc"})
      if (auto found = llvm::sys::findProgramByName(name)) {
        linker = *found;
        break;
      }
  if (linker.empty())
    return emitError(loc, "no linker found (looked for clang-22, clang, cc)");
  std::string libDir = "-L" + options.runtimeLibDir;
  // RUNPATH: the artifact's own directory first (a shipped copy next to a
  // copy of the runtime), then the runtime nnc was built with.
  std::string rpath = "-Wl,-rpath,$ORIGIN:" + options.runtimeLibDir;
  SmallVector<StringRef> args = {linker,     "-shared", "-o",
                                 outputPath, objectPath, libDir,
                                 "-lnnc_runtime", rpath, "-Wl,--enable-new-dtags"};
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(linker, args, std::nullopt, {}, 0, 0, &error);
  if (rc != 0)
    return emitError(loc, "linking '") << outputPath << "' failed"
                                       << (error.empty() ? "" : ": ") << error;
  return success();
}

LogicalResult nnc::writeArtifact(ModuleOp llvmModule, StringRef outputPath,
                                 const ArtifactOptions &options, Location loc) {
  SmallString<128> object;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("nnc", "o", object))
    return emitError(loc, "cannot create a temporary file: ") << ec.message();
  llvm::scope_exit removeObject([&] { llvm::sys::fs::remove(object); });
  if (failed(emitObjectFile(llvmModule, object, options.optLevel)))
    return failure();
  return linkSharedLibrary(object, outputPath, options, loc);
}

LogicalResult nnc::buildArtifact(ModuleOp model, StringRef outputPath,
                                 const ArtifactOptions &options) {
  auto lowered = lowerModelToLLVM(model, options.checkNumerics, options.fuse, options.gpuEmulate,
                                  options.gpuBlockReductions);
  if (failed(lowered))
    return failure();
  return writeArtifact(**lowered, outputPath, options, model.getLoc());
}
