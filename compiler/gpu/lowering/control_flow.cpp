//===- compiler/gpu/lowering/control_flow.cpp - Loops and ifs, software pipelining ---===//
//
// Loop-carried layouts, the software-pipelining plan of a loop (cp.async
// ring buffers over num_stages, gathered rows included) and its copies,
// scf.for and scf.if.
//
//===----------------------------------------------------------------------===//
#include "../GpuLowering.h"

namespace hip::detail::gpu {

const Layout *GpuLowering::sliceParent(int v, int depth) {
  auto d = allDefs_.find(v);
  if (d == allDefs_.end() || depth > 12) return nullptr;
  Operation *op = d->second;
  if ((kind(op) == OpKind::ReduceMax || kind(op) == OpKind::ReduceSum ||
       kind(op) == OpKind::ReduceMin) &&
      ty(arg(op, 0)).shape.size() == 2 && intAttr(op, "axis") == 1 && fromDot(arg(op, 0))) {
    auto &sh = ty(arg(op, 0)).shape;
    return mma(sh[0], sh[1], srcLoc(op));
  }
  if (!dsl::isElementwise(kind(op))) return nullptr;
  for (int o : args(op))
    if (const Layout *p = sliceParent(o, depth + 1)) return p;
  return nullptr;
}

const Layout *GpuLowering::carriedLayout(Operation *forOp, size_t i, Location loc) {
  int init = arg(forOp, 3 + i);
  const dsl::Type &t = ty(init);
  if (!t.isTile()) return nullptr;
  // The layout the loop's type names (hip-dot-encodings: an accumulator).
  auto r = dyn_cast<RankedTensorType>(forOp->getResult(unsigned(i)).getType());
  if (r && r.getEncoding())
    return layoutOf(r.getEncoding(), t, srcLoc(forOp));
  const TileVal &v = val(init);
  if (v.layout && !v.splat) return v.layout;
  // A row statistic of a dot result (softmax's max and sum) stays in the
  // rows of the dot's mma layout.
  int yielded = arg(body(forOp).getTerminator(), unsigned(i));
  if (chained_ && t.shape.size() == 1)
    if (const Layout *p = sliceParent(yielded, 0))
      if (p->S0 == t.shape[0]) return rowsOf(p, Layout::Slice);
  // An accumulator rescaled before the dot (softmax's acc * alpha) too.
  if (chained_ && t.shape.size() == 2 && fromDot(yielded))
    return mma(t.shape[0], t.shape[1], srcLoc(forOp));
  // A splat init that feeds a dot accumulator lives in the mma layout.
  int iterArg = id(body(forOp).getArgument(unsigned(1 + i)));
  for (Operation &op : body(forOp))
    if (kind(&op) == OpKind::Dot && arg(&op, 2) == iterArg)
      return mma(t.shape[0], t.shape[1], srcLoc(&op));
  return defaultLayout(t);
}

std::vector<Value> GpuLowering::flatten(const std::vector<int> &ids,
                                        const std::vector<const Layout *> &ls, Location loc) {
  std::vector<Value> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    // A deferred product moved to another layout is read: wait for it.
    if (keepPending_ && pending_.count(ids[i]) && vals_.at(ids[i]).layout != ls[i])
      waitFor(ids[i], loc);
    TileVal v = ls[i] ? convert(ids[i], ls[i], loc) : val(ids[i]);
    out.insert(out.end(), v.regs.begin(), v.regs.end());
  }
  return out;
}

std::optional<GpuLowering::Pipeline> GpuLowering::planPipeline(Operation *op) {
  // hip-pipeline's choice (transforms/Pipeline.h): the copies, in order, their
  // buffers' layouts, the deferred dots and the copies' address slice.
  auto marks = op->getAttrOfType<DictionaryAttr>("hip.pipeline");
  if (!marks) return std::nullopt;
  Block &blk = body(op);
  Pipeline plan;
  plan.stages = static_cast<int>(marks.getAs<IntegerAttr>("stages").getInt());
  plan.ahead = static_cast<int>(marks.getAs<IntegerAttr>("ahead").getInt());
  plan.refillAfterWait = marks.contains("refill_after_wait");
  plan.mbarriers = marks.contains("mbarriers");
  plan.tma = marks.contains("tma");
  plan.pingpong = marks.contains("pingpong");
  std::map<int64_t, Operation *> copies;
  std::set<Operation *> swizzled;
  Operation *yield = blk.getTerminator();
  for (Operation &o : blk) {
    if (auto n = o.getAttrOfType<IntegerAttr>("hip.copy")) {
      copies[n.getInt()] = &o;
      if (o.getAttrOfType<tile::SharedEncodingAttr>("hip.shared").getMaxPhase() > 1)
        swizzled.insert(&o);
    }
    if (o.hasAttr("hip.copy_slice")) plan.slice.push_back(&o);
    if (o.hasAttr("hip.defer")) {
      plan.deferDots.insert(&o);
      size_t c = 0;
      while (c < yield->getNumOperands() && yield->getOperand(unsigned(c)) != o.getResult(0)) ++c;
      plan.deferCarried.push_back(c);
    }
  }
  for (auto &[n, l] : copies) plan.loads.push_back(l);
  // 3. One buffer per load and stage (hip-allocate-shared's ring), rows
  //    padded by 8 halfs; wgmma's operands in the swizzled layout (ld 0).
  for (Operation *l : plan.loads) {
    auto ring = l->getAttrOfType<DictionaryAttr>("hip.smem");
    if (!ring)
      throw InternalError("kernel '" + name_ + "': a pipelined copy without hip-allocate-shared's ring");
    plan.ld.push_back(swizzled.count(l) ? 0 : view2d(ty(res(l, 0)).shape).second + 8);
    plan.base.push_back(size_t(ring.getAs<IntegerAttr>("base").getInt()));
    plan.stageBytes.push_back(size_t(ring.getAs<IntegerAttr>("stage_bytes").getInt()));
  }
  return plan;
}

