//===- NNKernelOps.td - Generated kernels of the nn dialect -*- tablegen -*-===//
//
// Part of nnc. The ops -nn-fuse creates: `nn.kernel`, one generated kernel
// (linalg on tensors) with explicit inputs and outputs, and its terminator
// `nn.yield`. Included from NNOps.td (one op list); the C++ lives in
// NNKernelOps.cpp. See docs/design.md ("Fusion").
//
//===----------------------------------------------------------------------===//

#ifndef NNC_DIALECT_NNKERNELOPS_TD
#define NNC_DIALECT_NNKERNELOPS_TD

include "mlir/Interfaces/ControlFlowInterfaces.td"

def NN_KernelOp : NN_Op<"kernel", [IsolatedFromAbove,
    RecursiveMemoryEffects]> {
  let summary = "one generated kernel: linalg on tensors over explicit inputs";
  let description = [{
    A kernel that -nn-fuse formed from one or more linalg ops (a chain of
    elementwise ops, a reduction with its elementwise producers, the weight
    fold of a batchnorm, the optimizer update of all parameters). `name` is
    `k<index>_` followed by the `nn.layer` names of the ops it covers
    (deduplicated, joined by `_`), e.g. `k7_conv2_relu2_pool2`, or
    `k<index>_<optimizer>_update_<n>_params`; it is an identifier, unique in
    the module.
    -nn-fuse also sets `nn.layers` (the covered layers, an array of strings)
    and, where the kernel recomputes a producer that other kernels read
    too, `nn.recomputed` (the producers' layers). A kernel holding the
    optimizer updates of several parameters has `nn.flat_update` (the
    optimizer's name): -nn-lower-to-buffers runs it as one loop over all
    their elements (codegen/FlatUpdate.h).

    The operands are the tensors the kernel reads; the body block has one
    argument per operand, of the operand's type, and nothing else is visible
    inside (IsolatedFromAbove: constants are cloned in). The body ends in
    `nn.yield` with the tensors the kernel writes, which are its results.
    -nn-lower-to-buffers inlines the body and tags every bufferized linalg
    op with `nn.kernel = "<name>"`.

    ```mlir
    %r = nn.kernel "k0_relu1_add1" (%a, %b) : (tensor<4xf32>, tensor<4xf32>)
        -> tensor<4xf32> {
    ^bb0(%x: tensor<4xf32>, %y: tensor<4xf32>):
      %e = tensor.empty() : tensor<4xf32>
      %s = linalg.generic ... ins(%x, %y : ...) outs(%e : ...) {...}
      nn.yield %s : tensor<4xf32>
    }
    ```
  }];
  let arguments = (ins StrAttr:$name, Variadic<AnyRankedTensor>:$inputs);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $name `(` $inputs `)` attr-dict `:` functional-type($inputs, $results)
    $body
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [
    /// A kernel with an empty body block whose arguments match `inputs`.
    OpBuilder<(ins "::llvm::StringRef":$name, "::mlir::TypeRange":$results,
                   "::mlir::ValueRange":$inputs)>
  ];
  let extraClassDeclaration = [{
    /// The body's only block.
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
    /// The terminator of the body.
    YieldOp getYield();
  }];
}

def NN_YieldOp : NN_Op<"yield", [Pure, Terminator, ReturnLike,
    HasParent<"KernelOp">]> {
  let summary = "the tensors an nn.kernel writes";
  let arguments = (ins Variadic<AnyRankedTensor>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // NNC_DIALECT_NNKERNELOPS_TD
