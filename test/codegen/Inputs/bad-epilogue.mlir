// An epilogue the runtime has no code for is an error, not ignored.
module @bad attributes {nn.model} {
  nn.param @fc1.weight : tensor<4x6xf32> init uniform(0.1)
  func.func @forward(%x: tensor<2x6xf32> {nn.name = "x"}) -> (tensor<2x4xf32> {nn.name = "y"}) {
    %w = nn.param_ref @fc1.weight : tensor<4x6xf32>
    %y = nn.linear %x, %w {name = "fc1", nn.epilogue = "gelu"} : (tensor<2x6xf32>, tensor<4x6xf32>) -> tensor<2x4xf32>
    return %y : tensor<2x4xf32>
  }
}