/// True when value `id` is a splat of the constant 0.
bool GpuLowering::isZero(int id) {
  auto d = defs_.find(id);
  if (d == defs_.end()) return false;
  Operation *op = d->second;
  if (kind(op) == OpKind::Splat || kind(op) == OpKind::ConvertLayout) return isZero(arg(op, 0));
  auto c = dyn_cast<tile::ConstantOp>(op);
  return c && tile::constantFloat(c) == 0 && tile::constantInt(c) == 0;
}

bool GpuLowering::issueCopies(const Pipeline &plan, Value iv, Value hi, Value stage,
                              Block &blk, Location loc) {
  int ivId = id(blk.getArgument(0));
  vals_[ivId] = withFacts(TileVal{nullptr, false, {iv}}, ivId);
  if (plan.tma) {
    issueBoxCopies(plan, iv, hi, stage, loc);
    return true;
  }
  for (Operation *o : plan.slice) lowerOp(o);
  for (Operation *l : plan.loads) {
    const TileVal &p = val(arg(l, 0));
    const Layout *lay = p.layout;
    if (!lay || lay->kind != Layout::Blocked || lay->wrap1 || lay->s1 % 8 != 0 ||
        vectorWidth(p, nullptr, 2) != 8)
      return false; // addresses not provably 16-byte runs: no cp.async
  }
  Value inRange = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::slt, iv, hi);
  for (size_t n = 0; n < plan.loads.size(); ++n) {
    Operation *l = plan.loads[n];
    const TileVal &p = val(arg(l, 0));
    const Layout *lay = p.layout;
    bool masked = l->getNumOperands() > 1;
    TileVal mask, other;
    if (masked) {
      mask = convert(arg(l, 1), lay, loc);
      other = convert(arg(l, 2), lay, loc);
    }
    Type et = regType(ty(res(l, 0)).dtype);
    bool prefixMask = masked && std::max(mask.prefix, mask.cst) >= 8 && isZero(arg(l, 2));
    Value stageOff = add(c32(int64_t(plan.base[n])),
                         mul(stage, c32(int64_t(plan.stageBytes[n])), loc), loc);
    for (size_t g = 0; g < p.regs.size(); g += 8) {
      auto [i, j] = coords(lay, g, loc);
      Value dst = add(stageOff,
                      plan.ld[n] ? mul(add(mul(i, c32(plan.ld[n]), loc), j, loc), c32(2), loc)
                                 : swizzledOffset(i, j, view2d(ty(res(l, 0)).shape).first, loc),
                      loc);
      Value src = mk<LLVM::PtrToIntOp>(b_, loc, b_.getI64Type(), p.regs[g]);
      auto cpAsync = [&](Value srcBytes) {
        Ptx("cp.async.cg.shared.global [$i0], [$i1], 16, $i2;")
            .in(sharedAddr(dst, loc))
            .in(src)
            .in(srcBytes)
            .emit(b_, loc);
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
      // synchronous masked load (rare: tile edges). (Its stores are not
      // cp.async: an mbarrier's cp.async arrive would not cover them.)
      if (plan.mbarriers)
        throw CompileError("mbarriers=1 needs pipelined loads whose masks are whole 16-byte "
                           "runs (or prefixes of them)", srcLoc(l));
      std::vector<Value> m;
      for (int e = 0; e < 8; ++e) m.push_back(fold<arith::AndIOp>(b_, loc, mask.regs[g + e], inRange));
      auto ifOp = mk<scf::IfOp>(b_, loc, allTrue(m, loc), true);
      OpBuilder::InsertionGuard guard(b_);
      b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      cpAsync(c32(16));
      b_.setInsertionPoint(ifOp.elseBlock()->getTerminator());
      std::vector<Value> ptrs = groupPointers(p.regs[g], 8, ty(res(l, 0)).dtype, loc), got;
      for (int e = 0; e < 8; ++e)
        got.push_back(loadGroup(ArrayRef<Value>(ptrs).slice(e, 1), ArrayRef<Value>(m).slice(e, 1),
                                ArrayRef<Value>(other.regs).slice(g + e, 1), et, 2, loc)[0]);
      mk<LLVM::StoreOp>(b_, loc, pack(got, loc), smemPtrAbs(dst, loc), 16u);
    }
  }
  Ptx("cp.async.commit_group;").emit(b_, loc);
  if (plan.mbarriers) // this thread's copies of the stage arrive on its full barrier as they land
    Ptx("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [$i0];")
        .in(mbarrierAddr(plan, stage, loc))
        .emit(b_, loc);
  return true;
}

