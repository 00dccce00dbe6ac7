#!/usr/bin/env bash
# The GPU step of the attention codegen work, in one device call: every GPU
# test, compute-sanitizer (memcheck, racecheck) on the attention kernels at
# ragged shapes, the latency sweep against torch SDPA (cuDNN, FlashAttention-2)
# and Nsight Compute on the dense kernel; on request the sweep again with
# HIP_WGMMA=0 (SYNC_CMP=1), with the tree stage's head_shared option (HEAD_SHARED=1) and the
# matmul against cuBLAS (MATMUL=1), GPU tests under compute-sanitizer (SAN_GTEST=filter), pinned
# dense/sparse attention schedules against cuDNN (DENSE_SCHEDULES, ATTN_SCHEDULES, DENSE_T), an earlier
# build against this one (OLD_T, MATMUL_OLD, MATMUL_CFGS="cfg ...", with the earlier build packed the same
# way as .carry/old.tar.xz), paged dense decode against torch SDPA (DECODE=1, DECODE_T). Needs
# the build packed as
#   tar -cJf .carry/build.tar.xz build/bin build/lib
# Logs go to $OUT; a short table is printed last.
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/hipbuild
tar -xJf .carry/build.tar.xz -C /tmp/hipbuild
B=/tmp/hipbuild/build
export HIP_CACHE_DIR=/tmp/hip-cache HIP_DISABLE_AUTOTUNE=1
# The model and text of ../shared/data, when packed as .carry/data (the model
# and worked-example tests run instead of skipping).
[ -d .carry/data ] && export HIP_DATA_DIR=$PWD/.carry/data
# hipattn's shared libraries that the GPU host lacks (cpp-httplib and what it
# links), copied from the build machine as .carry/libs.
[ -d .carry/libs ] && export LD_LIBRARY_PATH=$PWD/.carry/libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv > "$OUT/gpu.txt" 2>&1
# The GPU host runs the GPU side of the tests: the CPU-backend cases and the
# ptxas check of every kernel (backend-neutral) run in CI, and took 234 of
# the 300 s a full run was given on the H100 host (2026-12-07). TEST_FILTER
# replaces this filter ('*' for every test).
if [ -z "${SKIP_TESTS:-}" ]; then
  (cd $B && HIP_CACHE_DIR=/tmp/hip-cache-tests timeout ${TEST_TIMEOUT:-420} ./bin/hipattn-tests \
     --gtest_filter="${TEST_FILTER:--*/Cpu:*/CPU:Ptx.EveryKernelAndConfigAssembles}") > "$OUT/tests.log" 2>&1; tests=$?
fi
if [ -z "${SKIP_TESTS:-}" ]; then # the Python package: numpy on the CPU backend, torch on the GPU
  HIP_ATTENTION_LIBRARY=$B/lib/libhipattn.so PYTHONPATH=python HIP_CACHE_DIR=/tmp/hip-cache-tests \
    timeout 300 python3 -m pytest -q -p no:cacheprovider python/tests python/tests_gpu > "$OUT/pytest.log" 2>&1
  pytest_rc=$?
