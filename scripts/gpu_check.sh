#!/usr/bin/env bash
# Runs every GPU test and benchmark of the build in .carry/build.tar.xz on the
# device machine; logs go to $OUT, a short table is printed last.
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/hipbuild
tar -xJf .carry/build.tar.xz -C /tmp/hipbuild
B=/tmp/hipbuild/build
export HIP_CACHE_DIR=/tmp/hip-cache
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv > "$OUT/gpu.txt" 2>&1
(cd $B && ./bin/hipattn demo) > "$OUT/demo.log" 2>&1; demo=$?
(cd $B && HIP_DISABLE_AUTOTUNE=1 HIP_CACHE_DIR=/tmp/hip-cache-tests ./bin/hipattn-tests) > "$OUT/tests.log" 2>&1; tests=$?
if [ -n "${MATMUL:-}" ]; then (cd $B && ./bin/bench-matmul ${BENCH_ARGS:-}) > "$OUT/bench_matmul.log" 2>&1; fi; bench=$?
bench/bench_attention.sh $B/bin > "$OUT/bench_attention.log" 2> "$OUT/bench_attention.err"; battn=$?
python3 bench/sdpa_baseline.py > "$OUT/sdpa.log" 2>&1; sdpa=$?
echo "==== GPU"; cat "$OUT/gpu.txt"
echo "==== demo (rc=$demo)"; cat "$OUT/demo.log"
echo "==== tests (rc=$tests)"; grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[==========\]|Failure|error" "$OUT/tests.log" | head -40
[ -n "${MATMUL:-}" ] && { echo "==== bench-matmul (rc=$bench)"; cat "$OUT/bench_matmul.log"; }
echo "==== bench-attention (rc=$battn)"; cat "$OUT/bench_attention.log"; tail -5 "$OUT/bench_attention.err"
echo "==== sdpa baseline (rc=$sdpa)"; cat "$OUT/sdpa.log"
if [ -n "${NCU:-}" ]; then
  (cd $B && ncu --section SpeedOfLight --section Occupancy --section WarpStateStats --section ComputeWorkloadAnalysis \
     -k regex:'^matmul$' -c 1 ./bin/bench-matmul 4096 4096 4096 --config "$NCU") > "$OUT/ncu.txt" 2>&1
  echo "==== ncu ($NCU)"
  grep -E "Throughput|Occupancy|Registers|Issue|Stall|Cycles Per|Block Limit|Executed Ipc|Warp Cycles" "$OUT/ncu.txt" | head -40
fi