void GpuLowering::issueBoxCopies(const Pipeline &plan, Value iv, Value hi, Value stage,
                                 Location loc) {
  // (Run by thread 0.) Only the ops the boxes' start coordinates need: the
  // descriptors replace the pointers and masks.
  std::set<Operation *> slice(plan.slice.begin(), plan.slice.end()), need;
  std::function<void(Value)> visit = [&](Value v) {
    Operation *d = v.getDefiningOp();
    if (!d || !slice.count(d) || !need.insert(d).second) return;
    for (Value x : d->getOperands()) visit(x);
  };
  int64_t bytes = 0;
  for (Operation *l : plan.loads) {
    auto t = cast<RankedTensorType>(l->getResult(0).getType());
    bytes += t.getNumElements() * 2;
    for (Value v : cast<tile::LoadOp>(l).getStart()) visit(v);
  }
  for (Operation *o : plan.slice)
    if (need.count(o)) lowerOp(o);
  // One arrival that expects the boxes' bytes, then the boxes; past the
  // loop's end a plain arrival (nothing copied) completes the phase.
  Value full = mbarrierAddr(plan, stage, loc);
  Value inRange = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::slt, iv, hi);
  Ptx("@$i1 mbarrier.arrive.expect_tx.shared::cta.b64 _, [$i0], $i2;\n"
      "@!$i1 mbarrier.arrive.shared::cta.b64 _, [$i0];")
      .in(full)
      .in(inRange)
      .in(c32(bytes))
      .emit(b_, loc);
  for (size_t n = 0; n < plan.loads.size(); ++n) {
    Operation *l = plan.loads[n];
    auto shape = cast<RankedTensorType>(l->getResult(0).getType()).getShape();
    // The coordinates innermost first: the box's column, its row, then the
    // leading dimensions' indices.
    std::vector<Value> coords;
    for (Value v : llvm::reverse(cast<tile::LoadOp>(l).getStart()))
      coords.push_back(val(id(v)).regs[0]);
    size_t rank = coords.size();
    std::string text = "@$i" + std::to_string(rank + 2) + " cp.async.bulk.tensor." +
                       std::to_string(rank) +
                       "d.shared::cluster.global.mbarrier::complete_tx::bytes [$i0], [$i1, {";
    for (size_t d = 0; d < rank; ++d) text += (d ? ", $i" : "$i") + std::to_string(d + 2);
    text += "}], [$i" + std::to_string(rank + 3) + "];";
    Value stageOff = add(c32(int64_t(plan.base[n])),
                         mul(stage, c32(int64_t(plan.stageBytes[n])), loc), loc);
    // Column group g (64 columns, 128 bytes a row) lies R * 128 bytes after
    // group g - 1 (see swizzledOffset): one box of R rows each.
    for (int64_t g = 0; g < shape[1] / 64; ++g) {
      Ptx copy(text);
      copy.in(sharedAddr(add(stageOff, c32(g * shape[0] * 128), loc), loc)).in(tmaMap_.at(l));
      copy.in(add(coords[0], c32(64 * g), loc));
      for (size_t d = 1; d < rank; ++d) copy.in(coords[d]);
      copy.in(inRange).in(full).emit(b_, loc);
    }
  }
}

Value GpuLowering::isThread0(Location loc) {
  return mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::eq,
                           mk<NVVM::ThreadIdXOp>(b_, loc, b_.getI32Type()), c32(0));
}

void GpuLowering::byThread0(const std::function<void()> &body, Location loc) {
  auto ifOp = mk<scf::IfOp>(b_, loc, isThread0(loc), false);
  OpBuilder::InsertionGuard g(b_);
  b_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  body();
}

Value GpuLowering::sharedAddr(Value off, Location loc) {
  return add(mk<LLVM::PtrToIntOp>(b_, loc, b_.getI32Type(), smemBase_), off, loc);
}

void GpuLowering::mbarrierWait(Value addr, Value phase, Location loc) {
  bool parity = phase.getType().isInteger(32);
  auto w = mk<scf::WhileOp>(b_, loc, TypeRange{}, ValueRange{});
  {
    OpBuilder::InsertionGuard g(b_);
    b_.setInsertionPointToStart(b_.createBlock(&w.getBefore()));
    // (try_wait may give up after a time limit: asked again until done.)
    Ptx wait(std::string("{ .reg .pred p; mbarrier.try_wait") + (parity ? ".parity" : "") +
             ".shared::cta.b64 p, [$i0], $i1; selp.u32 $o0, 1, 0, p; }");
    wait.out(b_.getI32Type()).in(addr).in(phase);
    Value done = wait.results(b_, loc, wait.emit(b_, loc))[0];
    Value notDone = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::eq, done, c32(0));
    mk<scf::ConditionOp>(b_, loc, notDone, ValueRange{});
    b_.setInsertionPointToStart(b_.createBlock(&w.getAfter()));
    mk<scf::YieldOp>(b_, loc, ValueRange{});
  }
}

