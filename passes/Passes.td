//===- Passes.td - nnc passes ------------------------------*- tablegen -*-===//
//
// Part of nnc. Every nnc pass is declared here; flags carry the `nn-` prefix.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_PASSES_PASSES_TD
#define NNC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def NNInferShapes : Pass<"nn-infer-shapes", "::mlir::ModuleOp"> {
  let summary = "Re-infer the result types of nn ops, optionally fixing the "
                "batch size";
  let description = [{
    For every `func.func` in every (nested) module: with `batch=N` (N > 0),
    replaces a dynamic dimension 0 of each function argument by N; then
    visits the ops in order and resets the result types of every op that
    implements InferTypeOpInterface from its operands, and finally sets the
    function's result types from its `func.return`. Fails with an error
    located at the first op that rejects its operands.

    ```
    nn-opt model.mlir -nn-infer-shapes=batch=64
    ```
  }];
  let options = [
    Option<"batch", "batch", "int64_t", /*default=*/"0",
           "Batch size to substitute for the dynamic dimension 0 of function "
           "arguments (0 keeps it dynamic)">,
  ];
  let dependentDialects = ["::mlir::nn::NNDialect",
                           "::mlir::func::FuncDialect"];
}

def NNReport : Pass<"nn-report", "::mlir::ModuleOp"> {
  let summary = "Print the cost report of every model: parameters, bytes, "
                "FLOPs and checkpoint size";
  let description = [{
    For every nested model module (`module @name attributes {nn.model}`; the
    operation itself if it is one), computes the report of
    passes/ModelReport.h and prints it to stdout: a table (`format=table`) or
    JSON (`format=json`: one model's object, or an array of them if the input
    holds several). Run `-nn-infer-shapes=batch=N` first with the same
    `batch`. The IR is not changed. See docs/report.md.

    The pass prints no memory: training and inference memory come from the
    memory plan of the generated code (`nnc report`, or
    `nnc compile -emit=buffers` for `nn.memplan`), which this pass does not
    run.

    ```
    nn-opt model.mlir -nn-infer-shapes=batch=64 \
        -nn-report="batch=64 optimizer=adam dtype=f16 format=json"
    ```
  }];
  let options = [
    Option<"batch", "batch", "int64_t", /*default=*/"1",
           "Batch size the shapes were specialized to">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"adam\"",
           "Optimizer named in the report: sgd, momentum, adam, adamw">,
    Option<"dtype", "dtype", "std::string", /*default=*/"\"f32\"",
           "Storage type of floating-point tensors: f32, f16, bf16, int8">,
    Option<"format", "format", "std::string", /*default=*/"\"table\"",
           "Output format: table or json">,
  ];
  let dependentDialects = ["::mlir::nn::NNDialect",
                           "::mlir::func::FuncDialect"];
}

def NNCheckElementTypes : Pass<"nn-check-element-types", "::mlir::ModuleOp"> {
  let summary = "Refuse models whose floating-point types nnc cannot compile";
  let description = [{
    A model computes in f32, f16 or bf16 (-nn-autocast). For every model
    module (`module @name attributes {nn.model}`), fails with an error
    located at the first function argument (model input), `nn.param` or op
    with another floating-point element type (f64), or with a second reduced
    type (an f16 input and a bf16 parameter), naming it and the type.
    Integer tensors (token ids, labels) are accepted. -nn-autocast runs this
    check first (nnc::checkCodegenElementTypes).

    ```
    nn-opt model.mlir -nn-check-element-types
    ```
  }];
  let dependentDialects = ["::mlir::nn::NNDialect",
                           "::mlir::func::FuncDialect"];
}

def NNAutocast : Pass<"nn-autocast", "::mlir::ModuleOp"> {
  let summary = "Compile f16/bf16 models as f32 storage with reduced-precision library ops";
  let description = [{
    Mixed precision as PyTorch's autocast with f32 master weights. A model
    module whose tensors are f16 or bf16 (its inputs' float type, which its
    parameters take) is rewritten to f32 tensors everywhere (inputs,
    parameters, buffers, activations, constants; so the optimizer state and
    gradients -nn-autodiff builds are f32 too) and marked with the module
    attribute `nn.precision = "bf16"` (or "f16"). In a model so marked,
    every nn.conv2d, nn.linear, nn.conv2d_backward and nn.linear_backward
    gets the discardable attribute `nn.precision` of the same value: its
    library kernel reads its inputs in that precision with f32 accumulation
    (runtime/Kernels.h, "Mixed precision"). Generated kernels stay f32.
    Idempotent; -nn-autodiff, -nn-lower-to-linalg and -nn-lower-to-buffers
    run it first (nnc::autocastModels), after -nn-check-element-types.

    ```
    nn-opt model.mlir -nn-autocast
    ```
  }];
  let dependentDialects = ["::mlir::nn::NNDialect",
                           "::mlir::func::FuncDialect"];
}

