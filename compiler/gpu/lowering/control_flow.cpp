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
    // A deferred product moved to another layout is read: wait for it.
    if (keepPending_ && pending_.count(ids[i]) && vals_.at(ids[i]).layout != ls[i])
      waitFor(ids[i], loc);
    TileVal v = ls[i] ? convert(ids[i], ls[i], loc) : val(ids[i]);
    out.insert(out.end(), v.regs.begin(), v.regs.end());
  }
  return out;
}

std::optional<GpuLowering::Pipeline> GpuLowering::planPipeline(const dsl::Op &op) {
  auto it = k_.config.find("num_stages");
  int stages = it == k_.config.end() ? 1 : static_cast<int>(it->second);
  if (stages < 2) return std::nullopt;
  const dsl::Block &blk = *op.regions[0];
  std::map<int, const dsl::Op *> def;
  for (const dsl::Op &o : blk.ops)
    for (int r : o.results) def[r] = &o;
  Pipeline plan;
  plan.stages = stages;
  // 1. Loads of 2-byte tiles whose only use is as an operand of a dot of
  //    this body (B may be a transpose of such a load that only the dot
  //    reads). The other operand may come from registers or be a loop
  //    invariant (attention's P and Q).
  std::set<const dsl::Op *> swizzled; // B operands of wgmma dots
  for (const dsl::Op &o : blk.ops) {
    if (o.kind != OpKind::Dot) continue;
    std::vector<const dsl::Op *> ls;
    for (int i = 0; i < 2; ++i) {
      int x = o.operands[i];
      if (i == 1 && transB_.count(x) && def.count(x)) x = def[x]->operands[0];
      auto d = def.find(x);
      if (d != def.end() && d->second->kind == OpKind::Load && uses_[x] == 1 &&
          dsl::dtypeBytes(ty(x).dtype) == 2) {
        ls.push_back(d->second);
        // wgmma reads B, and A when its rows hold whole 64-column swizzle
        // groups, from the swizzled layout through descriptors.
        if (wgmmaDot(o) && (i == 1 || ty(x).shape[1] % 64 == 0)) swizzled.insert(d->second);
      }
    }
    plan.loads.insert(plan.loads.end(), ls.begin(), ls.end());
  }
  if (plan.loads.empty()) return std::nullopt;
  // Deferred wgmma dots: a dot whose result is only yielded (an accumulator
  // carried by the loop: the matmul's, attention's P V) may stay in flight
  // into the next iteration, overlapping that iteration's waits, barrier,
  // copies and first dot. The operands must not change while it runs: B
  // from a pipeline stage, A from one too or computed from a dot of this body
  // that is waited for (attention's P: the next iteration's P is computed
  // after that dot's wait, which completes the deferred group too). The
  // stage a deferred dot reads is refilled one iteration later than usual:
  // copies run stages - 2 ahead, and each iteration begins with wait_group 1
  // (every group but the newest done) before its barrier, so the stage
  // written at iteration i, that of i - 2, is no longer read by any warp.
  plan.ahead = stages - 1;
  const dsl::Op &yield = blk.ops.back();
  auto swz = [&](int x) {
    if (transB_.count(x) && def.count(x)) x = def[x]->operands[0];
    return def.count(x) && swizzled.count(def[x]) > 0;
  };
  // Not in a loop of at most two iterations known when traced (attention's
  // sink): LLVM unrolls it, and ptxas then takes the wait_group 1 for a group
  // left running into code that rewrites its registers and serializes every
  // wgmma of the kernel (C7515).
  auto constOf = [&](int v) -> std::optional<int64_t> {
    auto d = allDefs_.find(v);
    if (d == allDefs_.end() || d->second->kind != OpKind::Constant) return std::nullopt;
    return d->second->iconst;
  };
  auto cLo = constOf(op.operands[0]), cHi = constOf(op.operands[1]),
       cStep = constOf(op.operands[2]);
  bool shortLoop = cLo && cHi && cStep && *cStep > 0 && (*cHi - *cLo + *cStep - 1) / *cStep <= 2;
  std::set<const dsl::Op *> waited; // wgmma dots of the body that wait at once
  for (const dsl::Op &o : blk.ops) {
    if (o.kind != OpKind::Dot) continue;
    int r = o.results[0];
    size_t c = 0;
    while (c < yield.operands.size() && yield.operands[c] != r) ++c;
    std::function<bool(int, int)> fromWaited = [&](int v, int depth) {
      auto d = def.find(v);
      if (d == def.end() || depth > 16) return false;
      if (waited.count(d->second)) return true;
      for (int x : d->second->operands)
        if (fromWaited(x, depth + 1)) return true;
      return false;
    };
    bool defer = stages >= 3 && !shortLoop && wgmmaDot(o) && swz(o.operands[1]) && uses_[r] == 1 &&
                 c < yield.operands.size() &&
                 (swz(o.operands[0]) || fromWaited(o.operands[0], 0));
    if (defer) {
      plan.deferDots.insert(&o);
      plan.deferCarried.push_back(c);
    } else if (wgmmaDot(o)) {
      waited.insert(&o);
    }
  }
  if (!plan.deferDots.empty()) plan.ahead = stages - 2;
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
  // 3. One buffer per load and stage, rows padded by 8 halfs; wgmma's B
  //    operands in the swizzled layout (ld 0), 1024-byte aligned (the
  //    swizzle pattern repeats every 8 rows of 128 bytes).
  size_t off = tempBase_;
  for (const dsl::Op *l : plan.loads) {
    auto [R, C] = view2d(ty(l->results[0]).shape);
    bool swz = swizzled.count(l) > 0;
    if (swz) off = (off + 1023) / 1024 * 1024;
    plan.ld.push_back(swz ? 0 : C + 8);
    plan.base.push_back(off);
    plan.stageBytes.push_back(swz ? size_t(R * C * 2 + 1023) / 1024 * 1024
                                  : size_t(R * (C + 8) * 2 + 127) / 128 * 128);
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

bool GpuLowering::issueCopies(const Pipeline &plan, Value iv, Value hi, Value stage,
                              const dsl::Block &blk, Location loc) {
  vals_[blk.args[0]] = withFacts(TileVal{nullptr, false, {iv}}, blk.args[0]);
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
      Value dst = add(stageOff,
                      plan.ld[n] ? mul(add(mul(i, c32(plan.ld[n]), loc), j, loc), c32(2), loc)
                                 : swizzledOffset(i, j, view2d(ty(l.results[0]).shape).first, loc),
                      loc);
      Value src = mk<LLVM::PtrToIntOp>(b_, loc, b_.getI64Type(), p.regs[g]);
      auto cpAsync = [&](Value srcBytes) {
        Ptx("cp.async.cg.shared.global [$i0], [$i1], 16, $i2;")
            .in(add(sBase, dst, loc))
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
  Ptx("cp.async.commit_group;").emit(b_, loc);
  return true;
}

void GpuLowering::lowerFor(const dsl::Op &op, Location loc) {
  size_t nc = op.results.size();
  const dsl::Block &blk = *op.regions[0];
  Value lo = val(op.operands[0]).regs[0], hi = val(op.operands[1]).regs[0];
  Value step = val(op.operands[2]).regs[0];
  std::vector<const Layout *> ls;
  for (size_t i = 0; i < nc; ++i) ls.push_back(carriedLayout(op, i, loc));
  size_t tempBefore = tempBase_;
  std::vector<int> ownGatherSrc = hoistGatherSources(blk, loc);
  std::vector<int> ownSharedA = stageLoopInvariantA(blk, loc);
  // Software pipelining (num_stages >= 2): the loads feeding dots become
  // cp.async copies into a ring of shared buffers, issued num_stages - 1
  // iterations ahead. The prologue fills the first stages.
  std::optional<Pipeline> plan = planPipeline(op);
  size_t savedTemp = tempBase_;
  if (plan) {
    tempBase_ = plan->end;
    needShared(0);
    // The stages overlap the temporaries of the code before the loop (a
    // layout change, say), which slower warps may still be reading.
    barrier(loc);
    for (int s = 0; plan && s < plan->ahead; ++s) {
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
  if (plan && plan->loads.size() == 2 && plan->deferDots.empty()) {
    for (const dsl::Op &o : blk.ops)
      if (o.kind == OpKind::Dot && o.operands[0] == plan->loads[0]->results[0] &&
          o.operands[1] == plan->loads[1]->results[0] && plan->ld[1] != 0)
        aheadDot = &o;
  }
  if (aheadDot) {
    Ptx("cp.async.wait_group " + std::to_string(plan->stages - 2) + ";").emit(b_, loc);
    barrier(loc);
    frags0 = loadFrags(dotGeom(*aheadDot, loc), c32(int64_t(plan->base[0])), plan->ld[0],
                       c32(int64_t(plan->base[1])), plan->ld[1], 0, loc);
  }
  if (!pending_.empty()) flushPending(loc); // groups of an enclosing loop: done before this one
  std::vector<int> inits(op.operands.begin() + 3, op.operands.end());
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
    enterEmptyBlock(b_, loop.getBody());
    Value iv = loop.getInductionVar();
    Value stage;
    if (plan) {
      int S = plan->stages;
      stage = loop.getRegionIterArgs()[nflat];
      int A = plan->ahead;
      // The previous iteration's deferred groups may run on; older ones,
      // which read the stage refilled below, are done.
      if (!plan->deferDots.empty())
        Ptx("wgmma.wait_group.sync.aligned " + std::to_string(plan->deferDots.size()) + ";").emit(b_, loc);
      if (!aheadDot) {
        Ptx("cp.async.wait_group " + std::to_string(A - 1) + ";").emit(b_, loc);
        fenceProxyAsync(loc); // wgmma reads the copies through the async proxy
        barrier(loc);
      }
      Value ivNext = add(iv, mul(step, c32(A), loc), loc);
      Value wstage = fold<arith::RemUIOp>(b_, loc, add(stage, c32(A), loc), c32(S));
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
    vals_[blk.args[0]] = withFacts(TileVal{nullptr, false, {iv}}, blk.args[0]);
    unflatten(loop.getRegionIterArgs(), std::vector<int>(blk.args.begin() + 1, blk.args.end()));
    std::set<const dsl::Op *> outerDefer = std::move(deferDots_);
    std::set<int> outerResults = std::move(deferResults_);
    deferDots_ = plan ? plan->deferDots : std::set<const dsl::Op *>{};
    deferResults_.clear();
    for (const dsl::Op *d : deferDots_) deferResults_.insert(d->results[0]);
    // The previous iteration's deferred groups, newest last.
    if (plan)
      for (size_t k = 0; k < plan->deferCarried.size(); ++k)
        pending_[blk.args[1 + plan->deferCarried[k]]] =
            groupSeq_ - int64_t(plan->deferCarried.size() - k);
    for (size_t i = 0; i + 1 < blk.ops.size(); ++i) lowerOp(blk.ops[i]);
    keepPending_ = true; // the deferred groups carry on into the next iteration
    std::vector<Value> next = flatten(blk.ops.back().operands, ls, loc);
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
  unflatten(loop.getResults(), op.results);
  if (guard) {
    // The last iteration's groups, before the stages are reused.
    for (size_t k = 0; k < plan->deferCarried.size(); ++k)
      pending_[op.results[plan->deferCarried[k]]] =
          groupSeq_ - int64_t(plan->deferCarried.size() - k);
    flushPending(loc);
    std::vector<Value> out;
    for (int r : op.results) out.insert(out.end(), vals_[r].regs.begin(), vals_[r].regs.end());
    mk<scf::YieldOp>(b_, loc, out);
    b_.setInsertionPointAfter(guard);
    unflatten(guard.getResults(), op.results);
  }
  if (plan) {
    // Copies of the iterations past the end may still be landing.
    Ptx("cp.async.wait_all;").emit(b_, loc);
    barrier(loc);
    for (size_t n = 0; n < plan->loads.size(); ++n) {
      pipe_.erase(plan->loads[n]->results[0]);
      pipelined_.insert(plan->loads[n]->results[0]);
      if (!plan->ld[n]) swizzled_.insert(plan->loads[n]->results[0]);
    }
    tempBase_ = savedTemp;
  }
  for (int s : ownGatherSrc) gatherSrc_.erase(s);
  for (int s : ownSharedA) sharedA_.erase(s);
  tempBase_ = tempBefore;
}

std::vector<int> GpuLowering::stageLoopInvariantA(const dsl::Block &body, Location loc) {
  std::vector<int> own;
  auto it = k_.config.find("dot_a_shared");
  if (it == k_.config.end() || it->second == 0) return own;
  std::function<void(const dsl::Block &)> visit = [&](const dsl::Block &blk) {
    for (const dsl::Op &o : blk.ops) {
      for (const auto &r : o.regions) visit(*r);
      if (o.kind != OpKind::Dot || wgmmaDot(o)) continue;
      int a = o.operands[0];
      if (sharedA_.count(a) || !vals_.count(a)) continue; // (defined in the loop)
      const TileVal &in = vals_.at(a);
      const dsl::Type &at = ty(a);
      if (in.splat || !in.layout || in.layout->kind == Layout::Mma || at.dtype == DType::f32)
        continue;
      if (own.empty()) barrier(loc); // earlier temporaries there may still be read
      int64_t lda = at.shape[1] + 8;
      stageRows(in, at, lda, 0, loc);
      sharedA_[a] = tempBase_;
      tempBase_ += (size_t(at.shape[0] * lda * 2) + 127) / 128 * 128;
      own.push_back(a);
    }
  };
  visit(body);
  if (!own.empty()) barrier(loc);
  return own;
}

/// Gathers of `body` from tiles defined before the loop (the mask search's
/// branch tiles, read by every chunk): each such source is written to its own
/// shared buffer here, before the loop, between two barriers; the gathers in
/// the loop then only read it: no write and no barrier per iteration. The
/// buffers sit below the loop's temporaries (tempBase_ is raised past them).
std::vector<int> GpuLowering::hoistGatherSources(const dsl::Block &body, Location loc) {
  std::vector<int> own;
  for (const dsl::Op &o : body.ops) {
    if (o.kind != OpKind::Gather) continue;
    int s = o.operands[0];
    if (gatherSrc_.count(s) || !vals_.count(s)) continue; // (not yet lowered: defined in the loop)
    const TileVal &in = vals_.at(s);
    if (in.splat || !in.layout) continue;
    const dsl::Type &st = ty(s);
    if (own.empty()) barrier(loc); // earlier temporaries there may still be read
    writeShared(in, st, loc);
    gatherSrc_[s] = tempBase_;
    tempBase_ += (size_t(st.numel() * storageBytes(st.dtype)) + 15) / 16 * 16;
    own.push_back(s);
  }
  if (!own.empty()) barrier(loc);
  return own;
}

void GpuLowering::lowerIf(const dsl::Op &op, Location loc) {
  // A wait inside a branch would not dominate the uses after the if.
  flushPending(loc);
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
    enterEmptyBlock(b_, br == 0 ? ifOp.thenBlock() : ifOp.elseBlock());
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

} // namespace hip::detail::gpu
