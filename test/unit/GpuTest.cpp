//===- GpuTest.cpp - The CUDA driver layer without a GPU ------------------===//
//
// runtime/Gpu.h declares the driver API constants it uses by hand (the
// runtime builds without the CUDA toolkit); where cuda.h is installed, they
// must equal NVIDIA's. Without a usable GPU, the reason is one line.
//
//===----------------------------------------------------------------------===//

#include "runtime/Gpu.h"

#include <gtest/gtest.h>

#include <cstdio>

#if __has_include(<cuda.h>)
#include <cuda.h>
#define NNC_HAVE_CUDA_H 1
#endif

using namespace nnc::rt;

TEST(GpuTest, ConstantsMatchCudaHeader) {
#ifdef NNC_HAVE_CUDA_H
  EXPECT_EQ(gpu::kSuccess, CUDA_SUCCESS);
  EXPECT_EQ(gpu::kErrorStubLibrary, CUDA_ERROR_STUB_LIBRARY);
  EXPECT_EQ(gpu::kErrorNoDevice, CUDA_ERROR_NO_DEVICE);
  EXPECT_EQ(gpu::kAttrComputeCapabilityMajor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
  EXPECT_EQ(gpu::kAttrComputeCapabilityMinor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
  EXPECT_EQ(gpu::kAttrMultiprocessorCount, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  EXPECT_EQ(gpu::kStreamNonBlocking, unsigned(CU_STREAM_NON_BLOCKING));
  EXPECT_EQ(gpu::kCaptureModeThreadLocal, int(CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
  EXPECT_EQ(gpu::kEventDisableTiming, unsigned(CU_EVENT_DISABLE_TIMING));
  static_assert(sizeof(gpu::CUdeviceptr) == sizeof(CUdeviceptr));
  static_assert(sizeof(gpu::CUdevice) == sizeof(CUdevice));
#else
  GTEST_SKIP() << "cuda.h not installed: nothing to compare the constants with";
#endif
}

TEST(GpuTest, OpenLibraryNamesWhatItTried) {
  std::string error;
  EXPECT_EQ(gpu::openLibrary({"libnnc-no-such-a.so", "libnnc-no-such-b.so"}, error), nullptr);
  EXPECT_NE(error.find("cannot load libnnc-no-such-a.so, libnnc-no-such-b.so ("), std::string::npos)
      << error;
}

TEST(GpuTest, ReasonIsOneLine) {
  const std::string &reason = gpu::unavailableReason();
  if (reason.empty())
    GTEST_SKIP() << "a GPU is usable here: " << gpu::deviceDescription();
  std::printf("GPU path unavailable: %s\n", reason.c_str());
  EXPECT_EQ(reason.find('\n'), std::string::npos) << reason;
  // The second call returns the same, without loading anything again.
  EXPECT_EQ(&gpu::unavailableReason(), &reason);
}