void GpuLowering::lowerFor(Operation *op, Location loc) {
  size_t nc = op->getNumResults();
  Block &blk = body(op);
  Value lo = val(arg(op, 0)).regs[0], hi = val(arg(op, 1)).regs[0];
  Value step = val(arg(op, 2)).regs[0];
  std::vector<const Layout *> ls;
  for (size_t i = 0; i < nc; ++i) ls.push_back(carriedLayout(op, i, loc));
  size_t tempBefore = tempBase_;
  std::vector<int> ownGatherSrc = hoistGatherSources(blk, loc);
  std::vector<int> ownSharedA = stageLoopInvariantA(blk, loc);
  // Software pipelining (num_stages >= 2): the loads feeding dots become
  // cp.async copies into a ring of shared buffers, issued num_stages - 1
  // iterations ahead. The prologue fills the first stages.
  std::optional<Pipeline> plan = planPipeline(op);
  // The loop's temporaries (and its nested loops' buffers) sit above its
  // buffers (hip-allocate-shared).
  auto top = op->getAttrOfType<IntegerAttr>("hip.smem_top");
  if (!top) throw InternalError("kernel '" + name_ + "': a loop without hip-allocate-shared's offsets");
  tempBase_ = size_t(top.getInt());
  int nthreads = 32 * nw_;
  auto barAddr = [&](Value index) { return mbarrierAddr(*plan, index, loc); };
  Value firstThread; // (thread 0 initialises and invalidates the mbarriers)
  if (plan && plan->mbarriers) { // below the loop's temporaries: S full barriers, the empty one
    // The temporaries above keep a 1024-byte alignment (16-byte accesses
    // need 16, a 128-byte swizzled tile 1024): the H100 refused 4 stages'
    // 40 bytes of barriers below them with a misaligned address.
    plan->barBase = (tempBase_ + 7) / 8 * 8;
    tempBase_ = (plan->barBase + 8 * size_t(plan->numBarriers()) + 1023) / 1024 * 1024;
    firstThread = isThread0(loc);
  }
  needShared(0);
  if (plan) {
    // The stages overlap the temporaries of the code before the loop (a
    // layout change, say), which slower warps may still be reading. (TMA
    // writes them through the async proxy: each thread's accesses through
    // the generic one are ordered before, by a proxy fence.)
    if (plan->tma) fenceProxyAsync(loc);
    barrier(loc);
    if (plan->mbarriers) {
      // Thread 0 initialises the barriers (a phase: every thread arrives);
      // every thread sees that past the second barrier.
      // (With TMA a stage's one arrival is thread 0's, with the bytes.)
      for (int s = 0; s < plan->numBarriers(); ++s)
        Ptx("@$i1 mbarrier.init.shared::cta.b64 [$i0], $i2;")
            .in(barAddr(c32(s)))
            .in(firstThread)
            .in(c32(plan->tma && s < plan->stages ? 1 : nthreads))
            .emit(b_, loc);
      Ptx("fence.mbarrier_init.release.cluster;").emit(b_, loc);
      barrier(loc);
    }
    auto prologue = [&] {
      for (int s = 0; s < plan->ahead; ++s) {
        Value ivS = add(lo, mul(step, c32(s), loc), loc);
        if (!issueCopies(*plan, ivS, hi, c32(s), blk, loc))
          throw InternalError("kernel '" + name_ + "': hip-pipeline copies a load whose " +
                              "addresses are not runs of 16 bytes in its layout");
      }
    };
    if (plan->tma) byThread0(prologue, loc);
    else prologue();
  }
  // With one pipelined dot, its first k-step fragments are loaded an
  // iteration ahead: the loop waits for the next stage (wait_group, barrier)
  // before the dot's last k-step instead of at its top, and carries the
  // fragments. Iteration i's copies, issued at its top, overwrite the stage
  // of iteration i - 1: every warp read that stage before the barrier of
  // iteration i - 1, so they need no barrier of their own. Its wait then
  // covers tile i + 1 (S - 1 groups from the prologue, i + 1 from the loop).
  Operation *aheadDot = nullptr;
  std::vector<Value> frags0;
  if (plan && plan->loads.size() == 2 && plan->deferDots.empty()) {
    for (Operation &o : blk)
      if (kind(&o) == OpKind::Dot && arg(&o, 0) == res(plan->loads[0], 0) &&
          arg(&o, 1) == res(plan->loads[1], 0) && plan->ld[1] != 0)
        aheadDot = &o;
  }
  if (aheadDot) {
    Ptx("cp.async.wait_group " + std::to_string(plan->stages - 2) + ";").emit(b_, loc);
    barrier(loc);
    frags0 = loadFrags(dotGeom(aheadDot, loc), c32(int64_t(plan->base[0])), plan->ld[0],
                       c32(int64_t(plan->base[1])), plan->ld[1], 0, loc);
  }
  if (!pending_.empty()) flushPending(loc); // groups of an enclosing loop: done before this one
  std::vector<int> inits = args(op);
  inits.erase(inits.begin(), inits.begin() + 3);
  std::vector<Value> flat = flatten(inits, ls, loc);
  size_t nflat = flat.size();
  if (plan) flat.push_back(c32(0)); // the stage this iteration reads
  flat.insert(flat.end(), frags0.begin(), frags0.end());
  // A loop with deferred wgmma dots runs inside `if (lo < hi)`, whose then
  // branch ends with the wait for their last groups: at the join, no path
  // has a group in flight (the skip path writes the results' registers, which
  // ptxas would otherwise take for a write during a running wgmma and
  // serialize every wgmma of the kernel).
  scf::IfOp guard;
  if (plan && !plan->deferDots.empty()) {
    std::vector<Type> types;
    for (size_t i = 0; i < nflat; ++i) types.push_back(flat[i].getType());
    Value nonEmpty = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::slt, lo, hi);
    guard = mk<scf::IfOp>(b_, loc, types, nonEmpty, true);
    {
      OpBuilder::InsertionGuard g(b_);
      enterEmptyBlock(b_, guard.elseBlock());
      mk<scf::YieldOp>(b_, loc, ValueRange(flat).take_front(nflat));
    }
    enterEmptyBlock(b_, guard.thenBlock());
  }
  // Ping-pong (FlashAttention-3): warpgroup w's turn is named barrier 1 + w,
  // which completes when its 128 threads sync on it and the other
  // warpgroup's 128 arrive. Each iteration's turn spans from the deferred
  // dot (P V) to the next iteration's first dot (Q K^T); the first turn
  // begins at the first iteration's first dot (not before the loop, where
  // code hoisted out of it may meet at block-wide barriers). Warpgroup 1's
  // arrival before the loop lets warpgroup 0 go first, warpgroup 0's after
  // it ends warpgroup 1's last turn: each barrier's arrivals match its syncs
  // (n + 1 each for n iterations).
  // (Barrier numbers as immediates, chosen by the warp-uniform predicate
  // `second`, warpgroup 1: ptxas then counts three barriers, not all 16.)
  Value second;
  auto turn = [&](const char *op, bool own,
                  Value when) { // on warpgroup w's (own) turn or the other's
    Value notSecond = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::ult, warp_, c32(4));
    Ptx(std::string("@$i0 ") + op + " " + (own ? "2" : "1") + ", 256; @$i1 " + op + " " +
        (own ? "1" : "2") + ", 256;")
        .in(when ? mk<arith::AndIOp>(b_, loc, when, second).getResult() : second)
        .in(when ? mk<arith::AndIOp>(b_, loc, when, notSecond).getResult() : notSecond)
        .emit(b_, loc);
  };
  if (plan && plan->pingpong) {
    second = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::uge, warp_, c32(4));
    Ptx("@$i0 bar.arrive 1, 256;").in(second).emit(b_, loc); // (warpgroup 0 goes first)
  }
  auto loop = mk<scf::ForOp>(b_, loc, lo, hi, step, flat);
  loops_.push_back(loop);
  std::vector<int> bodyArgs = blockArgs(blk);
  for (int a : bodyArgs) depth_[a] = int(loops_.size());
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
    enterEmptyBlock(b_, loop.getBody());
    Value iv = loop.getInductionVar();
    Value stage, ivNext, wstage;
    // The copies for iteration i + ahead into the stage (i + ahead) % S: at
    // the top, or once every warp has seen the previous iteration's deferred
    // groups complete (hip-pipeline's refill_after_wait; the stage they read
    // is the one refilled). Lowered in the body, the address slice's values
    // of this iteration are kept.
    auto issueNext = [&] {
      std::vector<int> keep{bodyArgs[0]};
      for (Operation *o : plan->slice)
        for (int r : results(o)) keep.push_back(r);
      std::map<int, TileVal> vals;
      std::map<int, Deferred> defer;
      for (int r : keep) {
        if (auto v = vals_.find(r); v != vals_.end()) vals[r] = v->second;
        if (auto d = deferred_.find(r); d != deferred_.end()) defer.emplace(r, d->second);
      }
      if (!issueCopies(*plan, ivNext, hi, wstage, blk, loc))
        throw InternalError("pipelined loop: copies failed after the prologue succeeded");
      for (int r : keep) {
        if (auto v = vals.find(r); v != vals.end()) vals_[r] = v->second;
        else vals_.erase(r);
        if (auto d = defer.find(r); d != defer.end()) deferred_.insert_or_assign(r, d->second);
        else deferred_.erase(r);
      }
    };
    // With mbarriers: the token of this thread's arrival on the empty
    // barrier (the stage it read last is free), until the refill's copies
    // wait for that phase.
    std::optional<Value> emptyToken;
    // The next copies: those of iteration ivNext, into stage wstage.
    auto nextCopies = [&] {
      if (wstage) return;
      ivNext = add(iv, mul(step, c32(plan->ahead), loc), loc);
      wstage = fold<arith::RemUIOp>(b_, loc, add(stage, c32(plan->ahead), loc), c32(plan->stages));
    };
    // The empty barrier: one; with TMA one per stage (only thread 0 waits
    // on it, so a phase must not take a thread's arrival of the next one),
    // the one of the stage the next copies refill.
    auto emptyAddr = [&] {
      if (!plan->tma) return barAddr(c32(plan->stages));
      nextCopies();
      return barAddr(add(wstage, c32(plan->stages), loc));
    };
    auto arriveEmpty = [&] {
      Ptx arrive("mbarrier.arrive.shared::cta.b64 $o0, [$i0];");
      arrive.out(b_.getI64Type()).in(emptyAddr());
      emptyToken = arrive.results(b_, loc, arrive.emit(b_, loc))[0];
    };
    if (plan) {
      int S = plan->stages;
      stage = loop.getRegionIterArgs()[nflat];
      int A = plan->ahead;
      // The previous iteration's deferred groups may run on; older ones,
      // which read the stage refilled below, are done. (Refilling after the
      // wait, the first dot's wait completes them.)
      if (!plan->deferDots.empty() && !plan->refillAfterWait)
        Ptx("wgmma.wait_group.sync.aligned " + std::to_string(plan->deferDots.size()) + ";").emit(b_, loc);
      // (Copies at the top run S - 2 ahead: the stage they write is the one
      // the groups just waited for read.)
      if (plan->mbarriers && !plan->refillAfterWait) arriveEmpty();
      if (plan->mbarriers) {
        // Iteration k reads stage k % S, filled for the (k / S)-th time.
        Value k = fold<arith::DivUIOp>(b_, loc, fold<arith::SubIOp>(b_, loc, iv, lo), step);
        Value parity = fold<arith::AndIOp>(
            b_, loc, fold<arith::DivUIOp>(b_, loc, k, c32(S)), c32(1));
        mbarrierWait(barAddr(stage), parity, loc);
        // wgmma reads the copies through the async proxy (TMA's are in it)
        if (!plan->tma) fenceProxyAsync(loc);
      } else if (!aheadDot) {
        Ptx("cp.async.wait_group " + std::to_string(A - 1) + ";").emit(b_, loc);
        fenceProxyAsync(loc); // wgmma reads the copies through the async proxy
        barrier(loc);
      }
      nextCopies();
      if (!plan->refillAfterWait && !plan->mbarriers) issueNext();
      for (size_t n = 0; n < plan->loads.size(); ++n)
        pipe_[res(plan->loads[n], 0)] = {
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
    vals_[bodyArgs[0]] = withFacts(TileVal{nullptr, false, {iv}}, bodyArgs[0]);
    unflatten(loop.getRegionIterArgs(), std::vector<int>(bodyArgs.begin() + 1, bodyArgs.end()));
    std::set<Operation *> outerDefer = std::move(deferDots_);
    std::set<int> outerResults = std::move(deferResults_);
    deferDots_ = plan ? plan->deferDots : std::set<Operation *>{};
    deferResults_.clear();
    for (Operation *d : deferDots_) deferResults_.insert(res(d, 0));
    // The previous iteration's deferred groups, newest last.
    if (plan)
      for (size_t k = 0; k < plan->deferCarried.size(); ++k)
        pending_[bodyArgs[1 + plan->deferCarried[k]]] =
            groupSeq_ - int64_t(plan->deferCarried.size() - k);
    // Ops of the address slice that only feed the copied loads (the K/V
    // row pointers and masks) ran in issueCopies for the iteration `ahead`;
    // this iteration's copies are already in flight, so they are not
    // lowered again here (their layout moves would cost barriers).
    std::set<Operation *> copyOnly;
    if (plan) {
      std::set<Operation *> copied(plan->loads.begin(), plan->loads.end());
      for (Operation &o : llvm::reverse(blk.without_terminator())) {
        if (!o.hasAttr("hip.copy_slice") || o.getNumRegions() || o.getNumResults() == 0) continue;
        bool only = true;
        for (Operation *u : o.getUsers()) only = only && (copied.count(u) || copyOnly.count(u));
        if (only) copyOnly.insert(&o);
      }
    }
    // The previous iteration's groups are those numbered up to `carried`
    // (the numbers of the groups before the loop, which are complete, but not
    // in this body until waited for).
    int64_t carried = groupSeq_ - 1;
    if (plan)
      waitedThrough_ = std::min(waitedThrough_, carried - int64_t(plan->deferCarried.size()));
    bool refillDue = plan && plan->refillAfterWait;
    auto refill = [&] { // every warp past the previous iteration's groups: refill their stage
      refillDue = false;
      if (plan->mbarriers) return arriveEmpty();
      barrier(loc);
      issueNext();
    };
    // (The copies as late as the deferred dot: before it when refilling after
    // the wait, after the dot when refilling at the top or with TMA, where
    // only thread 0 waits for the stage to empty: its warp's deferred dot
    // is not held back by the slowest warp.)
    auto refillOnceEmpty = [&] {
      auto refill = [&] {
        mbarrierWait(emptyAddr(), *emptyToken, loc);
        issueNext();
      };
      if (plan->tma) byThread0(refill, loc); // (the other threads go on)
      else refill();
      emptyToken.reset();
    };
    // (TMA: thread 0's copies after its deferred dot, which it issues first.)
    bool late = !plan || !plan->refillAfterWait || plan->tma;
    Operation *firstDot = nullptr; // (ping-pong: the dot that ends a turn)
    if (plan && plan->pingpong)
      for (Operation &o : blk)
        if (!firstDot && kind(&o) == OpKind::Dot && !plan->deferDots.count(&o)) firstDot = &o;
    for (Operation &o : blk.without_terminator()) {
      if (refillDue && plan->deferDots.count(&o)) {
        // (Not expected: the wait of the dot before it completes them.)
        Ptx("wgmma.wait_group.sync.aligned 0;").emit(b_, loc);
        refill();
      }
      bool deferred = plan && plan->deferDots.count(&o);
      if (emptyToken && deferred && !late) refillOnceEmpty();
      if (deferred && plan->pingpong) turn("bar.sync", true, {});
      if (&o == firstDot) // (the first turn)
        turn("bar.sync", true, mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::eq, iv, lo));
      if (!copyOnly.count(&o)) lowerOp(&o);
      if (&o == firstDot) turn("bar.arrive", false, {});
      if (emptyToken && deferred && late) refillOnceEmpty();
      if (refillDue && waitedThrough_ >= carried) refill();
    }
    if (refillDue) throw InternalError("pipelined loop: no point to refill its stages found");
    if (emptyToken) refillOnceEmpty();
    keepPending_ = true; // the deferred groups carry on into the next iteration
    std::vector<Value> next = flatten(args(blk.getTerminator()), ls, loc);
    keepPending_ = false;
    // Nothing else may run past the iteration (its stage is refilled).
    for (auto it = pending_.begin(); it != pending_.end();)
      it = deferResults_.count(it->first) ? pending_.erase(it) : std::next(it);
    flushPending(loc);
    deferDots_ = std::move(outerDefer);
    deferResults_ = std::move(outerResults);
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
  unflatten(loop.getResults(), results(op));
  if (plan && plan->pingpong) Ptx("@!$i0 bar.arrive 2, 256;").in(second).emit(b_, loc);
  if (guard) {
    // The last iteration's groups, before the stages are reused.
    for (size_t k = 0; k < plan->deferCarried.size(); ++k)
      pending_[res(op, unsigned(plan->deferCarried[k]))] =
          groupSeq_ - int64_t(plan->deferCarried.size() - k);
    flushPending(loc);
    std::vector<Value> out;
    for (int r : results(op)) out.insert(out.end(), vals_[r].regs.begin(), vals_[r].regs.end());
    mk<scf::YieldOp>(b_, loc, out);
    b_.setInsertionPointAfter(guard);
    unflatten(guard.getResults(), results(op));
  }
  if (plan) {
    // Copies of the iterations past the end may still be landing.
    Ptx("cp.async.wait_all;").emit(b_, loc);
    barrier(loc);
    if (plan->mbarriers) { // their bytes become temporaries again
      // The last `ahead` fills (copies of the iterations past the end, or
      // of all when the loop is empty) arrive on their full barriers
      // asynchronously, which cp.async.wait_all does not wait for: their
      // phases complete before the barriers are invalidated (a late arrival
      // on a barrier the next loop initialises again would complete one of
      // its phases early). Fill j is stage j % S's phase j / S.
      Value span = add(sub(hi, lo, loc), sub(step, c32(1), loc), loc);
      Value nonEmpty = mk<arith::CmpIOp>(b_, loc, arith::CmpIPredicate::slt, lo, hi);
      Value n = mk<arith::SelectOp>(b_, loc, nonEmpty, mk<arith::DivSIOp>(b_, loc, span, step),
                                    c32(0)); // the loop's iterations
      for (int a = 0; a < plan->ahead; ++a) {
        Value j = add(n, c32(a), loc), S = c32(plan->stages);
        Value phase = mk<arith::AndIOp>(b_, loc, mk<arith::DivUIOp>(b_, loc, j, S), c32(1));
        mbarrierWait(barAddr(mk<arith::RemUIOp>(b_, loc, j, S)), phase, loc);
      }
      for (int s = 0; s < plan->numBarriers(); ++s)
        Ptx("@$i1 mbarrier.inval.shared::cta.b64 [$i0];")
            .in(barAddr(c32(s)))
            .in(firstThread)
            .emit(b_, loc);
      barrier(loc);
    }
    for (size_t n = 0; n < plan->loads.size(); ++n) {
      pipe_.erase(res(plan->loads[n], 0));
      pipelined_.insert(res(plan->loads[n], 0));
      if (!plan->ld[n]) swizzled_.insert(res(plan->loads[n], 0));
    }
  }
  for (int s : ownGatherSrc) gatherSrc_.erase(s);
  for (int s : ownSharedA) sharedA_.erase(s), swizzledA_.erase(s);
  tempBase_ = tempBefore;
}

