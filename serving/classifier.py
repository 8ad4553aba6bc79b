"""The runtime sentence classifier: an ONNX bundle run by ONNX Runtime, with no torch in sight.

A bundle is the directory `pcc export` writes: `model.onnx` (fp32), `model.int8.onnx`, `tokenizer.json`
and `bundle.json` (labels, max_length, use_heading, input names, pad token, provenance, parity figures, and
`int8_scheme`: how its int8 model was quantised).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from pcc.errors import UserError
from pcc.model_input import HEADINGS, scheme_leads, sentence_context
from pcc.paths import LATEST_BUNDLE
from pcc.records import LABELS, Paper, Sentence

if TYPE_CHECKING:
    from pcc.documents import PreparedPaper

BUNDLE_ENV = "PCC_BUNDLE"
MODEL_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
# bundle.json `int8_scheme` values: fixed (calibrated) activation ranges, so a sentence's result is its own
# whatever shares its batch; or ONNX Runtime's dynamic quantisation, whose ranges come from each batch.
CALIBRATED, DYNAMIC = "calibrated", "dynamic"
DEVICES = ("auto", "cpu", "cuda")
CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


def default_bundle_dir() -> Path:
    """$PCC_BUNDLE if set, else the bundle of the latest training run."""
    return Path(os.environ.get(BUNDLE_ENV) or LATEST_BUNDLE)


@dataclass
class Prediction:
    label: str
    confidence: float  # probability of `label`
    scores: dict[str, float]  # label -> probability, in label order


@dataclass
class AnalyzedSentence:
    sentence: Sentence
    prediction: Prediction | None  # None when the sentence is garbled and was not classified
    lead: str | None = None  # the part of its lead the model read (`pcc.model_input`): a correction trains with it


@dataclass
class PaperAnalysis:
    paper: Paper
    sentences: list[AnalyzedSentence]

    def summary(self) -> dict[str, list[str]]:
        """Label -> texts of the sentences predicted with it, in paper order; every label is a key."""
        texts: dict[str, list[str]] = {label: [] for label in LABELS}
        for item in self.sentences:
            if item.prediction is not None:
                texts[item.prediction.label].append(item.sentence.text)
        return texts


def _physical_cores() -> int:
    """Physical cores this process may run on: one intra-op thread each (hyper-threads only add contention)."""
    import psutil

    available = len(os.sched_getaffinity(0))
    return max(1, min(psutil.cpu_count(logical=False) or available, available))


class SentenceClassifier:
    """Classifies sentences (optionally with their heading path) as one of the bundle's labels."""

    def __init__(self, bundle_dir: str | Path, device: str = "auto", precision: str | None = None,
                 batch_size: int = 32, threads: int | None = None):
        """`precision`: fp32 or int8; None takes the bundle's default (`choose_precision`). `threads`: ONNX Runtime
        intra-op threads; default one per physical core this process may use (a Ray worker passes the CPUs it was
        given)."""
        self.bundle_dir = Path(bundle_dir)
        precision = choose_precision(self.bundle_dir, precision)
        if device not in DEVICES:
            raise UserError(f"device {device!r}: choose one of {', '.join(DEVICES)}")
        if batch_size < 1:
            raise UserError(f"batch size {batch_size}: must be at least 1")
        self.precision = precision
        self.batch_size = batch_size
        self.bundle = read_bundle(self.bundle_dir, precision)
        self.labels: tuple[str, ...] = tuple(self.bundle["labels"])
        self.max_length: int = int(self.bundle["max_length"])
        self.use_heading: bool = bool(self.bundle["use_heading"])
        # What segment B holds; a bundle from before document context holds headings only.
        self.context_scheme: str = self.bundle.get("context", HEADINGS)
        self._pad_id: int = int(self.bundle["pad_token_id"])
        self._tokenizer = Tokenizer.from_file(str(self.bundle_dir / "tokenizer.json"))
        self._tokenizer.no_padding()  # batches are padded here, after sorting by length
        self._tokenizer.enable_truncation(self.max_length)
        providers = execution_providers(device)
        # ORT 1.32's CPU SkipLayerNormalization kernel takes ~4x the time of the Add + LayerNormalization
        # it replaces (1.9 vs 0.45 ms at 32 x 60 x 384 on 2 cores); on CUDA the fused kernel is the fast one.
        unfused = ["SkipLayerNormFusion"] if providers == [CPU_PROVIDER] else []
        self._session = ort.InferenceSession(
            str(self.bundle_dir / MODEL_FILES[precision]), session_options(threads), providers=providers,
            disabled_optimizers=unfused,
        )
        self.providers: list[str] = self._session.get_providers()
        self.batch_independent: bool = batch_independent(precision, self.bundle)
        self._input_names = [node.name for node in self._session.get_inputs()]
        unknown = set(self._input_names) - {"input_ids", "attention_mask", "token_type_ids"}
        if unknown:
            raise UserError(f"{self.bundle_dir}: the model expects unknown inputs {sorted(unknown)}; run `pcc export` again")

    def classify(self, sentences: Sequence[str], contexts: Sequence[str | None] | None = None) -> list[Prediction]:
        """Predict every sentence; `contexts[i]` is the model context of `sentences[i]` (`pcc.model_input`:
        `paper_contexts` with `self.context_scheme`, or `heading_context`) or None for a bare sentence."""
        probabilities = np.empty((len(sentences), len(self.labels)), dtype=np.float32)
        for batch, feed in self.batches(sentences, contexts):
            probabilities[batch] = _softmax(self._session.run(None, feed)[0])
        return [self._prediction(row) for row in probabilities]

    def batches(self, sentences: Sequence[str], contexts: Sequence[str | None] | None = None,
                batch_size: int | None = None) -> Iterator[tuple[list[int], dict[str, np.ndarray]]]:
        """The model inputs of `classify`, batch by batch: (positions in `sentences`, input arrays). Sentences are
        sorted by length before batches are cut, which keeps padding (wasted compute) small."""
        if contexts is not None and len(contexts) != len(sentences):
            raise ValueError(f"{len(sentences)} sentences but {len(contexts)} contexts")
        if not self.use_heading or contexts is None:
            contexts = [None] * len(sentences)
        encodings = [
            self._tokenizer.encode(text, context) if context else self._tokenizer.encode(text)
            for text, context in zip(sentences, contexts)
        ]
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        size = batch_size or self.batch_size
        for start in range(0, len(order), size):
            batch = order[start:start + size]
            yield batch, self._feed([encodings[i] for i in batch])

    def classify_paper(self, prepared: PreparedPaper) -> PaperAnalysis:
        """Classify the paper's readable sentences; garbled ones get prediction None."""
        return self.classify_papers([prepared])[0]

    def classify_papers(self, papers: Sequence[PreparedPaper]) -> list[PaperAnalysis]:
        """`classify_paper` for several papers at once: batches fill up across papers (fewer, fuller runs)."""
        every = [s for prepared in papers for s in prepared.sentences]
        leads = scheme_leads(every, self.context_scheme)
        readable = [(s, lead) for s, lead in zip(every, leads) if s.quality == "ok"]
        predictions = iter(self.classify([s.text for s, _ in readable],
                                         [sentence_context(s, lead) for s, lead in readable]))
        analyzed = iter([AnalyzedSentence(s, next(predictions) if s.quality == "ok" else None, lead)
                         for s, lead in zip(every, leads)])
        return [PaperAnalysis(prepared.paper, [next(analyzed) for _ in prepared.sentences]) for prepared in papers]

    def analyze(self, text: str, title: str | None = None) -> PaperAnalysis:
        """Segment raw text into sentences (with headings) and classify them."""
        from pcc.documents import prepare_text

        return self.classify_paper(prepare_text(text, title=title))

    def _feed(self, encodings: list) -> dict[str, np.ndarray]:
        width = max(len(e.ids) for e in encodings)
        arrays = {
            "input_ids": np.full((len(encodings), width), self._pad_id, dtype=np.int64),
            "attention_mask": np.zeros((len(encodings), width), dtype=np.int64),
            "token_type_ids": np.zeros((len(encodings), width), dtype=np.int64),
        }
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            arrays["input_ids"][row, :length] = encoding.ids
            arrays["attention_mask"][row, :length] = encoding.attention_mask
            arrays["token_type_ids"][row, :length] = encoding.type_ids
        return {name: arrays[name] for name in self._input_names}

    def _prediction(self, probabilities: np.ndarray) -> Prediction:
        best = int(probabilities.argmax())
        scores = {label: float(p) for label, p in zip(self.labels, probabilities)}
        return Prediction(self.labels[best], float(probabilities[best]), scores)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def read_bundle(bundle_dir: str | Path, precision: str = "fp32") -> dict:
    """`bundle.json` of a complete bundle for `precision`; a UserError saying what to do otherwise. Cheap: loads
    no model, so a driver can check the bundle before it starts workers."""
    if precision not in MODEL_FILES:
        raise UserError(f"precision {precision!r}: choose one of {', '.join(MODEL_FILES)}")
    return _read_bundle(Path(bundle_dir), MODEL_FILES[precision])


