"""The outputs of a corpus map: `map.md` (a report to read), `map.html` (one self-contained page), `themes.csv`
and `assignments.jsonl` (every mapped sentence with its theme), and the JSON the page and `POST /map_files` share.

The page is `serving/static/map.js` and `map.css`, the same script and style the service's page uses for its
map tab, written inline with the map's data, so the file opens anywhere without a server or a network.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from pcc.records import CHINESE_LABELS, atomic_open, write_jsonl
from serving.corpus_map.build import CorpusMap, Theme
from serving.corpus_map.inputs import CATEGORIES
from serving.web import STATIC_DIR

OUTPUTS = ("map.md", "map.html", "themes.csv", "assignments.jsonl")
PAGE_SENTENCES = 200  # sentences of one theme the page carries (all of them are in assignments.jsonl)
REPORT_LINKS = 5  # per problem theme and kind in map.md
HEADINGS = {"problem": "Problems", "cause": "Causes", "countermeasure": "Countermeasures"}


def write_outputs(corpus_map: CorpusMap, out_dir: Path, summary: Path | None = None) -> list[Path]:
    """Write the four outputs into `out_dir` (the Markdown report to `summary` when given); their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [summary or out_dir / OUTPUTS[0], *(out_dir / name for name in OUTPUTS[1:])]
    with atomic_open(paths[0]) as handle:
        handle.write(markdown(corpus_map, out_dir))
    with atomic_open(paths[1]) as handle:
        handle.write(html(page_data(corpus_map)))
    write_themes_csv(corpus_map, paths[2])
    write_jsonl(paths[3], assignment_rows(corpus_map))
    return paths


def describe_method(corpus_map: CorpusMap) -> str:
    settings = corpus_map.settings
    return (f"e5 vectors less {settings.paper_weight:g} of their paper's mean, centred; average-linkage "
            f"agglomerative clustering at cosine distance {settings.threshold:g}; a theme has at least "
            f"{settings.min_size} sentences from {settings.min_papers} papers"
            + (f"; above {settings.max_clustered:,} sentences a category is clustered on a sample and the rest "
               "assigned to the nearest theme" if len(corpus_map.input.sentences) > settings.max_clustered else ""))


def page_data(corpus_map: CorpusMap, per_theme: int = PAGE_SENTENCES) -> dict:
    """What the page shows, as JSON: papers, themes (each with at most `per_theme` sentences, its central ones
    first), the sentences they list, theme links and the within-paper pairs of the listed problem sentences."""
    data, themes = corpus_map.input, corpus_map.themes
    listed: dict[int, int] = {}  # map sentence -> position in the page's sentences

    def shown(sentence: int) -> int:
        return listed.setdefault(sentence, len(listed))

    theme_rows = []
    for theme in themes:
        central = set(theme.central)
        order = theme.central + [s for s in theme.sentences if s not in central]
        theme_rows.append({
            "id": theme.id, "category": theme.category, "number": theme.number, "name": theme.name,
            "keywords": theme.keywords, "size": len(theme.sentences), "papers": theme.papers,
            "years": {str(y): n for y, n in corpus_map.years(theme).items()},
            "central": [shown(s) for s in theme.central], "sentences": [shown(s) for s in order[:per_theme]],
        })
    pairs = []
    for pair in corpus_map.pairs:
        if pair.problem in listed:
            pairs.append({"problem": listed[pair.problem],
                          "cause": None if pair.cause is None else shown(pair.cause),
                          "cause_similarity": pair.cause_similarity,
                          "countermeasure": None if pair.countermeasure is None else shown(pair.countermeasure),
                          "countermeasure_similarity": pair.countermeasure_similarity})
    sentences = [None] * len(listed)
    for sentence, position in listed.items():
        item = data.sentences[sentence]
        similarity = corpus_map.similarity[sentence]
        sentences[position] = {"id": item.id(data.papers), "paper": item.paper, "text": item.text,
                               "category": item.category, "theme": int(corpus_map.theme_of[sentence]),
                               "similarity": None if math.isnan(similarity) else round(float(similarity), 4)}
    return {
        "summary": summary(corpus_map),
        "papers": [{"paper": p.paper, "title": p.title, "source": p.source, "year": p.year} for p in data.papers],
        "themes": theme_rows,
        "sentences": sentences,
        "links": [{"problem": link.problem, "other": link.other, "kind": link.kind, "papers": link.papers,
                   "lift": link.lift, "p_value": round(link.p_value, 4)} for link in corpus_map.links],
        "pairs": pairs,
    }


