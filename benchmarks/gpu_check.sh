#!/usr/bin/env bash
# Run every benchmark on a CUDA GPU in one short go (a few minutes) and print their tables.
#
#   bash benchmarks/gpu_check.sh [OUTDIR]      # from the repository root; JSON results go to OUTDIR
#
# Uses `python` from PATH (nasframe installed in it, e.g. `pip install -e .`), `--device cuda`,
# paper sizes (C=16, 8 cells, batch 64), and a timeout per script. Set QUICK=1 for the tiny sizes.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUTDIR="${1:-${OUT:-benchmarks/results-cuda}}"
mkdir -p "$OUTDIR"
MODE=()
if [[ "${QUICK:-0}" == "1" ]]; then
    MODE=(--quick)
fi

python - <<'PY'
import sys

import torch

if not torch.cuda.is_available():
    sys.exit("gpu_check.sh: torch sees no CUDA GPU here")
try:
    import nasframe.plugins.darts, nasframe.plugins.mdenas, nasframe.search_spaces.darts  # noqa: F401
except ImportError as exc:
    sys.exit(f"gpu_check.sh: nasframe is not installed in this python ({exc}); run `pip install -e .` first")
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
PY

status=0
bench() {  # bench SECONDS NAME ARGS...: one script under a timeout; a failure is reported, the rest still run
    local limit=$1 name=$2
    shift 2
    echo
    echo "=== ${name} (timeout ${limit}s) ==="
    local start=$SECONDS
    if timeout --kill-after=15 "${limit}" python "benchmarks/${name}.py" --device cuda ${MODE[@]+"${MODE[@]}"} \
        --json "${OUTDIR}/${name}.json" "$@"; then
        echo "--- ${name}: done in $((SECONDS - start)) s"
    else
        local rc=$?
        echo "--- ${name}: FAILED (exit ${rc}$([[ ${rc} -eq 124 || ${rc} -eq 137 ]] && echo ', timed out'))"
        status=1
    fi
}

bench 150 data_pipeline
bench 180 single_path_step
bench 180 darts_step --naive-channels-last
bench 150 search_epoch
bench 180 proxyless_step
bench 240 latency_table
bench 180 nb201_step

echo
echo "JSON results in ${OUTDIR}/"
exit "${status}"
