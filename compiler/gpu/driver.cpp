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

#include <algorithm>

namespace hip::detail::gpu {

// ---- The tile.kernel ------------------------------------------------------------------
GpuLowering::GpuLowering(tile::KernelOp kernel, const Target &t, MLIRContext &ctx,
                         bool wantLayouts)
    : target_(t), ctx_(ctx), b_(&ctx), se_{b_, true, 1},
      nw_(static_cast<int>(kernel.getNumWarps())), nthreads_(32 * nw_),
      wantLayouts_(wantLayouts), kernel_(kernel), name_(kernel.getSymName().str()) {
  for (NamedAttribute kv : kernel.getConfig())
    config_[kv.getName().str()] = cast<IntegerAttr>(kv.getValue()).getInt();
  numberBlock(kernel.getBody().front(), AxisInfoAnalysis(kernel));
  for (BlockArgument a : kernel.getBody().front().getArguments()) params_.push_back(id(a));
}

int GpuLowering::define(Value v, const AxisInfo &facts) {
  std::optional<dsl::Type> t = tile::dslTypeOf(v.getType());
  if (!t) throw InternalError("kernel '" + name_ + "': a value of a type the DSL does not have");
  int n = static_cast<int>(types_.size());
  types_.push_back(*t);
  facts_.push_back(facts);
  values_.push_back(v);
  ids_[v] = n;
  return n;
}

void GpuLowering::numberBlock(Block &blk, const AxisInfoAnalysis &axis) {
  for (BlockArgument a : blk.getArguments()) define(a, axis.get(a));
  for (Operation &op : blk) {
    kinds_[&op] = tile::kindOrThrow(op);
    if (auto c = dyn_cast<tile::ConstantOp>(op)) {
      // A tile constant is the splat of a scalar one (numbered first).
      AxisInfo facts = AxisInfoAnalysis::ofConstant(tile::constantInt(c));
      if (!isa<DenseElementsAttr>(c.getValue())) {
        define(c.getResult(), facts);
        continue;
      }
      splatScalar_[&op] = static_cast<int>(types_.size());
      dsl::Type scalar = *tile::dslTypeOf(c.getType());
      scalar.shape.clear();
      types_.push_back(scalar);
      facts_.push_back(facts);
      values_.push_back(Value());
      define(c.getResult(), axis.get(c.getResult()));
      continue;
    }
    // A change to the plain type keeps whatever layout the value has: its
    // result is the same value (id) to the lowering, and the op is skipped.
    // So does a change to a dot's A operand encoding (#tile.dot_op) that only
    // dots read as their A (hip-optimize-dot-operands' hip.a names it): the
    // dot moves the value into its fragments.
    auto c = dyn_cast<tile::ConvertLayoutOp>(op);
    auto readByDots = [&](Attribute enc) { // (as their A, read from registers)
      for (OpOperand &u : c.getResult().getUses())
        if (!isa<tile::DotOp>(u.getOwner()) || u.getOperandNumber() != 0 ||
            u.getOwner()->getAttr("hip.a") != enc)
          return false;
      return true;
    };
    if (Attribute to = c ? c.getType().getEncoding() : Attribute();
        c && (!to || (isa<tile::DotOperandEncodingAttr>(to) && readByDots(to)))) {
      ids_[c.getResult()] = id(c.getSrc());
      aliases_.insert(&op);
      continue;
    }
    for (Region &r : op.getRegions())
      if (!r.empty()) numberBlock(r.front(), axis);
    for (Value r : op.getResults()) define(r, axis.get(r));
  }
}

int GpuLowering::id(Value v) const {
  auto it = ids_.find(v);
  if (it == ids_.end()) throw InternalError("kernel '" + name_ + "': a value defined outside it");
  return it->second;
}

std::vector<int> GpuLowering::args(Operation *op) const {
  std::vector<int> out;
  for (Value v : op->getOperands()) out.push_back(id(v));
  return out;
}

std::vector<int> GpuLowering::results(Operation *op) const {
  std::vector<int> out;
  for (Value v : op->getResults()) out.push_back(id(v));
  return out;
}

std::vector<int> GpuLowering::blockArgs(Block &blk) const {
  std::vector<int> out;
  for (Value v : blk.getArguments()) out.push_back(id(v));
  return out;
}

std::string GpuLowering::printLayouts() {
  // Each op with tile results gets their layouts as an attribute for the
  // print (an encoding or a string; an array of them for several results),
  // removed after.
  std::vector<Operation *> marked;
  kernel_.walk([&](Operation *op) {
    std::vector<Attribute> ds;
    bool any = false;
    for (Value r : op->getResults()) {
      Attribute d = describe(id(r));
      any |= bool(d);
      ds.push_back(d ? d : StringAttr::get(&ctx_, ""));
    }
    if (!any) return;
    op->setAttr("hip.layout", ds.size() == 1 ? ds[0] : ArrayAttr::get(&ctx_, ds));
    marked.push_back(op);
  });
  std::string text = tile::print(kernel_, /*locations=*/false);
  for (Operation *op : marked) op->removeAttr("hip.layout");
  return text;
}

// ---- Driver -------------------------------------------------------------------------
Lowered GpuLowering::run() {
  Location loc = FileLineColLoc::get(&ctx_, name_, 0, 0);
  Lowered out;
  out.module = ModuleOp::create(loc);
  b_.setInsertionPointToEnd(out.module->getBody());
  scanKernel(kernel_.getBody().front());
  auto smem = mk<LLVM::GlobalOp>(b_, loc, LLVM::LLVMArrayType::get(b_.getI8Type(), 0),
                                 false, LLVM::Linkage::External, "hip_smem", Attribute(),
                                 16, 3);
  std::vector<Type> argTypes;
  for (int p : params_) argTypes.push_back(elementType(&ctx_, ty(p).dtype, 1));
  // The TMA descriptors of the box loads hip-pipeline marked, after the
  // arguments: 128 bytes each, passed by value (.param .align 64 .b8 [128])
  // and read in place (grid constants); box loads of the same tensor in the
  // same boxes (the dense kernel's two loops) share one.
  std::map<Operation *, size_t> tmaIndex;
  kernel_.walk([&](tile::LoadOp l) {
    if (!l->hasAttr("hip.tma")) return;
    auto box = l.getBox();
    auto t = cast<RankedTensorType>(l.getResult().getType());
    if (!box || box->size() < 4)
      throw InternalError("kernel '" + name_ + "': hip.tma on a load without its box");
    size_t n = box->size() / 2;
    TensorMapSpec m;
    m.base = (*box)[0];
    m.sizes.assign(box->begin() + 1, box->begin() + 1 + n);
    m.strides.assign(box->begin() + 1 + n, box->end());
    m.bf16 = t.getElementType().isBF16();
    m.boxRows = int(t.getShape()[0]);
    m.boxCols = 64; // (one 128-byte swizzle group)
    auto it = std::find(tensorMaps_.begin(), tensorMaps_.end(), m);
    tmaIndex[l] = size_t(it - tensorMaps_.begin());
    if (it != tensorMaps_.end()) return;
    tensorMaps_.push_back(m);
    argTypes.push_back(LLVM::LLVMPointerType::get(&ctx_));
  });
  auto fnTy = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(&ctx_), argTypes);
  auto fn = mk<LLVM::LLVMFuncOp>(b_, loc, name_, fnTy);
  for (size_t i = 0; i < tensorMaps_.size(); ++i) {
    unsigned a = unsigned(params_.size() + i);
    fn.setArgAttr(a, LLVM::LLVMDialect::getByValAttrName(),
                  TypeAttr::get(LLVM::LLVMArrayType::get(b_.getI8Type(), 128)));
    fn.setArgAttr(a, LLVM::LLVMDialect::getAlignAttrName(), b_.getI64IntegerAttr(64));
    fn.setArgAttr(a, NVVM::NVVMDialect::getGridConstantAttrName(), b_.getUnitAttr());
  }
  fn->setAttr(NVVM::NVVMDialect::getKernelFuncAttrName(), b_.getUnitAttr());
  fn->setAttr(NVVM::NVVMDialect::getMaxntidAttrName(),
              b_.getDenseI32ArrayAttr({nthreads_, 1, 1}));
  // Config "min_blocks": ask ptxas to fit that many blocks per SM (it caps
  // registers per thread accordingly), like __launch_bounds__'s second value.
  if (auto mb = config_.find("min_blocks"); mb != config_.end() && mb->second > 1)
    fn->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(),
                b_.getI32IntegerAttr(static_cast<int32_t>(mb->second)));
  entry_ = fn.addEntryBlock(b_);
  b_.setInsertionPointToStart(entry_);
  Value tid = mk<NVVM::ThreadIdXOp>(b_, loc, b_.getI32Type());
  lane_ = fold<arith::RemUIOp>(b_, loc, tid, c32(32));
  warp_ = fold<arith::DivUIOp>(b_, loc, tid, c32(32));
  smemBase_ = mk<LLVM::AddressOfOp>(b_, loc, smem);
  prologueEnd_ = smemBase_.getDefiningOp();
  for (size_t i = 0; i < params_.size(); ++i)
    vals_[params_[i]] = withFacts(TileVal{nullptr, false, {entry_->getArgument(i)}}, params_[i]);
  std::vector<Value> mapAddr;
  for (size_t i = 0; i < tensorMaps_.size(); ++i)
    mapAddr.push_back(mk<LLVM::PtrToIntOp>(b_, loc, b_.getI64Type(),
                                           entry_->getArgument(unsigned(params_.size() + i))));
  for (auto &[l, i] : tmaIndex) tmaMap_[l] = mapAddr[i];
  // wgmma's swizzled B tiles sit at 1024-byte aligned offsets.
  if (wgmma_) smem.setAlignment(1024);
  lowerBlock(kernel_.getBody().front());
  mk<LLVM::ReturnOp>(b_, loc, ValueRange{});
  out.entry = name_;
  if (wantLayouts_) out.layouts = printLayouts();
  out.numThreads = nthreads_;
  out.sharedBytes = (smemBytes_ + 15) / 16 * 16;
  out.tensorMaps = tensorMaps_;
  return out;
}

