//===- compiler/gpu/GpuLowering.h - The GPU backend's lowering class -*- C++ -*-===//
//
// Private to compiler/gpu/: the state and the methods of the tile IR ->
// per-thread NVVM lowering, one file per op family under lowering/ (see
// driver.cpp for what the whole lowering assumes and produces).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "../lowering.h"
#include "../tile/tile.h"
#include "lowering/ptx.h"
#include "transforms/AccelerateDot.h"
#include "transforms/AssignBlocked.h"
#include "transforms/AxisInfo.h"
#include "transforms/OptimizeDotOperands.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>

namespace hip::detail::gpu {
using namespace mlir;
using dsl::DType;
using dsl::OpKind;

struct Layout {
  /// Slice: a 1-D [M] tile (2-D view (1, M)) holding the rows of an Mma
  /// parent (a row reduction's result; warps and lanes of a row replicate it).
  /// RowBcast: the same rows as an [M, 1] tile (its expand_dims): a
  /// broadcast of it into an Mma layout with that warp grid is free.
  /// Cols: a 1-D [N] tile (2-D view (1, N)) holding the columns of an Mma
  /// parent, each thread the columns of its accumulator registers (what a
  /// [BN] vector of key indices becomes before it is broadcast along M).
  /// BlockedRows: a 1-D [N] tile (view (1, N)) holding the rows of a Blocked
  /// parent, each thread the rows of its registers (the same key indices
  /// before they address the rows of a [BN, D] load).
  enum Kind { Blocked, Mma, Slice, RowBcast, Cols, BlockedRows } kind = Blocked;
  int64_t S0 = 1, S1 = 1;                  // 2-D view of the shape
  int s0 = 1, s1 = 1, t0 = 1, t1 = 32, w0 = 1, w1 = 1; // blocked
  int wm = 1, wn = 1;                      // mma warp grid
  bool wrap0 = false, wrap1 = false;       // footprint exceeds the shape
  std::vector<std::pair<int64_t, int64_t>> off; // per-register offsets
  size_t numRegs() const { return off.size(); }
};

/// "Unbounded" in the axis analysis.
constexpr int64_t kBig = AxisInfo::kBig;

/// How a group of elements travels through inline PTX (see ptxWords()).
struct PtxWords {
  int count, bits;
};

/// Values of a tile (or scalar) in registers, with what is known of them
/// along the last dimension (the axis analysis that lets loads and stores
/// be vectorised): runs of `contig` consecutive values (addresses for
/// pointers, in elements), each run's first value a multiple of `div`, and
/// runs of `cst` equal values.
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

inline int log2floor(int64_t v) {
  int r = 0;
  while ((int64_t(1) << (r + 1)) <= v) ++r;
  return r;
}

/// Bytes of one element in shared memory (i1 as a byte).
inline int storageBytes(DType t) { return t == DType::i1 ? 1 : dsl::dtypeBytes(t); }

/// Index of the register of rows layout `rows` (Slice or RowBcast) that holds
/// the row of register `r` of `l` (an Mma or rows layout of the same grid).
inline size_t rowRegister(const Layout *l, size_t r) {
  int64_t row = l->kind == Layout::Slice ? l->off[r].second : l->off[r].first;
  return size_t(row / 8);
}

/// Index of the register of Cols layout `cols` that holds the column of
/// register `r` of Mma layout `l` (the same warp grid).
inline size_t colRegister(const Layout *l, size_t r) {
  int64_t col = l->off[r].second;
  return size_t(col / 8 * 2 + col % 2);
}

/// Index of the register of BlockedRows layout `rows` that holds the row of
/// register `r` of its Blocked parent `l`.
inline size_t blockedRowRegister(const Layout *l, size_t r) {
  int64_t fp0 = int64_t(l->s0) * l->t0 * l->w0;
  return size_t(l->off[r].first / fp0);
}

/// How a group of `vec` elements of `eb` bytes travels through inline PTX.
PtxWords ptxWords(int vec, int eb);

class GpuLowering {
public:
  /// Lowers `kernel` (verified, through the GPU passes: its values carry
  /// hip-axis-info facts, its dots hip-accelerate-dot plans) into a new
  /// module of `ctx`, the kernel's context.
  GpuLowering(tile::KernelOp kernel, const Target &t, MLIRContext &ctx, bool wantLayouts);

