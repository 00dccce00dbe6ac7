//===- kernels/stages/scan_stage.cpp - The v1.2 chunk-scan mask stage -----===//
//
// "scan": one stage of the InfiniteHiP (v1.2) chunk-scan pipeline
// (hip-algorithm.md §5), with the exact semantics of the plain C++ reference
// kernels/scan_reference.h. Two DSL kernels, registered below:
//
//   hip_scan_score   one program per (query block x tile of SCAN_TILE chunks,
//                    batch*head): pools the query rows (mean of stride_q
//                    consecutive queries, rows padded to 16), builds its
//                    chunks (stage 0: [sink + i*c, min(sink + (i+1)*c, P - SW))
//                    of the block; later stages: every input block split into
//                    chunk_size sub-chunks clipped to [sink, P - SW)), and
//                    bisects them all in parallel: per step two probes per
//                    chunk, key rows gathered by per-column pointers into a
//                    [D, 2*SCAN_TILE] tile, one dot with the query rows, max
//                    over the rows. Writes each chunk's score to a scratch
//                    tensor [B*H, nQB, NCP] (f32).
//   hip_scan_select  one program per (query block, batch*head): max of the
//                    scores over the H heads of the batch element (head
//                    reduce, optional), then topk over the NCP (power of two)
//                    padded scores (ties: smaller start first, as the
//                    reference's stable sort), sort of the kept starts, and
//                    (last stage) the dense rule. Writes Candidates.
//
// Head reduce is done by the second kernel reading all heads' scores from the
// scratch tensor, before the selection (the reference's order).
//
// Parameters (JSON):
//   block_size_q (64), stride_q (4), chunk_size (256)
//   stage_k      tokens kept entering this stage (reference stageK): 0 for
//                the first stage; > 0, a multiple of the previous stage's
//                chunk size, for later ones. The previous stage already did
//                that selection (see keep_k), so here it is a check: the
//                input may not hold more than stage_k tokens per row.
//   keep_k       this stage is followed by another: it outputs its best
//                keep_k / chunk_size chunks (set keep_k = the next stage's
//                stage_k). No dense rule.
//   final_k      (default 2048 = second_stage_k) this stage is the last: it
//                outputs its best final_k / chunk_size chunks, or every chunk
//                start of [sink, P - SW) when P - sink - SW <= final_k (the
//                reference's dense rule). keep_k and final_k are exclusive.
//   head_reduce  (true) the score of a chunk is its max over all query heads.
//   first_chunk_size  the first stage's chunk size, which fixes the scan's
//                key limit pmin - max(0, SW - first_chunk_size) for every
//                stage. Default: chunk_size for a first stage; later stages
//                read it from the candidates' state (left there by the first
//                scan stage), else take the previous stage's chunk size.
//   block_size_k accepted as an alias that must equal chunk_size (params()
//                reports it so the pipeline passes the granularity on).
// Each stage's output: blockSizeQ = block_size_q, blockSizeK = chunk_size,
// indices [B*H, nQB, keep] chunk starts ascending, sentinel-padded.
//
// The scores are float32 (the reference: float64), and the query rows are
// averaged in float32: near-ties may be broken differently. For bf16/f16
// inputs the averaged rows are split into three 16-bit parts (hi + mid + lo)
// so the dot keeps float32 accuracy. softmax_scale is not applied: a
// positive scale does not change any comparison.
//
//===----------------------------------------------------------------------===//
#include "hip/dsl/dsl.h"
#include "hip/error.h"
#include "hip/mask_stage.h"

#include <limits>

