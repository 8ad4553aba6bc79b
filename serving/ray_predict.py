"""`pcc predict --engine ray`: the batch prediction of `serving.predict` as a Ray Data pipeline, over the cores and
GPUs of this machine or of a Ray cluster. Imported only when the Ray engine is asked for.

The pipeline, each *unit* of work being a file (all its papers) or a row of a table (one paper):

    files:   from_items(paths) ─ map_batches(read_files)          tasks: read and segment each file
    tables:  read_parquet / read_json ─ map_batches(prepare_rows)  tasks: segment each row's text
             union ─ map_batches(Classifier, actor pool)           --workers actors, each loads the bundle once
                                                                  (CUDA when given a GPU)
    driver:  results in input order (preserve_order), handed to `Outputs` as they come

A unit is classified as the local engine classifies it (`classify_papers` over the papers of one file, or over
one table paper), and its rows are made by the same `analysis_rows`, so both engines write the same rows. Papers
travel between stages as JSON, rows as JSON too: nothing is rounded on the way.

Faults: a reading task whose worker dies is retried (Ray's default, 3 times); a classifying actor that dies is
restarted (`max_restarts`) and the batches it had not finished are run again (`max_task_retries`). Every result carries its unit's key (source, and
paper_id in a table), and the driver takes each key once, so a batch that ran twice cannot write a paper twice.
`PCC_RAY_FAIL_ONCE=<file>` exists for the failure test (tests/test_ray_predict.py): the first actor that finds
the file after its first batch deletes it and kills its own process, once.

Without `--address`, Ray starts on this machine (`address="local"`) and stops at the end; with it, the job joins
that cluster and leaves it running. A Ray already set up in this process (a notebook, the tests) is used as it
is and left running. On a cluster, every node must read the papers, tables and bundle at the same paths.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import socket
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from pcc.bundle import choose_precision, default_bundle_dir, read_bundle
from pcc.documents import PreparedPaper, load_document
from pcc.errors import UserError
from pcc.records import Paper, Sentence
from serving.classifier import CPU_PROVIDER, CUDA_PROVIDER, SentenceClassifier
from serving.outputs import CHECKPOINT_SECONDS, Outputs, analysis_rows, describe_run, reason_of
from serving.tables import REPEAT, RowChecker, paper_key, prepare_row, table_columns, table_format, text_digest

try:
    import pyarrow as pa
    import ray
    import ray.data
except ImportError as missing:
    raise UserError(f"the Ray engine needs Ray Data ({missing.name} is not installed): pip install -e '.[ray]', "
                    "or use --engine local") from None

FAIL_ONCE_ENV = "PCC_RAY_FAIL_ONCE"
DEFAULT_WORKERS = 2
UNITS_PER_TASK = 8  # files or table rows per reading task and per classifying call
MAX_RESTARTS = 3  # per classifying actor, and per call it had not finished (reading tasks: Ray's default, 3)
OK, ERROR, DONE = "ok", "error", "done"  # what became of a unit before classification

# A unit between the stages; `papers` (JSON) before classification, `rows` (JSON) after.
UNIT_SCHEMA = pa.schema([("source", pa.string()), ("key", pa.string()), ("digest", pa.string()),
                         ("status", pa.string()), ("error", pa.string()), ("papers", pa.string())])
RESULT_SCHEMA = pa.schema([("source", pa.string()), ("key", pa.string()), ("digest", pa.string()),
                           ("status", pa.string()), ("error", pa.string()), ("rows", pa.string()),
                           ("provider", pa.string())])


class RayEngine:
    """`serving.predict`'s engine interface (`run`, `close`) on Ray. The constructor checks the options and the
    bundle, then starts or joins Ray and checks that the cluster can hold the workers; all before any output is
    written."""

    def __init__(self, args: argparse.Namespace, outputs: Outputs):
        self.outputs = outputs
        workers, cpus, gpus, device = worker_options(args)
        given = args.bundle or default_bundle_dir()
        precision = choose_precision(given, args.precision)
        bundle = read_bundle(given, precision)
        self.classifier_options = {"bundle_dir": str(Path(given).resolve()), "device": device,
                                   "precision": precision, "batch_size": args.batch_size,
                                   "threads": max(1, int(cpus)), "fail_marker": os.environ.get(FAIL_ONCE_ENV)}
        self._describe = lambda provider: describe_run(Path(given), precision, provider, bundle)
        outputs.classified_by = self._describe(CUDA_PROVIDER if gpus else CPU_PROVIDER)
        # Results in input order: the local engine's order.
        self.pool = ActorPool(args.address, workers, cpus, gpus, preserve_order=True)

    def run(self, files: list[Path], tables: list[Path]) -> tuple[int, int]:
        """Classify every unit; (files and table papers classified, table papers skipped as already written)."""
        units = self._units(files, tables)
        if units is None:
            return 0, 0
        results = self.pool.map(units, _Classifier, self.classifier_options, UNITS_PER_TASK, "pyarrow")
        collector = _Collector(self.outputs, self._describe)
        with tqdm(total=len(files) if not tables else None, desc="papers", unit="unit", disable=None) as progress:
            try:
                for batch in results.iter_batches(batch_size=None, batch_format="pyarrow"):
                    for unit in batch.to_pylist():
                        collector.take(unit)
                        progress.update(1)
                    self.outputs.save_every(CHECKPOINT_SECONDS)
            except ray.exceptions.RayError as error:
                raise job_failed(error, "the rows of finished files and papers are saved: run again with --resume"
                                 ) from None
        if collector.duplicates:
            print(f"{collector.duplicates} unit(s) came twice (a retried batch, or a table row repeating an earlier "
                  "one word for word) and were taken once", file=sys.stderr)
        return collector.processed, collector.skipped

    def close(self) -> None:
        self.pool.close()

    def _units(self, files: list[Path], tables: list[Path]):
        """The dataset of segmented units, in input order: files first, then each table's rows."""
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "progress bars disabled"
        parts = []
        if files:
            items = [{"path": str(path.resolve()), "source": str(path)} for path in files]
            parts.append(ray.data.from_items(items, override_num_blocks=math.ceil(len(items) / UNITS_PER_TASK))
                         .map_batches(read_files, batch_size=UNITS_PER_TASK, batch_format="pyarrow"))
        for table in tables:
            path = str(table.resolve())
            if table_format(table) == "parquet":
                rows = ray.data.read_parquet(path).select_columns(table_columns(table))
            else:
                rows = ray.data.read_json(path, lines=True)
            parts.append(rows.map_batches(prepare_rows, batch_size=UNITS_PER_TASK, batch_format="pyarrow",
                                          fn_kwargs={"source": str(table),
                                                     "done": sorted(self.outputs.done_papers(str(table)))}))
        if not parts:
            return None
        return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def worker_options(args: argparse.Namespace) -> tuple[int, float, float, str]:
    """(workers, CPUs and GPUs per worker, device) of the Ray options of `args`; a UserError when they clash."""
    workers = DEFAULT_WORKERS if args.workers is None else args.workers
    gpus = args.gpus_per_worker or 0.0
    cpus = 1.0 if args.cpus_per_worker is None else args.cpus_per_worker
    if workers < 1:
        raise UserError(f"--workers {workers}: must be at least 1")
    if gpus < 0 or cpus <= 0:
        raise UserError("--gpus-per-worker must be 0 or more and --cpus-per-worker more than 0")
    if gpus and args.device == "cpu":
        raise UserError("--device cpu and --gpus-per-worker: a worker given a GPU runs on it; drop one of them")
    if not gpus and args.device == "cuda":
        raise UserError("--device cuda with --engine ray needs GPUs for the workers: add --gpus-per-worker 1")
    return workers, cpus, gpus, "cuda" if gpus else "cpu"


