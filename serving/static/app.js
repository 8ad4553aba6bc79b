"use strict";

const CATEGORIES = {
  problem: "问题 problem",
  cause: "原因 cause",
  countermeasure: "对策 countermeasure",
  other: "其他 other",
};
const LABELS = Object.keys(CATEGORIES);
// Keys that set the selected sentence's label.
const LABEL_KEYS = { 1: "problem", p: "problem", 2: "cause", c: "cause", 3: "countermeasure", m: "countermeasure", 4: "other", o: "other" };
const NEXT_KEYS = ["ArrowDown", "ArrowRight", "j"];
const PREVIOUS_KEYS = ["ArrowUp", "ArrowLeft", "k"];
const UNDO_KEYS = ["u", "Backspace"];
const MAX_DOCUMENT_CHARS = 200000;
const MAX_UPLOAD_BYTES = 20 * 1024 * 1024; // as the service's MAX_UPLOAD_BYTES
const READ_ON_SERVER = [".pdf", ".docx"]; // a .txt file is read here, into the text box
const HEADING_SEPARATOR = " > "; // joins a heading path in CSV files, as pcc predict and gold CSV files do
const STORE_PREFIX = "pcc:corrections:"; // + a fingerprint of the document's sentences
const LAST_DOCUMENT = "pcc:last";
const TOKEN_KEY = "pcc:token"; // the server's access token, in sessionStorage: typed once per tab

const form = document.getElementById("paper-form");
const titleInput = document.getElementById("title");
const textInput = document.getElementById("text");
const fileInput = document.getElementById("file");
const submitButton = document.getElementById("submit");
const statusLine = document.getElementById("status");
const charCount = document.getElementById("char-count");
const reopenLine = document.getElementById("reopen");
const result = document.getElementById("result");
const documentView = document.getElementById("document");
const summaryView = document.getElementById("summary");
const selectedInfo = document.getElementById("selected-info");
const labelButtons = [...document.querySelectorAll("#toolbar [data-set]")];
const undoButton = document.getElementById("undo");
const correctionCount = document.getElementById("correction-count");
const tokenForm = document.getElementById("token-form");
const tokenInput = document.getElementById("token");

// The document on show: the service's analysis, where its corrections are kept, and what a person changed.
const state = { analysis: null, key: null, corrections: new Map(), selected: null };

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

// The encodings `pcc prepare` reads: UTF-16 by its byte-order mark, else UTF-8 strictly, else GB18030 (Chinese
// papers saved on Windows often are); null when the bytes are none of these (a binary file named .txt).
function decodeText(buffer) {
  const bytes = new Uint8Array(buffer);
  const encodings = bytes[0] === 0xff && bytes[1] === 0xfe ? ["utf-16le"]
    : bytes[0] === 0xfe && bytes[1] === 0xff ? ["utf-16be"] : ["utf-8", "gb18030"];
  for (const encoding of encodings) {
    try {
      const text = new TextDecoder(encoding, { fatal: true }).decode(buffer);
      if (!text.includes("\u0000")) return text;
    } catch (_) {
      // not this encoding: try the next
    }
  }
  return null;
}

