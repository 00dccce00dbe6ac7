//===- tests/skip_without_gpu.h - Skipping GPU cases without a GPU -*- C++ -*-===//
#pragma once

#include "hip/runtime/cuda.h"

#include <gtest/gtest.h>

#include <string>

/// Skips the current test, saying why, when no usable CUDA GPU is present
/// (GTEST_SKIP returns from the calling function, hence a macro).
#define HIP_SKIP_WITHOUT_GPU()                                                                     \
  do {                                                                                             \
    std::string whyNoGpu;                                                                          \
    if (!hip::rt::cudaAvailable(&whyNoGpu))                                                        \
      GTEST_SKIP() << "no CUDA GPU, GPU case not run: " << whyNoGpu;                               \
  } while (0)
