"""The runtime sentence classifier: an ONNX bundle (`pcc.bundle`) run by ONNX Runtime, with no torch in sight."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from pcc.bundle import INPUT_NAMES, MODEL_FILES, TOKENIZER_FILE, choose_precision, read_bundle
from pcc.errors import UserError
from pcc.model_input import ModelInput, model_inputs
from pcc.records import LABELS, Paper, Sentence

if TYPE_CHECKING:
    from pcc.documents import PreparedPaper

DEVICES = ("auto", "cpu", "cuda")
# What one more ONNX Runtime run costs, in padded tokens' worth of compute: `length_batches` cuts a batch where
# the padding saved is worth more.
RUN_OVERHEAD_TOKENS = 16
CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


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


def physical_cores() -> int:
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
        self.run_overhead: float = RUN_OVERHEAD_TOKENS  # how `length_batches` weighs a run against padding
        self.bundle = read_bundle(self.bundle_dir, precision)
        self.card = self.bundle.card  # how the model reads a sentence: give `pcc.model_input.model_inputs` this
        self.labels: tuple[str, ...] = tuple(self.card.labels)
        self.max_length: int = self.card.max_length
        self._pad_id: int = self.bundle.pad_token_id
        self._tokenizer = Tokenizer.from_file(str(self.bundle_dir / TOKENIZER_FILE))
        self._tokenizer.no_padding()  # batches are padded here, after sorting by length
        self._tokenizer.enable_truncation(self.max_length)
        self._session = inference_session(self.bundle_dir / MODEL_FILES[precision], execution_providers(device),
                                          threads)
        self.providers: list[str] = self._session.get_providers()
        self.batch_independent: bool = self.bundle.batch_independent(precision)
        self._input_names = [node.name for node in self._session.get_inputs()]
        unknown = set(self._input_names) - set(INPUT_NAMES)
        if unknown:
            raise UserError(f"{self.bundle_dir}: the model expects unknown inputs {sorted(unknown)}; run `pcc export` again")

    def classify(self, sentences: Sequence[str], contexts: Sequence[str | None] | None = None) -> list[Prediction]:
        """Predict every sentence as read once: `contexts[i]` is the context of `sentences[i]` (None: read bare).
        `classify_inputs` is the model's reading of a sentence as the card defines it."""
        return [self._prediction(row) for row in self._probabilities(sentences, contexts)]

    def classify_inputs(self, inputs: Sequence[ModelInput], given_alone: bool = False) -> list[Prediction]:
        """Predict each sentence as `pcc.model_input.model_inputs` built it with `self.card`: read with its
        context and, where it has a lead and the card mixes one in (`ModelCard.with_lead_free_view`), without its
        lead too. `given_alone`: the sentences came without their paper (a list, a request), so those read bare get
        the card's bare offsets (`ModelCard.given_bare`); a sentence of a paper read bare does not."""
        twice = [i for i, item in enumerate(inputs) if item.read_twice] if self.card.lead_free_weight else []
        probabilities = self._probabilities(
            [item.text for item in inputs] + [inputs[i].text for i in twice],
            [item.context for item in inputs] + [inputs[i].context_without_lead for i in twice])
        readings = probabilities[:len(inputs)]
        if twice:
            readings[twice] = self.card.with_lead_free_view(readings[twice], probabilities[len(inputs):])
        if given_alone:
            bare = [i for i, item in enumerate(inputs) if not item.context]
            readings[bare] = self.card.given_bare(readings[bare])
        return [self._prediction(row) for row in readings]

    def _probabilities(self, sentences: Sequence[str], contexts: Sequence[str | None] | None) -> np.ndarray:
        probabilities = np.empty((len(sentences), len(self.labels)), dtype=np.float32)
        for batch, feed in self.batches(sentences, contexts):
            probabilities[batch] = _softmax(self._session.run(None, feed)[0])
        return probabilities

    def batches(self, sentences: Sequence[str], contexts: Sequence[str | None] | None = None,
                batch_size: int | None = None) -> Iterator[tuple[list[int], dict[str, np.ndarray]]]:
        """The model inputs of `classify`, batch by batch: (positions in `sentences`, input arrays), cut by
        `length_batches`, which keeps padding (wasted compute) small."""
        if contexts is not None and len(contexts) != len(sentences):
            raise ValueError(f"{len(sentences)} sentences but {len(contexts)} contexts")
        if contexts is None:
            contexts = [None] * len(sentences)
        encodings = [
            self._tokenizer.encode(text, context) if context else self._tokenizer.encode(text)
            for text, context in zip(sentences, contexts)
        ]
        lengths = [len(encoding.ids) for encoding in encodings]
        for batch in length_batches(lengths, batch_size or self.batch_size, self.run_overhead):
            yield batch, self._feed([encodings[i] for i in batch])

    def classify_paper(self, prepared: PreparedPaper) -> PaperAnalysis:
        """Classify the paper's readable sentences; garbled ones get prediction None."""
        return self.classify_papers([prepared])[0]

    def classify_papers(self, papers: Sequence[PreparedPaper]) -> list[PaperAnalysis]:
        """`classify_paper` for several papers at once: batches fill up across papers (fewer, fuller runs)."""
        every = [s for prepared in papers for s in prepared.sentences]
        inputs = model_inputs(self.card, every)
        predictions = iter(self.classify_inputs([item for s, item in zip(every, inputs) if s.quality == "ok"]))
        analyzed = iter([AnalyzedSentence(s, next(predictions) if s.quality == "ok" else None, item.lead)
                         for s, item in zip(every, inputs)])
        return [PaperAnalysis(prepared.paper, [next(analyzed) for _ in prepared.sentences]) for prepared in papers]

    def analyze(self, text: str, title: str | None = None) -> PaperAnalysis:
        """Segment raw text into sentences (with headings) and classify them."""
        from pcc.documents import prepare_text

        return self.classify_paper(prepare_text(text, title=title))

    def _feed(self, encodings: list) -> dict[str, np.ndarray]:
        width = max(len(e.ids) for e in encodings)
        arrays = {name: np.zeros((len(encodings), width), dtype=np.int64) for name in INPUT_NAMES}
        arrays["input_ids"].fill(self._pad_id)
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


