//===- kernels/hip_attention.cpp - hip_attention and dense_attention ------===//
//
// Checks the inputs (every constraint is an InvalidArgument naming the
// argument; nothing is allocated or written before the checks pass), brings
// them to the compute device, runs the mask pipeline (or reuses `previous`)
// and the block-sparse attention kernel.
//
//===----------------------------------------------------------------------===//
#include "hip/attention.h"
#include "hip/env.h"

#include "hip/error.h"
#include "hip/kernels/examples.h"
#include "hip/mask_stage.h"
#include "hip/runtime/cuda.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace hip {

namespace {
bool pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

/// The checked shape of one call.
struct Problem {
  int64_t B, Tq, Tk, H, Hkv, D;
  Device computeOn;
  Backend backend;
  int dtypeCode;
};

Device deviceFor(ComputeBackend want, Device data) {
  Backend b;
  switch (want) {
  case ComputeBackend::CPU: return Device::CPU;
  case ComputeBackend::CUDA: b = Backend::CUDA; break;
  case ComputeBackend::Auto:
    if (data == Device::CUDA) return Device::CUDA;
    b = selectBackend();
    break;
  }
  if (b == Backend::CUDA) {
    std::string why;
    if (!rt::cudaAvailable(&why))
      throw RuntimeError("the CUDA backend was asked for but no GPU is usable: " + why);
    return Device::CUDA;
  }
  return Device::CPU;
}

Problem checkInputs(const TensorView &q, const TensorView &k, const TensorView &v,
                    ComputeBackend backend, const TensorView &positionIds) {
  auto bad = [](const std::string &m) { return InvalidArgument(m); };
  q.validate("q");
  k.validate("k");
  v.validate("v");
  if (positionIds.defined()) positionIds.validate("position_ids");
  if (q.dim() != 4) throw bad("q must be 4-D [B, T_q, H, D], got " + q.str());
  if (k.dim() != 4) throw bad("k must be 4-D [B, T_k, H_kv, D], got " + k.str());
  if (v.dim() != 4) throw bad("v must be 4-D [B, T_k, H_kv, D], got " + v.str());
  if (k.shape != v.shape)
    throw bad("k and v must have the same shape, got " + k.str() + " and " + v.str());
  if (q.dtype != k.dtype || q.dtype != v.dtype)
    throw bad("q, k and v must have the same dtype, got " + std::string(scalarTypeName(q.dtype)) +
              ", " + scalarTypeName(k.dtype) + ", " + scalarTypeName(v.dtype));
  if (q.dtype != ScalarType::bf16 && q.dtype != ScalarType::f16 && q.dtype != ScalarType::f32)
    throw bad("q, k, v must be bf16, f16 or f32, got " + std::string(scalarTypeName(q.dtype)));
  if (q.device != k.device || q.device != v.device)
    throw bad("q, k and v must live on the same device");
  Problem p{q.shape[0], q.shape[1], k.shape[1], q.shape[2], k.shape[2], q.shape[3],
            Device::CPU, Backend::CPU, 0};
  if (k.shape[0] != p.B)
    throw bad("batch sizes differ: q " + q.str() + ", k " + k.str());
  if (k.shape[3] != p.D)
    throw bad("head dims differ: q " + q.str() + ", k " + k.str());
  if (p.Hkv <= 0 || p.H % p.Hkv)
    throw bad("H (" + std::to_string(p.H) + ") must be a multiple of H_kv (" +
              std::to_string(p.Hkv) + ")");
  bool supported = false;
  for (int64_t d : kSupportedHeadDims) supported |= d == p.D;
  if (!supported)
    throw bad("head dim D = " + std::to_string(p.D) + " is not supported (supported: 16, 32, 64, "
              "128, 256)");
  if (!positionIds.defined() && p.Tq > p.Tk)
    throw bad("T_q (" + std::to_string(p.Tq) + ") must not exceed T_k (" + std::to_string(p.Tk) +
              "): queries are the last T_q keys (pass position_ids otherwise)");
  for (const TensorView *t : {&q, &k, &v})
    if (t->numel() / std::max<int64_t>(p.B, 1) >= (int64_t(1) << 31))
      throw bad("each batch element of q, k, v must hold fewer than 2^31 elements, got " +
                t->str());
  p.computeOn = deviceFor(backend, q.device);
  p.backend = p.computeOn == Device::CUDA ? Backend::CUDA : Backend::CPU;
  if (p.computeOn == Device::CUDA && q.dtype == ScalarType::f32)
    throw bad("f32 inputs run on the CPU backend only; pass bf16 or f16 on CUDA");
  p.dtypeCode = q.dtype == ScalarType::bf16 ? 0 : q.dtype == ScalarType::f16 ? 1 : 2;
  if (positionIds.defined()) {
    const TensorView &pi = positionIds;
    bool shapeOk = (pi.dim() == 1 && pi.shape[0] == p.Tq) ||
                   (pi.dim() == 2 && pi.shape[0] == p.B && pi.shape[1] == p.Tq);
    if (!shapeOk || (pi.dtype != ScalarType::i32 && pi.dtype != ScalarType::i64))
      throw bad("position_ids must be i32/i64 [B, T_q] or [T_q], got " + pi.str());
  }
  return p;
}

/// 0-based query positions [B, T_q] on `dev`; checked against T_k.
Tensor positions(const Problem &p, const TensorView &positionIds, bool causal) {
  std::vector<int32_t> pos(size_t(p.B * p.Tq));
  if (positionIds.defined()) {
    std::vector<int64_t> given = Tensor::copyOf(positionIds, Device::CPU).toInt();
    for (int64_t b = 0; b < p.B; ++b)
      for (int64_t i = 0; i < p.Tq; ++i) {
        int64_t x = given[size_t(positionIds.dim() == 1 ? i : b * p.Tq + i)];
        if (x < 0 || x >= p.Tk)
          throw InvalidArgument("position_ids[" + std::to_string(b) + ", " + std::to_string(i) +
                                "] = " + std::to_string(x) + " is outside [0, T_k = " +
                                std::to_string(p.Tk) + ")");
        pos[size_t(b * p.Tq + i)] = int32_t(x);
      }
  } else {
    for (int64_t b = 0; b < p.B; ++b)
      for (int64_t i = 0; i < p.Tq; ++i) pos[size_t(b * p.Tq + i)] = int32_t(i + p.Tk - p.Tq);
  }
  // Non-causal: every query sees every key.
  if (!causal) std::fill(pos.begin(), pos.end(), int32_t(p.Tk - 1));
  Tensor host = Tensor::empty({p.B, p.Tq}, ScalarType::i32, Device::CPU);
  if (!pos.empty()) std::memcpy(host.data(), pos.data(), pos.size() * 4);
  return p.computeOn == Device::CPU ? host : Tensor::copyOf(host.view(), p.computeOn);
}

/// `v` on the compute device with unit stride along D (copied if needed).
TensorView onDevice(const TensorView &v, Device dev, std::vector<Tensor> &keep) {
  if (v.device == dev && v.stride(3) == 1) return v;
  keep.push_back(Tensor::copyOf(v, dev));
  return keep.back().view();
}

/// `t` on `dev` (itself when it is there already).
Tensor toDevice(Tensor t, Device dev) {
  if (t.device() == dev) return t;
  return Tensor::copyOf(t.view(), dev);
}

/// The context of the kernels of one call (inputs not yet attached).
MaskContext contextFor(const Problem &p, std::optional<float> softmaxScale) {
  MaskContext ctx;
  ctx.target = currentTarget(p.backend);
  ctx.device = p.computeOn;
  ctx.B = p.B, ctx.Tq = p.Tq, ctx.Tk = p.Tk, ctx.H = p.H, ctx.Hkv = p.Hkv, ctx.D = p.D;
  // (The mask search scores with q.k and scales the maxima: the same order
  // only for a positive scale.)
  if (softmaxScale && !(std::isfinite(*softmaxScale) && *softmaxScale > 0))
    throw InvalidArgument("softmax_scale must be a positive finite number, got " +
                          std::to_string(*softmaxScale));
  ctx.scale = softmaxScale.value_or(1.f);
  ctx.dtypeCode = p.dtypeCode;
  return ctx;
}

/// Tile sizes of the attention kernels per head dim, chosen so that the
/// GPU code does not spill (ptxas -v on sm_90a); the autotuner refines them.
/// One warp per 16 query rows, so that the warps split M only and P stays in
/// registers between the two dots (the compiler halves them where a dot
/// does not tile).
/// Three pipeline stages where the dots run on wgmma (sm_90a): the P V
/// product of one key tile then runs on into the next iteration (the
/// compiler defers its wait when a third stage holds the tile being
/// loaded); two elsewhere (sm_86/sm_89 have 99 KiB of shared memory).
struct Schedule {
  int64_t BM, BN, warps, stages = 2;
};
Schedule attentionSchedule(const Target &t, int64_t D, int64_t BM = 0) {
  Schedule s = D <= 64 ? Schedule{64, 64, 4} : D <= 128 ? Schedule{128, 64, 8} : Schedule{32, 32, 8};
  if (t.hasWgmma()) s.stages = 3;
  if (BM && BM != s.BM) {
    s.BM = BM;
    s.warps = std::clamp<int64_t>(BM / 16, 1, 8);
    // Sparse attention's extra state: no spills at BN 32; with wgmma (the
    // accumulators a warpgroup's, not a warp's) BN 64 fits at 2 stages and
    // gathers twice the keys per barrier (H100, hipattn tune at 16k: 1.18 ms
    // against 1.48 ms at BN 32, 3 stages).
    if (D > 64) {
      s.BN = t.hasWgmma() && D <= 128 ? 64 : 32;
      if (t.hasWgmma() && D <= 128) s.stages = 2;
    }
  }
  return s;
}

void sync(const Problem &p) {
  if (p.computeOn == Device::CUDA) rt::Cuda::get().synchronize();
}
} // namespace