class ActorPool:
    """`workers` Ray actors of `cpus` CPUs and `gpus` GPUs each, as both Ray engines (`pcc predict`, `pcc map`)
    run them: the constructor starts or joins Ray and checks that it holds them, and turns Ray Data's progress
    bars off (the engines count with tqdm) and, if asked, keeps results in input order; `close` puts those
    settings back and stops a Ray it started."""

    def __init__(self, address: str | None, workers: int, cpus: float, gpus: float, preserve_order: bool = False):
        self.workers, self.cpus, self.gpus = workers, cpus, gpus
        self._context_before: tuple | None = None
        self.started_ray = connect(address, workers * cpus + 1)
        try:
            check_resources(workers, cpus, gpus)
        except BaseException:
            self.close()
            raise
        context = ray.data.DataContext.get_current()
        self._context_before = (context.execution_options.preserve_order, context.enable_progress_bars)
        if preserve_order:
            context.execution_options.preserve_order = True
        context.enable_progress_bars = False

    def map(self, dataset, actor: type, arguments: dict, batch_size: int, batch_format: str):
        """`dataset` mapped batch by batch through the pool's actors, each made once with `arguments`."""
        with warnings.catch_warnings():
            # Ray 2.60 deprecates retry settings passed as remote arguments but has no other place for them yet;
            # bounded, they stop a worker that always crashes (its default is to restart it forever).
            warnings.simplefilter("ignore", DeprecationWarning)
            return dataset.map_batches(
                actor, fn_constructor_kwargs=arguments, batch_size=batch_size, batch_format=batch_format,
                compute=ray.data.ActorPoolStrategy(size=self.workers), num_cpus=self.cpus,
                num_gpus=self.gpus or None, max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS)

    def close(self) -> None:
        if self._context_before is not None:
            context = ray.data.DataContext.get_current()
            context.execution_options.preserve_order, context.enable_progress_bars = self._context_before
            self._context_before = None
        if self.started_ray and ray.is_initialized():
            ray.shutdown()  # stops a Ray started here; leaves a joined cluster running
        self.started_ray = False