// BentoML answers bad input with {"error", "detail": [{loc, msg}]}; show each problem on its own line.
function describeError(status, body) {
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).join(".") || "request"}: ${d.msg}`).join("\n");
  }
  if (body && body.error) return body.error;
  return `The server answered ${status}.`;
}

// --- reading a paper ------------------------------------------------------------------------------------

async function post(url, options) {
  let response;
  try {
    response = await fetch(url, { method: "POST", ...options });
  } catch (error) {
    throw new Error(`Could not reach the server: ${error.message}`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw Object.assign(new Error(describeError(response.status, body)), { status: response.status });
  return body;
}

async function analyse(request, describe) {
  submitButton.disabled = true;
  fileInput.disabled = true;
  showStatus("Analysing… 分析中…");
  try {
    const analysis = await post(...request);
    show(analysis);
    result.scrollIntoView({ block: "start" });
    const kept = state.corrections.size ? ` ${state.corrections.size} corrections kept in this browser 已恢复更正.` : "";
    showStatus(describe(analysis) + kept);
  } catch (error) {
    showStatus(error.message, true);
  } finally {
    submitButton.disabled = false;
    fileInput.disabled = false;
  }
}

function counts(analysis) {
  const garbled = analysis.sentences.filter((s) => s.quality === "garbled").length;
  return `${analysis.sentences.length} sentences, ${garbled} garbled`;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const payload = { text: textInput.value };
  if (titleInput.value.trim()) payload.title = titleInput.value.trim();
  const request = ["/analyze", { headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) }];
  analyse(request, (analysis) => `${counts(analysis)}.`);
});

fileInput.addEventListener("change", async () => {
  const file = fileInput.files[0];
  if (!file) return;
  const suffix = file.name.includes(".") ? file.name.slice(file.name.lastIndexOf(".")).toLowerCase() : "";
  if (!READ_ON_SERVER.includes(suffix)) {
    const text = decodeText(await file.arrayBuffer());
    if (text === null) {
      showStatus(`${file.name}: not a text file in UTF-8, UTF-16 or GBK; give a .txt, .pdf or .docx paper. 无法读取该文件。`, true);
      return;
    }
    textInput.value = text;
    updateCharCount();
    showStatus(`Loaded ${file.name}.`);
    return;
  }
  if (file.size > MAX_UPLOAD_BYTES) {
    showStatus(`${file.name}: larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MB; split the document or save the PDF without its images. 文件过大。`, true);
    return;
  }
  const upload = new FormData();
  upload.append("file", file, file.name);
  analyse(["/analyze_file", { body: upload }], (analysis) => {
    const leftOut = analysis.left_out.length ? `, ${analysis.left_out.length} lines left out` : "";
    const papers = analysis.papers.length > 1 ? `, ${analysis.papers.length} papers` : "";
    return `${analysis.file_name}: ${counts(analysis)}${papers}${leftOut}.`;
  });
});
textInput.addEventListener("input", updateCharCount);

// --- showing it -----------------------------------------------------------------------------------------

function labelOf(index) {
  return state.corrections.get(index) || state.analysis.sentences[index].label;
}

function paperOf(sentence) {
  // An uploaded file names the paper of each sentence; a pasted text is one paper, known by its title.
  return sentence.paper || state.analysis.title || "text";
}

function describeSentence(span, sentence) {
  const label = labelOf(sentence.index);
  const corrected = state.corrections.has(sentence.index);
  span.className = `sentence ${label}${corrected ? " corrected" : ""}${state.selected === sentence.index ? " selected" : ""}`;
  span.dataset.label = label;
  const model = `${CATEGORIES[sentence.label]} · ${(sentence.confidence * 100).toFixed(0)}%`;
  span.title = corrected ? `${CATEGORIES[label]} (corrected 已更正; model 模型: ${model})` : model;
  span.setAttribute("aria-label", `${sentence.text} — ${CATEGORIES[label]}${corrected ? ", corrected 已更正" : ""}`);
}

function sentenceSpan(sentence) {
  const garbled = sentence.quality === "garbled";
  const span = element("span", { class: `sentence ${garbled ? "garbled" : sentence.label}`, "data-index": sentence.index }, sentence.text);
  if (garbled) {
    span.title = "乱码 garbled text: not classified";
  } else {
    span.tabIndex = 0;
    span.setAttribute("role", "button");
    describeSentence(span, sentence);
  }
  return span;
}

function renderDocument(analysis) {
  documentView.replaceChildren();
  const titles = new Set([analysis.title, ...(analysis.papers || []).map((p) => p.title)]);
  // The segmenter usually keeps the title as the first heading; show it once, as the page's heading.
  const titled = analysis.sentences.some((s) => s.is_heading && s.text === analysis.title);
  if (!titled) documentView.append(element("h2", {}, analysis.title));
  let paragraph = null;
  for (const sentence of analysis.sentences) {
    if (sentence.is_heading) {
      const level = titles.has(sentence.text) && sentence.heading_path.length === 0 ? 2 : Math.min(3 + sentence.heading_path.length, 6);
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

function currentSummary() {
  const summary = Object.fromEntries(LABELS.map((label) => [label, []]));
  for (const sentence of state.analysis.sentences) {
    if (sentence.quality !== "garbled") summary[labelOf(sentence.index)].push(sentence.text);
  }
  return summary;
}

function renderSummary() {
  summaryView.replaceChildren();
  for (const [category, sentences] of Object.entries(currentSummary())) {
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
  const leftOut = state.analysis.left_out || [];
  if (leftOut.length) {
    const details = element("details", { id: "left-out" });
    details.append(element("summary", {}, `${leftOut.length} lines left out 已略去的行 (site chrome, page furniture)`));
    const list = element("ol");
    for (const line of leftOut) list.append(element("li", { value: line.line }, `${line.text} — ${line.reason}`));
    details.append(list);
    summaryView.append(details);
  }
}

function show(analysis, corrections = null) {
  state.analysis = analysis;
  state.key = STORE_PREFIX + fingerprint(analysis.sentences.map((s) => `${s.paper || ""}\u0001${s.text}`).join("\n"));
  state.corrections = corrections || loadCorrections(state.key, analysis);
  state.selected = null;
  renderDocument(analysis);
  renderSummary();
  updateReviewBar();
  result.hidden = false;
  rememberLastDocument();
}

// --- correcting ---------------------------------------------------------------------------------------

function spanOf(index) {
  return documentView.querySelector(`.sentence[data-index="${index}"]`);
}

function select(index) {
  const previous = state.selected;
  state.selected = index;
  if (previous !== null && previous !== index) spanOf(previous)?.classList.remove("selected");
  spanOf(index)?.classList.add("selected");
  updateReviewBar();
}

function setLabel(index, label) {
  const sentence = state.analysis.sentences[index];
  if (label === sentence.label) state.corrections.delete(index); // back to the model's label
  else state.corrections.set(index, label);
  changed(index);
}

function undo(index) {
  if (!state.corrections.delete(index)) return;
  changed(index);
}

function changed(index) {
  describeSentence(spanOf(index), state.analysis.sentences[index]);
  renderSummary();
  updateReviewBar();
  saveCorrections();
}

function move(index, step) {
  const spans = [...documentView.querySelectorAll(".sentence[tabindex]")];
  const position = spans.indexOf(spanOf(index)) + step;
  if (position >= 0 && position < spans.length) spans[position].focus();
}

function updateReviewBar() {
  const index = state.selected;
  const corrected = state.corrections.size;
  correctionCount.textContent = `${corrected} corrected 已更正`;
  for (const id of ["export-gold", "export-gold-csv", "save-server"]) document.getElementById(id).disabled = corrected === 0;
  for (const button of labelButtons) {
    button.disabled = index === null;
    button.setAttribute("aria-pressed", String(index !== null && labelOf(index) === button.dataset.set));
  }
  undoButton.disabled = index === null || !state.corrections.has(index);
  if (index === null) return;
  const sentence = state.analysis.sentences[index];
  const now = state.corrections.has(index) ? ` → ${CATEGORIES[labelOf(index)]} (corrected 已更正)` : "";
  selectedInfo.textContent = `#${index + 1}: model 模型 ${CATEGORIES[sentence.label]} ${(sentence.confidence * 100).toFixed(0)}%${now}`;
}

