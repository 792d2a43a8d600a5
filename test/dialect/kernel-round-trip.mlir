// RUN: nn-opt %s | nn-opt | FileCheck %s
// RUN: nn-opt %s -mlir-print-op-generic | nn-opt | FileCheck %s

// nn.kernel and nn.yield survive print -> parse -> print, in both the custom
// and the generic form.

#id = affine_map<(d0) -> (d0)>

// CHECK-LABEL: func.func @two_results
func.func @two_results(%a: tensor<4xf32>, %b: tensor<4xf32>)
    -> (tensor<4xf32>, tensor<4xf32>) {
  // CHECK: %[[R:.*]]:2 = nn.kernel "k0_relu1_add1"(%{{.*}}, %{{.*}}) : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  // CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<4xf32>, %[[Y:.*]]: tensor<4xf32>):
  // CHECK: linalg.generic
  // CHECK: nn.yield %{{.*}}, %{{.*}} : tensor<4xf32>, tensor<4xf32>
  %r:2 = nn.kernel "k0_relu1_add1" (%a, %b) : (tensor<4xf32>, tensor<4xf32>)
      -> (tensor<4xf32>, tensor<4xf32>) {
  ^bb0(%x: tensor<4xf32>, %y: tensor<4xf32>):
    %e = tensor.empty() : tensor<4xf32>
    %s:2 = linalg.generic {indexing_maps = [#id, #id, #id, #id],
                           iterator_types = ["parallel"]}
        ins(%x, %y : tensor<4xf32>, tensor<4xf32>)
        outs(%e, %e : tensor<4xf32>, tensor<4xf32>) {
    ^bb0(%u: f32, %v: f32, %o: f32, %p: f32):
      %zero = arith.constant 0.0 : f32
      %m = arith.maximumf %u, %zero : f32
      %n = arith.addf %m, %v : f32
      linalg.yield %m, %n : f32, f32
    } -> (tensor<4xf32>, tensor<4xf32>)
    nn.yield %s#0, %s#1 : tensor<4xf32>, tensor<4xf32>
  }
  return %r#0, %r#1 : tensor<4xf32>, tensor<4xf32>
}

// A kernel that reads nothing (a constant fill).
// CHECK-LABEL: func.func @no_inputs
func.func @no_inputs() -> tensor<2x3xf32> {
  // CHECK: nn.kernel "k1_zeros"() : () -> tensor<2x3xf32>
  %r = nn.kernel "k1_zeros" () : () -> tensor<2x3xf32> {
    %e = tensor.empty() : tensor<2x3xf32>
    %zero = arith.constant 0.0 : f32
    %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
    nn.yield %f : tensor<2x3xf32>
  }
  return %r : tensor<2x3xf32>
}
