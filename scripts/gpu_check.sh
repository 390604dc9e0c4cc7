#!/usr/bin/env bash
# GPU check of `fs1 train` (issue 7): one command, a few minutes on one CUDA GPU.
#   bash scripts/gpu_check.sh [--fsdp] [--steps N]     # on the GPU machine, from the repository root
#   bash scripts/gpu_check.sh --tiny                   # CPU smoke run of the same path (seconds)
# When TRL or datasets cannot be imported (the GPU image lacks them) it installs ./.whl/*.whl into /tmp/site; vLLM
# cannot travel as a wheel, so generation falls back to transformers there. The log goes to $OUT/gpu_check.log
# when $OUT is set.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import trl, datasets" 2>/dev/null && compgen -G ".whl/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "gpu_check: installing .whl/*.whl failed" >&2; exit 3; }
  export PYTHONPATH="/tmp/site:src${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
LOG=${OUT:+$OUT/gpu_check.log}
if [ -n "$LOG" ]; then
  mkdir -p "$OUT"
  "$PY" scripts/gpu_train_check.py "$@" 2>&1 | tee "$LOG"
else
  "$PY" scripts/gpu_train_check.py "$@"
fi