documentView.addEventListener("focusin", (event) => {
  const span = event.target.closest(".sentence[tabindex]");
  if (span) select(Number(span.dataset.index));
});

documentView.addEventListener("keydown", (event) => {
  const span = event.target.closest(".sentence[tabindex]");
  if (!span || event.altKey || event.ctrlKey || event.metaKey) return;
  const index = Number(span.dataset.index);
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if (NEXT_KEYS.includes(key)) move(index, 1);
  else if (PREVIOUS_KEYS.includes(key)) move(index, -1);
  else if (LABEL_KEYS[key]) setLabel(index, LABEL_KEYS[key]);
  else if (UNDO_KEYS.includes(key)) undo(index);
  else return;
  event.preventDefault();
});

for (const button of labelButtons) {
  button.addEventListener("click", () => {
    if (state.selected === null) return;
    setLabel(state.selected, button.dataset.set);
    spanOf(state.selected).focus();
  });
}
undoButton.addEventListener("click", () => {
  if (state.selected === null) return;
  undo(state.selected);
  spanOf(state.selected).focus();
});

// --- keeping corrections in this browser --------------------------------------------------------------

// A 64-bit FNV-1a-style fingerprint (two 32-bit lanes) and the length: a storage key, not a security measure.
function fingerprint(text) {
  let first = 0x811c9dc5;
  let second = 0x9747b28c;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    first = Math.imul(first ^ code, 0x01000193);
    second = Math.imul(second ^ code, 0x5bd1e995) ^ (second >>> 13);
  }
  const hex = (n) => (n >>> 0).toString(16).padStart(8, "0");
  return `${hex(first)}${hex(second)}-${text.length.toString(16)}`;
}