fi
san() { # tool, T, D, H, Hkv, more hipattn run arguments
  local tool=$1 T=$2 D=$3 H=$4 Hkv=$5; shift 5
  local log="$OUT/san_${tool}_$T${1:+_${1#--}}.log"
  timeout 240 compute-sanitizer --tool "$tool" --error-exitcode 9 $B/bin/hipattn run --backend cuda \
    --T "$T" --D "$D" --H "$H" --Hkv "$Hkv" --json --reps 1 "$@" > "$log" 2>&1
  echo "$tool T=$T D=$D H=$H/$Hkv $*: rc=$? $(grep -cE 'ERROR SUMMARY: 0 errors|RACECHECK SUMMARY: 0 hazards' "$log") clean summaries, $(grep -m1 -o '"rel_error": [0-9.e-]*' "$log")"
}
san_gtest() { # tool, gtest filter, log name: GPU tests under compute-sanitizer
  (cd $B && HIP_CACHE_DIR=/tmp/hip-cache-tests timeout ${SAN_TIMEOUT:-240} compute-sanitizer --tool $1 --error-exitcode 9 \
    ./bin/hipattn-tests --gtest_filter="$2" > "$OUT/san_$1_$3.log" 2>&1)
  echo "$1 $3 tests ($2): rc=$? $(grep -cE 'ERROR SUMMARY: 0 errors|RACECHECK SUMMARY: 0 hazards' "$OUT/san_$1_$3.log") clean summaries, $(grep -cE '^\[       OK' "$OUT/san_$1_$3.log") passed"
}
if [ -n "${SAN_GTEST:-}" ]; then # SAN_GTEST=filter: those GPU tests under memcheck and racecheck (SAN_TOOLS, SAN_TIMEOUT)
  for tool in ${SAN_TOOLS:-memcheck racecheck}; do san_gtest $tool "$SAN_GTEST" gtest; done > "$OUT/sanitizer_gtest.txt" 2>&1
fi
if [ -n "${SAN_DENSE:-}" ]; then # SAN_DENSE=schedule: the dense kernel pinned to it under memcheck, racecheck and synccheck
  { san memcheck 333 128 4 2 --dense-schedule "$SAN_DENSE"; san racecheck 1100 128 2 1 --dense-schedule "$SAN_DENSE"
    san synccheck 1100 128 2 1 --dense-schedule "$SAN_DENSE"; } > "$OUT/sanitizer_dense.txt" 2>&1
fi
if [ -z "${SKIP_SAN:-}" ]; then
  { san memcheck 333 128 4 2; ${SAN_SHORT:+:} san racecheck 333 128 4 2; san memcheck 1000 64 2 1; san racecheck 1100 128 2 1
    # the sparse kernel stacking a head-shared group (HEADS=4)
    ${SAN_SHORT:+:} san memcheck 1100 128 8 2 --mask-pipeline bench/head_shared.json
    san racecheck 1100 128 8 2 --mask-pipeline bench/head_shared.json
    # GQA heads adjacent in program order (mask search and sparse attention)
    echo '{"stages": [{"type": "tree", "schedule": {"GROUPED": 1}}]}' > /tmp/grouped.json
    ${SAN_SHORT:+:} san memcheck 777 128 8 2 --mask-pipeline /tmp/grouped.json
    # the paged KV cache kernels (gather, scatter, copy) through their GPU tests
    for tool in memcheck racecheck; do san_gtest $tool '*/Paged.*/Gpu' paged; done; } > "$OUT/sanitizer.txt" 2>&1
fi
OLD=""
if [ -f .carry/old.tar.xz ]; then # an earlier build, for OLD_T and COMPILE
  mkdir -p /tmp/hipold && tar -xJf .carry/old.tar.xz -C /tmp/hipold && OLD=/tmp/hipold/build
fi
if [ -n "${COMPILE:-}" ]; then # cold compiles (no cache), each kernel alone on an idle host, 3 times
  for bin in $B ${OLD:+$OLD}; do echo "== $bin"
  for k in "flash_attention --config HEAD_DIM=128" "hip_block_sparse_attention --config HEAD_DIM=128" \
           "hip_mask_tree --config HEAD_DIM=128,CHUNK=32,min_blocks=3"; do
    for i in 1 2 3; do
      HIP_LOG=1 $bin/bin/hipattn compile $k --target sm_90a --emit ptx --divisible all -o /dev/null
    done
  done; done > "$OUT/compile.txt" 2>&1
