#!/bin/bash
cd /work/main
H=/tmp/smolbuild/bin/hipattn
M=/root/.cache/hip-attention/models/SmolLM2-135M-Instruct.Q4_1.gguf
T=../shared/data/wikitext-2/test.txt
export HIP_CACHE_DIR=/tmp/smol/cache
for ctx in 4096 8192; do
  w=$([ $ctx = 4096 ] && echo 2 || echo 1)
  for m in dense perhead shared; do
    case $m in dense) a="--method dense";; perhead) a="--method hip";; shared) a="--method hip --mask-pipeline bench/head_shared.json";; esac
    s=$(date +%s.%N)
    $H eval ppl --model $M --text $T --ctx $ctx --max-windows $w $a --json > /tmp/smol/ppl_${m}_${ctx}.json 2>> /tmp/smol/log
    echo "$m $ctx $(echo "$(date +%s.%N) - $s" | bc) s" >> /tmp/smol/times
  done
done
for m in perhead shared; do
  case $m in perhead) a="";; shared) a="--mask-pipeline bench/head_shared.json";; esac
  $H eval recall --model $M --text $T --ctx 4096 $a > /tmp/smol/recall_${m}_4096.txt 2>> /tmp/smol/log
done
echo ALLDONE >> /tmp/smol/times
