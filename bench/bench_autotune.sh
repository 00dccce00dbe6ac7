#!/usr/bin/env bash
# Autotuner figures on a GPU (issue 4): cold tuning time of hip_attention at
# each shape, cache lookup time, and hip_attention with tuned against default
# schedules over T = 4k..128k (bf16, B=1, H=32, H_kv=8, D=128, v1.1
# defaults); then the HiP parameter search (--algorithm) at T=4k on smooth
# data. JSON lines from `hipattn run`; tuning tables as printed.
#   bench/bench_autotune.sh [BIN_DIR]   (default build/bin)
set -eu
BIN=${1:-build/bin}
DEF=$(mktemp -d) TUNED=$(mktemp -d)
"$BIN/bench-autotune" 64
for T in 4096 16384 32768 131072; do
  reps=10; [ "$T" -gt 32768 ] && reps=3
  echo "== T=$T default schedules"
  HIP_DISABLE_AUTOTUNE=1 HIP_CACHE_DIR=$DEF "$BIN/hipattn" run --backend cuda --T "$T" --H 32 --Hkv 8 --D 128 --json --latency-only --reps $reps
  echo "== T=$T tuning (cold: empty kernel and tuning caches)"
  rm -rf "$TUNED" && mkdir -p "$TUNED"
  HIP_CACHE_DIR=$TUNED "$BIN/hipattn" tune hip_attention --backend cuda --T "$T" --H 32 --Hkv 8 --D 128 2>/dev/null
  echo "== T=$T tuned schedules"
  HIP_DISABLE_AUTOTUNE=1 HIP_CACHE_DIR=$TUNED "$BIN/hipattn" run --backend cuda --T "$T" --H 32 --Hkv 8 --D 128 --json --latency-only --reps $reps
  cp "$TUNED/autotune.json" "${OUT:-/tmp}/autotune-$T.json" 2>/dev/null || true
done
echo "== HiP parameter search at T=4096 (smooth data, min recall 0.9)"
HIP_CACHE_DIR=$TUNED "$BIN/hipattn" tune hip_attention --algorithm --min-recall 0.9 --backend cuda --T 4096 --H 32 --Hkv 8 --D 128 --data smooth --reps 5 2>/dev/null
echo "== defaults on the same data"
HIP_DISABLE_AUTOTUNE=1 HIP_CACHE_DIR=$TUNED "$BIN/hipattn" run --backend cuda --T 4096 --H 32 --Hkv 8 --D 128 --data smooth --json
rm -rf "$DEF" "$TUNED"
