"""The ONNX bundle as a versioned model in BentoML's model store (`$BENTOML_HOME/models`), so that `bentoml build`
packs exactly one bundle into the Bento and a Bento serves it from any directory or container."""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from pcc.bundle import BUNDLE_FILE, read_bundle
from pcc.errors import UserError

STORE_MODEL = "pcc-classifier"
# bundle.json fields copied into the store model's metadata (`bentoml models get pcc-classifier:<version>`).
_METADATA_FIELDS = ("labels", "max_length", "use_heading", "source_model", "base_model", "opset", "files",
                    "int8_scheme", "exported_at", "checks")
# bundle.json fields that record the export rather than the model (its time; the checks, which hold timings): two
# exports of the same model differ in them and nowhere else.
_EXPORT_RECORD = ("exported_at", "checks")
FINGERPRINT_LABEL = "bundle_sha256"


@dataclass
class Stored:
    tag: str
    reused: bool  # the bundle was identical to the newest stored version, whose tag this is
    removed: list[str]  # older versions deleted to keep the store to its size


def save_bundle(bundle_dir: str | Path, keep: int) -> Stored:
    """Copy a checked bundle into the model store as a new version of `STORE_MODEL`, unless it is identical to the
    newest version (then that version's tag); then delete all but the newest `keep` versions, except those a Bento
    in the local Bento store packs (a Bento refers to its model in the store, it holds no copy)."""
    import bentoml

    bundle_dir = Path(bundle_dir)
    fingerprint = bundle_fingerprint(bundle_dir)
    stored = _stored_versions()
    if stored and stored[0].info.labels.get(FINGERPRINT_LABEL) == fingerprint:
        return Stored(str(stored[0].tag), True, _prune(keep))
    bundle = read_bundle(bundle_dir)
    labels = {
        "project": "pcc",
        "classes": ",".join(bundle.card.labels),
        "source_run": bundle.source_run,
        "int8_checks": "passed" if bundle.int8_passed else "not passed",
        FINGERPRINT_LABEL: fingerprint,
    }
    written = bundle.to_json()
    metadata = _without_nulls({name: written[name] for name in _METADATA_FIELDS})
    with bentoml.models.create(STORE_MODEL, labels=labels, metadata=metadata) as model:
        for path in bundle_dir.iterdir():
            if path.is_file():
                shutil.copy2(path, model.path_of(path.name))
            elif path.is_dir() and not path.name.startswith("."):  # the map's embedder/
                shutil.copytree(path, model.path_of(path.name))
    return Stored(str(model.tag), False, _prune(keep))


def bundle_fingerprint(bundle_dir: Path) -> str:
    """SHA-256 of the bundle's files, those of its embedder/ included (what `save_bundle` copies), bundle.json
    without the record of the export (`_EXPORT_RECORD`)."""
    digest = hashlib.sha256()
    files = [path for path in bundle_dir.rglob("*") if path.is_file()
             and (path.parent == bundle_dir or not path.relative_to(bundle_dir).parts[0].startswith("."))]
    for path in sorted(files):
        digest.update(path.relative_to(bundle_dir).as_posix().encode() + b"\0")
        if path == bundle_dir / BUNDLE_FILE:
            bundle = json.loads(path.read_text(encoding="utf-8"))
            digest.update(json.dumps({key: value for key, value in bundle.items() if key not in _EXPORT_RECORD},
                                     sort_keys=True).encode())
        else:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def _stored_versions() -> list:
    """The store's versions of `STORE_MODEL`, newest first."""
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        models = bentoml.models.list(STORE_MODEL)
    except NotFound:
        return []
    return sorted(models, key=lambda model: model.creation_time, reverse=True)


def _prune(keep: int) -> list[str]:
    """Delete the versions after the newest `keep` that no Bento packs; their tags."""
    import bentoml

    packed = {str(model.tag) for bento in bentoml.bentos.list() for model in bento.info.all_models}
    removed = [str(model.tag) for model in _stored_versions()[keep:] if str(model.tag) not in packed]
    for tag in removed:
        bentoml.models.delete(tag)
    return removed


def _without_nulls(value):
    """The value with its null entries left out: BentoML's metadata takes no None."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value if item is not None]
    return value


def stored_bundle_dir(tag: str) -> Path:
    """The directory of a store model (e.g. the version a Bento packs), which is a bundle."""
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        return Path(bentoml.models.get(tag).path)
    except NotFound:
        raise UserError(f"model {tag} is not in the BentoML model store ($BENTOML_HOME/models); run `pcc export` "
                        "to save one, or set PCC_BUNDLE to a bundle directory") from None