fi
if [ -n "${OLD_T:-}" ] && [ -n "$OLD" ]; then # this build against the earlier one, OLD_ROUNDS (3) alternating rounds per T
  for T in $OLD_T; do
    for round in $(seq ${OLD_ROUNDS:-3}); do
      for bin in $OLD $B; do
        printf 'T=%s round %s %s  ' "$T" "$round" "$([ $bin = $B ] && echo new || echo old)"
        timeout 200 $bin/bin/hipattn run --backend cuda --T $T --H 32 --Hkv 8 --D 128 --json --latency-only \
          --reps 5 2>&1 | grep -oE '"(hip_mask_ms|hip_attention_ms|dense_ms)": [0-9.]*' | tr '\n' ' ' || echo failed
        echo
      done
    done
  done > "$OUT/old_new.txt" 2>&1
  if [ -n "${NCU_OLD:-}" ]; then # the sparse kernel of both builds under Nsight Compute at NCU_T
    for bin in $OLD $B; do echo "== $bin"
      timeout 150 ncu --clock-control none --section SpeedOfLight --section Occupancy --section LaunchStats \
        --section WarpStateStats -k regex:"^hip_block_sparse_attention\$" -c 1 $bin/bin/hipattn run \
        --backend cuda --T ${NCU_T:-131072} --H 32 --Hkv 8 --D 128 --json --latency-only --reps 1
    done > "$OUT/ncu_old_new.txt" 2>&1
  fi
fi
if [ -n "${MASK_SCHEDULES:-}" ]; then # pinned tree-stage schedules, ';'-separated JSON objects, at MASK_T (MASK_HS=1: with head_shared)
  IFS=';' read -ra scheds <<< "$MASK_SCHEDULES"
  for sc in "${scheds[@]}"; do
    echo "{\"stages\": [{\"type\": \"tree\"${MASK_HS:+, \"head_shared\": true}, \"schedule\": $sc}]}" > /tmp/mask_sched.json
    printf '%s  ' "$sc"; timeout 120 $B/bin/hipattn run --backend cuda --T ${MASK_T:-131072} --H 32 --Hkv 8 \
      --D 128 --json --latency-only --reps 3 --mask-pipeline /tmp/mask_sched.json 2>&1 | grep -o '"hip_mask_ms": [0-9.]*' || echo failed
  done > "$OUT/mask_schedules.txt" 2>&1
fi
if [ -n "${DENSE_SCHEDULES:-}" ]; then # pinned schedules of the dense kernel (and ATTN_SCHEDULES of the sparse one), ';'-separated k=v lists, at DENSE_T, cuDNN in the same run
  python3 bench/sdpa_baseline.py --reps 10 ${DENSE_T:-16384 131072} > "$OUT/dense_sdpa.jsonl" 2> "$OUT/dense_sdpa.err"
  IFS=';' read -ra dscheds <<< "$DENSE_SCHEDULES"
  IFS=';' read -ra ascheds <<< "${ATTN_SCHEDULES:-}"
  for T in ${DENSE_T:-16384 131072}; do
    for i in "${!dscheds[@]}"; do
      sc=${dscheds[$i]} at=${ascheds[$i]:-}
      printf 'T=%s dense %s sparse %s  ' "$T" "${sc:-default}" "${at:-default}"
      timeout 200 $B/bin/hipattn run --backend cuda --T $T --H 32 --Hkv 8 --D 128 --json --latency-only --reps 5 \
        ${sc:+--dense-schedule $sc} ${at:+--attention-schedule $at} 2>&1 | grep -oE '"(dense_ms|hip_attention_ms)": [0-9.]*' | tr '\n' ' ' || echo failed
      echo
    done
  done > "$OUT/dense_schedules.txt" 2>&1
  grep -h '"backend"' "$OUT/dense_sdpa.jsonl" | grep -oE '"(backend|T|ms)": [^,}]*' | paste -d' ' - - - >> "$OUT/dense_schedules.txt"
fi
if [ -n "${NCU:-}" ]; then # one launch of each attention kernel (NCU_T, default 16k; NCU_K kernels)
  for k in ${NCU_K:-hip_mask_tree hip_block_sparse_attention flash_attention}; do
    timeout 200 ncu --clock-control none --section SpeedOfLight --section Occupancy --section LaunchStats \
      --section MemoryWorkloadAnalysis --section WarpStateStats --section ComputeWorkloadAnalysis \
      -k regex:"^$k\$" -c 1 $B/bin/hipattn run --backend cuda --T ${NCU_T:-16384} --H 32 --Hkv 8 --D 128 \
      --json --latency-only --reps 1 ${NCU_ARGS:-}
  done > "$OUT/ncu.txt" 2>&1
  # the stall reasons of the first kernel (raw warp-state counters)
  k=${NCU_K:-hip_mask_tree}; k=${k%% *}
  timeout 120 ncu --clock-control none --section WarpStateStats --page raw -k regex:"^$k\$" -c 1 \
    $B/bin/hipattn run --backend cuda --T ${NCU_T:-16384} --H 32 --Hkv 8 --D 128 --json --latency-only \
    --reps 1 ${NCU_ARGS:-} 2>&1 | grep -E "stalled.*ratio|issue_active" > "$OUT/ncu_stalls.txt"