def job_failed(error: Exception, advice: str) -> UserError:
    """A Ray job's failure as one line: the error's type and first line, then what to do."""
    first_line = (str(error).strip().splitlines() or [""])[0]
    return UserError(f"the Ray job failed ({type(error).__name__}: {first_line}); {advice}")


def check_resources(workers: int, cpus: float, gpus: float) -> None:
    """The cluster must hold the workers' CPUs and GPUs, and one CPU for the reading tasks."""
    total = ray.cluster_resources()
    have_cpus, have_gpus = total.get("CPU", 0), total.get("GPU", 0)
    if have_cpus < workers * cpus + 1:
        raise UserError(f"the Ray cluster has {have_cpus:g} CPU(s): {workers} worker(s) × {cpus:g} CPU(s) and one "
                        "CPU for reading do not fit; use fewer --workers or a smaller --cpus-per-worker")
    if have_gpus < workers * gpus:
        raise UserError(f"the Ray cluster has {have_gpus:g} GPU(s): {workers} worker(s) × {gpus:g} GPU(s) do not "
                        "fit; use fewer --workers or a smaller --gpus-per-worker")


def connect(address: str | None, cpus_needed: float) -> bool:
    """Join the cluster at `address`, or start Ray on this machine; True when this call did either (so `close`
    disconnects or stops it)."""
    if address and address != "auto":
        _check_reachable(address)
    if ray.is_initialized():
        return False
    options = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": True}
    if address:
        try:
            ray.init(address=address, **options)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise UserError(f"--address {address}: could not join a Ray cluster there ({error}); check the "
                            "address of its head (`ray status` on it), or leave out --address") from None
        return True
    # Logical CPUs: the workers' and one for the reading tasks, so that they never wait for each other.
    ray.init(address="local", num_cpus=max(os.cpu_count() or 1, math.ceil(cpus_needed)), **options)
    return True


