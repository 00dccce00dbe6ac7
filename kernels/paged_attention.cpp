//===- kernels/paged_attention.cpp - Attention over a paged KV cache ------===//
//
// paged_hip_attention, paged_dense_attention and append_paged_kv (see
// hip/attention.h). Every argument is checked first (shapes, dtypes,
// devices, cu_seqlens_q, seq_lens against the block table, every table entry
// a sequence uses), so a bad call launches nothing and writes nothing.
// The DSL kernel paged_rows gathers each sequence's pages into contiguous
// K/V on the cache's device (and scatters appended rows into the pages); the
// contiguous kernels then run per sequence. Decode rows (T_q = 1) run
// instead on paged_decode (dense) or paged_hip_decode, split-K over the
// pages, and paged_decode_merge.
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

/// What the decode kernels read: q rows, the paged K/V and the block table.
struct DecodeArgs {
  DType t;
  int64_t D, R;
  Val q, kc, vc, table, lens, qRows, oPart, lsePart, maxPages, pageSize, Hkv;
};
DecodeArgs decodeArgs(Builder &b, const Config &c) {
  int64_t code = c["DTYPE"];
  DecodeArgs a{code == 0   ? DType::bf16
               : code == 1 ? DType::f16
                           : DType::f32,
               c["HEAD_DIM"], c["ROWS"]};
  a.q = b.arg("q", ptr(a.t)), a.kc = b.arg("k_cache", ptr(a.t)), a.vc = b.arg("v_cache", ptr(a.t));
  a.table = b.arg("table", ptr(DType::i32)), a.lens = b.arg("seq_lens", ptr(DType::i32));
  a.qRows = b.arg("q_rows", ptr(DType::i32));
  a.oPart = b.arg("o_part", ptr(DType::f32)), a.lsePart = b.arg("lse_part", ptr(DType::f32));
  return a;
}
/// One tile of keys at token positions `tok` [BN] (where `ok`) of sequence
/// `seq`, KV head `kvh`, read from the pages: the online softmax state
/// {max, sum, acc} of the rows `qt` [R, D] after it (`scale`: base 2).
std::vector<Val> decodeTile(const DecodeArgs &a, const std::vector<Val> &st, Val qt, Val seq,
                            Val kvh, Val tok, Val ok, Val scale) {
  Val page = load(a.table + (seq * a.maxPages + tok / a.pageSize), ok, 0);
  Val slot =
      cast(page, DType::i64) * cast(a.pageSize, DType::i64) + cast(tok % a.pageSize, DType::i64);
  Val head = slot * cast(a.Hkv, DType::i64) + cast(kvh, DType::i64);
  Val rows = expand_dims(head * int(a.D), 1) + expand_dims(cast(arange(0, a.D), DType::i64), 0);
  Val kt = load(a.kc + rows, expand_dims(ok, 1), 0.0);
  Val logits = where(expand_dims(ok, 0), dot(qt, trans(kt)) * scale, -kInfinity);
  Val mNew = maximum(st[0], max(logits, 1));
  Val mSafe = where(mNew == -kInfinity, 0.0, mNew);
  Val p = exp2(logits - expand_dims(mSafe, 1));
  Val alpha = exp2(st[0] - mSafe);
  Val vt = load(a.vc + rows, expand_dims(ok, 1), 0.0);
  Val acc = dot(cast(p, a.t), vt, st[2] * expand_dims(alpha, 1));
  return {mNew, st[1] * alpha + sum(p, 1), acc};
}
std::vector<Val> decodeStart(int64_t R, int64_t D) {
  return {full({R}, -kInfinity, DType::f32), full({R}, 0.0, DType::f32),
          full({R, D}, 0.0, DType::f32)};
}
/// The normalised partial output and base-2 log-sum-exp (-inf where no key
/// was seen) of rows `idx` [R] (where `ok`) of o_part / lse_part.
void writePartial(const DecodeArgs &a, const std::vector<Val> &st, Val idx, Val ok) {
  Val seen = st[1] > 0.0;
  Val l = where(seen, st[1], 1.0);
  store(a.oPart + (expand_dims(idx * int(a.D), 1) + expand_dims(arange(0, a.D), 0)),
        st[2] / expand_dims(l, 1), expand_dims(ok, 1));
  store(a.lsePart + idx, where(seen, st[0] + log2(l), -kInfinity), ok);
}

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
  int64_t BN = c["BLOCK_N"], G = c["GROUP"];
  DecodeArgs a = decodeArgs(b, c);
  a.maxPages = b.arg("max_pages", DType::i32), a.pageSize = b.arg("page_size", DType::i32);
  a.Hkv = b.arg("H_kv", DType::i32);
  Val splitLen = b.arg("split_len", DType::i32);
  Val scale = b.arg("scale_log2", DType::f32); // softmax scale * log2(e)
  Val s = program_id(0), bh = program_id(1);
  Val seq = bh / a.Hkv, h = bh % a.Hkv;
  Val qRow = load(a.qRows + seq), len = load(a.lens + seq);
  Val lo = s * splitLen;
  Val hi = where(qRow >= 0, maximum(minimum(lo + splitLen, len), lo), lo);
  Val g = arange(0, a.R), ar = arange(0, BN);
  Val gOk = g < int(G);
  // Rows of the group's heads (row q_row of q [num_tokens, H, D]).
  Val qOff = (maximum(qRow, 0) * (a.Hkv * int(G)) + h * int(G) + g) * int(a.D);
  Val qt =
      load(a.q + (expand_dims(qOff, 1) + expand_dims(arange(0, a.D), 0)), expand_dims(gOk, 1), 0.0);
  std::vector<Val> st =
      for_range(lo, hi, BN, decodeStart(a.R, a.D), [&](Val n, std::vector<Val> c) {
        Val tok = n + ar;
        return decodeTile(a, c, qt, seq, h, tok, tok < hi, scale);
      });
  writePartial(a, st, s * (num_programs(1) * int(G)) + bh * int(G) + g, gOk);
}

