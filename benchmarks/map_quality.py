"""The corpus map against the theme gold: its themes (adjusted Rand index and NMI per category and annotator) beside
a TF-IDF + k-means baseline, BERTopic's defaults and the other candidates, and its problem -> cause links.

The theme gold (data/gold/themes_a.jsonl, themes_b.jsonl) gives each readable sentence of the seed corpus and of
data/theme_papers a category and, in a category, a theme name from each of two annotators; a sentence that fits
no recurring theme (零散) is a theme of its own, and so is each sentence a method leaves in its noise bucket.

- Themes: each method clusters the sentences an annotator put in a category (so classification errors do not
  count) and is scored against that annotator; the two annotators against each other (on the sentences both put
  in the category) are the ceiling. The same e5 vectors (the bundle's embedder, as `pcc map` embeds) feed every
  method but the TF-IDF baseline, which reads jieba words. k-means picks k by silhouette (it is never told the
  number of gold themes); BERTopic runs with its defaults (UMAP to 5 dimensions over 15 neighbours, HDBSCAN with
  clusters of 10 or more, c-TF-IDF) on the precomputed vectors, with `language="multilingual"` (its English
  default strips every Chinese character before naming) and over --seeds UMAP seeds.
- End to end: `pcc map` as a user runs it (the bundle's classifier labels the papers, then the map), scored on the
  gold sentences it put in the annotator's category.
- Links: for each cause -> problem pair the annotators marked within a theme paper, whether the map's nearest
  cause of the problem sentence is that cause (and whether it is among the nearest three), against the nearest
  cause in the text and a random one; and whether the two sentences' themes are linked across papers.
- Cost: each method's wall time on the gold sets and on 5,000 sentences (the real vectors repeated with a little
  noise), and what it needs installed.

    python benchmarks/map_quality.py [--bundle DIR] [--gold-dir data/gold] [--seeds 3]

Writes reports/corpus_map_quality.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pcc.documents import load_document  # noqa: E402
from pcc.paths import REPORTS  # noqa: E402
from pcc.readers import find_papers  # noqa: E402
from pcc.records import read_jsonl  # noqa: E402
from pcc.structure import without_enumeration  # noqa: E402
from serving.classifier import SentenceClassifier  # noqa: E402
from serving.corpus_map.build import build_map  # noqa: E402
from serving.corpus_map.embedder import SentenceEmbedder, embedder_dir  # noqa: E402
from serving.corpus_map.inputs import CATEGORIES, from_analyses  # noqa: E402
from serving.corpus_map.naming import words  # noqa: E402
from serving.corpus_map.themes import NOISE, ThemeSettings, centred, find_themes  # noqa: E402

ANNOTATORS = ("a", "b")
SCATTERED = "零散"  # the gold's name for a sentence of no recurring theme
SHIPPED = "pcc map (shipped)"
# name -> (precision, prefix (None: the embedder's own, `query: `), list markers stripped)
EMBEDDINGS = {"int8, `query: `, list markers stripped (shipped)": ("int8", None, True),
              "fp32, `query: `, list markers stripped": ("fp32", None, True),
              "int8, `query: `, list markers kept": ("int8", None, False),
              "int8, `passage: `, list markers stripped": ("int8", "passage: ", True),
              "int8, no prefix, list markers stripped": ("int8", "", True)}
SHIPPED_EMBEDDING = next(iter(EMBEDDINGS))
SCALE = 5000


def singletons(labels) -> list:
    """Labels with every noise sentence (and every 零散 one) a cluster of its own."""
    out = []
    for number, label in enumerate(labels):
        out.append(("single", number) if label is None or label == NOISE or label == SCATTERED else label)
    return [str(label) for label in out]


def scores(gold_labels, found) -> tuple[float, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    truth, guess = singletons(gold_labels), singletons(found)
    return adjusted_rand_score(truth, guess), normalized_mutual_info_score(truth, guess)


# --- the methods: (vectors, papers, texts) -> labels with NOISE for noise ---------------------------------

def shipped(vectors, papers, texts):
    return find_themes(vectors, papers)[0]


def without_paper_share(vectors, papers, texts):
    return find_themes(vectors, papers, ThemeSettings(paper_weight=0.0))[0]


def hdbscan_same_vectors(vectors, papers, texts):
    from sklearn.cluster import HDBSCAN

    return HDBSCAN(min_cluster_size=3, copy=True).fit_predict(centred(vectors, papers, ThemeSettings().paper_weight))


def tfidf_kmeans(vectors, papers, texts):
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import silhouette_score

    matrix = TfidfVectorizer(analyzer=lambda words_of: words_of).fit_transform(words(texts))
    best = None
    for k in range(2, min(25, len(texts) // 2) + 1):
        labels = KMeans(k, n_init=10, random_state=0).fit_predict(matrix)
        if len(set(labels)) < 2:
            continue
        score = silhouette_score(matrix, labels, metric="cosine")
        if best is None or score > best[0]:
            best = (score, labels)
    return best[1]


def bertopic_defaults(seed: int):
    def run(vectors, papers, texts):
        from bertopic import BERTopic
        from sklearn.feature_extraction.text import CountVectorizer
        from umap import UMAP

        model = BERTopic(language="multilingual",
                         umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                                         low_memory=False, random_state=seed),
                         vectorizer_model=CountVectorizer(analyzer=lambda text: words([text])[0]))
        topics, _ = model.fit_transform(list(texts), embeddings=vectors)
        return np.array(topics)
    return run


def methods(seeds: int) -> dict[str, list]:
    chosen = {SHIPPED: [shipped], "pcc map without the paper share (paper_weight 0)": [without_paper_share],
              "HDBSCAN (min 3) on the shipped vectors": [hdbscan_same_vectors],
              "TF-IDF (jieba words) + k-means, k by silhouette": [tfidf_kmeans]}
    try:
        import bertopic  # noqa: F401
        chosen[f"BERTopic defaults ({seeds} UMAP seeds)"] = [bertopic_defaults(seed) for seed in range(seeds)]
    except ImportError:
        print("bertopic is not installed (pip install -e '.[compare]'): its row is left out", file=sys.stderr)
    return chosen


# --- measuring ---------------------------------------------------------------------------------------------

def theme_scores(gold: dict, vectors: dict, runs: dict) -> dict:
    """method -> (annotator, category) -> (ARI, NMI, themes, noise share, seconds), averaged over its runs."""
    table = {}
    for name, variants in runs.items():
        for annotator in ANNOTATORS:
            for category in CATEGORIES:
                rows = [r for r in gold[annotator] if r["category"] == category]
                matrix = np.stack([vectors[r["text"]] for r in rows])
                papers = np.array([r["paper_id"] for r in rows])
                texts = [r["text"] for r in rows]
                results = []
                for run in variants:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        started = time.perf_counter()
                        labels = np.asarray(run(matrix, papers, texts))
                        seconds = time.perf_counter() - started
                    ari, nmi = scores([r["theme"] for r in rows], labels)
                    results.append((ari, nmi, len(set(labels) - {NOISE}), float(np.mean(labels == NOISE)), seconds))
                table.setdefault(name, {})[(annotator, category)] = tuple(np.mean(results, axis=0))
                table[name][(annotator, category) + ("sd",)] = float(np.std([r[0] for r in results]))
    return table


def ceiling(gold: dict) -> dict:
    """(ARI, NMI, sentences) of annotator a against b on the sentences both put in each category."""
    by_id = {r["id"]: r for r in gold["b"]}
    result = {}
    for category in CATEGORIES:
        both = [(r["theme"], by_id[r["id"]]["theme"]) for r in gold["a"]
                if r["category"] == category and by_id.get(r["id"], {}).get("category") == category]
        ari, nmi = scores([a for a, _ in both], [b for _, b in both])
        result[category] = (ari, nmi, len(both))
    return result


def end_to_end(gold: dict, corpus_map) -> dict:
    """(annotator, category) -> (ARI, NMI, gold sentences the map put in that category, of all)."""
    data = corpus_map.input
    where = {s.id(data.papers): position for position, s in enumerate(data.sentences)}
    result = {}
    for annotator in ANNOTATORS:
        for category in CATEGORIES:
            rows = [r for r in gold[annotator] if r["category"] == category]
            found = [r for r in rows if r["id"] in where and data.sentences[where[r["id"]]].category == category]
            labels = []
            for r in found:
                theme = corpus_map.themes[corpus_map.theme_of[where[r["id"]]]]
                labels.append(NOISE if theme.number is None else theme.id)
            ari, nmi = scores([r["theme"] for r in found], labels)
            result[(annotator, category)] = (ari, nmi, len(found), len(rows))
    return result


def link_scores(gold: dict, links: dict, vectors: dict, corpus_map) -> dict:
    """Per annotator: the marked cause -> problem pairs found by the nearest cause (cosine), by the nearest in the
    text and at random; end to end by the map's own pairs and theme links."""
    random = np.random.default_rng(0)
    result = {}
    data = corpus_map.input
    where = {s.id(data.papers): position for position, s in enumerate(data.sentences)}
    nearest_cause = {data.sentences[p.problem].id(data.papers): data.sentences[p.cause].id(data.papers)
                     for p in corpus_map.pairs if p.cause is not None}
    linked = {(link.problem, link.other) for link in corpus_map.links if link.kind == "cause"}
    themed_kinds = [[i for i, t in enumerate(corpus_map.themes) if t.category == kind and t.number is not None]
                    for kind in ("problem", "cause")]
    base_rate = len(linked) / max(len(themed_kinds[0]) * len(themed_kinds[1]), 1)  # of all problem x cause theme pairs
    for annotator in ANNOTATORS:
        rows = {r["id"]: r for r in gold[annotator]}
        causes_of = defaultdict(list)
        for r in gold[annotator]:
            if r["category"] == "cause":
                causes_of[r["paper_id"]].append(r["id"])
        marked = defaultdict(set)
        for pair in links[annotator]:
            marked[pair["problem_id"]].add(pair["cause_id"])
        counts = {name: Counter() for name in ("cosine", "position", "random")}
        for problem, causes in marked.items():
            candidates = causes_of[rows[problem]["paper_id"]] if problem in rows else []
            if not candidates or rows[problem]["category"] != "problem":
                continue
            position = int(problem.rsplit("/", 1)[1])
            orders = {"cosine": sorted(candidates, key=lambda c: -float(vectors[rows[problem]["text"]]
                                                                        @ vectors[rows[c]["text"]])),
                      "position": sorted(candidates, key=lambda c: abs(int(c.rsplit("/", 1)[1]) - position)),
                      "random": list(random.permutation(candidates))}
            for name, order in orders.items():
                counts[name]["pairs"] += len(causes)
                counts[name]["at 1"] += sum(order[0] == c for c in causes)
                counts[name]["at 3"] += sum(c in order[:3] for c in causes)
                counts[name]["problems"] += 1
                counts[name]["right first"] += order[0] in causes
        pairs = [(p, c) for pair in links[annotator] for p, c in [(pair["problem_id"], pair["cause_id"])]]
        mapped = [(p, c) for p, c in pairs if p in where and c in where
                  and data.sentences[where[p]].category == "problem" and data.sentences[where[c]].category == "cause"]
        themed = [(corpus_map.theme_of[where[p]], corpus_map.theme_of[where[c]]) for p, c in mapped]
        themed = [(tp, tc) for tp, tc in themed
                  if corpus_map.themes[tp].number is not None and corpus_map.themes[tc].number is not None]
        result[annotator] = {
            "within": counts, "pairs": len(pairs), "mapped": len(mapped), "base_rate": base_rate,
            "map_nearest": sum(nearest_cause.get(p) == c for p, c in mapped),
            "themed": len(themed), "theme_linked": sum(pair in linked for pair in themed),
        }
    return result


