//===- kernels/paged_attention.cpp - Attention over a paged KV cache ------===//
//
// paged_hip_attention, paged_dense_attention and append_paged_kv (see
// hip/attention.h). Every argument is checked first (shapes, dtypes,
// devices, cu_seqlens_q, seq_lens against the block table, every table entry
// a sequence uses), so a bad call launches nothing and writes nothing.
// The DSL kernel paged_rows gathers each sequence's pages into contiguous
// K/V on the cache's device (and scatters appended rows into the pages); the
// contiguous kernels then run per sequence. Dense decode rows (T_q = 1) run
// instead on paged_decode, split-K over the pages, and paged_decode_merge.
//
//===----------------------------------------------------------------------===//
#include "hip/attention.h"

#include "hip/compiler/compiler.h"
#include "hip/dsl/dsl.h"
#include "hip/env.h"
#include "hip/error.h"
#include "hip/kernels/examples.h"
#include "hip/mask_stage.h"
#include "hip/runtime/cuda.h"
#include "hip/runtime/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace hip {
namespace {
using namespace hip::dsl;

// paged_rows: copies n rows of `row` elements. MODE 0 reads them from the
// pages (row i is position first + i of the sequence whose block-table row
// `table` points to) into a contiguous block; MODE 1 writes a contiguous
// block into the pages; MODE 2 copies contiguous to contiguous. `table` is
// the whole block table, `table_row` the offset of the sequence's row. One program
// per BLOCK_T rows x BLOCK_C columns.
void pagedRows(Builder &b, const Config &c) {
  int64_t code = c["DTYPE"], BT = c["BLOCK_T"], BC = c["BLOCK_C"], mode = c["MODE"];
  DType t = code == 0 ? DType::bf16 : code == 1 ? DType::f16 : DType::f32;
  Val src = b.arg("src", ptr(t)), dst = b.arg("dst", ptr(t));
  Val table = b.arg("table", ptr(DType::i32));
  Val tableRow = b.arg("table_row", DType::i32); // (pointers must be 16-byte aligned)
  Val n = b.arg("n", DType::i32), first = b.arg("first", DType::i32);
  Val pageSize = b.arg("page_size", DType::i32), row = b.arg("row", DType::i32);
  Val i = program_id(0) * int(BT) + arange(0, BT);
  Val col = program_id(1) * int(BC) + arange(0, BC);
  Val ok = i < n;
  Val m = expand_dims(ok, 1) & expand_dims(col < row, 0);
  Val plain = cast(i, DType::i64), paged = plain;
  if (mode != 2) { // (MODE 2 has no table)
    Val pos = first + i;
    paged = cast(load(table + (tableRow + pos / pageSize), ok, 0), DType::i64) *
                cast(pageSize, DType::i64) +
            cast(pos % pageSize, DType::i64);
  }
  Val r64 = cast(row, DType::i64), c64 = expand_dims(cast(col, DType::i64), 0);
  Val from = src + (expand_dims((mode == 0 ? paged : plain) * r64, 1) + c64);
  Val to = dst + (expand_dims((mode == 1 ? paged : plain) * r64, 1) + c64);
  store(to, load(from, m, 0.0), m);
}

const double kInfinity = std::numeric_limits<double>::infinity();

// paged_decode: one new token per sequence (T_q = 1) attending to its
// seq_len keys straight from the pages, split along the keys
// (flash-decoding): program (s, b * H_kv + h) takes keys [s * split_len,
// (s + 1) * split_len) of sequence b for the GROUP query heads of KV head h
// at once (ROWS >= GROUP rows of one dot: each K/V tile is loaded once for
// the group), and writes its normalised partial output and its base-2
// log-sum-exp (-inf where it saw no key) to o_part / lse_part [splits, B *
// H, (D)]. A sequence whose q_rows entry is -1 (not decoding in this call)
// sees no key.
void pagedDecode(Builder &b, const Config &c) {
  int64_t code = c["DTYPE"], D = c["HEAD_DIM"], BN = c["BLOCK_N"], G = c["GROUP"], R = c["ROWS"];
  DType t = code == 0 ? DType::bf16 : code == 1 ? DType::f16 : DType::f32;
  Val q = b.arg("q", ptr(t)), kc = b.arg("k_cache", ptr(t)), vc = b.arg("v_cache", ptr(t));
  Val table = b.arg("table", ptr(DType::i32)), lens = b.arg("seq_lens", ptr(DType::i32));
  Val qRows = b.arg("q_rows", ptr(DType::i32));
  Val oPart = b.arg("o_part", ptr(DType::f32)), lsePart = b.arg("lse_part", ptr(DType::f32));
  Val maxPages = b.arg("max_pages", DType::i32), pageSize = b.arg("page_size", DType::i32);
  Val Hkv = b.arg("H_kv", DType::i32), splitLen = b.arg("split_len", DType::i32);
  Val scale = b.arg("scale_log2", DType::f32); // softmax scale * log2(e)
  Val s = program_id(0), bh = program_id(1);
  Val seq = bh / Hkv, h = bh % Hkv;
  Val qRow = load(qRows + seq), len = load(lens + seq);
  Val lo = s * splitLen;
  Val hi = where(qRow >= 0, maximum(minimum(lo + splitLen, len), lo), lo);
  Val g = arange(0, R), d = arange(0, D), ar = arange(0, BN);
  Val gOk = g < int(G);
  // Rows of the group's heads (row q_row of q [num_tokens, H, D]).
  Val qOff = (maximum(qRow, 0) * (Hkv * int(G)) + h * int(G) + g) * int(D);
  Val qt = load(q + (expand_dims(qOff, 1) + expand_dims(d, 0)), expand_dims(gOk, 1), 0.0);
  Val h64 = cast(h, DType::i64), hkv64 = cast(Hkv, DType::i64),
      d64 = expand_dims(cast(d, DType::i64), 0);
  std::vector<Val> st =
      for_range(lo, hi, BN,
                {full({R}, -kInfinity, DType::f32), full({R}, 0.0, DType::f32),
                 full({R, D}, 0.0, DType::f32)},
                [&](Val n, std::vector<Val> c) {
                  Val pos = n + ar;
                  Val ok = pos < hi;
                  Val page = load(table + (seq * maxPages + pos / pageSize), ok, 0);
                  Val slot = cast(page, DType::i64) * cast(pageSize, DType::i64) +
                             cast(pos % pageSize, DType::i64);
                  Val rows = expand_dims((slot * hkv64 + h64) * int(D), 1) + d64;
                  Val kt = load(kc + rows, expand_dims(ok, 1), 0.0);
                  Val logits = where(expand_dims(ok, 0), dot(qt, trans(kt)) * scale, -kInfinity);
                  Val mNew = maximum(c[0], max(logits, 1));
                  Val mSafe = where(mNew == -kInfinity, 0.0, mNew);
                  Val p = exp2(logits - expand_dims(mSafe, 1));
                  Val alpha = exp2(c[0] - mSafe);
                  Val vt = load(vc + rows, expand_dims(ok, 1), 0.0);
                  Val acc = dot(cast(p, t), vt, c[2] * expand_dims(alpha, 1));
                  return std::vector<Val>{mNew, c[1] * alpha + sum(p, 1), acc};
                });
  Val seen = st[1] > 0.0;
  Val o = st[2] / expand_dims(where(seen, st[1], 1.0), 1);
  Val lse = where(seen, st[0] + log2(where(seen, st[1], 1.0)), -kInfinity);
  Val idx = s * (num_programs(1) * int(G)) + bh * int(G) + g; // (split, b * H + head)
  store(oPart + (expand_dims(idx * int(D), 1) + expand_dims(d, 0)), o, expand_dims(gOk, 1));
  store(lsePart + idx, lse, gOk);
}

// paged_decode_merge: program b * H_kv + h merges the `splits` partial
// outputs of the group's heads, weighted by 2^lse, into row q_rows[b] of
// out [num_tokens, H, D] (nothing for a sequence whose entry is -1).
void pagedDecodeMerge(Builder &b, const Config &c) {
  int64_t code = c["DTYPE"], D = c["HEAD_DIM"], G = c["GROUP"], R = c["ROWS"];
  DType t = code == 0 ? DType::bf16 : code == 1 ? DType::f16 : DType::f32;
  Val oPart = b.arg("o_part", ptr(DType::f32)), lsePart = b.arg("lse_part", ptr(DType::f32));
  Val qRows = b.arg("q_rows", ptr(DType::i32)), out = b.arg("out", ptr(t));
  Val Hkv = b.arg("H_kv", DType::i32), splits = b.arg("splits", DType::i32);
  Val bh = program_id(0), seq = bh / Hkv, h = bh % Hkv;
  Val qRow = load(qRows + seq);
  Val g = arange(0, R), d = arange(0, D);
  Val gOk = g < int(G);
  Val idx = bh * int(G) + g, stride = num_programs(0) * int(G);
  std::vector<Val> st =
      for_range(0, where(qRow >= 0, splits, 0), 1,
                {full({R}, -kInfinity, DType::f32), full({R}, 0.0, DType::f32),
                 full({R, D}, 0.0, DType::f32)},
                [&](Val sp, std::vector<Val> c) {
                  Val at = sp * stride + idx;
                  Val lse = load(lsePart + at, gOk, -kInfinity);
                  Val o = load(oPart + (expand_dims(at * int(D), 1) + expand_dims(d, 0)),
                               expand_dims(gOk, 1), 0.0);
                  Val mNew = maximum(c[0], lse);
                  Val mSafe = where(mNew == -kInfinity, 0.0, mNew);
                  Val alpha = exp2(c[0] - mSafe), w = exp2(lse - mSafe);
                  return std::vector<Val>{mNew, c[1] * alpha + w,
                                          c[2] * expand_dims(alpha, 1) + o * expand_dims(w, 1)};
                });
  Val o = st[2] / expand_dims(where(st[1] > 0.0, st[1], 1.0), 1);
  Val at = (maximum(qRow, 0) * (Hkv * int(G)) + h * int(G) + g) * int(D);
  store(out + (expand_dims(at, 1) + expand_dims(d, 0)), cast(o, t),
        expand_dims(gOk & (qRow >= 0), 1));
}

} // namespace
} // namespace hip

