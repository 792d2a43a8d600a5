// RUN: nn-opt %s -split-input-file -verify-diagnostics

// Each verifier rule of nn.kernel and nn.yield, one case each.

func.func @bad_name(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'nn.kernel' op name must be an identifier ([A-Za-z_][A-Za-z0-9_]*), got '7k-relu'}}
  %r = nn.kernel "7k-relu" (%a) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    nn.yield %x : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

func.func @empty_name(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{name must be an identifier}}
  %r = nn.kernel "" (%a) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    nn.yield %x : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

func.func @argument_count(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'nn.kernel' op body has 2 arguments for 1 inputs}}
  %r = nn.kernel "k0" (%a) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>, %y: tensor<4xf32>):
    nn.yield %x : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

func.func @argument_type(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'nn.kernel' op body argument 0 has type 'tensor<5xf32>' but input 0 has type 'tensor<4xf32>'}}
  %r = nn.kernel "k0" (%a) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<5xf32>):
    %e = tensor.empty() : tensor<4xf32>
    nn.yield %e : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

func.func @yield_types(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'nn.kernel' op yields 'tensor<2x2xf32>' but the kernel's results are 'tensor<4xf32>'}}
  %r = nn.kernel "k0" (%a) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    %e = tensor.empty() : tensor<2x2xf32>
    nn.yield %e : tensor<2x2xf32>
  }
  return %r : tensor<4xf32>
}

// -----

func.func @no_yield(%a: tensor<4xf32>) -> tensor<4xf32> {
  %r = nn.kernel "k0" (%a) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    // expected-error @+1 {{block with no terminator}}
    %e = tensor.empty() : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

func.func @captures(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-note @+1 {{required by region isolation constraints}}
  %r = nn.kernel "k0" () : () -> tensor<4xf32> {
    // expected-error @+1 {{'nn.yield' op using value defined outside the region}}
    nn.yield %a : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

func.func @yield_outside(%a: tensor<4xf32>) {
  // expected-error @+1 {{'nn.yield' op expects parent op 'nn.kernel'}}
  nn.yield %a : tensor<4xf32>
}
