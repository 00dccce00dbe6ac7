#!/usr/bin/env bash
# Runs every GPU test and benchmark of the build in .carry/build.tar.xz on the
# device machine; logs go to $OUT, a short table is printed last.
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/hipbuild
tar -xJf .carry/build.tar.xz -C /tmp/hipbuild
B=/tmp/hipbuild/build
ROOT=$(pwd)
# Part A of a model too large for one call, kept for scripts/gpu_ppl.sh.
if [ -n "${SMOL_PART:-}" ]; then cp "$SMOL_PART" /tmp/smol.a; fi
export HIP_CACHE_DIR=/tmp/hip-cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv > "$OUT/gpu.txt" 2>&1
(cd $B && ./bin/hipattn demo) > "$OUT/demo.log" 2>&1; demo=$?
$B/bin/bench-autotune 64 > "$OUT/bench_autotune_lookup.log" 2>&1
(cd $B && HIP_DATA_DIR=${HIP_DATA_DIR:-$ROOT/.carry/data} HIP_DISABLE_AUTOTUNE=1 HIP_CACHE_DIR=/tmp/hip-cache-tests ./bin/hipattn-tests) > "$OUT/tests.log" 2>&1; tests=$?
if [ -n "${MATMUL:-}" ]; then (cd $B && ./bin/bench-matmul ${BENCH_ARGS:-}) > "$OUT/bench_matmul.log" 2>&1; fi; bench=$?
if [ -n "${TUNE:-}" ]; then OUT=$OUT bench/bench_autotune.sh $B/bin > "$OUT/bench_autotune.log" 2> "$OUT/bench_autotune.err"; fi; btune=$?
if [ -n "${ACC:-}" ]; then # HiP's error and recall on data with locality
  for T in 4096 16384; do
    HIP_DISABLE_AUTOTUNE=1 $B/bin/hipattn run --backend cuda --T $T --H 32 --Hkv 8 --D 128 --data smooth --json
  done > "$OUT/accuracy.log" 2>&1
fi
DATA=${HIP_DATA_DIR:-.carry/data}
if [ -n "${MODEL:-}" ] && [ -f "$DATA/models/stories260k-f32.gguf" ]; then # the model side on the GPU
  M=$DATA/models/stories260k-f32.gguf; TXT=$DATA/wikitext-2/test.txt
  { $B/bin/hipattn generate --model $M --max-tokens 40 --backend cuda --method dense; echo
    $B/bin/hipattn generate --model $M --max-tokens 40 --backend cuda --method hip --mask-k 32 --block-size-q 16 --sink 8 --window 16; echo
    for m in dense hip streaming; do
      HIP_DISABLE_AUTOTUNE=1 $B/bin/hipattn eval ppl --model $M --text $TXT --ctx 512 --max-windows 40 --method $m --backend cuda --mask-k 128 --block-size-q 16 --sink 16 --window 32 --json
    done; } > "$OUT/model.log" 2>&1
fi
if [ -n "${OPTCMP:-}" ]; then # the kernels' speed with and without LLVM's middle end (HIP_LLVM_OPT)
  for o in 0 1; do
    echo "## HIP_LLVM_OPT=$o"
    (cd $B && HIP_LLVM_OPT=$o HIP_CACHE_DIR=/tmp/hip-cache-opt$o ./bin/bench-matmul 4096 4096 4096)
    for T in 16384 32768; do
      HIP_LLVM_OPT=$o HIP_CACHE_DIR=/tmp/hip-cache-opt$o HIP_DISABLE_AUTOTUNE=1 $B/bin/hipattn run --backend cuda \
        --T $T --H 32 --Hkv 8 --D 128 --json --latency-only --reps 5
    done
  done > "$OUT/optcmp.log" 2>&1
fi
if [ -n "${ATTN:-}" ]; then
  HIP_DISABLE_AUTOTUNE=1 bench/bench_attention.sh $B/bin > "$OUT/bench_attention.log" 2> "$OUT/bench_attention.err"; battn=$?
  python3 bench/sdpa_baseline.py > "$OUT/sdpa.log" 2>&1; sdpa=$?
fi
echo "==== GPU"; cat "$OUT/gpu.txt"
echo "==== demo (rc=$demo)"; cat "$OUT/demo.log"; echo "==== autotune lookup"; cat "$OUT/bench_autotune_lookup.log"
echo "==== tests (rc=$tests)"; grep -E "^\[  (PASSED|FAILED) |^\[==========\]|Failure" "$OUT/tests.log" | head -30
grep -c "^\[  SKIPPED \]" "$OUT/tests.log" | sed 's/^/skipped lines: /'; grep "^\[  SKIPPED \]" "$OUT/tests.log" | sort -u | head -12
[ -n "${MATMUL:-}" ] && { echo "==== bench-matmul (rc=$bench)"; cat "$OUT/bench_matmul.log"; }
[ -n "${TUNE:-}" ] && { echo "==== bench-autotune (rc=$btune)"; cat "$OUT/bench_autotune.log"; tail -3 "$OUT/bench_autotune.err"; }
[ -f "$OUT/accuracy.log" ] && { echo "==== accuracy (smooth data)"; cat "$OUT/accuracy.log"; }
[ -f "$OUT/model.log" ] && { echo "==== model on the GPU"; cat "$OUT/model.log"; }
[ -f "$OUT/optcmp.log" ] && { echo "==== HIP_LLVM_OPT 0 vs 1"; grep -vE "^\s*$" "$OUT/optcmp.log" | grep -E "##|head to head|best|cold|warm|cuBLAS|total_ms|\"T\"" | cut -c1-220; }
if [ -n "${ATTN:-}" ]; then
  echo "==== bench-attention (rc=$battn)"; cat "$OUT/bench_attention.log"; tail -5 "$OUT/bench_attention.err"
  echo "==== sdpa baseline (rc=$sdpa)"; cat "$OUT/sdpa.log"
fi
if [ -n "${NCU:-}" ]; then
  (cd $B && ncu --section SpeedOfLight --section Occupancy --section WarpStateStats --section ComputeWorkloadAnalysis \
     -k regex:'^matmul$' -c 1 ./bin/bench-matmul 4096 4096 4096 --config "$NCU") > "$OUT/ncu.txt" 2>&1
  echo "==== ncu ($NCU)"
  grep -E "Throughput|Occupancy|Registers|Issue|Stall|Cycles Per|Block Limit|Executed Ipc|Warp Cycles" "$OUT/ncu.txt" | head -40
fi