HiPAttentionArgs HiPAttentionArgs::fromEnvironment() {
  HiPAttentionArgs a;
  a.mask_k = envInt("HIP_K", a.mask_k);
  a.block_size_q = envInt("HIP_BQ", a.block_size_q);
  a.block_stride_q = envInt("HIP_BSQ", a.block_stride_q);
  a.block_size_k = envInt("HIP_BK", a.block_size_k);
  a.block_stride_k = envInt("HIP_BSK", a.block_stride_k);
  a.sliding_window_size = envInt("HIP_SW", a.sliding_window_size);
  a.sink_token_size = envInt("HIP_NSINK", a.sink_token_size);
  return a;
}

autotune::Key algorithmKey(const TensorView &q, const TensorView &k, const HiPAttentionArgs &a) {
  Device dev = deviceFor(a.backend, q.device);
  Target t = currentTarget(dev == Device::CUDA ? Backend::CUDA : Backend::CPU);
  int64_t H = q.dim() == 4 ? q.shape[2] : 0, Hkv = k.dim() == 4 ? k.shape[2] : 1;
  return {"hip_attention.algorithm", "1", autotune::deviceFingerprint(t),
          {{"D", q.dim() == 4 ? q.shape[3] : 0}, {"dtype", int64_t(q.dtype)},
           {"gqa", Hkv ? H / Hkv : 0}, {"mask_k", a.mask_k}, {"sink", a.sink_token_size},
           {"window", a.sliding_window_size}, {"causal", a.is_causal}},
          autotune::Key::pow2Bucket({{"T_q", q.dim() == 4 ? q.shape[1] : 0},
                                     {"T_k", k.dim() == 4 ? k.shape[1] : 0}})};
}

