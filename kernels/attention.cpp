//===- kernels/attention.cpp - HiP and dense attention kernels in the DSL -===//
//
// Three kernels, one program per (query tile, batch*head):
//   flash_attention             dense attention, online softmax in base 2
//   hip_block_sparse_attention  the selected key blocks + sink + window (§3)
//   hip_mask_tree               the v1.1 hierarchical mask search (§2)
// Common arguments: q, k, v in [B, T, H, D] with strides (sb, st, sh) in
// elements and unit stride along D; `pos` i32 [B, T_q]: 0-based position of
// each query among the keys (query j sees keys t <= pos[j]); `scale`
// multiplies q.k (1 when q is pre-scaled). The output is contiguous
// [B, T_q, H, D] in the input's type. GQA: kv head = head / (H / H_kv).
//
//===----------------------------------------------------------------------===//
#include "hip/attention.h"
#include "hip/kernels/examples.h"

#include "hip/compiler/compiler.h"
#include "hip/dsl/dsl.h"

#include <limits>
#include <optional>

namespace hip::kernels {
using namespace hip::dsl;

namespace {
const double kInf = std::numeric_limits<double>::infinity();
const double kLog2e = 1.4426950408889634;

DType inputType(int64_t code) {
  return code == 0 ? DType::bf16 : code == 1 ? DType::f16 : DType::f32;
}

/// The arguments every attention kernel starts with.
struct AttnArgs {
  Val q, k, v, out, pos;
  Val Tq, Tk, H, Hkv;
  Val sqb, sqt, sqh, skb, skt, skh, svb, svt, svh;
  Val scale;
  Val batch, head, kvHead;
  Val prog; // this program's index among its head's programs (axis 0)
  Val qBase, kBase, vBase; // pointers to this (batch, head)'s rows
};

/// G > 1: one program per (batch, KV head) on axis 1, for the G query heads
/// of the group (head is the group's first; qBase has no head offset).
/// grouped (G = 1): axis 1 is batch * H_kv + KV head and axis 0 enumerates
/// the programs of one head x the H / H_kv heads of the group, the group's
/// heads adjacent (they read the same keys: L2 serves the later ones).
AttnArgs declareArgs(Builder &b, DType t, bool withV, bool withOut,
                     const std::function<void()> &extraPointers,
                     const std::function<void()> &extraScalars = [] {}, int64_t G = 1,
                     bool grouped = false) {
  AttnArgs a;
  a.q = b.arg("q", ptr(t));
  a.k = b.arg("k", ptr(t));
  if (withV) a.v = b.arg("v", ptr(t));
  if (withOut) a.out = b.arg("out", ptr(t));
  a.pos = b.arg("pos", ptr(DType::i32));
  extraPointers();
  a.Tq = b.arg("Tq", DType::i32);
  a.Tk = b.arg("Tk", DType::i32);
  a.H = b.arg("H", DType::i32);
  a.Hkv = b.arg("Hkv", DType::i32);
  a.sqb = b.arg("sqb", DType::i32), a.sqt = b.arg("sqt", DType::i32), a.sqh = b.arg("sqh", DType::i32);
  a.skb = b.arg("skb", DType::i32), a.skt = b.arg("skt", DType::i32), a.skh = b.arg("skh", DType::i32);
  if (withV)
    a.svb = b.arg("svb", DType::i32), a.svt = b.arg("svt", DType::i32),
    a.svh = b.arg("svh", DType::i32);
  a.scale = b.arg("scale", DType::f32);
  extraScalars();
  Val bh = program_id(1);
  a.prog = program_id(0);
  if (G > 1) {
    a.batch = bh / a.Hkv;
    a.kvHead = bh % a.Hkv;
    a.head = a.kvHead * int(G);
  } else if (grouped) {
    Val gqa = a.H / a.Hkv;
    a.batch = bh / a.Hkv;
    a.kvHead = bh % a.Hkv;
    a.head = a.kvHead * gqa + a.prog % gqa;
    a.prog = a.prog / gqa;
  } else {
    a.batch = bh / a.H;
    a.head = bh % a.H;
    a.kvHead = a.head / (a.H / a.Hkv);
  }
  Val b64 = cast(a.batch, DType::i64);
  a.qBase = a.q + (b64 * cast(a.sqb, DType::i64) +
                   (G > 1 ? constant(0, DType::i64) : cast(a.head * a.sqh, DType::i64)));
  a.kBase = a.k + (b64 * cast(a.skb, DType::i64) + cast(a.kvHead * a.skh, DType::i64));
  if (withV)
    a.vBase = a.v + (b64 * cast(a.svb, DType::i64) + cast(a.kvHead * a.svh, DType::i64));
  return a;
}

/// Online-softmax state of BM rows: running max (base 2), sum, accumulator.
struct Softmax {
  Val m, l, acc;
};

/// One tile of keys: kt [D, BN], vt [BN, D], valid [BM, BN]. Rows without a
/// valid key so far keep m = -inf and contribute nothing.
Softmax update(const Softmax &s, Val qt, Val kt, Val vt, std::optional<Val> valid, Val scale,
               DType t) {
  Val logits = dot(qt, kt) * (scale * kLog2e);
  if (valid) logits = where(*valid, logits, -kInf);
  Val mNew = maximum(s.m, max(logits, 1));
  Val mSafe = where(mNew == -kInf, 0.0, mNew);
  Val p = exp2(logits - expand_dims(mSafe, 1));
  Val alpha = exp2(s.m - mSafe);
  Val l = s.l * alpha + sum(p, 1);
  Val acc = dot(cast(p, t), vt, s.acc * expand_dims(alpha, 1));
  return {mNew, l, acc};
}

std::vector<Val> pack(const Softmax &s) { return {s.m, s.l, s.acc}; }
Softmax unpack(const std::vector<Val> &v) { return {v[0], v[1], v[2]}; }

/// kt [D, BN] and vt [BN, D] of the key tokens `tok` [BN] (masked by ok, if given).
/// K is loaded as rows [BN, D] (16-byte accesses along D) and transposed:
/// the GPU backend's dot reads those rows directly as its B operand.
std::pair<Val, Val> loadKV(const AttnArgs &a, Val tok, std::optional<Val> ok, int64_t D) {
  Val d = arange(0, D);
  Val kp = a.kBase + (expand_dims(tok * a.skt, 1) + expand_dims(d, 0));
  Val vp = a.vBase + (expand_dims(tok * a.svt, 1) + expand_dims(d, 0));
  if (!ok) return {trans(load(kp)), load(vp)}; // every token is there
  return {trans(load(kp, expand_dims(*ok, 1), 0.0)), load(vp, expand_dims(*ok, 1), 0.0)};
}

/// loadKV's tiles for the keys [n, n + BN) as boxes of K and V viewed as
/// [B, H_kv, T_k, D] tensors (load_box; keys from T_k on read 0), which
/// sm_90a copies with TMA under tma = 1. (B is not an argument: 65535, the
/// most the grid's second axis allows.)
std::pair<Val, Val> boxKV(const AttnArgs &a, Val n, int64_t BN, int64_t D) {
  auto box = [&](Val base, Val sb, Val sh, Val st) {
    return load_box(base, {65535, a.Hkv, a.Tk, int(D)}, {sb, sh, st}, {a.batch, a.kvHead, n, 0},
                    {BN, D});
  };
  return {trans(box(a.k, a.skb, a.skh, a.skt)), box(a.v, a.svb, a.svh, a.svt)};
}

/// The rows of one program: BM query rows of a block of `rowsPerBlock`
/// queries (program axis 0 enumerates blocks x sub-tiles).
struct Rows {
  Val off;   // [BM] query indices
  Val ok;    // [BM]
  Val pos;   // [BM] 0-based positions (-1 for rows that are not there)
  Val qt;    // [BM, D]
  Val block; // query block index
  Val head;  // the head of each row ([BM], G > 1) or of all (a.head)
};

/// G > 1: the BM rows are G heads' BM / G queries each, head-major (the
/// heads of a GQA group stacked along M: every K/V tile serves all of them).
Rows loadRows(const AttnArgs &a, int64_t BM, int64_t blockRows, int64_t D, int64_t G = 1) {
  Rows r;
  int64_t perHead = BM / G;
  int64_t rowsPerProg = std::min(perHead, blockRows), sub = blockRows / rowsPerProg;
  Val pid = a.prog;
  r.block = pid / sub;
  Val i = arange(0, BM);
  Val qi = G > 1 ? i % int(perHead) : i;
  r.off = r.block * blockRows + (pid % sub) * rowsPerProg + qi;
  r.ok = (r.off < a.Tq) & (qi < rowsPerProg);
  r.pos = load(a.pos + (a.batch * a.Tq + r.off), r.ok, -1);
  r.head = G > 1 ? a.head + i / int(perHead) : a.head;
  Val d = arange(0, D);
  Val rowOff = G > 1 ? r.off * a.sqt + r.head * a.sqh : r.off * a.sqt;
  r.qt = load(a.qBase + (expand_dims(rowOff, 1) + expand_dims(d, 0)), expand_dims(r.ok, 1), 0.0);
  return r;
}

void storeRows(const AttnArgs &a, const Rows &r, const Softmax &s, int64_t D, DType t) {
  Val o = s.acc / expand_dims(where(s.l == 0.0, 1.0, s.l), 1);
  Val d = arange(0, D);
  Val rowBase = ((a.batch * a.Tq + r.off) * a.H + r.head) * int(D);
  store(a.out + (expand_dims(rowBase, 1) + expand_dims(d, 0)), cast(o, t), expand_dims(r.ok, 1));
}

Softmax initialState(int64_t BM, int64_t D) {
  return {full({BM}, -kInf, DType::f32), full({BM}, 0.0, DType::f32),
          full({BM, D}, 0.0, DType::f32)};
}

/// The key tiles [lo, hi) (BN keys each) with the QK^T of tile j + 1 issued
/// before the P V of tile j (PIPE=1, FlashAttention-3's order within a
/// warpgroup): the softmax of tile j + 1 then runs while the tensor cores
/// multiply P V, and the accumulator is rescaled once that is done. The
/// state carries P (the current tile's probabilities, already cast) and the
/// accumulator scaled for it. A first QK^T (prologue) and a last P V
/// (epilogue) run outside the loop; with no tile at all the prologue's keys
/// are all masked, so its P is zero and the state unchanged.
/// `tile(n)`: the key tokens [BN] of the tile at n, with their load mask and
/// the [BM, BN] validity of the scores, or without (tiles every row sees in
/// full).
struct TileKeys {
  Val tok;
  std::optional<std::pair<Val, Val>> mask;
};
using TileFn = std::function<TileKeys(Val n)>;
Softmax pipelinedTiles(const AttnArgs &a, Val qt, Softmax st, Val lo, Val hi, int64_t BN,
                       int64_t D, DType t, const TileFn &tile) {
  Val d = arange(0, D), ar = arange(0, BN);
  auto kvPtrs = [&](Val tok, Val base, Val stride) {
    return base + (expand_dims(tok * stride, 1) + expand_dims(d, 0));
  };
  // Q K^T of the tile at n (with `limit`: positions from `limit` on are
  // masked too) and a function that turns it into scaled, masked base-2
  // logits; apart, so that the P V issued between them runs meanwhile.
  auto scores = [&](Val n, std::optional<Val> limit) {
    auto [tok, m] = tile(n);
    Val ok = limit ? n + ar < *limit : constant(1, DType::i1);
    if (m) ok = ok & m->first;
    Val kt = limit || m ? trans(load(kvPtrs(tok, a.kBase, a.skt), expand_dims(ok, 1), 0.0))
                        : trans(load(kvPtrs(tok, a.kBase, a.skt)));
    Val qk = dot(qt, kt);
    return std::pair<Val, std::function<Val(Val)>>(qk, [&, ok, m, limit](Val x) {
      Val logits = x * (a.scale * kLog2e);
      if (!limit && !m) return logits;
      Val valid = expand_dims(ok, 0);
      if (m) valid = valid & m->second;
      return where(valid, logits, -kInf);
    });
  };
  auto values = [&](Val n, std::optional<Val> limit) {
    auto [tok, m] = tile(n);
    Val ok = limit ? n + ar < *limit : constant(1, DType::i1);
    if (m) ok = ok & m->first;
    return limit || m ? load(kvPtrs(tok, a.vBase, a.svt), expand_dims(ok, 1), 0.0)
                      : load(kvPtrs(tok, a.vBase, a.svt));
  };
  // Online softmax of one tile of scores: the new max, sum and the factor
  // that rescales the accumulator.
  auto softmax = [&](Val m, Val l, Val logits) {
    Val mNew = maximum(m, max(logits, 1));
    Val mSafe = where(mNew == -kInf, 0.0, mNew);
    Val p = exp2(logits - expand_dims(mSafe, 1));
    Val alpha = exp2(m - mSafe);
    return std::vector<Val>{mNew, l * alpha + sum(p, 1), alpha, cast(p, t)};
  };
  auto first = scores(lo, hi);
  std::vector<Val> s0 = softmax(st.m, st.l, first.second(first.first));
  Val acc0 = st.acc * expand_dims(s0[2], 1);
  std::vector<Val> res =
      for_range(lo, hi - int(BN), BN, {s0[0], s0[1], acc0, s0[3]}, [&](Val n, std::vector<Val> c) {
        auto next = scores(n + int(BN), std::nullopt);
        Val acc = dot(c[3], values(n, std::nullopt), c[2]);
        std::vector<Val> sn = softmax(c[0], c[1], next.second(next.first));
        return std::vector<Val>{sn[0], sn[1], acc * expand_dims(sn[2], 1), sn[3]};
      });
  // The last tile: lo + BN * floor((hi - lo - 1) / BN) (lo when empty).
  Val last = lo + maximum(hi - lo - 1, 0) / int(BN) * int(BN);
  return {res[0], res[1], dot(res[3], values(last, hi), res[2])};
}

// ---- Dense ---------------------------------------------------------------------------
void flashAttention(Builder &b, const Config &c) {
  DType t = inputType(c["DTYPE"]);
  int64_t BM = c["BLOCK_M"], BN = c["BLOCK_N"], D = c["HEAD_DIM"];
  bool causal = c["CAUSAL"] != 0;
  AttnArgs a = declareArgs(b, t, true, true, [] {});
  // Causal: the last query tiles (the most keys) first, so that the GPU's
  // last wave holds the short programs, not the longest.
  if (causal) a.prog = num_programs(0) - 1 - a.prog;
  Rows r = loadRows(a, BM, BM, D);
  Val hi = causal ? minimum(a.Tk, max(r.pos, 0) + 1) : a.Tk;
  // Key tiles that every row of the program sees in full (below the
  // diagonal, inside T_k) need no mask: a first loop takes them, a second
  // the masked rest (the diagonal and the last partial tile).
  Val full = a.Tk / int(BN) * int(BN);
  if (causal) {
    Val pMin = min(where(r.ok, r.pos, std::numeric_limits<int32_t>::max()), 0);
    full = minimum(full, maximum(pMin + 1, 0) / int(BN) * int(BN));
  }
  Val rowOk = expand_dims(r.ok, 1), pj = expand_dims(r.pos, 1); // (loop invariants)
  Val ar = arange(0, BN);
  auto inside = [&](Val n) { return TileKeys{n + ar, std::nullopt}; };
  auto diagonal = [&](Val n) {
    Val tok = n + ar;
    Val ok = tok < a.Tk;
    Val valid = expand_dims(ok, 0) & rowOk;
    if (causal) valid = valid & (expand_dims(tok, 0) <= pj);
    return TileKeys{tok, std::pair<Val, Val>(ok, valid)};
  };
  Softmax st = initialState(BM, D);
  if (c["PIPE"]) {
    st = pipelinedTiles(a, r.qt, st, constant(0, DType::i32), full, BN, D, t, inside);
    st = pipelinedTiles(a, r.qt, st, full, hi, BN, D, t, diagonal);
  } else {
    // tma = 1: the K and V tiles as boxes (boxKV), the same values.
    bool tma = c.get("tma", 0) != 0;
    st = unpack(for_range(0, full, BN, pack(st), [&](Val n, std::vector<Val> s) {
      auto [kt, vt] = tma ? boxKV(a, n, BN, D) : loadKV(a, inside(n).tok, std::nullopt, D);
      return pack(update(unpack(s), r.qt, kt, vt, std::nullopt, a.scale, t));
    }));
    st = unpack(for_range(full, hi, BN, pack(st), [&](Val n, std::vector<Val> s) {
      TileKeys k = diagonal(n);
      auto [kt, vt] = tma ? boxKV(a, n, BN, D) : loadKV(a, k.tok, k.mask->first, D);
      return pack(update(unpack(s), r.qt, kt, vt, k.mask->second, a.scale, t));
    }));
  }
  storeRows(a, r, st, D, t);
}

// ---- Block-sparse ----------------------------------------------------------------------
void blockSparseAttention(Builder &b, const Config &c) {
  DType t = inputType(c["DTYPE"]);
  int64_t BM = c["BLOCK_M"], BN = c["BLOCK_N"], D = c["HEAD_DIM"];
  int64_t bq = c["BLOCK_SIZE_Q"], bk = c["BLOCK_SIZE_K"], S = c["SINK"], W = c["WINDOW"];
  // HEADS = G > 1: the selection is the same for the G query heads of a KV
  // head's group (the tree stage's head_shared); one program takes the
  // group's rows (G x BLOCK_M / G) and reads the first head's selection.
  int64_t G = c.get("HEADS", 1);
  bool grouped = c.get("GROUPED", 0) != 0 && G == 1;
  Val indices, ks, nQB, kMax;
  AttnArgs a = declareArgs(b, t, true, true, [&] {
    indices = b.arg("indices", ptr(DType::i32));
    ks = b.arg("ks", ptr(DType::i32));
  }, [&] {
    nQB = b.arg("nQB", DType::i32);
    kMax = b.arg("kMax", DType::i32);
  }, G, grouped);
  Rows r = loadRows(a, BM, bq, D, G);
  Val row = (a.batch * a.H + a.head) * nQB + r.block;
  Val pj = expand_dims(r.pos, 1);
  Softmax st = initialState(BM, D);
  // 1. Selected blocks: keys outside the window (t <= p - W) and past the sink.
  Val nSel = load(ks + row) * int(bk);
  Val ar = arange(0, BN);
  auto selected = [&](Val n) {
    Val j = n + ar;
    Val jOk = j < nSel;
    Val tok = load(indices + (row * kMax + j / int(bk)), jOk, 0) + j % int(bk);
    Val ok = jOk & (tok < a.Tk) & (tok >= int(S));
    Val valid = expand_dims(ok, 0) & (expand_dims(tok, 0) <= pj - int(W));
    return TileKeys{tok, std::pair<Val, Val>(ok, valid)};
  };
  // 2. Sink, keys [0, S) not also in the window, and 3. window, p - W < t
  // <= p over the union of the rows' windows.
  int64_t sinkTiles = (S + BN - 1) / BN;
  Val lo = constant(0, DType::i32), hi = constant(0, DType::i32);
  if (W > 0) {
    Val pMin = min(where(r.ok, r.pos, std::numeric_limits<int32_t>::max()), 0);
    lo = maximum(pMin - int(W) + 1, 0) / int(BN) * int(BN);
    hi = max(r.pos, 0) + 1;
  }
  Val first = lo - int(sinkTiles * BN);
  // The sink's and the window's tile at n (first <= n < hi): its first
  // ceil(S / BN) tiles are the sink's.
  auto sinkOrWindow = [&](Val n) {
    Val sink = n < lo;
    Val tok = where(sink, n - first, n) + ar;
    Val ok = where(sink, tok < int(S), constant(1, DType::i1)) & (tok < a.Tk);
    Val tk = expand_dims(tok, 0);
    Val inWindow = (tk > pj - int(W)) & (tk <= pj);
    Val valid = expand_dims(ok, 0) & where(sink, tk <= pj - int(W), inWindow);
    return TileKeys{tok, std::pair<Val, Val>(ok, valid)};
  };
  auto step = [&](const TileFn &tile) {
    return [&, tile](Val n, std::vector<Val> s) {
      TileKeys k = tile(n);
      auto [kt, vt] = loadKV(a, k.tok, k.mask->first, D);
      return pack(update(unpack(s), r.qt, kt, vt, k.mask->second, a.scale, t));
    };
  };
  if (c["PIPE"]) {
    st = pipelinedTiles(a, r.qt, st, constant(0, DType::i32), nSel, BN, D, t, selected);
    if (S > 0 || W > 0) st = unpack(for_range(first, hi, BN, pack(st), step(sinkOrWindow)));
  } else {
    // One loop over all three (one copy of the tile's code: a third less
    // PTX and compile time than a loop for the selected blocks and one for
    // the sink and the window): the selected blocks' tiles come first, at n
    // in [first - ceil(nSel / BN) * BN, first).
    Val start = first - (nSel + int(BN - 1)) / int(BN) * int(BN);
    st = unpack(for_range(start, hi, BN, pack(st), step([&](Val n) {
      Val isSel = n < first, sink = n < lo; // (sink is true on selected tiles too)
      TileKeys sel = selected(n - start);
      Val tok = where(isSel, sel.tok, where(sink, n - first, n) + ar);
      Val ok = where(isSel, sel.mask->first,
                     where(sink, tok < int(S), constant(1, DType::i1)) & (tok < a.Tk));
      // Key t is valid for row p where below < t <= above: t <= p - W on
      // the selected and the sink's tiles, p - W < t <= p on the window's;
      // keys that are not there become INT_MAX, above every bound (two
      // comparisons per score, the rest per key or per row; positions are
      // below 2^30).
      Val key = expand_dims(where(ok, tok, std::numeric_limits<int32_t>::max()), 0);
      Val below = pj - where(sink, constant(1 << 30, DType::i32), constant(int(W), DType::i32));
      Val above = pj - where(sink, constant(int(W), DType::i32), constant(0, DType::i32));
      return TileKeys{tok, std::pair<Val, Val>(ok, (key > below) & (key <= above))};
    })));
  }
  storeRows(a, r, st, D, t);
}

// ---- Mask search (v1.1 tree) -------------------------------------------------------------
// One program per (query block, batch*head): the K branches live in
// registers; each iteration splits them, scores every half by the max q.k
// of its centre block against the strided queries (CHUNK halves per dot),
// and keeps the K best (ties: the earlier half).
// HEADS = G > 1 (the tree stage's head_shared): one program per (query
// block, KV head) scores with the strided queries of all G query heads of
// the group (G x QR rows of one dot, max over all of them) and writes the one
// selection to each of the G heads.
void maskTree(Builder &b, const Config &c) {
  DType t = inputType(c["DTYPE"]);
  int64_t bq = c["BLOCK_SIZE_Q"], bsq = c["BLOCK_STRIDE_Q"], bk = c["BLOCK_SIZE_K"],
          bsk = c["BLOCK_STRIDE_K"], K = c["KSEL"], D = c["HEAD_DIM"], S = c["SINK"],
          W = c["WINDOW"], CH = c["CHUNK"], maskK = c["MASK_K"];
  bool aligned = c["ALIGNED"] != 0;
  int64_t G = c["HEADS"], kpb = bk / bsk, QR = bq / bsq, NC = 2 * K / CH;
  int64_t QRP = 16;
  while (QRP < G * QR) QRP *= 2;
  int64_t N = CH * kpb, off = (S + bk - 1) / bk;
  Val indices, ks, nQB;
  AttnArgs a = declareArgs(b, t, false, false, [&] {
    indices = b.arg("indices", ptr(DType::i32));
    ks = b.arg("ks", ptr(DType::i32));
  }, [&] { nQB = b.arg("nQB", DType::i32); }, G, c["GROUPED"] != 0 && G == 1);
  // One KV head's group (G > 1; a.head its first query head) or one head,
  // its query heads adjacent in program order with GROUPED (see declareArgs).
  Val qb = a.prog;
  Val q0 = qb * int(bq);
  Val batch = a.batch, kBase = a.kBase;
  // Visible keys of the block's last query, searchable blocks.
  Val all = q0 + arange(0, bq);
  Val P = max(load(a.pos + (batch * a.Tq + all), all < a.Tq, -1), 0) + 1;
  Val Teff = maximum(P - int(W + S), 0);
  Val B = (Teff + int(bk - 1)) / int(bk);
  Val dense = Teff <= int(maskK);
  // The scoring queries: offsets bsq-1, 2bsq-1, ... (rows padded to a
  // power of two >= 16; with G heads, row r is head r / QR's query r % QR).
  Val ri = arange(0, QRP);
  Val qi = G > 1 ? ri % int(QR) : ri;
  Val qrow = q0 + int(bsq - 1) + qi * int(bsq);
  Val rowOk = (ri < int(G * QR)) & (qrow < a.Tq);
  // (1-D, widened in the loop: the GPU backend then reads it in the dot's
  // row layout, converted once before the loops.) Keys t > pos - W score -32000.
  Val posLim = load(a.pos + (batch * a.Tq + qrow), rowOk, 0) - int(W);
  Val d = arange(0, D);
  // (With G > 1, qBase has no head offset: row r reads head a.head + r / QR.)
  Val qOff = G > 1 ? (a.head + ri / int(QR)) * a.sqh + qrow * a.sqt : qrow * a.sqt;
  Val qt = load(a.qBase + (expand_dims(qOff, 1) + expand_dims(d, 0)), expand_dims(rowOk, 1), 0.0);
  // Initial branches (§2.3): boundaries floor(B*i/K), aligned down to
  // step = ceil(A/K), A the largest power of two <= B.
  Val A = for_range(0, 31, 1, {constant(1, DType::i32)}, [&](Val, std::vector<Val> s) {
            return std::vector<Val>{where(s[0] * 2 <= B, s[0] * 2, s[0])};
          })[0];
  Val step = aligned ? (A + int(K - 1)) / int(K) : constant(1, DType::i32);
  Val i = arange(0, K);
  Val s0 = minimum(B * i / int(K) / step * step, B);
  Val s1 = minimum(B * (i + 1) / int(K) / step * step, B);
  Val size0 = maximum(s1 - s0, 0);
  // Iterations: ceil(log2(max size)); none when the block is dense.
  Val maxSize = max(size0, 0);
  Val nIter = for_range(0, 31, 1, {constant(0, DType::i32), constant(1, DType::i32)},
                        [&](Val, std::vector<Val> s) {
                          return std::vector<Val>{s[0] + where(s[1] < maxSize, 1, 0), s[1] * 2};
                        })[0];
  nIter = where(dense, 0, nIter);
  Val half = arange(0, 2 * K) / 2, odd = arange(0, 2 * K) % 2 == 1;
  Val masked = -32000.0 / a.scale; // (the sentinel before scaling)
  auto res = for_range(0, nIter, 1, {s0, size0}, [&](Val, std::vector<Val> br) {
    // Branch k splits into halves 2k (start s, size h) and 2k+1 (s + h,
    // size - h): three gathers of the branch tiles.
    Val h = br[1] / 2;
    Val hk = gather(h, half), sk = gather(br[0], half);
    Val cs = where(odd, sk + hk, sk);
    Val cn = where(odd, gather(br[1], half) - hk, hk);
    Val rep = cs + cn / 2;
    // Each step's N key scores go to their slots of one 1-D tile through
    // one gather (a shared-memory round trip); the max over a block's kpb
    // keys waits for the end of the level (a [N] -> [CH, kpb] reshape in the
    // loop cost three more round trips per step).
    Val slot = arange(0, NC * N);
    // A key scores -inf when its half is empty or it lies past T_k: applied
    // to the level's slots, not to each score of each step.
    Val slotTok = (gather(rep, slot / int(kpb)) + int(off)) * int(bk) + int(bsk - 1) +
                  slot % int(kpb) * int(bsk);
    Val slotOk = (gather(cn, slot / int(kpb)) > 0) & (slotTok < a.Tk);
    // The steps read each key's token from one tile (-1: no key), written
    // to shared memory once per level.
    Val slotKey = where(slotOk, slotTok, -1);
    Val keys = for_range(
        0, int(NC), 1, {full({NC * N}, -kInf, DType::f32)}, [&](Val ci, std::vector<Val> acc) {
          Val tok = gather(slotKey, ci * int(N) + arange(0, N));
          Val ok = tok >= 0;
          // Candidate rows [N, D] (16-byte loads along D), scored as q . k^T.
          Val kr = load(kBase + (expand_dims(tok * a.skt, 1) + expand_dims(d, 0)),
                        expand_dims(ok, 1), 0.0);
          Val s = dot(qt, trans(kr));
          // Causal minus window, and exact zeros (padding), score -32000 (§2.4),
          // here -32000 / scale: the steps keep q.k, the level scales the
          // maxima (max(s) * scale = max(s * scale) for scale > 0, rounding
          // being monotonic; a q.k of exactly -32000 / scale is taken for the
          // sentinel).
          // (Rows past T_q or padding have q = 0 and pos 0, so they score
          // -32000 too: the max over the rows is the max over the valid ones
          // wherever a valid row scores above -32000, i.e. always but for
          // |q.k| * scale > 32000.)
          s = where((expand_dims(tok, 0) > expand_dims(posLim, 1)) | (s == 0.0), masked, s);
          return std::vector<Val>{
              where(slot / int(N) == ci, gather(max(s, 0), slot % int(N)), acc[0])};
        })[0];
    keys = where(slotOk, where(keys == masked, -32000.0, keys * a.scale), -kInf);
    Val scores = kpb > 1 ? max(reshape(keys, {2 * K, kpb}), 1) : keys;
    // The K best in key order (a radix select; ties: the earlier half), so
    // the branches stay sorted by start from level to level.
    auto [top, idx] = topk(scores, K, TopKOrder::ByIndex);
    (void)top;
    return std::vector<Val>{gather(cs, idx), gather(cn, idx)};
  });
  Val sel = (res[0] + int(off)) * int(bk); // (ascending: see above)
  Val denseIdx = where(i < B, (i + int(off)) * int(bk), int(kIndexSentinel));
  Val out = where(dense, denseIdx, sel), count = where(dense, B, int(K));
  for (int64_t g = 0; g < G; ++g) { // (G = 1: this program's head)
    Val row = (batch * a.H + a.head + int(g)) * nQB + qb;
    store(indices + (row * int(K) + i), out);
    store(ks + row, count);
  }
}

std::string validatePow2(const Config &c, std::initializer_list<const char *> keys, int64_t lo) {
  for (const char *key : keys) {
    int64_t v = c[key];
    if (v < lo || (v & (v - 1)))
      return std::string(key) + " must be a power of two >= " + std::to_string(lo);
  }
  if (c["DTYPE"] < 0 || c["DTYPE"] > 2) return "DTYPE must be 0 (bf16), 1 (f16) or 2 (f32)";
  return "";
}
} // namespace

// PIPE and GROUPED are schedule keys that are pinned, not tuned (a single
// value in the space): each would double the candidates, and neither won
// when tuned (PIPE=1: flash attention at 16k on the H200; GROUPED=1: within
// noise at 128k on the H100, L2 already serving 96 % of the gathers); so
// is the mask search's dot_a_shared (query rows in shared memory: 32.9 ms
// against 32.0 at 128k, H100). dot_a_shared in the attention kernels: Q
// staged once in shared memory (wgmma reads it through a descriptor in the
// 128-byte swizzle) instead of held in registers: tuned for the sparse
// kernel (its sm_90a default: 11 % faster at 16k on the H100), pinned for
// the dense one (1-2 % slower there at 128 x 64, and 128 x 128 tiles, which
// it lets compile without spills, were slower still).
void registerAttentionKernels() {
  static bool done = [] {
    registerKernel({"flash_attention", "dense attention (online softmax), causal or not, GQA",
                    {{"BLOCK_M", {64, 128}}, {"BLOCK_N", {32, 64}}, {"num_warps", {4, 8}},
                     {"num_stages", {2, 3}}, {"PIPE", {0}}, {"dot_a_shared", {0}},
                     {"mbarriers", {0}}, {"tma", {0}}, {"pingpong", {0}},
                     {"refill_after_wait", {1}}},
                    Config{{"BLOCK_M", 64}, {"BLOCK_N", 64}, {"HEAD_DIM", 64}, {"CAUSAL", 1},
                           {"DTYPE", 0}, {"num_warps", 4}, {"num_stages", 2}, {"PIPE", 0},
                           {"dot_a_shared", 0}, {"mbarriers", 0}, {"tma", 0}, {"pingpong", 0},
                           {"refill_after_wait", 1}},
                    flashAttention,
                    [](const Config &c) {
                      return validatePow2(c, {"BLOCK_M", "BLOCK_N", "HEAD_DIM"}, 16);
                    }});
    registerKernel(
        {"hip_block_sparse_attention",
         "HiP sparse attention over selected key blocks + sink + sliding window (§3)",
         {{"BLOCK_M", {32, 64}}, {"BLOCK_N", {32, 64}}, {"num_warps", {4, 8}},
          {"num_stages", {2, 3}}, {"PIPE", {0}}, {"GROUPED", {0}}, {"dot_a_shared", {0, 1}}},
         Config{{"BLOCK_M", 64}, {"BLOCK_N", 64}, {"HEAD_DIM", 64}, {"DTYPE", 0},
                {"BLOCK_SIZE_Q", 64}, {"BLOCK_SIZE_K", 2}, {"SINK", 16}, {"WINDOW", 256},
                {"HEADS", 1}, {"num_warps", 4}, {"num_stages", 2}, {"PIPE", 0}, {"GROUPED", 0},
                {"dot_a_shared", 0}},
         blockSparseAttention, [](const Config &c) {
           std::string e = validatePow2(c, {"BLOCK_M", "BLOCK_N", "HEAD_DIM"}, 16);
           if (!e.empty()) return e;
           e = validatePow2(c, {"BLOCK_SIZE_Q", "BLOCK_SIZE_K"}, 1);
           if (!e.empty()) return e;
           int64_t G = c.get("HEADS", 1);
           if (G < 1 || (G & (G - 1))) return std::string("HEADS must be a power of two >= 1");
           int64_t perHead = c["BLOCK_M"] / c.get("HEADS", 1);
           if (perHead < 1) return std::string("HEADS must be at most BLOCK_M");
           if (perHead < c["BLOCK_SIZE_Q"] && c["BLOCK_SIZE_Q"] % perHead)
             return std::string("BLOCK_M / HEADS must divide BLOCK_SIZE_Q");
           return std::string();
         }});
    registerKernel(
        {"hip_mask_tree",
         "HiP v1.1 hierarchical mask search, one query block per program (§2)",
         {{"CHUNK", {16, 32, 64}},
          {"num_warps", {4, 8}},
          {"min_blocks", {1, 3}},
          {"GROUPED", {0}},
          {"dot_a_shared", {0}}, {"num_stages", {1, 2}}},
         Config{{"HEAD_DIM", 64},
                {"DTYPE", 0},
                {"BLOCK_SIZE_Q", 64},
                {"BLOCK_STRIDE_Q", 2},
                {"BLOCK_SIZE_K", 2},
                {"BLOCK_STRIDE_K", 1},
                {"MASK_K", 512},
                {"KSEL", 256},
                {"SINK", 16},
                {"WINDOW", 256},
                {"ALIGNED", 1},
                {"CHUNK", 32},
                {"HEADS", 1},
                {"GROUPED", 0},
                {"dot_a_shared", 0},
                {"num_warps", 4},
                {"min_blocks", 1},
                // 2: the next step's candidate rows load during this one
                // (sm_90a: 296 PTX instructions per step against 244, 26.6
                // against 31.3 ms at 128k on the H100; the tree stage asks
                // for it on sm_90a). Before a step read its keys' tokens
                // from one per-level tile, pipelining repeated the gathers
                // that address the rows and lost (87 against 74 ms, H200).
                {"num_stages", 1}},
         maskTree,
         [](const Config &c) {
           std::string e = validatePow2(c, {"HEAD_DIM"}, 16);
           if (!e.empty()) return e;
           e = validatePow2(c, {"BLOCK_SIZE_Q", "BLOCK_STRIDE_Q", "BLOCK_SIZE_K",
                                "BLOCK_STRIDE_K", "KSEL", "CHUNK"}, 1);
           if (!e.empty()) return e;
           if (c["BLOCK_SIZE_Q"] < c["BLOCK_STRIDE_Q"] || c["BLOCK_SIZE_K"] < c["BLOCK_STRIDE_K"])
             return std::string("block strides must not exceed the block sizes");
           if (2 * c["KSEL"] < c["CHUNK"]) return std::string("CHUNK must be <= 2*KSEL");
           if (c["HEADS"] < 1) return std::string("HEADS must be >= 1");
           return std::string();
         }});
    return true;
  }();
  (void)done;
}

} // namespace hip::kernels