std::vector<int> GpuLowering::stageLoopInvariantA(Block &loopBody, Location loc) {
  std::vector<int> own;
  std::function<void(Block &)> visit = [&](Block &blk) {
    for (Operation &o : blk) {
      for (Region &r : o.getRegions()) visit(r.front());
      if (kind(&o) != OpKind::Dot || !sharedA(&o)) continue;
      int a = arg(&o, 0);
      if (sharedA_.count(a) || !vals_.count(a)) continue; // (defined in the loop)
      const TileVal &in = vals_.at(a);
      const dsl::Type &at = ty(a);
      // wgmma reads A through a descriptor from the 128-byte swizzled
      // K-major layout (whole 64-column groups, 1024-byte aligned); mma.sync
      // loads fragments from rows padded by 8 halfs.
      bool swz = sharedA(&o).getMaxPhase() > 1;
      auto off = o.getAttrOfType<IntegerAttr>("hip.smem_a");
      if (!off) throw InternalError("kernel '" + name_ + "': a staged A without hip-allocate-shared's offset");
      if (own.empty()) barrier(loc); // earlier temporaries there may still be read
      int64_t lda = swz ? 0 : at.shape[1] + 8;
      tempBase_ = size_t(off.getInt()); // (stageRows writes relative to it)
      stageRows(in, at, lda, 0, loc);
      sharedA_[a] = tempBase_;
      if (swz) swizzledA_.insert(a);
      own.push_back(a);
    }
  };
  visit(loopBody);
  if (!own.empty()) {
    needShared(0);
    fenceProxyAsync(loc); // wgmma reads the swizzled tiles through the async proxy
    barrier(loc);
  }
  return own;
}

