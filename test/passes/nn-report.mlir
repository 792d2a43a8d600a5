// RUN: nn-opt %s -split-input-file -nn-infer-shapes=batch=64 -nn-report=batch=64 -o /dev/null | FileCheck %s
// RUN: nn-opt %s -split-input-file -nn-infer-shapes=batch=64 '-nn-report=batch=64 format=json dtype=f16 optimizer=sgd' -o /dev/null | FileCheck %s --check-prefix=JSON
// RUN: nn-opt %s -split-input-file -nn-infer-shapes=batch=64 '-nn-report=batch=64 dtype=int8 optimizer=momentum' -o /dev/null | FileCheck %s --check-prefix=INT8
// RUN: not nn-opt %s -split-input-file -nn-infer-shapes=batch=8 -nn-report=batch=64 -o /dev/null 2>&1 | FileCheck %s --check-prefix=BATCH
// RUN: not nn-opt %s -split-input-file -nn-report=batch=64 -o /dev/null 2>&1 | FileCheck %s --check-prefix=DYN
// RUN: not nn-opt %s -split-input-file -nn-infer-shapes=batch=64 '-nn-report=batch=64 optimizer=lion' -o /dev/null 2>&1 | FileCheck %s --check-prefix=OPT
// RUN: not nn-opt %s -split-input-file -nn-infer-shapes=batch=64 '-nn-report=batch=64 dtype=f8' -o /dev/null 2>&1 | FileCheck %s --check-prefix=DTYPE
// RUN: not nn-opt %s -split-input-file -nn-infer-shapes=batch=64 '-nn-report=batch=64 format=xml' -o /dev/null 2>&1 | FileCheck %s --check-prefix=FORMAT

// LeNet-5 at batch 64. Reference totals from test/report/Inputs/torch-reference.txt
// (scripts/torch_reference.py): parameters 61706, per layer conv1 156,
// conv2 2416, fc1 48120, fc2 10164, fc3 850; safetensors file 247568 B, plus
// 72 B for the training-progress __metadata__ nnc writes: 247640 B.
// FLOPs by the convention of docs/dialect.md, e.g. conv1:
// 2*64*6*28*28*1*5*5 + 64*6*28*28 = 15,353,856.

// CHECK-LABEL: model lenet @ batch 64, dtype f32, optimizer adam
// CHECK-NEXT: layer    op              output          params   bytes(f32)    fwd FLOPs
// CHECK-NEXT: conv1    conv2d          [64,6,28,28]       156          624   15,353,856
// CHECK-NEXT: relu1    relu            [64,6,28,28]         0            0      301,056
// CHECK-NEXT: pool1    maxpool2d       [64,6,14,14]         0            0      301,056
// CHECK-NEXT: conv2    conv2d          [64,16,10,10]    2,416        9,664   30,822,400
// CHECK-NEXT: relu2    relu            [64,16,10,10]        0            0      102,400
// CHECK-NEXT: pool2    maxpool2d       [64,16,5,5]          0            0      102,400
// CHECK-NEXT: flatten1 flatten         [64,400]             0            0            0
// CHECK-NEXT: fc1      linear          [64,120]        48,120      192,480    6,151,680
// CHECK-NEXT: relu3    relu            [64,120]             0            0        7,680
// CHECK-NEXT: fc2      linear          [64,84]         10,164       40,656    1,295,616
// CHECK-NEXT: relu4    relu            [64,84]              0            0        5,376
// CHECK-NEXT: fc3      linear          [64,10]            850        3,400      108,160
// CHECK-NEXT: loss     cross_entropy   []                   0            0        3,200
// CHECK-NEXT: total parameters: 61,706 (trainable 61,706) = 246,824 B f32 / 123,412 B f16 / 61,706 B int8
// CHECK-NEXT: buffers (not parameters): 0 elements in 0 tensors = 0 B f32
// CHECK-NEXT: FLOPs: forward 54,551,680 (54.6 MFLOP); training step (forward + loss + backward) 162,841,472 (162.8 MFLOP)
// CHECK-NEXT: checkpoint: 247,640 B (241.8 KiB) safetensors
// The pass prints no memory: it comes from the plan of the generated code
// (nnc report; docs/report.md).
// CHECK-NOT: memory