def summary(corpus_map: CorpusMap) -> dict:
    data = corpus_map.input
    categories = {}
    for category in CATEGORIES:
        themes = [corpus_map.themes[i] for i in corpus_map.themes_of(category, noise=True)]
        categories[category] = {"sentences": sum(len(t.sentences) for t in themes),
                                "themes": sum(t.number is not None for t in themes),
                                "noise": sum(len(t.sentences) for t in themes if t.number is None)}
    return {"files": data.files, "rows": data.rows, "papers": len(data.papers), "unclassified": data.unclassified,
            "categories": categories, "papers_per_year": {str(y): n for y, n in corpus_map.papers_per_year().items()},
            "embedder": corpus_map.embedder, "method": describe_method(corpus_map), "seconds": corpus_map.seconds}


def html(data: dict) -> str:
    """The self-contained page of a map: its data, `map.css` and `map.js` inline."""
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")  # no text can close the script element
    style = (STATIC_DIR / "map.css").read_text("utf-8")
    script = (STATIC_DIR / "map.js").read_text("utf-8")
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PCC corpus map 文献图谱</title>
<style>
{style}</style>
</head>
<body>
<main id="corpus-map" class="corpus-map"></main>
<script id="map-data" type="application/json">{payload}</script>
<script>
{script}
renderMap(document.getElementById("corpus-map"), JSON.parse(document.getElementById("map-data").textContent));
</script>
</body>
</html>
"""


def assignment_rows(corpus_map: CorpusMap) -> list[dict]:
    """Every mapped sentence with its theme; a problem sentence also with its paper's nearest cause and
    countermeasure sentence."""
    data, themes = corpus_map.input, corpus_map.themes
    pairs = {pair.problem: pair for pair in corpus_map.pairs}

    def pointer(sentence: int | None, similarity: float | None) -> dict | None:
        if sentence is None:
            return None
        return {"id": data.sentences[sentence].id(data.papers), "text": data.sentences[sentence].text,
                "similarity": similarity}

    rows = []
    for position, item in enumerate(data.sentences):
        paper, theme = data.papers[item.paper], themes[corpus_map.theme_of[position]]
        similarity = corpus_map.similarity[position]
        row = {"id": item.id(data.papers), "paper": paper.paper, "source": paper.source, "year": paper.year,
               "index": item.index, "text": item.text, "category": item.category, "theme": theme.id,
               "theme_name": theme.name, "similarity": None if math.isnan(similarity) else round(float(similarity), 4)}
        if position in pairs:
            pair = pairs[position]
            row["nearest_cause"] = pointer(pair.cause, pair.cause_similarity)
            row["nearest_countermeasure"] = pointer(pair.countermeasure, pair.countermeasure_similarity)
        rows.append(row)
    return rows


def write_themes_csv(corpus_map: CorpusMap, path: Path) -> None:
    data, themes = corpus_map.input, corpus_map.themes
    linked: dict[int, list[str]] = {}
    for link in corpus_map.links:
        linked.setdefault(link.problem, []).append(f"{themes[link.other].id} (lift {link.lift:g}, "
                                                   f"{len(link.papers)} papers)")
    with atomic_open(path) as handle:
        handle.write("\ufeff")  # spreadsheet programs then read the Chinese as UTF-8
        writer = csv.writer(handle)
        writer.writerow(["theme", "category", "name", "keywords", "sentences", "papers", "paper_share", "years",
                         "central_1", "central_2", "central_3", "linked"])
        for position, theme in enumerate(themes):
            central = [data.sentences[s].text for s in theme.central] + [""] * 3
            writer.writerow([theme.id, theme.category, theme.name, "、".join(theme.keywords), len(theme.sentences),
                             len(theme.papers), round(len(theme.papers) / len(data.papers), 4),
                             "; ".join(f"{y}: {n}" for y, n in corpus_map.years(theme).items()), *central[:3],
                             "; ".join(linked.get(position, []))])


def markdown(corpus_map: CorpusMap, out_dir: Path) -> str:
    data, themes = corpus_map.input, corpus_map.themes
    facts = summary(corpus_map)
    pairs = {pair.problem: pair for pair in corpus_map.pairs}
    links: dict[int, list] = {}
    for link in corpus_map.links:
        links.setdefault(link.problem, []).append(link)
    counts = facts["categories"]
    years = corpus_map.papers_per_year()
    lines = ["# Corpus map: problems, causes and countermeasures", "",
             f"{len(data.papers)} papers, {data.rows:,} sentences read from "
             + ", ".join(f"`{f}`" for f in data.files) + "; mapped: "
             + ", ".join(f"{counts[c]['sentences']:,} {c} sentences" for c in CATEGORIES)
             + f" ({data.unclassified:,} garbled sentences were not classified)."
             + (f" Papers with a year of publication: {sum(years.values())} ("
                + (f"{min(years)}–{max(years)}" if len(years) > 1 else f"{min(years)}") + ")." if years else
                " No paper gives its year of publication."), "",
             f"Sentences embedded by {corpus_map.embedder}; themes: {describe_method(corpus_map)}. Keywords: "
             "c-TF-IDF over jieba words. Stage times: "
             + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in corpus_map.seconds.items())
             + f". The page: `{out_dir / 'map.html'}`; every sentence with its theme: "
             f"`{out_dir / 'assignments.jsonl'}`.", ""]
    if len(data.papers) < 2:
        lines += ["Only one paper: a theme needs no second paper here, and links across papers need at least two "
                  "papers (the nearest cause and countermeasure of each problem sentence are still given).", ""]
    for category in CATEGORIES:
        chosen = corpus_map.themes_of(category)
        heading = f"{HEADINGS[category]} ({CHINESE_LABELS[category]})"
        if not counts[category]["sentences"]:
            lines += [f"## {heading}", "", f"No sentence was classified as a {category}.", ""]
            continue
        lines += [f"## {heading}: {len(chosen)} themes, {counts[category]['noise']:,} of "
                  f"{counts[category]['sentences']:,} sentences in none", ""]
        if not chosen:
            lines += [f"The {category} sentences form no theme: none recurs in enough sentences and papers.", ""]
            continue
        lines += ["| theme | keywords | sentences | papers | years |", "|---|---|---:|---:|---|"]
        for i in chosen:
            theme = themes[i]
            lines.append(f"| {theme.id} | {'、'.join(theme.keywords)} | {len(theme.sentences)} | {len(theme.papers)} "
                         f"({len(theme.papers) / len(data.papers):.0%}) | {_years(corpus_map, theme)} |")
        lines.append("")
        for i in chosen:
            lines += _theme_section(corpus_map, i, pairs, links)
    return "\n".join(lines).rstrip() + "\n"


def _theme_section(corpus_map: CorpusMap, position: int, pairs: dict, links: dict[int, list]) -> list[str]:
    data, themes = corpus_map.input, corpus_map.themes
    theme = themes[position]
    lines = [f"### {theme.id}: {theme.name}", "", "Most central:", ""]
    lines += [f"{n}. {data.sentences[s].text} *({data.papers[data.sentences[s].paper].key})*"
              for n, s in enumerate(theme.central, 1)]
    lines.append("")
    if theme.category != "problem":
        return lines
    for kind in ("cause", "countermeasure"):
        found = [link for link in links.get(position, []) if link.kind == kind]
        if found:
            lines.append(f"Linked {kind}s (papers discussing both, lift over chance): " + "; ".join(
                f"{themes[link.other].id} {themes[link.other].name} (lift {link.lift:.2f}, {len(link.papers)} "
                f"papers, p = {link.p_value:.3f})" for link in found[:REPORT_LINKS]))
        else:
            lines.append(f"Linked {kind}s: none above chance in at least 2 papers.")
        lines.append("")
    examples = [pairs[s] for s in theme.central if s in pairs]
    if examples:
        lines += ["Within its papers, the nearest cause and countermeasure of its central sentences:", ""]
        for pair in examples:
            cause = data.sentences[pair.cause].text if pair.cause is not None else "(no cause in the paper)"
            measure = (data.sentences[pair.countermeasure].text if pair.countermeasure is not None
                       else "(no countermeasure in the paper)")
            lines.append(f"- {data.sentences[pair.problem].text} → cause: {cause} → countermeasure: {measure}")
        lines.append("")
    return lines


def _years(corpus_map: CorpusMap, theme: Theme) -> str:
    years = corpus_map.years(theme)
    return ", ".join(f"{year}: {n}" for year, n in years.items()) or "–"