def NNAutodiff : Pass<"nn-autodiff", "::mlir::ModuleOp"> {
  let summary = "Build @train_step: training-mode forward, loss, reverse-mode "
                "gradients and the optimizer update of every parameter";
  let description = [{
    For every model module (`module @name attributes {nn.model}`; the
    operation itself if it is one) with `@forward` and `@loss`, adds

    ```
    func.func @train_step(%inputs..., %labels, %lr: tensor<f32>,
                          %step: tensor<i64>, %seed: tensor<i64>)
        -> (tensor<f32> /*loss*/, tensor<i64> /*correct*/)
    ```

    1. a clone of @forward in training mode: nn.dropout becomes
       nn.dropout_train (seeded by %seed, one `stream` per dropout),
       nn.batchnorm nn.batchnorm_train, nn.rnn/lstm/gru their `_train`
       variant;
    2. @loss applied to the first output and the labels, and the number of
       correct predictions (`nn.count_correct` for cross_entropy, 0 else);
    3. reverse mode: the ops are visited backwards, each result's gradient
       is the sum (nn.add) of its uses' contributions, and each op's
       GradientOpInterface builds its operands' gradients. Only values that
       depend on trainable parameters get gradients (never model inputs,
       labels or buffers). An op on that path without a gradient is an
       error located at the op;
    4. for each trainable parameter with a gradient, the optimizer update
       (nn.sgd_update, nn.momentum_update, nn.adam_update; optimizer state
       is added as `nn.param state` symbols `<param>.momentum_buffer`,
       `<param>.exp_avg`, `<param>.exp_avg_sq`, zero-initialized) and
       nn.param_assign of the new values; the new batchnorm running
       statistics and `num_batches_tracked + 1` are assigned as well.

    With `distill-temperature=T` (T > 0; knowledge distillation,
    docs/training.md), @train_step takes one more argument after %seed,
    `%teacher_logits` (named `teacher_logits`, the type of @forward's first
    result), and the loss, which must be nn.cross_entropy, becomes
    `nn.distill_loss %logits, %teacher_logits, %labels {temperature = T,
    alpha = distill-alpha}`; the correct count stays the hard labels'.

    @forward stays the inference entry. The optimizer and its
    hyperparameters default to the model's `nn.train` attribute (optimizer,
    momentum, weight_decay), else to plain SGD; options override them.

    ```
    nn-opt model.mlir -nn-autodiff="optimizer=adamw weight-decay=0.01"
    ```
  }];
  let options = [
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"\"",
           "sgd, momentum, adam or adamw (default: the model's nn.train "
           "optimizer, else sgd)">,
    Option<"momentum", "momentum", "double", /*default=*/"-1.0",
           "Momentum of the momentum optimizer (default: nn.train's, else "
           "0.9)">,
    Option<"nesterov", "nesterov", "bool", /*default=*/"false",
           "Nesterov momentum">,
    Option<"weightDecay", "weight-decay", "double", /*default=*/"-1.0",
           "Weight decay (default: nn.train's, else 0); decoupled for adamw">,
    Option<"beta1", "beta1", "double", /*default=*/"0.9",
           "Adam's first-moment decay">,
    Option<"beta2", "beta2", "double", /*default=*/"0.999",
           "Adam's second-moment decay">,
    Option<"eps", "eps", "double", /*default=*/"1.0e-8",
           "Adam's denominator epsilon">,
    Option<"distillTemperature", "distill-temperature", "double",
           /*default=*/"0.0",
           "Knowledge distillation at this temperature T > 0: @train_step "
           "takes the teacher's logits and its loss is nn.distill_loss "
           "(default 0: no distillation)">,
    Option<"distillAlpha", "distill-alpha", "double", /*default=*/"0.9",
           "Weight of the soft-target term of the distillation loss, in "
           "[0, 1]">,
  ];
  let dependentDialects = ["::mlir::nn::NNDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::arith::ArithDialect"];
}

