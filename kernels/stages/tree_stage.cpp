//===- kernels/stages/tree_stage.cpp - The v1.1 tree-search mask stage ----===//
//
// "tree": the canonical HiP mask search (hip-algorithm.md §2), one DSL
// kernel (hip_mask_tree in kernels/attention.cpp) for every query block.
// Parameters (defaults from HiPAttentionArgs): mask_k, block_size_q,
// block_stride_q, block_size_k, block_stride_k, aligned_branches; and
// head_shared (default false, not canonical v1.1): one search per (query
// block, KV head) scored with the max over the group's query heads, its
// selection used by each of them (v1.2's head reduction for the tree). It
// must be the first stage: it searches every key between the sink and the
// window. "schedule": {"CHUNK": 32, "GROUPED": 1, ...} pins keys of
// hip_mask_tree's schedule space instead of tuning them.
//
//===----------------------------------------------------------------------===//
#include "hip/error.h"
#include "hip/mask_stage.h"

namespace hip {
namespace {

bool pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

class TreeStage : public MaskStage {
public:
  TreeStage(const nlohmann::json &p, const HiPAttentionArgs &a) {
    checkStageKeys(p, "tree", {"mask_k", "block_size_q", "block_stride_q", "block_size_k",
                               "block_stride_k", "aligned_branches", "head_shared", "schedule"});
    maskK_ = stageParam(p, "tree", "mask_k", a.mask_k);
    bq_ = stageParam(p, "tree", "block_size_q", a.block_size_q);
    bsq_ = stageParam(p, "tree", "block_stride_q", a.block_stride_q);
    bk_ = stageParam(p, "tree", "block_size_k", a.block_size_k);
    bsk_ = stageParam(p, "tree", "block_stride_k", a.block_stride_k);
    aligned_ = stageParam(p, "tree", "aligned_branches", a.aligned_branches) != 0;
    headShared_ = stageParam(p, "tree", "head_shared", 0) != 0;
    schedule_ = stageSchedule(p, "tree");
  }
  std::string type() const override { return "tree"; }
  nlohmann::json params() const override {
    nlohmann::json j = {{"mask_k", maskK_}, {"block_size_q", bq_}, {"block_stride_q", bsq_},
            {"block_size_k", bk_}, {"block_stride_k", bsk_}, {"aligned_branches", aligned_},
            {"head_shared", headShared_}};
    if (!schedule_.empty()) j["schedule"] = schedule_;
    return j;
  }
  void validate(const MaskContext &ctx, int64_t prevBq, int64_t) const override {
    auto bad = [](const std::string &m) { return InvalidArgument("tree stage: " + m); };
    if (prevBq) throw bad("must be the first stage of the pipeline (it searches every key)");
    for (auto [name, v] : {std::pair{"block_size_q", bq_}, {"block_stride_q", bsq_},
                           {"block_size_k", bk_}, {"block_stride_k", bsk_}})
      if (!pow2(v)) throw bad(std::string(name) + " = " + std::to_string(v) + " must be a power of two");
    if (bsq_ > bq_) throw bad("block_stride_q must not exceed block_size_q");
    if (bsk_ > bk_) throw bad("block_stride_k must not exceed block_size_k");
    if (maskK_ < bk_)
      throw bad("mask_k = " + std::to_string(maskK_) + " must be >= block_size_k = " +
                std::to_string(bk_));
    if (maskK_ % bk_ || !pow2(maskK_ / bk_))
      throw bad("mask_k / block_size_k must be a power of two (mask_k = " +
                std::to_string(maskK_) + ", block_size_k = " + std::to_string(bk_) + ")");
    if (ctx.sink % bk_ || ctx.window % bk_)
      throw bad("sink_token_size (" + std::to_string(ctx.sink) + ") and sliding_window_size (" +
                std::to_string(ctx.window) + ") must be multiples of block_size_k (" +
                std::to_string(bk_) + ")");
  }
  Candidates run(const MaskContext &ctx, const Candidates &) override {
    int64_t K = maskK_ / bk_, nQB = (ctx.Tq + bq_ - 1) / bq_;
    int64_t kpb = bk_ / bsk_;
    // 64 keys scored per step (CHUNK candidates of kpb keys). On sm_90a
    // with ptxas asked for 3 blocks per SM (168 registers, 60 bytes of
    // spills): the search is bound by instruction latency at 8 warps per SM
    // (ncu, H100, 128k: 12.5 % occupancy, issue slots 34 % busy, L2 hit rate
    // 96 %, DRAM 1.6 %); H200 at 128k: 43.3 ms against 47.0 ms for 128 keys
    // per step at 2 blocks per SM. And with the next step's candidate rows
    // loaded during this one (num_stages 2): H100, 128k, one call: 26.6 ms
    // against 31.3 (min_blocks 4: 27.2 / 30.7).
    int64_t chunk = std::clamp<int64_t>(64 / kpb, 1, 2 * K);
    int64_t G = headShared_ ? ctx.H / ctx.Hkv : 1, rows = 16;
    while (rows < G * (bq_ / bsq_)) rows *= 2;
    // (8 warps for 128 rows: one m64 wgmma block per warpgroup on Hopper;
    // the compiler runs fewer where the scores' dot does not tile.)
    int64_t warps = rows >= 128 ? 8 : 4;
    bool moreBlocks = ctx.target.hasWgmma() && G == 1 && warps == 4 && ctx.D <= 128;
    Candidates c;
    c.blockSizeQ = bq_;
    c.blockSizeK = bk_;
    c.indices = Tensor::empty({ctx.B * ctx.H, nQB, K}, ScalarType::i32, ctx.device);
    c.ks = Tensor::empty({ctx.B * ctx.H, nQB}, ScalarType::i32, ctx.device);
    dsl::Config cfg{{"HEAD_DIM", ctx.D}, {"DTYPE", ctx.dtypeCode}, {"BLOCK_SIZE_Q", bq_},
                    {"BLOCK_STRIDE_Q", bsq_}, {"BLOCK_SIZE_K", bk_}, {"BLOCK_STRIDE_K", bsk_},
                    {"MASK_K", maskK_}, {"KSEL", K}, {"SINK", ctx.sink},
                    {"WINDOW", ctx.window}, {"ALIGNED", aligned_ ? 1 : 0}, {"CHUNK", chunk},
                    {"num_warps", warps}, {"min_blocks", moreBlocks ? 3 : 1},
                    {"num_stages", moreBlocks ? 2 : 1}};
    if (G > 1) cfg.set("HEADS", G);
    auto grid = [&](const dsl::Config &k) -> std::array<unsigned, 3> {
      if (G == 1 && k.get("GROUPED", 0)) // (a GQA group's heads adjacent on axis 0)
        return {unsigned(nQB * (ctx.H / ctx.Hkv)), unsigned(ctx.B * ctx.Hkv), 1};
      return {unsigned(nQB), unsigned(ctx.B * (G > 1 ? ctx.Hkv : ctx.H)), 1};
    };
    auto kargs = ctx.kernelArgs({MaskContext::pointer(c.indices), MaskContext::pointer(c.ks)},
                                {ArgValue::int32(int32_t(nQB))});
    if (!schedule_.empty()) { // pinned by the pipeline's "schedule"
      pinSchedule("hip_mask_tree", cfg, schedule_, "tree stage schedule");
      ctx.launch("hip_mask_tree", cfg, grid(cfg), kargs);
    } else {
      ctx.launchTuned("hip_mask_tree", cfg, grid, kargs, {c.indices.view(), c.ks.view()},
                      {{"T_q", ctx.Tq}, {"T_k", ctx.Tk}}, {{"gqa", ctx.H / ctx.Hkv}});
    }
    // Every head of a group got the same selection: the sparse attention
    // may stack the group's heads (see hip_attention).
    if (G > 1) c.state["heads_shared"] = G;
    return c;
  }

private:
  int64_t maskK_, bq_, bsq_, bk_, bsk_;
  std::map<std::string, int64_t> schedule_; // pinned hip_mask_tree schedule keys
  bool headShared_ = false;
  bool aligned_;
};

const bool registered = registerMaskStage(
    "tree", [](const nlohmann::json &p, const HiPAttentionArgs &a) {
      return std::make_unique<TreeStage>(p, a);
    });

} // namespace
} // namespace hip
