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
                "FLOPs, checkpoint size and memory";
  let description = [{
    For every nested model module (`module @name attributes {nn.model}`; the
    operation itself if it is one), computes the report of
    passes/ModelReport.h and prints it to stdout: a table (`format=table`) or
    JSON (`format=json`: one model's object, or an array of them if the input
    holds several). Run `-nn-infer-shapes=batch=N` first with the same
    `batch`. The IR is not changed. See docs/report.md.

    ```
    nn-opt model.mlir -nn-infer-shapes=batch=64 \
        -nn-report="batch=64 optimizer=adam dtype=f16 format=json"
    ```
  }];
  let options = [
    Option<"batch", "batch", "int64_t", /*default=*/"1",
           "Batch size the shapes were specialized to">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"adam\"",
           "Optimizer whose state is counted: sgd, momentum, adam, adamw">,
    Option<"dtype", "dtype", "std::string", /*default=*/"\"f32\"",
           "Storage type of floating-point tensors: f32, f16, bf16, int8">,
    Option<"format", "format", "std::string", /*default=*/"\"table\"",
           "Output format: table or json">,
  ];
  let dependentDialects = ["::mlir::nn::NNDialect",
                           "::mlir::func::FuncDialect"];
}

#endif // NNC_PASSES_PASSES_TD
