//===- GPUPipeline.cpp - From a static nn model to a GPU artifact ---------===//

#include "codegen/GPUPipeline.h"

#include "codegen/GPUMapping.h"
#include "codegen/GPUReductions.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Regex.h"

using namespace mlir;

namespace {

/// The name of the one kernel module of a GPU artifact.
constexpr llvm::StringLiteral kKernelModule = "nnc_kernels";

/// The stages from the mapped host code and its kernels to the kernels in
/// the NVVM dialect (the host code keeps its scf/memref/func ops, and the
/// kernels' math functions become calls of libdevice's __nv_* functions).
/// Upstream's gpu-lower-to-nvvm-pipeline, less the host's math, whose
/// libm lowering must not reach the kernels.
constexpr const char *kKernelsToNVVM =
    "lower-affine,convert-scf-to-cf,expand-strided-metadata,lower-affine,"
    "gpu.module(int-range-optimizations,canonicalize,convert-gpu-to-nvvm,canonicalize,cse,"
    "reconcile-unrealized-casts)";

/// The host code to the LLVM dialect (as the CPU's, with gpu-to-llvm for the
/// launches: calls of the runtime's mgpu* functions).
constexpr const char *kHostToLLVM =
    "convert-math-to-llvm,convert-math-to-libm,finalize-memref-to-llvm,convert-arith-to-llvm,"
    "convert-index-to-llvm,convert-func-to-llvm,convert-cf-to-llvm,gpu-to-llvm,"
    "reconcile-unrealized-casts";

/// Moves the kernels of every outlined gpu.module (gpu-kernel-outlining
/// makes one per launch, each kernel named after its function) into one
/// gpu.module @nnc_kernels, each kernel renamed after its old module, and
/// points the launches at them: one PTX module, one ptxas run per
/// architecture, one module load at run time.
LogicalResult mergeKernelModules(ModuleOp module) {
  SmallVector<gpu::GPUModuleOp> outlined(module.getOps<gpu::GPUModuleOp>());
  if (outlined.empty())
    return success();
  OpBuilder b(outlined.front());
  auto merged = gpu::GPUModuleOp::create(b, outlined.front().getLoc(), kKernelModule);
  SymbolTable mergedSymbols(merged);
  llvm::DenseMap<Attribute, SymbolRefAttr> renamed;
  for (gpu::GPUModuleOp old : outlined) {
    SmallVector<Operation *> ops;
    for (Operation &op : old.getBody()->without_terminator())
      ops.push_back(&op);
    auto kernels = old.getOps<gpu::GPUFuncOp>();
    bool single = std::distance(kernels.begin(), kernels.end()) == 1;
    for (Operation *op : ops) {
      auto fn = dyn_cast<gpu::GPUFuncOp>(op);
      if (!fn)
        return op->emitError("internal error: an outlined kernel module holds more than kernels");
      SymbolRefAttr oldRef =
          SymbolRefAttr::get(old.getNameAttr(), {FlatSymbolRefAttr::get(fn.getNameAttr())});
      std::string name = single ? old.getName().str() : (old.getName() + "_" + fn.getName()).str();
      op->remove();
      fn.setName(name);
      mergedSymbols.insert(op); // renames on a clash
      renamed[oldRef] =
          SymbolRefAttr::get(merged.getNameAttr(), {FlatSymbolRefAttr::get(fn.getNameAttr())});
    }
    old.erase();
  }
  WalkResult result = module.walk([&](gpu::LaunchFuncOp launch) {
    auto it = renamed.find(launch.getKernel());
    if (it == renamed.end()) {
      launch.emitError("internal error: a launch of an unknown kernel");
      return WalkResult::interrupt();
    }
    launch.setKernelAttr(it->second);
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

/// Makes the host code's copies between buffers of the arena (a device
/// allocation on the GPU) device-to-device copies on the runtime's stream
/// (mgpuMemcpy, synchronized as a launch is): `memref.copy` would become a
/// host memcpy of device memory. gpu-to-llvm copies bytes: a copy of a
/// non-contiguous buffer is an internal error.
LogicalResult copiesToGPU(ModuleOp module) {
  SmallVector<memref::CopyOp> copies;
  module.walk([&](memref::CopyOp copy) {
    if (!copy->getParentOfType<gpu::GPUModuleOp>())
      copies.push_back(copy);
  });
  auto token = gpu::AsyncTokenType::get(module.getContext());
  for (memref::CopyOp copy : copies) {
    auto source = dyn_cast<MemRefType>(copy.getSource().getType());
    auto target = dyn_cast<MemRefType>(copy.getTarget().getType());
    if (!source || !target || !memref::isStaticShapeAndContiguousRowMajor(source) ||
        !memref::isStaticShapeAndContiguousRowMajor(target))
      return copy.emitError("internal error: a copy of a non-contiguous buffer on the host of "
                            "a GPU artifact");
    OpBuilder b(copy);
    Value start = gpu::WaitOp::create(b, copy.getLoc(), token, {}).getAsyncToken();
    Value copied =
        gpu::MemcpyOp::create(b, copy.getLoc(), token, {start}, copy.getTarget(), copy.getSource())
            .getAsyncToken();
    gpu::WaitOp::create(b, copy.getLoc(), Type(), {copied});
    copy.erase();
  }
  return success();
}

/// Fails on a kernel nest that the GPU mapping left on the host (upstream's
/// convert-parallel-loops-to-gpu leaves a nest it cannot map silently).
LogicalResult checkAllMapped(ModuleOp module) {
  WalkResult result = module.walk([](scf::ParallelOp loop) {
    if (loop->getParentOfType<gpu::GPUModuleOp>() || loop->getParentOfType<gpu::LaunchOp>())
      return WalkResult::advance();
    loop.emitError("internal error: a kernel nest was not mapped to the GPU");
    return WalkResult::interrupt();
  });
  return failure(result.wasInterrupted());
}

/// The PTX of the gpu.binary `binary`'s object (format isa).
StringRef ptxOf(gpu::BinaryOp binary) {
  auto object = cast<gpu::ObjectAttr>(binary.getObjects()[0]);
  return object.getObject().getValue();
}

/// Replaces the object of `binary` by `bytes` in `format`, for the same
/// target.
void replaceObject(gpu::BinaryOp binary, gpu::CompilationTarget format, StringRef bytes) {
  auto object = cast<gpu::ObjectAttr>(binary.getObjects()[0]);
  MLIRContext *ctx = binary.getContext();
  binary.setObjectsAttr(ArrayAttr::get(
      ctx, {gpu::ObjectAttr::get(object.getTarget(), format, StringAttr::get(ctx, bytes),
                                 object.getProperties(), object.getKernels())}));
}

/// The kernels (`.entry` names) of `ptx`, with the line each starts on.
SmallVector<std::pair<std::string, unsigned>> ptxKernels(StringRef ptx) {
  SmallVector<std::pair<std::string, unsigned>> kernels;
  SmallVector<StringRef> lines;
  ptx.split(lines, '\n');
  for (auto [i, line] : llvm::enumerate(lines)) {
    line = line.trim();
    if (!line.consume_front(".visible .entry ") && !line.consume_front(".entry "))
      continue;
    kernels.push_back(
        {line.take_until([](char c) { return c == '(' || c == ' '; }).str(), unsigned(i + 1)});
  }
  return kernels;
}

/// A tool of the CUDA toolkit at `toolkit`.
std::string toolPath(StringRef toolkit, StringRef tool) {
  SmallString<128> path(toolkit);
  llvm::sys::path::append(path, "bin", tool);
  return std::string(path);
}

/// The contents of `path`, or an empty string.
std::string readFile(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

/// The kernel of `ptx` that a ptxas message `log` points at ("line N"), for
/// errors; empty if none.
std::string kernelAt(StringRef ptx, StringRef log) {
  SmallVector<StringRef> match;
  unsigned line = 0;
  if (!llvm::Regex("line ([0-9]+)").match(log, &match) || match[1].getAsInteger(10, line))
    return "";
  std::string kernel;
  for (auto &[name, start] : ptxKernels(ptx))
    if (start <= line)
      kernel = name;
  return kernel;
}

/// Assembles the PTX of `binary` with ptxas for every architecture of
/// `cubins` and packs the PTX and cubins into one fatbin; replaces the
/// binary's object with it.
LogicalResult embedFatbin(gpu::BinaryOp binary, StringRef toolkit, StringRef ptxArch,
                          ArrayRef<StringRef> cubins) {
  Location loc = binary.getLoc();
  StringRef ptx = ptxOf(binary);
  SmallString<128> dir;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("nnc-gpu", dir))
    return emitError(loc, "cannot create a temporary directory: ") << ec.message();
  llvm::scope_exit removeDir([&] { llvm::sys::fs::remove_directories(dir); });
  auto file = [&](const Twine &name) {
    SmallString<128> path(dir);
    llvm::sys::path::append(path, name);
    return std::string(path);
  };
  std::string ptxPath = file("kernels.ptx");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(ptxPath, ec);
    if (ec)
      return emitError(loc, "cannot write '") << ptxPath << "': " << ec.message();
    os << ptx;
  }

  // ptxas for every architecture at once.
  std::string ptxas = toolPath(toolkit, "ptxas");
  struct Job {
    StringRef arch;
    std::string cubin, log;
    llvm::sys::ProcessInfo process;
  };
  std::vector<Job> jobs(cubins.size());
  for (auto [job, arch] : llvm::zip(jobs, cubins)) {
    job.arch = arch;
    job.cubin = file(arch + ".cubin");
    job.log = file(arch + ".log");
    std::string archFlag = ("-arch=" + arch).str();
    SmallVector<StringRef> args = {ptxas, "-O3", archFlag, ptxPath, "-o", job.cubin};
    std::optional<StringRef> redirects[] = {std::nullopt, StringRef(job.log), StringRef(job.log)};
    std::string error;
    job.process = llvm::sys::ExecuteNoWait(ptxas, args, std::nullopt, redirects, 0, &error);
    if (job.process.Pid == llvm::sys::ProcessInfo::InvalidPid)
      return emitError(loc, "cannot run '") << ptxas << "': " << error;
  }
  LogicalResult status = success();
  for (Job &job : jobs) {
    std::string error;
    llvm::sys::ProcessInfo done =
        llvm::sys::Wait(job.process, /*SecondsToWait=*/std::nullopt, &error);
    if (done.ReturnCode == 0 || failed(status))
      continue;
    std::string log = llvm::StringRef(readFile(job.log)).trim().str();
    std::string kernel = kernelAt(ptx, log);
    auto diag = emitError(loc, "ptxas -arch=") << job.arch << " failed";
    if (!kernel.empty())
      diag << " on kernel " << kernel;
    diag << ": " << (log.empty() ? error : log);
    status = failure();
  }
  if (failed(status))
    return failure();

  std::string fatbinPath = file("kernels.fatbin");
  std::string fatbinary = toolPath(toolkit, "fatbinary");
  std::vector<std::string> argStorage = {fatbinary, "-64", "--create=" + fatbinPath};
  argStorage.push_back(
      ("--image3=kind=ptx,sm=" + ptxArch.drop_front(3) + ",file=" + ptxPath).str());
  for (const Job &job : jobs)
    argStorage.push_back(
        ("--image3=kind=elf,sm=" + job.arch.drop_front(3) + ",file=" + job.cubin).str());
  SmallVector<StringRef> args(argStorage.begin(), argStorage.end());
  std::string logPath = file("fatbinary.log"), error;
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath), StringRef(logPath)};
  if (llvm::sys::ExecuteAndWait(fatbinary, args, std::nullopt, redirects, 0, 0, &error) != 0)
    return emitError(loc, "fatbinary failed: ")
           << (error.empty() ? StringRef(readFile(logPath)).trim().str() : error);
  std::string fatbin = readFile(fatbinPath);
  if (fatbin.empty())
    return emitError(loc, "fatbinary wrote no fatbin");
  replaceObject(binary, gpu::CompilationTarget::Fatbin, fatbin);
  return success();
}

/// Without a CUDA toolkit: embeds the PTX itself, NUL-terminated, as the
/// binary's object, so that the runtime's mgpuModuleLoad hands it to the
/// driver (cuModuleLoadData compiles PTX). Kernels that call libdevice
/// cannot be compiled without the toolkit's libdevice: an error.
LogicalResult embedPTX(gpu::BinaryOp binary) {
  std::string ptx = ptxOf(binary).str();
  // A declaration spans lines: `.extern .func (.param ...) __nv_expf`.
  llvm::SetVector<StringRef> externs;
  StringRef rest = ptx;
  while (true) {
    size_t at = rest.find(".extern .func");
    if (at == StringRef::npos)
      break;
    rest = rest.drop_front(at);
    size_t name = rest.find("__nv_");
    if (name == StringRef::npos)
      break;
    rest = rest.drop_front(name);
    externs.insert(rest.take_while([](char c) { return llvm::isAlnum(c) || c == '_'; }));
  }
  if (!externs.empty())
    return emitError(binary.getLoc(), "the kernels call libdevice (")
           << llvm::join(externs, ", ")
           << "), and no CUDA toolkit was found to link it from: set CUDA_ROOT";
  ptx.push_back('\0');
  replaceObject(binary, gpu::CompilationTarget::Binary, ptx);
  return success();
}

/// The cubin architectures of `arch` (--gpu-arch): the default sm_80 PTX
/// goes with sm_80 and sm_90 cubins.
SmallVector<StringRef> cubinArchs(StringRef arch) {
  if (arch == "sm_80")
    return {"sm_80", "sm_90"};
  return {arch};
}

/// Registers what the GPU lowering needs in `ctx`: the dialects' conversions
/// to LLVM (convert-gpu-to-nvvm converts every dialect through them), the
/// NVVM target's serialization and the translation of the kernels to LLVM IR.
void registerNVVMTarget(MLIRContext *ctx) {
  DialectRegistry registry;
  registerAllExtensions(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerBuiltinDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  ctx->appendDialectRegistry(registry);
}

/// lowerModelToGPU, also returning the model table in `info`.
FailureOr<OwningOpRef<ModuleOp>> lowerToGPU(ModuleOp model, nnc::GPUStage stage,
                                            const nnc::GPUOptions &options, bool checkNumerics,
                                            bool fuse, llvm::json::Object *info) {
  MLIRContext *ctx = model.getContext();
  registerNVVMTarget(ctx);
  // The library ops become calls of the GPU's (cuDNN, cuBLAS:
  // runtime/GpuKernels.h).
  FailureOr<nnc::KernelIR> kernelIR =
      nnc::lowerModelToKernelIR(model, checkNumerics, fuse, /*gpuTarget=*/true);
  if (failed(kernelIR))
    return failure();
  OwningOpRef<ModuleOp> module = std::move(kernelIR->module);
  if (info)
    *info = std::move(kernelIR->info);

  PassManager pm(ctx, ModuleOp::getOperationName());
  nnc::addGPUMappingStages(pm, options.blockReductions);
  // Constants sink into the launches before outlining: a kernel's bounds,
  // strides and splat vectors are then constants of its code, not
  // parameters.
  if (failed(parsePassPipeline(
          "lower-affine,gpu-launch-sink-index-computations,gpu-kernel-outlining", pm)))
    return emitError(model.getLoc(), "internal error: cannot parse gpu-kernel-outlining");
  if (failed(pm.run(*module)) || failed(checkAllMapped(*module)) ||
      failed(mergeKernelModules(*module)) || failed(copiesToGPU(*module)))
    return failure();
  if (stage == nnc::GPUStage::GPU)
    return module;

  std::string attach = "nvvm-attach-target{chip=" + options.arch + " features=+ptx80 O=3}";
  if (failed(nnc::lowerAllReduces(*module)) ||
      failed(nnc::runPipeline(*module, attach + "," + kKernelsToNVVM)))
    return failure();
  if (stage == nnc::GPUStage::NVVM)
    return module;

  if (failed(nnc::runPipeline(*module, kHostToLLVM)))
    return failure();
  std::optional<std::string> toolkit =
      options.toolkit.empty() ? nnc::findCUDAToolkit() : options.toolkit;
  std::string toBinary = "gpu-module-to-binary{format=isa";
  if (toolkit)
    toBinary += " toolkit=" + *toolkit;
  // Without a toolkit, MLIR's NVVM target reports the missing toolkit and
  // libdevice as errors but goes on; embedPTX rejects kernels that need
  // libdevice, with the reason.
  ScopedDiagnosticHandler quiet(ctx, [&](Diagnostic &diag) {
    std::string message = diag.str();
    return success(!toolkit && (StringRef(message).starts_with("CUDA path:") ||
                                StringRef(message).starts_with("LibDevice path:")));
  });
  if (failed(nnc::runPipeline(*module, toBinary + "}")))
    return failure();
  return module;
}

} // namespace

llvm::ArrayRef<llvm::StringRef> nnc::gpuArchNames() {
  static const llvm::StringRef names[] = {"sm_80", "sm_90"};
  return names;
}

std::optional<std::string> nnc::findCUDAToolkit() {
  // An explicit CUDA_ROOT is the only place looked at (set it to a directory
  // without ptxas to build without the toolkit).
  if (std::optional<std::string> root = llvm::sys::Process::GetEnv("CUDA_ROOT"))
    if (!root->empty())
      return llvm::sys::fs::can_execute(toolPath(*root, "ptxas")) ? std::optional(*root)
                                                                  : std::nullopt;
  SmallVector<std::string> candidates;
  if (std::optional<std::string> home = llvm::sys::Process::GetEnv("CUDA_HOME"))
    candidates.push_back(*home);
  if (auto ptxas = llvm::sys::findProgramByName("ptxas")) {
    SmallString<128> real;
    if (!llvm::sys::fs::real_path(*ptxas, real))
      candidates.push_back(
          std::string(llvm::sys::path::parent_path(llvm::sys::path::parent_path(real))));
  }
  candidates.push_back("/usr/local/cuda");
  // A toolkit has ptxas and libdevice: a `ptxas` on PATH may be a wrapper
  // script outside the toolkit (/usr/local/bin/ptxas exec'ing the real one),
  // whose grandparent directory has no nvvm/libdevice.
  for (const std::string &dir : candidates) {
    if (dir.empty() || !llvm::sys::fs::can_execute(toolPath(dir, "ptxas")))
      continue;
    SmallString<128> libdevice(dir);
    llvm::sys::path::append(libdevice, "nvvm", "libdevice", "libdevice.10.bc");
    if (llvm::sys::fs::is_regular_file(libdevice))
      return dir;
  }
  return std::nullopt;
}

FailureOr<OwningOpRef<ModuleOp>> nnc::lowerModelToGPU(ModuleOp model, GPUStage stage,
                                                      const GPUOptions &options, bool checkNumerics,
                                                      bool fuse) {
  return lowerToGPU(model, stage, options, checkNumerics, fuse, nullptr);
}

std::string nnc::kernelPTX(ModuleOp module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.walk([&](gpu::BinaryOp binary) {
    StringRef ptx = ptxOf(binary);
    SmallVector<std::string> names;
    for (auto &kernel : ptxKernels(ptx))
      names.push_back(kernel.first);
    os << "// nnc: kernel module @" << binary.getSymName() << " of model @"
       << (module.getSymName() ? *module.getSymName() : "model") << ": " << names.size()
       << " kernels: " << llvm::join(names, ", ") << "\n"
       << ptx;
    if (!ptx.ends_with("\n"))
      os << "\n";
  });
  return text;
}

FailureOr<OwningOpRef<ModuleOp>> nnc::lowerModelToLLVMForGPU(ModuleOp model, const GPUOptions &gpu,
                                                             bool checkNumerics, bool fuse) {
  llvm::json::Object info;
  auto lowered = lowerToGPU(model, GPUStage::PTX, gpu, checkNumerics, fuse, &info);
  if (failed(lowered))
    return failure();
  ModuleOp module = **lowered;
  std::optional<std::string> toolkit = gpu.toolkit.empty() ? findCUDAToolkit() : gpu.toolkit;
  SmallVector<StringRef> cubins;
  if (toolkit)
    cubins = cubinArchs(gpu.arch);
  else
    llvm::errs() << "nnc: warning: no CUDA toolkit found (CUDA_ROOT, CUDA_HOME, ptxas on PATH, "
                    "/usr/local/cuda): the artifact embeds PTX only, compiled by the driver "
                    "when loaded\n";
  for (gpu::BinaryOp binary : llvm::make_early_inc_range(module.getOps<gpu::BinaryOp>()))
    if (failed(toolkit ? embedFatbin(binary, *toolkit, gpu.arch, cubins) : embedPTX(binary)))
      return failure();

  llvm::json::Array cubinArray;
  for (StringRef arch : cubins)
    cubinArray.push_back(arch.str());
  info["device"] = "gpu";
  info["gpu"] = llvm::json::Object{{"ptx", gpu.arch}, {"cubins", std::move(cubinArray)}};
  addModelTable(module, std::move(info));
  return lowered;
}

LogicalResult nnc::buildGPUArtifact(ModuleOp model, StringRef outputPath,
                                    const ArtifactOptions &options, const GPUOptions &gpu) {
  auto lowered = lowerModelToLLVMForGPU(model, gpu, options.checkNumerics, options.fuse);
  if (failed(lowered))
    return failure();
  // The host code only computes views of the arena and calls the runtime:
  // LLVM's optimizations would not speed it up measurably but take a third
  // of the build time of a large training step (resnet: 1.3 s of 4.3 s).
  ArtifactOptions host = options;
  host.optLevel = 0;
  return writeArtifact(**lowered, outputPath, host, model.getLoc());
}