  Lowered run();
  Attribute describe(int id);

private:
  // ---- layouts ----
  const Layout *blocked(int64_t S0, int64_t S1);
  /// A blocked layout of the (S0, S1) view: s1 consecutive elements per
  /// thread along dimension 1, t0 x t1 lanes and w0 x w1 warps (dimension 1
  /// fastest).
  const Layout *blockedWith(int64_t S0, int64_t S1, int s1, int t0, int t1, int w0, int w1);
  /// A layout as the tile dialect's encoding (#tile.blocked, #tile.mma,
  /// #tile.slice) of a tile of `rank` dimensions.
  Attribute encodingOf(const Layout &l, size_t rank);
  /// The layout encoding `enc` names for a tile of type `t` (a
  /// CompileError where the lowering has no such layout).
  const Layout *layoutOf(Attribute enc, const dsl::Type &t, const SourceLoc &where);
  const Layout *mma(int64_t M, int64_t N, const SourceLoc &where);
  const Layout *mmaWith(int64_t M, int64_t N, int wm, int wn, const SourceLoc &where);
  /// The accumulator layout of a dot: its result type's encoding (hip-dot-encodings).
  const Layout *dotLayout(Operation *dot);
  /// The Slice (1-D) or RowBcast ([M, 1]) layout of the rows of Mma `parent`.
  const Layout *rowsOf(const Layout *parent, Layout::Kind kind);
  /// The Cols layout of the columns of Mma `parent`.
  const Layout *colsOf(const Layout *parent);
  /// The BlockedRows layout of the rows of Blocked `parent`.
  const Layout *blockedRowsOf(const Layout *parent);
  /// Leaves remat() moved (source registers, layout -> the moved value):
  /// reused by later remat() calls where the move dominates.
  std::map<std::pair<const void *, const Layout *>, TileVal> leafMoves_;
  const Layout *defaultLayout(const dsl::Type &t) {
    auto [a, c] = view2d(t.shape);
    return blocked(a, c);
  }
  /// The layout the type of `r` (of DSL type `t`) names (hip-assign-blocked's
  /// blocked encodings), else the default blocked one of its shape.
  const Layout *namedOrDefault(Value r, const dsl::Type &t, const SourceLoc &where) {
    auto rt = dyn_cast<RankedTensorType>(r.getType());
    return rt && rt.getEncoding() ? layoutOf(rt.getEncoding(), t, where) : defaultLayout(t);
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
  Value sub(Value a, Value c, Location l) { return fold<arith::SubIOp>(b_, l, a, c); }
  void barrier(Location l) {
    mk<NVVM::Barrier0Op>(b_, l);
    ++barriers_;
  }
  Value smemPtr(Value byteOffset, Location l);
  void smemStore(Value v, DType t, Value byteOffset, Location l);
  Value smemLoad(DType t, Value byteOffset, Location l);
  /// Temporary shared memory (layout changes, dot staging) lives above
  /// tempBase_; below it are the buffers of the loops being lowered, at the
  /// offsets hip-allocate-shared gave them (a loop's hip.smem_top).
  void needShared(size_t bytes) { smemBytes_ = std::max(smemBytes_, tempBase_ + bytes); }
  Value smemPtrAbs(Value byteOffset, Location l);
  Type regType(DType t) { return elementType(&ctx_, t, 1); }

  /// `v` materialised in layout `l` (splats for free, others via shared).
  TileVal toLayout(const TileVal &v, const dsl::Type &t, const Layout *l, Location loc);
  /// Value `id` in layout `l`: recomputed there if it can be, else moved.
  TileVal convert(int id, const Layout *l, Location loc);
  std::optional<TileVal> remat(int id, const Layout *l, Location loc);
  /// The values remat() cannot recompute that value `id` is computed from
  /// (loads, reductions, loop-carried values).
  void leavesOf(int id, std::set<int> &out, std::set<int> &seen);
  /// Generic shared-memory gather: dst element (i, j) := src[linear(i, j)].
  TileVal gather(const TileVal &src, const dsl::Type &srcT, const Layout *dst,
                 const std::function<Value(Value, Value)> &linear, Location loc);
  void writeShared(const TileVal &src, const dsl::Type &srcT, Location loc,
                   size_t byteBase = 0);
  /// Whether this thread writes its copy of layout `l`'s elements (null:
  /// every thread; a layout that replicates elements names one holder each).
  Value ownsCopy(const Layout *l, Location loc);

  // ---- the tile.kernel being lowered ----
  // Its values are numbered (ints) in the order of the DSL builder (kernel
  // arguments; op by op, a region's block arguments and ops before the op's
  // results); the maps below that are keyed by value iterate in that
  // program order, which keeps the emitted code deterministic.
  void numberBlock(Block &blk, const AxisInfoAnalysis &axis);
  int define(Value v, const AxisInfo &facts);
  OpKind kind(Operation *op) const { return kinds_.lookup(op); }
  int id(Value v) const;
  int arg(Operation *op, unsigned i) const { return id(op->getOperand(i)); }
  int res(Operation *op, unsigned i) const { return id(op->getResult(i)); }
  std::vector<int> args(Operation *op) const;
  std::vector<int> results(Operation *op) const;
  std::vector<int> blockArgs(Block &blk) const;
  /// Op `op`'s integer attribute `name` (the verifier guarantees it).
  static int64_t intAttr(Operation *op, StringRef name) { return tile::intAttrOf(op, name); }
  /// The body of `op`'s region `r` (tile.for, tile.if).
  static Block &body(Operation *op, unsigned r = 0) { return op->getRegion(r).front(); }
  /// The user's file:line:column of `op`, for messages.
  SourceLoc srcLoc(Operation *op) const { return tile::sourceLocOf(op->getLoc()); }
  /// The text of --emit layouts: the kernel with each op's layout.
  std::string printLayouts();

  // ---- ops ----
  void lowerBlock(Block &blk);
  void lowerOp(Operation *op);
  void lowerOpImpl(Operation *op);
  /// `v` with the hip-axis-info facts of value `id` (dsl::Kernel::axis).
  TileVal withFacts(TileVal v, int id) const;
  int vectorWidth(const TileVal &ptr, const TileVal *mask, int elemBytes) const;
  void lowerElementwise(Operation *op, Location loc);
  Value pack(ArrayRef<Value> elems, Location loc);
  std::vector<Value> toWords(ArrayRef<Value> elems, const PtxWords &pw, Location loc);
  std::vector<Value> unpack(Value v, int n, Location loc);
  std::vector<Value> loadGroup(ArrayRef<Value> ptrs, ArrayRef<Value> masks,
                               ArrayRef<Value> others, Type et, int eb, Location loc);
  void storeGroup(ArrayRef<Value> ptrs, ArrayRef<Value> elems, ArrayRef<Value> masks, int eb,
                  Location loc);
  Value allTrue(ArrayRef<Value> masks, Location loc);
  std::vector<Value> groupPointers(Value first, int vec, DType elem, Location loc);
  void lowerLoad(Operation *op, Location loc);
  void lowerStore(Operation *op, Location loc);
  void lowerReduce(Operation *op, Location loc);
  bool lowerRowReduceShuffle(Operation *op, const TileVal &in, Location loc);
  bool lowerColReduceMma(Operation *op, const TileVal &in, Location loc);
  Value shflXor(Value v, int offset, Location loc);
  void lowerDot(Operation *op, Location loc);
  /// Whether dot `op` runs on wgmma (see dot_wgmma.cpp): sm_90a, one m64
  /// row block per warpgroup (M == 16 * warps), N <= 256, and a B tile in
  /// shared memory whose rows hold whole 128-byte swizzle atoms.
  bool wgmmaDot(Operation *op) const { return runsOnWgmma(op); }
  /// Byte offset of element (i, j) of an R-row 16-bit tile in the 128-byte
  /// swizzled layout wgmma reads (columns in groups of 64, see dot_wgmma.cpp).
  Value swizzledOffset(Value i, Value j, int64_t R, Location loc);
  /// A from registers (`aFrags`) or, when `aBase` is set, from a 128-byte
  /// swizzled K-major tile of shared memory (A's rows, like B's with bRows).
  void lowerDotWgmma(Operation *op, TileVal acc, const std::vector<Value> &aFrags,
                     Value aBase, Value bBase, bool bRows, Location loc);
  /// `regs` tied through `wgmma.wait_group pending`: later uses see the
  /// values the groups before the last `pending` ones wrote.
  std::vector<Value> wgmmaWait(ArrayRef<Value> regs, int pending, Location loc);
  /// wgmma groups in flight. Each commit gets the next number; `pending_`
  /// maps the values a group may still be writing to its number. A use
  /// waits for the value's group with wait_group N, N the groups committed
  /// after it, so newer groups keep running (a dot's product overlaps the
  /// code up to its first use); the next dot may chain on a pending
  /// accumulator. Dots of the loop being lowered whose groups stay in flight
  /// past the iteration: deferDots_ (see planPipeline), their results
  /// deferResults_.
  std::map<int, int64_t> pending_;
  int64_t groupSeq_ = 0;
  /// Every wgmma group numbered up to this one is known complete (waitFor).
  int64_t waitedThrough_ = -1;
  std::set<Operation *> deferDots_;
  std::set<int> deferResults_;
  bool keepPending_ = false; // a loop's yield passes deferred values on
  /// Waits for the group of pending value `id` (and every older one).
  void waitFor(int id, Location loc);
  /// The value whose tile a dot reads as B (the transposed source of
  /// dot(a, trans(x))).
  int bSrcOf(Operation *dot) const;
  void flushPending(Location loc);
  /// Orders this thread's generic-proxy writes of shared memory before a
  /// later read by the async proxy (wgmma); emitted only where wgmma is used.
  void fenceProxyAsync(Location loc);
  /// 32-bit shared-window address of byte `off` (absolute), for inline PTX.
  Value sharedAddr(Value off, Location loc);
  /// Waits until the mbarrier at shared address `addr` completes the phase
  /// `phase` names: an i32 parity, or the i64 state an arrive returned.
  void mbarrierWait(Value addr, Value phase, Location loc);
  /// Per-warp geometry of a dot's mma.sync tiling (values at the current
  /// insertion point).
  struct DotGeom {
    const Layout *cl;
    int64_t M, N, K, MI, NI;
    Value wRow, wCol, l16, lHi, sBase;
  };
  DotGeom dotGeom(Operation *op, Location loc);
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
    Operation *dot = nullptr;
    int stages = 0;
    std::vector<Value> carried; // k-step 0 of this iteration's stage
    Value nextA, nextB;         // the next stage's buffers
    std::vector<Value> next;    // k-step 0 of the next stage (lowerDot fills it)
  };
  std::optional<FragPrefetch> prefetch_;
  void stageRows(const TileVal &v, const dsl::Type &t, int64_t ld, size_t byteBase, Location loc);
  /// A loop's software-pipelining plan (see lowerFor).
  struct Pipeline {
    int stages = 1;
    /// Copies run `ahead` iterations before the dot that reads them:
    /// stages - 1, or stages - 2 when `deferDots` leave wgmma groups (and
    /// the stages they read) in flight across the iteration boundary and
    /// the copies are issued at the top (not refillAfterWait).
    int ahead = 0;
    /// The copies are issued after the wait that completes the previous
    /// iteration's deferred groups, stages - 1 ahead (hip-pipeline's
    /// refill_after_wait), not at the top of the body.
    bool refillAfterWait = false;
    /// (With deferred dots, hip-pipeline's `mbarriers`.) The stages are
    /// tracked by mbarriers instead of block-wide barriers: each thread's
    /// copies of a stage arrive on its "full" barrier when they land
    /// (cp.async.mbarrier.arrive), the loop waits on it for the stage's
    /// phase; each thread arrives on the "empty" barrier once the stage it
    /// read is free (after the first dot's wait, or the wait at the top) and
    /// waits on that phase only before the refill's copies, at the deferred
    /// dot. Warpgroups no longer meet at block-wide barriers in the loop.
    bool mbarriers = false;
    /// (With mbarriers, hip-pipeline's `tma`.) Every copy is a box load that
    /// thread 0 copies with TMA (one box per 64-column group, from the
    /// descriptor tmaMap_ names); a stage's full barrier waits for thread
    /// 0's one arrival and the boxes' bytes, and only thread 0 waits on the
    /// empty barrier before a refill.
    bool tma = false;
    /// (With mbarriers, hip-pipeline's `pingpong`.) The two warpgroups
    /// take turns to issue their dots (named barriers 1 and 2): one's P V
    /// and next Q K^T while the other runs its softmax.
    bool pingpong = false;
    /// The stages' full barriers, then the empty one (with TMA, one per stage).
    int numBarriers() const { return tma ? 2 * stages : stages + 1; }
    size_t barBase = 0; // shared bytes of the stages' full barriers, then the empty one
    std::set<Operation *> deferDots;
    std::vector<size_t> deferCarried; // the loop-carried values they yield
    std::vector<Operation *> loads; // become cp.async copies
    std::vector<Operation *> slice; // compute their addresses/masks
    std::vector<int64_t> ld;            // row pitch (elements) per load; 0: swizzled
    std::vector<size_t> base, stageBytes; // (hip-allocate-shared's rings)
  };
  std::optional<Pipeline> planPipeline(Operation *op);
  bool isZero(int id);
  bool issueCopies(const Pipeline &plan, Value iv, Value hi, Value stage, Block &blk,
                   Location loc);
  /// issueCopies of a `tma` plan (thread 0's part).
  void issueBoxCopies(const Pipeline &plan, Value iv, Value hi, Value stage, Location loc);
  /// Whether this thread is thread 0 (i1).
  Value isThread0(Location loc);
  /// Lowers `body` into a branch that thread 0 alone takes.
  void byThread0(const std::function<void()> &body, Location loc);
  /// Shared address of the plan's mbarrier `index`: the stages' full
  /// barriers 0 to S - 1, then the empty one (index S; with TMA, S + s
  /// that of stage s).
  Value mbarrierAddr(const Pipeline &plan, Value index, Location loc) {
    return sharedAddr(add(c32(int64_t(plan.barBase)), mul(index, c32(8), loc), loc), loc);
  }
  void lowerSort(Operation *op, Location loc);
  bool lowerSortInRegisters(Operation *op, Location loc);
  bool lowerTopKSelect(Operation *op, Location loc);
  /// Whether (v, i) precedes (w, k) in a sort's order (ties: lower index).
  Value sortsBefore(bool desc, DType t, Value v, Value i, Value w, Value k, Location loc);
  void lowerGather(Operation *op, Location loc);
  void lowerFor(Operation *op, Location loc);
  void lowerIf(Operation *op, Location loc);
  std::vector<Value> flatten(const std::vector<int> &ids, const std::vector<const Layout *> &ls,
                             Location loc);
  const Layout *carriedLayout(Operation *forOp, size_t i, Location loc);

