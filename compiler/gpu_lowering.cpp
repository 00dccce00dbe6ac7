//===- compiler/gpu_lowering.cpp - Tile IR -> per-thread NVVM code --------===//
//
// Assumes: a verified tile-IR kernel (shapes powers of two, rank <= 2).
// Produces: one llvm.func with the nvvm.kernel attribute whose body is
// arith/scf/llvm/nvvm ops computing, per thread, the tile elements that the
// thread owns.
//
// Every tile value gets a layout saying which thread holds which element:
//  1. Blocked: sizePerThread x threadsPerWarp x warpsPerCTA, order [1, 0],
//     8 consecutive elements per thread along the last dimension;
//     elementwise ops, loads and stores run in it.
//  2. Mma: the accumulator fragment of mma.sync m16n8k16, warps tiled over
//     the [M, N] result. A dot's result lives in it; loop-carried
//     accumulators keep it across iterations; stores go out from it.
//  3. Splat: a uniform value not yet given a layout (constants, broadcast
//     scalars); it takes the layout of whatever uses it, for free.
// A forward axis analysis (contiguity, divisibility, constancy and prefix
// runs of masks) sizes each global access (up to 16-byte vectors).
// Values computed from indices alone are recomputed in the layout that
// needs them (rematerialised); other layout changes, transposes and sorts go
// through shared memory (barrier, write, barrier, read). Row reductions use
// warp shuffles. dot stages its operands in padded shared memory (or reads
// them where a pipelined loop's cp.async put them), loads fragments with
// ldmatrix one k-step ahead of the mma.sync that uses them. Loops whose loads
// only feed dots are software-pipelined over num_stages shared buffers; with
// one such dot the loop waits for the next stage before the dot's last k-step
// and carries that stage's first fragments into the next iteration.
//
//===----------------------------------------------------------------------===//
#include "lowering.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>

using namespace mlir;
using hip::dsl::DType;
using hip::dsl::OpKind;

namespace hip::detail {
namespace {

struct Layout {
  /// Slice: a 1-D [M] tile (2-D view (1, M)) holding the rows of an Mma
  /// parent (a row reduction's result; warps and lanes of a row replicate it).
  /// RowBcast: the same rows as an [M, 1] tile (its expand_dims): a
  /// broadcast of it into an Mma layout with that warp grid is free.
  enum Kind { Blocked, Mma, Slice, RowBcast } kind = Blocked;
  int64_t S0 = 1, S1 = 1;                  // 2-D view of the shape
  int s0 = 1, s1 = 1, t0 = 1, t1 = 32, w0 = 1, w1 = 1; // blocked
  int wm = 1, wn = 1;                      // mma warp grid
  bool wrap0 = false, wrap1 = false;       // footprint exceeds the shape
  std::vector<std::pair<int64_t, int64_t>> off; // per-register offsets
  size_t numRegs() const { return off.size(); }
};

/// Values of a tile (or scalar) in registers.
constexpr int64_t kBig = int64_t(1) << 30;

/// Values of a tile (or scalar) in registers, with what is known of them
/// along the last dimension (the axis analysis that lets loads and stores
/// be vectorised): runs of `contig` consecutive values (addresses for
/// pointers, in elements), each run's first value a multiple of `div`, and
/// runs of `cst` equal values.
/// See ptxWords().
struct PtxWords {
  int count, bits;
  const char *cons;
};

struct TileVal {
  const Layout *layout = nullptr; // null: scalar or splat
  bool splat = false;
  std::vector<Value> regs;
  int64_t contig = 1, div = 1, cst = 1;
  /// Masks: runs of `prefix` elements in which the true elements, if any,
  /// come first (so a run's valid part is a prefix: what cp.async's
  /// src-size can express).
  int64_t prefix = 1;
};

int64_t pow2Divisor(int64_t v) { return v == 0 ? kBig : std::min(kBig, v & -v); }

int log2floor(int64_t v) {
  int r = 0;
  while ((int64_t(1) << (r + 1)) <= v) ++r;
  return r;
}

class GpuLowering {
public:
  GpuLowering(const dsl::Kernel &k, const Target &t, MLIRContext &ctx, bool wantLayouts)
      : k_(k), target_(t), ctx_(ctx), b_(&ctx), se_{b_, true, 1},
        nw_(k.numWarps), nthreads_(32 * k.numWarps), wantLayouts_(wantLayouts) {}

  Lowered run();
  std::string describe(int id) const;

private:
  // ---- layouts ----
  const Layout *blocked(int64_t S0, int64_t S1);
  const Layout *mma(int64_t M, int64_t N, const std::source_location &where);
  const Layout *mmaWith(int64_t M, int64_t N, int wm, int wn, const std::source_location &where);
  /// The Slice (1-D) or RowBcast ([M, 1]) layout of the rows of Mma `parent`.
  const Layout *rowsOf(const Layout *parent, Layout::Kind kind);
  const Layout *defaultLayout(const dsl::Type &t) {
    auto [a, c] = view2d(t.shape);
    return blocked(a, c);
  }
  std::pair<Value, Value> base(const Layout *l);
  std::pair<Value, Value> coords(const Layout *l, size_t r, Location loc);

  // ---- helpers ----
  /// i32 constants, one per value, at the top of the kernel.
  Value c32(int64_t v) {
    auto it = consts_.find(v);
    if (it != consts_.end()) return it->second;
    OpBuilder::InsertionGuard g(b_);
    b_.setInsertionPointToStart(entry_);
    return consts_[v] = constI32(b_, b_.getUnknownLoc(), v);
  }
  Value add(Value a, Value c, Location l) { return fold<arith::AddIOp>(b_, l, a, c); }
  Value mul(Value a, Value c, Location l) { return fold<arith::MulIOp>(b_, l, a, c); }
  void barrier(Location l) { mk<NVVM::Barrier0Op>(b_, l); }
  Value smemPtr(Value byteOffset, Location l);
  void smemStore(Value v, DType t, Value byteOffset, Location l);
  Value smemLoad(DType t, Value byteOffset, Location l);
  /// Temporary shared memory (layout changes, dot staging) lives above
  /// tempBase_; below it are the buffers of pipelined loops.
  void needShared(size_t bytes) { smemBytes_ = std::max(smemBytes_, tempBase_ + bytes); }
  Value smemPtrAbs(Value byteOffset, Location l);
  Type regType(DType t) { return elementType(&ctx_, t, 1); }

  /// `v` materialised in layout `l` (splats for free, others via shared).
  TileVal toLayout(const TileVal &v, const dsl::Type &t, const Layout *l, Location loc);
  /// Value `id` in layout `l`: recomputed there if it can be, else moved.
  TileVal convert(int id, const Layout *l, Location loc);
  std::optional<TileVal> remat(int id, const Layout *l, Location loc);
  /// Generic shared-memory gather: dst element (i, j) := src[linear(i, j)].
  TileVal gather(const TileVal &src, const dsl::Type &srcT, const Layout *dst,
                 const std::function<Value(Value, Value)> &linear, Location loc);
  void writeShared(const TileVal &src, const dsl::Type &srcT, Location loc,
                   size_t byteBase = 0);

  // ---- ops ----
  void lowerBlock(const dsl::Block &blk);
  void lowerOp(const dsl::Op &op);
  void lowerOpImpl(const dsl::Op &op);
  void analyse(const dsl::Op &op);
  int vectorWidth(const TileVal &ptr, const TileVal *mask, int elemBytes) const;
  void lowerElementwise(const dsl::Op &op, Location loc);
  Value pack(ArrayRef<Value> elems, Location loc);
  std::vector<Value> toWords(ArrayRef<Value> elems, const PtxWords &pw, Location loc);
  std::vector<Value> unpack(Value v, int n, Location loc);
  std::vector<Value> loadGroup(ArrayRef<Value> ptrs, ArrayRef<Value> masks,
                               ArrayRef<Value> others, Type et, int eb, Location loc);
  void storeGroup(ArrayRef<Value> ptrs, ArrayRef<Value> elems, ArrayRef<Value> masks, int eb,
                  Location loc);
  Value allTrue(ArrayRef<Value> masks, Location loc);
  std::vector<Value> groupPointers(Value first, int vec, DType elem, Location loc);
  void lowerLoad(const dsl::Op &op, Location loc);
  void lowerStore(const dsl::Op &op, Location loc);
  void lowerReduce(const dsl::Op &op, Location loc);
  bool lowerRowReduceShuffle(const dsl::Op &op, const TileVal &in, Location loc);
  bool lowerColReduceMma(const dsl::Op &op, const TileVal &in, Location loc);
  Value shflXor(Value v, int offset, Location loc);
  void lowerDot(const dsl::Op &op, Location loc);
  /// Per-warp geometry of a dot's mma.sync tiling (values at the current
  /// insertion point).
  struct DotGeom {
    const Layout *cl;
    int64_t M, N, K, MI, NI;
    Value wRow, wCol, l16, lHi, sBase;
  };
  DotGeom dotGeom(const dsl::Op &op, Location loc);
  /// The A and B fragments of k-step `kk` read from shared memory with
  /// ldmatrix: MI x 4 registers of A, then NI x 2 of B.
  std::vector<Value> loadFrags(const DotGeom &g, Value aBase, int64_t lda, Value bBase,
                               int64_t ldb, int64_t kk, Location loc);
  std::vector<Value> loadFragsA(const DotGeom &g, Value aBase, int64_t lda, int64_t kk,
                                Location loc);
  /// `rows`: B is stored as the rows of x [N][K] (dot(a, trans(x))).
  std::vector<Value> loadFragsB(const DotGeom &g, Value bBase, int64_t ldb, bool rows,
                                int64_t kk, Location loc);
  std::vector<Value> regFragsA(const TileVal &a, const DotGeom &g, int64_t kk, Location loc);
  std::vector<Value> hoistedFragsA(int a, const DotGeom &g, int64_t K, Location loc);
  /// A pipelined loop's dot whose first k-step fragments are loaded one
  /// iteration ahead (see lowerFor).
  struct FragPrefetch {
    const dsl::Op *dot = nullptr;
    int stages = 0;
    std::vector<Value> carried; // k-step 0 of this iteration's stage
    Value nextA, nextB;         // the next stage's buffers
    std::vector<Value> next;    // k-step 0 of the next stage (lowerDot fills it)
  };
  std::optional<FragPrefetch> prefetch_;
  /// Inline PTX; `sideEffects` keeps LLVM from merging or moving it.
  LLVM::InlineAsmOp asmCall(TypeRange results, ValueRange args, const std::string &text,
                            const std::string &cons, bool sideEffects, Location loc);
  void stageRows(const TileVal &v, const dsl::Type &t, int64_t ld, size_t byteBase, Location loc);
  /// A loop's software-pipelining plan (see lowerFor).
  struct Pipeline {
    int stages = 1;
    std::vector<const dsl::Op *> loads; // become cp.async copies
    std::vector<const dsl::Op *> slice; // compute their addresses/masks
    std::vector<int64_t> ld;            // row pitch (elements) per load
    std::vector<size_t> base, stageBytes;
    size_t end = 0; // first byte above the buffers
  };
  std::optional<Pipeline> planPipeline(const dsl::Op &op);
  bool isZero(int id);
  bool issueCopies(const Pipeline &plan, Value iv, Value hi, Value stage, const dsl::Block &blk,
                   Location loc);
  void asmVoid(const std::string &text, ValueRange args, const std::string &cons, Location loc);
  void lowerSort(const dsl::Op &op, Location loc);
  void lowerGather(const dsl::Op &op, Location loc);
  void lowerFor(const dsl::Op &op, Location loc);
  void lowerIf(const dsl::Op &op, Location loc);
  std::vector<Value> flatten(const std::vector<int> &ids, const std::vector<const Layout *> &ls,
                             Location loc);
  const Layout *carriedLayout(const dsl::Op &forOp, size_t i, Location loc);

  void scanKernel(const dsl::Block &blk);
  bool fromDot(int v, int depth) const;
  TileVal hoisted(int v, const Layout *l, Location loc);
  const Layout *rowSlice(const Layout *l);
  /// The Mma layout whose rows a loop-carried [M] value should live in: that
  /// of the row reduction of a dot result it is computed from (else null).
  const Layout *sliceParent(int v, int depth);

  const TileVal &val(int id);
  TileVal shapeGather(const dsl::Op &op, Location loc);
  /// Shape ops not yet materialised (see lowerOpImpl): where they were.
  struct Deferred {
    const dsl::Op *op;
    Operation *marker;
    size_t tempBase;
  };
  std::map<int, Deferred> deferred_;
  const dsl::Type &ty(int id) const { return k_.typeOf(id); }