// paged_hip_decode: HiP attention of one new token per sequence (at
// position p = seq_len - 1) over its pages: the sink's keys [0, SINK) at or
// before p - WINDOW, the selected blocks (ks[b * H + head] token offsets in
// indices [B * H, k_max], BLOCK_SIZE_K keys each, from SINK on and at or
// before p - WINDOW) and the window (p - WINDOW, p], as one list of
// SINK + ks * BLOCK_SIZE_K + WINDOW positions split along it: program
// (s, b * H + head) takes positions [s * split_len, (s + 1) * split_len) of
// it in row 0 of its tile (each head selects its own keys) and writes its
// partial output as paged_decode does.
void pagedHipDecode(Builder &b, const Config &c) {
  int64_t BN = c["BLOCK_N"], bk = c["BLOCK_SIZE_K"], S = c["SINK"], W = c["WINDOW"];
  DecodeArgs a = decodeArgs(b, c);
  Val indices = b.arg("indices", ptr(DType::i32)), ks = b.arg("ks", ptr(DType::i32));
  a.maxPages = b.arg("max_pages", DType::i32), a.pageSize = b.arg("page_size", DType::i32);
  a.Hkv = b.arg("H_kv", DType::i32);
  Val H = b.arg("H", DType::i32), kMax = b.arg("k_max", DType::i32);
  Val splitLen = b.arg("split_len", DType::i32);
  Val scale = b.arg("scale_log2", DType::f32);
  Val s = program_id(0), bh = program_id(1);
  Val seq = bh / H, head = bh % H, kvh = head / (H / a.Hkv);
  Val qRow = load(a.qRows + seq), p = load(a.lens + seq) - 1;
  Val nSel = where(qRow >= 0, load(ks + bh), 0) * int(bk);
  Val total = where(qRow >= 0, nSel + int(S + W), 0);
  Val lo = s * splitLen, hi = maximum(minimum(lo + splitLen, total), lo);
  Val g = arange(0, a.R), ar = arange(0, BN);
  Val gOk = g < 1;
  Val qOff = (maximum(qRow, 0) * H + head) * int(a.D) + g * 0;
  Val qt =
      load(a.q + (expand_dims(qOff, 1) + expand_dims(arange(0, a.D), 0)), expand_dims(gOk, 1), 0.0);
  std::vector<Val> st =
      for_range(lo, hi, BN, decodeStart(a.R, a.D), [&](Val n, std::vector<Val> c) {
        Val j = n + ar;
        Val inList = j < hi;
        Val isSink = j < int(S), isSel = (j >= int(S)) & (j < nSel + int(S));
        Val jj = j - int(S);
        Val sel = load(indices + (bh * kMax + jj / int(bk)), inList & isSel, 0) + jj % int(bk);
        Val win = p - int(W) + 1 + (j - nSel - int(S));
        Val tok = where(isSink, j, where(isSel, sel, win));
        Val early = where(isSel, tok >= int(S), constant(1, DType::i1)) & (tok <= p - int(W));
        Val ok =
            inList & (tok >= 0) & (tok <= p) & where(isSink | isSel, early, constant(1, DType::i1));
        return decodeTile(a, c, qt, seq, kvh, maximum(tok, 0), ok, scale);
      });
  writePartial(a, st, s * num_programs(1) + bh + g * 0, gOk);
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
      if (c.get("GROUP", 1) < 1 || c.get("GROUP", 1) > c["ROWS"])
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
        {"paged_hip_decode",
         "split-K HiP decode over sink, selected blocks and window, straight from the pages",
         {{"BLOCK_N", {32, 64}}, {"num_warps", {4}}, {"num_stages", {1, 2}}},
         dsl::Config{{"DTYPE", 0}, {"HEAD_DIM", 64}, {"ROWS", 16}, {"BLOCK_N", 64},
                     {"BLOCK_SIZE_K", 2}, {"SINK", 16}, {"WINDOW", 256}, {"num_warps", 4},
                     {"num_stages", 2}},
         hip::pagedHipDecode, [validate](const dsl::Config &c) {
           std::string e = validate(c);
           if (!e.empty()) return e;
           int64_t bk = c["BLOCK_SIZE_K"];
           if (bk < 1 || (bk & (bk - 1))) return std::string("BLOCK_SIZE_K must be a power of two");
           if (c["SINK"] < 0 || c["WINDOW"] < 0) return std::string("SINK and WINDOW must be >= 0");
           return std::string();
         }});
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
  const void *deviceTable = nullptr; // the caller's block table where the kernels can read it
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
  if (c.block_table.contiguous() && c.block_table.device == p.device &&
      reinterpret_cast<uintptr_t>(c.block_table.data) % 16 == 0) // (kernel arguments)
    p.deviceTable = c.block_table.data;
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
  /// The block table (as i32, contiguous) on the problem's device: the
  /// caller's where it is so (checked: every entry a sequence uses is a
  /// page), else a copy.
  const void *tableOn() const {
    if (p.deviceTable) return p.deviceTable;
    if (!table_.defined()) {
      Tensor host = Tensor::empty({p.B, p.maxPages}, ScalarType::i32, Device::CPU);
      auto *d = static_cast<int32_t *>(host.data());
      for (size_t i = 0; i < p.table.size(); ++i)
        d[i] = int32_t(p.table[i]);
      table_ = p.device == Device::CPU ? host : Tensor::copyOf(host.view(), p.device);
    }
    return table_.data();
  }
  /// seq_lens (i32 [B]) on the problem's device.
  const void *lensOn() const {
    if (!lens_.defined()) {
      Tensor host = Tensor::empty({p.B}, ScalarType::i32, Device::CPU);
      std::copy(p.lens.begin(), p.lens.end(), static_cast<int32_t *>(host.data()));
      lens_ = p.device == Device::CPU ? host : Tensor::copyOf(host.view(), p.device);
    }
    return lens_.data();
  }
  /// Sequence b's keys or values as a contiguous [1, seq_len, H_kv, D].
  Tensor gather(const TensorView &cache, int64_t b) const {
    int64_t len = p.lens[size_t(b)];
    Tensor out = Tensor::empty({1, len, p.Hkv, p.D}, p.dtype, p.device);
    move(0, cache.data, out.data(), b, 0, len, p.Hkv * p.D);
    return out;
  }

