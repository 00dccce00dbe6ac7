//===- compiler/gpu/driver.cpp - Tile IR -> per-thread NVVM code ------------===//
//
// Assumes: a verified tile-IR kernel (shapes powers of two, rank <= 2).
// Produces: one llvm.func with the nvvm.kernel attribute whose body is
// arith/scf/llvm/nvvm ops computing, per thread, the tile elements that the
// thread owns.
//
// One walk over the kernel (this file) gives every tile value a layout
// saying which thread holds which element (layouts.cpp):
//  1. Blocked: sizePerThread x threadsPerWarp x warpsPerCTA, order [1, 0],
//     8 consecutive elements per thread along the last dimension;
//     elementwise ops, loads and stores run in it.
//  2. Mma: the accumulator fragment of mma.sync m16n8k16, warps tiled over
//     the [M, N] result (along M only in kernels with chained dots). A dot's
//     result lives in it; loop-carried accumulators keep it; stores go out
//     from it. Slice / RowBcast: the rows of an mma tile, as [M] and [M, 1]
//     (row reductions, and their broadcasts back for free).
//  3. Splat: a uniform value not yet given a layout (constants, broadcast
//     scalars); it takes the layout of whatever uses it, for free.
// A forward axis analysis (contiguity, divisibility, constancy and prefix
// runs of masks) sizes each global access (up to 16-byte vectors). Values
// computed from indices alone are recomputed in the layout that needs them;
// loop invariants are converted once before the loop; other layout changes
// go through shared memory (barrier, write, barrier, read). Each op family
// is lowered in its own file under lowering/ (elementwise, load_store,
// reduce, dot_mma, sort_gather, control_flow).
//
//===----------------------------------------------------------------------===//
#include "GpuLowering.h"

namespace hip::detail::gpu {

// ---- Driver -------------------------------------------------------------------------
Lowered GpuLowering::run() {
  Location loc = FileLineColLoc::get(&ctx_, k_.name, 0, 0);
  Lowered out;
  out.module = ModuleOp::create(loc);
  b_.setInsertionPointToEnd(out.module->getBody());
  scanKernel(k_.body);
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
    vals_[k_.body.args[i]] =
        withFacts(TileVal{nullptr, false, {entry_->getArgument(i)}}, k_.body.args[i]);
  }
  // wgmma's swizzled B tiles sit at 1024-byte aligned offsets.
  if (wgmma_) smem.setAlignment(1024);
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
  for (int r : op.results) vals_[r] = withFacts(std::move(vals_[r]), r);
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
  for (auto &[v, o] : allDefs_) {
    if (o->kind != OpKind::Dot) continue;
    if (o->ints.size() != 3)
      throw InternalError("kernel '" + k_.name +
                          "': a dot reached the GPU lowering without a hip-accelerate-dot plan");
    if (wgmmaDot(*o)) wgmma_ = true;
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

TileVal GpuLowering::withFacts(TileVal v, int id) const {
  const dsl::AxisInfo &a = k_.axis.at(size_t(id));
  v.contig = a.contig, v.div = a.div, v.cst = a.cst, v.prefix = a.prefix;
  return v;
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
    TileVal info = vals_.at(id), r;
    if (def.op->kind == OpKind::Broadcast || def.op->kind == OpKind::ExpandDims ||
        def.op->kind == OpKind::Reshape || def.op->kind == OpKind::Trans) {
      r = shapeGather(*def.op, locOf(&ctx_, *def.op));
    } else { // a deferred mask (lowerElementwise)
      eager_ = true;
      lowerElementwise(*def.op, locOf(&ctx_, *def.op));
      eager_ = false;
      r = vals_.at(id);
    }
    tempBase_ = savedTemp;
    r.contig = info.contig, r.div = info.div, r.cst = info.cst, r.prefix = info.prefix;
    vals_[id] = r;
  }
  if (pending_.count(id) && !(keepPending_ && deferResults_.count(id)))
    waitFor(id, b_.getUnknownLoc());
  return vals_.at(id);
}

} // namespace hip::detail::gpu

namespace hip::detail {
Lowered lowerToGpu(const dsl::Kernel &k, const Target &t, mlir::MLIRContext &ctx,
                   bool wantLayouts) {
  if (k.axis.size() != k.valueTypes.size())
    throw InternalError("kernel '" + k.name +
                        "' reached the GPU lowering without its hip-axis-info facts (it must be "
                        "exported from the tile dialect)");
  gpu::GpuLowering l(k, t, ctx, wantLayouts);
  return l.run();
}

} // namespace hip::detail