  const dsl::Kernel &k_;
  Target target_;
  MLIRContext &ctx_;
  OpBuilder b_;
  ScalarEmitter se_;
  int nw_, nthreads_;
  bool wantLayouts_;
  Value lane_, warp_, smemBase_;
  Block *entry_ = nullptr;
  Operation *prologueEnd_ = nullptr;
  size_t smemBytes_ = 0, tempBase_ = 0;
  /// Loads that a pipelined loop turned into cp.async copies: the shared
  /// buffer (absolute byte offset of this iteration's stage, row pitch in
  /// elements) the consuming dot reads instead.
  struct PipeSlot {
    Value stageBase;
    int64_t ld;
  };
  std::map<int, PipeSlot> pipe_;
  std::set<int> pipelined_; // every load a loop pipelined (for describe())
  int64_t ivDiv_ = 1; // divisibility of the current loop's induction variable
  std::map<int, TileVal> vals_;
  std::deque<Layout> layouts_;
  std::map<const Layout *, std::pair<Value, Value>> bases_;
  std::map<int64_t, Value> consts_;
  std::map<int, const dsl::Op *> defs_; // defining op of each lowered value
  std::map<int, const dsl::Op *> allDefs_; // defining op of every value (scanKernel)
  std::map<int, int> uses_;                // uses of every value (scanKernel)
  bool chained_ = false;                   // some dot's A operand comes from a dot
  bool dotResults_ = false;                // a dot's result feeds other ops (see scanKernel)
  std::set<int> transB_;                   // transposes read directly by their dot
  std::vector<scf::ForOp> loops_;          // the loops being lowered, outermost first
  std::map<int, int> depth_;               // loops_.size() where each value was defined
  std::map<std::pair<int, const Layout *>, TileVal> hoist_; // see hoisted()
  std::map<std::pair<int, const Layout *>, size_t> hoistDepth_;
  /// A loop-invariant dot A operand's fragments, loaded once before the loop.
  std::map<std::pair<int, const Layout *>, std::vector<Value>> hoistedFrags_;
};

// ---- Layouts ------------------------------------------------------------------
const Layout *GpuLowering::blocked(int64_t S0, int64_t S1) {
  for (auto &l : layouts_)
    if (l.kind == Layout::Blocked && l.S0 == S0 && l.S1 == S1) return &l;
  Layout l;
  l.S0 = S0;
  l.S1 = S1;
  // 8 consecutive elements per thread along the last dimension (16 bytes
  // of bf16/f16: one vector load), lanes then warps along it, the rest
  // along the first dimension; replication only where the tile is smaller
  // than the block.
  l.s1 = static_cast<int>(std::min<int64_t>(S1, 8));
  l.t1 = static_cast<int>(std::min<int64_t>(32, std::max<int64_t>(1, S1 / l.s1)));
  l.t0 = 32 / l.t1;
  l.w0 = 1 << std::min(log2floor(nw_), log2floor(std::max<int64_t>(1, S0 / l.t0)));
  int rest = nw_ / l.w0;
  l.w1 = 1 << std::min(log2floor(rest), log2floor(std::max<int64_t>(1, S1 / (l.s1 * l.t1))));
  l.w0 *= rest / l.w1;
  int64_t fp0 = int64_t(l.s0) * l.t0 * l.w0, fp1 = int64_t(l.s1) * l.t1 * l.w1;
  l.wrap0 = fp0 > S0;
  l.wrap1 = fp1 > S1;
  for (int64_t r0 = 0; r0 < std::max<int64_t>(1, S0 / fp0); ++r0)
    for (int64_t r1 = 0; r1 < std::max<int64_t>(1, S1 / fp1); ++r1)
      for (int e = 0; e < l.s1; ++e) l.off.push_back({r0 * fp0, r1 * fp1 + e});
  layouts_.push_back(std::move(l));
  return &layouts_.back();
}

const Layout *GpuLowering::mma(int64_t M, int64_t N, const std::source_location &where) {
  auto [wm, wn] = mmaWarpGrid(M, N, nw_);
  // Kernels with chained dots (a dot's result feeds another dot's A operand,
  // as attention's P does) split the warps along M only where M allows: each
  // warp then owns whole rows, so the accumulator is the next A operand and
  // row reductions stay inside a quad of lanes.
  if (chained_) {
    wm = 1;
    while (wm < nw_ && M % (16 * wm * 2) == 0) wm *= 2;
    wn = nw_ / wm;
  }
  return mmaWith(M, N, wm, wn, where);
}

const Layout *GpuLowering::mmaWith(int64_t M, int64_t N, int wm, int wn,
                                   const std::source_location &where) {
  for (auto &l : layouts_)
    if (l.kind == Layout::Mma && l.S0 == M && l.S1 == N && l.wm == wm && l.wn == wn) return &l;
  if (M % (16 * wm) != 0 || N % (8 * wn) != 0)
    throw CompileError("dot result " + std::to_string(M) + "x" + std::to_string(N) +
                       " cannot be tiled by mma.sync m16n8 over " + std::to_string(nw_) +
                       " warps (need M % " + std::to_string(16 * wm) + " == 0 and N % " +
                       std::to_string(8 * wn) + " == 0)",
                       where);
  Layout l;
  l.kind = Layout::Mma;
  l.S0 = M;
  l.S1 = N;
  l.wm = wm;
  l.wn = wn;
  int64_t WM = M / wm, WN = N / wn;
  for (int64_t im = 0; im < WM / 16; ++im)
    for (int64_t in = 0; in < WN / 8; ++in)
      for (int c = 0; c < 4; ++c) l.off.push_back({im * 16 + (c / 2) * 8, in * 8 + c % 2});
  layouts_.push_back(std::move(l));
  return &layouts_.back();
}

const Layout *GpuLowering::rowsOf(const Layout *parent, Layout::Kind kind) {
  int64_t M = parent->S0;
  for (auto &l : layouts_)
    if (l.kind == kind && (kind == Layout::Slice ? l.S1 : l.S0) == M && l.wm == parent->wm &&
        l.wn == parent->wn)
      return &l;
  Layout l;
  l.kind = kind;
  l.wm = parent->wm;
  l.wn = parent->wn;
  (kind == Layout::Slice ? l.S1 : l.S0) = M;
  for (int64_t r = 0; r < M / parent->wm; r += 8)
    l.off.push_back(kind == Layout::Slice ? std::pair<int64_t, int64_t>{0, r}
                                          : std::pair<int64_t, int64_t>{r, 0});
  layouts_.push_back(std::move(l));
  return &layouts_.back();
}

/// Index of the register of rows layout `rows` (Slice or RowBcast) that holds
/// the row of register `r` of `l` (an Mma or rows layout of the same grid).
size_t rowRegister(const Layout *l, size_t r) {
  int64_t row = l->kind == Layout::Slice ? l->off[r].second : l->off[r].first;
  return size_t(row / 8);
}

std::pair<Value, Value> GpuLowering::base(const Layout *l) {
  auto it = bases_.find(l);
  if (it != bases_.end()) return it->second;
  OpBuilder::InsertionGuard g(b_);
  b_.setInsertionPointAfter(prologueEnd_);
  Location loc = b_.getUnknownLoc();
  Value b0, b1;
  if (l->kind == Layout::Blocked) {
    // b0 = ((warp / w1) * t0 + lane / t1) * s0 ; b1 = ((warp % w1) * t1 + lane % t1) * s1
    Value wd0 = fold<arith::DivUIOp>(b_, loc, warp_, c32(l->w1));
    Value wd1 = fold<arith::RemUIOp>(b_, loc, warp_, c32(l->w1));
    Value ld0 = fold<arith::DivUIOp>(b_, loc, lane_, c32(l->t1));
    Value ld1 = fold<arith::RemUIOp>(b_, loc, lane_, c32(l->t1));
    b0 = mul(add(mul(wd0, c32(l->t0), loc), ld0, loc), c32(l->s0), loc);
    b1 = mul(add(mul(wd1, c32(l->t1), loc), ld1, loc), c32(l->s1), loc);
  } else if (l->kind == Layout::Mma) {
    int64_t WM = l->S0 / l->wm, WN = l->S1 / l->wn;
    Value wd0 = fold<arith::DivUIOp>(b_, loc, warp_, c32(l->wn));
    Value wd1 = fold<arith::RemUIOp>(b_, loc, warp_, c32(l->wn));
    b0 = add(mul(wd0, c32(WM), loc), fold<arith::DivUIOp>(b_, loc, lane_, c32(4)), loc);
    b1 = add(mul(wd1, c32(WN), loc),
             mul(fold<arith::RemUIOp>(b_, loc, lane_, c32(4)), c32(2), loc), loc);
  } else { // the rows of an Mma layout: (warp / wn) * WM + lane / 4
    int64_t M = l->kind == Layout::Slice ? l->S1 : l->S0;
    Value wd0 = fold<arith::DivUIOp>(b_, loc, warp_, c32(l->wn));
    Value row = add(mul(wd0, c32(M / l->wm), loc), fold<arith::DivUIOp>(b_, loc, lane_, c32(4)), loc);
    b0 = l->kind == Layout::Slice ? c32(0) : row;
    b1 = l->kind == Layout::Slice ? row : c32(0);
  }
  if (l->kind == Layout::Blocked || l->kind == Layout::Mma)
    prologueEnd_ = b1.getDefiningOp();
  else // the rows: the non-constant coordinate is the one just built
    prologueEnd_ = (l->kind == Layout::Slice ? b1 : b0).getDefiningOp();
  return bases_[l] = {b0, b1};
}

std::pair<Value, Value> GpuLowering::coords(const Layout *l, size_t r, Location loc) {
  auto [b0, b1] = base(l);
  Value i = add(b0, c32(l->off[r].first), loc);
  Value j = add(b1, c32(l->off[r].second), loc);
  if (l->wrap0) i = fold<arith::RemUIOp>(b_, loc, i, c32(l->S0));
  if (l->wrap1) j = fold<arith::RemUIOp>(b_, loc, j, c32(l->S1));
  return {i, j};
}

// ---- Shared memory ---------------------------------------------------------------
Value GpuLowering::smemPtr(Value byteOffset, Location l) {
  if (tempBase_) byteOffset = add(byteOffset, c32(int64_t(tempBase_)), l);
  return smemPtrAbs(byteOffset, l);
}

Value GpuLowering::smemPtrAbs(Value byteOffset, Location l) {
  Type p3 = LLVM::LLVMPointerType::get(&ctx_, 3);
  return mk<LLVM::GEPOp>(b_, l, p3, b_.getI8Type(), smemBase_, ValueRange{byteOffset});
}

void GpuLowering::smemStore(Value v, DType t, Value off, Location l) {
  if (t == DType::i1) v = mk<arith::ExtUIOp>(b_, l, b_.getI8Type(), v);
  if (t == DType::ptr) v = mk<LLVM::PtrToIntOp>(b_, l, b_.getI64Type(), v);
  mk<LLVM::StoreOp>(b_, l, v, smemPtr(off, l));
}

Value GpuLowering::smemLoad(DType t, Value off, Location l) {
  Type st = t == DType::i1 ? b_.getI8Type() : t == DType::ptr ? b_.getI64Type() : regType(t);
  Value v = mk<LLVM::LoadOp>(b_, l, st, smemPtr(off, l));
  if (t == DType::i1) return mk<arith::TruncIOp>(b_, l, b_.getI1Type(), v);
  if (t == DType::ptr) return mk<LLVM::IntToPtrOp>(b_, l, regType(t), v);
  return v;
}

int storageBytes(DType t) { return t == DType::i1 ? 1 : dsl::dtypeBytes(t); }

void GpuLowering::writeShared(const TileVal &src, const dsl::Type &srcT, Location loc,
                              size_t byteBase) {
  auto [S0, S1] = view2d(srcT.shape);
  int eb = storageBytes(srcT.dtype);
  needShared(byteBase + size_t(S0 * S1) * eb);
  for (size_t r = 0; r < src.regs.size(); ++r) {
    auto [i, j] = coords(src.layout, r, loc);
    Value lin = add(mul(i, c32(S1), loc), j, loc);
    smemStore(src.regs[r], srcT.dtype, add(mul(lin, c32(eb), loc), c32(byteBase), loc), loc);
  }
}

TileVal GpuLowering::gather(const TileVal &src, const dsl::Type &srcT, const Layout *dst,
                            const std::function<Value(Value, Value)> &linear, Location loc) {
  TileVal out{dst, false, {}, src.contig, src.div, src.cst, src.prefix};
  if (src.splat || !src.layout) {
    out.regs.assign(dst->numRegs(), src.regs[0]);
    return out;
  }
  barrier(loc);
  writeShared(src, srcT, loc);
  barrier(loc);
  int eb = storageBytes(srcT.dtype);
  for (size_t r = 0; r < dst->numRegs(); ++r) {
    auto [i, j] = coords(dst, r, loc);
    out.regs.push_back(smemLoad(srcT.dtype, mul(linear(i, j), c32(eb), loc), loc));
  }
  return out;
}

TileVal GpuLowering::convert(int id, const Layout *l, Location loc) {
  if (deferred_.count(id))
    if (auto r = remat(id, l, loc)) return *r;
  const TileVal &v = val(id);
  if ((v.layout == l && !v.splat) || v.splat || !v.layout) return toLayout(v, ty(id), l, loc);
  if (auto r = remat(id, l, loc)) return *r;
  return toLayout(v, ty(id), l, loc);
}

/// Recomputes value `id` directly in layout `l` when it is a pure function
/// of indices (arange, splats, scalars, elementwise ops, broadcasts,
/// reshapes): index arithmetic then never goes through shared memory.
std::optional<TileVal> GpuLowering::remat(int id, const Layout *l, Location loc) {
  auto [S0, S1] = view2d(ty(id).shape);
  if (S0 != l->S0 || S1 != l->S1) return std::nullopt;
  // What a coordinate is, relative to the target layout: its row, its
  // column, or something else. A value that cannot be recomputed (a load, a
  // reduction) is still reachable when its coordinates are the target's:
  // it is converted once, hoisted out of the loops that do not define it,
  // and register k of the target reads the matching register.
  enum Tag { None, Row, Col };
  size_t k = 0; // the target register being computed
  std::map<std::pair<int, const Layout *>, TileVal> moved; // leaves converted so far
  auto moveLeaf = [&](int v, const Layout *to) -> const TileVal & {
    auto key = std::make_pair(v, to);
    auto it = moved.find(key);
    if (it == moved.end()) it = moved.emplace(key, hoisted(v, to, loc)).first;
    return it->second;
  };
  // elem(v, i, j): element (i, j) of value v's 2-D view.
  std::map<std::tuple<int, void *, void *>, Value> memo;
  std::function<Value(int, Value, Value, int, Tag, Tag)> elem =
      [&](int v, Value i, Value j, int depth, Tag ti, Tag tj) -> Value {
    if (!deferred_.count(v)) { // (a deferred shape op is looked through below)
      const TileVal &tv = val(v);
      if (!ty(v).isTile() || tv.splat || !tv.layout) return tv.regs[0];
    }
    if (depth > 24) return Value();
    auto key = std::make_tuple(v, i.getAsOpaquePointer(), j.getAsOpaquePointer());
    if (auto it = memo.find(key); it != memo.end()) return it->second;
    auto d = defs_.find(v);
    auto leaf = [&]() -> Value {
      if (!dotResults_ || l->kind == Layout::Blocked) return Value();
      const dsl::Type &vt = ty(v);
      if (vt.shape.size() == 1 && ti == None && tj == Row) {
        const Layout *sl = rowSlice(l);
        if (!sl || sl->S1 != vt.shape[0]) return Value();
        return moveLeaf(v, sl).regs[rowRegister(l, k)];
      }
      if (vt.shape.size() == 2 && ti == Row && tj == Col && l->kind == Layout::Mma)
        return moveLeaf(v, l).regs[k];
      return Value();
    };
    if (d == defs_.end()) return leaf();
    const dsl::Op &op = *d->second;
    auto [Q0, Q1] = op.operands.empty() ? std::pair<int64_t, int64_t>{1, 1}
                                        : view2d(ty(op.operands[0]).shape);
    Value out;
    switch (op.kind) {
    case OpKind::Arange: out = add(j, c32(op.ints[0]), loc); break;
    case OpKind::ExpandDims: // [N] viewed as (1, N): axis 1 turns it into a column
      out = ty(op.operands[0]).shape.size() == 1 && op.ints[0] == 1
                ? elem(op.operands[0], c32(0), i, depth + 1, None, ti)
                : elem(op.operands[0], i, j, depth + 1, ti, tj);
      break;
    case OpKind::Broadcast:
      out = elem(op.operands[0], Q0 == 1 ? c32(0) : i, Q1 == 1 ? c32(0) : j, depth + 1,
                 Q0 == 1 ? None : ti, Q1 == 1 ? None : tj);
      break;
    case OpKind::Trans: out = elem(op.operands[0], j, i, depth + 1, tj, ti); break;
    case OpKind::Reshape: {
      int64_t R1 = view2d(ty(v).shape).second;
      Value lin = add(mul(i, c32(R1), loc), j, loc);
      out = elem(op.operands[0], fold<arith::DivUIOp>(b_, loc, lin, c32(Q1)),
                 fold<arith::RemUIOp>(b_, loc, lin, c32(Q1)), depth + 1, None, None);
      break;
    }
    default: {
      bool elementwise = (op.kind >= OpKind::Add && op.kind <= OpKind::AddPtr);
      if (!elementwise) return leaf();
      std::vector<Value> args;
      for (int o : op.operands) {
        Value a = elem(o, i, j, depth + 1, ti, tj);
        if (!a) return Value();
        args.push_back(a);
      }
      int typed = op.kind == OpKind::Select ? 1 : 0;
      out = se_.emit(loc, op.kind, args, ty(op.operands[typed]).dtype, ty(v).dtype,
                     ty(op.operands[0]).pointee);
    }
    }
    if (out) memo[key] = out;
    return out;
  };
  Tag ti = l->kind == Layout::Slice ? None : Row;
  Tag tj = l->kind == Layout::Slice ? Row : l->kind == Layout::RowBcast ? None : Col;
  TileVal r = val(id);
  r.layout = l;
  r.splat = false;
  r.regs.clear();
  for (k = 0; k < l->numRegs(); ++k) {
    auto [i, j] = coords(l, k, loc);
    Value x = elem(id, i, j, 0, ti, tj);
    if (!x) return std::nullopt;
    r.regs.push_back(x);
  }
  return r;
}

TileVal GpuLowering::toLayout(const TileVal &v, const dsl::Type &t, const Layout *l,
                              Location loc) {
  if (v.layout == l && !v.splat) return v;
  auto [S0, S1] = view2d(t.shape);
  return gather(v, t, l, [&](Value i, Value j) { return add(mul(i, c32(S1), loc), j, loc); },
                loc);
}

/// The layout of value `id` in the notation of --emit layouts.
std::string GpuLowering::describe(int id) const {
  if (pipelined_.count(id)) return "cp.async pipelined into shared memory";
  auto it = vals_.find(id);
  if (it == vals_.end() || !ty(id).isTile()) return "";
  const TileVal &v = it->second;
  if (v.splat || !v.layout) return "#splat";
  const Layout &l = *v.layout;
  auto pair = [](int64_t a, int64_t b) {
    return "[" + std::to_string(a) + ", " + std::to_string(b) + "]";
  };
  if (l.kind == Layout::Mma)
    return "#mma<m16n8k16, warpsPerCTA = " + pair(l.wm, l.wn) + ">";
  if (l.kind != Layout::Blocked)
    return std::string(l.kind == Layout::Slice ? "#slice<dim = 1, " : "#rows<") +
           "#mma<m16n8k16, warpsPerCTA = " + pair(l.wm, l.wn) + ">>";
  return "#blocked<sizePerThread = " + pair(l.s0, l.s1) + ", threadsPerWarp = " +
         pair(l.t0, l.t1) + ", warpsPerCTA = " + pair(l.w0, l.w1) + ">";
}

// ---- Driver -------------------------------------------------------------------------
Lowered GpuLowering::run() {
  Location loc = FileLineColLoc::get(&ctx_, k_.name, 0, 0);
  Lowered out;
  out.module = ModuleOp::create(loc);
  b_.setInsertionPointToEnd(out.module->getBody());
  auto smem = mk<LLVM::GlobalOp>(b_, loc, LLVM::LLVMArrayType::get(b_.getI8Type(), 0),
                                 false, LLVM::Linkage::External, "hip_smem", Attribute(),
                                 16, 3);
  std::vector<Type> argTypes;
  for (auto &p : k_.params) argTypes.push_back(elementType(&ctx_, p.type.dtype, 1));
  auto fnTy = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(&ctx_), argTypes);
  auto fn = mk<LLVM::LLVMFuncOp>(b_, loc, k_.name, fnTy);
  fn->setAttr(NVVM::NVVMDialect::getKernelFuncAttrName(), b_.getUnitAttr());
  fn->setAttr(NVVM::NVVMDialect::getMaxntidAttrName(),
              b_.getDenseI32ArrayAttr({nthreads_, 1, 1}));
  // Config "min_blocks": ask ptxas to fit that many blocks per SM (it caps
  // registers per thread accordingly), like __launch_bounds__'s second value.
  if (auto mb = k_.config.find("min_blocks"); mb != k_.config.end() && mb->second > 1)
    fn->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(),
                b_.getI32IntegerAttr(static_cast<int32_t>(mb->second)));
  entry_ = fn.addEntryBlock(b_);
  b_.setInsertionPointToStart(entry_);
  Value tid = mk<NVVM::ThreadIdXOp>(b_, loc, b_.getI32Type());
  lane_ = fold<arith::RemUIOp>(b_, loc, tid, c32(32));
  warp_ = fold<arith::DivUIOp>(b_, loc, tid, c32(32));
  smemBase_ = mk<LLVM::AddressOfOp>(b_, loc, smem);
  prologueEnd_ = smemBase_.getDefiningOp();
  for (size_t i = 0; i < k_.params.size(); ++i) {
    const dsl::Param &p = k_.params[i];
    int64_t div = p.type.isPtr() ? 16 / dsl::dtypeBytes(p.type.pointee) : p.multipleOf;
    vals_[k_.body.args[i]] = TileVal{nullptr, false, {entry_->getArgument(i)}, 1, div, kBig};
  }
  scanKernel(k_.body);
  lowerBlock(k_.body);
  mk<LLVM::ReturnOp>(b_, loc, ValueRange{});
  out.entry = k_.name;
  if (wantLayouts_) out.layouts = k_.print([&](int id) { return describe(id); });
  out.numThreads = nthreads_;
  out.sharedBytes = (smemBytes_ + 15) / 16 * 16;
  return out;
}

