"use strict";

// The corpus map (`pcc map`'s map.html and the page's map tab): themes by category as bars, a theme's sentences
// and links on click, and the problem -> cause / countermeasure links. `renderMap(container, data)` draws the
// JSON of serving/corpus_map/render.py's `page_data` into `container`.
(function () {
  const CATEGORY_NAMES = { problem: "问题 problem", cause: "原因 cause", countermeasure: "对策 countermeasure" };
  const KINDS = ["cause", "countermeasure"];

  function node(tag, attributes = {}, text = null) {
    const made = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
    if (text !== null) made.textContent = text;
    return made;
  }

  function paperLabel(data, index) {
    const paper = data.papers[index];
    return paper.year ? `${paper.title} (${paper.year})` : paper.title;
  }

  function themeCount(count) {
    return `${count} theme${count === 1 ? "" : "s"}`;
  }

  function summaryLine(data) {
    const s = data.summary;
    const counts = Object.entries(s.categories).map(([c, n]) => `${n.sentences} ${c} (${themeCount(n.themes)})`);
    const years = Object.keys(s.papers_per_year);
    const span = years.length ? `, ${years[0]}–${years[years.length - 1]}` : "";
    return `${s.papers} papers${span}, ${s.rows} sentences; mapped ${counts.join(", ")}.`;
  }

  function themeButton(data, theme, position, largest, select) {
    const item = node("li");
    const kind = theme.number === null ? "noise" : theme.category;
    const button = node("button", { type: "button", class: `map-theme ${kind}`, "data-theme": theme.id,
                                    "aria-pressed": "false" });
    const bar = node("span", { class: "map-bar", "aria-hidden": "true" });
    bar.style.width = `${Math.max(3, (100 * theme.size) / largest)}%`;
    const label = node("span", { class: "map-label" });
    label.append(node("strong", {}, theme.number === null ? "noise 未归类" : `${theme.number}. ${theme.name}`),
                 node("span", { class: "map-count" },
                      ` ${theme.size} sentences · ${theme.papers.length}/${data.papers.length} papers`));
    button.append(bar, label);
    button.addEventListener("click", () => select(position));
    item.append(button);
    return item;
  }

  function sentenceItem(data, position, pairOf) {
    const sentence = data.sentences[position];
    const item = node("li", { class: "map-sentence", "data-id": sentence.id });
    item.append(node("span", { class: "map-text" }, sentence.text),
                node("span", { class: "map-paper" }, ` — ${paperLabel(data, sentence.paper)}`));
    const pair = pairOf && pairOf.get(position);
    if (pair) {
      const found = node("div", { class: "map-pair" });
      for (const kind of KINDS) {
        if (pair[kind] === null) continue;
        found.append(node("div", { class: `map-pair-${kind}` },
                          `${CATEGORY_NAMES[kind]}: ${data.sentences[pair[kind]].text} (${pair[`${kind}_similarity`].toFixed(2)})`));
      }
      item.append(found);
    }
    return item;
  }

  function linkList(data, links, other) {
    const list = node("ul", { class: "map-links" });
    for (const link of links) {
      const theme = data.themes[link[other]];
      const papers = link.papers.map((p) => data.papers[p].title).join("；");
      list.append(node("li", { class: `map-link ${theme.category}`, "data-theme": theme.id },
                       `${theme.id} ${theme.name}: lift ${link.lift.toFixed(2)}, ${link.papers.length} papers (${papers})`));
    }
    return list;
  }

  function yearBars(years) {
    const entries = Object.entries(years);
    const chart = node("div", { class: "map-years", "aria-label": "papers per year" });
    const most = Math.max(1, ...entries.map(([, n]) => n));
    for (const [year, count] of entries) {
      const column = node("span", { class: "map-year", title: `${year}: ${count} papers` });
      const bar = node("span", { class: "map-year-bar" });
      bar.style.height = `${(100 * count) / most}%`;
      column.append(bar, node("span", { class: "map-year-label" }, year));
      chart.append(column);
    }
    return chart;
  }

  function detail(data, position, pairOf) {
    const theme = data.themes[position];
    const panel = node("section", { id: "theme-detail", "data-theme": theme.id, "aria-live": "polite" });
    panel.append(node("h3", { class: theme.category }, `${theme.id}: ${theme.number === null ? "noise 未归类" : theme.name}`));
    panel.append(node("p", { class: "map-facts" }, `${theme.size} sentences in ${theme.papers.length} of ${data.papers.length} papers`
      + (theme.keywords.length ? ` · keywords 关键词: ${theme.keywords.join("、")}` : "")));
    if (Object.keys(theme.years).length) panel.append(yearBars(theme.years));
    if (theme.category === "problem") {
      for (const kind of KINDS) {
        const links = data.links.filter((l) => l.problem === position && l.kind === kind);
        panel.append(node("h4", {}, `Linked ${kind}s 相关${kind === "cause" ? "原因" : "对策"}`));
        panel.append(links.length ? linkList(data, links, "other") : node("p", { class: "map-empty" }, "none above chance"));
      }
    } else if (theme.number !== null) {
      const links = data.links.filter((l) => l.other === position);
      panel.append(node("h4", {}, "Problems it is linked to 相关问题"));
      panel.append(links.length ? linkList(data, links, "problem") : node("p", { class: "map-empty" }, "none above chance"));
    }
    const shown = theme.sentences.length < theme.size ? ` (${theme.sentences.length} of ${theme.size} shown)` : "";
    panel.append(node("h4", {}, `Sentences 句子${shown}`));
    const list = node("ol", { class: "map-sentences" });
    for (const sentence of theme.sentences) list.append(sentenceItem(data, sentence, theme.category === "problem" ? pairOf : null));
    panel.append(list);
    return panel;
  }

  function linkTable(data, select) {
    const section = node("section", { id: "map-link-table" });
    section.append(node("h2", {}, "Problem → cause / countermeasure 问题 → 原因 / 对策"));
    if (!data.links.length) {
      section.append(node("p", { class: "map-empty" }, data.papers.length < 2
        ? "Links across papers need at least two papers." : "No problem theme shares papers with a cause or countermeasure theme more often than chance."));
      return section;
    }
    const table = node("table");
    const head = node("tr");
    for (const title of ["problem 问题", "linked theme", "lift", "papers"]) head.append(node("th", {}, title));
    table.append(head);
    for (const link of data.links) {
      const row = node("tr", { class: `map-link-row ${link.kind}` });
      const problem = node("td");
      const open = node("button", { type: "button", class: "map-open" }, data.themes[link.problem].name);
      open.addEventListener("click", () => select(link.problem));
      problem.append(open);
      row.append(problem, node("td", { class: link.kind }, `${CATEGORY_NAMES[link.kind]}: ${data.themes[link.other].name}`),
                 node("td", {}, link.lift.toFixed(2)), node("td", {}, String(link.papers.length)));
      table.append(row);
    }
    section.append(table);
    return section;
  }

  window.renderMap = function renderMap(container, data) {
    container.replaceChildren();
    const header = node("header", { class: "map-header" });
    header.append(node("h1", {}, "Corpus map 文献图谱"), node("p", { id: "map-summary" }, summaryLine(data)));
    const columns = node("div", { class: "map-columns" });
    const detailSlot = node("div", { id: "theme-detail-slot" });
    const buttons = [];
    const pairOf = new Map(data.pairs.map((pair) => [pair.problem, pair]));
    const select = (position) => {
      for (const button of buttons) button.setAttribute("aria-pressed", String(button.dataset.theme === data.themes[position].id));
      detailSlot.replaceChildren(detail(data, position, pairOf));
      detailSlot.scrollIntoView({ block: "nearest" });
    };
    for (const category of Object.keys(CATEGORY_NAMES)) {
      const section = node("section", { class: "map-category", "data-category": category });
      const counts = data.summary.categories[category];
      section.append(node("h2", { class: category }, `${CATEGORY_NAMES[category]}: ${themeCount(counts.themes)}`));
      const positions = data.themes.map((t, i) => i).filter((i) => data.themes[i].category === category);
      if (!counts.sentences) section.append(node("p", { class: "map-empty" }, `No ${category} sentence.`));
      const largest = Math.max(1, ...positions.map((i) => data.themes[i].size));
      const list = node("ol", { class: "map-themes" });
      for (const position of positions) list.append(themeButton(data, data.themes[position], position, largest, select));
      for (const button of list.querySelectorAll("button")) buttons.push(button);
      section.append(list);
      columns.append(section);
    }
    container.append(header, columns, detailSlot, linkTable(data, select));
  };
}());
