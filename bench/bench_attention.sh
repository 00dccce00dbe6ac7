#!/usr/bin/env bash
# HiP attention against the project's dense flash-attention kernel on the GPU
# at the shapes of issue 3 (bf16, B=1, H=32, H_kv=8, D=128, v1.1 defaults):
# one JSON line per sequence length (`hipattn run --json`). Error and recall
# are measured at 4k and 16k; 32k and 128k report latency only.
#   bench/bench_attention.sh [BIN_DIR]   (default build/bin)
set -eu
BIN=${1:-build/bin}
for T in 4096 16384; do
  "$BIN/hipattn" run --backend cuda --T "$T" --H 32 --Hkv 8 --D 128 --json
done
for T in 32768 131072; do
  "$BIN/hipattn" run --backend cuda --T "$T" --H 32 --Hkv 8 --D 128 --json --latency-only --reps 3
done