void GpuLowering::lowerBlock(Block &blk) {
  for (Operation &op : blk) lowerOp(&op);
}

void GpuLowering::lowerOp(Operation *op) {
  if (aliases_.count(op)) return;
  for (int r : results(op)) {
    defs_[r] = op;
    depth_[r] = int(loops_.size());
    deferred_.erase(r); // (an op lowered again: a pipelined loop's address slice)
  }
  lowerOpImpl(op);
  for (int r : results(op)) vals_[r] = withFacts(std::move(vals_[r]), r);
  // A value whose type names its layout (hip-dot-encodings,
  // hip-remove-layout-conversions) holds exactly that layout.
  // (A splat holds in any layout, but its type still names one the
  // lowering must have.)
  for (Value r : op->getResults()) {
    auto t = dyn_cast<RankedTensorType>(r.getType());
    if (!t || !t.getEncoding() || deferred_.count(id(r))) continue;
    const Layout *named = layoutOf(t.getEncoding(), ty(id(r)), srcLoc(op));
    const TileVal &v = vals_.at(id(r));
    if (v.splat || !v.layout) continue;
    if (v.layout != named)
      throw InternalError("kernel '" + name_ + "': " + op->getName().getStringRef().str() +
                          " at " + formatLocation(srcLoc(op)) +
                          " holds another layout than its type names");
  }
}

