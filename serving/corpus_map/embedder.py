"""Sentence vectors for the corpus map: the bundle's `embedder/` (`training.exporters.embedder`) run by ONNX Runtime.

Each sentence gets the embedder's prefix (`query: `: e5's convention for symmetric tasks), is cut to its
`max_length` tokens, and comes back as a unit vector, so a dot product is the cosine similarity. Sentences are
sorted by length before batches are cut (little padding) and each distinct text is embedded once.

On the CPU, `threads` batches run side by side, each on one thread of the one session, rather than each batch
on `threads` threads: those wait for each other at every operator of a small batch. On 2 cores, 1,500 sentences
embedded at 141-148 sentences/s against 131-138 (batch 16, int8). A batch's vectors do not depend on which thread
ran it.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from tokenizers import Tokenizer
from tqdm import tqdm

from pcc.bundle import EMBEDDER_DIR, MODEL_FILES, TOKENIZER_FILE, read_embedder_record
from pcc.errors import UserError
from serving.classifier import CPU_PROVIDER, DEVICES, execution_providers, inference_session, physical_cores


def embedder_dir(bundle_dir: str | Path) -> Path:
    return Path(bundle_dir) / EMBEDDER_DIR


class SentenceEmbedder:
    """Unit vectors of sentences from an embedder folder; `precision` None takes int8 where it passed its checks."""

    def __init__(self, folder: str | Path, precision: str | None = None, device: str = "auto", batch_size: int = 32,
                 threads: int | None = None):
        self.folder = Path(folder)
        record = read_embedder_record(self.folder)
        if record is None:
            raise UserError(f"{self.folder}: no sentence embedder here (the map needs one); run `pcc export "
                            "--embedder-only` to add it to the bundle, or pass the bundle that has it with --bundle")
        if precision is None:
            passed = record.get("checks", {}).get("int8_passed")
            precision = "int8" if passed and (self.folder / MODEL_FILES["int8"]).is_file() else "fp32"
        if precision not in MODEL_FILES:
            raise UserError(f"precision {precision!r}: choose one of {', '.join(MODEL_FILES)}")
        if not (self.folder / MODEL_FILES[precision]).is_file():
            raise UserError(f"{self.folder / MODEL_FILES[precision]}: missing; run `pcc export --embedder-only` again")
        if device not in DEVICES:
            raise UserError(f"device {device!r}: choose one of {', '.join(DEVICES)}")
        if batch_size < 1:
            raise UserError(f"batch size {batch_size}: must be at least 1")
        self.record, self.precision, self.batch_size = record, precision, batch_size
        self.prefix: str = record["prefix"]
        self.dimensions: int = int(record["dimensions"])
        self._pad_id = int(record["pad_token_id"])
        self._tokenizer = Tokenizer.from_file(str(self.folder / TOKENIZER_FILE))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(int(record["max_length"]))
        providers = execution_providers(device)
        on_cpu = providers == [CPU_PROVIDER]
        self._side_by_side = (threads if threads and threads > 0 else physical_cores()) if on_cpu else 1
        self._session = inference_session(self.folder / MODEL_FILES[precision], providers, 1 if on_cpu else threads)
        self.provider: str = self._session.get_providers()[0]

    def describe(self) -> str:
        return f"`{self.folder}` ({self.precision}, {self.provider})"

    def embed(self, texts: Sequence[str], progress: bool = True) -> np.ndarray:
        """Unit vectors (len(texts) x dimensions, float32), in input order."""
        distinct = list(dict.fromkeys(texts))
        vectors = np.zeros((len(distinct), self.dimensions), dtype=np.float32)
        with (tqdm(total=len(distinct), desc="embedding", unit="sentence", disable=None if progress else True) as bar,
              ThreadPoolExecutor(self._side_by_side) as pool):
            def run(batch: list[int], feed: dict) -> None:
                vectors[batch] = self._session.run(None, feed)[0]  # ONNX Runtime lets go of the GIL while it runs
                bar.update(len(batch))

            for done in [pool.submit(run, batch, feed) for batch, feed in self.batches(distinct)]:
                done.result()
        where = {text: row for row, text in enumerate(distinct)}
        return vectors[[where[text] for text in texts]] if len(distinct) < len(texts) else vectors

    def token_counts(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens the embedder reads of each sentence (prefix and special tokens included, after truncation)."""
        return np.array([len(e.ids) for e in self._encode(texts)])

    def batches(self, texts: Sequence[str], batch_size: int | None = None
                ) -> Iterator[tuple[list[int], dict[str, np.ndarray]]]:
        """(positions in `texts`, model inputs) batch by batch, sentences sorted by length."""
        encodings = self._encode(texts)
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        size = batch_size or self.batch_size
        for start in range(0, len(order), size):
            batch = order[start:start + size]
            chosen = [encodings[i] for i in batch]
            width = max(len(e.ids) for e in chosen)
            ids = np.full((len(chosen), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(chosen), width), dtype=np.int64)
            for row, encoding in enumerate(chosen):
                ids[row, :len(encoding.ids)] = encoding.ids
                mask[row, :len(encoding.ids)] = 1
            yield batch, {"input_ids": ids, "attention_mask": mask}

    def _encode(self, texts: Sequence[str]) -> list:
        return self._tokenizer.encode_batch([self.prefix + text for text in texts])