private:
  mutable Tensor table_, lens_;
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
/// The decoding sequences' rows of out (T_q = 1): `launch(ctx, cfg, grid,
/// common)` runs a split kernel (paged_decode, paged_hip_decode) whose
/// programs each take `rows` query heads of `units` per sequence over key
/// lists of at most `maxKeys` positions; `common` holds its first arguments
/// (q, K/V, block table, seq_lens, q_rows, o_part, lse_part, max_pages,
/// page_size, H_kv) and `cfg` its shared keys; paged_decode_merge then
/// combines the splits by their log-sum-exp. `splits`: HIP_DECODE_SPLITS, or
/// (0, unset) enough for about four programs per SM (per worker on the
/// CPU), each taking whole key tiles. No gather: the kernels read the pages.
template <typename Launch>
void decodeRows(const TensorView &q, const PagedKVCache &cache, const PagedProblem &p,
                const std::vector<bool> &decoding, int64_t units, int64_t rows, int64_t maxKeys,
                int64_t splits, Tensor &out, Launch launch) {
  RowMover mover(p); // (registers the kernels; the block table on the device)
  std::vector<int32_t> qRowOf(size_t(p.B), -1);
  for (int64_t b = 0; b < p.B; ++b)
    if (decoding[size_t(b)]) qRowOf[size_t(b)] = int32_t(p.cu[size_t(b)]);
  int64_t R = 16, BN = 64;
  while (R < rows) R *= 2;
  int64_t programs = p.device == Device::CUDA ? 4 * int64_t(rt::Cuda::get().info().smCount)
                                              : 4 * int64_t(rt::numWorkers());
  int64_t tiles = std::max<int64_t>((maxKeys + BN - 1) / BN, 1);
  if (splits <= 0) splits = (programs + p.B * units - 1) / (p.B * units);
  splits = std::clamp<int64_t>(splits, 1, tiles);
  int64_t splitLen = (tiles + splits - 1) / splits * BN;
  splits = std::max<int64_t>((maxKeys + splitLen - 1) / splitLen, 1);
  Tensor rowsHost = Tensor::empty({p.B}, ScalarType::i32, Device::CPU);
  std::copy(qRowOf.begin(), qRowOf.end(), static_cast<int32_t *>(rowsHost.data()));
  Tensor qRows = p.device == Device::CPU ? rowsHost : Tensor::copyOf(rowsHost.view(), p.device);
  Tensor oPart = Tensor::empty({splits, p.B * p.H, p.D}, ScalarType::f32, p.device);
  Tensor lsePart = Tensor::empty({splits, p.B * p.H}, ScalarType::f32, p.device);
  dsl::Config cfg{{"DTYPE", dtypeCode(p.dtype)},
                  {"HEAD_DIM", p.D},
                  {"ROWS", R},
                  {"BLOCK_N", BN},
                  {"num_warps", 4},
                  {"num_stages", mover.target.backend == Backend::CPU ? 1 : 2}};
  MaskContext ctx;
  ctx.target = mover.target;
  ctx.device = p.device;
  // (Kernel pointers are 16-byte aligned: q copied where it is not.)
  Tensor qAligned;
  const void *qData = q.data;
  if (reinterpret_cast<uintptr_t>(q.data) % 16 != 0) {
    qAligned = Tensor::copyOf(q, p.device);
    qData = qAligned.data();
  }
  launch(
      ctx, cfg, std::array<unsigned, 3>{unsigned(splits), unsigned(p.B * units), 1},
      std::vector<ArgValue>{ArgValue::pointer(qData), ArgValue::pointer(cache.k_cache.data),
                            ArgValue::pointer(cache.v_cache.data),
                            ArgValue::pointer(mover.tableOn()),
                            ArgValue::pointer(mover.lensOn()), ArgValue::pointer(qRows.data()),
                            ArgValue::pointer(oPart.data()), ArgValue::pointer(lsePart.data())},
      std::vector<ArgValue>{ArgValue::int32(int32_t(p.maxPages)),
                            ArgValue::int32(int32_t(p.pageSize)), ArgValue::int32(int32_t(p.Hkv))},
      int32_t(splitLen));
  dsl::Config merge{{"DTYPE", dtypeCode(p.dtype)},
                    {"HEAD_DIM", p.D},
                    {"GROUP", rows},
                    {"ROWS", R},
                    {"num_warps", 4}};
  ctx.launch("paged_decode_merge", merge, {unsigned(p.B * units), 1, 1},
             {ArgValue::pointer(oPart.data()), ArgValue::pointer(lsePart.data()),
              ArgValue::pointer(qRows.data()), ArgValue::pointer(out.data()),
              ArgValue::int32(int32_t(units)), ArgValue::int32(int32_t(splits))});
  if (p.device == Device::CUDA) rt::Cuda::get().synchronize();
}