/// Whole-kernel facts the lowering needs before it starts: uses and
/// definitions of every value, whether dots are chained (see mma()), and the
/// transposes that only feed a dot's B operand.
void GpuLowering::scanKernel(Block &blk) {
  std::function<void(Block &)> walk = [&](Block &b) {
    for (Operation &o : b) {
      if (aliases_.count(&o)) continue;
      for (int r : results(&o)) allDefs_[r] = &o;
      if (auto s = splatScalar_.find(&o); s != splatScalar_.end()) allDefs_[s->second] = &o;
      for (int v : args(&o)) ++uses_[v];
      for (Region &r : o.getRegions()) walk(r.front());
    }
  };
  walk(blk);
  // A dot whose result is computed on (not just stored or accumulated): the
  // ops around it then prefer its layout (see lowerElementwise).
  for (auto &[v, o] : allDefs_)
    for (int x : args(o))
      if (kind(o) != OpKind::Store && kind(o) != OpKind::Dot && kind(o) != OpKind::Yield &&
          allDefs_.count(x) && kind(allDefs_.at(x)) == OpKind::Dot)
        dotResults_ = true;
  for (auto &[v, o] : allDefs_) {
    if (kind(o) != OpKind::Dot || res(o, 0) != v) continue;
    if (fromDot(arg(o, 0))) chained_ = true;
    if (readsRowsB(o)) transB_.insert(arg(o, 1));
  }
  for (auto &[v, o] : allDefs_) {
    if (kind(o) != OpKind::Dot) continue;
    if (!o->hasAttr("hip.mma") || !sharedB(o) ||
        !cast<RankedTensorType>(o->getResult(0).getType()).getEncoding())
      throw InternalError("kernel '" + name_ +
                          "': a dot reached the GPU lowering without the plans of "
                          "hip-accelerate-dot, hip-optimize-dot-operands and hip-dot-encodings");
    if (wgmmaDot(o)) wgmma_ = true;
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
  const AxisInfo &a = facts_.at(size_t(id));
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

void GpuLowering::lowerOpImpl(Operation *op) {
  Location loc = locOf(&ctx_, op);
  const dsl::Type *rt = results(op).empty() ? nullptr : &ty(res(op, 0));
  switch (kind(op)) {
  case OpKind::ProgramId:
  case OpKind::NumPrograms: {
    Value v;
    int a = static_cast<int>(intAttr(op, "axis"));
    Type i32 = b_.getI32Type();
    if (kind(op) == OpKind::ProgramId)
      v = a == 0 ? Value(mk<NVVM::BlockIdXOp>(b_, loc, i32))
          : a == 1 ? Value(mk<NVVM::BlockIdYOp>(b_, loc, i32))
                   : Value(mk<NVVM::BlockIdZOp>(b_, loc, i32));
    else
      v = a == 0 ? Value(mk<NVVM::GridDimXOp>(b_, loc, i32))
          : a == 1 ? Value(mk<NVVM::GridDimYOp>(b_, loc, i32))
                   : Value(mk<NVVM::GridDimZOp>(b_, loc, i32));
    vals_[res(op, 0)] = {nullptr, false, {v}};
    return;
  }
  case OpKind::Constant: {
    auto c = cast<tile::ConstantOp>(op);
    Value v = constantOf(b_, loc, rt->dtype, tile::constantFloat(c), tile::constantInt(c));
    if (auto s = splatScalar_.find(op); s != splatScalar_.end()) { // a tile: its splat
      vals_[s->second] = {nullptr, false, {v}};
      vals_[res(op, 0)] = {nullptr, true, {v}};
      return;
    }
    vals_[res(op, 0)] = {nullptr, false, {v}};
    return;
  }
  case OpKind::Splat:
    vals_[res(op, 0)] = {nullptr, true, {val(arg(op, 0)).regs[0]}};
    return;
  case OpKind::Arange: {
    const Layout *l = namedOrDefault(op->getResult(0), *rt, srcLoc(op));
    TileVal v{l, false, {}};
    for (size_t r = 0; r < l->numRegs(); ++r)
      v.regs.push_back(add(coords(l, r, loc).second, c32(intAttr(op, "start")), loc));
    vals_[res(op, 0)] = v;
    return;
  }
  case OpKind::Broadcast:
  case OpKind::ExpandDims:
  case OpKind::Reshape:
  case OpKind::Trans: {
    // A transpose whose one use is a dot's B operand is not materialised:
    // the dot reads the source's rows as B's columns (ldmatrix without .trans).
    if (kind(op) == OpKind::Trans && transB_.count(res(op, 0))) return;
    // (A deferred source stays deferred: remat looks through both.)
    const TileVal &src =
        deferred_.count(arg(op, 0)) ? vals_.at(arg(op, 0)) : val(arg(op, 0));
    if (src.splat) {
      vals_[res(op, 0)] = src;
      return;
    }
    // The rows of an mma layout stay where they are: expand_dims makes them a
    // column, and broadcasting that column over an mma tile copies registers.
    if (kind(op) == OpKind::ExpandDims && src.layout && src.layout->kind == Layout::Slice &&
        intAttr(op, "axis") == 1) {
      TileVal r = src;
      r.layout = rowsOf(src.layout, Layout::RowBcast);
      vals_[res(op, 0)] = r;
      return;
    }
    if (kind(op) == OpKind::Broadcast && src.layout && src.layout->kind == Layout::RowBcast &&
        rt->shape.size() == 2 && rt->shape[1] % (8 * src.layout->wn) == 0) {
      const Layout *dst = mmaWith(rt->shape[0], rt->shape[1], src.layout->wm, src.layout->wn, srcLoc(op));
      TileVal r = src;
      r.layout = dst;
      r.regs.clear();
      for (size_t k = 0; k < dst->numRegs(); ++k) r.regs.push_back(src.regs[rowRegister(dst, k)]);
      vals_[res(op, 0)] = r;
      return;
    }
    const Layout *dst = namedOrDefault(op->getResult(0), *rt, srcLoc(op));
    vals_[res(op, 0)] = src; // placeholder so that remat can look through this op
    if (auto r = remat(res(op, 0), dst, loc)) {
      vals_[res(op, 0)] = *r;
      return;
    }
    // With chained dots, a broadcast that would go through shared memory
    // waits for a use that needs it in registers: most are only read through
    // remat (masks recomputed in the mma layout), and then never move.
    if (dotResults_ && (kind(op) == OpKind::ExpandDims || kind(op) == OpKind::Broadcast)) {
      // A marker keeps the place (it dies in canonicalization); the temporary
      // shared memory of that place is the one to use.
      Operation *marker = mk<arith::ConstantIntOp>(b_, loc, b_.getI32Type(), 0).getOperation();
      deferred_[res(op, 0)] = Deferred{op, marker, tempBase_};
      return;
    }
    vals_[res(op, 0)] = shapeGather(op, loc);
    return;
  }
  case OpKind::Load:
    if (pipe_.count(res(op, 0))) return; // copied by the pipelined loop
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
  case OpKind::ConvertLayout: {
    // The layout the result type names (to the plain type: an alias, see
    // numberBlock). A splat holds in any layout: it is built where used.
    Attribute enc = cast<RankedTensorType>(op->getResult(0).getType()).getEncoding();
    const Layout *l = layoutOf(enc, *rt, srcLoc(op));
    // A deferred source (a broadcast not materialised) is recomputed in it
    // where it can be, as an elementwise op's operand is.
    if (deferred_.count(arg(op, 0))) {
      vals_[res(op, 0)] = convert(arg(op, 0), l, loc);
      return;
    }
    const TileVal &src = val(arg(op, 0));
    vals_[res(op, 0)] = src.splat ? src : convert(arg(op, 0), l, loc);
    return;
  }
  case OpKind::Yield: throw InternalError("yield outside a region");
  default: return lowerElementwise(op, loc);
  }
}

/// A shape op (expand_dims, broadcast, reshape, trans) of a value that
/// remat cannot recompute: its elements through shared memory.
TileVal GpuLowering::shapeGather(Operation *op, Location loc) {
  const dsl::Type &st = ty(arg(op, 0));
  const dsl::Type *rt = &ty(res(op, 0));
  const TileVal &src = val(arg(op, 0));
  auto [S0, S1] = view2d(st.shape);
  int64_t D1 = view2d(rt->shape).second;
  const Layout *dst = namedOrDefault(op->getResult(0), *rt, srcLoc(op));
    std::function<Value(Value, Value)> lin;
    if (kind(op) == OpKind::Trans) {
      lin = [&, S1 = S1](Value i, Value j) { return add(mul(j, c32(S1), loc), i, loc); };
    } else if (kind(op) == OpKind::Broadcast) {
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
    if (kind(def.op) == OpKind::Broadcast || kind(def.op) == OpKind::ExpandDims ||
        kind(def.op) == OpKind::Reshape || kind(def.op) == OpKind::Trans) {
      r = shapeGather(def.op, locOf(&ctx_, def.op));
    } else { // a deferred mask (lowerElementwise)
      eager_ = true;
      lowerElementwise(def.op, locOf(&ctx_, def.op));
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
Lowered lowerToGpu(tile::KernelOp kernel, const Target &t, bool wantLayouts) {
  gpu::GpuLowering l(kernel, t, *kernel->getContext(), wantLayouts);
  return l.run();
}

} // namespace hip::detail
