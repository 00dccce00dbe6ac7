//===- bench/bench_decode.cpp - Paged decode latency ----------------------===//
//
//   bench-decode [--T N] [--B N] [--H N] [--Hkv N] [--D N] [--page-size N]
//                [--reps N] [--backend cpu|cuda] [--method dense|hip]
//     (defaults: T 131072, B 1, H 32, H_kv 8, D 128, page size 16, 20 reps)
//
// One decode step (T_q = 1 per sequence, every sequence T keys) of
// paged_dense_attention (or paged_hip_attention with the v1.1 defaults and
// the masks of a first call passed back: mask cached) over a bf16 paged
// cache with a shuffled block table,
// random data: the median wall time of a call (what a serving step pays:
// the checks, the table upload, both kernel launches and the final
// synchronisation), after 3 warm-up calls. Prints one JSON line; the
// same-shape baseline is bench/decode_baseline.py (torch SDPA).
//
//===----------------------------------------------------------------------===//
#include "hip/attention.h"
#include "hip/error.h"
#include "hip/runtime/cuda.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <random>
#include <string>

using namespace hip;

int main(int argc, char **argv) {
  int64_t T = 131072, B = 1, H = 32, Hkv = 8, D = 128, ps = 16, reps = 20;
  std::string backend = "cuda", method = "dense";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench-decode: error: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    std::map<std::string, int64_t *> ints{{"--T", &T},      {"--B", &B}, {"--H", &H},
                                          {"--Hkv", &Hkv},  {"--D", &D}, {"--page-size", &ps},
                                          {"--reps", &reps}};
    std::map<std::string, std::string *> words{{"--backend", &backend}, {"--method", &method}};
    if (auto w = words.find(a); w != words.end()) {
      *w->second = next();
    } else if (auto n = ints.find(a); n != ints.end()) {
      std::string v = next();
      char *end = nullptr;
      *n->second = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end) {
        std::fprintf(stderr, "bench-decode: error: %s needs an integer\n", a.c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr, "bench-decode: error: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (T < 1 || B < 1 || H < 1 || Hkv < 1 || H % Hkv || ps < 1 || reps < 1 ||
      (backend != "cpu" && backend != "cuda") || (method != "dense" && method != "hip")) {
    std::fprintf(stderr, "bench-decode: error: sizes must be >= 1 with H a multiple of H_kv, "
                         "--backend cpu or cuda, --method dense or hip\n");
    return 2;
  }
  try {
    Device dev = backend == "cuda" ? Device::CUDA : Device::CPU;
    int64_t pages = (T + ps - 1) / ps, numPages = B * pages;
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    auto randomBf16 = [&](std::vector<int64_t> shape) { // (round to nearest even)
      Tensor h = Tensor::empty(shape, ScalarType::bf16, Device::CPU);
      auto *p = static_cast<uint16_t *>(h.data());
      for (int64_t i = 0; i < h.numel(); ++i) {
        float x = u(rng);
        uint32_t bits;
        std::memcpy(&bits, &x, 4);
        p[i] = uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
      }
      return dev == Device::CPU ? h : Tensor::copyOf(h.view(), dev);
    };
    Tensor q = randomBf16({B, H, D});
    Tensor k = randomBf16({numPages, ps, Hkv, D}), v = randomBf16({numPages, ps, Hkv, D});
    std::vector<int32_t> order(static_cast<size_t>(numPages));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    Tensor table = Tensor::empty({B, pages}, ScalarType::i32, Device::CPU);
    std::memcpy(table.data(), order.data(), order.size() * 4);
    Tensor lens = Tensor::empty({B}, ScalarType::i32, Device::CPU);
    Tensor cu = Tensor::empty({B + 1}, ScalarType::i32, Device::CPU);
    for (int64_t b = 0; b <= B; ++b) {
      if (b < B) static_cast<int32_t *>(lens.data())[b] = int32_t(T);
      static_cast<int32_t *>(cu.data())[b] = int32_t(b);
    }
    auto on = [&](const Tensor &t) {
      return dev == Device::CPU ? t : Tensor::copyOf(t.view(), dev);
    };
    Tensor tableD = on(table), lensD = on(lens), cuD = on(cu);
    PagedKVCache cache{k.view(), v.view(), tableD.view(), lensD.view()};
    std::vector<double> ms;
    std::vector<HiPAttentionOutputMetadata> masks; // (hip: the first call's, then passed back)
    for (int64_t r = 0; r < reps + 3; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      if (method == "hip") {
        auto out = paged_hip_attention(q.view(), cache, cuD.view(), HiPAttentionArgs(),
                                       masks.empty() ? nullptr : &masks);
        if (masks.empty()) masks = out.metadata;
      } else {
        Tensor out = paged_dense_attention(q.view(), cache, cuD.view());
      }
      double dt =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (r >= 3) ms.push_back(dt);
    }
    std::sort(ms.begin(), ms.end());
    std::string gpu = dev == Device::CUDA ? rt::Cuda::get().info().name : "cpu";
    std::printf("{\"device\": \"%s\", \"method\": \"%s\", \"T\": %lld, \"B\": %lld, "
                "\"H\": %lld, \"H_kv\": %lld, \"D\": %lld, \"page_size\": %lld, \"reps\": %lld, "
                "\"ms\": %.4f, \"ms_min\": %.4f}\n",
                gpu.c_str(), method.c_str(), (long long)T, (long long)B, (long long)H,
                (long long)Hkv, (long long)D, (long long)ps, (long long)reps, ms[ms.size() / 2],
                ms.front());
  } catch (const InvalidArgument &e) {
    std::fprintf(stderr, "bench-decode: error: %s\n", e.what());
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "bench-decode: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