/// HIP_DECODE_SPLITS (0: chosen per call), checked.
int64_t decodeSplits() {
  int64_t splits = envInt("HIP_DECODE_SPLITS", 0);
  if (splits < 0 || splits > 4096)
    throw InvalidArgument("HIP_DECODE_SPLITS must be in [0, 4096] (0: chosen per call), got " +
                          std::to_string(splits));
  return splits;
}

/// Which sequences decode (T_q = 1) on the split kernels: where the call
/// computes on the cache's device (`backend`), q's rows are contiguous and
/// the head dim a power of two from 16 to 256; none otherwise.
std::vector<bool> decodingSequences(const TensorView &q, const PagedProblem &p,
                                    ComputeBackend backend) {
  Device on = backend == ComputeBackend::CPU    ? Device::CPU
              : backend == ComputeBackend::CUDA ? Device::CUDA
                                                : p.device;
  std::vector<bool> decoding(size_t(p.B), false);
  if (on == p.device && q.contiguous() && p.H % p.Hkv == 0 && p.D >= 16 && p.D <= 256 &&
      (p.D & (p.D - 1)) == 0)
    for (int64_t b = 0; b < p.B; ++b) decoding[size_t(b)] = p.tq(b) == 1;
  return decoding;
}

float checkedScale(std::optional<float> scale) {
  if (scale && !(std::isfinite(*scale) && *scale > 0))
    throw InvalidArgument("softmax_scale must be a positive finite number, got " +
                          std::to_string(*scale));
  return scale.value_or(1.f) * 1.4426950408889634f; // (base 2)
}
} // namespace