namespace {
/// `a` with the tuned HiP parameters, when asked for and found.
HiPAttentionArgs withTunedParameters(const TensorView &q, const TensorView &k, HiPAttentionArgs a) {
  const char *env = std::getenv("HIP_TUNED");
  if (!a.tuned && !(env && *env && std::string(env) != "0")) return a;
  autotune::Cache cache;
  if (auto e = cache.lookup(algorithmKey(q, k, a), true)) {
    a.block_size_q = e->config.get("block_size_q", a.block_size_q);
    a.block_stride_q = e->config.get("block_stride_q", a.block_stride_q);
    a.block_size_k = e->config.get("block_size_k", a.block_size_k);
    a.block_stride_k = e->config.get("block_stride_k", a.block_stride_k);
  }
  return a;
}
} // namespace

namespace {
/// `f()`, with the standard library's exceptions turned into the library's
/// own (the API throws hip::Error subclasses only).
template <class F> auto apiCall(const char *fn, F &&f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error &) {
    throw;
  } catch (const std::bad_alloc &) {
    throw RuntimeError(std::string(fn) + ": out of host memory");
  } catch (const std::exception &e) {
    throw InternalError(std::string(fn) + ": " + e.what());
  }
}

HiPAttentionOutput hipAttentionImpl(const TensorView &q, const TensorView &k, const TensorView &v,
                                    const HiPAttentionArgs &givenArgs,
                                    const HiPAttentionOutputMetadata *previous);