void GpuLowering::lowerBlock(const dsl::Block &blk) {
  for (const dsl::Op &op : blk.ops) lowerOp(op);
}

void GpuLowering::lowerOp(const dsl::Op &op) {
  for (int r : op.results) {
    defs_[r] = &op;
    depth_[r] = int(loops_.size());
    deferred_.erase(r); // (an op lowered again: a pipelined loop's address slice)
  }
  lowerOpImpl(op);
  analyse(op);
}

/// Whether value `v` is computed (through elementwise ops and broadcasts)
/// from the result of a dot.
bool GpuLowering::fromDot(int v, int depth) const {
  auto d = allDefs_.find(v);
  if (d == allDefs_.end() || depth > 12) return false;
  const dsl::Op &op = *d->second;
  if (op.kind == OpKind::Dot) return true;
  bool through = (op.kind >= OpKind::Add && op.kind <= OpKind::AddPtr) ||
                 op.kind == OpKind::Broadcast || op.kind == OpKind::ExpandDims;
  if (!through) return false;
  for (int o : op.operands)
    if (fromDot(o, depth + 1)) return true;
  return false;
}

/// Whole-kernel facts the lowering needs before it starts: uses and
/// definitions of every value, whether dots are chained (see mma()), and the
/// transposes that only feed a dot's B operand.
void GpuLowering::scanKernel(const dsl::Block &blk) {
  std::function<void(const dsl::Block &)> walk = [&](const dsl::Block &b) {
    for (const dsl::Op &o : b.ops) {
      for (int r : o.results) allDefs_[r] = &o;
      for (int v : o.operands) ++uses_[v];
      for (auto &r : o.regions) walk(*r);
    }
  };
  walk(blk);
  // A dot whose result is computed on (not just stored or accumulated): the
  // ops around it then prefer its layout (see lowerElementwise).
  for (auto &[v, o] : allDefs_)
    for (int x : o->operands)
      if (o->kind != OpKind::Store && o->kind != OpKind::Dot && o->kind != OpKind::Yield &&
          allDefs_.count(x) && allDefs_.at(x)->kind == OpKind::Dot)
        dotResults_ = true;
  for (auto &[v, o] : allDefs_) {
    if (o->kind != OpKind::Dot || o->results[0] != v) continue;
    if (fromDot(o->operands[0], 0)) chained_ = true;
    auto t = allDefs_.find(o->operands[1]);
    if (t != allDefs_.end() && t->second->kind == OpKind::Trans && uses_[o->operands[1]] == 1 &&
        dsl::dtypeBytes(ty(o->operands[1]).dtype) == 2)
      transB_.insert(o->operands[1]);
  }
}

/// Value `v` converted to layout `l` once, before the outermost loop being
/// lowered that does not define it (so a loop converts its invariants once);
/// in place when `v` is defined in the innermost loop.
TileVal GpuLowering::hoisted(int v, const Layout *l, Location loc) {
  size_t d = size_t(depth_.count(v) ? depth_.at(v) : 0);
  if (d >= loops_.size()) return toLayout(val(v), ty(v), l, loc);
  auto key = std::make_pair(v, l);
  if (auto it = hoist_.find(key); it != hoist_.end()) return it->second;
  OpBuilder::InsertionGuard g(b_);
  b_.setInsertionPoint(loops_[d]);
  TileVal r = toLayout(val(v), ty(v), l, loc);
  hoist_[key] = r;
  hoistDepth_[key] = d;
  return r;
}

/// The Slice layout holding the rows of layout `l` (null if it has none).
const Layout *GpuLowering::rowSlice(const Layout *l) {
  if (l->kind == Layout::Slice) return l;
  if (l->kind == Layout::Mma || l->kind == Layout::RowBcast) return rowsOf(l, Layout::Slice);
  return nullptr;
}

/// Forward axis analysis for the op just lowered (see TileVal).
void GpuLowering::analyse(const dsl::Op &op) {
  if (op.results.empty()) return;
  TileVal &r = vals_[op.results[0]];
  auto in = [&](size_t i) -> const TileVal & { return vals_.at(op.operands[i]); };
  auto setInfo = [&](int64_t c, int64_t d, int64_t k) {
    r.contig = c;
    r.div = d;
    r.cst = k;
  };
  bool scalar = !ty(op.results[0]).isTile();
  // Prefix runs of masks (see TileVal::prefix); constant runs qualify.
  auto pre = [&](size_t i) { return std::max(in(i).prefix, in(i).cst); };
  r.prefix = 1;
  switch (op.kind) {
  case OpKind::CmpLT: case OpKind::CmpLE:
    if (in(0).contig > 1 && in(1).cst > 1) r.prefix = std::min(in(0).contig, in(1).cst);
    break;
  case OpKind::CmpGT: case OpKind::CmpGE:
    if (in(1).contig > 1 && in(0).cst > 1) r.prefix = std::min(in(1).contig, in(0).cst);
    break;
  case OpKind::And: r.prefix = std::min(pre(0), pre(1)); break;
  case OpKind::Broadcast: case OpKind::ExpandDims: case OpKind::Reshape:
    r.prefix = in(0).prefix;
    break;
  default: break;
  }
  switch (op.kind) {
  case OpKind::Constant: return setInfo(1, pow2Divisor(op.iconst), kBig);
  case OpKind::Arange:
    return setInfo(op.ints[1] - op.ints[0], pow2Divisor(op.ints[0]), 1);
  case OpKind::Splat: return setInfo(1, in(0).div, kBig);
  case OpKind::Broadcast: {
    auto &src = ty(op.operands[0]).shape;
    if (!src.empty() && src.back() == 1 && ty(op.results[0]).shape.back() > 1)
      return setInfo(1, in(0).div, kBig);
    return setInfo(in(0).contig, in(0).div, in(0).cst);
  }
  case OpKind::ExpandDims:
    if (op.ints[0] == 0) return setInfo(in(0).contig, in(0).div, in(0).cst);
    return setInfo(1, in(0).contig > 1 ? 1 : in(0).div, kBig);
  case OpKind::Add:
  case OpKind::AddPtr: {
    const TileVal &a = in(0), &b = in(1);
    return setInfo(std::max(std::min(a.contig, b.cst), std::min(b.contig, a.cst)),
                   std::min(a.div, b.div), std::min(a.cst, b.cst));
  }
  case OpKind::Sub:
    return setInfo(std::min(in(0).contig, in(1).cst), std::min(in(0).div, in(1).div),
                   std::min(in(0).cst, in(1).cst));
  case OpKind::Mul: {
    int64_t da = in(0).contig > 1 ? 1 : in(0).div, db = in(1).contig > 1 ? 1 : in(1).div;
    return setInfo(1, std::min(kBig, da * db), std::min(in(0).cst, in(1).cst));
  }
  case OpKind::CmpLT: case OpKind::CmpLE: case OpKind::CmpGT:
  case OpKind::CmpGE: case OpKind::CmpEQ: case OpKind::CmpNE: {
    const TileVal &a = in(0), &b = in(1);
    int64_t k = 1;
    if (a.contig == 1 && b.contig == 1) k = std::min(a.cst, b.cst);
    else if (a.contig > 1 && b.cst > 1) k = std::min({a.contig, b.cst, std::min(a.div, b.div)});
    else if (b.contig > 1 && a.cst > 1) k = std::min({b.contig, a.cst, std::min(a.div, b.div)});
    return setInfo(1, 1, k);
  }
  case OpKind::And: case OpKind::Or: case OpKind::Xor:
    return setInfo(1, 1, std::min(in(0).cst, in(1).cst));
  case OpKind::Cast: { // i32 -> i64 keeps runs, multiples and constants
    DType from = ty(op.operands[0]).dtype, to = ty(op.results[0]).dtype;
    if (from == DType::i32 && to == DType::i64) return setInfo(in(0).contig, in(0).div, in(0).cst);
    return setInfo(1, 1, scalar ? kBig : 1);
  }
  case OpKind::Select:
    return setInfo(1, 1, std::min({in(0).cst, in(1).cst, in(2).cst}));
  default:
    return setInfo(1, 1, scalar ? kBig : 1);
  }
}

int GpuLowering::vectorWidth(const TileVal &p, const TileVal *mask, int elemBytes) const {
  const Layout *l = p.layout;
  if (!l || l->wrap1) return 1;
  // Consecutive registers hold consecutive columns: s1 of them in a blocked
  // layout, pairs (c0, c1) in the mma accumulator layout.
  int64_t run = l->kind == Layout::Blocked ? l->s1 : l->kind == Layout::Mma ? 2 : 1;
  int64_t v = std::min<int64_t>({run, p.contig, p.div, 16 / elemBytes});
  if (mask) v = std::min(v, mask->cst);
  v = int64_t(1) << log2floor(std::max<int64_t>(1, v));
  return v * elemBytes >= 4 ? static_cast<int>(v) : 1;
}