namespace {
/// paged_hip_attention with `reuse[b]`: sequence b's mask to reuse (null:
/// search it).
PagedHiPAttentionOutput pagedHip(const TensorView &q, const PagedKVCache &cache,
                                 const PagedProblem &p, const HiPAttentionArgs &args,
                                 const std::vector<const HiPAttentionOutputMetadata *> &reuse) {
  checkNoPositions(args.position_ids, "paged_hip_attention");
  float scale = checkedScale(args.softmax_scale);
  int64_t splits = decodeSplits();
  // Decoding sequences (one new token) attend on paged_hip_decode, straight
  // from the pages; their masks come from `reuse`, or a mask search over
  // their gathered keys. The others per sequence.
  std::vector<bool> decoding = decodingSequences(q, p, args.backend);
  for (int64_t b = 0; b < p.B; ++b) {
    const HiPAttentionOutputMetadata *m = reuse[size_t(b)];
    if (!decoding[size_t(b)] || !m) continue;
    if (m->batch != 1 || m->heads != p.H || m->t_q != 1 || !m->indices.defined() ||
        m->indices.shape().size() != 3 || m->indices.shape()[0] != p.H || m->ks.numel() != p.H ||
        m->block_size_k < 1 || (m->block_size_k & (m->block_size_k - 1)) ||
        args.sink_token_size % m->block_size_k || args.sliding_window_size % m->block_size_k)
      throw InvalidArgument("paged_hip_attention: the mask of sequence " + std::to_string(b) +
                            " is not a decode mask of this call's " + std::to_string(p.H) +
                            " heads whose block_size_k divides sink and window");
  }
  PagedHiPAttentionOutput r;
  r.metadata.resize(size_t(p.B));
  r.out = perSequence(
      q, cache, p, !args.mask_only,
      [&](int64_t b, const TensorView &qb, const TensorView &kb, const TensorView &vb) {
        auto one = hip_attention(qb, kb, vb, args, reuse[size_t(b)]);
        r.metadata[size_t(b)] = one.metadata;
        return one.out;
      },
      decoding);
  if (std::none_of(decoding.begin(), decoding.end(), [](bool d) { return d; })) return r;
  // The decoding sequences' masks, packed: indices [B * H, k_max], ks [B * H].
  HiPAttentionArgs maskOnly = args;
  maskOnly.mask_only = true;
  RowMover mover(p);
  int64_t kMax = 1, bk = 0;
  for (int64_t b = 0; b < p.B; ++b) {
    if (!decoding[size_t(b)]) continue;
    if (reuse[size_t(b)]) {
      r.metadata[size_t(b)] = *reuse[size_t(b)];
    } else {
      // (The mask search reads no values: the keys stand in for them.)
      Tensor k = mover.gather(cache.k_cache, b);
      r.metadata[size_t(b)] =
          hip_attention(queriesOf(q, p, b), k.view(), k.view(), maskOnly).metadata;
    }
    const HiPAttentionOutputMetadata &m = r.metadata[size_t(b)];
    if (bk && m.block_size_k != bk)
      throw InvalidArgument("paged_hip_attention: the decode masks differ in block_size_k (" +
                            std::to_string(bk) + " and " + std::to_string(m.block_size_k) + ")");
    bk = m.block_size_k;
    kMax = std::max(kMax, m.indices.shape()[2]);
  }
  if (args.mask_only) return r;
  Tensor indices = Tensor::empty({p.B * p.H, kMax}, ScalarType::i32, Device::CPU);
  Tensor ks = Tensor::empty({p.B * p.H}, ScalarType::i32, Device::CPU);
  auto *ind = static_cast<int32_t *>(indices.data());
  auto *kk = static_cast<int32_t *>(ks.data());
  std::fill_n(ind, p.B * p.H * kMax, kIndexSentinel);
  std::fill_n(kk, p.B * p.H, 0);
  for (int64_t b = 0; b < p.B; ++b) {
    if (!decoding[size_t(b)]) continue;
    const HiPAttentionOutputMetadata &m = r.metadata[size_t(b)];
    std::vector<int64_t> mi = m.indices.toInt(), mk = m.ks.toInt();
    int64_t w = m.indices.shape()[2];
    for (int64_t h = 0; h < p.H; ++h) {
      kk[b * p.H + h] = int32_t(std::clamp<int64_t>(mk[size_t(h)], 0, w));
      for (int64_t j = 0; j < w; ++j)
        ind[(b * p.H + h) * kMax + j] = int32_t(mi[size_t(h * w + j)]);
    }
  }
  Tensor indD = p.device == Device::CPU ? indices : Tensor::copyOf(indices.view(), p.device);
  Tensor ksD = p.device == Device::CPU ? ks : Tensor::copyOf(ks.view(), p.device);
  int64_t S = args.sink_token_size, W = args.sliding_window_size;
  decodeRows(q, cache, p, decoding, p.H, 1, S + kMax * bk + W, splits, r.out,
             [&](MaskContext &ctx, dsl::Config cfg, std::array<unsigned, 3> grid,
                 std::vector<ArgValue> args0, std::vector<ArgValue> tableArgs, int32_t splitLen) {
               cfg.set("BLOCK_SIZE_K", bk), cfg.set("SINK", S), cfg.set("WINDOW", W);
               args0.push_back(ArgValue::pointer(indD.data()));
               args0.push_back(ArgValue::pointer(ksD.data()));
               args0.insert(args0.end(), tableArgs.begin(), tableArgs.end());
               for (int64_t v : {p.H, kMax, int64_t(splitLen)})
                 args0.push_back(ArgValue::int32(int32_t(v)));
               args0.push_back(ArgValue::float32(scale));
               ctx.launch("paged_hip_decode", cfg, grid, args0);
             });
  return r;
}
} // namespace

