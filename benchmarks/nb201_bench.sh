#!/usr/bin/env bash
# The README's NAS-Bench-201 figures: a bench of mdenas, random, darts and proxyless on a CPU-sized nb201
# supernet (the tiny preset's C=4, one cell per stage), 10 paired seeds, 3,000 CIFAR-10 subset images split into
# halves (1,500 train the weights, 1,500 score the architectures), 8 epochs per trial, one torch thread per
# process; every returned cell scored by the benchmark's 200-epoch table. Then one longer DARTS run (30 epochs)
# with its skip share per epoch, at DARTS's own arch learning rate and at ten times it.
# Usage: bash benchmarks/nb201_bench.sh [DATA_DIR] [OUT_DIR]   (about 25 minutes on 2 cores)
set -euo pipefail
DATA=${1:-../shared/data/cifar10-subset}
OUT=${2:-runs}
export OMP_NUM_THREADS=1
COMMON=(--preset tiny --data-dir "$DATA" --device cpu --set data.limit=3000 --set train.batch_size=64
        --set train.eval_batch_size=250)
nasframe bench --strategies mdenas,random,darts,proxyless --space nb201 --seeds 0,1,2,3,4,5,6,7,8,9 --epochs 8 \
  "${COMMON[@]}" --out "$OUT/nb201-bench" \
  --set random:strategy.candidates=100 --set random:strategy.screen_batches=1 --set random:strategy.top=1
nasframe report "$OUT/nb201-bench" --plot --format markdown
nasframe run --strategy darts --space nb201 --epochs 30 --seed 0 "${COMMON[@]}" --out "$OUT/darts-nb201-long"
nasframe run --strategy darts --space nb201 --epochs 30 --seed 0 "${COMMON[@]}" --out "$OUT/darts-nb201-long-lr3e-3" \
  --set strategy.arch_lr=0.003
