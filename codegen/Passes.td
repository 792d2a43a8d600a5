//===- Passes.td - nnc code generation passes --------------*- tablegen -*-===//
//
// Part of nnc. Lowerings from the nn dialect towards LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_PASSES_TD
#define NNC_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def NNLowerToLinalg : Pass<"nn-lower-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lower the generated nn ops of static models to linalg on tensors";
  let description = [{
    In every function of every model module (`nn.model`) with static shapes
    (run `-nn-infer-shapes=batch=N` first), replaces each nn op that nnc
    generates code for by linalg on tensors (`linalg.generic`,
    `linalg.fill`, `tensor.empty`, ...). Every linalg op it creates carries
    `nn.layer`: the layer's name (`_bwd` appended for backward ops, `update`
    for optimizer updates), which -nn-fuse uses to name kernels. Library ops
    (convolutions, linear layers, the recurrent layers) stay nn ops;
    -nn-lower-to-buffers turns them into library calls.

    Models with floating-point types other than f32 are refused first (see
    -nn-check-element-types).

    With `generated-matmul`, or on a model module carrying the unit
    attribute `nn.generated_matmul` (set by `nnc --generated-matmul`),
    nn.linear and nn.linear_backward are not library ops: they become
    linalg.generic matmuls (the weight read transposed through its indexing
    map, the bias as the accumulator's initial value, one reduction loop per
    output element), which -nn-fuse and the kernel loops treat like any
    other generated op; used to compare a generated kernel with the
    library's GEMM.
  }];
  let options = [
    Option<"generatedMatmul", "generated-matmul", "bool", /*default=*/"false",
           "Generate the linear layers' matmuls instead of calling the library">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def NNFoldBatchNorm : Pass<"nn-fold-batchnorm", "::mlir::ModuleOp"> {
  let summary = "Fold inference batchnorm into the preceding convolution";
  let description = [{
    The part of fusion that works on nn ops, so it runs before
    -nn-lower-to-linalg (which lowers nn.batchnorm): an `nn.batchnorm`
    whose input is an `nn.conv2d` result with no other use is folded into
    the convolution, whose weights and bias are first scaled by a small
    generated kernel (w' = w·γ/√(var+ε), b' = (b−mean)·γ/√(var+ε)+β).
    That kernel runs on every call, so the fold is done only where the
    weights have no more elements than the convolution's output (at batch
    1, a wide 3x3 layer's weights outnumber its output).
    -nn-fuse does the same for any nn.batchnorm still present. Skipped with
    --no-fuse. Implemented in codegen/Fuse.cpp.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect"];
}

def NNFuse : Pass<"nn-fuse", "::mlir::ModuleOp"> {
  let summary = "Group the generated linalg ops into kernels (nn.kernel)";
  let description = [{
    Runs after -nn-lower-to-linalg, on linalg on tensors whose ops carry
    `nn.layer`, mixed with the nn library ops. With `enable` (the default):

    1. Batchnorm folding (inference): an `nn.batchnorm` whose input is an
       `nn.conv2d` result with no other use is folded into the convolution.
       One small generated kernel computes the scaled weights
       `w' = w * g / sqrt(var + eps)` (per output channel) and the bias
       `b' = (b - mean) * g / sqrt(var + eps) + beta` (two linalg ops); a new
       `nn.conv2d` on them replaces both ops.
    2. Library epilogues: an elementwise relu (`linalg.generic` computing
       `max(x, 0)`) whose only input is the result of `nn.conv2d` or
       `nn.linear`, and the only user of that result, is folded into the
       library op as `nn.epilogue = "relu"`; the library op's result is the
       activation.
    3. Elementwise fusion (upstream `linalg::fuseElementwiseOps`), consumers
       in program order. A producer (an all-parallel `linalg.generic`; named
       consumers are generalized first) is fused into a consumer when
       upstream allows it and the consumer reads it along all its parallel
       loops (no broadcast: an op over [C] is not recomputed for every
       [N, C, H, W] element; a reduction never fuses into a consumer, as
       upstream refuses reduction producers). If the producer's value has
       other users, one of:
       - *yield*: the consumer is all-parallel on the producer's iteration
         space and the other users come after it: the fused kernel yields
         the value as an extra result, which the other users read;
       - *recompute*: the consumer is a reduction (softmax sum, pooling
         window), the producer is cheap (at most 8 scalar ops in its body)
         and every other user can fuse it as well: the consumer fuses a copy,
         and the kernel lists the recomputed layers in `nn.recomputed`;
       - otherwise no fusion.
    4. Kernels: every linalg op becomes an `nn.kernel` named
       `k<index>_<layers>` after the `nn.layer` names it covers; `tensor.empty`
       and scalar code (constants, a rank-0 tensor's value) are cloned in,
       and a `linalg.fill` that only initializes linalg outputs goes into the
       kernel of each op it initializes. The two ops of a batchnorm fold
       share one kernel.

    Before step 3, the optimizer updates (the linalg.generic ops tagged
    `nn.optimizer` by -nn-lower-to-linalg, one per parameter) are grouped:
    Adam's per-step scalar generics, equal for every parameter, become one
    (kernel `k<i>_<optimizer>_scalars`), and every set of updates with equal
    bodies (one optimizer with one set of hyperparameters) whose
    destinations are nn.param_ref values and whose results only
    nn.param_assign ops use becomes one kernel
    `k<i>_<optimizer>_update_<n>_params` tagged `nn.flat_update`; the
    updates are moved next to each other and the parameter writes after
    them (they take effect at exit anyway), and nothing is fused into them.
    -nn-lower-to-buffers lowers such a kernel to one loop over all the
    parameters' elements (codegen/FlatUpdate.h).

    With `enable=false` (`nnc --no-fuse`) only step 4 runs: one kernel per
    linalg op, so the IR has the same shape.
  }];
  let options = [
    Option<"enable", "enable", "bool", /*default=*/"true",
           "Fold and fuse; false: one nn.kernel per linalg op">,
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect", "::mlir::nn::NNDialect"
  ];
}

def NNLowerToBuffers : Pass<"nn-lower-to-buffers", "::mlir::ModuleOp"> {
  let summary = "Lower static-shaped nn models to memref code over one arena";
  let description = [{
    For every model module (`module @m attributes {nn.model}`) whose functions
    have static shapes (run `-nn-infer-shapes=batch=N` first), lays out the
    persistent part of the model's arena: every `nn.param` (parameters,
    buffers, optimizer state), then the inputs and outputs of each entry
    function, each 64-byte aligned. Each function `@f` becomes
    `func.func @nnc_f(%arena: memref<?xi8>)` with `llvm.emit_c_interface`:
    inputs, parameters and outputs are `memref.view`s of the arena; every op
    becomes a call into the runtime's kernels (runtime/Kernels.h: conv,
    linear, pooling, batchnorm, embedding, recurrent layers, softmax, losses)
    or generated code (`linalg.copy` into `memref.subview` slices for
    concat), writing a fresh `memref.alloc` that `-nn-plan-memory` later
    places in the arena. The linalg ops on tensors made by
    -nn-lower-to-linalg (run it first) are bufferized directly: each result
    gets a fresh `memref.alloc`, except that an op that reads its output
    operand updates that buffer in place when nothing reads it later.

    Models with floating-point types other than f32 are refused first (see
    -nn-check-element-types).

    The regions that an `nn.flat_update` kernel (-nn-fuse) updates are laid
    out for one loop over all of them: its parameters one after the other
    with no padding, in the kernel's order, then each state of theirs the
    same way. The kernel then becomes one linalg.generic over flat views of
    these blocks; the allocation of each gradient it reads (one of exactly
    the parameter's size) becomes a view of its slice of one gradient
    buffer laid out like the parameters, so the backward pass writes the
    gradients there in place (any other gradient is copied into its slice).
    Where the regions do not line up or the update could not run in place,
    the kernel's updates are lowered one by one.

    Data-parallel training: a model module with `nn.data_parallel = {ranks
    = N : i64, shard = "none" | "opt"}` (nnc --ranks/--shard; N >= 2 or
    "opt", else the attribute is dropped and nothing changes) needs every
    optimizer update in a flat update kernel of f32 parameters (else an
    error). Before each flat loop the whole gradient buffer goes to
    `nnc_dp_reduce_gradients(group, grads, count, sharded)`
    (runtime/DataParallel.h). With "opt" (ZeRO-1) the group's parameters
    and gradient buffer are padded to `count`, a multiple of N (the step
    zeroes the padding), each state column is one region `dp<g>.<state>` of
    count / N elements instead of the per-parameter state regions, the loop
    updates elements [r * count / N, (r + 1) * count / N) with r =
    `nnc_dp_rank()` at run time, and `nnc_dp_gather_parameters(group,
    params, count)` follows. The attribute is replaced by the model table's
    `data_parallel` (docs/abi.md).

    The layout is recorded in the module attribute `nn.layout` (one
    dictionary per region: name, kind, offset, bytes, dtype, shape) for the
    artifact's model table.

    With `check-numerics`, every floating-point op result is checked for NaN
    and Inf (`nnc_check_finite`); the ops are listed in `nn.numerics_ops` so
    the runtime can name the first one that produced a non-finite value.

    `target` chooses the library ops' implementation (codegen/LibraryBackend.h):
    `cpu` calls the runtime's oneDNN entry points (nnc_conv2d_fwd, ...), `gpu`
    the cuDNN/cuBLAS ones with the same arguments (nnc_gpu_conv2d_fwd, ...,
    runtime/GpuKernels.h; their convolution scratch is cuDNN's workspace,
    planned by the runtime's cap), and the numerics check becomes
    `nnc_gpu_check_finite`.
  }];
  let options = [
    Option<"checkNumerics", "check-numerics", "bool", /*default=*/"false",
           "Check every floating-point op result for NaN/Inf">,
    Option<"target", "target", "std::string", /*default=*/"\"cpu\"",
           "Where the library ops run: cpu (oneDNN) or gpu (cuDNN, cuBLAS)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect"
  ];
}

def NNPlanMemory : Pass<"nn-plan-memory", "::mlir::ModuleOp"> {
  let summary = "Place every buffer of the generated code in the one arena";
  let description = [{
    Replaces every static `memref.alloc` in the entry functions of a lowered
    model by a `memref.view` of the arena argument at a planned offset. A
    buffer is live from its allocation to its last use, following views and
    reshapes of it; buffers whose live ranges do not overlap share memory
    (greedy lowest fit, in the best of five orders: largest first,
    longest-lived first, largest bytes x lifetime first, program order,
    reverse program order). The result of an elementwise generated kernel
    (a linalg.generic with only parallel loops tagged nn.kernel) takes over
    the memory of an input of the same type that it reads with the same
    identity indexing and that dies there, where nothing else in the kernel
    reaches either buffer, and where that leaves the arena no larger. The
    plan is recorded on the model as `nn.memplan` (codegen/MemoryPlan.h,
    `nnc memplan`, docs/memplan.md). An allocation used only through
    `memref.view`s at constant offsets (the gradient buffer of a flat
    optimizer update) is placed piece by piece: each view's bytes are live
    from that view on (nothing can have written them before) until the
    allocation's last use, so the gradient buffer takes no more memory than
    separate gradients would. Offsets start after the persistent
    regions; the arena size (`nn.arena_bytes` on the model module) is the
    largest end offset over all entry functions.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

def NNKernelLoops : Pass<"nn-kernel-loops", "::mlir::ModuleOp"> {
  let summary = "Turn every linalg op on buffers into a tiled scf.parallel nest";
  let description = [{
    The kernel IR that the CPU and GPU back ends share (docs/design.md, "One
    kernel IR, two targets"). Runs after -nn-plan-memory. Every linalg op on
    memrefs becomes one loop nest (upstream `linalgOpToParallelLoops`):

    - the op's leading parallel dimensions form an `scf.parallel` that is
      tiled (upstream `tileParallelLoop`) into an outer `scf.parallel` over
      tiles (what threads or GPU blocks share out) and an inner
      `scf.parallel` over the elements of a tile (a contiguous innermost
      loop on the CPU, the threads of a block on a GPU);
    - the reduction dimensions, and any parallel dimension after a
      reduction, are `scf.for` loops inside; an output element that such a
      loop loads and stores back every iteration becomes an `iter_arg`
      (loaded before, stored after the loop) when no other access of the
      loop may touch its bytes (views of the arena at disjoint constant
      offsets; function arguments may alias);
    - an op without leading parallel dimensions (a full reduction) runs in
      a one-iteration `scf.parallel`, so every op is exactly one outermost
      `scf.parallel` nest, which carries the op's `nn.*` attributes
      (`nn.kernel`, `nn.layer`).

    A tile holds about `tile-work` iterations of the innermost loops: whole
    inner dimensions first, then a divisor of the next dimension (a
    multiple of 16 if one fits, so the innermost loop vectorizes without a
    remainder), with `affine.min` bounds only when no divisor fits.
    Dimensions that run once are dropped and constants folded (the
    upstream canonicalizations, except those of `scf.parallel`: they would
    merge the element loop back into the tile loop); `gpu-map-parallel-loops`
    and `convert-parallel-loops-to-gpu` need these constant bounds.
  }];
  let options = [
    Option<"tileWork", "tile-work", "int64_t", /*default=*/"256",
           "Iterations of the innermost loops per tile">,
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect"
  ];
}

def NNGPUMap : Pass<"nn-gpu-map", "::mlir::ModuleOp"> {
  let summary = "Map every kernel nest of -nn-kernel-loops to one gpu.launch";
  let description = [{
    The GPU mapping of the kernel IR (docs/design.md, "One kernel IR, two
    targets"); nnc::addGPUMappingStages adds it. Every outermost
    `scf.parallel` (a kernel nest of -nn-kernel-loops, in any function of any
    nested module) becomes exactly one `gpu.launch`: its tile loop is shared
    out to blocks and its element loop to the threads of a block. A nest
    whose element loop was dropped (every tile one element: long reductions)
    or never made (dynamic bounds: the recurrent gate step functions) is
    tiled here (upstream `tileParallelLoop`) so that a block has up to
    `threads` threads, whole innermost dimensions first; a tile that does not
    divide its dimension is guarded by an `scf.if`. Loops that run a
    dimension beyond the third are collapsed into one (upstream
    `collapseParallelLoops`). The mapping attributes (innermost dimension to
    x) are then converted by the upstream `convert-parallel-loops-to-gpu`
    patterns, which guard a ragged element loop (an `affine.min` bound) too.
    A nest left on the host is an error, as is a kernel with more threads
    per block than the hardware allows (1024).

    Block reductions (`block-reductions`, on by default;
    codegen/GPUReductions.cpp): a nest whose tiles are one element each and
    whose tile body is reads, one `scf.for` nest with iter_args combined by
    simple combiners (arith.addf, addi, mulf, muli, max/min of every kind,
    andi, ori, xori on 32- or 64-bit values; the innermost body only reads
    memory) and stores of its results, with at least 64 iterations in the
    reduction and at most 2048 tiles (a loss's mean over the batch, the
    per-channel sums of batchnorm), gets a block of R threads per tile
    (`threads`, or the reduction's length rounded up to a multiple of 32 if
    smaller): thread t combines the flattened iterations t, t + R, ...
    (innermost index fastest, so a warp reads consecutive elements) from the
    combiner's identity, a uniform `gpu.all_reduce` per result combines the
    block's values, and thread 0 combines that with the loaded initial value
    and stores. Other reductions (argmax: a select) stay in one thread per
    tile; a full reduction then runs in one thread of one block.

    Vector accesses (`vector-width` W, codegen/GPUVectorize.cpp), before
    the collapsing: a thread of an elementwise nest handles w consecutive
    elements of the innermost element dimension (the one mapped to thread
    x), w the widest power of two up to W for which all of this holds:
    that dimension starts at 0 with step 1 and its extent is a multiple of
    w (a ragged `affine.min` bound: every term a multiple of w); the block
    keeps at least 32 threads (the element loop's iterations divided by w;
    a smaller block is left alone); the body has no regions (no `scf.for`,
    `scf.if`) and holds only `memref.load`/`memref.store` and ops without
    memory effects that are elementwise-mappable (arith, math) on scalar
    integers, floats and indices; every access whose subscripts depend on
    that dimension's index has it as the last subscript, as the index
    plus uniform offsets that are provably multiples of w (constants, tile
    induction variables with such a step, their sums and products), the
    other subscripts uniform, on a memref of identity layout whose last
    extent is a multiple of w and whose element size is a whole number of
    bytes, which is a view of an entry's arena (`memref<?xi8>`, 64-byte
    aligned) at constant byte offsets, through `memref.view`,
    `collapse_shape`, `expand_shape`, `cast` and `reinterpret_cast` at
    offset 0, with an offset that is a multiple of w times the element
    size; and every store depends on that index (lanes storing to one
    address would race). Such accesses become `vector.load`/`vector.store`
    with `alignment` = w times the element size (NVPTX: `ld.global.v4.b32`
    for f32, two `v2.b64` for 4 x f64/i64), accesses not indexed by it stay
    scalar loads broadcast to the lanes, and the other ops run on vectors
    (libdevice math functions are called per lane by convert-gpu-to-nvvm).
    Any other nest is left as it was. W = 1 turns this off.
  }];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"256",
           "Threads per block for the nests that -nn-gpu-map tiles itself">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"4",
           "Consecutive elements per thread of an elementwise kernel, read and "
           "written as one vector (a power of two up to 16; 1: off)">,
    Option<"blockReductions", "block-reductions", "bool", /*default=*/"true",
           "Share a long reduction of few outputs among a block's threads (gpu.all_reduce)">,
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def NNGPULaunchToLoops : Pass<"nn-gpu-launch-to-loops", "::mlir::ModuleOp"> {
  let summary = "Run gpu.launch bodies on the CPU as loops over block and thread ids";
  let description = [{
    The CPU emulation of the GPU mapping (a test harness, `nnc build
    --gpu-emulate`): every `gpu.launch` (after -nn-gpu-map, before
    outlining) becomes `scf.for` loops over the block ids and, inside them,
    the thread ids (the grid and block sizes as bounds), with the body
    inlined: the launch's id and size arguments and the `gpu.block_id`,
    `gpu.thread_id`, `gpu.block_dim` and `gpu.grid_dim` ops are replaced by
    the loop indices and sizes, `gpu.terminator` is dropped. Threads run one
    after another, which is only right when they do not synchronise: a
    kernel with `gpu.barrier`, shuffles, workgroup or private attributions
    (shared memory) or any other gpu op is an error, except a uniform
    `gpu.all_reduce` (with an operation, no body) at the top level of the
    launch body, over a block of constant size (-nn-gpu-map's block
    reductions). Such a body runs in phases split at its all-reduces, each a
    loop over the block's threads inside the block loops: a thread's operand
    goes to a buffer of the block's size, and after the phase's loop the
    value is combined in the order of upstream's all-reduce lowering (each
    warp: lane L combines its value with lane L xor d's, d = 1, 2, ..., 16,
    where that lane is below the warp's width; then the warps' values the
    same way). A value of an earlier phase is recomputed if pure, else kept
    per thread in a buffer; a memref value crossing an all-reduce is an
    error. The buffers are allocas at the start of the enclosing function.
  }];
  let dependentDialects = [
    "::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect"
  ];
}

def NNOutlineKernels : Pass<"nn-outline-kernels", "::mlir::ModuleOp"> {
  let summary = "One function per distinct kernel nest of the CPU kernel IR";
  let description = [{
    Compile time of the CPU back end (docs/design.md, "Compile time"): each
    top-level `scf.parallel` of a function (a kernel nest of -nn-kernel-loops)
    becomes a call of a private function `<function>_<kernel>` (internal
    linkage, `noinline`) that holds the nest. The buffers it reads and writes
    (views of the arena) are the function's arguments; the constants and
    index arithmetic it uses are copied into it. So the kernels of repeated
    layers (the blocks of a transformer, a ResNet stage) are the same
    function up to their `nn.kernel`/`nn.layer` names, which the copy drops:
    such functions are made once and called once per layer. LLVM then
    optimizes one function per distinct kernel instead of one function with
    every kernel of the step, whose loop analyses grow faster than linearly
    with its size.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect", "::mlir::LLVM::LLVMDialect"];
}

#endif // NNC_CODEGEN_PASSES_TD