void GpuLowering::lowerOpImpl(const dsl::Op &op) {
  Location loc = locOf(&ctx_, op);
  const dsl::Type *rt = op.results.empty() ? nullptr : &ty(op.results[0]);
  switch (op.kind) {
  case OpKind::ProgramId:
  case OpKind::NumPrograms: {
    Value v;
    int a = static_cast<int>(op.ints[0]);
    Type i32 = b_.getI32Type();
    if (op.kind == OpKind::ProgramId)
      v = a == 0 ? Value(mk<NVVM::BlockIdXOp>(b_, loc, i32))
          : a == 1 ? Value(mk<NVVM::BlockIdYOp>(b_, loc, i32))
                   : Value(mk<NVVM::BlockIdZOp>(b_, loc, i32));
    else
      v = a == 0 ? Value(mk<NVVM::GridDimXOp>(b_, loc, i32))
          : a == 1 ? Value(mk<NVVM::GridDimYOp>(b_, loc, i32))
                   : Value(mk<NVVM::GridDimZOp>(b_, loc, i32));
    vals_[op.results[0]] = {nullptr, false, {v}};
    return;
  }
  case OpKind::Constant:
    vals_[op.results[0]] = {nullptr, false,
                            {constantOf(b_, loc, rt->dtype, op.fconst, op.iconst)}};
    return;
  case OpKind::Splat:
    vals_[op.results[0]] = {nullptr, true, {val(op.operands[0]).regs[0]}};
    return;
  case OpKind::Arange: {
    const Layout *l = defaultLayout(*rt);
    TileVal v{l, false, {}};
    for (size_t r = 0; r < l->numRegs(); ++r)
      v.regs.push_back(add(coords(l, r, loc).second, c32(op.ints[0]), loc));
    vals_[op.results[0]] = v;
    return;
  }
  case OpKind::Broadcast:
  case OpKind::ExpandDims:
  case OpKind::Reshape:
  case OpKind::Trans: {
    // A transpose whose one use is a dot's B operand is not materialised:
    // the dot reads the source's rows as B's columns (ldmatrix without .trans).
    if (op.kind == OpKind::Trans && transB_.count(op.results[0])) return;
    const dsl::Type &st = ty(op.operands[0]);
    (void)st;
    // (A deferred source stays deferred: remat looks through both.)
    const TileVal &src =
        deferred_.count(op.operands[0]) ? vals_.at(op.operands[0]) : val(op.operands[0]);
    if (src.splat) {
      vals_[op.results[0]] = src;
      return;
    }
    // The rows of an mma layout stay where they are: expand_dims makes them a
    // column, and broadcasting that column over an mma tile copies registers.
    if (op.kind == OpKind::ExpandDims && src.layout && src.layout->kind == Layout::Slice &&
        op.ints[0] == 1) {
      TileVal r = src;
      r.layout = rowsOf(src.layout, Layout::RowBcast);
      vals_[op.results[0]] = r;
      return;
    }
    if (op.kind == OpKind::Broadcast && src.layout && src.layout->kind == Layout::RowBcast &&
        rt->shape.size() == 2 && rt->shape[1] % (8 * src.layout->wn) == 0) {
      const Layout *dst = mmaWith(rt->shape[0], rt->shape[1], src.layout->wm, src.layout->wn, op.loc);
      TileVal r = src;
      r.layout = dst;
      r.regs.clear();
      for (size_t k = 0; k < dst->numRegs(); ++k) r.regs.push_back(src.regs[rowRegister(dst, k)]);
      vals_[op.results[0]] = r;
      return;
    }
    const Layout *dst = defaultLayout(*rt);
    vals_[op.results[0]] = src; // placeholder so that remat can look through this op
    if (auto r = remat(op.results[0], dst, loc)) {
      vals_[op.results[0]] = *r;
      return;
    }
    // With chained dots, a broadcast that would go through shared memory
    // waits for a use that needs it in registers: most are only read through
    // remat (masks recomputed in the mma layout), and then never move.
    if (dotResults_ && (op.kind == OpKind::ExpandDims || op.kind == OpKind::Broadcast)) {
      // A marker keeps the place (it dies in canonicalization); the temporary
      // shared memory of that place is the one to use.
      Operation *marker = mk<arith::ConstantIntOp>(b_, loc, b_.getI32Type(), 0).getOperation();
      deferred_[op.results[0]] = Deferred{&op, marker, tempBase_};
      return;
    }
    vals_[op.results[0]] = shapeGather(op, loc);
    return;
  }
  case OpKind::Load:
    if (pipe_.count(op.results[0])) return; // copied by the pipelined loop
    return lowerLoad(op, loc);
  case OpKind::Store: return lowerStore(op, loc);
  case OpKind::ReduceSum:
  case OpKind::ReduceMax:
  case OpKind::ReduceMin:
  case OpKind::Argmax: return lowerReduce(op, loc);
  case OpKind::Dot: return lowerDot(op, loc);
  case OpKind::Sort:
  case OpKind::TopK: return lowerSort(op, loc);
  case OpKind::Gather: return lowerGather(op, loc);
  case OpKind::For: return lowerFor(op, loc);
  case OpKind::If: return lowerIf(op, loc);
  case OpKind::Yield: throw InternalError("yield outside a region");
  default: return lowerElementwise(op, loc);
  }
}

/// A shape op (expand_dims, broadcast, reshape, trans) of a value that
/// remat cannot recompute: its elements through shared memory.
TileVal GpuLowering::shapeGather(const dsl::Op &op, Location loc) {
  const dsl::Type &st = ty(op.operands[0]);
  const dsl::Type *rt = &ty(op.results[0]);
  const TileVal &src = val(op.operands[0]);
  auto [S0, S1] = view2d(st.shape);
  int64_t D1 = view2d(rt->shape).second;
  const Layout *dst = defaultLayout(*rt);
    std::function<Value(Value, Value)> lin;
    if (op.kind == OpKind::Trans) {
      lin = [&, S1 = S1](Value i, Value j) { return add(mul(j, c32(S1), loc), i, loc); };
    } else if (op.kind == OpKind::Broadcast) {
      lin = [&, S0 = S0, S1 = S1](Value i, Value j) {
        Value si = S0 == 1 ? c32(0) : i, sj = S1 == 1 ? c32(0) : j;
        return add(mul(si, c32(S1), loc), sj, loc);
      };
    } else {
      // Same linear order: dst linear index == src linear index.
      if (src.layout == dst) {
        return src;
      }
      lin = [&, D1 = D1](Value i, Value j) { return add(mul(i, c32(D1), loc), j, loc); };
    }
    return gather(src, st, dst, lin, loc);
}

/// Value `id` in registers: a deferred shape op is materialised here.
const TileVal &GpuLowering::val(int id) {
  auto d = deferred_.find(id);
  if (d != deferred_.end()) {
    Deferred def = d->second;
    deferred_.erase(d);
    OpBuilder::InsertionGuard g(b_);
    b_.setInsertionPoint(def.marker);
    size_t savedTemp = tempBase_;
    tempBase_ = def.tempBase;
    TileVal info = vals_.at(id), r = shapeGather(*def.op, locOf(&ctx_, *def.op));
    tempBase_ = savedTemp;
    r.contig = info.contig, r.div = info.div, r.cst = info.cst, r.prefix = info.prefix;
    vals_[id] = r;
  }
  return vals_.at(id);
}

void GpuLowering::lowerElementwise(const dsl::Op &op, Location loc) {
  const dsl::Type &rt = ty(op.results[0]);
  // The common layout: the first operand that has one.
  // An mma (or mma-rows) layout wins over a blocked one: the others are
  // mostly index arithmetic, which is recomputed in it for free, while
  // moving a dot's result would cost a trip through shared memory.
  const Layout *l = nullptr;
  bool allSplat = true;
  auto rank = [&](const Layout *x) { return dotResults_ && x->kind != Layout::Blocked ? 1 : 0; };
  for (int o : op.operands) {
    const TileVal &v = val(o);
    if (v.layout && (!l || rank(v.layout) > rank(l))) l = v.layout;
    allSplat &= v.splat || !v.layout;
  }
  std::vector<TileVal> ins;
  for (int o : op.operands)
    ins.push_back(allSplat || !rt.isTile() ? val(o) : convert(o, l, loc));
  int typed = op.kind == OpKind::Select ? 1 : 0;
  DType opType = ty(op.operands[typed]).dtype;
  DType pointee = ty(op.operands[0]).pointee;
  TileVal out{allSplat ? nullptr : l, allSplat && rt.isTile(), {}};
  size_t n = ins[0].regs.size();
  for (size_t r = 0; r < n; ++r) {
    std::vector<Value> args;
    for (auto &in : ins) args.push_back(in.regs[r]);
    out.regs.push_back(se_.emit(loc, op.kind, args, opType, rt.dtype, pointee));
  }
  vals_[op.results[0]] = out;
}


Value GpuLowering::pack(ArrayRef<Value> elems, Location loc) {
  auto vt = VectorType::get({int64_t(elems.size())}, elems[0].getType());
  Value v = mk<LLVM::PoisonOp>(b_, loc, vt);
  for (size_t e = 0; e < elems.size(); ++e)
    v = mk<LLVM::InsertElementOp>(b_, loc, v, elems[e], c32(int64_t(e)));
  return v;
}

std::vector<Value> GpuLowering::unpack(Value v, int n, Location loc) {
  std::vector<Value> out;
  for (int e = 0; e < n; ++e) out.push_back(mk<LLVM::ExtractElementOp>(b_, loc, v, c32(e)));
  return out;
}

namespace {
/// "{$a,$b,...}" for `n` operands starting at `first` (or "$first" for one).
std::string asmOperands(int first, int n) {
  if (n == 1) return "$" + std::to_string(first);
  std::string s = "{";
  for (int i = 0; i < n; ++i) s += (i ? ",$" : "$") + std::to_string(first + i);
  return s + "}";
}
std::string vecSuffix(int words) { return words == 1 ? "" : ".v" + std::to_string(words); }
} // namespace

/// How a group of `vec` elements of `eb` bytes travels through inline PTX:
/// 32-bit words, or one 16/64-bit value when the group is smaller.
PtxWords ptxWords(int vec, int eb) {
  if (vec * eb >= 4 && !(vec == 1 && eb == 8)) return {vec * eb / 4, 32, "r"};
  return {1, eb * 8, eb == 2 ? "h" : eb == 4 ? "r" : "l"};
}

/// The elements of a group as the words of `pw` (bit casts only).
std::vector<Value> GpuLowering::toWords(ArrayRef<Value> elems, const PtxWords &pw, Location loc) {
  Type wt = b_.getIntegerType(pw.bits);
  if (elems.size() == size_t(pw.count)) { // a word per element: no vector shuffle
    std::vector<Value> out;
    for (Value e : elems)
      out.push_back(e.getType() == wt ? e : Value(mk<arith::BitcastOp>(b_, loc, wt, e)));
    return out;
  }
  return unpack(mk<LLVM::BitcastOp>(b_, loc, VectorType::get({pw.count}, wt), pack(elems, loc)),
                pw.count, loc);
}

std::vector<Value> GpuLowering::loadGroup(ArrayRef<Value> ptrs, ArrayRef<Value> masks,
                                          ArrayRef<Value> others, Type et, int eb,
                                          Location loc) {
  int vec = int(ptrs.size());
  auto vt = VectorType::get({vec}, et);
  if (masks.empty()) {
    if (vec == 1) return {mk<LLVM::LoadOp>(b_, loc, et, ptrs[0])};
    return unpack(mk<LLVM::LoadOp>(b_, loc, vt, ptrs[0], unsigned(vec * eb)), vec, loc);
  }
  // Predicated ld.global (masks[0] guards the group) of the group's words;
  // masked-off lanes keep `others`.
  PtxWords pw = ptxWords(vec, eb);
  int words = pw.count, wbits = pw.bits;
  Type wt = b_.getIntegerType(wbits);
  const char *cons = pw.cons;
  std::vector<Value> otherWords = toWords(others, pw, loc);
  std::string bits = "b" + std::to_string(wbits);
  // The mask goes in as a predicate register ("b").
  std::string text = "{ ";
  for (int w = 0; w < words; ++w)
    text += "mov." + bits + " $" + std::to_string(w) + ", $" + std::to_string(words + 2 + w) + "; ";
  text += "@$" + std::to_string(words + 1) + " ld.global" + vecSuffix(words) + "." + bits + " " +
          asmOperands(0, words) + ", [$" + std::to_string(words) + "]; }";
  std::string c;
  for (int w = 0; w < words; ++w) c += std::string("=") + cons + ",";
  c += "l,b";
  for (int w = 0; w < words; ++w) c += std::string(",") + cons;
  std::vector<Value> args{mk<LLVM::PtrToIntOp>(b_, loc, b_.getI64Type(), ptrs[0]), masks[0]};
  args.insert(args.end(), otherWords.begin(), otherWords.end());
  Type resTy = words == 1 ? wt
                          : Type(LLVM::LLVMStructType::getLiteral(
                                &ctx_, std::vector<Type>(size_t(words), wt)));
  auto asmOp = asmCall(resTy, args, text, c, true, loc);
  if (vec == 1) return {mk<arith::BitcastOp>(b_, loc, et, asmOp.getResult(0))};
  std::vector<Value> ws;
  for (int w = 0; w < words; ++w)
    ws.push_back(words == 1 ? asmOp.getResult(0)
                            : Value(mk<LLVM::ExtractValueOp>(b_, loc, asmOp.getResult(0),
                                                             ArrayRef<int64_t>{w})));
  if (words == vec) { // a word per element: no vector shuffle
    for (Value &w : ws)
      if (w.getType() != et) w = mk<arith::BitcastOp>(b_, loc, et, w);
    return ws;
  }
  return unpack(mk<LLVM::BitcastOp>(b_, loc, vt, pack(ws, loc)), vec, loc);
}

void GpuLowering::storeGroup(ArrayRef<Value> ptrs, ArrayRef<Value> elems, ArrayRef<Value> masks,
                             int eb, Location loc) {
  int vec = int(ptrs.size());
  if (masks.empty()) {
    mk<LLVM::StoreOp>(b_, loc, vec == 1 ? elems[0] : pack(elems, loc), ptrs[0],
                      unsigned(vec * eb));
    return;
  }
  PtxWords pw = ptxWords(vec, eb);
  int words = pw.count, wbits = pw.bits;
  const char *cons = pw.cons;
  std::vector<Value> ws = toWords(elems, pw, loc);
  // The mask goes in as a predicate register ("b").
  std::string text = "@$1 st.global" + vecSuffix(words) + ".b" + std::to_string(wbits) +
                     " [$0], " + asmOperands(2, words) + ";";
  std::string c = "l,b";
  for (int w = 0; w < words; ++w) c += std::string(",") + cons;
  std::vector<Value> args{mk<LLVM::PtrToIntOp>(b_, loc, b_.getI64Type(), ptrs[0]), masks[0]};
  args.insert(args.end(), ws.begin(), ws.end());
  asmCall(TypeRange{}, args, text, c, true, loc);
}

/// Pointers to the `vec` consecutive elements of a group, from its first:
/// only the first pointer of each group stays live.
std::vector<Value> GpuLowering::groupPointers(Value first, int vec, DType elem, Location loc) {
  std::vector<Value> out{first};
  for (int e = 1; e < vec; ++e)
    out.push_back(mk<LLVM::GEPOp>(b_, loc, first.getType(), regType(elem), first,
                                  ValueRange{c32(e)}));
  return out;
}

Value GpuLowering::allTrue(ArrayRef<Value> masks, Location loc) {
  Value r = masks[0];
  for (size_t i = 1; i < masks.size(); ++i) r = fold<arith::AndIOp>(b_, loc, r, masks[i]);
  return r;
}

