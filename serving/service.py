"""The HTTP service: `POST /classify`, `POST /analyze`, `POST /analyze_file` (a .pdf, .docx or .txt paper),
`POST /map_files` (the corpus map of several papers or a .zip of them), `POST /corrections`, the web page at `/`,
BentoML's health and metrics.

Start it with `pcc serve` or `bentoml serve serving.service:PCC`; `bentoml build` packs it into a Bento with the
newest `pcc-classifier` of the model store (bentofile.yaml names it). Settings come from the environment, so the same service runs under
all of them and inside a container:
  PCC_BUNDLE     ONNX bundle directory (default: in a Bento, the model it packs; else models/latest/onnx)
  PCC_DEVICE     auto | cpu | cuda (cuda needs `pip install onnxruntime-gpu` and reserves one GPU per worker)
  PCC_PRECISION  fp32 or int8 (default: int8 where the bundle's int8 model is calibrated and passed the export
                 checks, else fp32); calibrated int8 is several times faster on a CPU and, like fp32, its labels
                 never depend on the batch
  PCC_WORKERS    worker processes, each loads its own copy of the model (default 1)
  PCC_BATCHING   1 (default): BentoML merges concurrent /classify requests into one model call; 0: it does not
  PCC_CORRECTIONS_DIR  folder where POST /corrections appends corrections.jsonl (unset: the route answers 404)
  PCC_API_TOKEN  secret that POST /corrections requires (as `Authorization: Bearer TOKEN`); without it the route
                 is open only while the service listens on loopback alone, and refused (403) otherwise
  PCC_UPLOAD_SECONDS, PCC_UPLOAD_MEMORY_MB  what reading one uploaded file may take (default 60 s, 512 MB); the
                 process reading it is killed past either, or when its client goes away
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import threading
from dataclasses import asdict
from typing import Annotated, Optional

import bentoml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, WithJsonSchema
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pcc.bundle import BUNDLE_ENV, Bundle, default_bundle_dir
from pcc.documents import PreparedPaper
from pcc.model_input import model_inputs
from pcc.paths import API_TOKEN_ENV, CORRECTIONS_ENV
from pcc.records import Sentence
from serving.corrections import CorrectionsIn, CorrectionStore
from serving.model_store import STORE_MODEL
from serving.uploads import ReadLimits, Refused, limited, read_papers, read_upload, receive_paper, receive_papers
from serving.web import page_app

MAX_SENTENCES = 256
MAX_SENTENCE_CHARS = 2_000
MAX_DOCUMENT_CHARS = 200_000
MAX_TITLE_CHARS = 500
MAX_HEADING_DEPTH = 8
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # a paper file sent to /analyze_file
MAX_CORRECTIONS_BYTES = 4 * 1024 * 1024  # a request to /corrections
# /map_files: the papers of one map are classified and embedded within the request's time (traffic timeout).
MAX_MAP_BYTES = 20 * 1024 * 1024  # the request
MAX_MAP_UNPACKED_BYTES = 50 * 1024 * 1024  # the papers of a .zip, unpacked
MAX_MAP_FILES = 50  # paper files, those inside a .zip counted one by one
MAX_MAP_CHARS = 200_000  # characters of text of all the papers: about 80 s to map on 2 CPU cores

# Sentences per ONNX Runtime call. The classifier sorts sentences by length before cutting batches; small
# batches keep padding small, and on CPU 8 classified the seed corpus ~1.8x faster per sentence than 32.
ONNX_BATCH_SIZE = 8

DEVICE = os.environ.get("PCC_DEVICE", "auto")
BATCHING = os.environ.get("PCC_BATCHING", "1") != "0"
# Under BentoML's request timeout (120 s, `traffic` below), so that the classification has time left.
UPLOAD_LIMITS = ReadLimits(float(os.environ.get("PCC_UPLOAD_SECONDS", "60")),
                           int(os.environ.get("PCC_UPLOAD_MEMORY_MB", "512")))

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
    lead: Optional[str]  # the end of the sentence before, or of the announcement of its list, as the model read it
    is_heading: bool
    quality: str  # "ok" or "garbled"; garbled sentences are not classified
    label: Optional[str]
    confidence: Optional[float]
    scores: Optional[dict[str, float]]


class AnalysisOut(BaseModel):
    title: str
    sentences: list[SentenceOut]
    summary: dict[str, list[str]]  # category -> its sentences, in paper order


class FileSentenceOut(SentenceOut):
    paper: str  # id of the paper of the file it belongs to (a .txt file may hold several)


class PaperOut(BaseModel):
    paper: str  # the file's name without suffix; `<name>#01`, `<name>#02`, ... for a file of several papers
    title: str
    sentences: int


class LeftOutLine(BaseModel):
    paper: str
    line: int  # in the text read from the file, from 1
    text: str
    reason: str  # site chrome, page furniture, download-site notice


class FileAnalysisOut(AnalysisOut):
    file_name: str
    sentences: list[FileSentenceOut]  # of every paper, numbered through
    papers: list[PaperOut]
    left_out: list[LeftOutLine]  # lines of the file that belong to no paper


async def analyze_file(request: Request) -> JSONResponse:
    """POST /analyze_file: a .pdf, .docx or .txt paper in the multipart field `file`, read as `pcc prepare` reads
    it (in a process of its own, within UPLOAD_LIMITS) → /analyze's answer for all its papers, with the file's
    name and the lines left out. Refusals are 4xx with {"error": message} (`serving.uploads`)."""
    try:
        name, content = await receive_paper(request, MAX_UPLOAD_BYTES)
        papers = await read_upload(name, content, MAX_DOCUMENT_CHARS, UPLOAD_LIMITS, request.is_disconnected)
        analysis = await run_in_threadpool(bentoml.get_current_service().analyze_upload, name, papers)
    except Refused as refused:
        return refused.response()
    return JSONResponse(analysis.model_dump())


async def map_files(request: Request) -> JSONResponse:
    """POST /map_files: several .pdf, .docx or .txt papers (or a .zip of them) in the multipart field `files` →
    the corpus map of their problems, causes and countermeasures (`serving.corpus_map.render.page_data`), with
    the files read and those skipped (each file read as by /analyze_file, within UPLOAD_LIMITS). Refusals are 4xx
    with {"error": message}; 503 when the bundle has no embedder."""
    try:
        files = await receive_papers(request, MAX_MAP_BYTES, MAX_MAP_FILES, MAX_MAP_UNPACKED_BYTES)
        papers, skipped = await read_papers(files, MAX_MAP_CHARS, UPLOAD_LIMITS, request.is_disconnected)
        answer = await run_in_threadpool(bentoml.get_current_service().map_upload, papers, skipped)
    except Refused as refused:
        return refused.response()
    return JSONResponse(answer)


async def save_corrections(request: Request) -> JSONResponse:
    """POST /corrections: {paper, corrections: [{text, heading_path, label, previous_label}]} → appended to
    $PCC_CORRECTIONS_DIR/corrections.jsonl (`serving.corrections`); 404 when no folder is configured."""
    service = bentoml.get_current_service()
    store = service.corrections
    if store is None:
        return Refused(404, f"this server does not store corrections: start it with `pcc serve --corrections-dir "
                            f"DIR` (or set {CORRECTIONS_ENV}), or export them from the page").response()
    try:
        service.check_write_access(request)
        corrections = CorrectionsIn.model_validate_json(await limited(request, MAX_CORRECTIONS_BYTES,
                                                                     "send the corrections in several requests").body())
    except Refused as refused:
        return refused.response()
    except ValidationError as error:  # the same shape as BentoML's answer to bad input
        return JSONResponse({"error": f"{error.error_count()} validation error for {error.title}",
                             "detail": error.errors(include_url=False, include_context=False, include_input=False)},
                            status_code=400)
    return JSONResponse(await run_in_threadpool(store.append, corrections))


@bentoml.asgi_app(page_app([Route("/analyze_file", analyze_file, methods=["POST"]),
                            Route("/map_files", map_files, methods=["POST"]),
                            Route("/corrections", save_corrections, methods=["POST"])]), path="/")
@bentoml.service(
    name="pcc",
    workers=int(os.environ.get("PCC_WORKERS", "1")),
    traffic={"timeout": 120},
    **({"resources": {"gpu": 1}} if DEVICE == "cuda" else {}),
)
class PCC:
    def __init__(self) -> None:
        from serving.classifier import SentenceClassifier

        self.classifier = SentenceClassifier(
            _bundle_dir(), device=DEVICE, precision=os.environ.get("PCC_PRECISION") or None,
            batch_size=ONNX_BATCH_SIZE)
        # The first run sizes ONNX Runtime's buffers; pay for it before /readyz answers, not in a request.
        self.classifier.classify(["预热模型。"])
        self.corrections = _correction_store(self.classifier.bundle)
        self.api_token = os.environ.get(API_TOKEN_ENV) or None
        self.open_to_others = listens_beyond_loopback()
        self._embedder = None  # loaded by the first /map_files request: most requests never need it
        self._embedder_lock = threading.Lock()

    def check_write_access(self, request: Request) -> None:
        """A Refused unless `request` may change what is on disk: with $PCC_API_TOKEN set, only a request that sends
        it; without, none while the service listens beyond loopback (anyone who reaches the port could add to the
        corrections that train the next model). Routes that only read stay open."""
        if self.api_token:
            sent = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(sent, f"Bearer {self.api_token}".encode()):
                raise Refused(401, "this server stores corrections only for those who know its access token: type it "
                                   "in the page when it asks, or send the header `Authorization: Bearer TOKEN`")
        elif self.open_to_others:
            raise Refused(403, f"this server listens beyond this machine and has no access token, so it stores no "
                               f"corrections: restart it with {API_TOKEN_ENV} set to a secret (then give it in the "
                               "page), or on 127.0.0.1; or export the corrections from the page")

    # A request that would wait longer than max_latency_ms in the batching queue gets a 503 (overloaded).
    @bentoml.api(batchable=BATCHING, max_batch_size=64, max_latency_ms=60_000)
    def classify(self, sentences: Sentences) -> list[PredictionOut]:
        """One prediction per sentence, in order. With batching on, `sentences` joins several requests."""
        given = [Sentence("", "", index, item.text, item.heading_path) for index, item in enumerate(sentences)]
        inputs = model_inputs(self.classifier.card, given, papers=(),
                              given_leads={s.id: item.lead for s, item in zip(given, sentences)})
        predictions = self.classifier.classify_inputs(inputs, given_alone=True)
        return [asdict(prediction) for prediction in predictions]

    @bentoml.api
    def analyze(self, text: DocumentText, title: Optional[Title] = None) -> AnalysisOut:
        """Segment a paper into sentences and classify every readable one."""
        analysis = self.classifier.analyze(text, title=title or None)
        sentences = [SentenceOut(**_sentence_fields(item)) for item in analysis.sentences]
        return AnalysisOut(title=analysis.paper.title, sentences=sentences, summary=analysis.summary())

    def analyze_upload(self, name: str, prepared: list[PreparedPaper]) -> FileAnalysisOut:
        """`analyze` for the papers read from an uploaded file (`serving.uploads.read_upload`)."""
        analyses = self.classifier.classify_papers(prepared)
        items = [(analysis.paper.paper_id, item) for analysis in analyses for item in analysis.sentences]
        summaries = [analysis.summary() for analysis in analyses]
        summary = {label: [text for each in summaries for text in each[label]] for label in self.classifier.labels}
        return FileAnalysisOut(
            file_name=name, title=analyses[0].paper.title, summary=summary,
            sentences=[FileSentenceOut(**{**_sentence_fields(item), "index": index}, paper=paper)
                       for index, (paper, item) in enumerate(items)],
            papers=[PaperOut(paper=a.paper.paper_id, title=a.paper.title, sentences=len(a.sentences)) for a in analyses],
            left_out=[LeftOutLine(paper=p.paper.paper_id, **asdict(line)) for p in prepared for line in p.left_out])

    def map_upload(self, papers: list[PreparedPaper], skipped: list[dict]) -> dict:
        """The corpus map of the papers read from uploaded files (`serving.uploads.read_papers`), with the files
        it `skipped`; a Refused when they hold nothing to map."""
        from pcc.errors import UserError
        from serving.corpus_map.build import build_map
        from serving.corpus_map.inputs import from_analyses
        from serving.corpus_map.render import page_data

        analyses = self.classifier.classify_papers(papers)
        try:
            data = from_analyses(analyses)
        except UserError as error:
            raise Refused(422, f"{error}; send papers that discuss problems, causes or countermeasures") from None
        embedder = self.embedder()
        corpus_map = build_map(data, lambda texts: embedder.embed(texts, progress=False), embedder.describe())
        read = [{"file": a.paper.source, "paper": a.paper.paper_id, "title": a.paper.title,
                 "sentences": len(a.sentences)} for a in analyses]
        return {**page_data(corpus_map), "files": read, "skipped": skipped}

    def embedder(self):
        """The bundle's sentence embedder, loaded once; a Refused (503) when the bundle has none."""
        from pcc.bundle import read_embedder_record
        from serving.corpus_map.embedder import SentenceEmbedder, embedder_dir

        with self._embedder_lock:
            if self._embedder is None:
                folder = embedder_dir(self.classifier.bundle_dir)
                if read_embedder_record(folder) is None:
                    raise Refused(503, f"this server's bundle has no sentence embedder ({folder}), which the map "
                                       "needs; run `pcc export --embedder-only` and restart the server")
                self._embedder = SentenceEmbedder(folder, device=DEVICE, batch_size=ONNX_BATCH_SIZE * 2)
            return self._embedder


