"""`pcc export`'s copy of the bundle in BentoML's model store: an identical export reuses the newest version, and
the store keeps the newest few. Run against a real store in a BentoML home of its own."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from serving.model_store import STORE_MODEL, bundle_fingerprint
from tests.conftest import REPO

# Saves each bundle given on the command line in turn, keeping the newest `keep`, and prints what happened.
SAVE_EACH = """
import json, sys
import bentoml
from serving.model_store import STORE_MODEL, save_bundle
for bundle in sys.argv[2:]:
    stored = save_bundle(bundle, keep=int(sys.argv[1]))
    print(json.dumps({"tag": stored.tag, "reused": stored.reused, "removed": stored.removed,
                      "store": sorted(str(m.tag) for m in bentoml.models.list(STORE_MODEL))}))
"""


def save_each(bundles, home, keep: int = 2) -> list[dict]:
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "True"}
    done = subprocess.run([sys.executable, "-c", SAVE_EACH, str(keep), *map(str, bundles)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def variant(bundle, folder, exported_at: str, tokenizer_note: str | None = None):
    """A copy of the bundle exported at another time; with `tokenizer_note`, also with another tokenizer file."""
    shutil.copytree(bundle, folder)
    manifest = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    (folder / "bundle.json").write_text(json.dumps({**manifest, "exported_at": exported_at}), encoding="utf-8")
    if tokenizer_note:
        tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        (folder / "tokenizer.json").write_text(json.dumps({**tokenizer, "note": tokenizer_note}), encoding="utf-8")
    return folder


def test_an_identical_export_reuses_the_tag_and_the_store_keeps_the_newest(tiny_bundle, tmp_path):
    again = variant(tiny_bundle, tmp_path / "again", "2030-01-01T00:00:00+00:00")  # the same model, exported later
    others = [variant(tiny_bundle, tmp_path / f"other{n}", f"2030-01-0{n}T00:00:00+00:00", f"v{n}") for n in (1, 2, 3)]
    first, same, same_later, *newer = save_each([tiny_bundle, tiny_bundle, again, *others], tmp_path / "home")
    assert not first["reused"] and first["store"] == [first["tag"]] and first["tag"].startswith(f"{STORE_MODEL}:")
    assert same == {**first, "reused": True} and same_later == same  # nothing stored twice
    assert [saved["reused"] for saved in newer] == [False, False, False]
    assert len({first["tag"], *(saved["tag"] for saved in newer)}) == 4
    assert newer[0]["removed"] == [] and newer[1]["removed"] == [first["tag"]]
    assert newer[2]["removed"] == [newer[0]["tag"]]
    assert newer[2]["store"] == sorted(saved["tag"] for saved in newer[1:])
    versions = tmp_path / "home" / "models" / STORE_MODEL
    assert sorted(path.name for path in versions.iterdir() if path.is_dir()) == sorted(
        saved["tag"].split(":")[1] for saved in newer[1:])  # the files are gone, not only the entries


def test_the_maps_embedder_travels_with_the_bundle_and_counts_in_its_fingerprint(tiny_bundle, tmp_path):
    rebuilt = variant(tiny_bundle, tmp_path / "rebuilt", "2030-02-01T00:00:00+00:00")
    record = rebuilt / "embedder" / "embedder.json"
    record.write_text(json.dumps({**json.loads(record.read_text(encoding="utf-8")), "prefix": "passage: "}),
                      encoding="utf-8")
    assert bundle_fingerprint(rebuilt) != bundle_fingerprint(tiny_bundle)  # the classifier alone is the same
    first, second = save_each([tiny_bundle, rebuilt], tmp_path / "home")
    assert not second["reused"] and second["tag"] != first["tag"]
    stored = tmp_path / "home" / "models" / STORE_MODEL / second["tag"].split(":")[1] / "embedder"
    assert sorted(path.name for path in stored.iterdir()) == sorted(path.name for path in record.parent.iterdir())
    assert json.loads((stored / "embedder.json").read_text(encoding="utf-8"))["prefix"] == "passage: "