namespace hip::kernels {
void registerPagedKernels() {
  static bool done = dsl::registerKernel(
      {"paged_rows",
       "rows between a paged KV cache and contiguous memory (gather, scatter, copy)",
       {},
       dsl::Config{{"DTYPE", 0}, {"BLOCK_T", 16}, {"BLOCK_C", 256}, {"MODE", 0}, {"num_warps", 4}},
       hip::pagedRows,
       [](const dsl::Config &c) {
         if (c["MODE"] < 0 || c["MODE"] > 2) return std::string("MODE must be 0, 1 or 2");
         for (const char *k : {"BLOCK_T", "BLOCK_C"})
           if (c[k] < 1 || (c[k] & (c[k] - 1))) return std::string(k) + " must be a power of two";
         return std::string();
       }});
  (void)done;
  static bool decode = [] {
    auto validate = [](const dsl::Config &c) {
      if (c["DTYPE"] < 0 || c["DTYPE"] > 2) return std::string("DTYPE must be 0, 1 or 2");
      for (const char *k : {"BLOCK_N", "HEAD_DIM", "ROWS"})
        if (int64_t v = c.get(k, 16); v < 16 || (v & (v - 1)))
          return std::string(k) + " must be a power of two >= 16";
      if (c["GROUP"] < 1 || c["GROUP"] > c["ROWS"])
        return std::string("GROUP must be in [1, ROWS]");
      return std::string();
    };
    dsl::registerKernel(
        {"paged_decode",
         "split-K decode attention straight from a paged KV cache (one token per sequence)",
         {{"BLOCK_N", {32, 64}}, {"num_warps", {4}}, {"num_stages", {1, 2}}},
         dsl::Config{{"DTYPE", 0},
                     {"HEAD_DIM", 64},
                     {"GROUP", 4},
                     {"ROWS", 16},
                     {"BLOCK_N", 64},
                     {"num_warps", 4},
                     {"num_stages", 2}},
         hip::pagedDecode,
         validate});
    dsl::registerKernel(
        {"paged_decode_merge",
         "merges paged_decode's partial outputs by their log-sum-exp",
         {},
         dsl::Config{{"DTYPE", 0}, {"HEAD_DIM", 64}, {"GROUP", 4}, {"ROWS", 16}, {"num_warps", 4}},
         hip::pagedDecodeMerge,
         validate});
    return true;
  }();
  (void)decode;
}

} // namespace hip::kernels