def choose_precision(bundle_dir: str | Path, precision: str | None) -> str:
    """`precision` if given; else the default of `pcc predict`, `pcc serve` and the service: int8 where the bundle's
    int8 model is calibrated (its labels never depend on batching) and passed the export checks, fp32 otherwise
    (a bundle exported before issue 19, or one whose int8 model failed its checks)."""
    if precision is not None:
        return precision
    bundle = read_bundle(bundle_dir)
    passed = bundle.get("int8_scheme") == CALIBRATED and bundle.get("checks", {}).get("int8_passed")
    return "int8" if passed and (Path(bundle_dir) / MODEL_FILES["int8"]).is_file() else "fp32"


def batch_independent(precision: str, bundle: dict) -> bool:
    """Whether a sentence's probabilities are the same whatever it is batched with (a bundle from before issue 19
    names no int8 scheme: its int8 model is dynamically quantised)."""
    return precision == "fp32" or bundle.get("int8_scheme", DYNAMIC) == CALIBRATED


def _read_bundle(bundle_dir: Path, model_file: str) -> dict:
    hint = f"run `pcc export` to write it, or pass the bundle directory (--bundle / ${BUNDLE_ENV})"
    if not bundle_dir.is_dir():
        raise UserError(f"{bundle_dir}: no ONNX bundle here; {hint}")
    for name in ("bundle.json", "tokenizer.json", model_file):
        if not (bundle_dir / name).is_file():
            raise UserError(f"{bundle_dir / name}: missing, the bundle is incomplete; {hint}")
    try:
        bundle = json.loads((bundle_dir / "bundle.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{bundle_dir / 'bundle.json'}: not valid JSON ({error}); {hint}") from None
    missing = [key for key in ("labels", "max_length", "use_heading", "pad_token_id") if key not in bundle]
    if missing:
        raise UserError(f"{bundle_dir / 'bundle.json'}: missing field(s) {', '.join(missing)}; {hint}")
    return bundle


def execution_providers(device: str) -> list[str]:
    available = ort.get_available_providers()
    if device == "cpu" or (device == "auto" and CUDA_PROVIDER not in available):
        return [CPU_PROVIDER]
    if CUDA_PROVIDER not in available:
        raise UserError(
            "device 'cuda': this onnxruntime has no CUDA support; "
            "install onnxruntime-gpu (pip install onnxruntime-gpu) or use --device cpu"
        )
    return [CUDA_PROVIDER, CPU_PROVIDER]


def session_options(threads: int | None = None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads if threads and threads > 0 else _physical_cores()
    options.inter_op_num_threads = 1  # the graph is one chain: parallelism is inside each operator
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Idle threads sleep instead of spinning: on a shared machine spinning steals the cores the work needs
    # (measured here: int8 at batch 32 went from ~65 to ~90 sentences/s on 2 busy cores).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options