void GpuLowering::lowerLoad(const dsl::Op &op, Location loc) {
  const dsl::Type &rt = ty(op.results[0]);
  const TileVal &p = val(op.operands[0]);
  if (!rt.isTile()) {
    Value v = mk<LLVM::LoadOp>(b_, loc, regType(rt.dtype), p.regs[0]);
    if (op.operands.size() > 1)
      v = mk<arith::SelectOp>(b_, loc, val(op.operands[1]).regs[0], v,
                              val(op.operands[2]).regs[0]);
    vals_[op.results[0]] = {nullptr, false, {v}};
    return;
  }
  const Layout *l = p.layout ? p.layout : defaultLayout(rt);
  TileVal ptrs = convert(op.operands[0], l, loc);
  bool masked = op.operands.size() > 1;
  TileVal mask, other;
  if (masked) {
    mask = convert(op.operands[1], l, loc);
    other = convert(op.operands[2], l, loc);
  }
  int eb = dsl::dtypeBytes(rt.dtype);
  Type et = regType(rt.dtype);
  // vec: what addresses allow; known: what the mask is known to allow.
  int vec = vectorWidth(ptrs, nullptr, eb);
  int known = masked ? vectorWidth(ptrs, &mask, eb) : vec;
  TileVal out{l, false, {}};
  auto slice = [](const std::vector<Value> &v, size_t g, int n) {
    return ArrayRef<Value>(v).slice(g, size_t(n));
  };
  for (size_t g = 0; g < ptrs.regs.size(); g += vec) {
    std::vector<Value> got;
    if (!masked) {
      got = loadGroup(slice(ptrs.regs, g, vec), {}, {}, et, eb, loc);
    } else if (known == vec) {
      got = loadGroup(slice(ptrs.regs, g, vec), slice(mask.regs, g, vec),
                      slice(other.regs, g, vec), et, eb, loc);
    } else {
      // The mask may differ inside the group: one vector load when the
      // whole group is in bounds, element by element otherwise.
      auto ifOp = mk<scf::IfOp>(b_, loc, std::vector<Type>(size_t(vec), et),
                                allTrue(slice(mask.regs, g, vec), loc), true);
      OpBuilder::InsertionGuard guard(b_);
      b_.setInsertionPointToStart(ifOp.thenBlock());
      mk<scf::YieldOp>(b_, loc, loadGroup(slice(ptrs.regs, g, vec), {}, {}, et, eb, loc));
      b_.setInsertionPointToStart(ifOp.elseBlock());
      std::vector<Value> each;
      std::vector<Value> elemPtrs = groupPointers(ptrs.regs[g], vec, rt.dtype, loc);
      for (int e = 0; e < vec; ++e)
        each.push_back(loadGroup(slice(elemPtrs, e, 1), slice(mask.regs, g + e, 1),
                                 slice(other.regs, g + e, 1), et, eb, loc)[0]);
      mk<scf::YieldOp>(b_, loc, each);
      got.assign(ifOp.getResults().begin(), ifOp.getResults().end());
    }
    out.regs.insert(out.regs.end(), got.begin(), got.end());
  }
  vals_[op.results[0]] = out;
}

void GpuLowering::lowerStore(const dsl::Op &op, Location loc) {
  const dsl::Type &pt = ty(op.operands[0]);
  const TileVal &p = val(op.operands[0]);
  if (!pt.isTile()) {
    auto doStore = [&] { mk<LLVM::StoreOp>(b_, loc, val(op.operands[1]).regs[0], p.regs[0]); };
    if (op.operands.size() > 2) {
      auto ifOp = mk<scf::IfOp>(b_, loc, val(op.operands[2]).regs[0], false);
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      doStore();
    } else {
      doStore();
    }
    return;
  }
  // Store in the value's layout when the pointers can be recomputed in it
  // (e.g. an mma accumulator goes out without a trip through shared memory).
  const Layout *l = p.layout ? p.layout : defaultLayout(pt);
  const Layout *vl = val(op.operands[1]).layout;
  if (vl && vl != l && !val(op.operands[1]).splat && remat(op.operands[0], vl, loc)) l = vl;
  TileVal ptrs = convert(op.operands[0], l, loc);
  TileVal v = convert(op.operands[1], l, loc);
  bool masked = op.operands.size() > 2;
  TileVal mask;
  if (masked) mask = convert(op.operands[2], l, loc);
  int eb = dsl::dtypeBytes(pt.pointee);
  int vec = vectorWidth(ptrs, nullptr, eb);
  int known = masked ? vectorWidth(ptrs, &mask, eb) : vec;
  auto slice = [](const std::vector<Value> &x, size_t g, int n) {
    return ArrayRef<Value>(x).slice(g, size_t(n));
  };
  for (size_t g = 0; g < ptrs.regs.size(); g += vec) {
    if (!masked || known == vec) {
      storeGroup(slice(ptrs.regs, g, vec), slice(v.regs, g, vec),
                 masked ? slice(mask.regs, g, vec) : ArrayRef<Value>(), eb, loc);
      continue;
    }
    auto ifOp = mk<scf::IfOp>(b_, loc, allTrue(slice(mask.regs, g, vec), loc), true);
    OpBuilder::InsertionGuard guard(b_);
    b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    storeGroup(slice(ptrs.regs, g, vec), slice(v.regs, g, vec), {}, eb, loc);
    b_.setInsertionPoint(ifOp.elseBlock()->getTerminator());
    std::vector<Value> elemPtrs = groupPointers(ptrs.regs[g], vec, pt.pointee, loc);
    for (int e = 0; e < vec; ++e)
      storeGroup(slice(elemPtrs, e, 1), slice(v.regs, g + e, 1), slice(mask.regs, g + e, 1), eb,
                 loc);
  }
}

/// Row reduction of a blocked tile without moving the tile: each thread
/// combines its own elements of a row, then lanes of a row combine with
/// butterfly shuffles, then the warps of a row through shared memory. Returns
/// false for the cases it does not handle (replicated columns, 64-bit
/// values); the caller then uses the shared-memory loop.
bool GpuLowering::lowerRowReduceShuffle(const dsl::Op &op, const TileVal &in, Location loc) {
  const dsl::Type &st = ty(op.operands[0]), &rt = ty(op.results[0]);
  const Layout *l = in.layout;
  if (!l || !(l->kind == Layout::Blocked || l->kind == Layout::Mma) || l->wrap1 ||
      dsl::dtypeBytes(st.dtype) > 4)
    return false;
  bool isMma = l->kind == Layout::Mma;
  // Lanes and warps that share a row: a quad and wn warps in the mma layout.
  int rowLanes = isMma ? 4 : l->t1, rowWarps = isMma ? l->wn : l->w1;
  bool isArg = op.kind == OpKind::Argmax;
  DType t = st.dtype;
  bool fl = dsl::isFloat(t);
  // Values travel as 32-bit words (floats as f32, integers as i32).
  DType wt = fl ? DType::f32 : DType::i32;
  auto widen = [&](Value v) { return se_.cast(loc, v, t, wt); };
  struct Part {
    Value v, idx;
  };
  auto combine = [&](Part a, Part c) -> Part {
    if (!isArg) return {se_.combine(loc, op.kind, a.v, c.v, wt), Value()};
    Value gt = se_.emit(loc, OpKind::CmpGT, {c.v, a.v}, wt, DType::i1, wt);
    Value eq = se_.emit(loc, OpKind::CmpEQ, {c.v, a.v}, wt, DType::i1, wt);
    Value lower = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::slt, c.idx, a.idx);
    Value take = fold<arith::OrIOp>(b_, loc, gt, fold<arith::AndIOp>(b_, loc, eq, lower));
    return {mk<arith::SelectOp>(b_, loc, take, c.v, a.v),
            mk<arith::SelectOp>(b_, loc, take, c.idx, a.idx)};
  };
  // 1. In-thread partials, one per row offset the thread holds.
  std::map<int64_t, Part> parts;
  for (size_t r = 0; r < in.regs.size(); ++r) {
    Part p{widen(in.regs[r]), isArg ? coords(l, r, loc).second : Value()};
    auto it = parts.find(l->off[r].first);
    if (it == parts.end()) parts[l->off[r].first] = p;
    else it->second = combine(it->second, p);
  }
  // 2. Lanes of a row: lane % t1 indexes the columns.
  auto shfl = [&](Value v, int offset) {
    Value bits = v.getType().isF32() ? Value(mk<arith::BitcastOp>(b_, loc, b_.getI32Type(), v)) : v;
    Value res = asmCall(b_.getI32Type(), ValueRange{bits, c32(offset)},
                        "shfl.sync.bfly.b32 $0, $1, $2, 0x1f, 0xffffffff;", "=r,r,r", true, loc)
                    .getResult(0);
    return v.getType().isF32() ? Value(mk<arith::BitcastOp>(b_, loc, b_.getF32Type(), res)) : res;
  };
  for (auto &[row, p] : parts)
    for (int off = rowLanes / 2; off >= 1; off /= 2)
      p = combine(p, {shfl(p.v, off), isArg ? shfl(p.idx, off) : Value()});
  // 3. Warps of a row, through shared memory: slot (row, warp column).
  Value b0 = base(l).first;
  Value warpCol = fold<arith::RemUIOp>(b_, loc, warp_, c32(rowWarps));
  Value leader = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::eq,
                                   fold<arith::RemUIOp>(b_, loc, lane_, c32(rowLanes)), c32(0));
  int64_t S0 = view2d(st.shape).first;
  int slot = isArg ? 8 : 4;
  auto rowOf = [&](int64_t off) {
    Value r = add(b0, c32(off), loc);
    return l->wrap0 ? Value(fold<arith::RemUIOp>(b_, loc, r, c32(S0))) : r;
  };
  auto writeSlot = [&](Value index, const Part &p, Value cond) {
    auto ifOp = mk<scf::IfOp>(b_, loc, cond, false);
    OpBuilder::InsertionGuard g(b_);
    b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    Value off = mul(index, c32(slot), loc);
    smemStore(p.v, wt, off, loc);
    if (isArg) smemStore(p.idx, DType::i32, add(off, c32(4), loc), loc);
  };
  auto readSlot = [&](Value index) {
    Value off = mul(index, c32(slot), loc);
    return Part{smemLoad(wt, off, loc), isArg ? smemLoad(DType::i32, add(off, c32(4), loc), loc) : Value()};
  };
  if (rowWarps > 1) {
    needShared(size_t(S0 * rowWarps * slot));
    barrier(loc);
    for (auto &[off, p] : parts)
      writeSlot(add(mul(rowOf(off), c32(rowWarps), loc), warpCol, loc), p, leader);
    barrier(loc);
    for (auto &[off, p] : parts) {
      Value rowBase = mul(rowOf(off), c32(rowWarps), loc);
      Part acc = readSlot(rowBase);
      for (int w = 1; w < rowWarps; ++w) acc = combine(acc, readSlot(add(rowBase, c32(w), loc)));
      p = acc;
    }
  }
  auto finish = [&](const Part &p) { return isArg ? p.idx : se_.cast(loc, p.v, wt, rt.dtype); };
  if (isMma) { // the result stays in the rows of the mma layout (a Slice)
    const Layout *sl = rowsOf(l, Layout::Slice);
    TileVal out{sl, false, {}};
    for (auto &[off, p] : parts) out.regs.push_back(finish(p));
    if (out.regs.size() != sl->numRegs()) throw InternalError("mma row reduction: row count");
    vals_[op.results[0]] = out;
    return true;
  }
  if (!rt.isTile()) { // a rank-1 source: every thread holds the one row
    vals_[op.results[0]] = {nullptr, false, {finish(parts.begin()->second)}};
    return true;
  }
  // 4. The result [S0] in its own layout: row values through shared memory.
  needShared(size_t(S0 * slot));
  barrier(loc);
  Value writer = fold<arith::AndIOp>(
      b_, loc, leader, mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::eq, warpCol, c32(0)));
  for (auto &[off, p] : parts) writeSlot(rowOf(off), p, writer);
  barrier(loc);
  const Layout *dst = defaultLayout(rt);
  TileVal out{dst, false, {}};
  for (size_t r = 0; r < dst->numRegs(); ++r)
    out.regs.push_back(finish(readSlot(coords(dst, r, loc).second)));
  vals_[op.results[0]] = out;
  return true;
}

/// Column reduction (axis 0) of an mma accumulator tile without moving the
/// tile: each thread combines its rows of a column, the 8 lanes that share a
/// column (lane % 4) combine with butterfly shuffles, then the warps along M
/// through shared memory, which also hands the [N] result out in the
/// default layout. Argmax and 64-bit values are left to the generic path.
bool GpuLowering::lowerColReduceMma(const dsl::Op &op, const TileVal &in, Location loc) {
  const dsl::Type &st = ty(op.operands[0]), &rt = ty(op.results[0]);
  const Layout *l = in.layout;
  if (!l || l->kind != Layout::Mma || in.splat || op.kind == OpKind::Argmax ||
      dsl::dtypeBytes(st.dtype) > 4 || !rt.isTile())
    return false;
  DType t = st.dtype, wt = dsl::isFloat(t) ? DType::f32 : DType::i32;
  // 1. In-thread partials, one per column offset.
  std::map<int64_t, Value> parts;
  for (size_t r = 0; r < in.regs.size(); ++r) {
    Value x = se_.cast(loc, in.regs[r], t, wt);
    auto it = parts.find(l->off[r].second);
    if (it == parts.end()) parts[l->off[r].second] = x;
    else it->second = se_.combine(loc, op.kind, it->second, x, wt);
  }
  // 2. The 8 lanes of a column (lane / 4 indexes the rows).
  for (auto &[col, p] : parts)
    for (int off : {4, 8, 16}) p = se_.combine(loc, op.kind, p, shflXor(p, off, loc), wt);
  // 3. The warps along M, through shared memory: slot (column, warp row).
  int64_t N = l->S1;
  int wm = l->wm;
  needShared(size_t(N * wm * 4));
  Value warpRow = fold<arith::DivUIOp>(b_, loc, warp_, c32(l->wn));
  Value leader = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::ult, lane_, c32(4));
  Value b1 = base(l).second;
  barrier(loc);
  {
    auto ifOp = mk<scf::IfOp>(b_, loc, leader, false);
    OpBuilder::InsertionGuard g(b_);
    b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    for (auto &[col, p] : parts) {
      Value slot = add(mul(add(b1, c32(col), loc), c32(wm), loc), warpRow, loc);
      smemStore(p, wt, mul(slot, c32(4), loc), loc);
    }
  }
  barrier(loc);
  const Layout *dst = defaultLayout(rt);
  TileVal out{dst, false, {}};
  for (size_t r = 0; r < dst->numRegs(); ++r) {
    Value base = mul(coords(dst, r, loc).second, c32(wm), loc);
    Value acc = smemLoad(wt, mul(base, c32(4), loc), loc);
    for (int w = 1; w < wm; ++w)
      acc = se_.combine(loc, op.kind, acc, smemLoad(wt, mul(add(base, c32(w), loc), c32(4), loc), loc), wt);
    out.regs.push_back(se_.cast(loc, acc, wt, rt.dtype));
  }
  vals_[op.results[0]] = out;
  return true;
}

/// shfl.sync.bfly of a 32-bit value (f32 or i32).
Value GpuLowering::shflXor(Value v, int offset, Location loc) {
  bool f = v.getType().isF32();
  Value bits = f ? Value(mk<arith::BitcastOp>(b_, loc, b_.getI32Type(), v)) : v;
  Value res = asmCall(b_.getI32Type(), ValueRange{bits, c32(offset)},
                      "shfl.sync.bfly.b32 $0, $1, $2, 0x1f, 0xffffffff;", "=r,r,r", true, loc)
                  .getResult(0);
  return f ? Value(mk<arith::BitcastOp>(b_, loc, b_.getF32Type(), res)) : res;
}