PagedHiPAttentionOutput
paged_hip_attention(const TensorView &q, const PagedKVCache &cache, const TensorView &cu_seqlens_q,
                    const HiPAttentionArgs &args,
                    const std::vector<HiPAttentionOutputMetadata> *previous) {
  PagedProblem p = checkPaged(q, "q", cache, cu_seqlens_q);
  if (previous && int64_t(previous->size()) != p.B)
    throw InvalidArgument("paged_hip_attention: previous holds " +
                          std::to_string(previous->size()) + " masks for " + std::to_string(p.B) +
                          " sequences");
  std::vector<const HiPAttentionOutputMetadata *> reuse(size_t(p.B), nullptr);
  if (previous)
    for (int64_t b = 0; b < p.B; ++b) reuse[size_t(b)] = &(*previous)[size_t(b)];
  return pagedHip(q, cache, p, args, reuse);
}

PagedHiPDecodeState PagedHiPDecodeState::fromEnvironment() {
  PagedHiPDecodeState s;
  s.refresh_interval = envInt("HIP_REFRESH_INTERVAL", 8);
  if (s.refresh_interval < 1)
    throw InvalidArgument("HIP_REFRESH_INTERVAL must be an integer from 1, got " +
                          std::to_string(s.refresh_interval));
  return s;
}