// In JSON with dtype=f16: every floating-point byte count halves. Keys print
// sorted; no memory keys.
// JSON: "model": "lenet",
// JSON: "parameters": {
// JSON-NEXT: "bytes": 123412,
// JSON-NEXT: "bytes_bf16": 123412,
// JSON-NEXT: "bytes_f16": 123412,
// JSON-NEXT: "bytes_f32": 246824,
// JSON-NEXT: "bytes_int8": 61706,
// JSON-NEXT: "tensors": 10,
// JSON-NEXT: "total": 61706,
// JSON-NEXT: "trainable": 61706
// JSON: "schema_version": 2,
// JSON-NOT: memory

// int8 with momentum: 1 byte per parameter.
// INT8-LABEL: model lenet @ batch 64, dtype int8, optimizer momentum
// INT8: conv1 {{.*}} 156 156 15,353,856
// INT8: total parameters: 61,706 (trainable 61,706) = 246,824 B f32 / 123,412 B f16 / 61,706 B int8

// BATCH: error: nn-report: @forward is specialized to batch 8 but the report is for batch 64
// DYN: error: nn-report: @forward has a dynamic batch dimension; run -nn-infer-shapes=batch=64 first
// OPT: error: nn-report: unknown optimizer 'lion' (expected sgd, momentum, adam or adamw)
// DTYPE: error: nn-report: unknown dtype 'f8' (expected f32, f16, bf16 or int8)
// FORMAT: error: nn-report: unknown format 'xml' (expected table or json)