fi
[ -z "${SKIP_SWEEP:-}" ] && T_LIST=${T_LIST:-4096 16384 65536 131072} REPS=${REPS:-3} bench/attention_sweep.sh $B/bin "$OUT/sweep" > "$OUT/sweep.txt" 2> "$OUT/sweep.err"
if [ -n "${SYNC_CMP:-}" ]; then # the same sweep with sm_90a's dots kept on mma.sync
  HIP_WGMMA=0 T_LIST=${SYNC_T:-$T_LIST} REPS=${REPS:-3} bench/attention_sweep.sh $B/bin "$OUT/sweep_sync" \
    > "$OUT/sweep_sync.txt" 2> "$OUT/sweep_sync.err"
fi
if [ -n "${HEAD_SHARED:-}" ]; then # the tree stage's head_shared option, same T
  RUN_ARGS="--mask-pipeline bench/head_shared.json" SKIP_SDPA=1 T_LIST=${HS_T:-$T_LIST} REPS=${REPS:-3} \
    bench/attention_sweep.sh $B/bin "$OUT/sweep_hs" > "$OUT/sweep_hs.txt" 2> "$OUT/sweep_hs.err"
  for p in "" "--mask-pipeline bench/head_shared.json"; do # recall on smooth data, 16k
    echo "recall, smooth data, 16k, ${p:-per-head search}: $($B/bin/hipattn run --backend cuda --T 16384 --H 32 --Hkv 8 --D 128 --data smooth --reps 1 --json $p 2>/dev/null | grep -o '"rel_error": [^,]*, "recall": [^,]*')"
  done > "$OUT/recall_hs.txt" 2>&1
fi
if [ -n "${MATMUL:-}" ]; then # the DSL matmul against cuBLAS, wgmma and mma.sync
  for w in ${MATMUL_W:-1 0}; do
    echo "== HIP_WGMMA=$w"; HIP_WGMMA=$w timeout 240 $B/bin/bench-matmul 4096 4096 4096
  done > "$OUT/matmul.txt" 2>&1
fi
# The matmul config of MATMUL_OLD and NCU_MATMUL: the best 4096^3 one on the H100.
NCU_MM_CFG=${NCU_MM_CFG:-BLOCK_M=128,BLOCK_N=256,BLOCK_K=64,num_warps=8,num_stages=4}
if [ -n "${MATMUL_OLD:-}" ] && [ -n "$OLD" ]; then # the matmul's best config, earlier build against this one
  for round in 1 2 3; do
    for bin in $OLD $B; do
      printf 'round %s %s  ' "$round" "$([ $bin = $B ] && echo new || echo old)"
      timeout 100 $bin/bin/bench-matmul 4096 4096 4096 \
        --config "$NCU_MM_CFG" 2>&1 |
        grep "head to head" | grep -oE "cuBLAS [0-9.]+ ms|[0-9.]+ ms \([0-9.]+ TFLOP/s\) = [0-9.]+%" | tr '\n' ' '
      echo
    done
  done > "$OUT/matmul_old_new.txt" 2>&1
fi
if [ -n "${MATMUL_CFGS:-}" ]; then # MATMUL_CFGS="cfg cfg ...": those matmul configs, this build (and the earlier one)
  args=(); for c in $MATMUL_CFGS; do args+=(--config "$c"); done
  for bin in $B $OLD; do
    echo "== $([ $bin = $B ] && echo new || echo old) build"
    timeout 150 $bin/bin/bench-matmul 4096 4096 4096 "${args[@]}" 2>&1 | grep -vE "^compile time"
  done > "$OUT/matmul_cfgs.txt" 2>&1
