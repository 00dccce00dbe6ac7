#!/usr/bin/env bash
# PTX of every registered kernel (default configs and the schedules the
# attention kernels run with) for sm_80, sm_90a and sm_120a, the variant for
# divisible strides and the general one, from two builds:
# a compiler change that should not change code shows "0 differ".
#   scripts/ptx_compare.sh OLD_BIN_DIR NEW_BIN_DIR   (e.g. /tmp/old/bin build/bin)
set -u
OLD=${1:?old build/bin}; NEW=${2:?new build/bin}
cfgs=(
  "hip_scan_score|" "hip_scan_select|" "paged_rows|" "vector_add|" "row_softmax|" "token_nll|"
  "flash_attention|HEAD_DIM=128,BLOCK_M=128,num_warps=8,num_stages=3"
  "flash_attention|HEAD_DIM=64"
  "flash_attention|HEAD_DIM=128,BLOCK_M=64,num_warps=4,num_stages=2"
  "flash_attention|HEAD_DIM=128,BLOCK_M=128,num_warps=8,PIPE=1"
  "hip_block_sparse_attention|HEAD_DIM=128,BLOCK_M=64,BLOCK_N=64,num_stages=2"
  "hip_block_sparse_attention|HEAD_DIM=64"
  "hip_block_sparse_attention|HEAD_DIM=128,BLOCK_M=128,HEADS=4,num_warps=8"
  "hip_block_sparse_attention|HEAD_DIM=128,BLOCK_M=64,BLOCK_N=64,num_stages=2,dot_a_shared=1"
  "hip_mask_tree|HEAD_DIM=128,CHUNK=32,min_blocks=3,num_stages=2"
  "hip_mask_tree|HEAD_DIM=64"
  "hip_mask_tree|HEAD_DIM=128,HEADS=4,num_warps=8"
  "hip_mask_tree|HEAD_DIM=128,dot_a_shared=1" "matmul|num_stages=1"
  "matmul|" "matmul|BLOCK_M=128,BLOCK_N=256,BLOCK_K=64,num_warps=8,num_stages=4"
)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0; d=0
for div in "--divisible all" ""; do # the variant for strides that are multiples of 16, and the general one
for t in sm_80 sm_90a sm_120a; do
  for c in "${cfgs[@]}"; do
    k=${c%%|*}; cf=${c#*|}
    for side in old new; do
      bin=$OLD; [ $side = new ] && bin=$NEW
      HIP_CACHE_DIR="$tmp/cache-$side" "$bin/hipattn" compile "$k" ${cf:+--config "$cf"} --target $t \
        --emit ptx $div > "$tmp/$side.ptx" 2>&1
    done
    n=$((n + 1))
    if ! cmp -s "$tmp/old.ptx" "$tmp/new.ptx"; then
      d=$((d + 1)); echo "differs: $t $k ${cf:-(default)} ${div:-(general variant)}"
    fi
  done
done
done
echo "$n kernel/config/target PTX files compared, $d differ"