function storeItem(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch (_) {
    return false; // storage full or off: the page works on, without keeping this
  }
}

function readItem(key) {
  try {
    return JSON.parse(localStorage.getItem(key));
  } catch (_) {
    return null;
  }
}

function saveCorrections() {
  const corrections = [...state.corrections].map(([index, label]) => ({ index, label, text: state.analysis.sentences[index].text }));
  storeItem(state.key, corrections.length ? { saved: new Date().toISOString(), title: state.analysis.title, corrections } : null);
}

function loadCorrections(key, analysis) {
  const corrections = new Map();
  for (const item of readItem(key)?.corrections || []) {
    const sentence = analysis.sentences[item.index];
    if (sentence && sentence.text === item.text && sentence.quality !== "garbled" && LABELS.includes(item.label) && item.label !== sentence.label) {
      corrections.set(item.index, item.label);
    }
  }
  return corrections;
}

// The last document shown, so that a reload can bring it back with its corrections.
function rememberLastDocument() {
  const kept = storeItem(LAST_DOCUMENT, { key: state.key, analysis: state.analysis });
  if (!kept) storeItem(LAST_DOCUMENT, null);
}

function offerLastDocument() {
  const last = readItem(LAST_DOCUMENT);
  if (!last || !last.analysis || !Array.isArray(last.analysis.sentences)) return;
  const corrected = loadCorrections(last.key, last.analysis).size;
  const name = last.analysis.file_name || last.analysis.title;
  document.getElementById("reopen-text").textContent = `Last document 上次的文档: ${name} (${corrected} corrected 已更正).`;
  reopenLine.hidden = false;
  document.getElementById("reopen-button").addEventListener("click", () => {
    show(last.analysis);
    reopenLine.hidden = true;
    showStatus(`${name}: ${counts(last.analysis)}, ${state.corrections.size} corrected.`);
  });
}

// --- exporting ----------------------------------------------------------------------------------------