fi
if [ -n "${NCU_MATMUL:-}" ]; then # one launch of the DSL matmul's best config and of cuBLAS under ncu
  for k in '^matmul' 'gemm|nvjet|sm90|cutlass|xmma'; do
    timeout 200 ncu --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
      --section MemoryWorkloadAnalysis --section SchedulerStats -k regex:"$k" -s 2 -c 1 \
      $B/bin/bench-matmul 4096 4096 4096 --config "$NCU_MM_CFG"
    echo "== stalls: $k (warps per issued instruction)"
    timeout 120 ncu --metrics 'regex:^smsp__average_warps_issue_stalled_.*_per_issue_active' --page raw \
      -k regex:"$k" -s 2 -c 1 $B/bin/bench-matmul 4096 4096 4096 --config "$NCU_MM_CFG" 2>&1 |
      grep -E "issue_stalled" | sort -k3 -g -r | head -14
  done > "$OUT/ncu_matmul.txt" 2>&1
  # its SASS (ptxas of this build's PTX), for the loop's instructions
  HIP_CACHE_DIR=/tmp/hip-cache-sass $B/bin/hipattn compile matmul --config "$NCU_MM_CFG" --target sm_90a \
    --emit ptx --divisible all -o /tmp/mm.ptx && ptxas -arch=sm_90a -v /tmp/mm.ptx -o /tmp/mm.cubin 2> "$OUT/mm_ptxas.txt" &&
    cuobjdump -sass /tmp/mm.cubin > "$OUT/mm.sass" 2>&1
fi
if [ -n "${TUNE_T:-}" ]; then # tuned schedules next to the defaults
  for T in $TUNE_T; do
    for k in ${TUNE_K:-hip_attention flash_attention}; do
      HIP_DISABLE_AUTOTUNE=0 timeout 300 $B/bin/hipattn tune $k --T $T --H 32 --Hkv 8 --D 128 --backend cuda
    done
  done > "$OUT/tune.log" 2>&1
  T_LIST="$TUNE_T" REPS=${REPS:-3} bench/attention_sweep.sh $B/bin "$OUT/sweep_tuned" > "$OUT/sweep_tuned.txt" 2> "$OUT/sweep_tuned.err"
fi
if [ -n "${DECODE:-}" ]; then # paged dense decode (bench-decode) at DECODE_T for B 1 and 16, torch SDPA in the same run
  for T in ${DECODE_T:-131072}; do for b in 1 16; do for m in dense hip; do
    timeout 120 $B/bin/bench-decode --T $T --B $b --reps 20 --method $m 2>&1
  done; done; done > "$OUT/decode.txt"
  timeout 200 python3 bench/decode_baseline.py --T ${DECODE_T:-131072} --B 1 16 >> "$OUT/decode.txt" 2>&1
fi
# What comes back is limited to 8 files: the logs travel as one archive.
tar -czf "$OUT/logs.tgz" -C "$OUT" --exclude logs.tgz . 2>/dev/null
echo "==== GPU"; cat "$OUT/gpu.txt"
if [ -z "${SKIP_TESTS:-}" ]; then
  echo "==== tests (rc=$tests)"; grep -E "^\[  (PASSED|FAILED) |^\[==========\]|Failure" "$OUT/tests.log" | head -30
  grep "^\[  SKIPPED \]" "$OUT/tests.log" | sort -u | head -8
  echo "==== pytest (rc=$pytest_rc)"; tail -5 "$OUT/pytest.log"
