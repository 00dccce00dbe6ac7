//===- hip/runtime/thread_pool.h - Parallel loops on the host ---*- C++ -*-===//
#pragma once

#include <cstddef>
#include <functional>

namespace hip::rt {

/// Number of worker threads (HIP_NUM_THREADS, default: hardware threads).
unsigned numWorkers();

/// Runs fn(index, worker) for index in [0, n) on the process-wide pool;
/// `worker` is in [0, numWorkers()). Returns when all are done; the first
/// exception thrown by fn is rethrown here.
void parallelFor(std::size_t n, const std::function<void(std::size_t, unsigned)> &fn);

} // namespace hip::rt