module {
  module @lenet attributes {nn.model} {
    nn.param @"conv1.weight" : tensor<6x1x5x5xf32> init uniform(0.2)
    nn.param @"conv1.bias" : tensor<6xf32> init uniform(0.2)
    nn.param @"conv2.weight" : tensor<16x6x5x5xf32> init uniform(0.08)
    nn.param @"conv2.bias" : tensor<16xf32> init uniform(0.08)
    nn.param @"fc1.weight" : tensor<120x400xf32> init uniform(0.05)
    nn.param @"fc1.bias" : tensor<120xf32> init uniform(0.05)
    nn.param @"fc2.weight" : tensor<84x120xf32> init uniform(0.09)
    nn.param @"fc2.bias" : tensor<84xf32> init uniform(0.09)
    nn.param @"fc3.weight" : tensor<10x84xf32> init uniform(0.1)
    nn.param @"fc3.bias" : tensor<10xf32> init uniform(0.1)
    func.func @forward(%image: tensor<?x1x28x28xf32>) -> tensor<?x10xf32> {
      %w1 = nn.param_ref @"conv1.weight" : tensor<6x1x5x5xf32>
      %b1 = nn.param_ref @"conv1.bias" : tensor<6xf32>
      %0 = nn.conv2d %image, %w1, %b1 {name = "conv1", stride = array<i64: 1, 1>, padding = array<i64: 2, 2>, dilation = array<i64: 1, 1>} : (tensor<?x1x28x28xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>) -> tensor<?x6x28x28xf32>
      %1 = nn.relu %0 {name = "relu1"} : tensor<?x6x28x28xf32>
      %2 = nn.maxpool2d %1 {name = "pool1", kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<?x6x28x28xf32> -> tensor<?x6x14x14xf32>
      %w2 = nn.param_ref @"conv2.weight" : tensor<16x6x5x5xf32>
      %b2 = nn.param_ref @"conv2.bias" : tensor<16xf32>
      %3 = nn.conv2d %2, %w2, %b2 {name = "conv2", stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>} : (tensor<?x6x14x14xf32>, tensor<16x6x5x5xf32>, tensor<16xf32>) -> tensor<?x16x10x10xf32>
      %4 = nn.relu %3 {name = "relu2"} : tensor<?x16x10x10xf32>
      %5 = nn.maxpool2d %4 {name = "pool2", kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<?x16x10x10xf32> -> tensor<?x16x5x5xf32>
      %6 = nn.flatten %5 {name = "flatten1"} : tensor<?x16x5x5xf32> -> tensor<?x400xf32>
      %w3 = nn.param_ref @"fc1.weight" : tensor<120x400xf32>
      %b3 = nn.param_ref @"fc1.bias" : tensor<120xf32>
      %7 = nn.linear %6, %w3, %b3 {name = "fc1"} : (tensor<?x400xf32>, tensor<120x400xf32>, tensor<120xf32>) -> tensor<?x120xf32>
      %8 = nn.relu %7 {name = "relu3"} : tensor<?x120xf32>
      %w4 = nn.param_ref @"fc2.weight" : tensor<84x120xf32>
      %b4 = nn.param_ref @"fc2.bias" : tensor<84xf32>
      %9 = nn.linear %8, %w4, %b4 {name = "fc2"} : (tensor<?x120xf32>, tensor<84x120xf32>, tensor<84xf32>) -> tensor<?x84xf32>
      %10 = nn.relu %9 {name = "relu4"} : tensor<?x84xf32>
      %w5 = nn.param_ref @"fc3.weight" : tensor<10x84xf32>
      %b5 = nn.param_ref @"fc3.bias" : tensor<10xf32>
      %11 = nn.linear %10, %w5, %b5 {name = "fc3"} : (tensor<?x84xf32>, tensor<10x84xf32>, tensor<10xf32>) -> tensor<?x10xf32>
      return %11 : tensor<?x10xf32>
    }
    func.func @loss(%out: tensor<?x10xf32>, %labels: tensor<?xi64>) -> tensor<f32> {
      %0 = nn.cross_entropy %out, %labels {name = "loss"} : tensor<?x10xf32>, tensor<?xi64>
      return %0 : tensor<f32>
    }
  }
}

// -----

// Batchnorm: running statistics are buffers, not parameters (PyTorch:
// conv 4*3*3*3 = 108 + bn weight/bias 8 = 116 parameters; buffers 4 + 4 + 1).
// The checkpoint holds all six tensors, num_batches_tracked as I64: 936 B,
// as safetensors_size() of scripts/torch_reference.py computes for this
// state_dict, plus 80 B for the training-progress __metadata__ nnc writes.

// CHECK-LABEL: model small @ batch 64, dtype f32, optimizer adam
// CHECK: conv1 conv2d [64,4,8,8] 108 432 
// CHECK-NEXT: bn1 batchnorm [64,4,8,8] 8 32 65,536
// CHECK: total parameters: 116 (trainable 116) = 464 B f32 / 232 B f16 / 116 B int8
// CHECK-NEXT: buffers (not parameters): 9 elements in 3 tensors = 40 B f32
// CHECK: checkpoint: 1,016 B safetensors
module @small attributes {nn.model} {
  nn.param @"conv1.weight" : tensor<4x3x3x3xf32> init uniform(0.2)
  nn.param @"bn1.weight" : tensor<4xf32> init ones
  nn.param @"bn1.bias" : tensor<4xf32> init zeros
  nn.param buffer @"bn1.running_mean" : tensor<4xf32> init zeros
  nn.param buffer @"bn1.running_var" : tensor<4xf32> init ones
  nn.param buffer @"bn1.num_batches_tracked" : tensor<i64> init zeros
  func.func @forward(%x: tensor<?x3x8x8xf32>) -> tensor<?x4x8x8xf32> {
    %w = nn.param_ref @"conv1.weight" : tensor<4x3x3x3xf32>
    %0 = nn.conv2d %x, %w {name = "conv1", stride = array<i64: 1, 1>, padding = array<i64: 1, 1>, dilation = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x8x8xf32>
    %g = nn.param_ref @"bn1.weight" : tensor<4xf32>
    %b = nn.param_ref @"bn1.bias" : tensor<4xf32>
    %m = nn.param_ref @"bn1.running_mean" : tensor<4xf32>
    %v = nn.param_ref @"bn1.running_var" : tensor<4xf32>
    %1 = nn.batchnorm %0, %g, %b, %m, %v {eps = 1.0e-5, momentum = 0.1, name = "bn1"} : (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
    %2 = nn.relu %1 {name = "relu1"} : tensor<?x4x8x8xf32>
    return %2 : tensor<?x4x8x8xf32>
  }
}