fi
[ -f "$OUT/sanitizer.txt" ] && { echo "==== compute-sanitizer"; cat "$OUT/sanitizer.txt"; }
[ -f "$OUT/sanitizer_dense.txt" ] && { echo "==== compute-sanitizer, dense kernel $SAN_DENSE"; cat "$OUT/sanitizer_dense.txt"; }
[ -f "$OUT/sanitizer_gtest.txt" ] && { echo "==== compute-sanitizer, GPU tests"; cat "$OUT/sanitizer_gtest.txt"; }
[ -f "$OUT/compile.txt" ] && { echo "==== cold compile, sm_90a"; sed 's/hip-attention: compiled //' "$OUT/compile.txt"; }
[ -f "$OUT/old_new.txt" ] && { echo "==== earlier build (old) against this one (new), 5 reps, median"; cat "$OUT/old_new.txt"; }
[ -f "$OUT/ncu_old_new.txt" ] && { echo "==== ncu, sparse attention, old then new"; grep -E "^== |Duration|Registers Per|Achieved Occupancy|Compute \(SM\) Throughput|Memory Throughput|Warp Cycles Per Issued|Local Memory|Stall" "$OUT/ncu_old_new.txt" | head -30; }
[ -f "$OUT/dense_schedules.txt" ] && { echo "==== pinned attention schedules (5 reps, median)"; cat "$OUT/dense_schedules.txt"; }
[ -f "$OUT/mask_schedules.txt" ] && { echo "==== mask search, pinned schedules, T=${MASK_T:-131072}${MASK_HS:+, head_shared}"; cat "$OUT/mask_schedules.txt"; }
[ -f "$OUT/ncu.txt" ] && { echo "==== ncu"; grep -E "^  [a-z_]+ \(|Compute \(SM\) Throughput|DRAM Throughput|L2 Hit Rate|Registers Per|Achieved Occupancy|Duration|Stall|Warp Cycles Per Issued|Memory Throughput|L1/TEX Hit|Issue Slots Busy|Executed Ipc A" "$OUT/ncu.txt" | head -60; }
[ -s "$OUT/ncu_stalls.txt" ] && { echo "==== stalls (warps per issue)"; sort -k3 -g -r "$OUT/ncu_stalls.txt" | awk '$3 > 0.05' | head -12; }
[ -f "$OUT/tune.log" ] && { echo "==== tune"; grep -iE "best|winner|error" "$OUT/tune.log" | head -12; echo "==== sweep with tuned schedules"; cat "$OUT/sweep_tuned.txt"; }
[ -f "$OUT/matmul_old_new.txt" ] && { echo "==== matmul 4096^3 best config, old then new (ms, % of cuBLAS)"; cat "$OUT/matmul_old_new.txt"; }
[ -f "$OUT/ncu_matmul.txt" ] && { echo "==== ncu, matmul and cuBLAS"; grep -E "^== stalls|stalled|^  [a-zA-Z_0-9]+.*\(|Duration|Compute \(SM\) Throughput|Registers Per|Warp Cycles Per Issued|Grid Size" "$OUT/ncu_matmul.txt" | head -50; }
[ -f "$OUT/matmul_cfgs.txt" ] && { echo "==== matmul 4096^3, MATMUL_CFGS"; grep -E "^==|DSL|cuBLAS" "$OUT/matmul_cfgs.txt"; }
[ -f "$OUT/matmul.txt" ] && { echo "==== matmul 4096^3"; grep -E "^==|cuBLAS|best|%" "$OUT/matmul.txt" | head -36; }
[ -f "$OUT/sweep_hs.txt" ] && { echo "==== sweep, head_shared mask search"; cat "$OUT/sweep_hs.txt" "$OUT/recall_hs.txt"; }
[ -f "$OUT/sweep_sync.txt" ] && { echo "==== sweep, HIP_WGMMA=0 (mma.sync)"; cat "$OUT/sweep_sync.txt"; }
[ -f "$OUT/decode.txt" ] && { echo "==== paged decode, dense and HiP (ms per call), and torch SDPA"; grep -oE '"(method|backend|layout|T|B|ms|error)": [^,}]*' "$OUT/decode.txt" | paste -sd' ' | sed 's/"T"/\n"T"/g'; echo; }
[ -f "$OUT/sweep.txt" ] && { echo "==== sweep"; tail -4 "$OUT/sweep.err"; cat "$OUT/sweep.txt"; }