PagedHiPAttentionOutput paged_hip_attention(const TensorView &q, const PagedKVCache &cache,
                                            const TensorView &cu_seqlens_q,
                                            const HiPAttentionArgs &args,
                                            PagedHiPDecodeState &state) {
  PagedProblem p = checkPaged(q, "q", cache, cu_seqlens_q);
  if (state.refresh_interval < 1)
    throw InvalidArgument("PagedHiPDecodeState::refresh_interval must be >= 1, got " +
                          std::to_string(state.refresh_interval));
  if (int64_t(state.masks.size()) != p.B || int64_t(state.age.size()) != p.B) {
    state.masks.assign(size_t(p.B), HiPAttentionOutputMetadata());
    state.age.assign(size_t(p.B), 0);
  }
  std::vector<const HiPAttentionOutputMetadata *> reuse(size_t(p.B), nullptr);
  for (int64_t b = 0; b < p.B; ++b)
    if (p.tq(b) == 1 && state.masks[size_t(b)].indices.defined() &&
        state.age[size_t(b)] < state.refresh_interval)
      reuse[size_t(b)] = &state.masks[size_t(b)];
  PagedHiPAttentionOutput r = pagedHip(q, cache, p, args, reuse);
  for (int64_t b = 0; b < p.B; ++b) {
    if (p.tq(b) == 0) continue; // (idle: its mask waits)
    if (p.tq(b) != 1) {         // a prefill's mask is no decode mask
      state.masks[size_t(b)] = HiPAttentionOutputMetadata();
      state.age[size_t(b)] = 0;
    } else if (reuse[size_t(b)]) {
      ++state.age[size_t(b)];
    } else {
      state.masks[size_t(b)] = r.metadata[size_t(b)];
      state.age[size_t(b)] = 1;
    }
  }
  return r;
}

Tensor paged_dense_attention(const TensorView &q, const PagedKVCache &cache,
                             const TensorView &cu_seqlens_q, const DenseAttentionArgs &args) {
  PagedProblem p = checkPaged(q, "q", cache, cu_seqlens_q);
  checkNoPositions(args.position_ids, "paged_dense_attention");
  float scale = checkedScale(args.softmax_scale);
  int64_t splits = decodeSplits();
  // Sequences with one new token (decode) run on paged_decode, straight from
  // the pages; the others per sequence.
  std::vector<bool> decoding = decodingSequences(q, p, args.backend);
  Tensor out = perSequence(
      q, cache, p, true,
      [&](int64_t, const TensorView &qb, const TensorView &kb, const TensorView &vb) {
        return dense_attention(qb, kb, vb, args);
      },
      decoding);
  if (std::none_of(decoding.begin(), decoding.end(), [](bool d) { return d; })) return out;
  int64_t maxLen = 0;
  for (int64_t b = 0; b < p.B; ++b)
    if (decoding[size_t(b)]) maxLen = std::max(maxLen, p.lens[size_t(b)]);
  int64_t G = p.H / p.Hkv;
  decodeRows(q, cache, p, decoding, p.Hkv, G, maxLen, splits, out,
             [&](MaskContext &ctx, dsl::Config cfg, std::array<unsigned, 3> grid,
                 std::vector<ArgValue> args0, std::vector<ArgValue> tableArgs, int32_t splitLen) {
               cfg.set("GROUP", G);
               args0.insert(args0.end(), tableArgs.begin(), tableArgs.end());
               args0.push_back(ArgValue::int32(splitLen));
               args0.push_back(ArgValue::float32(scale));
               ctx.launch("paged_decode", cfg, grid, args0);
             });
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