def _check_reachable(address: str) -> None:
    """A wrong address would keep `ray.init` retrying for minutes: fail at once when nothing listens there."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--address {address}: give HOST:PORT of the Ray head (e.g. 10.0.0.5:6379), or auto")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise UserError(f"--address {address}: no Ray cluster answers there ({error.strerror or error}); start "
                        "one with `ray start --head` on that machine, or leave out --address to run Ray here") from None


def _papers_json(papers: list[PreparedPaper]) -> str:
    return json.dumps([{"paper": asdict(p.paper), "sentences": [asdict(s) for s in p.sentences]} for p in papers],
                      ensure_ascii=False)


def _papers_from_json(text: str) -> list[PreparedPaper]:
    return [PreparedPaper(Paper(**p["paper"]), [Sentence(**s) for s in p["sentences"]]) for p in json.loads(text)]


def _units_table(units: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(units, schema=UNIT_SCHEMA)


def read_files(batch: pa.Table) -> pa.Table:
    """Reading task: each file → one unit holding its papers, or the reason it could not be read (named by the
    path as it was given, like the local engine's errors)."""
    units = []
    for item in batch.to_pylist():
        path, source = item["path"], item["source"]
        unit = {"source": source, "key": source, "digest": "", "status": OK, "error": "", "papers": ""}
        try:
            papers = load_document(path)
            for prepared in papers:
                prepared.paper.source = source
            unit["papers"] = _papers_json(papers)
        except Exception as error:  # one unreadable file must not stop the batch
            unit.update(status=ERROR, error=reason_of(error).replace(path, source))
        units.append(unit)
    return _units_table(units)


def prepare_rows(batch: pa.Table, source: str, done: list[str]) -> pa.Table:
    """Reading task: each table row → one unit holding its paper, DONE when its paper_id is already in the
    output (`--resume`), or the reason it cannot be a paper."""
    done_ids = set(done)
    units = []
    for row in batch.to_pylist():
        key = paper_key(row) or ""
        unit = {"source": source, "key": key, "digest": text_digest(row), "status": OK, "error": "", "papers": ""}
        if key and key in done_ids:
            unit["status"] = DONE
        else:
            try:
                unit["papers"] = _papers_json([prepare_row(row, source)])
            except Exception as error:  # one bad row must not stop the batch
                unit.update(status=ERROR, error=reason_of(error))
        units.append(unit)
    return _units_table(units)


class _Classifier:
    """Classifying actor: loads the bundle once and turns units into output rows."""

    def __init__(self, bundle_dir: str, device: str, precision: str, batch_size: int, threads: int,
                 fail_marker: str | None):
        self.classifier = SentenceClassifier(bundle_dir, device, precision, batch_size, threads=threads)
        self.provider = self.classifier.providers[0]
        self.fail_marker = fail_marker
        self.batches = 0

    def __call__(self, batch: pa.Table) -> pa.Table:
        self._die_once_for_the_failure_test()
        results = []
        for unit in batch.to_pylist():
            rows = ""
            if unit["status"] == OK:
                rows = json.dumps(analysis_rows(self.classifier.classify_papers(_papers_from_json(unit["papers"]))),
                                  ensure_ascii=False)
            results.append({**{k: unit[k] for k in ("source", "key", "digest", "status", "error")},
                            "rows": rows, "provider": self.provider})
        self.batches += 1
        return pa.Table.from_pylist(results, schema=RESULT_SCHEMA)

    def _die_once_for_the_failure_test(self) -> None:
        """With PCC_RAY_FAIL_ONCE naming a file: the first actor to find it after finishing a batch deletes it and
        ends its process, as a crashed or preempted worker would (only the failure test sets it)."""
        if not self.fail_marker or self.batches == 0:
            return
        try:
            os.remove(self.fail_marker)  # succeeds in one actor only
        except FileNotFoundError:
            return
        os._exit(1)


class _Collector:
    """Takes results as they stream in: each unit once, errors to the errors list, rows to the outputs."""

    def __init__(self, outputs: Outputs, describe):
        self.outputs = outputs
        self.describe = describe
        self.checkers: dict[str, RowChecker] = {}  # source -> the keys taken from it
        self.providers: set[str] = set()
        self.processed = self.skipped = self.duplicates = 0

    def take(self, unit: dict) -> None:
        source, key, status = unit["source"], unit["key"], unit["status"]
        if key:  # a file's key is its path, a table row's its paper_id (a row without one is an error unit)
            verdict = self.checkers.setdefault(source, RowChecker(source)).first_time(key, unit["digest"])
            if verdict == REPEAT:  # a retried unit, or a table row repeating an earlier one word for word
                self.duplicates += 1
                return
            if verdict:
                self.outputs.errors.append({"path": source, "reason": verdict})
                return
        if status == DONE:
            self.skipped += 1
        elif status == ERROR:
            self.outputs.errors.append({"path": source, "reason": unit["error"]})
        else:
            self.outputs.add_rows(json.loads(unit["rows"]))
            self.processed += 1
            if unit["provider"] not in self.providers:
                self.providers.add(unit["provider"])
                self.outputs.classified_by = self.describe(", ".join(sorted(self.providers)))
