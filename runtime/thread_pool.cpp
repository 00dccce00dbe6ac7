//===- runtime/thread_pool.cpp - A small fork-join thread pool ------------===//
#include "hip/runtime/thread_pool.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hip::rt {

unsigned numWorkers() {
  static unsigned n = [] {
    if (const char *env = std::getenv("HIP_NUM_THREADS")) {
      int v = std::atoi(env);
      if (v > 0) return static_cast<unsigned>(v);
    }
    return std::max(1u, std::thread::hardware_concurrency());
  }();
  return n;
}

namespace {
/// Workers wait for a job; each job is a range of indices claimed atomically.
class Pool {
public:
  Pool() {
    for (unsigned w = 1; w < numWorkers(); ++w) threads_.emplace_back([this, w] { loop(w); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> g(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto &t : threads_) t.join();
  }

  void run(std::size_t n, const std::function<void(std::size_t, unsigned)> &fn) {
    std::lock_guard<std::mutex> serial(runMutex_); // one job at a time
    {
      std::lock_guard<std::mutex> g(m_);
      fn_ = &fn;
      n_ = n;
      next_ = 0;
      active_ = static_cast<unsigned>(threads_.size());
      error_ = nullptr;
      ++generation_;
    }
    cv_.notify_all();
    work(0);
    std::unique_lock<std::mutex> g(m_);
    done_.wait(g, [this] { return active_ == 0; });
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

private:
  void work(unsigned w) {
    for (;;) {
      std::size_t i = next_.fetch_add(1);
      if (i >= n_) return;
      try {
        (*fn_)(i, w);
      } catch (...) {
        std::lock_guard<std::mutex> g(m_);
        if (!error_) error_ = std::current_exception();
        next_ = n_;
      }
    }
  }
  void loop(unsigned w) {
    std::size_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> g(m_);
        cv_.wait(g, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      work(w);
      std::lock_guard<std::mutex> g(m_);
      if (--active_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex m_, runMutex_;
  std::condition_variable cv_, done_;
  const std::function<void(std::size_t, unsigned)> *fn_ = nullptr;
  std::size_t n_ = 0;
  std::atomic<std::size_t> next_{0};
  unsigned active_ = 0;
  std::size_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};
} // namespace

void parallelFor(std::size_t n, const std::function<void(std::size_t, unsigned)> &fn) {
  if (n == 0) return;
  if (numWorkers() == 1 || n == 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  static Pool pool;
  pool.run(n, fn);
}

} // namespace hip::rt
