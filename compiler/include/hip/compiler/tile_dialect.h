//===- hip/compiler/tile_dialect.h - The tile dialect, MLIR-free -*- C++ -*-===//
//
// The compiler imports every traced dsl::Kernel into the `tile` MLIR dialect
// (compiler/tile/TileOps.td), verifies and canonicalizes it there, and the
// backends lower the dialect. These entry points expose the dialect's text
// form and the import -> export round trip without MLIR headers (for tools
// and tests).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "hip/compiler/compiler.h"
#include "hip/dsl/ir.h"

#include <string>
#include <vector>

namespace hip::tile {

/// `k` through the tile dialect and back: import, verify, canonicalize if
/// asked, export (the backends lower the dialect itself; this shows what
/// they start from in the DSL's terms). Throws InternalError naming the op
/// and the user's source line if the imported IR does not verify.
dsl::Kernel roundTrip(const dsl::Kernel &k, bool canonicalize);

/// `k` in the tile dialect's MLIR syntax (a module with one tile.kernel),
/// verified and canonicalized if asked; with `locations`, every op's
/// loc("file":line:col) as well. hipattn-opt parses it.
std::string toMLIR(const dsl::Kernel &k, bool canonicalize, bool locations);
/// The same after the dialect's passes for GPU `target` (canonicalized:
/// hip-accelerate-dot's plan on each dot, the kernel's warp count;
/// hip-pipeline's marks on each pipelined loop), or after the pass
/// `afterPass` ("hip-accelerate-dot", "hip-pipeline") and those before it.
std::string toMLIR(const dsl::Kernel &k, bool locations, const Target &target,
                   const std::string &afterPass = "");

/// The kernels of textual tile IR (a module of tile.kernel ops), verified and
/// exported. Throws CompileError with the parser's or verifier's messages.
std::vector<dsl::Kernel> parseKernels(const std::string &text);

} // namespace hip::tile
