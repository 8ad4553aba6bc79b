"""The HTTP service: `POST /classify`, `POST /analyze`, the web page at `/`, BentoML's health and metrics.

Start it with `pcc serve` or `bentoml serve serving.service:PCC`; `bentoml build` packs it into a Bento with the
newest `pcc-classifier` of the model store (bentofile.yaml names it). Settings come from the environment, so the same service runs under
all of them and inside a container:
  PCC_BUNDLE     ONNX bundle directory (default: in a Bento, the model it packs; else models/latest/onnx)
  PCC_DEVICE     auto | cpu | cuda (cuda needs `pip install onnxruntime-gpu` and reserves one GPU per worker)
  PCC_PRECISION  fp32 or int8 (default: serving.classifier.DEFAULT_PRECISION); int8 is several times faster on a
                 CPU, and in a bundle with calibrated int8 its labels, like fp32's, never depend on the batch
  PCC_WORKERS    worker processes, each loads its own copy of the model (default 1)
  PCC_BATCHING   1 (default): BentoML merges concurrent /classify requests into one model call; 0: it does not
"""
from __future__ import annotations

import os
from dataclasses import asdict
from typing import Annotated, Optional

import bentoml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

from pcc.model_input import HEADINGS_AND_LEAD, heading_context
from serving.model_store import STORE_MODEL
from serving.web import page_app

MAX_SENTENCES = 256
MAX_SENTENCE_CHARS = 2_000
MAX_DOCUMENT_CHARS = 200_000
MAX_TITLE_CHARS = 500
MAX_HEADING_DEPTH = 8

# Sentences per ONNX Runtime call. The classifier sorts sentences by length before cutting batches; small
# batches keep padding small, and on CPU 8 classified the seed corpus ~1.8x faster per sentence than 32.
ONNX_BATCH_SIZE = 8

DEVICE = os.environ.get("PCC_DEVICE", "auto")
BATCHING = os.environ.get("PCC_BATCHING", "1") != "0"

SentenceText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_SENTENCE_CHARS)]
HeadingText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TITLE_CHARS)]


class SentenceIn(BaseModel):
    """A sentence with its context: the headings it sits under, outermost first, and its lead (the sentence that
    announces the list it is an item of, or else the sentence before it). The model reads them as its context."""
    model_config = ConfigDict(extra="forbid")
    text: SentenceText
    heading_path: Annotated[list[HeadingText], Field(max_length=MAX_HEADING_DEPTH)] = []
    lead: Optional[SentenceText] = None


def _as_sentence(item):
    if isinstance(item, str):
        return {"text": item}  # so a bad sentence is `sentences.N.text` in either form
    if isinstance(item, (dict, SentenceIn)):
        return item
    raise ValueError('a sentence is a string or an object {"text": "...", "heading_path": ["...", ...], "lead": "..."}')


SentenceItem = Annotated[
    SentenceIn,
    BeforeValidator(_as_sentence),
    WithJsonSchema({"anyOf": [{"type": "string", "minLength": 1, "maxLength": MAX_SENTENCE_CHARS},
                              SentenceIn.model_json_schema()]}),
]
Sentences = Annotated[list[SentenceItem], Field(min_length=1, max_length=MAX_SENTENCES)]
DocumentText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_DOCUMENT_CHARS)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_TITLE_CHARS)]


class PredictionOut(BaseModel):
    label: str
    confidence: float
    scores: dict[str, float]


class SentenceOut(BaseModel):
    index: int
    text: str
    heading_path: list[str]
    is_heading: bool
    quality: str  # "ok" or "garbled"; garbled sentences are not classified
    label: Optional[str]
    confidence: Optional[float]
    scores: Optional[dict[str, float]]


class AnalysisOut(BaseModel):
    title: str
    sentences: list[SentenceOut]
    summary: dict[str, list[str]]  # category -> its sentences, in paper order


@bentoml.asgi_app(page_app(), path="/")
@bentoml.service(
    name="pcc",
    workers=int(os.environ.get("PCC_WORKERS", "1")),
    traffic={"timeout": 120},
    **({"resources": {"gpu": 1}} if DEVICE == "cuda" else {}),
)
class PCC:
    def __init__(self) -> None:
        from serving.classifier import DEFAULT_PRECISION, SentenceClassifier

        self.classifier = SentenceClassifier(
            _bundle_dir(), device=DEVICE, precision=os.environ.get("PCC_PRECISION", DEFAULT_PRECISION),
            batch_size=ONNX_BATCH_SIZE)
        # The first run sizes ONNX Runtime's buffers; pay for it before /readyz answers, not in a request.
        self.classifier.classify(["预热模型。"])

    # A request that would wait longer than max_latency_ms in the batching queue gets a 503 (overloaded).
    @bentoml.api(batchable=BATCHING, max_batch_size=64, max_latency_ms=60_000)
    def classify(self, sentences: Sentences) -> list[PredictionOut]:
        """One prediction per sentence, in order. With batching on, `sentences` joins several requests."""
        leads = self.classifier.context_scheme == HEADINGS_AND_LEAD
        contexts = [heading_context(item.heading_path, item.lead if leads else None) for item in sentences]
        return [asdict(prediction) for prediction in self.classifier.classify([item.text for item in sentences], contexts)]

    @bentoml.api
    def analyze(self, text: DocumentText, title: Optional[Title] = None) -> AnalysisOut:
        """Segment a paper into sentences and classify every readable one."""
        analysis = self.classifier.analyze(text, title=title or None)
        sentences = [
            SentenceOut(
                index=item.sentence.index, text=item.sentence.text, heading_path=item.sentence.heading_path,
                is_heading=item.sentence.is_heading, quality=item.sentence.quality,
                **(asdict(item.prediction) if item.prediction else {"label": None, "confidence": None, "scores": None}),
            )
            for item in analysis.sentences
        ]
        return AnalysisOut(title=analysis.paper.title, sentences=sentences, summary=analysis.summary())


def _bundle_dir():
    """$PCC_BUNDLE if set; else, served from a Bento, the store model it packs (the exact version `bentoml build`
    recorded); else the project's latest bundle."""
    from serving.classifier import BUNDLE_ENV, default_bundle_dir
    from serving.model_store import stored_bundle_dir

    packed = [str(m.tag) for m in PCC.bento.info.all_models if m.tag.name == STORE_MODEL] if PCC.bento else []
    if os.environ.get(BUNDLE_ENV) or not packed:
        return default_bundle_dir()
    return stored_bundle_dir(packed[0])