def NNRecompute : Pass<"nn-recompute", "::mlir::ModuleOp"> {
  let summary = "Recompute chosen forward activations in the backward pass "
                "of @train_step (gradient checkpointing)";
  let description = [{
    For every model module with `@train_step` (after -nn-autodiff): each
    chosen forward layer (an op the loss depends on) whose results the rest
    of the step reads is cloned just before the first such read, and the
    backward ops read the clone, so the forward result's buffer dies at its
    last forward use. The clone brings along the forward ops between the
    layer and the values the backward pass keeps anyway (e.g. a relu's clone
    clones its convolution when only the relu's output is kept); clones
    carry the unit attribute `nn.recomputed`. Side-effect-free nn ops can be
    recomputed (dropout_train's mask is a pure function of seed, stream and
    position; a cloned batchnorm_train's running statistics are unused);
    parameter reads and recurrent layers cannot, which is an error located
    at the layer. The results are bit-identical to the kept ones. nnc's
    `--memory-budget` chooses the layers (docs/training.md).

    ```
    nn-opt model.mlir -nn-autodiff -nn-recompute="layers=relu1,pool1"
    nn-opt model.mlir -nn-autodiff -nn-recompute=all
    ```
  }];
  let options = [
    ListOption<"layers", "layers", "std::string",
               "Names of the forward layers to recompute">,
    Option<"all", "all", "bool", /*default=*/"false",
           "Recompute every forward layer that can be">,
    Option<"reuse", "reuse", "bool", /*default=*/"false",
           "Let a recomputation start from the clones made for an earlier "
           "backward use (fewer FLOPs, more memory)">,
  ];
  let dependentDialects = ["::mlir::nn::NNDialect",
                           "::mlir::func::FuncDialect"];
}

def NNQuantize : Pass<"nn-quantize", "::mlir::ModuleOp"> {
  let summary = "Post-training static int8 quantization of the inference "
                "forward pass";
  let description = [{
    For every model module (`nn.model`) without a @train_step, rewrites
    @forward after the plan of nnc::planQuantization (passes/Quantize.h):
    every nn.conv2d / nn.linear not kept in f32 (`keep-f32`: `first`,
    `last` or layer names, plus the table's `f32_layers`) becomes
    nn.quantize of its input (the table's per-tensor parameters) and
    nn.qconv2d / nn.qlinear on the int8 weight `<prefix>.weight` (i8), the
    per-output-channel scales `<prefix>.weight_scale` (f32 [O]) and the f32
    bias. An inference nn.batchnorm whose input is such a conv's result, with
    the conv as its only user, is folded into it: the bn op and its four
    parameters go (a bias is created if the conv had none). A quantized
    layer whose result feeds only an nn.quantize with the full u8 or s8
    range (through an optional nn.relu, which becomes the `nn.epilogue`)
    writes that quantize's int8 result itself.

    The table (`table=PATH`) is JSON: {"version": 1, "f32_layers": [...],
    "layers": [{"layer": "conv1", "batchnorm": "bn1" | null, "input":
    {"scale": s, "zero_point": z, "qmin": a, "qmax": b}}, ...]}; a layer the
    table does not list, a table layer the model does not plan, or a
    batchnorm that does not match is an error located at the layer.

    With `observe`, nothing is rewritten and no table is read: the f32 input
    of each planned layer becomes an extra result of @forward named
    `observe.<layer>` (for calibration).

    ```
    nn-opt model.mlir -nn-quantize="table=q.json keep-f32=first,last"
    ```
  }];
  let options = [
    Option<"table", "table", "std::string", /*default=*/"\"\"",
           "The quantization table (JSON) to apply">,
    Option<"tableName", "table-name", "std::string", /*default=*/"\"\"",
           "How messages name the table (default: its path; nnc names the "
           "quantized weights file the table came from)">,
    ListOption<"keepF32", "keep-f32", "std::string",
               "Layers to leave in f32: layer names, `first`, `last`">,
    Option<"observe", "observe", "bool", /*default=*/"false",
           "Add each planned layer's f32 input as a result of @forward "
           "(observe.<layer>) instead of quantizing">,
  ];
  let dependentDialects = ["::mlir::nn::NNDialect",
                           "::mlir::func::FuncDialect"];
}

#endif // NNC_PASSES_PASSES_TD
