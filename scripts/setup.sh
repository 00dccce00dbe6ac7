#!/usr/bin/env bash
# Installs what is missing (Debian bookworm packages; lit, numpy, pytest, openai from PyPI), then
# configures and builds the project into build/ (Release). Idempotent: a
# second run with nothing changed only checks and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -f /usr/lib/llvm-22/include/mlir/IR/MLIRContext.h ] || need+=(libmlir-22-dev mlir-22-tools llvm-22-dev)
[ -f /usr/include/zstd.h ] || need+=(libzstd-dev)
[ -f /usr/lib/x86_64-linux-gnu/libgtest.a ] || [ -f /usr/lib/libgtest.a ] || need+=(libgtest-dev)
[ -f /usr/include/nlohmann/json.hpp ] || need+=(nlohmann-json3-dev)
[ -f /usr/include/httplib.h ] || need+=(libcpp-httplib-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v cmake >/dev/null || need+=(cmake)
command -v ninja >/dev/null || need+=(ninja-build)
command -v g++ >/dev/null || need+=(g++)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v lit >/dev/null && ! python3 -c "import lit" 2>/dev/null; then
  echo "setup: installing lit (PyPI)" >&2
  python3 -m pip install -q lit 2>/dev/null || python3 -m pip install -q --break-system-packages lit
fi

if ! python3 -c "import numpy, pytest, openai" 2>/dev/null; then
  echo "setup: installing numpy, pytest and openai (PyPI)" >&2
  python3 -m pip install -q numpy pytest openai 2>/dev/null ||
    python3 -m pip install -q --break-system-packages numpy pytest openai
fi

jobs=$(nproc)
[ "$jobs" -gt 2 ] || jobs=2
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$(command -v python3)" >/dev/null
fi
ninja -C build -j "$jobs" >/dev/null || ninja -C build -j 1