function download(name, type, content) {
  const link = element("a", { href: URL.createObjectURL(new Blob([content], { type })), download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

function csvCell(value) {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

// With a byte-order mark, spreadsheet programs open the Chinese text as UTF-8.
function csv(header, rows) {
  return "\ufeff" + [header, ...rows].map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

function baseName() {
  const name = state.analysis.file_name || state.analysis.title || "paper";
  return name.replace(/\.[^.]+$/, "").replace(/[\\/:*?"<>|]/g, "_").slice(0, 80) || "paper";
}

// Gold rows exactly as `pcc evaluate --gold` and `pcc train --human-labels` read them; `lead` is what the model
// read of the sentence before, which the exported rows alone (corrections only) cannot give back.
function goldRows() {
  return [...state.corrections.keys()].sort((a, b) => a - b).map((index) => {
    const sentence = state.analysis.sentences[index];
    return { paper: paperOf(sentence), heading: sentence.heading_path, text: sentence.text, label: labelOf(index),
             lead: sentence.lead ?? null };
  });
}

document.getElementById("export-gold").addEventListener("click", () => {
  const lines = goldRows().map((row) => JSON.stringify(row)).join("\n") + "\n";
  download(`${baseName()}.corrections.jsonl`, "application/x-ndjson", lines);
  showStatus(`Exported ${state.corrections.size} corrections to ${baseName()}.corrections.jsonl.`);
});

document.getElementById("export-gold-csv").addEventListener("click", () => {
  const rows = goldRows().map((row) => [row.text, row.label, row.paper, row.heading.join(HEADING_SEPARATOR),
                                        row.lead || ""]);
  download(`${baseName()}.corrections.csv`, "text/csv", csv(["text", "label", "paper", "heading", "lead"], rows));
  showStatus(`Exported ${state.corrections.size} corrections to ${baseName()}.corrections.csv.`);
});

// Writing to the server needs its access token when it has one (it answers 401 until it gets it): the page then
// asks for the token once and sends it with every save from this tab.
function tokenHeader() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function saveToServer() {
  const byPaper = new Map();
  for (const index of [...state.corrections.keys()].sort((a, b) => a - b)) {
    const sentence = state.analysis.sentences[index];
    const item = { text: sentence.text, heading_path: sentence.heading_path, lead: sentence.lead || null,
                   label: labelOf(index), previous_label: sentence.label };
    byPaper.set(paperOf(sentence), [...(byPaper.get(paperOf(sentence)) || []), item]);
  }
  try {
    let saved = 0;
    for (const [paper, corrections] of byPaper) {
      const headers = { "Content-Type": "application/json", ...tokenHeader() };
      const body = await post("/corrections", { headers, body: JSON.stringify({ paper, corrections }) });
      saved += body.saved;
    }
    tokenForm.hidden = true;
    showStatus(`Saved ${saved} corrections to the server. 已保存到服务器。`);
  } catch (error) {
    if (error.status !== 401) {
      showStatus(error.message, true);
      return;
    }
    const typed = sessionStorage.getItem(TOKEN_KEY) !== null;
    sessionStorage.removeItem(TOKEN_KEY);
    tokenForm.hidden = false;
    tokenInput.focus();
    showStatus(`${typed ? "Wrong access token. 令牌错误。" : "This server saves corrections for those who know its access token."}`
               + " Type it in the field under the toolbar and press Save. 请输入访问令牌。", true);
  }
}

document.getElementById("save-server").addEventListener("click", saveToServer);
tokenForm.addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim());
  tokenInput.value = "";
  saveToServer();
});

function resultRows() {
  return state.analysis.sentences.map((s) => ({ ...s, corrected_label: state.corrections.get(s.index) || null }));
}

document.getElementById("download-json").addEventListener("click", () => {
  const content = { ...state.analysis, sentences: resultRows(), summary: currentSummary() };
  download(`${baseName()}.pcc.json`, "application/json", JSON.stringify(content, null, 1) + "\n");
});

document.getElementById("download-csv").addEventListener("click", () => {
  const header = ["paper", "title", "index", "text", "heading_path", "is_heading", "quality", "label", "confidence",
    ...LABELS.map((label) => `score_${label}`), "corrected_label"];
  const rows = resultRows().map((s) => [paperOf(s), state.analysis.title, s.index, s.text, s.heading_path.join(HEADING_SEPARATOR),
    s.is_heading ? "True" : "False", s.quality, s.label, s.confidence, ...LABELS.map((label) => (s.scores ? s.scores[label] : null)), s.corrected_label]);
  download(`${baseName()}.pcc.csv`, "text/csv", csv(header, rows));
});

// --- tabs, and the corpus map of several papers ---------------------------------------------------------

const MAX_MAP_BYTES = 20 * 1024 * 1024; // as the service's MAX_MAP_BYTES
const tabs = [...document.querySelectorAll("#tabs [role=tab]")];
const mapForm = document.getElementById("map-form");
const mapFiles = document.getElementById("map-files");
const mapSubmit = document.getElementById("map-submit");
const mapStatus = document.getElementById("map-status");
const mapResult = document.getElementById("map-result");

for (const tab of tabs) {
  tab.addEventListener("click", () => {
    for (const other of tabs) {
      other.setAttribute("aria-selected", String(other === tab));
      document.getElementById(other.getAttribute("aria-controls")).hidden = other !== tab;
    }
  });
}

function showMapStatus(message, isError = false) {
  mapStatus.textContent = message;
  mapStatus.classList.toggle("error", isError);
}

mapForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const files = [...mapFiles.files];
  if (!files.length) {
    showMapStatus("Choose the papers first: several .pdf, .docx or .txt files, or a .zip of them. 请先选择论文。", true);
    return;
  }
  const size = files.reduce((total, file) => total + file.size, 0);
  if (size > MAX_MAP_BYTES) {
    showMapStatus(`The files hold ${(size / 1024 / 1024).toFixed(1)} MB, more than the 20 MB one map may; choose fewer.`, true);
    return;
  }
  const body = new FormData();
  for (const file of files) body.append("files", file, file.name);
  mapSubmit.disabled = true;
  showMapStatus("Reading, classifying and mapping… 正在生成图谱…");
  try {
    const answer = await post("/map_files", { body });
    mapResult.hidden = false;
    renderMap(mapResult, answer);
    const read = new Set(answer.files.map((f) => f.file)).size;
    const skipped = answer.skipped.map((s) => `\nSkipped ${s.file}: ${s.reason}`).join("");
    showMapStatus(`Mapped ${answer.papers.length} papers from ${read} files.${skipped}`, answer.skipped.length > 0);
  } catch (error) {
    showMapStatus(error.message, true);
  } finally {
    mapSubmit.disabled = false;
  }
});

updateCharCount();
offerLastDocument();