/// Gathers of `body` from tiles defined before the loop (the mask search's
/// branch tiles, read by every chunk): each such source is written to its own
/// shared buffer here, before the loop, between two barriers; the gathers in
/// the loop then only read it: no write and no barrier per iteration. The
/// buffers are hip-allocate-shared's, below the loop's temporaries.
std::vector<int> GpuLowering::hoistGatherSources(Block &loopBody, Location loc) {
  std::vector<int> own;
  for (Operation &o : loopBody) {
    // (hip-allocate-shared gave the sources defined before the loop that
    // are not uniform an offset; an enclosing loop may already hold one.)
    auto off = o.getAttrOfType<IntegerAttr>("hip.smem_src");
    if (kind(&o) != OpKind::Gather || !off || gatherSrc_.count(arg(&o, 0))) continue;
    int s = arg(&o, 0);
    if (!vals_.count(s) || vals_.at(s).splat || !vals_.at(s).layout)
      throw InternalError("kernel '" + name_ + "': hip-allocate-shared placed a gather source " +
                          "in shared memory that is not in registers before the loop");
    const TileVal &in = vals_.at(s);
    const dsl::Type &st = ty(s);
    if (own.empty()) barrier(loc); // earlier temporaries there may still be read
    tempBase_ = size_t(off.getInt()); // (writeShared writes relative to it)
    writeShared(in, st, loc);
    gatherSrc_[s] = tempBase_;
    own.push_back(s);
  }
  if (!own.empty()) barrier(loc);
  return own;
}