def length_batches(lengths: Sequence[int], size: int, overhead: float = RUN_OVERHEAD_TOKENS) -> list[list[int]]:
    """Positions of `lengths` in batches of at most `size`, sorted by length (each batch is padded to its longest):
    the cuts that minimise the padded tokens plus `overhead` per batch. A plain cut every `size` sentences pads a
    short sentence to a long one wherever lengths jump, as they do within one paper."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    # best[j]: the least cost of the first j sentences in order; start[j]: where the last batch of that begins.
    best, start = [0.0] * (len(order) + 1), [0] * (len(order) + 1)
    for j in range(1, len(order) + 1):
        width = lengths[order[j - 1]]  # the longest of any batch that ends at j
        # On a tie the later start wins, so that equal lengths are cut every `size` with the remainder last.
        cost, latest = min((best[i] + overhead + (j - i) * width, -i) for i in range(max(0, j - size), j))
        best[j], start[j] = cost, -latest
    batches, j = [], len(order)
    while j:
        batches.append(order[start[j]:j])
        j = start[j]
    return batches[::-1]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def execution_providers(device: str) -> list[str]:
    """ONNX Runtime's execution providers for a device (auto, cpu, cuda); a UserError when cuda cannot run."""
    available = ort.get_available_providers()
    if device == "cpu" or (device == "auto" and CUDA_PROVIDER not in available):
        return [CPU_PROVIDER]
    if CUDA_PROVIDER not in available:
        raise UserError(
            "device 'cuda': this onnxruntime has no CUDA support; "
            "install onnxruntime-gpu (pip install onnxruntime-gpu) or use --device cpu"
        )
    return [CUDA_PROVIDER, CPU_PROVIDER]


def inference_session(model: Path, providers: list[str], threads: int | None = None) -> ort.InferenceSession:
    """An ONNX Runtime session of the model file on `providers`, with `session_options(threads)`."""
    # ORT 1.32's CPU SkipLayerNormalization kernel takes ~4x the time of the Add + LayerNormalization
    # it replaces (1.9 vs 0.45 ms at 32 x 60 x 384 on 2 cores); on CUDA the fused kernel is the fast one.
    unfused = ["SkipLayerNormFusion"] if providers == [CPU_PROVIDER] else []
    return ort.InferenceSession(str(model), session_options(threads), providers=providers,
                                disabled_optimizers=unfused)


def session_options(threads: int | None = None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads if threads and threads > 0 else physical_cores()
    options.inter_op_num_threads = 1  # the graph is one chain: parallelism is inside each operator
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Idle threads sleep instead of spinning: on a shared machine spinning steals the cores the work needs
    # (measured here: int8 at batch 32 went from ~65 to ~90 sentences/s on 2 busy cores).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options