def cost_at_scale(vectors: dict, runs: dict) -> dict:
    """Seconds of one run of each method on SCALE sentences: the given sentences' vectors repeated with a little
    noise, in papers of 20 sentences."""
    random = np.random.default_rng(0)
    known = list(vectors)
    picked = random.integers(0, len(known), SCALE)
    texts = [known[i] for i in picked]
    chosen = np.stack([vectors[text] for text in texts]) + random.normal(0, 0.02, (SCALE, len(vectors[known[0]])))
    chosen = (chosen / np.linalg.norm(chosen, axis=1, keepdims=True)).astype(np.float32)
    papers = np.arange(SCALE) // 20
    result = {}
    for name, variants in runs.items():
        if "TF-IDF" in name:
            continue  # its input is text; at this size its k search alone runs for many minutes
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            started = time.perf_counter()
            variants[0](chosen, papers, texts)
            result[name] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path(os.environ.get("PCC_BUNDLE") or REPO / "models/latest/onnx"))
    parser.add_argument("--gold-dir", type=Path, default=REPO / "data/gold")
    parser.add_argument("--papers", type=Path, nargs="+", default=[REPO / "data/raw", REPO / "data/theme_papers"])
    parser.add_argument("--seeds", type=int, default=3, help="UMAP seeds of BERTopic's runs")
    parser.add_argument("--out", type=Path, default=REPO / REPORTS / "corpus_map_quality.md")
    args = parser.parse_args()

    gold = {a: list(read_jsonl(args.gold_dir / f"themes_{a}.jsonl")) for a in ANNOTATORS}
    links = {a: list(read_jsonl(args.gold_dir / f"theme_links_{a}.jsonl")) for a in ANNOTATORS}
    texts = sorted({r["text"] for a in ANNOTATORS for r in gold[a]})
    folder = embedder_dir(args.bundle)
    vectors = {}
    for name, (precision, prefix, strip) in EMBEDDINGS.items():
        embedder = SentenceEmbedder(folder, precision=precision)
        embedder.prefix = embedder.prefix if prefix is None else prefix
        vectors[name] = dict(zip(texts, embedder.embed([without_enumeration(t) if strip else t for t in texts])))
    runs = methods(args.seeds)
    print("themes ...", file=sys.stderr)
    table = theme_scores(gold, vectors[SHIPPED_EMBEDDING], runs)
    choices = {name: theme_scores(gold, vectors[name], {SHIPPED: runs[SHIPPED]})[SHIPPED] for name in EMBEDDINGS}

    print("end to end ...", file=sys.stderr)
    files, _ = find_papers([str(p) for p in args.papers])
    papers = [paper for path in files for paper in load_document(path)]
    classifier = SentenceClassifier(args.bundle)
    embedder = SentenceEmbedder(folder)
    corpus_map = build_map(from_analyses(classifier.classify_papers(papers)),
                           lambda batch: embedder.embed(batch, progress=False), embedder.describe())
    whole = end_to_end(gold, corpus_map)
    linking = link_scores(gold, links, vectors[SHIPPED_EMBEDDING], corpus_map)
    print("cost ...", file=sys.stderr)
    scale = cost_at_scale(vectors[SHIPPED_EMBEDDING], runs)
    report = render(args, gold, table, choices, ceiling(gold), whole, linking, scale, runs, corpus_map)
    args.out.write_text(report, encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


# --- the report -------------------------------------------------------------------------------------------

def shown(path: Path) -> str:
    """A path as the report names it: from the repository's root when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def render(args, gold, table, choices, top, whole, linking, scale, runs, corpus_map) -> str:
    counts = {(a, c): sum(r["category"] == c for r in gold[a]) for a in ANNOTATORS for c in CATEGORIES}
    themes = {(a, c): len({r["theme"] for r in gold[a] if r["category"] == c} - {SCATTERED})
              for a in ANNOTATORS for c in CATEGORIES}
    columns = [(a, c) for a in ANNOTATORS for c in CATEGORIES]

    def mean(values, index):
        return float(np.mean([values[key][index] for key in columns]))

    lines = ["# Corpus map: quality against the theme gold", "",
             f"`python benchmarks/map_quality.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{platform.machine()} with {os.cpu_count()} CPUs, Python {platform.python_version()}; embedder "
             f"`{shown(embedder_dir(args.bundle))}` (int8 unless said), gold `{shown(args.gold_dir)}`.", "",
             "The gold: two annotators, working apart, gave each readable sentence of the seed corpus and "
             "`data/theme_papers` a category and a theme name. Sentences per category (themes, 零散 not counted): "
             + "; ".join(f"{a}: " + ", ".join(f"{c} {counts[(a, c)]} ({themes[(a, c)]})" for c in CATEGORIES)
                         for a in ANNOTATORS) + ". A 零散 sentence and a sentence left in a noise bucket each count "
             "as a cluster of their own.", "",
             "## Themes: each method on the sentences an annotator put in a category", "",
             "ARI (adjusted Rand index) / NMI per annotator and category; the mean ARI and NMI over the six; "
             "themes found (mean over the six) and the share left as noise; wall time over the six sets.", "",
             "| method | " + " | ".join(f"{a}: {c}" for a, c in columns)
             + " | mean ARI | mean NMI | themes | noise | seconds |",
             "|---|" + "---:|" * (len(columns) + 5)]
    for name, values in table.items():
        cells = [f"{values[key][0]:.3f} / {values[key][1]:.3f}" for key in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | **{mean(values, 0):.3f}** | {mean(values, 1):.3f} | "
                     f"{mean(values, 2):.1f} | {mean(values, 3):.0%} | {sum(values[k][4] for k in columns):.1f} |")
    lines.append("| annotator a against b (ceiling; sentences both put in the category) | "
                 + " | ".join(f"{top[c][0]:.3f} / {top[c][1]:.3f}" if a == "a" else "" for a, c in columns)
                 + f" | {np.mean([top[c][0] for c in CATEGORIES]):.3f} | {np.mean([top[c][1] for c in CATEGORIES]):.3f}"
                   " | | | |")
    bertopic = [name for name in table if name.startswith("BERTopic")]
    if bertopic:
        spread = max(table[bertopic[0]][key + ("sd",)] for key in columns)
        lines += ["", f"BERTopic's ARI varies with the UMAP seed by up to {spread:.3f} (standard deviation over "
                  f"{args.seeds} seeds) in a cell; the table gives its mean."]
    best = max(table, key=lambda name: mean(table[name], 0))
    lines += ["", f"Best mean ARI: {best} ({mean(table[best], 0):.3f}); shipped: {mean(table[SHIPPED], 0):.3f}.", "",
              "### How the sentences are embedded", "",
              "The shipped clustering on vectors made other ways: mean ARI / NMI over the six sets.", "",
              "| embedding | mean ARI | mean NMI |", "|---|---:|---:|"]
    lines += [f"| {name} | {mean(values, 0):.3f} | {mean(values, 1):.3f} |" for name, values in choices.items()]
    lines.append("")

    lines += ["## End to end: `pcc map` after the classifier", "",
              f"The bundle's classifier labelled every sentence of {len(corpus_map.input.papers)} papers "
              f"(`{'`, `'.join(shown(p) for p in args.papers)}`), headings included, and the map ran as `pcc map` runs; "
              "scored on the gold sentences the classifier put in the annotator's category.", "",
              "| annotator | category | ARI | NMI | gold sentences mapped in it |", "|---|---|---:|---:|---:|"]
    for (a, c), (ari, nmi, found, total) in whole.items():
        lines.append(f"| {a} | {c} | {ari:.3f} | {nmi:.3f} | {found} of {total} |")
    lines += ["", "## Links: the cause -> problem pairs the annotators marked", "",
              "Within a theme paper, each annotator marked the cause sentences that explain each problem sentence. "
              "On the gold categories: how often the nearest cause of a problem sentence (cosine of e5 vectors, as "
              "the map pairs them) is a marked one, against the nearest cause in the text and a random cause of the "
              "paper.", "",
              "| annotator | pairing | marked pairs found first (recall@1) | found among the nearest 3 (recall@3) "
              "| problems whose first cause is marked |", "|---|---|---:|---:|---:|"]
    for a in ANNOTATORS:
        for name, counted in linking[a]["within"].items():
            lines.append(f"| {a} | {name} | {counted['at 1']}/{counted['pairs']} ({counted['at 1'] / counted['pairs']:.0%})"
                         f" | {counted['at 3']}/{counted['pairs']} ({counted['at 3'] / counted['pairs']:.0%}) | "
                         f"{counted['right first']}/{counted['problems']} "
                         f"({counted['right first'] / counted['problems']:.0%}) |")
    lines += ["", "End to end (`pcc map`'s own output): of the marked pairs whose problem and cause the classifier "
              "labelled so, the share where the map's nearest cause of the problem is the marked cause; of those "
              "whose two sentences are both in a theme, the share whose problem theme is linked to the cause theme "
              "across papers (lift above 1 in 2 or more papers).", ""]
    for a in ANNOTATORS:
        found = linking[a]
        lines.append(f"- annotator {a}: {found['pairs']} marked pairs, {found['mapped']} labelled problem and cause; "
                     f"nearest cause = the marked one for {found['map_nearest']} ({found['map_nearest'] / max(found['mapped'], 1):.0%}); "
                     f"{found['themed']} in two themes, {found['theme_linked']} of them linked "
                     f"({found['theme_linked'] / max(found['themed'], 1):.0%}; of all pairs of a problem theme and a "
                     f"cause theme, {found['base_rate']:.0%} are linked).")
    lines += ["", f"## Cost: one run on {SCALE:,} sentences", "",
              "The gold vectors repeated with a little noise (Gaussian, sd 0.02 per dimension), in papers of 20 "
              "sentences; wall time of the clustering alone (the TF-IDF baseline is left out: its input is text).", "",
              "| method | seconds | needs |", "|---|---:|---|"]
    needs = {SHIPPED: "scikit-learn", "BERTopic": "bertopic, umap-learn (numba), hdbscan, sentence-transformers"}
    for name, seconds in scale.items():
        lines.append(f"| {name} | {seconds:.1f} | "
                     f"{next((v for k, v in needs.items() if name.startswith(k)), 'scikit-learn')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
