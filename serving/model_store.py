"""The ONNX bundle as a versioned model in BentoML's model store (`$BENTOML_HOME/models`), so that `bentoml build`
packs exactly one bundle into the Bento and a Bento serves it from any directory or container."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from pcc.errors import UserError

STORE_MODEL = "pcc-classifier"
# bundle.json fields copied into the store model's metadata (`bentoml models get pcc-classifier:<version>`).
_METADATA_FIELDS = ("labels", "max_length", "use_heading", "source_model", "base_model", "opset", "files",
                    "int8_scheme", "exported_at", "checks")


def save_bundle(bundle_dir: str | Path) -> str:
    """Copy a checked bundle into the model store as a new version of `STORE_MODEL`; its tag."""
    import bentoml

    bundle_dir = Path(bundle_dir)
    bundle = json.loads((bundle_dir / "bundle.json").read_text(encoding="utf-8"))
    checks = bundle.get("checks", {})
    labels = {
        "project": "pcc",
        "classes": ",".join(bundle["labels"]),
        "source_run": Path(bundle.get("source_model", "unknown")).name,
        "int8_checks": "passed" if checks.get("int8_passed") else "not passed",
    }
    metadata = _without_nulls({name: bundle[name] for name in _METADATA_FIELDS if name in bundle})
    with bentoml.models.create(STORE_MODEL, labels=labels, metadata=metadata) as model:
        for path in bundle_dir.iterdir():
            if path.is_file():
                shutil.copy2(path, model.path_of(path.name))
            elif path.is_dir() and not path.name.startswith("."):  # the map's embedder/
                shutil.copytree(path, model.path_of(path.name))
    return str(model.tag)


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
