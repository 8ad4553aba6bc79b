"use strict";

const CATEGORIES = {
  problem: "问题 problem",
  cause: "原因 cause",
  countermeasure: "对策 countermeasure",
  other: "其他 other",
};
const MAX_DOCUMENT_CHARS = 200000;

const form = document.getElementById("paper-form");
const titleInput = document.getElementById("title");
const textInput = document.getElementById("text");
const fileInput = document.getElementById("file");
const submitButton = document.getElementById("submit");
const statusLine = document.getElementById("status");
const charCount = document.getElementById("char-count");
const result = document.getElementById("result");
const documentView = document.getElementById("document");
const summaryView = document.getElementById("summary");

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

function showStatus(message, isError = false) {
  statusLine.textContent = message;
  statusLine.classList.toggle("error", isError);
}

function updateCharCount() {
  const count = textInput.value.length;
  charCount.textContent = `${count.toLocaleString()} / ${MAX_DOCUMENT_CHARS.toLocaleString()} characters`;
}

// Chinese papers saved on Windows are often GB18030, not UTF-8: try UTF-8 strictly, then fall back.
function decodeText(buffer) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(buffer);
  } catch (_) {
    return new TextDecoder("gb18030").decode(buffer);
  }
}

fileInput.addEventListener("change", async () => {
  const file = fileInput.files[0];
  if (!file) return;
  textInput.value = decodeText(await file.arrayBuffer());
  updateCharCount();
  showStatus(`Loaded ${file.name}.`);
});
textInput.addEventListener("input", updateCharCount);

// BentoML answers bad input with {"error", "detail": [{loc, msg}]}; show each problem on its own line.
function describeError(status, body) {
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).join(".") || "request"}: ${d.msg}`).join("\n");
  }
  if (body && body.error) return body.error;
  return `The server answered ${status}.`;
}

function sentenceSpan(sentence) {
  const garbled = sentence.quality === "garbled";
  const category = garbled ? "garbled" : sentence.label;
  const span = element("span", { class: `sentence ${category}`, "data-index": sentence.index }, sentence.text);
  if (garbled) {
    span.title = "乱码 garbled text: not classified";
  } else {
    span.dataset.label = sentence.label;
    span.title = `${CATEGORIES[sentence.label] || sentence.label} · ${(sentence.confidence * 100).toFixed(0)}%`;
  }
  return span;
}

function renderDocument(analysis) {
  documentView.replaceChildren();
  // The segmenter usually keeps the title as the first heading; show it once, as the page's heading.
  const titled = analysis.sentences.some((s) => s.is_heading && s.text === analysis.title);
  if (!titled) documentView.append(element("h2", {}, analysis.title));
  let paragraph = null;
  for (const sentence of analysis.sentences) {
    if (sentence.is_heading) {
      const level = sentence.text === analysis.title ? 2 : Math.min(3 + sentence.heading_path.length, 6);
      const heading = element(`h${level}`);
      heading.append(sentenceSpan(sentence));
      documentView.append(heading);
      paragraph = null;
      continue;
    }
    if (paragraph === null) {
      paragraph = element("p");
      documentView.append(paragraph);
    }
    paragraph.append(sentenceSpan(sentence));
  }
}

function renderSummary(summary) {
  summaryView.replaceChildren();
  for (const [category, sentences] of Object.entries(summary)) {
    if (category === "other") continue;
    summaryView.append(element("h3", { class: category }, `${CATEGORIES[category] || category} (${sentences.length})`));
    if (sentences.length === 0) {
      summaryView.append(element("p", { class: "empty" }, "None found. 未发现。"));
      continue;
    }
    const list = element("ol", { "data-category": category });
    for (const text of sentences) list.append(element("li", {}, text));
    summaryView.append(list);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const payload = { text: textInput.value };
  if (titleInput.value.trim()) payload.title = titleInput.value.trim();
  submitButton.disabled = true;
  showStatus("Analysing… 分析中…");
  try {
    const response = await fetch("/analyze", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      showStatus(describeError(response.status, body), true);
      return;
    }
    renderDocument(body);
    renderSummary(body.summary);
    result.hidden = false;
    result.scrollIntoView({ block: "start" });
    const garbled = body.sentences.filter((s) => s.quality === "garbled").length;
    showStatus(`${body.sentences.length} sentences, ${garbled} garbled.`);
  } catch (error) {
    showStatus(`Could not reach the server: ${error.message}`, true);
  } finally {
    submitButton.disabled = false;
  }
});

updateCharCount();
