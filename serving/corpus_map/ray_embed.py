"""`pcc map --engine ray`: the map's sentences embedded by a pool of Ray actors, as `pcc predict --engine ray`
classifies (`serving.ray_predict`: the same options, the same way of starting or joining Ray).

    from_items(sentences, sorted by length) ─ map_batches(_Embedder, actor pool of --workers) ─ vectors in order

Each actor loads the embedder once (CUDA when given a GPU) and embeds a chunk of `CHUNK` sentences per call;
neighbouring chunks hold sentences of similar length, so batches carry little padding. Only the embedding runs
on Ray: clustering, naming and linking need every vector at once and run in the command's process.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pcc.bundle import read_embedder_record
from pcc.errors import UserError
from serving.corpus_map.embedder import SentenceEmbedder

try:
    import ray
    import ray.data
except ImportError as missing:
    raise UserError(f"the Ray engine needs Ray Data ({missing.name} is not installed): pip install -e '.[ray]', "
                    "or use --engine local") from None

from serving.ray_predict import ActorPool, job_failed, worker_options

CHUNK = 256  # sentences per actor call


class RayEmbedder:
    """`SentenceEmbedder`'s `embed` and `describe` on Ray. The constructor checks the options and the embedder,
    then starts or joins Ray and checks that it can hold the workers."""

    def __init__(self, folder: Path, args: argparse.Namespace):
        workers, cpus, gpus, device = worker_options(args)
        record = read_embedder_record(folder)
        if record is None:
            SentenceEmbedder(folder)  # says what is missing and what to do
        precision = args.precision or ("int8" if record.get("checks", {}).get("int8_passed") else "fp32")
        self.options = {"folder": str(Path(folder).resolve()), "precision": precision, "device": device,
                        "batch_size": args.batch_size, "threads": max(1, int(cpus))}
        self.description = (f"`{folder}` ({precision}, Ray: {workers} workers × {cpus:g} CPU"
                            + (f", {gpus:g} GPU" if gpus else "") + ")")
        self.pool = ActorPool(args.address, workers, cpus, gpus)

    def describe(self) -> str:
        return self.description

    def embed(self, texts: list[str], progress: bool = True) -> np.ndarray:
        distinct = sorted(dict.fromkeys(texts), key=len)
        vectors = None
        items = [{"position": i, "text": text} for i, text in enumerate(distinct)]
        try:
            chunk = max(1, min(CHUNK, math.ceil(len(items) / self.pool.workers)))  # a chunk for every worker
            items = ray.data.from_items(items, override_num_blocks=math.ceil(len(items) / chunk))
            results = self.pool.map(items, _Embedder, self.options, chunk, "numpy")
            shown = None if progress else True
            with tqdm(total=len(distinct), desc="embedding", unit="sentence", disable=shown) as bar:
                for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
                    if vectors is None:
                        vectors = np.zeros((len(distinct), batch["vector"].shape[1]), dtype=np.float32)
                    vectors[batch["position"]] = batch["vector"]
                    bar.update(len(batch["position"]))
        except ray.exceptions.RayError as error:
            raise job_failed(error, "run again, or use --engine local") from None
        where = {text: row for row, text in enumerate(distinct)}
        return vectors[[where[text] for text in texts]]

    def close(self) -> None:
        self.pool.close()


class _Embedder:
    """Embedding actor: loads the embedder once and turns chunks of sentences into vectors."""

    def __init__(self, folder: str, precision: str, device: str, batch_size: int, threads: int):
        self.embedder = SentenceEmbedder(folder, precision, device, batch_size, threads=threads)

    def __call__(self, batch: dict) -> dict:
        return {"position": batch["position"], "vector": self.embedder.embed(list(batch["text"]), progress=False)}