namespace hip {
namespace {
using namespace hip::dsl;

bool pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }
int64_t nextPow2(int64_t v) {
  int64_t p = 1;
  while (p < v) p *= 2;
  return p;
}
int64_t log2i(int64_t v) {
  int64_t l = 0;
  while ((int64_t(1) << l) < v) ++l;
  return l;
}

const double kInf = std::numeric_limits<double>::infinity();
const double kFloatMax = std::numeric_limits<float>::max();
constexpr int64_t kScanTile = 32; // chunks per program of hip_scan_score

DType inputType(int64_t code) {
  return code == 0 ? DType::bf16 : code == 1 ? DType::f16 : DType::f32;
}

/// The chunk list of one (query block, batch*head), shared by both kernels.
struct BlockInfo {
  Val P, pmin, end, avail; // scalars
};

BlockInfo blockInfo(Val pos, Val batch, Val Tq, Val qb, int64_t bq) {
  Val all = qb * int(bq) + arange(0, bq);
  Val ok = all < Tq;
  Val p = load(pos + (batch * Tq + all), ok, -1);
  BlockInfo bi;
  bi.P = max(p, 0) + 1;
  bi.pmin = min(where(ok, p, std::numeric_limits<int32_t>::max()), 0);
  return bi;
}

struct Chunks {
  Val present, left, right; // [n]
};

/// Chunks j (an i32 tile) of the block: stage 0 makes them, later stages
/// split the parent block's input candidates (starts ascending).
Chunks makeChunks(const Config &c, Val j, BlockInfo &bi, Val inIdx, Val inKs, Val bh, Val qb,
                  Val nQBprev, Val capIn) {
  int64_t C = c["CHUNK"], S = c["SINK"], W = c["WINDOW"], prevC = c["PREV_CHUNK"];
  bi.end = bi.P - int(W);
  bi.avail = bi.end - int(S);
  Chunks ch;
  if (prevC == 0) {
    Val nC = where(bi.avail > 0, (bi.avail + int(C - 1)) / int(C), 0);
    ch.present = j < nC;
    ch.left = j * int(C) + int(S);
  } else {
    int64_t R = prevC / C, split = c["PREV_BQ"] / c["BLOCK_SIZE_Q"];
    Val prow = bh * nQBprev + qb / int(split);
    Val kIn = minimum(load(inKs + prow), capIn);
    Val e = j / int(R);
    Val inOk = e < kIn;
    Val s = load(inIdx + (prow * capIn + e), inOk, 0);
    ch.left = s + (j % int(R)) * int(C);
    ch.present = inOk & (ch.left < bi.end);
  }
  ch.right = minimum(ch.left + int(C), bi.end);
  return ch;
}

// ---- hip_scan_score ----------------------------------------------------------------------
void scanScore(Builder &b, const Config &c) {
  DType t = inputType(c["DTYPE"]);
  int64_t D = c["HEAD_DIM"], bq = c["BLOCK_SIZE_Q"], sq = c["STRIDE_Q"], C = c["CHUNK"];
  int64_t CT = c["SCAN_TILE"], NCP = c["NCP"], SWS = c["SW_SCAN"];
  int64_t QR = bq / sq, QRP = std::max<int64_t>(16, QR);
  Val q = b.arg("q", ptr(t)), k = b.arg("k", ptr(t)), pos = b.arg("pos", ptr(DType::i32));
  Val inIdx = b.arg("in_indices", ptr(DType::i32)), inKs = b.arg("in_ks", ptr(DType::i32));
  Val scores = b.arg("scores", ptr(DType::f32));
  Val Tq = b.arg("Tq", DType::i32), Tk = b.arg("Tk", DType::i32);
  Val H = b.arg("H", DType::i32), Hkv = b.arg("Hkv", DType::i32);
  Val sqb = b.arg("sqb", DType::i32), sqt = b.arg("sqt", DType::i32), sqh = b.arg("sqh", DType::i32);
  Val skb = b.arg("skb", DType::i32), skt = b.arg("skt", DType::i32), skh = b.arg("skh", DType::i32);
  Val scale = b.arg("scale", DType::f32);
  (void)scale;
  Val nQB = b.arg("nQB", DType::i32), nQBprev = b.arg("nQBprev", DType::i32);
  Val capIn = b.arg("capIn", DType::i32);
  int64_t nTiles = NCP / CT;
  Val bh = program_id(1), batch = bh / H, head = bh % H, kvHead = head / (H / Hkv);
  Val qb = program_id(0) / int(nTiles), tile = program_id(0) % int(nTiles);
  Val b64 = cast(batch, DType::i64);
  Val qBase = q + (b64 * cast(sqb, DType::i64) + cast(head * sqh, DType::i64));
  Val kBase = k + (b64 * cast(skb, DType::i64) + cast(kvHead * skh, DType::i64));

  BlockInfo bi = blockInfo(pos, batch, Tq, qb, bq);
  Val iC = arange(0, CT);
  Val j = tile * int(CT) + iC;
  Chunks ch = makeChunks(c, j, bi, inIdx, inKs, bh, qb, nQBprev, capIn);
  Val keyLimit = bi.pmin - int(SWS);

  // Pooled query rows: row r averages queries q0 + r*sq + [0, sq) (< Tq).
  Val r = arange(0, QRP), d = arange(0, D);
  Val g0 = qb * int(bq) + r * int(sq);
  auto pooled = for_range(0, int(sq), 1, {full({QRP, D}, 0.0, DType::f32), full({QRP}, 0.0, DType::f32)},
                          [&](Val u, std::vector<Val> s) {
                            Val qi = g0 + u;
                            Val ok = (r < int(QR)) & (qi < Tq);
                            Val x = load(qBase + (expand_dims(qi * sqt, 1) + expand_dims(d, 0)),
                                         expand_dims(ok, 1), 0.0);
                            return std::vector<Val>{s[0] + cast(x, DType::f32),
                                                    where(ok, s[1] + 1.0, s[1])};
                          });
  Val rowOk = pooled[1] > 0.0;
  Val qrep = pooled[0] / expand_dims(maximum(pooled[1], 1.0), 1);
  // 16-bit inputs: hi + mid + lo parts keep float32 accuracy through dot.
  std::vector<Val> parts;
  if (t == DType::f32) {
    parts.push_back(qrep);
  } else {
    Val rest = qrep;
    for (int p = 0; p < 3; ++p) {
      Val h = cast(rest, t);
      parts.push_back(h);
      rest = rest - cast(h, DType::f32);
    }
  }
  // Score of key tokens `tok` (invalid ones: -inf): max over the rows.
  auto probe = [&](Val tok, Val ok) {
    Val kt = load(kBase + (expand_dims(d, 1) + expand_dims(tok * skt, 0)), expand_dims(ok, 0), 0.0);
    Val s = dot(parts[0], kt);
    for (size_t p = 1; p < parts.size(); ++p) s = dot(parts[p], kt, s);
    s = where(expand_dims(rowOk, 1), s, -kInf);
    return where(ok, max(s, 0), -kInf);
  };
  auto valid = [&](Val tok) { return (tok >= 0) & (tok <= keyLimit) & (tok < Tk); };

  // A chunk of one key is scored by that key (probed in the first half of a
  // 2*SCAN_TILE tile: the dot's N must be a multiple of 8 * num_warps).
  Val i2 = arange(0, 2 * CT), half = i2 % int(CT);
  Val one = ch.present & (ch.right - ch.left == 1);
  Val tok1 = gather(ch.left, half);
  Val one2 = (i2 < int(CT)) & (gather(where(one, 1, 0), half) != 0);
  Val score0 = where(one, gather(probe(tok1, one2 & valid(tok1)), iC), -kInf);
  auto res = for_range(0, int(log2i(C)), 1, {ch.left, ch.right, score0}, [&](Val, std::vector<Val> s) {
    Val l = s[0], rr = s[1];
    Val active = ch.present & (rr - l > 1);
    Val mid = (l + rr) / 2, pL = (l + mid) / 2, pR = (mid + rr) / 2;
    Val tok = where(i2 < int(CT), gather(pL, half), gather(pR, half));
    Val act2 = gather(where(active, 1, 0), half) != 0;
    Val best = probe(tok, act2 & valid(tok));
    Val sL = gather(best, iC), sR = gather(best, iC + int(CT));
    Val goLeft = (sL > sR) | (pR > keyLimit);
    Val newL = where(active & goLeft, l, where(active, mid, l));
    Val newR = where(active & goLeft, mid, rr);
    Val sc = where(active, maximum(s[2], maximum(sL, sR)), s[2]);
    return std::vector<Val>{newL, newR, sc};
  });
  store(scores + ((bh * nQB + qb) * int(NCP) + j), res[2]);
}

// ---- hip_scan_select ---------------------------------------------------------------------
void scanSelect(Builder &b, const Config &c) {
  int64_t bq = c["BLOCK_SIZE_Q"], C = c["CHUNK"], S = c["SINK"], NCP = c["NCP"];
  int64_t KEEP = c["KEEP"], KP = nextPow2(KEEP), KS = std::min(KP, NCP);
  bool last = c["FINAL"] != 0, headReduce = c["HEAD_REDUCE"] != 0;
  Val pos = b.arg("pos", ptr(DType::i32));
  Val inIdx = b.arg("in_indices", ptr(DType::i32)), inKs = b.arg("in_ks", ptr(DType::i32));
  Val scores = b.arg("scores", ptr(DType::f32));
  Val outIdx = b.arg("indices", ptr(DType::i32)), outKs = b.arg("ks", ptr(DType::i32));
  Val Tq = b.arg("Tq", DType::i32), H = b.arg("H", DType::i32);
  Val nQB = b.arg("nQB", DType::i32), nQBprev = b.arg("nQBprev", DType::i32);
  Val capIn = b.arg("capIn", DType::i32);
  Val qb = program_id(0), bh = program_id(1), batch = bh / H;
  BlockInfo bi = blockInfo(pos, batch, Tq, qb, bq);
  Val j = arange(0, NCP);
  Chunks ch = makeChunks(c, j, bi, inIdx, inKs, bh, qb, nQBprev, capIn);
  Val sc;
  if (headReduce) {
    sc = for_range(0, H, 1, {full({NCP}, -kInf, DType::f32)}, [&](Val h, std::vector<Val> s) {
           Val row = (batch * H + h) * nQB + qb;
           return std::vector<Val>{maximum(s[0], load(scores + (row * int(NCP) + j)))};
         })[0];
  } else {
    sc = load(scores + ((bh * nQB + qb) * int(NCP) + j));
  }
  // Present chunks rank above absent ones even when scored -inf.
  Val key = where(ch.present, maximum(sc, -kFloatMax), -kInf);
  // When all KS are kept, their order does not matter (sorted by start
  // below): the radix select in index order (same set, ties: the earlier
  // chunk) instead of a sort by score.
  auto [top, idx] = topk(key, KS, KEEP == KS ? TopKOrder::ByIndex : TopKOrder::ByValue);
  (void)top;
  Val rank = arange(0, KS);
  Val sel = (rank < int(KEEP)) & (gather(where(ch.present, 1, 0), idx) != 0);
  Val starts = sort(where(sel, gather(ch.left, idx), int(kIndexSentinel)));
  Val cnt = sum(where(sel, 1, 0), 0);
  Val i = arange(0, KP);
  Val out = KS == KP ? starts : where(i < int(KS), gather(starts, i), int(kIndexSentinel));
  if (last) {
    Val dense = bi.avail <= int(c["FINAL_K"]);
    Val nDense = where(bi.avail > 0, (bi.avail + int(C - 1)) / int(C), 0);
    out = where(dense, where(i < nDense, i * int(C) + int(S), int(kIndexSentinel)), out);
    cnt = where(dense, nDense, cnt);
  }
  Val row = bh * nQB + qb;
  store(outIdx + (row * int(KEEP) + i), out, i < int(KEEP));
  store(outKs + row, cnt);
}

std::string checkScanConfig(const Config &c, bool select) {
  for (const char *key : {"BLOCK_SIZE_Q", "CHUNK", "NCP"}) {
    int64_t v = c[key];
    if (!pow2(v)) return std::string(key) + " must be a power of two";
  }
  if (c["PREV_CHUNK"] && (c["PREV_CHUNK"] % c["CHUNK"] || c["PREV_BQ"] % c["BLOCK_SIZE_Q"]))
    return std::string("CHUNK must divide PREV_CHUNK and BLOCK_SIZE_Q must divide PREV_BQ");
  if (select) return c["KEEP"] > 0 ? "" : "KEEP must be > 0";
  if (!pow2(c["HEAD_DIM"]) || c["HEAD_DIM"] < 16) return "HEAD_DIM must be a power of two >= 16";
  if (!pow2(c["STRIDE_Q"]) || c["BLOCK_SIZE_Q"] % c["STRIDE_Q"])
    return "STRIDE_Q must be a power of two dividing BLOCK_SIZE_Q";
  if (c["SCAN_TILE"] < 16 || !pow2(c["SCAN_TILE"]) || c["NCP"] % c["SCAN_TILE"])
    return "SCAN_TILE must be a power of two >= 16 dividing NCP";
  if (c["DTYPE"] < 0 || c["DTYPE"] > 2) return "DTYPE must be 0 (bf16), 1 (f16) or 2 (f32)";
  return "";
}

void registerScanKernels() {
  static bool done = [] {
    registerKernel({"hip_scan_score",
                    "HiP v1.2 chunk scan: bisects a tile of key chunks per query block (§5)",
                    {{"num_warps", {4, 8}}},
                    Config{{"HEAD_DIM", 64}, {"DTYPE", 0}, {"BLOCK_SIZE_Q", 64}, {"STRIDE_Q", 4},
                           {"CHUNK", 64}, {"PREV_CHUNK", 0}, {"PREV_BQ", 64}, {"SINK", 16},
                           {"WINDOW", 64}, {"SW_SCAN", 0}, {"SCAN_TILE", kScanTile},
                           {"NCP", 64}, {"num_warps", 4}},
                    scanScore, [](const Config &c) { return checkScanConfig(c, false); }});
    registerKernel({"hip_scan_select",
                    "HiP v1.2 chunk scan: head reduce, top chunks, sort (§5)",
                    {{"num_warps", {4}}},
                    Config{{"BLOCK_SIZE_Q", 64}, {"CHUNK", 64}, {"PREV_CHUNK", 0},
                           {"PREV_BQ", 64}, {"SINK", 16}, {"WINDOW", 64}, {"NCP", 64},
                           {"KEEP", 8}, {"FINAL", 1}, {"FINAL_K", 512}, {"HEAD_REDUCE", 1},
                           {"num_warps", 4}},
                    scanSelect, [](const Config &c) { return checkScanConfig(c, true); }});
    return true;
  }();
  (void)done;
}
const bool kernelsRegistered = (registerScanKernels(), true);

class ScanStage : public MaskStage {
public:
  ScanStage(const nlohmann::json &p, const HiPAttentionArgs &) {
    registerScanKernels();
    checkStageKeys(p, "scan", {"block_size_q", "stride_q", "chunk_size", "stage_k", "keep_k",
                               "final_k", "head_reduce", "first_chunk_size", "block_size_k"});
    bq_ = stageParam(p, "scan", "block_size_q", 64);
    sq_ = stageParam(p, "scan", "stride_q", 4);
    c_ = stageParam(p, "scan", "chunk_size", 256);
    stageK_ = stageParam(p, "scan", "stage_k", 0);
    headReduce_ = stageParam(p, "scan", "head_reduce", 1) != 0;
    firstC_ = stageParam(p, "scan", "first_chunk_size", 0);
    if (p.contains("keep_k") && p.contains("final_k"))
      throw InvalidArgument("mask pipeline: stage 'scan' takes keep_k (followed by another "
                            "stage) or final_k (last stage), not both");
    last_ = !p.contains("keep_k");
    keepK_ = last_ ? stageParam(p, "scan", "final_k", 2048) : stageParam(p, "scan", "keep_k", 0);
    int64_t bk = stageParam(p, "scan", "block_size_k", c_);
    if (bk != c_)
      throw InvalidArgument("mask pipeline: stage 'scan' parameter 'block_size_k' (" +
                            std::to_string(bk) + ") must equal chunk_size (" +
                            std::to_string(c_) + ")");
  }
  std::string type() const override { return "scan"; }
  nlohmann::json params() const override {
    nlohmann::json j = {{"block_size_q", bq_}, {"stride_q", sq_}, {"chunk_size", c_},
                        {"stage_k", stageK_}, {last_ ? "final_k" : "keep_k", keepK_},
                        {"head_reduce", headReduce_}, {"block_size_k", c_}};
    if (firstC_) j["first_chunk_size"] = firstC_;
    return j;
  }
  void validate(const MaskContext &, int64_t prevBq, int64_t prevBk) const override {
    auto bad = [](const std::string &field, const std::string &m) {
      return InvalidArgument("scan stage: " + field + " " + m);
    };
    auto num = [](int64_t v) { return std::to_string(v); };
    for (auto [name, v] : {std::pair{"block_size_q", bq_}, {"stride_q", sq_}, {"chunk_size", c_}})
      if (!pow2(v)) throw bad(name, "(" + num(v) + ") must be a positive power of two");
    if (bq_ % sq_)
      throw bad("stride_q", "(" + num(sq_) + ") must divide block_size_q (" + num(bq_) + ")");
    const char *keepName = last_ ? "final_k" : "keep_k";
    if (keepK_ <= 0 || keepK_ % c_)
      throw bad(keepName, "(" + num(keepK_) + ") must be a positive multiple of chunk_size (" +
                              num(c_) + ")");
    if (firstC_ < 0 || (firstC_ && !pow2(firstC_)))
      throw bad("first_chunk_size", "(" + num(firstC_) + ") must be a positive power of two");
    if (!prevBq) {
      if (stageK_ != 0)
        throw bad("stage_k", "(" + num(stageK_) + ") must be 0: the first stage scans every chunk");
      return;
    }
    if (stageK_ <= 0 || stageK_ % prevBk)
      throw bad("stage_k", "(" + num(stageK_) +
                               ") must be a positive multiple of the previous stage's chunk size (" +
                               num(prevBk) + ")");
    if (prevBk % c_)
      throw bad("chunk_size", "(" + num(c_) + ") must divide the previous stage's chunk size (" +
                                  num(prevBk) + ")");
    if (prevBq % bq_)
      throw bad("block_size_q", "(" + num(bq_) + ") must divide the previous stage's (" +
                                    num(prevBq) + "): the query block never grows");
  }
  Candidates run(const MaskContext &ctx, const Candidates &in) override {
    bool first = !in.defined();
    int64_t nQB = (ctx.Tq + bq_ - 1) / bq_, nQBprev = nQB, capIn = 0, prevC = 0, prevBq = bq_;
    int64_t nc; // most chunks of one row
    if (first) {
      nc = (std::max<int64_t>(0, ctx.Tk - ctx.sink - ctx.window) + c_ - 1) / c_;
    } else {
      prevC = in.blockSizeK, prevBq = in.blockSizeQ, capIn = in.capacity();
      if (prevC % c_ || prevBq % bq_)
        throw InvalidArgument("scan stage: chunk_size and block_size_q must divide the previous "
                              "stage's block sizes");
      if (capIn * prevC > stageK_)
        throw InvalidArgument("scan stage: stage_k (" + std::to_string(stageK_) +
                              ") is smaller than what the previous stage keeps (" +
                              std::to_string(capIn) + " blocks of " + std::to_string(prevC) +
                              "); set its keep_k to stage_k");
      nQBprev = (ctx.Tq + prevBq - 1) / prevBq;
      nc = capIn * (prevC / c_);
    }
    int64_t firstC = firstC_ ? firstC_
                     : first ? c_
                             : in.state.value("scan_first_chunk_size", prevC);
    int64_t swScan = std::max<int64_t>(0, ctx.window - firstC);
    int64_t ncp = std::max(kScanTile, nextPow2(std::max<int64_t>(nc, 1)));
    int64_t keep = keepK_ / c_, rows = ctx.B * ctx.H;

    Tensor scores = Tensor::empty({rows, nQB, ncp}, ScalarType::f32, ctx.device);
    Candidates out;
    out.state = in.state;
    out.state.erase("heads_shared"); // its selection is per head
    out.state["scan_first_chunk_size"] = firstC;
    out.blockSizeQ = bq_;
    out.blockSizeK = c_;
    out.indices = Tensor::empty({rows, nQB, keep}, ScalarType::i32, ctx.device);
    out.ks = Tensor::empty({rows, nQB}, ScalarType::i32, ctx.device);
    ArgValue inIdx = MaskContext::pointer(first ? scores : in.indices);
    ArgValue inKs = MaskContext::pointer(first ? scores : in.ks);
    std::vector<ArgValue> counts = {ArgValue::int32(int32_t(nQB)), ArgValue::int32(int32_t(nQBprev)),
                                    ArgValue::int32(int32_t(capIn))};

    dsl::Config sc{{"HEAD_DIM", ctx.D}, {"DTYPE", ctx.dtypeCode}, {"BLOCK_SIZE_Q", bq_},
                   {"STRIDE_Q", sq_}, {"CHUNK", c_}, {"PREV_CHUNK", prevC}, {"PREV_BQ", prevBq},
                   {"SINK", ctx.sink}, {"WINDOW", ctx.window}, {"SW_SCAN", swScan},
                   {"SCAN_TILE", kScanTile}, {"NCP", ncp}, {"num_warps", 4}};
    ctx.launch("hip_scan_score", sc, {unsigned(nQB * (ncp / kScanTile)), unsigned(rows), 1},
               ctx.kernelArgs({inIdx, inKs, MaskContext::pointer(scores)}, counts));

    dsl::Config sel{{"BLOCK_SIZE_Q", bq_}, {"CHUNK", c_}, {"PREV_CHUNK", prevC},
                    {"PREV_BQ", prevBq}, {"SINK", ctx.sink}, {"WINDOW", ctx.window},
                    {"NCP", ncp}, {"KEEP", keep}, {"FINAL", last_ ? 1 : 0},
                    {"FINAL_K", last_ ? keepK_ : 0}, {"HEAD_REDUCE", headReduce_ ? 1 : 0},
                    {"num_warps", 4}};
    std::vector<ArgValue> args = {MaskContext::pointer(ctx.pos), inIdx, inKs,
                                  MaskContext::pointer(scores), MaskContext::pointer(out.indices),
                                  MaskContext::pointer(out.ks), ArgValue::int32(int32_t(ctx.Tq)),
                                  ArgValue::int32(int32_t(ctx.H))};
    args.insert(args.end(), counts.begin(), counts.end());
    ctx.launch("hip_scan_select", sel, {unsigned(nQB), unsigned(rows), 1}, args);
    scratch_ = scores; // kept alive until the stage goes, after the pipeline synchronised
    return out;
  }

private:
  int64_t bq_, sq_, c_, stageK_, keepK_, firstC_;
  bool headReduce_, last_;
  Tensor scratch_;
};

const bool registered = registerMaskStage(
    "scan", [](const nlohmann::json &p, const HiPAttentionArgs &a) {
      return std::make_unique<ScanStage>(p, a);
    });

} // namespace
} // namespace hip
