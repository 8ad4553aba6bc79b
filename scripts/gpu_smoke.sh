#!/usr/bin/env bash
# GPU smoke run: a few hundred fine-tuning steps with configs/gpu.yaml; prints the device and samples/s.
#
#   scripts/gpu_smoke.sh [STEPS]          (default 300 steps)
#   PCC_BASE_MODEL=default scripts/gpu_smoke.sh   offline: the converted multilingual-e5-small (models/base)
#
# PCC_BASE_MODEL defaults to the hub encoder of configs/gpu.yaml, which needs network access or a filled
# Hugging Face cache. Missing inputs (prepared sentences, weak labels, base model) are built first. The run
# goes to $PCC_SMOKE_DIR (default /tmp/pcc-gpu-smoke), never to models/, so the shipped model stays.
set -euo pipefail
cd "$(dirname "$0")/.."

steps="${1:-300}"
base_model="${PCC_BASE_MODEL:-hfl/chinese-roberta-wwm-ext}"
pcc="${PCC:-.venv/bin/pcc}"
python="$(dirname "$pcc")/python"
out="${PCC_SMOKE_DIR:-/tmp/pcc-gpu-smoke}"

"$python" - <<'PY'
import torch
if torch.cuda.is_available():
    print(f"device: {torch.cuda.get_device_name(0)}, bf16 supported: {torch.cuda.is_bf16_supported()}")
else:
    print("device: no CUDA GPU visible; the smoke run falls back to the CPU (slow)")
PY

[ -s data/processed/sentences.jsonl ] || "$pcc" prepare
[ -s data/processed/weak_labels.jsonl ] || "$pcc" label

start=$(date +%s)
"$pcc" train --config configs/gpu.yaml --base-model "$base_model" --folds 0 --epochs 1000 \
    --max-steps "$steps" --output-dir "$out" --run-name smoke
echo "smoke run: ${steps} steps in $(( $(date +%s) - start )) s wall (incl. loading); throughput is the samples/s line above"