  void scanKernel(Block &blk);
  /// Whether value `v` is computed from a dot's result (computedFromDot).
  bool fromDot(int v) const { return computedFromDot(values_.at(size_t(v))); }
  TileVal hoisted(int v, const Layout *l, Location loc);
  const Layout *rowSlice(const Layout *l);
  /// The Mma layout whose rows a loop-carried [M] value should live in: that
  /// of the row reduction of a dot result it is computed from (else null).
  const Layout *sliceParent(int v, int depth);

  const TileVal &val(int id);
  TileVal shapeGather(Operation *op, Location loc);
  /// Shape ops not yet materialised (see lowerOpImpl): where they were.
  struct Deferred {
    Operation *op;
    Operation *marker;
    size_t tempBase;
  };
  std::map<int, Deferred> deferred_;
  bool eager_ = false; // materialising a deferred mask: lower it now
  const dsl::Type &ty(int id) const { return types_.at(size_t(id)); }

  tile::KernelOp kernel_;
  std::string name_;
  std::map<std::string, int64_t> config_; // the kernel's compile-time config
  llvm::DenseMap<Value, int> ids_;
  /// tile.convert_layout ops to the plain type: their result is their source.
  std::set<Operation *> aliases_;
  std::vector<dsl::Type> types_;      // per value id
  std::vector<AxisInfo> facts_;  // per value id: hip-axis-info
  std::vector<Value> values_;         // per value id (null: a splat's scalar)
  llvm::DenseMap<Operation *, OpKind> kinds_;
  /// A tile constant (a splat) also numbers its scalar, as the DSL does.
  llvm::DenseMap<Operation *, int> splatScalar_;
  std::vector<int> params_; // ids of the kernel's arguments
  /// The box loads copied with TMA (hip-pipeline's hip.tma): the generic
  /// address of each one's descriptor, a kernel parameter after params_.
  std::map<Operation *, Value> tmaMap_;
  std::vector<TensorMapSpec> tensorMaps_;
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
    int64_t ld; // 0: the 128-byte swizzled layout of a wgmma B operand
  };
  std::map<int, PipeSlot> pipe_;
  std::set<int> pipelined_; // every load a loop pipelined (for describe())
  std::set<int> swizzled_;  // those in wgmma's swizzled layout
  /// Sources of gathers in a loop that do not change in it, written to shared
  /// memory once before the loop: value -> absolute byte offset.
  std::map<int, size_t> gatherSrc_;
  /// 1-D tiles an op left in shared memory in natural order (element i at
  /// byte 4 i above tempBase): a gather from one reads it there as long as
  /// no barrier was emitted since, at the same loop depth and temp base. (A
  /// write to shared memory is always preceded by a barrier, for the threads
  /// that may still read what it overwrites.)
  struct SmemCopy {
    size_t tempBase;
    int barriers;
    size_t depth;
    DType t;
  };
  std::map<int, SmemCopy> smemCopy_;
  int barriers_ = 0; // emitted so far
  std::vector<int> hoistGatherSources(Block &body, Location loc);
  /// A dot's A operand defined before a loop (attention's Q, the mask
  /// search's queries) that hip-optimize-dot-operands placed in shared
  /// memory (config dot_a_shared = 1) is staged once before the outermost
  /// such loop and its fragments loaded at each use, instead of being held
  /// in registers across the loop (64 registers per thread for 32 x 128
  /// bf16 rows at 4 warps): value -> absolute byte offset of its [M][K + 8]
  /// rows (or of its swizzled tile).
  std::map<int, size_t> sharedA_;
  std::set<int> swizzledA_; // those staged for wgmma (128-byte swizzle)
  std::vector<int> stageLoopInvariantA(Block &body, Location loc);
  /// Element `i` (clamped to the source) of the hoisted gather source `src`.
  Value readGatherSource(int src, Value i, Location loc);
  /// Element `i` (clamped) of the 1-D tile of type `st` stored in natural
  /// order at tempBase.
  Value readElement(const dsl::Type &st, Value i, Location loc);
  std::map<int, TileVal> vals_;
  std::deque<Layout> layouts_;
  std::map<const Layout *, std::pair<Value, Value>> bases_;
  std::map<int64_t, Value> consts_;
  std::map<int, Operation *> defs_; // defining op of each lowered value
  std::map<int, Operation *> allDefs_; // defining op of every value (scanKernel)
  std::map<int, int> uses_;                // uses of every value (scanKernel)
  bool chained_ = false;                   // some dot's A operand comes from a dot
  bool dotResults_ = false;                // a dot's result feeds other ops (see scanKernel)
  bool wgmma_ = false;                     // some dot runs on wgmma (its plan says so)
  std::set<int> transB_;                   // transposes read directly by their dot
  std::vector<scf::ForOp> loops_;          // the loops being lowered, outermost first
  std::map<int, int> depth_;               // loops_.size() where each value was defined
  std::map<std::pair<int, const Layout *>, TileVal> hoist_; // see hoisted()
  std::map<std::pair<int, const Layout *>, size_t> hoistDepth_;
  /// A loop-invariant dot A operand's fragments, loaded once before the loop.
  std::map<std::pair<int, const Layout *>, std::vector<Value>> hoistedFrags_;
};

} // namespace hip::detail::gpu