namespace hip {
namespace {
int dtypeCode(ScalarType t) { return t == ScalarType::bf16 ? 0 : t == ScalarType::f16 ? 1 : 2; }

/// The checked batch: per-sequence query counts, lengths and page tables
/// read to the host.
struct PagedProblem {
  int64_t B = 0, numTokens = 0, H = 0, Hkv = 0, D = 0, numPages = 0, pageSize = 0, maxPages = 0;
  std::vector<int64_t> cu, lens, table;
  Device device = Device::CPU;
  ScalarType dtype = ScalarType::bf16;
  int64_t tq(int64_t b) const { return cu[size_t(b + 1)] - cu[size_t(b)]; }
};

std::vector<int64_t> readInts(const TensorView &t) {
  return Tensor::copyOf(t, Device::CPU).toInt();
}

/// `rows`: q or the appended keys ([num_tokens, heads, D]); `rowsName`
/// names it in errors.
PagedProblem checkPaged(const TensorView &rows, const std::string &rowsName, const PagedKVCache &c,
                        const TensorView &cuSeqlens) {
  auto bad = [](const std::string &m) { return InvalidArgument(m); };
  rows.validate(rowsName);
  c.k_cache.validate("k_cache");
  c.v_cache.validate("v_cache");
  c.block_table.validate("block_table");
  c.seq_lens.validate("seq_lens");
  cuSeqlens.validate("cu_seqlens_q");
  if (rows.dim() != 3)
    throw bad(rowsName + " must be 3-D [num_tokens, heads, D], got " + rows.str());
  if (c.k_cache.dim() != 4)
    throw bad("k_cache must be 4-D [num_pages, page_size, H_kv, D], got " + c.k_cache.str());
  if (c.k_cache.shape != c.v_cache.shape || c.k_cache.dtype != c.v_cache.dtype)
    throw bad("k_cache and v_cache must have the same shape and dtype, got " + c.k_cache.str() +
              " and " + c.v_cache.str());
  if (!c.k_cache.contiguous() || !c.v_cache.contiguous())
    throw bad("k_cache and v_cache must be contiguous");
  if (rows.dtype != c.k_cache.dtype)
    throw bad(rowsName + " and the cache must have the same dtype, got " + rows.str() + " and " +
              c.k_cache.str());
  if (rows.dtype != ScalarType::bf16 && rows.dtype != ScalarType::f16 &&
      rows.dtype != ScalarType::f32)
    throw bad(rowsName + " must be bf16, f16 or f32, got " + rows.str());
  if (rows.device != c.k_cache.device || rows.device != c.v_cache.device)
    throw bad(rowsName + " and the cache must live on the same device");
  PagedProblem p;
  p.numTokens = rows.shape[0], p.H = rows.shape[1], p.D = rows.shape[2];
  p.numPages = c.k_cache.shape[0], p.pageSize = c.k_cache.shape[1], p.Hkv = c.k_cache.shape[2];
  p.device = rows.device, p.dtype = rows.dtype;
  if (c.k_cache.shape[3] != p.D)
    throw bad("head dims differ: " + rowsName + " " + rows.str() + ", k_cache " + c.k_cache.str());
  if (p.pageSize < 1)
    throw bad("page_size must be >= 1, got " + c.k_cache.str());
  if (c.block_table.dim() != 2 || c.block_table.dtype != ScalarType::i32)
    throw bad("block_table must be i32 [B, max_pages], got " + c.block_table.str());
  p.B = c.block_table.shape[0], p.maxPages = c.block_table.shape[1];
  if (c.seq_lens.dim() != 1 || c.seq_lens.dtype != ScalarType::i32 || c.seq_lens.shape[0] != p.B)
    throw bad("seq_lens must be i32 [B] with B = " + std::to_string(p.B) +
              " (block_table's rows), got " + c.seq_lens.str());
  if (cuSeqlens.dim() != 1 || cuSeqlens.dtype != ScalarType::i32 || cuSeqlens.shape[0] != p.B + 1)
    throw bad("cu_seqlens_q must be i32 [B + 1] with B = " + std::to_string(p.B) + ", got " +
              cuSeqlens.str());
  p.cu = readInts(cuSeqlens);
  p.lens = readInts(c.seq_lens);
  p.table = readInts(c.block_table);
  if (p.cu[0] != 0)
    throw bad("cu_seqlens_q[0] must be 0, got " + std::to_string(p.cu[0]));
  if (p.cu[size_t(p.B)] != p.numTokens)
    throw bad("cu_seqlens_q[B] = " + std::to_string(p.cu[size_t(p.B)]) + " must equal " + rowsName +
              "'s num_tokens = " + std::to_string(p.numTokens));
  for (int64_t b = 0; b < p.B; ++b) {
    std::string seq = "sequence " + std::to_string(b) + ": ";
    if (p.tq(b) < 0)
      throw bad(seq + "cu_seqlens_q must be non-decreasing");
    int64_t len = p.lens[size_t(b)];
    if (len < 0)
      throw bad(seq + "seq_lens = " + std::to_string(len) + " is negative");
    if (p.tq(b) > len)
      throw bad(seq + "T_q = " + std::to_string(p.tq(b)) +
                " new tokens exceed seq_lens = " + std::to_string(len));
    int64_t pages = (len + p.pageSize - 1) / p.pageSize;
    if (pages > p.maxPages)
      throw bad(seq + "seq_lens = " + std::to_string(len) + " needs " + std::to_string(pages) +
                " pages of " + std::to_string(p.pageSize) + ", block_table has " +
                std::to_string(p.maxPages));
    for (int64_t j = 0; j < pages; ++j) {
      int64_t e = p.table[size_t(b * p.maxPages + j)];
      if (e < 0 || e >= p.numPages)
        throw bad(seq + "block_table[" + std::to_string(b) + "][" + std::to_string(j) +
                  "] = " + std::to_string(e) +
                  " is outside [0, num_pages = " + std::to_string(p.numPages) + ")");
    }
  }
  int64_t row = p.Hkv * p.D;
  if (p.B * p.maxPages >= (int64_t(1) << 31))
    throw bad("block_table must hold fewer than 2^31 entries, got " + c.block_table.str());
  if (row >= (int64_t(1) << 31) || p.numPages * p.pageSize >= (int64_t(1) << 31))
    throw bad("the cache must hold fewer than 2^31 rows of fewer than 2^31 elements, got " +
              c.k_cache.str());
  return p;
}

/// Runs paged_rows on the problem's device.
struct RowMover {
  const PagedProblem &p;
  Target target;
  explicit RowMover(const PagedProblem &p)
      : p(p), target(currentTarget(p.device == Device::CUDA ? Backend::CUDA : Backend::CPU)) {
    kernels::registerPagedKernels();
  }
  /// `n` rows of `row` elements, `mode` as paged_rows'; `b` and `first`
  /// locate the paged side.
  void move(int mode, const void *src, void *dst, int64_t b, int64_t first, int64_t n,
            int64_t row) const {
    if (n == 0)
      return;
    dsl::Config cfg{{"DTYPE", dtypeCode(p.dtype)},
                    {"BLOCK_T", 16},
                    {"BLOCK_C", 256},
                    {"MODE", mode},
                    {"num_warps", 4}};
    // The block table, on the device the kernel reads.
    const void *table = mode != 2 ? tableOn() : nullptr;
    MaskContext ctx;
    ctx.target = target;
    ctx.device = p.device;
    ctx.launch("paged_rows", cfg, {unsigned((n + 15) / 16), unsigned((row + 255) / 256), 1},
               {ArgValue::pointer(src), ArgValue::pointer(dst), ArgValue::pointer(table),
                ArgValue::int32(int32_t(b * p.maxPages)), ArgValue::int32(int32_t(n)),
                ArgValue::int32(int32_t(first)), ArgValue::int32(int32_t(p.pageSize)),
                ArgValue::int32(int32_t(row))});
  }
  /// The block table (as i32, contiguous) on the problem's device.
  const void *tableOn() const {
    if (!table_.defined()) {
      Tensor host = Tensor::empty({p.B, p.maxPages}, ScalarType::i32, Device::CPU);
      auto *d = static_cast<int32_t *>(host.data());
      for (size_t i = 0; i < p.table.size(); ++i)
        d[i] = int32_t(p.table[i]);
      table_ = p.device == Device::CPU ? host : Tensor::copyOf(host.view(), p.device);
    }
    return table_.data();
  }
  /// Sequence b's keys or values as a contiguous [1, seq_len, H_kv, D].
  Tensor gather(const TensorView &cache, int64_t b) const {
    int64_t len = p.lens[size_t(b)];
    Tensor out = Tensor::empty({1, len, p.Hkv, p.D}, p.dtype, p.device);
    move(0, cache.data, out.data(), b, 0, len, p.Hkv * p.D);
    return out;
  }

private:
  mutable Tensor table_;
};

const char *rowPtr(const TensorView &t, int64_t row) {
  return static_cast<const char *>(t.data) + row * t.stride(0) * int64_t(elementSize(t.dtype));
}

/// Sequence b's queries as [1, T_q, H, D] (q's strides).
TensorView queriesOf(const TensorView &q, const PagedProblem &p, int64_t b) {
  return TensorView(const_cast<char *>(rowPtr(q, p.cu[size_t(b)])), q.dtype, {1, p.tq(b), p.H, p.D},
                    q.device, {p.tq(b) * q.stride(0), q.stride(0), q.stride(1), q.stride(2)});
}

void checkNoPositions(const TensorView &positionIds, const std::string &fn) {
  if (positionIds.defined())
    throw InvalidArgument(fn + ": position_ids is not supported (the queries are the last T_q "
                               "keys of each sequence, from cu_seqlens_q and seq_lens)");
}

/// Runs `attend(b, q_b, k_b, v_b)` for each sequence with new tokens (but
/// those `skip` names) and copies its [1, T_q, H, D] output into out's rows.
template <typename Attend>
Tensor perSequence(const TensorView &q, const PagedKVCache &cache, const PagedProblem &p,
                   bool withOutput, Attend attend, const std::vector<bool> &skip = {}) {
  RowMover mover(p);
  Tensor out;
  if (withOutput) out = Tensor::empty({p.numTokens, p.H, p.D}, p.dtype, q.device);
  for (int64_t b = 0; b < p.B; ++b) {
    if (p.tq(b) == 0 || (!skip.empty() && skip[size_t(b)])) continue;
    Tensor k = mover.gather(cache.k_cache, b), v = mover.gather(cache.v_cache, b);
    Tensor o = attend(b, queriesOf(q, p, b), k.view(), v.view());
    if (withOutput)
      mover.move(2, o.data(),
                 static_cast<char *>(out.data()) +
                     p.cu[size_t(b)] * p.H * p.D * int64_t(elementSize(p.dtype)),
                 b, 0, p.tq(b) * p.H, p.D);
  }
  return out;
}
/// The decoding sequences of the call (T_q = 1): two launches for all of
/// them, paged_decode (split-K over their pages, no gather) and
/// paged_decode_merge into their rows of out. `splits`: HIP_DECODE_SPLITS, or
/// (0, unset) enough for about four programs per SM (per worker on the
/// CPU), each taking whole key tiles.
void decodeRows(const TensorView &q, const PagedKVCache &cache, const PagedProblem &p,
                const std::vector<bool> &decoding, float scale, int64_t splits, Tensor &out) {
  RowMover mover(p); // (registers the kernels; the block table on the device)
  std::vector<int32_t> rows(size_t(p.B), -1);
  int64_t maxLen = 0;
  for (int64_t b = 0; b < p.B; ++b)
    if (decoding[size_t(b)]) {
      rows[size_t(b)] = int32_t(p.cu[size_t(b)]);
      maxLen = std::max(maxLen, p.lens[size_t(b)]);
    }
  Target target = mover.target;
  int64_t G = p.H / p.Hkv, R = 16, BN = 64;
  while (R < G) R *= 2;
  int64_t programs = p.device == Device::CUDA ? 4 * int64_t(rt::Cuda::get().info().smCount)
                                              : 4 * int64_t(rt::numWorkers());
  int64_t tiles = std::max<int64_t>((maxLen + BN - 1) / BN, 1);
  if (splits <= 0) splits = (programs + p.B * p.Hkv - 1) / (p.B * p.Hkv);
  splits = std::clamp<int64_t>(splits, 1, tiles);
  int64_t splitLen = (tiles + splits - 1) / splits * BN;
  splits = std::max<int64_t>((maxLen + splitLen - 1) / splitLen, 1);
  Tensor rowsHost = Tensor::empty({p.B}, ScalarType::i32, Device::CPU);
  std::copy(rows.begin(), rows.end(), static_cast<int32_t *>(rowsHost.data()));
  Tensor qRows = p.device == Device::CPU ? rowsHost : Tensor::copyOf(rowsHost.view(), p.device);
  Tensor oPart = Tensor::empty({splits, p.B * p.H, p.D}, ScalarType::f32, p.device);
  Tensor lsePart = Tensor::empty({splits, p.B * p.H}, ScalarType::f32, p.device);
  dsl::Config cfg{{"DTYPE", dtypeCode(p.dtype)},
                  {"HEAD_DIM", p.D},
                  {"GROUP", G},
                  {"ROWS", R},
                  {"BLOCK_N", BN},
                  {"num_warps", 4},
                  {"num_stages", target.backend == Backend::CPU ? 1 : 2}};
  MaskContext ctx;
  ctx.target = target;
  ctx.device = p.device;
  ctx.launch("paged_decode", cfg, {unsigned(splits), unsigned(p.B * p.Hkv), 1},
             {ArgValue::pointer(q.data), ArgValue::pointer(cache.k_cache.data),
              ArgValue::pointer(cache.v_cache.data), ArgValue::pointer(mover.tableOn()),
              ArgValue::pointer(cache.seq_lens.data), ArgValue::pointer(qRows.data()),
              ArgValue::pointer(oPart.data()), ArgValue::pointer(lsePart.data()),
              ArgValue::int32(int32_t(p.maxPages)), ArgValue::int32(int32_t(p.pageSize)),
              ArgValue::int32(int32_t(p.Hkv)), ArgValue::int32(int32_t(splitLen)),
              ArgValue::float32(scale * 1.4426950408889634f)});
  dsl::Config merge{{"DTYPE", dtypeCode(p.dtype)},
                    {"HEAD_DIM", p.D},
                    {"GROUP", G},
                    {"ROWS", R},
                    {"num_warps", 4}};
  ctx.launch("paged_decode_merge", merge, {unsigned(p.B * p.Hkv), 1, 1},
             {ArgValue::pointer(oPart.data()), ArgValue::pointer(lsePart.data()),
              ArgValue::pointer(qRows.data()), ArgValue::pointer(out.data()),
              ArgValue::int32(int32_t(p.Hkv)), ArgValue::int32(int32_t(splits))});
  if (p.device == Device::CUDA) rt::Cuda::get().synchronize();
}
} // namespace

PagedHiPAttentionOutput
paged_hip_attention(const TensorView &q, const PagedKVCache &cache, const TensorView &cu_seqlens_q,
                    const HiPAttentionArgs &args,
                    const std::vector<HiPAttentionOutputMetadata> *previous) {
  PagedProblem p = checkPaged(q, "q", cache, cu_seqlens_q);
  checkNoPositions(args.position_ids, "paged_hip_attention");
  if (previous && int64_t(previous->size()) != p.B)
    throw InvalidArgument("paged_hip_attention: previous holds " +
                          std::to_string(previous->size()) + " masks for " + std::to_string(p.B) +
                          " sequences");
  PagedHiPAttentionOutput r;
  r.metadata.resize(size_t(p.B));
  r.out = perSequence(
      q, cache, p, !args.mask_only,
      [&](int64_t b, const TensorView &qb, const TensorView &kb, const TensorView &vb) {
        auto one = hip_attention(qb, kb, vb, args, previous ? &(*previous)[size_t(b)] : nullptr);
        r.metadata[size_t(b)] = one.metadata;
        return one.out;
      });
  return r;
}

Tensor paged_dense_attention(const TensorView &q, const PagedKVCache &cache,
                             const TensorView &cu_seqlens_q, const DenseAttentionArgs &args) {
  PagedProblem p = checkPaged(q, "q", cache, cu_seqlens_q);
  checkNoPositions(args.position_ids, "paged_dense_attention");
  if (args.softmax_scale && !(std::isfinite(*args.softmax_scale) && *args.softmax_scale > 0))
    throw InvalidArgument("softmax_scale must be a positive finite number, got " +
                          std::to_string(*args.softmax_scale));
  int64_t splits = envInt("HIP_DECODE_SPLITS", 0);
  if (splits < 0 || splits > 4096)
    throw InvalidArgument("HIP_DECODE_SPLITS must be in [0, 4096] (0: chosen per call), got " +
                          std::to_string(splits));
  // Sequences with one new token (decode) run on paged_decode, straight from
  // the pages, where the call computes on the cache's device and q's rows
  // are contiguous; the others (and all, otherwise) per sequence.
  Device on = args.backend == ComputeBackend::CPU    ? Device::CPU
              : args.backend == ComputeBackend::CUDA ? Device::CUDA
                                                     : p.device;
  std::vector<bool> decoding(size_t(p.B), false);
  bool any = false;
  if (on == p.device && q.contiguous() && p.H % p.Hkv == 0 && p.D >= 16 && p.D <= 256 &&
      (p.D & (p.D - 1)) == 0)
    for (int64_t b = 0; b < p.B; ++b)
      any = (decoding[size_t(b)] = p.tq(b) == 1) || any;
  Tensor out = perSequence(
      q, cache, p, true,
      [&](int64_t, const TensorView &qb, const TensorView &kb, const TensorView &vb) {
        return dense_attention(qb, kb, vb, args);
      },
      decoding);
  if (any) decodeRows(q, cache, p, decoding, args.softmax_scale.value_or(1.f), splits, out);
  return out;
}

void append_paged_kv(const PagedKVCache &cache, const TensorView &k_new, const TensorView &v_new,
                     const TensorView &cu_seqlens_q) {
  PagedProblem p = checkPaged(k_new, "k_new", cache, cu_seqlens_q);
  v_new.validate("v_new");
  if (v_new.shape != k_new.shape || v_new.dtype != k_new.dtype || v_new.device != k_new.device)
    throw InvalidArgument("v_new must match k_new, got " + v_new.str() + " and " + k_new.str());
  if (p.H != p.Hkv)
    throw InvalidArgument("k_new must be [num_tokens, H_kv, D] with H_kv = " +
                          std::to_string(p.Hkv) + " (the cache's), got " + k_new.str());
  if (!k_new.contiguous() || !v_new.contiguous())
    throw InvalidArgument("k_new and v_new must be contiguous");
  RowMover mover(p);
  int64_t row = p.Hkv * p.D;
  for (int64_t b = 0; b < p.B; ++b) {
    int64_t first = p.lens[size_t(b)] - p.tq(b);
    mover.move(1, rowPtr(k_new, p.cu[size_t(b)]), cache.k_cache.data, b, first, p.tq(b), row);
    mover.move(1, rowPtr(v_new, p.cu[size_t(b)]), cache.v_cache.data, b, first, p.tq(b), row);
  }
  if (p.device == Device::CUDA)
    rt::Cuda::get().synchronize();
}

} // namespace hip
