#!/usr/bin/env bash
# GPU smoke run: a few hundred fine-tuning steps with configs/gpu.yaml; prints the device and samples/s. Then the
# ONNX bundle on ONNX Runtime's CUDA execution provider (fp32, and an fp16 copy) with its sentences/s, and one
# request to `pcc serve --device cuda` (the service's PCC_DEVICE=cuda path): benchmarks/onnx_cuda.py.
#
#   scripts/gpu_smoke.sh [STEPS]          (default 300 steps)
#   PCC_BASE_MODEL=default scripts/gpu_smoke.sh   offline: the converted multilingual-e5-small (models/base)
#   PCC_SMOKE_STEPS=0 scripts/gpu_smoke.sh        the ONNX Runtime part only
#
# The ONNX part runs $PCC_BUNDLE (default models/latest/onnx), or else exports the smoke run's model. It needs
# onnxruntime-gpu, which is installed (no dependencies: they are the CPU package's) into $PCC_SMOKE_DIR/onnxruntime-gpu
# and put first on PYTHONPATH, never into .venv: PCC_ORT_GPU names what to install (default
# onnxruntime-gpu==<the installed onnxruntime's version>; a wheel file where the machine is offline). Its CUDA and
# cuDNN libraries come from the machine or from nvidia-* wheels (a CUDA build of torch brings them).
#
# PCC_BASE_MODEL defaults to the hub encoder of configs/gpu.yaml, which needs network access or a filled
# Hugging Face cache. Missing inputs (prepared sentences, weak labels, base model) are built first. The run
# goes to $PCC_SMOKE_DIR (default /tmp/pcc-gpu-smoke), never to models/, so the shipped model stays.
set -euo pipefail
cd "$(dirname "$0")/.."

steps="${1:-${PCC_SMOKE_STEPS:-300}}"
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

if [ "$steps" -gt 0 ]; then
    start=$(date +%s)
    "$pcc" train --config configs/gpu.yaml --base-model "$base_model" --folds 0 --epochs 1000 \
        --max-steps "$steps" --output-dir "$out" --run-name smoke
    echo "smoke run: ${steps} steps in $(( $(date +%s) - start )) s wall (incl. loading); throughput is the samples/s line above"
fi

# ONNX Runtime's CUDA execution provider: the bundle in fp32 and fp16, and the service with --device cuda.
bundle="${PCC_BUNDLE:-models/latest/onnx}"
if [ ! -s "$bundle/model.onnx" ]; then
    smoke_model="$(ls -dt "$out"/smoke-* 2>/dev/null | head -1)"
    [ -n "$smoke_model" ] || { echo "no bundle at $bundle and no smoke model to export; run pcc export" >&2; exit 1; }
    "$pcc" export --model "$smoke_model" --out "$out/onnx" --check-gold data/gold/dev.jsonl --no-store
    bundle="$out/onnx"
fi
ort_gpu="$out/onnxruntime-gpu"
has_cuda_ep='import onnxruntime, sys; sys.exit("CUDAExecutionProvider" not in onnxruntime.get_available_providers())'
if ! PYTHONPATH="$ort_gpu" "$python" -c "$has_cuda_ep" 2>/dev/null; then
    ort_version="$("$python" -c 'import onnxruntime; print(onnxruntime.__version__)')"
    "$python" -m pip install --quiet --no-deps --upgrade --target "$ort_gpu" "${PCC_ORT_GPU:-onnxruntime-gpu==$ort_version}"
fi
PYTHONPATH="$ort_gpu" "$python" benchmarks/onnx_cuda.py --bundle "$bundle" --serve --json "$out/onnx_cuda.json"