void GpuLowering::lowerIf(Operation *op, Location loc) {
  // A wait inside a branch would not dominate the uses after the if.
  flushPending(loc);
  size_t nr = op->getNumResults();
  std::vector<const Layout *> ls;
  for (size_t i = 0; i < nr; ++i)
    ls.push_back(ty(res(op, i)).isTile() ? defaultLayout(ty(res(op, i))) : nullptr);
  std::vector<Type> types;
  for (size_t i = 0; i < nr; ++i) {
    size_t n = ls[i] ? ls[i]->numRegs() : 1;
    Type t = regType(ty(res(op, i)).dtype);
    types.insert(types.end(), n, t);
  }
  auto ifOp = mk<scf::IfOp>(b_, loc, types, val(arg(op, 0)).regs[0], true);
  for (int br = 0; br < 2; ++br) {
    OpBuilder::InsertionGuard g(b_);
    enterEmptyBlock(b_, br == 0 ? ifOp.thenBlock() : ifOp.elseBlock());
    Block &src = body(op, unsigned(br));
    for (Operation &o : src.without_terminator()) lowerOp(&o);
    mk<scf::YieldOp>(b_, loc, flatten(args(src.getTerminator()), ls, loc));
  }
  size_t pos = 0;
  for (size_t i = 0; i < nr; ++i) {
    size_t n = ls[i] ? ls[i]->numRegs() : 1;
    TileVal v{ls[i], false, {}};
    for (size_t r = 0; r < n; ++r) v.regs.push_back(ifOp.getResult(pos++));
    vals_[res(op, i)] = v;
  }
}

} // namespace hip::detail::gpu