void GpuLowering::lowerReduce(const dsl::Op &op, Location loc) {
  const dsl::Type &st = ty(op.operands[0]);
  const dsl::Type &rt = ty(op.results[0]);
  const TileVal &src = val(op.operands[0]);
  auto [S0, S1] = view2d(st.shape);
  int axis = static_cast<int>(op.ints[0]);
  bool rowReduce = st.shape.size() == 1 || axis == 1; // reduce along S1
  int64_t L = rowReduce ? S1 : S0;
  int eb = storageBytes(st.dtype);
  TileVal in = src;
  if (src.splat) in = toLayout(src, st, defaultLayout(st), loc);
  if (rowReduce && lowerRowReduceShuffle(op, in, loc)) return;
  if (!rowReduce && lowerColReduceMma(op, in, loc)) return;
  barrier(loc);
  writeShared(in, st, loc);
  barrier(loc);
  const Layout *dst = rt.isTile() ? defaultLayout(rt) : nullptr;
  size_t n = dst ? dst->numRegs() : 1;
  bool isArg = op.kind == OpKind::Argmax;
  TileVal out{dst, false, {}};
  for (size_t r = 0; r < n; ++r) {
    // The fixed coordinate of this output element.
    Value fixed = dst ? coords(dst, r, loc).second : c32(0);
    Value init = se_.identity(loc, isArg ? OpKind::ReduceMax : op.kind, st.dtype);
    std::vector<Value> inits{init};
    if (isArg) inits.push_back(c32(0));
    auto loop = mk<scf::ForOp>(b_, loc, c32(0), c32(L), c32(1), inits);
    {
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPointToStart(loop.getBody());
      Value m = loop.getInductionVar();
      Value lin = rowReduce ? add(mul(fixed, c32(S1), loc), m, loc)
                            : add(mul(m, c32(S1), loc), fixed, loc);
      Value x = smemLoad(st.dtype, mul(lin, c32(eb), loc), loc);
      Value acc = loop.getRegionIterArgs()[0];
      if (!isArg) {
        mk<scf::YieldOp>(b_, loc, ValueRange{se_.combine(loc, op.kind, acc, x, st.dtype)});
      } else {
        Value better = se_.emit(loc, OpKind::CmpGT, {x, acc}, st.dtype, DType::i1, st.dtype);
        Value nv = mk<arith::SelectOp>(b_, loc, better, x, acc);
        Value ni = mk<arith::SelectOp>(b_, loc, better, m, loop.getRegionIterArgs()[1]);
        mk<scf::YieldOp>(b_, loc, ValueRange{nv, ni});
      }
    }
    out.regs.push_back(loop.getResult(isArg ? 1 : 0));
  }
  vals_[op.results[0]] = out;
}

/// Writes a 2-byte tile into shared memory rows of pitch `ld` elements at
/// temporary offset `byteBase`; runs of 8 consecutive halfs per thread go
/// out as one 16-byte store (ld is a multiple of 8, so they stay aligned).
void GpuLowering::stageRows(const TileVal &v, const dsl::Type &t, int64_t ld, size_t byteBase,
                            Location loc) {
  TileVal in = v.splat || !v.layout ? toLayout(v, t, defaultLayout(t), loc) : v;
  const Layout *il = in.layout;
  int vec = il->kind == Layout::Blocked && !il->wrap1 && il->s1 % 8 == 0 ? 8 : 1;
  for (size_t r = 0; r < in.regs.size(); r += vec) {
    auto [i, j] = coords(il, r, loc);
    Value off = add(mul(add(mul(i, c32(ld), loc), j, loc), c32(2), loc), c32(int64_t(byteBase)), loc);
    if (vec == 1) {
      smemStore(in.regs[r], t.dtype, off, loc);
      continue;
    }
    std::vector<Value> elems(in.regs.begin() + r, in.regs.begin() + r + vec);
    mk<LLVM::StoreOp>(b_, loc, pack(elems, loc), smemPtr(off, loc), 16u);
  }
}

void GpuLowering::lowerDot(const dsl::Op &op, Location loc) {
  const dsl::Type &at = ty(op.operands[0]), &bt = ty(op.operands[1]);
  int64_t M = at.shape[0], K = at.shape[1], N = bt.shape[1];
  if (at.dtype == DType::f32)
    throw CompileError("dot() of f32 tiles is not supported on the GPU backend (cast the "
                       "operands to bf16 or f16)",
                       op.loc);
  if (K % 16 != 0)
    throw CompileError("dot() inner dimension " + std::to_string(K) +
                           " must be a multiple of 16 for mma.sync",
                       op.loc);
  const Layout *cl = mma(M, N, op.loc);
  // The accumulator in the mma layout first: moving it may use the same
  // temporary shared memory as the operand staging below.
  TileVal acc = convert(op.operands[2], cl, loc);
  // Where the operands come from:
  //  A: registers (the 16-bit accumulator of a previous dot whose warps own
  //     the same rows: the FlashAttention-2 repack), fragments loaded once
  //     before the loop (a loop invariant such as attention's Q), a pipelined
  //     loop's stage, or staged here;
  //  B: a pipelined stage or staged here, either [K][N] (ldmatrix .trans) or,
  //     for dot(a, trans(x)), x's rows [N][K] (ldmatrix without .trans).
  int aId = op.operands[0], bId = op.operands[1];
  bool bRows = transB_.count(bId) > 0;
  int bSrc = bRows ? allDefs_.at(bId)->operands[0] : bId;
  const TileVal *av = vals_.count(aId) ? &val(aId) : nullptr;
  bool aRegs = av && av->layout && !av->splat && av->layout->kind == Layout::Mma &&
               av->layout->wn == 1 && cl->wn == 1 && av->layout->wm == cl->wm &&
               av->layout->S0 == M && av->layout->S1 == K;
  auto pa = pipe_.find(aId), pb = pipe_.find(bSrc);
  bool aPipe = pa != pipe_.end(), bPipe = pb != pipe_.end();
  bool aHoist = !aRegs && !aPipe && size_t(depth_.count(aId) ? depth_.at(aId) : 0) < loops_.size();
  Value aBase, bBase;
  int64_t lda = K + 8, ldb = bRows ? K + 8 : N + 8;
  if (aPipe) aBase = pa->second.stageBase, lda = pa->second.ld;
  if (bPipe) bBase = pb->second.stageBase, ldb = pb->second.ld;
  bool stageA = !aRegs && !aPipe && !aHoist, stageB = !bPipe;
  if (stageA || stageB) {
    // 1. Stage A [M][K] and B ([K][N], or x [N][K]) in shared memory, rows
    //    padded by 8 halfs.
    size_t bytesA = stageA ? size_t(M * lda * 2) : 0, offB = (bytesA + 127) / 128 * 128;
    needShared(offB + size_t((bRows ? N : K) * ldb * 2));
    barrier(loc);
    if (stageA) stageRows(val(aId), at, lda, 0, loc);
    if (stageB) stageRows(val(bSrc), ty(bSrc), ldb, offB, loc);
    barrier(loc);
    if (stageA) aBase = c32(int64_t(tempBase_));
    if (stageB) bBase = c32(int64_t(tempBase_ + offB));
  }
  DotGeom g = dotGeom(op, loc);
  std::vector<Value> aAll; // aHoist: every k-step's A fragments
  if (aHoist) aAll = hoistedFragsA(aId, g, K, loc);
  auto fragsA = [&](int64_t kk) -> std::vector<Value> {
    if (aRegs) return regFragsA(*av, g, kk, loc);
    if (aHoist)
      return std::vector<Value>(aAll.begin() + kk * g.MI * 4, aAll.begin() + (kk + 1) * g.MI * 4);
    return loadFragsA(g, aBase, lda, kk, loc);
  };
  auto frags = [&](int64_t kk) {
    std::vector<Value> f = fragsA(kk), fb = loadFragsB(g, bBase, ldb, bRows, kk, loc);
    f.insert(f.end(), fb.begin(), fb.end());
    return f;
  };
  Type f32 = b_.getF32Type();
  Type s4f = LLVM::LLVMStructType::getLiteral(&ctx_, {f32, f32, f32, f32});
  std::string mmaText = std::string("mma.sync.aligned.m16n8k16.row.col.f32.") +
                        (at.dtype == DType::bf16 ? "bf16.bf16" : "f16.f16") +
                        ".f32 {$0,$1,$2,$3}, {$4,$5,$6,$7}, {$8,$9}, {$10,$11,$12,$13};";
  bool ahead = prefetch_ && prefetch_->dot == &op;
  // The fragments of k-step kk + 1 are loaded before the mma.sync of step
  // kk, so shared-memory latency overlaps the tensor cores. In a loop with
  // fragment prefetch, step 0 came from the previous iteration and the last
  // step loads the next stage's step 0 once its copies have landed.
  std::vector<Value> cur = ahead ? prefetch_->carried : frags(0);
  for (int64_t kk = 0; kk < K / 16; ++kk) {
    std::vector<Value> nxt;
    if (kk + 1 < K / 16) {
      nxt = frags(kk + 1);
    } else if (ahead) {
      asmVoid("cp.async.wait_group " + std::to_string(prefetch_->stages - 2) + ";", ValueRange{},
              "", loc);
      barrier(loc);
      prefetch_->next = loadFrags(g, prefetch_->nextA, lda, prefetch_->nextB, ldb, 0, loc);
    }
    for (int64_t im = 0; im < g.MI; ++im)
      for (int64_t in = 0; in < g.NI; ++in) {
        size_t r0 = size_t((im * g.NI + in) * 4), a0 = size_t(im * 4),
               b0 = size_t(g.MI * 4 + in * 2);
        std::vector<Value> args{cur[a0],         cur[a0 + 1],      cur[a0 + 2],
                                cur[a0 + 3],     cur[b0],          cur[b0 + 1],
                                acc.regs[r0],    acc.regs[r0 + 1], acc.regs[r0 + 2],
                                acc.regs[r0 + 3]};
        auto m = asmCall(s4f, args, mmaText, "=f,=f,=f,=f,r,r,r,r,r,r,f,f,f,f", false, loc);
        for (int c = 0; c < 4; ++c)
          acc.regs[r0 + c] = mk<LLVM::ExtractValueOp>(b_, loc, m.getResult(0), ArrayRef<int64_t>{c});
      }
    cur = std::move(nxt);
  }
  acc.layout = cl;
  acc.splat = false;
  vals_[op.results[0]] = acc;
}

/// The A fragments of k-step kk from a 16-bit tile in the mma accumulator
/// layout of the same rows: a0..a3 of m16n8k16 are the pairs (c0, c1) and
/// (c2, c3) of the accumulator's n8 blocks 2kk and 2kk + 1.
std::vector<Value> GpuLowering::regFragsA(const TileVal &a, const DotGeom &g, int64_t kk,
                                          Location loc) {
  int64_t NIa = (a.layout->S1 / a.layout->wn) / 8;
  auto word = [&](Value x, Value y) {
    return Value(mk<LLVM::BitcastOp>(b_, loc, b_.getI32Type(), pack({x, y}, loc)));
  };
  std::vector<Value> out;
  for (int64_t im = 0; im < g.MI; ++im)
    for (int64_t in : {2 * kk, 2 * kk + 1}) {
      size_t r = size_t((im * NIa + in) * 4);
      out.push_back(word(a.regs[r], a.regs[r + 1]));
      out.push_back(word(a.regs[r + 2], a.regs[r + 3]));
    }
  // In order a0 (rows g, k lo), a1 (rows g + 8, k lo), a2 (rows g, k hi), a3.
  return out;
}

/// Every k-step's A fragments of loop invariant `a`, staged and loaded once
/// before the outermost loop that does not define it.
std::vector<Value> GpuLowering::hoistedFragsA(int a, const DotGeom &g, int64_t K, Location loc) {
  size_t d = size_t(depth_.count(a) ? depth_.at(a) : 0);
  auto key = std::make_pair(a, g.cl);
  if (auto it = hoistedFrags_.find(key); it != hoistedFrags_.end()) return it->second;
  OpBuilder::InsertionGuard guard(b_);
  b_.setInsertionPoint(loops_[d]);
  int64_t lda = K + 8;
  needShared(size_t(g.M * lda * 2));
  barrier(loc);
  stageRows(val(a), ty(a), lda, 0, loc);
  barrier(loc);
  // The geometry's values are defined at the dot: rebuild them here.
  DotGeom h = g;
  h.wRow = mul(fold<arith::DivUIOp>(b_, loc, warp_, c32(g.cl->wn)), c32(g.M / g.cl->wm), loc);
  h.l16 = fold<arith::RemUIOp>(b_, loc, lane_, c32(16));
  h.lHi = mul(fold<arith::DivUIOp>(b_, loc, lane_, c32(16)), c32(8), loc);
  h.sBase = mk<LLVM::PtrToIntOp>(b_, loc, b_.getI32Type(), smemBase_);
  std::vector<Value> all;
  for (int64_t kk = 0; kk < K / 16; ++kk) {
    std::vector<Value> f = loadFragsA(h, c32(int64_t(tempBase_)), lda, kk, loc);
    all.insert(all.end(), f.begin(), f.end());
  }
  hoistedFrags_[key] = all;
  hoistDepth_[key] = d;
  return all;
}

LLVM::InlineAsmOp GpuLowering::asmCall(TypeRange results, ValueRange args,
                                       const std::string &text, const std::string &cons,
                                       bool sideEffects, Location loc) {
  return mk<LLVM::InlineAsmOp>(b_, loc, results, args, text, cons, sideEffects, false,
                               LLVM::tailcallkind::TailCallKind::None, LLVM::AsmDialectAttr(),
                               ArrayAttr());
}

GpuLowering::DotGeom GpuLowering::dotGeom(const dsl::Op &op, Location loc) {
  const dsl::Type &at = ty(op.operands[0]), &bt = ty(op.operands[1]);
  DotGeom g;
  g.M = at.shape[0], g.K = at.shape[1], g.N = bt.shape[1];
  g.cl = mma(g.M, g.N, op.loc);
  int64_t WM = g.M / g.cl->wm, WN = g.N / g.cl->wn;
  g.MI = WM / 16, g.NI = WN / 8;
  g.wRow = mul(fold<arith::DivUIOp>(b_, loc, warp_, c32(g.cl->wn)), c32(WM), loc);
  g.wCol = mul(fold<arith::RemUIOp>(b_, loc, warp_, c32(g.cl->wn)), c32(WN), loc);
  g.l16 = fold<arith::RemUIOp>(b_, loc, lane_, c32(16));
  g.lHi = mul(fold<arith::DivUIOp>(b_, loc, lane_, c32(16)), c32(8), loc);
  g.sBase = mk<LLVM::PtrToIntOp>(b_, loc, b_.getI32Type(), smemBase_);
  return g;
}

std::vector<Value> GpuLowering::loadFrags(const DotGeom &g, Value aBase, int64_t lda,
                                          Value bBase, int64_t ldb, int64_t kk, Location loc) {
  std::vector<Value> out = loadFragsA(g, aBase, lda, kk, loc),
                     fb = loadFragsB(g, bBase, ldb, false, kk, loc);
  out.insert(out.end(), fb.begin(), fb.end());
  return out;
}

