//===- TileOps.td - The `tile` dialect: types and ops ------*- tablegen -*-===//
//
// The tile dialect is the MLIR form of the IR that DSL kernels are traced
// into (hip::dsl::Kernel): one op per dsl::OpKind, with verifiers that check
// what the DSL checks while tracing. Tiles are builtin static tensors of rank
// 1 or 2 (`tensor<128x32xbf16>`); scalars are the builtin types; a pointer
// is `!tile.ptr<f32>` and a tile of pointers `tensor<256x!tile.ptr<f32>>`.
// A kernel is a `tile.kernel` op whose body block takes the kernel's
// arguments; device control flow is `tile.for` / `tile.if` ending in
// `tile.yield`.
//
//===----------------------------------------------------------------------===//
#ifndef HIP_TILE_OPS_TD
#define HIP_TILE_OPS_TD

include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Dialect and types
//===----------------------------------------------------------------------===//

def Tile_Dialect : Dialect {
  let name = "tile";
  let cppNamespace = "::hip::tile";
  let summary = "Tiles, pointers and structured control flow of DSL kernels";
  let description = [{
    The IR that hip-attention's C++ DSL traces a kernel into, as an MLIR
    dialect: `hipattn compile KERNEL --emit tile` prints it, `hipattn-opt`
    parses it and runs passes on it, and the compiler verifies and
    canonicalizes every kernel in this form before its GPU/CPU lowering.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
}

class Tile_Type<string name, string typeMnemonic> : TypeDef<Tile_Dialect, name> {
  let mnemonic = typeMnemonic;
}

def Tile_PtrType : Tile_Type<"Ptr", "ptr"> {
  let summary = "!tile.ptr";
  let description = [{ Printed `!tile.ptr<f32>`; a tile of pointers is
    `tensor<128x!tile.ptr<f32>>`. }];
  let parameters = (ins "::mlir::Type":$pointee);
  let assemblyFormat = "`<` $pointee `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

// Element types, grouped as the DSL uses them.
defvar FloatElems = [F16, BF16, F32];
defvar NumberElems = [I32, I64, F16, BF16, F32];
defvar BitElems = [I1, I32, I64];
defvar ValueElems = [I1, I32, I64, F16, BF16, F32];
defvar AnyElems = [I1, I32, I64, F16, BF16, F32, Tile_PtrType];

// A tile: a static tensor of rank 1 or 2.
class Tile_TileOf<list<Type> elems>
    : RankedTensorOf<elems, [HasAnyRankOfPred<[1, 2]>, HasStaticShapePred],
                     "rank-1/2 static tile">;

// A scalar of one of `elems` or a tile of them.
class Tile_ValueOf<list<Type> elems>
    : AnyTypeOf<!listconcat(elems, [Tile_TileOf<elems>]),
                "scalar or rank-1/2 tile of " # !interleave(!foreach(t, elems, t.summary), ", ")>;

// C++ helpers (TileDialect.h) the type relations below use.
defvar Tile_BoolLike = "::hip::tile::boolLike($_self)";
defvar Tile_PointeeLike = "::hip::tile::pointeeLike($_self)";

//===----------------------------------------------------------------------===//
// Layout encodings (GPU): which thread holds which element of a tile
//===----------------------------------------------------------------------===//

// A list of unsigned numbers, printed and parsed as [a, b, ...].
class Tile_UIntList<string desc> : ArrayRefParameter<"unsigned", desc> {
  let printer = [{
    $_printer << "[";
    ::llvm::interleaveComma($_self, $_printer);
    $_printer << "]";
  }];
  let parser = [{ [&]() -> ::mlir::FailureOr<::llvm::SmallVector<unsigned>> {
    ::llvm::SmallVector<unsigned> v;
    if ($_parser.parseCommaSeparatedList(::mlir::AsmParser::Delimiter::Square, [&] {
          unsigned x;
          if ($_parser.parseInteger(x)) return ::mlir::failure();
          v.push_back(x);
          return ::mlir::success();
        }))
      return ::mlir::failure();
    return v;
  }() }];
}

class Tile_Encoding<string name, string attrMnemonic> : AttrDef<Tile_Dialect, name> {
  let mnemonic = attrMnemonic;
  let genVerifyDecl = 1;
}

def Tile_BlockedEncodingAttr : Tile_Encoding<"BlockedEncoding", "blocked"> {
  let summary = "elements per thread, threads per warp, warps per block, per dimension";
  let description = [{
    Loads, stores and elementwise ops: each thread holds `sizePerThread`
    consecutive elements per dimension, a warp's 32 lanes spread
    `threadsPerWarp`, the block's warps `warpsPerCTA`; `order` lists the
    dimensions fastest first. Where the tile is smaller than that footprint,
    elements repeat over threads; where larger, the footprint repeats.
    `#tile.blocked<sizePerThread = [1, 8], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]>`
  }];
  let parameters = (ins Tile_UIntList<"elements per thread">:$sizePerThread,
                        Tile_UIntList<"lanes per dimension">:$threadsPerWarp,
                        Tile_UIntList<"warps per dimension">:$warpsPerCTA,
                        Tile_UIntList<"dimensions, fastest first">:$order);
  let assemblyFormat = "`<` `sizePerThread` `=` $sizePerThread `,` `threadsPerWarp` `=` $threadsPerWarp `,` `warpsPerCTA` `=` $warpsPerCTA `,` `order` `=` $order `>`";
}

def Tile_MmaEncodingAttr : Tile_Encoding<"MmaEncoding", "mma"> {
  let summary = "accumulator of a tensor-core dot";
  let description = [{
    Version 2: `mma.sync.m16n8k16` (each warp a `warpsPerCTA` share of the
    result in 16 x 8 blocks); version 3: `wgmma.mma_async.m64nNk16` (each
    warpgroup 64 rows, all columns: `warpsPerCTA = [W, 1]`, W a multiple of
    4). hip-accelerate-dot sets one on each `tile.dot` (`hip.mma`).
    `#tile.mma<version = 3, warpsPerCTA = [8, 1]>`
  }];
  let parameters = (ins "unsigned":$version, Tile_UIntList<"warps along M and N">:$warpsPerCTA);
  let assemblyFormat = "`<` `version` `=` $version `,` `warpsPerCTA` `=` $warpsPerCTA `>`";
}

def Tile_DotOperandEncodingAttr : Tile_Encoding<"DotOperandEncoding", "dot_op"> {
  let summary = "A (opIdx 0) or B (opIdx 1) operand of a dot with accumulator `parent`";
  let description = [{
    The registers mma.sync (or wgmma, for A) reads an operand from: the
    fragments of the parent accumulator layout's warps, `kWidth` consecutive
    elements along K per register group. With the warps along M only, an
    accumulator converts to the next dot's A operand in registers.
    `#tile.dot_op<opIdx = 0, parent = #tile.mma<version = 2, warpsPerCTA = [4, 1]>, kWidth = 2>`
  }];
  let parameters = (ins "unsigned":$opIdx, "::mlir::Attribute":$parent, "unsigned":$kWidth);
  let assemblyFormat = "`<` `opIdx` `=` $opIdx `,` `parent` `=` $parent `,` `kWidth` `=` $kWidth `>`";
}

def Tile_SharedEncodingAttr : Tile_Encoding<"SharedEncoding", "shared"> {
  let summary = "a tile in shared memory, rows swizzled";
  let description = [{
    Row r's `vec`-element groups are XOR-ed with (r / perPhase) % maxPhase,
    so that ldmatrix and wgmma's descriptors read without bank conflicts
    (128-byte swizzle for bf16: vec 8, perPhase 1, maxPhase 8); maxPhase 1:
    no swizzle. `order` as for blocked.
    `#tile.shared<vec = 8, perPhase = 1, maxPhase = 8, order = [1, 0]>`
  }];
  let parameters = (ins "unsigned":$vec, "unsigned":$perPhase, "unsigned":$maxPhase,
                        Tile_UIntList<"dimensions, fastest first">:$order);
  let assemblyFormat = "`<` `vec` `=` $vec `,` `perPhase` `=` $perPhase `,` `maxPhase` `=` $maxPhase `,` `order` `=` $order `>`";
}

def Tile_SliceEncodingAttr : Tile_Encoding<"SliceEncoding", "slice"> {
  let summary = "a reduction's result: the parent layout without dimension `dim`";
  let description = [{
    The rows (dim 1) or columns (dim 0) of a 2-D tile in layout `parent`,
    held by the threads that held them there (broadcasting back is free).
    `#tile.slice<dim = 1, parent = #tile.mma<version = 2, warpsPerCTA = [8, 1]>>`
  }];
  let parameters = (ins "unsigned":$dim, "::mlir::Attribute":$parent);
  let assemblyFormat = "`<` `dim` `=` $dim `,` `parent` `=` $parent `>`";
}

//===----------------------------------------------------------------------===//
// Op classes
//===----------------------------------------------------------------------===//

class Tile_Op<string mnemonic, list<Trait> traits = []>
    : Op<Tile_Dialect, mnemonic, traits>;

// program_id / num_programs: one grid axis.
class Tile_GridOp<string mnemonic, string what> : Tile_Op<mnemonic, [Pure]> {
  let summary = what # " along grid axis `axis` (0, 1 or 2)";
  let arguments = (ins ConfinedAttr<I32Attr, [IntMinValue<0>, IntMaxValue<2>]>:$axis);
  let results = (outs I32:$result);
  let assemblyFormat = "$axis attr-dict";
}

// Shape ops: one operand, same element type, a new shape.
class Tile_ShapeOp<string mnemonic, Type src, dag extraArgs = (ins),
                   string extraFormat = "">
    : Tile_Op<mnemonic, [Pure, SameOperandsAndResultElementType]> {
  let arguments = !con((ins src:$src), extraArgs);
  let results = (outs Tile_TileOf<AnyElems>:$result);
  let assemblyFormat = "$src " # extraFormat #
                       "attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

// Elementwise ops on operands of one type (the DSL broadcasts first).
class Tile_BinaryOp<string mnemonic, list<Type> elems, list<Trait> traits = []>
    : Tile_Op<mnemonic, !listconcat(traits, [Pure,
                                             SameOperandsAndResultType])> {
  let arguments = (ins Tile_ValueOf<elems>:$lhs, Tile_ValueOf<elems>:$rhs);
  let results = (outs Tile_ValueOf<elems>:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

// Comparisons: i1 results of the operands' shape.
class Tile_CmpOp<string mnemonic, list<Trait> traits = []>
    : Tile_Op<mnemonic, !listconcat(traits, [Pure, SameTypeOperands,
          TypesMatchWith<"result is i1 of the operands' shape", "lhs", "result",
                         Tile_BoolLike>])> {
  let arguments = (ins Tile_ValueOf<ValueElems>:$lhs, Tile_ValueOf<ValueElems>:$rhs);
  let results = (outs Tile_ValueOf<[I1]>:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs)";
}

class Tile_UnaryOp<string mnemonic, list<Type> elems>
    : Tile_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let arguments = (ins Tile_ValueOf<elems>:$src);
  let results = (outs Tile_ValueOf<elems>:$result);
  let assemblyFormat = "$src attr-dict `:` type($result)";
}

// Reductions along `axis`; the result drops that dimension (a rank-1 tile
// reduces to a scalar).
class Tile_ReduceOp<string mnemonic, list<Type> resultElems>
    : Tile_Op<mnemonic, [Pure]> {
  let arguments = (ins Tile_TileOf<NumberElems>:$src, I32Attr:$axis);
  let results = (outs Tile_ValueOf<resultElems>:$result);
  let assemblyFormat =
      "$src `axis` $axis attr-dict `:` type($src) `->` type($result)";
  // One verifier for the four reductions.
  let hasVerifier = 1;
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::verify() {
      return ::hip::tile::verifyReduction(getOperation(), getAxis());
    }
  }];
}

//===----------------------------------------------------------------------===//
// Leaves
//===----------------------------------------------------------------------===//

def Tile_ProgramIdOp : Tile_GridOp<"program_id", "index of this program">;
def Tile_NumProgramsOp : Tile_GridOp<"num_programs", "number of programs">;

def Tile_ConstantOp : Tile_Op<"constant",
    [ConstantLike, Pure, AllTypesMatch<["value", "result"]>]> {
  let summary = "a scalar constant, or a tile with one value in every element";
  let arguments = (ins TypedAttrInterface:$value);
  let results = (outs Tile_ValueOf<ValueElems>:$result);
  let assemblyFormat = "attr-dict $value";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Tile_ArangeOp : Tile_Op<"arange", [Pure]> {
  let summary = "the i32 tile [start, start + 1, ..., end - 1]";
  let arguments = (ins I64Attr:$start, I64Attr:$end);
  let results = (outs Tile_TileOf<[I32]>:$result);
  let assemblyFormat = "$start `,` $end attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Shapes
//===----------------------------------------------------------------------===//

def Tile_SplatOp : Tile_ShapeOp<"splat", Tile_ValueOf<AnyElems>> {
  let summary = "a tile with the scalar `src` in every element";
}
def Tile_BroadcastOp : Tile_ShapeOp<"broadcast", Tile_TileOf<AnyElems>> {
  let summary = "repeats the unit dimensions of `src` (same rank)";
}
def Tile_ExpandDimsOp : Tile_ShapeOp<"expand_dims", Tile_ValueOf<AnyElems>,
                                     (ins I32Attr:$axis), "`axis` $axis "> {
  let summary = "inserts a unit dimension at `axis`";
}
def Tile_ReshapeOp : Tile_ShapeOp<"reshape", Tile_TileOf<AnyElems>> {
  let summary = "the same elements in row-major order, another shape";
}
def Tile_TransOp : Tile_ShapeOp<"trans", Tile_TileOf<AnyElems>> {
  let summary = "transpose of a rank-2 tile";
}

def Tile_ConvertLayoutOp : Tile_Op<"convert_layout", [Pure, SameOperandsAndResultShape,
    SameOperandsAndResultElementType]> {
  let summary = "the same tile in another register layout";
  let description = [{
    A layout change, explicit: the result holds the source's elements with
    the result type's encoding (`#tile.blocked`, `#tile.mma`, `#tile.dot_op`
    or `#tile.slice`; none: whatever layout the source has). The GPU
    lowering moves the registers (recomputing, shuffling or through shared
    memory); the CPU lowering ignores encodings. `#tile.shared` names a
    buffer in shared memory, not registers, and is refused here.
    `%b = tile.convert_layout %a : tensor<64x64xf32, #blocked> -> tensor<64x64xf32, #mma>`
  }];
  let arguments = (ins Tile_TileOf<AnyElems>:$src);
  let results = (outs Tile_TileOf<AnyElems>:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

let hasFolder = 1 in {
def Tile_AddOp : Tile_BinaryOp<"add", NumberElems, [Commutative]>;
def Tile_SubOp : Tile_BinaryOp<"sub", NumberElems>;
def Tile_MulOp : Tile_BinaryOp<"mul", NumberElems, [Commutative]>;
def Tile_DivOp : Tile_BinaryOp<"div", NumberElems>;
}
def Tile_RemOp : Tile_BinaryOp<"rem", NumberElems>;
def Tile_MinOp : Tile_BinaryOp<"min", NumberElems, [Commutative]>;
def Tile_MaxOp : Tile_BinaryOp<"max", NumberElems, [Commutative]>;
def Tile_AndOp : Tile_BinaryOp<"and", BitElems, [Commutative]>;
def Tile_OrOp : Tile_BinaryOp<"or", BitElems, [Commutative]>;
def Tile_XorOp : Tile_BinaryOp<"xor", BitElems, [Commutative]>;

def Tile_CmpLtOp : Tile_CmpOp<"cmp_lt">;
def Tile_CmpLeOp : Tile_CmpOp<"cmp_le">;
def Tile_CmpGtOp : Tile_CmpOp<"cmp_gt">;
def Tile_CmpGeOp : Tile_CmpOp<"cmp_ge">;
def Tile_CmpEqOp : Tile_CmpOp<"cmp_eq", [Commutative]>;
def Tile_CmpNeOp : Tile_CmpOp<"cmp_ne", [Commutative]>;

def Tile_NegOp : Tile_UnaryOp<"neg", NumberElems> { let hasFolder = 1; }
def Tile_ExpOp : Tile_UnaryOp<"exp", FloatElems>;
def Tile_Exp2Op : Tile_UnaryOp<"exp2", FloatElems>;
def Tile_LogOp : Tile_UnaryOp<"log", FloatElems>;
def Tile_Log2Op : Tile_UnaryOp<"log2", FloatElems>;
def Tile_SqrtOp : Tile_UnaryOp<"sqrt", FloatElems>;
def Tile_AbsOp : Tile_UnaryOp<"abs", NumberElems>;

def Tile_SelectOp : Tile_Op<"select", [Pure,
    AllTypesMatch<["true_value", "false_value", "result"]>,
    TypesMatchWith<"condition is i1 of the values' shape", "result", "cond",
                   Tile_BoolLike>]> {
  let summary = "elementwise `cond ? true_value : false_value`";
  let arguments = (ins Tile_ValueOf<[I1]>:$cond, Tile_ValueOf<AnyElems>:$true_value,
                       Tile_ValueOf<AnyElems>:$false_value);
  let results = (outs Tile_ValueOf<AnyElems>:$result);
  let assemblyFormat =
      "$cond `,` $true_value `,` $false_value attr-dict `:` type($result)";
  let hasFolder = 1;
}

def Tile_CastOp : Tile_Op<"cast", [Pure]> {
  let summary = "elementwise conversion between number types (and i1)";
  let arguments = (ins Tile_ValueOf<ValueElems>:$src);
  let results = (outs Tile_ValueOf<ValueElems>:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Tile_AddPtrOp : Tile_Op<"addptr", [Pure,
    AllTypesMatch<["ptr", "result"]>]> {
  let summary = "`ptr + offset` elements (offsets in units of the pointee)";
  let arguments = (ins Tile_ValueOf<[Tile_PtrType]>:$ptr,
                       Tile_ValueOf<[I32, I64]>:$offset);
  let results = (outs Tile_ValueOf<[Tile_PtrType]>:$result);
  let assemblyFormat = "$ptr `,` $offset attr-dict `:` type($ptr) `,` type($offset)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

def Tile_LoadOp : Tile_Op<"load", [AttrSizedOperandSegments,
    MemoryEffects<[MemRead]>,
    TypesMatchWith<"result is the pointee of `ptr`, of its shape", "ptr",
                   "result", Tile_PointeeLike>,
    OptionalTypesMatchWith<"mask is i1 of the pointer's shape", "ptr", "mask",
                           Tile_BoolLike>,
    OptionalTypesMatchWith<"`other` has the result's type", "ptr", "other",
                           Tile_PointeeLike>]> {
  let summary = "reads through a pointer (tile); masked-off lanes read `other`";
  let description = [{
    With `box` (the DSL's load_box): the pointers and the mask are those of a
    box of a strided tensor of n = 2 to 5 dimensions (the last one's stride
    1): the leading n - 2 start coordinates index it, the box spans the last
    two from theirs; element (i, j) of a matrix is at
    `base + (start[0] + i) * ld + start[1] + j`, read where
    `start[0] + i < rows` and `start[1] + j < cols`. `box` names where the
    tensor's `[base, sizes..., strides...]` come from (2n entries: each a
    kernel argument's index, or -1 - v for the constant v), so that the GPU
    backend may copy it with a tensor-memory-accelerator (TMA) descriptor the
    launch builds instead.
  }];
  let arguments = (ins Tile_ValueOf<[Tile_PtrType]>:$ptr,
                       Optional<Tile_ValueOf<[I1]>>:$mask,
                       Optional<Tile_ValueOf<ValueElems>>:$other,
                       Variadic<I32>:$start,
                       OptionalAttr<DenseI64ArrayAttr>:$box);
  let results = (outs Tile_ValueOf<ValueElems>:$result);
  let assemblyFormat = [{
    $ptr (`,` $mask^ `,` $other)? (`box` `(` $start^ `)`)? attr-dict `:` type($ptr)
  }];
  let hasVerifier = 1;
}

def Tile_StoreOp : Tile_Op<"store", [MemoryEffects<[MemWrite]>,
    TypesMatchWith<"value is the pointee of `ptr`, of its shape", "ptr",
                   "value", Tile_PointeeLike>,
    OptionalTypesMatchWith<"mask is i1 of the pointer's shape", "ptr", "mask",
                           Tile_BoolLike>]> {
  let summary = "writes through a pointer (tile) where `mask` is set";
  let arguments = (ins Tile_ValueOf<[Tile_PtrType]>:$ptr,
                       Tile_ValueOf<ValueElems>:$value,
                       Optional<Tile_ValueOf<[I1]>>:$mask);
  let assemblyFormat = "$ptr `,` $value (`,` $mask^)? attr-dict `:` type($ptr)";
}

//===----------------------------------------------------------------------===//
// Reductions, dot, sort, gather
//===----------------------------------------------------------------------===//

def Tile_SumOp : Tile_ReduceOp<"sum", NumberElems>;
def Tile_ReduceMaxOp : Tile_ReduceOp<"reduce_max", NumberElems>;
def Tile_ReduceMinOp : Tile_ReduceOp<"reduce_min", NumberElems>;
def Tile_ArgmaxOp : Tile_ReduceOp<"argmax", [I32]>;

def Tile_DotOp : Tile_Op<"dot", [Pure, AllTypesMatch<["acc", "result"]>]> {
  let summary = "`a[M,K] x b[K,N] + acc[M,N]` accumulated in f32";
  let arguments = (ins Tile_TileOf<FloatElems>:$a, Tile_TileOf<FloatElems>:$b,
                       Tile_TileOf<[F32]>:$acc);
  let results = (outs Tile_TileOf<[F32]>:$result);
  let assemblyFormat =
      "$a `,` $b `,` $acc attr-dict `:` type($a) `,` type($b) `->` type($result)";
  let hasVerifier = 1;
}

def Tile_SortOp : Tile_Op<"sort", [Pure, SameOperandsAndResultType]> {
  let summary = "stable sort along the last axis";
  let arguments = (ins Tile_TileOf<NumberElems>:$src, UnitAttr:$descending);
  let results = (outs Tile_TileOf<NumberElems>:$result);
  let assemblyFormat = "$src (`descending` $descending^)? attr-dict `:` type($result)";
}

def Tile_TopKOp : Tile_Op<"topk", [Pure]> {
  let summary = "the `k` largest along the last axis and their i32 indices, "
                "descending (or, with `index_order`, in ascending index order)";
  let arguments = (ins Tile_TileOf<NumberElems>:$src, I64Attr:$k, UnitAttr:$index_order);
  let results = (outs Tile_TileOf<NumberElems>:$values, Tile_TileOf<[I32]>:$indices);
  let assemblyFormat = "$src `,` $k (`index_order` $index_order^)? attr-dict `:` type($src) "
                       "`->` type($values) `,` type($indices)";
  let hasVerifier = 1;
}

def Tile_GatherOp : Tile_Op<"gather", [Pure]> {
  let summary = "`src[index]` for a rank-1 `src`; the result has the index's "
                "shape";
  let arguments = (ins Tile_TileOf<ValueElems>:$src, Tile_TileOf<[I32]>:$index);
  let results = (outs Tile_TileOf<ValueElems>:$result);
  let assemblyFormat = "$src `[` $index `]` attr-dict `:` type($src) `,` "
                       "type($index) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Control flow and the kernel
//===----------------------------------------------------------------------===//

def Tile_ForOp : Tile_Op<"for", [RecursiveMemoryEffects,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "for (iv = lo; iv < hi; iv += step) with loop-carried values";
  let description = [{
    ```mlir
    %r = tile.for %iv = %lo to %hi step %step iter_args(%acc = %init)
        -> (tensor<64x64xf32>) {
      ...
      tile.yield %next : tensor<64x64xf32>
    }
    ```
  }];
  let arguments = (ins I32:$lo, I32:$hi, I32:$step, Variadic<AnyType>:$inits);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let hasCustomAssemblyFormat = 1;
  let hasRegionVerifier = 1;
}

def Tile_IfOp : Tile_Op<"if", [RecursiveMemoryEffects,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "device `if` on an i1 scalar; both branches yield the results";
  let arguments = (ins I1:$cond);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$then_region, SizedRegion<1>:$else_region);
  let hasCustomAssemblyFormat = 1;
  let hasRegionVerifier = 1;
}

def Tile_YieldOp : Tile_Op<"yield", [Pure, ReturnLike, Terminator,
    ParentOneOf<["ForOp", "IfOp"]>]> {
  let summary = "the values a tile.for iteration carries on, or a tile.if returns";
  let arguments = (ins Variadic<AnyType>:$values);
  let builders = [OpBuilder<(ins), [{ /* no values */ }]>];
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

def Tile_KernelOp : Tile_Op<"kernel", [IsolatedFromAbove, Symbol, SingleBlock,
    NoTerminator, DeclareOpInterfaceMethods<OpAsmOpInterface,
                                            ["getAsmBlockArgumentNames"]>]> {
  let summary = "a kernel: its arguments, compile-time config and body";
  let description = [{
    ```mlir
    tile.kernel @vector_add(%x: !tile.ptr<f32>, %n: i32 {multiple_of = 16})
        num_warps(4) config {BLOCK = 256} {
      ...
    }
    ```
    The body's block arguments are the kernel arguments (scalars i32, i64,
    f32, or pointers); their SSA names are the argument names. `multiple_of`
    is the launch-time promise of an integer argument; `config` holds the
    compile-time config the kernel was traced with.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrArrayAttr:$param_names,
                       DenseI64ArrayAttr:$multiple_of,
                       ConfinedAttr<I32Attr, [IntMinValue<1>]>:$num_warps,
                       DictionaryAttr:$config);
  let regions = (region SizedRegion<1>:$body);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
}

#endif // HIP_TILE_OPS_TD