Tensor denseAttentionImpl(const TensorView &q, const TensorView &k, const TensorView &v,
                          const DenseAttentionArgs &args);
} // namespace

HiPAttentionOutput hip_attention(const TensorView &q, const TensorView &k, const TensorView &v,
                                 const HiPAttentionArgs &args,
                                 const HiPAttentionOutputMetadata *previous) {
  return apiCall("hip_attention", [&] { return hipAttentionImpl(q, k, v, args, previous); });
}

Tensor dense_attention(const TensorView &q, const TensorView &k, const TensorView &v,
                       const DenseAttentionArgs &args) {
  return apiCall("dense_attention", [&] { return denseAttentionImpl(q, k, v, args); });
}

namespace {
HiPAttentionOutput hipAttentionImpl(const TensorView &q, const TensorView &k, const TensorView &v,
                                    const HiPAttentionArgs &givenArgs,
                                    const HiPAttentionOutputMetadata *previous) {
  kernels::registerAttentionKernels();
  Problem p = checkInputs(q, k, v, givenArgs.backend, givenArgs.position_ids);
  HiPAttentionArgs args = withTunedParameters(q, k, givenArgs);
  if (args.sink_token_size < 0 || args.sliding_window_size < 0)
    throw InvalidArgument("sink_token_size and sliding_window_size must be >= 0");
  if (!args.is_causal && (args.sink_token_size || args.sliding_window_size))
    throw InvalidArgument("is_causal = false needs sink_token_size = 0 and sliding_window_size = "
                          "0 (got " + std::to_string(args.sink_token_size) + " and " +
                          std::to_string(args.sliding_window_size) + ")");
  MaskPipeline pipeline = MaskPipeline::fromJson(args.mask_pipeline, args);
  MaskContext ctx = contextFor(p, args.softmax_scale);
  ctx.sink = args.sink_token_size;
  ctx.window = args.sliding_window_size;
  ctx.causal = args.is_causal;
  if (previous) {
    const HiPAttentionOutputMetadata &m = *previous;
    if (m.batch != p.B || m.heads != p.H || m.t_q != p.Tq || !m.indices.defined())
      throw InvalidArgument("previous metadata was made for B=" + std::to_string(m.batch) +
                            ", H=" + std::to_string(m.heads) + ", T_q=" + std::to_string(m.t_q) +
                            ", not for this call's B=" + std::to_string(p.B) + ", H=" +
                            std::to_string(p.H) + ", T_q=" + std::to_string(p.Tq));
    if (!pow2(m.block_size_k) || ctx.sink % m.block_size_k || ctx.window % m.block_size_k)
      throw InvalidArgument("previous metadata: block_size_k must divide sink and window");
  } else {
    pipeline.validate(ctx);
  }

  HiPAttentionOutput result;
  if (p.B * p.Tq * p.H == 0) { // empty in, empty out
    int64_t bq = previous ? previous->block_size_q : args.block_size_q;
    result.metadata = {Tensor::empty({p.B * p.H, 0, 0}, ScalarType::i32, q.device),
                       Tensor::empty({p.B * p.H, 0}, ScalarType::i32, q.device),
                       bq, args.block_size_k, p.B, p.H, p.Tq, p.Tk};
    if (!args.mask_only) result.out = Tensor::empty({p.B, p.Tq, p.H, p.D}, q.dtype, q.device);
    return result;
  }

  std::vector<Tensor> keep;
  ctx.q = onDevice(q, p.computeOn, keep);
  ctx.k = onDevice(k, p.computeOn, keep);
  TensorView vd = onDevice(v, p.computeOn, keep);
  ctx.pos = positions(p, args.position_ids, args.is_causal);

  Candidates mask;
  if (previous) {
    mask.indices = toDevice(previous->indices, p.computeOn);
    mask.ks = toDevice(previous->ks, p.computeOn);
    mask.blockSizeQ = previous->block_size_q;
    mask.blockSizeK = previous->block_size_k;
  } else {
    mask = pipeline.run(ctx);
  }
  result.metadata = {mask.indices, mask.ks, mask.blockSizeQ, mask.blockSizeK,
                     p.B, p.H, p.Tq, p.Tk};
  if (!args.mask_only) {
    int64_t nQB = (p.Tq + mask.blockSizeQ - 1) / mask.blockSizeQ;
    Schedule sc = attentionSchedule(ctx.target, p.D,
                                    std::clamp<int64_t>(mask.blockSizeQ, 16,
                                                        attentionSchedule(ctx.target, p.D).BM));
    Tensor out = Tensor::empty({p.B, p.Tq, p.H, p.D}, q.dtype, p.computeOn);
    dsl::Config cfg{{"BLOCK_M", sc.BM},
                    {"BLOCK_N", sc.BN}, {"HEAD_DIM", p.D},
                    {"DTYPE", p.dtypeCode}, {"BLOCK_SIZE_Q", mask.blockSizeQ},
                    {"BLOCK_SIZE_K", mask.blockSizeK}, {"SINK", ctx.sink},
                    {"WINDOW", ctx.window}, {"num_warps", sc.warps},
                    {"num_stages", sc.stages}};
    int64_t bq = mask.blockSizeQ;
    // A selection shared by the G query heads of each KV head (the tree
    // stage's head_shared) is attended with the group's heads stacked in
    // the tile's rows: up to 128 rows (8 warps), BLOCK_M / G queries of each
    // head, so each gathered K/V tile serves G times more rows.
    int64_t G = p.H / p.Hkv;
    if (G > 1 && !previous && mask.state.value("heads_shared", int64_t(1)) == G &&
        (G & (G - 1)) == 0 && G <= 8) {
      int64_t rows = std::min<int64_t>(128, G * std::min<int64_t>(bq, 32));
      if (rows / G >= 1 && (rows / G >= bq || bq % (rows / G) == 0)) {
        cfg.set("HEADS", G);
        cfg.set("BLOCK_M", rows);
        cfg.set("num_warps", std::clamp<int64_t>(rows / 16, 1, 8));
      }
    }
    // On wgmma, Q staged once in shared memory and read through a
    // descriptor (dot_a_shared) instead of held in 32 registers per thread:
    // 1.22 against 1.38 ms at 16k, 9.55 against 9.76 ms at 128k (H100,
    // bench/RESULTS.md step 8). Not yet measured with a stacked group.
    if (ctx.target.hasWgmma() && p.D % 64 == 0 && cfg.get("HEADS", 1) == 1)
      cfg.set("dot_a_shared", 1);
    auto grid = [&](const dsl::Config &c) {
      int64_t perHead = c["BLOCK_M"] / c.get("HEADS", 1);
      int64_t progs = nQB * std::max<int64_t>(1, bq / perHead);
      if (c.get("HEADS", 1) == 1 && c.get("GROUPED", 0)) // (a GQA group's heads adjacent)
        return std::array<unsigned, 3>{unsigned(progs * G), unsigned(p.B * p.Hkv), 1};
      int64_t heads = c.get("HEADS", 1) > 1 ? p.B * p.Hkv : p.B * p.H;
      return std::array<unsigned, 3>{unsigned(progs), unsigned(heads), 1};
    };
    std::vector<ArgValue> kargs =
        ctx.kernelArgs({MaskContext::pointer(mask.indices), MaskContext::pointer(mask.ks)},
                       {ArgValue::int32(int32_t(nQB)), ArgValue::int32(int32_t(mask.capacity()))},
                       &vd, &out);
    if (!args.attention_schedule.empty()) {
      pinSchedule("hip_block_sparse_attention", cfg, args.attention_schedule,
                  "HiPAttentionArgs::attention_schedule");
      auto g = grid(cfg);
      if (g[0] && g[1]) ctx.launch("hip_block_sparse_attention", cfg, g, kargs);
    } else {
      ctx.launchTuned("hip_block_sparse_attention", cfg, grid, kargs, {out.view()},
                      {{"T_q", p.Tq}, {"T_k", p.Tk}},
                      {{"gqa", p.H / p.Hkv}, {"k_capacity", mask.capacity()}});
    }
    sync(p);
    result.out = toDevice(out, q.device);
  } else {
    sync(p);
  }
  result.metadata.indices = toDevice(result.metadata.indices, q.device);
  result.metadata.ks = toDevice(result.metadata.ks, q.device);
  return result;
}

Tensor denseAttentionImpl(const TensorView &q, const TensorView &k, const TensorView &v,
                          const DenseAttentionArgs &args) {
  kernels::registerAttentionKernels();
  Problem p = checkInputs(q, k, v, args.backend, args.position_ids);
  Tensor out = Tensor::empty({p.B, p.Tq, p.H, p.D}, q.dtype, p.computeOn);
  if (p.B * p.Tq * p.H == 0) return toDevice(out, q.device);
  std::vector<Tensor> keep;
  MaskContext ctx = contextFor(p, args.softmax_scale);
  ctx.q = onDevice(q, p.computeOn, keep);
  ctx.k = onDevice(k, p.computeOn, keep);
  TensorView vd = onDevice(v, p.computeOn, keep);
  ctx.pos = positions(p, args.position_ids, args.is_causal);
  Schedule sc = attentionSchedule(ctx.target, p.D);
  dsl::Config cfg{{"BLOCK_M", sc.BM}, {"BLOCK_N", sc.BN}, {"HEAD_DIM", p.D}, {"DTYPE", p.dtypeCode},
                  {"CAUSAL", args.is_causal ? 1 : 0}, {"num_warps", sc.warps},
                  {"num_stages", sc.stages}};
  auto grid = [&](const dsl::Config &c) {
    return std::array<unsigned, 3>{unsigned((p.Tq + c["BLOCK_M"] - 1) / c["BLOCK_M"]),
                                   unsigned(p.B * p.H), 1};
  };
  if (!args.schedule.empty()) {
    pinSchedule("flash_attention", cfg, args.schedule, "DenseAttentionArgs::schedule");
    ctx.launch("flash_attention", cfg, grid(cfg), ctx.kernelArgs({}, {}, &vd, &out));
  } else {
    ctx.launchTuned("flash_attention", cfg, grid, ctx.kernelArgs({}, {}, &vd, &out),
                    {out.view()}, {{"T_q", p.Tq}, {"T_k", p.Tk}}, {{"gqa", p.H / p.Hkv}});
  }
  sync(p);
  return toDevice(out, q.device);
}
} // namespace

} // namespace hip
