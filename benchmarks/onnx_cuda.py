"""A bundle on ONNX Runtime's CUDA execution provider: sentences/s of its fp32 graph and of an fp16 copy, the
fp16 copy's agreement with fp32, and (--serve) one /classify request to `pcc serve --device cuda`.

Needs onnxruntime-gpu in place of onnxruntime (scripts/gpu_smoke.sh puts it first on PYTHONPATH on a GPU
machine); the tests never run this.

    python benchmarks/onnx_cuda.py --bundle models/latest/onnx [--sentences FILE] [--serve] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pcc.paths import DEV_GOLD, LATEST_BUNDLE  # noqa: E402

BATCH_SIZES = (32, 128)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=LATEST_BUNDLE, help="ONNX bundle (default: %(default)s)")
    parser.add_argument("--sentences", type=Path, default=DEV_GOLD,
                        help="JSONL with a `text` per line, or one sentence per line (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=8, help="copies of the sentences per timed pass (default: 8)")
    parser.add_argument("--passes", type=int, default=3, help="timed passes; the best counts (default: 3)")
    parser.add_argument("--serve", action="store_true", help="also start `pcc serve --device cuda` and classify once")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import onnxruntime as ort

    if hasattr(ort, "preload_dlls"):  # CUDA and cuDNN from the nvidia-* wheels (e.g. torch's), where installed
        ort.preload_dlls()
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        print(f"onnxruntime {ort.__version__} from {Path(ort.__file__).parent} has no CUDA execution provider; "
              "install onnxruntime-gpu (scripts/gpu_smoke.sh does)", file=sys.stderr)
        return 1
    texts = _read_sentences(args.sentences) * args.repeat
    figures: dict = {"onnxruntime": ort.__version__, "bundle": str(args.bundle), "sentences": len(texts)}
    with tempfile.TemporaryDirectory(prefix="pcc-fp16-") as scratch:
        fp16_bundle = _fp16_bundle(args.bundle, Path(scratch))
        reference = None
        for name, bundle in (("fp32", args.bundle), ("fp16", fp16_bundle)):
            for batch_size in BATCH_SIZES:
                speed, probabilities, providers = _measure(bundle, texts, batch_size, args.passes)
                figures[f"{name}_batch{batch_size}_sentences_per_s"] = round(speed, 1)
                print(f"CUDA {name} batch {batch_size}: {speed:.0f} sentences/s ({providers[0]})", flush=True)
                if reference is None:
                    reference = probabilities
                elif batch_size == BATCH_SIZES[0]:
                    agreement = sum(max(range(len(a)), key=a.__getitem__) == max(range(len(b)), key=b.__getitem__)
                                    for a, b in zip(probabilities, reference)) / len(texts)
                    difference = max(abs(x - y) for a, b in zip(probabilities, reference) for x, y in zip(a, b))
                    figures.update({"fp16_label_agreement": agreement, "fp16_max_abs_prob_diff": difference})
                    print(f"fp16 vs fp32 on CUDA: labels agree on {agreement:.1%}, max |probability difference| "
                          f"{difference:.1e}", flush=True)
    if args.serve:
        figures["service"] = _service_check(args.bundle)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


def _read_sentences(path: Path) -> list[str]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [json.loads(line)["text"] for line in lines] if path.suffix == ".jsonl" else lines


def _fp16_bundle(bundle: Path, scratch: Path) -> Path:
    """A bundle whose fp32 slot holds an fp16 copy of the graph (inputs and outputs stay as they were)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    from pcc.bundle import BUNDLE_FILE, MODEL_FILES, TOKENIZER_FILE

    out = scratch / "fp16"
    out.mkdir()
    for name in (BUNDLE_FILE, TOKENIZER_FILE):
        (out / name).symlink_to((bundle / name).resolve())
    started = time.perf_counter()
    fp32 = bundle / MODEL_FILES["fp32"]
    onnx.save(convert_float_to_float16(onnx.load(fp32), keep_io_types=True), out / MODEL_FILES["fp32"])
    print(f"fp16 copy of {fp32} in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def _measure(bundle: Path, texts: list[str], batch_size: int, passes: int):
    from serving.classifier import SentenceClassifier

    classifier = SentenceClassifier(bundle, device="cuda", precision="fp32", batch_size=batch_size)
    classifier.classify(texts[:batch_size])  # warm-up: CUDA kernels and memory arena
    best, probabilities = float("inf"), []
    for _ in range(passes):
        started = time.perf_counter()
        predictions = classifier.classify(texts)
        best = min(best, time.perf_counter() - started)
        probabilities = [list(p.scores.values()) for p in predictions]
    return len(texts) / best, probabilities, classifier.providers


def _service_check(bundle: Path) -> dict:
    """`pcc serve --device cuda` on a free loopback port: one /classify request, then stop it."""
    import httpx

    from tests.server import running_server

    with tempfile.TemporaryDirectory(prefix="pcc-serve-cuda-") as scratch:
        log = Path(scratch) / "server.log"
        with running_server(bundle, ("--device", "cuda"), log_path=log) as url:
            started = time.perf_counter()
            response = httpx.post(f"{url}/classify", json={"sentences": [
                "民警宗旨意识淡薄。", {"text": "要加强警民沟通。", "heading_path": ["三、对策"]}]}, timeout=60)
            seconds = time.perf_counter() - started
        started_line = next((line for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
                             if line.startswith("pcc serve:")), "")
    response.raise_for_status()
    labels = [item["label"] for item in response.json()]
    print(f"pcc serve --device cuda: /classify answered {labels} in {seconds * 1000:.0f} ms ({started_line})")
    return {"labels": labels, "milliseconds": round(seconds * 1000, 1), "started": started_line}


if __name__ == "__main__":
    sys.exit(main())