// ldmatrix reads shared memory: it must count as having side effects, or
// LLVM merges two dots' loads from the same addresses and moves them across
// barriers. mma.sync is a pure function of its registers.
std::vector<Value> GpuLowering::loadFragsA(const DotGeom &g, Value aBase, int64_t lda, int64_t kk,
                                           Location loc) {
  Type i32 = b_.getI32Type();
  Type s4i = LLVM::LLVMStructType::getLiteral(&ctx_, {i32, i32, i32, i32});
  std::vector<Value> out(size_t(g.MI * 4));
  // A via ldmatrix.x4.
  for (int64_t im = 0; im < g.MI; ++im) {
    Value row = add(add(g.wRow, c32(im * 16), loc), g.l16, loc);
    Value col = add(c32(kk * 16), g.lHi, loc);
    Value addr = add(add(g.sBase, aBase, loc),
                     mul(add(mul(row, c32(lda), loc), col, loc), c32(2), loc), loc);
    auto ld = asmCall(s4i, ValueRange{addr},
                      "ldmatrix.sync.aligned.m8n8.x4.shared.b16 {$0,$1,$2,$3}, [$4];",
                      "=r,=r,=r,=r,r", true, loc);
    for (int q = 0; q < 4; ++q)
      out[size_t(im * 4 + q)] =
          mk<LLVM::ExtractValueOp>(b_, loc, ld.getResult(0), ArrayRef<int64_t>{q});
  }
  return out;
}

std::vector<Value> GpuLowering::loadFragsB(const DotGeom &g, Value bBase, int64_t ldb, bool rows,
                                           int64_t kk, Location loc) {
  Type i32 = b_.getI32Type();
  Type s4i = LLVM::LLVMStructType::getLiteral(&ctx_, {i32, i32, i32, i32});
  Type s2i = LLVM::LLVMStructType::getLiteral(&ctx_, {i32, i32});
  std::vector<Value> out(size_t(g.NI * 2));
  bool pair = g.NI % 2 == 0;
  for (int64_t in = 0; in < g.NI; in += pair ? 2 : 1) {
    Value addr;
    if (rows) {
      // B's columns are the rows of x [N][K]: lanes 0-7 address rows n..n+7
      // at k, lanes 8-15 the same rows at k + 8 (then the next n8 block):
      // ldmatrix without .trans gives b0, b1 (, b0, b1 of block in + 1).
      Value l8 = fold<arith::RemUIOp>(b_, loc, lane_, c32(8));
      Value kHalf = mul(fold<arith::RemUIOp>(b_, loc, fold<arith::DivUIOp>(b_, loc, lane_, c32(8)),
                                             c32(2)),
                        c32(8), loc);
      Value nRow = add(add(g.wCol, c32(in * 8), loc), l8, loc);
      if (pair) nRow = add(nRow, g.lHi, loc);
      Value col = add(c32(kk * 16), kHalf, loc);
      addr = add(add(g.sBase, bBase, loc), mul(add(mul(nRow, c32(ldb), loc), col, loc), c32(2), loc),
                 loc);
    } else {
      // B via ldmatrix.x4.trans, two n8 blocks at a time when there are
      // (lanes 16-31 address the second block), else x2.trans.
      Value row = add(c32(kk * 16), g.l16, loc);
      Value col = add(g.wCol, c32(in * 8), loc);
      if (pair) col = add(col, g.lHi, loc);
      addr = add(add(g.sBase, bBase, loc), mul(add(mul(row, c32(ldb), loc), col, loc), c32(2), loc),
                 loc);
    }
    std::string tr = rows ? "" : ".trans";
    auto ld = pair ? asmCall(s4i, ValueRange{addr},
                             "ldmatrix.sync.aligned.m8n8.x4" + tr + ".shared.b16 {$0,$1,$2,$3}, [$4];",
                             "=r,=r,=r,=r,r", true, loc)
                   : asmCall(s2i, ValueRange{addr},
                             "ldmatrix.sync.aligned.m8n8.x2" + tr + ".shared.b16 {$0,$1}, [$2];",
                             "=r,=r,r", true, loc);
    for (int q = 0; q < (pair ? 4 : 2); ++q)
      out[size_t((in + q / 2) * 2 + q % 2)] =
          mk<LLVM::ExtractValueOp>(b_, loc, ld.getResult(0), ArrayRef<int64_t>{q});
  }
  return out;
}

// Sort and top-k of each row: a bitonic sorting network over (value, index)
// pairs in shared memory, all threads sharing the compare-exchanges of each
// step. Order: values descending (top-k, descending sort) or ascending, ties
// by ascending index, which is the stable order. Cost for R rows of L
// elements: log2(L) (log2(L) + 1) / 2 steps of R L / 2 compare-exchanges
// (45 steps of 256 for L = 512, 2 per thread at 4 warps) and one barrier each,
// against R L^2 comparisons for ranking every element.
void GpuLowering::lowerSort(const dsl::Op &op, Location loc) {
  const dsl::Type &st = ty(op.operands[0]);
  const dsl::Type &rt = ty(op.results[0]);
  auto [R, L] = view2d(st.shape);
  bool desc = op.kind == OpKind::TopK || op.ints[0] != 0;
  int eb = storageBytes(st.dtype);
  TileVal in = val(op.operands[0]);
  if (in.splat || !in.layout) in = toLayout(in, st, defaultLayout(st), loc);
  size_t idxOff = size_t(R * L * eb + 15) / 16 * 16;
  needShared(idxOff + size_t(R * L * 4));
  barrier(loc);
  writeShared(in, st, loc);
  for (size_t r = 0; r < in.regs.size(); ++r) {
    auto [i, j] = coords(in.layout, r, loc);
    Value pos = add(mul(i, c32(L), loc), j, loc);
    smemStore(j, DType::i32, add(mul(pos, c32(4), loc), c32(int64_t(idxOff)), loc), loc);
  }
  barrier(loc);
  Value tid = add(mul(warp_, c32(32), loc), lane_, loc);
  int64_t pairs = R * L / 2, half = L / 2;
  auto valAt = [&](Value pos) { return smemLoad(st.dtype, mul(pos, c32(eb), loc), loc); };
  auto idxAt = [&](Value pos) {
    return smemLoad(DType::i32, add(mul(pos, c32(4), loc), c32(int64_t(idxOff)), loc), loc);
  };
  auto put = [&](Value pos, Value v, Value ix) {
    smemStore(v, st.dtype, mul(pos, c32(eb), loc), loc);
    smemStore(ix, DType::i32, add(mul(pos, c32(4), loc), c32(int64_t(idxOff)), loc), loc);
  };
  // Whether (v, i) comes before (w, k) in the final order.
  auto before = [&](Value v, Value i, Value w, Value k) {
    Value strictly = se_.emit(loc, desc ? OpKind::CmpGT : OpKind::CmpLT, {v, w}, st.dtype,
                              DType::i1, st.dtype);
    Value eq = se_.emit(loc, OpKind::CmpEQ, {v, w}, st.dtype, DType::i1, st.dtype);
    Value lower = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::slt, i, k);
    return fold<arith::OrIOp>(b_, loc, strictly, fold<arith::AndIOp>(b_, loc, eq, lower));
  };
  for (int64_t k = 2; k <= L; k *= 2)
    for (int64_t jj = k / 2; jj >= 1; jj /= 2) {
      for (int64_t p0 = 0; p0 < pairs; p0 += nthreads_) {
        Value p = add(tid, c32(p0), loc);
        auto step = [&] {
          // Pair (a, a + jj) of row p / half: a has bit jj clear.
          Value row = fold<arith::DivUIOp>(b_, loc, p, c32(half));
          Value q = fold<arith::RemUIOp>(b_, loc, p, c32(half));
          Value a = add(mul(fold<arith::DivUIOp>(b_, loc, q, c32(jj)), c32(2 * jj), loc),
                        fold<arith::RemUIOp>(b_, loc, q, c32(jj)), loc);
          Value up = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::eq,
                                       fold<arith::AndIOp>(b_, loc, a, c32(k)), c32(0));
          Value pa = add(mul(row, c32(L), loc), a, loc), pb = add(pa, c32(jj), loc);
          Value va = valAt(pa), ia = idxAt(pa), vb = valAt(pb), ib = idxAt(pb);
          // Ascending runs (up) want a before b; descending runs the reverse.
          Value swap = mk<arith::SelectOp>(b_, loc, up, before(vb, ib, va, ia), before(va, ia, vb, ib));
          auto sel = [&](Value x, Value y) { return mk<arith::SelectOp>(b_, loc, swap, x, y); };
          put(pa, sel(vb, va), sel(ib, ia));
          put(pb, sel(va, vb), sel(ia, ib));
        };
        if (p0 + nthreads_ <= pairs) {
          step();
        } else {
          auto ifOp = mk<scf::IfOp>(b_, loc,
                                    mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::ult, p, c32(pairs)),
                                    false);
          OpBuilder::InsertionGuard g(b_);
          b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
          step();
        }
      }
      barrier(loc);
    }
  const Layout *dst = defaultLayout(rt);
  TileVal vout{dst, false, {}}, iout{dst, false, {}};
  for (size_t r = 0; r < dst->numRegs(); ++r) {
    auto [i, p] = coords(dst, r, loc);
    Value pos = add(mul(i, c32(L), loc), p, loc);
    vout.regs.push_back(valAt(pos));
    iout.regs.push_back(idxAt(pos));
  }
  vals_[op.results[0]] = vout;
  if (op.results.size() > 1) vals_[op.results[1]] = iout;
}

// Through shared memory: the source is written once, every thread then reads
// the elements its own indices name.
void GpuLowering::lowerGather(const dsl::Op &op, Location loc) {
  const dsl::Type &st = ty(op.operands[0]);
  const dsl::Type &rt = ty(op.results[0]);
  int eb = storageBytes(st.dtype);
  int64_t n = st.numel();
  TileVal in = val(op.operands[0]);
  if (in.splat || !in.layout) in = toLayout(in, st, defaultLayout(st), loc);
  const Layout *dst = defaultLayout(rt);
  TileVal idx = convert(op.operands[1], dst, loc);
  needShared(size_t(n * eb));
  barrier(loc);
  writeShared(in, st, loc);
  barrier(loc);
  TileVal out{dst, false, {}};
  for (Value i : idx.regs) {
    i = mk<arith::MaxSIOp>(b_, loc, mk<arith::MinSIOp>(b_, loc, i, c32(n - 1)), c32(0));
    out.regs.push_back(smemLoad(st.dtype, mul(i, c32(eb), loc), loc));
  }
  vals_[op.results[0]] = out;
}

const Layout *GpuLowering::sliceParent(int v, int depth) {
  auto d = allDefs_.find(v);
  if (d == allDefs_.end() || depth > 12) return nullptr;
  const dsl::Op &op = *d->second;
  if ((op.kind == OpKind::ReduceMax || op.kind == OpKind::ReduceSum ||
       op.kind == OpKind::ReduceMin) &&
      ty(op.operands[0]).shape.size() == 2 && op.ints[0] == 1 && fromDot(op.operands[0], 0)) {
    auto &sh = ty(op.operands[0]).shape;
    return mma(sh[0], sh[1], op.loc);
  }
  if (!(op.kind >= OpKind::Add && op.kind <= OpKind::AddPtr)) return nullptr;
  for (int o : op.operands)
    if (const Layout *p = sliceParent(o, depth + 1)) return p;
  return nullptr;
}

const Layout *GpuLowering::carriedLayout(const dsl::Op &forOp, size_t i, Location loc) {
  int init = forOp.operands[3 + i];
  const dsl::Type &t = ty(init);
  if (!t.isTile()) return nullptr;
  const TileVal &v = val(init);
  if (v.layout && !v.splat) return v.layout;
  // A row statistic of a dot result (softmax's max and sum) stays in the
  // rows of the dot's mma layout.
  int yielded = forOp.regions[0]->ops.back().operands[i];
  if (chained_ && t.shape.size() == 1)
    if (const Layout *p = sliceParent(yielded, 0))
      if (p->S0 == t.shape[0]) return rowsOf(p, Layout::Slice);
  // An accumulator rescaled before the dot (softmax's acc * alpha) too.
  if (chained_ && t.shape.size() == 2 && fromDot(yielded, 0))
    return mma(t.shape[0], t.shape[1], forOp.loc);
  // A splat init that feeds a dot accumulator lives in the mma layout.
  int arg = forOp.regions[0]->args[1 + i];
  for (const dsl::Op &op : forOp.regions[0]->ops)
    if (op.kind == OpKind::Dot && op.operands[2] == arg)
      return mma(t.shape[0], t.shape[1], op.loc);
  return defaultLayout(t);
}

std::vector<Value> GpuLowering::flatten(const std::vector<int> &ids,
                                        const std::vector<const Layout *> &ls, Location loc) {
  std::vector<Value> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    TileVal v = ls[i] ? convert(ids[i], ls[i], loc) : val(ids[i]);
    out.insert(out.end(), v.regs.begin(), v.regs.end());
  }
  return out;
}

namespace {
/// Counts the uses of every value in `blk` and its nested regions.
void countUses(const dsl::Block &blk, std::map<int, int> &uses) {
  for (const dsl::Op &o : blk.ops) {
    for (int v : o.operands) ++uses[v];
    for (auto &r : o.regions) countUses(*r, uses);
  }
}
} // namespace

std::optional<GpuLowering::Pipeline> GpuLowering::planPipeline(const dsl::Op &op) {
  auto it = k_.config.find("num_stages");
  int stages = it == k_.config.end() ? 1 : static_cast<int>(it->second);
  if (stages < 2) return std::nullopt;
  const dsl::Block &blk = *op.regions[0];
  std::map<int, int> uses;
  countUses(blk, uses);
  std::map<int, const dsl::Op *> def;
  for (const dsl::Op &o : blk.ops)
    for (int r : o.results) def[r] = &o;
  Pipeline plan;
  plan.stages = stages;
  // 1. Loads of 2-byte tiles whose only use is as an operand of a dot of
  //    this body (B may be a transpose of such a load that only the dot
  //    reads). The other operand may come from registers or be a loop
  //    invariant (attention's P and Q).
  for (const dsl::Op &o : blk.ops) {
    if (o.kind != OpKind::Dot) continue;
    std::vector<const dsl::Op *> ls;
    for (int i = 0; i < 2; ++i) {
      int x = o.operands[i];
      if (i == 1 && transB_.count(x) && def.count(x)) x = def[x]->operands[0];
      auto d = def.find(x);
      if (d != def.end() && d->second->kind == OpKind::Load && uses[x] == 1 &&
          dsl::dtypeBytes(ty(x).dtype) == 2)
        ls.push_back(d->second);
    }
    plan.loads.insert(plan.loads.end(), ls.begin(), ls.end());
  }
  if (plan.loads.empty()) return std::nullopt;
  // 2. The ops computing their addresses and masks: pure ops of this body
  //    that depend on the induction variable and loop invariants only.
  std::set<int> carried(blk.args.begin() + 1, blk.args.end());
  std::set<const dsl::Op *> slice;
  bool ok = true;
  std::function<void(int)> visit = [&](int v) {
    if (carried.count(v)) ok = false;
    auto d = def.find(v);
    if (d == def.end() || slice.count(d->second)) return;
    const dsl::Op *o = d->second;
    // Loads of indices and gathers from loop invariants may address the
    // copies (gathered rows): they run with the copies, num_stages - 1
    // iterations ahead of the dot that reads the rows.
    if (!o->regions.empty() || o->kind == OpKind::Dot ||
        (o->kind >= OpKind::ReduceSum && o->kind < OpKind::Gather))
      ok = false;
    slice.insert(o);
    for (int x : o->operands) visit(x);
  };
  for (const dsl::Op *l : plan.loads)
    for (int x : l->operands) visit(x);
  if (!ok) return std::nullopt;
  for (const dsl::Op &o : blk.ops)
    if (slice.count(&o)) plan.slice.push_back(&o);
  // 3. One buffer per load and stage, rows padded by 8 halfs.
  size_t off = tempBase_;
  for (const dsl::Op *l : plan.loads) {
    auto [R, C] = view2d(ty(l->results[0]).shape);
    plan.ld.push_back(C + 8);
    plan.base.push_back(off);
    plan.stageBytes.push_back(size_t(R * (C + 8) * 2 + 127) / 128 * 128);
    off += plan.stageBytes.back() * size_t(stages);
  }
  plan.end = off;
  return plan;
}