def _sentence_fields(item) -> dict:
    """The fields of a SentenceOut for an analysed sentence (garbled ones have no label, confidence, scores)."""
    sentence = item.sentence
    return {"index": sentence.index, "text": sentence.text, "heading_path": sentence.heading_path, "lead": item.lead,
            "is_heading": sentence.is_heading, "quality": sentence.quality,
            **(asdict(item.prediction) if item.prediction else {"label": None, "confidence": None, "scores": None})}


def listens_beyond_loopback() -> bool:
    """Whether this worker's listening socket (BentoML's arbiter hands it down) accepts connections from other
    machines; also when none is found, as nothing then says it does not."""
    import psutil

    listening = [connection.laddr.ip for connection in psutil.Process().net_connections(kind="inet")
                 if connection.status == psutil.CONN_LISTEN]
    return not listening or not all(ipaddress.ip_address(address).is_loopback for address in listening)


def _correction_store(bundle: Bundle):
    """Where POST /corrections appends ($PCC_CORRECTIONS_DIR), with the model being corrected; None when unset."""
    folder = os.environ.get(CORRECTIONS_ENV)
    if not folder:
        return None
    return CorrectionStore(folder, bundle.source_run, bundle.exported_at)


def _bundle_dir():
    """$PCC_BUNDLE if set; else, served from a Bento, the store model it packs (the exact version `bentoml build`
    recorded); else the project's latest bundle."""
    from serving.model_store import stored_bundle_dir

    packed = [str(m.tag) for m in PCC.bento.info.all_models if m.tag.name == STORE_MODEL] if PCC.bento else []
    if os.environ.get(BUNDLE_ENV) or not packed:
        return default_bundle_dir()
    return stored_bundle_dir(packed[0])