/// True when value `id` is a splat of the constant 0.
bool GpuLowering::isZero(int id) {
  auto d = defs_.find(id);
  if (d == defs_.end()) return false;
  const dsl::Op *op = d->second;
  if (op->kind == OpKind::Splat) return isZero(op->operands[0]);
  return op->kind == OpKind::Constant && op->fconst == 0 && op->iconst == 0;
}

void GpuLowering::asmVoid(const std::string &text, ValueRange args, const std::string &cons,
                          Location loc) {
  asmCall(TypeRange{}, args, text, cons, true, loc);
}

bool GpuLowering::issueCopies(const Pipeline &plan, Value iv, Value hi, Value stage,
                              const dsl::Block &blk, Location loc) {
  vals_[blk.args[0]] = {nullptr, false, {iv}, 1, ivDiv_, kBig};
  for (const dsl::Op *o : plan.slice) lowerOp(*o);
  for (const dsl::Op *l : plan.loads) {
    const TileVal &p = val(l->operands[0]);
    const Layout *lay = p.layout;
    if (!lay || lay->kind != Layout::Blocked || lay->wrap1 || lay->s1 % 8 != 0 ||
        vectorWidth(p, nullptr, 2) != 8)
      return false; // addresses not provably 16-byte runs: no cp.async
  }
  Value inRange = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::slt, iv, hi);
  Value sBase = mk<LLVM::PtrToIntOp>(b_, loc, b_.getI32Type(), smemBase_);
  for (size_t n = 0; n < plan.loads.size(); ++n) {
    const dsl::Op &l = *plan.loads[n];
    const TileVal &p = val(l.operands[0]);
    const Layout *lay = p.layout;
    bool masked = l.operands.size() > 1;
    TileVal mask, other;
    if (masked) {
      mask = convert(l.operands[1], lay, loc);
      other = convert(l.operands[2], lay, loc);
    }
    Type et = regType(ty(l.results[0]).dtype);
    bool prefixMask = masked && std::max(mask.prefix, mask.cst) >= 8 && isZero(l.operands[2]);
    Value stageOff = add(c32(int64_t(plan.base[n])),
                         mul(stage, c32(int64_t(plan.stageBytes[n])), loc), loc);
    for (size_t g = 0; g < p.regs.size(); g += 8) {
      auto [i, j] = coords(lay, g, loc);
      Value dst = add(stageOff, mul(add(mul(i, c32(plan.ld[n]), loc), j, loc), c32(2), loc), loc);
      Value src = mk<LLVM::PtrToIntOp>(b_, loc, b_.getI64Type(), p.regs[g]);
      auto cpAsync = [&](Value srcBytes) {
        asmVoid("cp.async.cg.shared.global [$0], [$1], 16, $2;",
                ValueRange{add(sBase, dst, loc), src, srcBytes}, "r,l,r", loc);
      };
      if (!masked) { // zero-filled past the loop's end
        cpAsync(mk<arith::SelectOp>(b_, loc, inRange, c32(16), c32(0)));
        continue;
      }
      if (prefixMask && mask.cst >= 8) { // the whole group is in or out
        cpAsync(mk<arith::SelectOp>(b_, loc, fold<arith::AndIOp>(b_, loc, mask.regs[g], inRange),
                                    c32(16), c32(0)));
        continue;
      }
      if (prefixMask) {
        // The valid elements of each run come first: copy just those, the
        // rest of the 16 bytes is zero-filled (other == 0). Their bytes: 2x
        // the index of the first invalid element (a chain of selects).
        Value bytes = c32(16);
        for (int e = 7; e >= 0; --e)
          bytes = mk<arith::SelectOp>(b_, loc, mask.regs[g + e], bytes, c32(2 * e));
        cpAsync(mk<arith::SelectOp>(b_, loc, inRange, bytes, c32(0)));
        continue;
      }
      // Whole group in bounds: one asynchronous 16-byte copy; otherwise a
      // synchronous masked load (rare: tile edges).
      std::vector<Value> m;
      for (int e = 0; e < 8; ++e) m.push_back(fold<arith::AndIOp>(b_, loc, mask.regs[g + e], inRange));
      auto ifOp = mk<scf::IfOp>(b_, loc, allTrue(m, loc), true);
      OpBuilder::InsertionGuard guard(b_);
      b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      cpAsync(c32(16));
      b_.setInsertionPoint(ifOp.elseBlock()->getTerminator());
      std::vector<Value> ptrs = groupPointers(p.regs[g], 8, ty(l.results[0]).dtype, loc), got;
      for (int e = 0; e < 8; ++e)
        got.push_back(loadGroup(ArrayRef<Value>(ptrs).slice(e, 1), ArrayRef<Value>(m).slice(e, 1),
                                ArrayRef<Value>(other.regs).slice(g + e, 1), et, 2, loc)[0]);
      mk<LLVM::StoreOp>(b_, loc, pack(got, loc), smemPtrAbs(dst, loc), 16u);
    }
  }
  asmVoid("cp.async.commit_group;", ValueRange{}, "", loc);
  return true;
}

void GpuLowering::lowerFor(const dsl::Op &op, Location loc) {
  size_t nc = op.results.size();
  const dsl::Block &blk = *op.regions[0];
  Value lo = val(op.operands[0]).regs[0], hi = val(op.operands[1]).regs[0];
  Value step = val(op.operands[2]).regs[0];
  ivDiv_ = std::min(val(op.operands[0]).div, val(op.operands[2]).div);
  std::vector<const Layout *> ls;
  for (size_t i = 0; i < nc; ++i) ls.push_back(carriedLayout(op, i, loc));
  // Software pipelining (num_stages >= 2): the loads feeding dots become
  // cp.async copies into a ring of shared buffers, issued num_stages - 1
  // iterations ahead. The prologue fills the first stages.
  std::optional<Pipeline> plan = planPipeline(op);
  size_t savedTemp = tempBase_;
  if (plan) {
    tempBase_ = plan->end;
    needShared(0);
    for (int s = 0; plan && s + 1 < plan->stages; ++s) {
      Value ivS = add(lo, mul(step, c32(s), loc), loc);
      if (!issueCopies(*plan, ivS, hi, c32(s), blk, loc)) {
        // Only at s == 0, before any copy: what was emitted is pure and dies.
        plan.reset();
        tempBase_ = savedTemp;
      }
    }
  }
  // With one pipelined dot, its first k-step fragments are loaded an
  // iteration ahead: the loop waits for the next stage (wait_group, barrier)
  // before the dot's last k-step instead of at its top, and carries the
  // fragments. Iteration i's copies, issued at its top, overwrite the stage
  // of iteration i - 1: every warp read that stage before the barrier of
  // iteration i - 1, so they need no barrier of their own. Its wait then
  // covers tile i + 1 (S - 1 groups from the prologue, i + 1 from the loop).
  const dsl::Op *aheadDot = nullptr;
  std::vector<Value> frags0;
  if (plan && plan->loads.size() == 2) {
    for (const dsl::Op &o : blk.ops)
      if (o.kind == OpKind::Dot && o.operands[0] == plan->loads[0]->results[0] &&
          o.operands[1] == plan->loads[1]->results[0])
        aheadDot = &o;
  }
  if (aheadDot) {
    asmVoid("cp.async.wait_group " + std::to_string(plan->stages - 2) + ";", ValueRange{}, "",
            loc);
    barrier(loc);
    frags0 = loadFrags(dotGeom(*aheadDot, loc), c32(int64_t(plan->base[0])), plan->ld[0],
                       c32(int64_t(plan->base[1])), plan->ld[1], 0, loc);
  }
  std::vector<int> inits(op.operands.begin() + 3, op.operands.end());
  std::vector<Value> flat = flatten(inits, ls, loc);
  size_t nflat = flat.size();
  if (plan) flat.push_back(c32(0)); // the stage this iteration reads
  flat.insert(flat.end(), frags0.begin(), frags0.end());
  auto loop = mk<scf::ForOp>(b_, loc, lo, hi, step, flat);
  loops_.push_back(loop);
  for (int a : blk.args) depth_[a] = int(loops_.size());
  auto unflatten = [&](ValueRange regs, const std::vector<int> &ids) {
    size_t pos = 0;
    for (size_t i = 0; i < nc; ++i) {
      size_t n = ls[i] ? ls[i]->numRegs() : 1;
      TileVal v{ls[i], false, {}};
      for (size_t r = 0; r < n; ++r) v.regs.push_back(regs[pos++]);
      vals_[ids[i]] = v;
    }
  };
  {
    OpBuilder::InsertionGuard g(b_);
    Block *body = loop.getBody();
    if (!body->empty() && body->back().hasTrait<OpTrait::IsTerminator>())
      body->back().erase();
    b_.setInsertionPointToEnd(body);
    Value iv = loop.getInductionVar();
    Value stage;
    if (plan) {
      int S = plan->stages;
      stage = loop.getRegionIterArgs()[nflat];
      if (!aheadDot) {
        asmVoid("cp.async.wait_group " + std::to_string(S - 2) + ";", ValueRange{}, "", loc);
        barrier(loc);
      }
      Value ivNext = add(iv, mul(step, c32(S - 1), loc), loc);
      Value wstage = fold<arith::RemUIOp>(b_, loc, add(stage, c32(S - 1), loc), c32(S));
      if (!issueCopies(*plan, ivNext, hi, wstage, blk, loc))
        throw InternalError("pipelined loop: copies failed after the prologue succeeded");
      for (size_t n = 0; n < plan->loads.size(); ++n)
        pipe_[plan->loads[n]->results[0]] = {
            add(c32(int64_t(plan->base[n])), mul(stage, c32(int64_t(plan->stageBytes[n])), loc), loc),
            plan->ld[n]};
      if (aheadDot) {
        Value next = fold<arith::RemUIOp>(b_, loc, add(stage, c32(1), loc), c32(S));
        prefetch_ = FragPrefetch{aheadDot, S,
                                 std::vector<Value>(loop.getRegionIterArgs().begin() + nflat + 1,
                                                    loop.getRegionIterArgs().end()),
                                 add(c32(int64_t(plan->base[0])),
                                     mul(next, c32(int64_t(plan->stageBytes[0])), loc), loc),
                                 add(c32(int64_t(plan->base[1])),
                                     mul(next, c32(int64_t(plan->stageBytes[1])), loc), loc),
                                 {}};
      }
    }
    vals_[blk.args[0]] = {nullptr, false, {iv}, 1, ivDiv_, kBig};
    unflatten(loop.getRegionIterArgs(), std::vector<int>(blk.args.begin() + 1, blk.args.end()));
    for (size_t i = 0; i + 1 < blk.ops.size(); ++i) lowerOp(blk.ops[i]);
    std::vector<Value> next = flatten(blk.ops.back().operands, ls, loc);
    if (plan)
      next.push_back(fold<arith::RemUIOp>(b_, loc, add(stage, c32(1), loc), c32(plan->stages)));
    if (aheadDot) {
      if (prefetch_->next.size() != frags0.size())
        throw InternalError("pipelined loop: the dot did not load the next fragments");
      next.insert(next.end(), prefetch_->next.begin(), prefetch_->next.end());
      prefetch_.reset();
    }
    mk<scf::YieldOp>(b_, loc, next);
  }
  loops_.pop_back();
  for (auto it = hoistDepth_.begin(); it != hoistDepth_.end();) {
    if (it->second < loops_.size()) { ++it; continue; }
    hoist_.erase(it->first);
    hoistedFrags_.erase(it->first);
    it = hoistDepth_.erase(it);
  }
  unflatten(loop.getResults(), op.results);
  if (plan) {
    // Copies of the iterations past the end may still be landing.
    asmVoid("cp.async.wait_all;", ValueRange{}, "", loc);
    barrier(loc);
    for (const dsl::Op *l : plan->loads) {
      pipe_.erase(l->results[0]);
      pipelined_.insert(l->results[0]);
    }
    tempBase_ = savedTemp;
  }
}

void GpuLowering::lowerIf(const dsl::Op &op, Location loc) {
  size_t nr = op.results.size();
  std::vector<const Layout *> ls;
  for (size_t i = 0; i < nr; ++i)
    ls.push_back(ty(op.results[i]).isTile() ? defaultLayout(ty(op.results[i])) : nullptr);
  std::vector<Type> types;
  for (size_t i = 0; i < nr; ++i) {
    size_t n = ls[i] ? ls[i]->numRegs() : 1;
    Type t = regType(ty(op.results[i]).dtype);
    types.insert(types.end(), n, t);
  }
  auto ifOp = mk<scf::IfOp>(b_, loc, types, val(op.operands[0]).regs[0], true);
  for (int br = 0; br < 2; ++br) {
    OpBuilder::InsertionGuard g(b_);
    Block *blk = br == 0 ? ifOp.thenBlock() : ifOp.elseBlock();
    if (!blk->empty() && blk->back().hasTrait<OpTrait::IsTerminator>()) blk->back().erase();
    b_.setInsertionPointToEnd(blk);
    const dsl::Block &src = *op.regions[br];
    for (size_t i = 0; i + 1 < src.ops.size(); ++i) lowerOp(src.ops[i]);
    mk<scf::YieldOp>(b_, loc, flatten(src.ops.back().operands, ls, loc));
  }
  size_t pos = 0;
  for (size_t i = 0; i < nr; ++i) {
    size_t n = ls[i] ? ls[i]->numRegs() : 1;
    TileVal v{ls[i], false, {}};
    for (size_t r = 0; r < n; ++r) v.regs.push_back(ifOp.getResult(pos++));
    vals_[op.results[i]] = v;
  }
}

} // namespace

Lowered lowerToGpu(const dsl::Kernel &k, const Target &t, MLIRContext &ctx, bool wantLayouts) {
  GpuLowering l(k, t, ctx, wantLayouts);
  return l.run();
}

} // namespace hip::detail

namespace hip {
// Warps along M first while each warp keeps >= 16 rows, then along N.
std::pair<int, int> mmaWarpGrid(int64_t M, int64_t N, int numWarps) {
  int wm = 1;
  while (wm < numWarps && M % (16 * wm * 2) == 0 && M / (wm * 2) >= N / (numWarps / (wm * 2)))
    wm *= 2;
  return {wm, numWarps / wm};
}

bool dotTileable(int64_t M, int64_t N, int numWarps) {
  auto [wm, wn] = mmaWarpGrid(M, N, numWarps);
  return M % (16 * wm) == 0 && N % (8 * wn) == 0;
}

int fittingWarps(int numWarps, const std::vector<std::pair<int64_t, int64_t>> &dots) {
  auto fits = [&](int w) {
    return std::all_of(dots.begin(), dots.end(), [&](auto &d) { return dotTileable(d.first, d.second, w); });
  };
  while (numWarps > 1 && !fits(numWarps)) numWarps /= 2;
  return numWarps;
}
} // namespace hip
