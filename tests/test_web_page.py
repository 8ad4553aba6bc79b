"""The web page at `/`, driven by headless Chromium (Debian's, through selenium) against the real service."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from pcc.paths import API_TOKEN_ENV
from tests.server import running_server
from tests.test_service import PAPER

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1300,1400",
]


def _install_chromium() -> None:
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip("chromium and chromium-driver are not installed, and installing them needs root and apt-get: "
                    "run `apt-get install chromium chromium-driver`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"could not install chromium with apt-get: {result.stderr.strip()[-500:]}")


def _import_selenium():
    try:
        import selenium  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "selenium"], check=True)
    from selenium import webdriver

    return webdriver


@pytest.fixture(scope="module")
def browser() -> Iterator:
    _install_chromium()
    webdriver = _import_selenium()
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="pcc-chromium-") as profile:
        for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        driver.set_page_load_timeout(30)
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture(scope="module")
def corrections_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("page-corrections")


TOKEN = "page-test-token-42"  # the server's access token: corrections are stored only for those who send it


@pytest.fixture(scope="module")
def server(tiny_bundle, tmp_path_factory, corrections_dir) -> Iterator[str]:
    options = ("--precision", "int8", "--corrections-dir", str(corrections_dir))
    with running_server(tiny_bundle, options, log_path=tmp_path_factory.mktemp("page") / "server.log",
                        env={API_TOKEN_ENV: TOKEN}) as url:
        yield url


def wait_for(driver, condition, timeout: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def find(driver, css: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, css)


def style(driver, element, prop: str) -> str:
    return driver.execute_script("return getComputedStyle(arguments[0]).getPropertyValue(arguments[1])", element, prop)


def open_page(driver, server: str) -> None:
    driver.get(f"{server}/")
    wait_for(driver, lambda d: find(d, "#paper-form"))


def submit(driver, text: str, title: str = "") -> None:
    driver.execute_script(
        "const [title, text, t, x] = arguments; title.value = t; text.value = x;"
        "text.dispatchEvent(new Event('input'));",
        find(driver, "#title")[0], find(driver, "#text")[0], title, text)
    find(driver, "#submit")[0].click()


def test_page_shows_every_sentence_coloured_by_category(browser, server, tmp_path):
    open_page(browser, server)
    submit(browser, PAPER, title="论网络社会公安机关深化和谐警民关系建设的对策")
    wait_for(browser, lambda d: find(d, "#document .sentence"))
    expected = httpx.post(f"{server}/analyze", json={"text": PAPER, "title": "论网络社会公安机关深化和谐警民关系建设的对策"},
                          timeout=30).json()
    browser.save_screenshot(str(tmp_path / "page.png"))

    spans = find(browser, "#document .sentence")
    assert [span.text for span in spans] == [s["text"] for s in expected["sentences"]]
    chip_background = {c: style(browser, find(browser, f"#legend .chip.{c}")[0], "background-color")
                       for c in ("problem", "cause", "countermeasure", "other")}
    assert len(set(chip_background.values())) == 4, chip_background  # four distinguishable colours
    garbled_grey = style(browser, find(browser, "#legend .chip.garbled")[0], "color")
    for span, sentence in zip(spans, expected["sentences"]):
        parent = span.find_element("xpath", "..").tag_name
        assert parent in (("h2", "h3", "h4", "h5", "h6") if sentence["is_heading"] else ("p",)), sentence
        if sentence["quality"] == "garbled":
            assert "garbled" in span.get_attribute("class")
            assert style(browser, span, "color") == garbled_grey
        else:
            assert sentence["label"] in span.get_attribute("class").split()
            assert style(browser, span, "background-color") == chip_background[sentence["label"]]
    assert any(s["quality"] == "garbled" for s in expected["sentences"])

    for category in ("problem", "cause", "countermeasure"):
        items = find(browser, f'#summary ol[data-category="{category}"] li')
        assert [item.text for item in items] == expected["summary"][category]
    assert not find(browser, '#summary ol[data-category="other"]')
    garbled = sum(s["quality"] == "garbled" for s in expected["sentences"])
    assert find(browser, "#status")[0].text == f"{len(spans)} sentences, {garbled} garbled."


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030", "utf-16"])  # Python's utf-16 writes a byte-order mark
def test_uploaded_txt_file_fills_the_text_box(browser, server, tmp_path, encoding):
    paper = tmp_path / "paper.txt"
    paper.write_bytes(PAPER.encode(encoding))
    open_page(browser, server)
    find(browser, "#file")[0].send_keys(str(paper))
    wait_for(browser, lambda d: find(d, "#text")[0].get_attribute("value") == PAPER)
    assert find(browser, "#status")[0].text == "Loaded paper.txt."


def test_server_error_message_is_shown(browser, server):
    open_page(browser, server)
    submit(browser, "   ")
    status = find(browser, "#status")[0]
    wait_for(browser, lambda d: "error" in status.get_attribute("class"))
    assert status.text == "text: String should have at least 1 character"
    assert find(browser, "#result")[0].get_attribute("hidden") is not None


# --- a paper file in, corrections out ------------------------------------------------------------------


def downloads_to(driver, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    return folder


def downloaded(folder: Path, name: str) -> Path:
    path = folder / name
    wait_for(None, lambda _: path.is_file() and path.stat().st_size > 0 and not list(folder.glob("*.crdownload")))
    return path


def press(driver, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    for key in keys:
        ActionChains(driver).send_keys(key).perform()


def sentence_span(driver, text: str):
    return next(span for span in find(driver, "#document .sentence") if span.text == text)


def corrected(driver) -> dict[str, str]:
    return {span.text: span.get_attribute("data-label") for span in find(driver, "#document .sentence.corrected")}


def test_upload_correct_reload_and_export(browser, server, corrections_dir, tmp_path):
    from selenium.webdriver.common.keys import Keys

    from tests.fixtures.papers import write_docx
    from training.gold import read_gold

    folder = downloads_to(browser, tmp_path / "downloads")
    paper = write_docx(tmp_path / "基层治理.docx")
    expected = httpx.post(f"{server}/analyze_file", files={"file": (paper.name, paper.read_bytes())}, timeout=30).json()
    open_page(browser, server)
    browser.execute_script("localStorage.clear()")
    find(browser, "#file")[0].send_keys(str(paper))
    wait_for(browser, lambda d: find(d, "#document .sentence"))
    assert find(browser, "#status")[0].text == f"基层治理.docx: {len(expected['sentences'])} sentences, 0 garbled."
    assert [span.text for span in find(browser, "#document .sentence")] == [s["text"] for s in expected["sentences"]]
    by_text = {s["text"]: s for s in expected["sentences"]}

    # Mouse: pick a sentence, set its label with the toolbar; it is marked and the summary follows.
    first = "部分民警与群众沟通不畅，群众对公安工作缺乏了解。"
    new_label = next(label for label in ("cause", "problem") if label != by_text[first]["label"])
    sentence_span(browser, first).click()
    find(browser, f'#toolbar button[data-set="{new_label}"]')[0].click()
    assert corrected(browser) == {first: new_label}
    assert first in [item.text for item in find(browser, f'#summary ol[data-category="{new_label}"] li')]
    assert find(browser, "#correction-count")[0].text == "1 corrected 已更正"

    # Keyboard: the focus stays on the sentence; arrows move, keys set labels, u undoes.
    assert browser.switch_to.active_element.text == first
    press(browser, Keys.ARROW_DOWN)
    second = browser.switch_to.active_element.text
    assert second == expected["sentences"][[s["text"] for s in expected["sentences"]].index(first) + 1]["text"]
    second_label = "countermeasure" if by_text[second]["label"] != "countermeasure" else "other"
    press(browser, "p" if second_label == "problem" else "3" if second_label == "countermeasure" else "o")
    assert corrected(browser) == {first: new_label, second: second_label}
    press(browser, "u")
    assert corrected(browser) == {first: new_label}
    press(browser, "4" if by_text[second]["label"] != "other" else "1")
    second_label = "other" if by_text[second]["label"] != "other" else "problem"
    assert corrected(browser) == {first: new_label, second: second_label}
    assert "underline" in style(browser, sentence_span(browser, second), "text-decoration-line")  # marked

    # The corrections survive a reload: the page offers the last document back, and the same file again gets them.
    browser.refresh()
    wait_for(browser, lambda d: find(d, "#reopen")[0].is_displayed())
    assert "(2 corrected 已更正)" in find(browser, "#reopen-text")[0].text
    find(browser, "#reopen-button")[0].click()
    wait_for(browser, lambda d: find(d, "#document .sentence.corrected"))
    assert corrected(browser) == {first: new_label, second: second_label}
    find(browser, "#file")[0].send_keys(str(paper))
    restored = f"基层治理.docx: {len(expected['sentences'])} sentences, 0 garbled. 2 corrections kept in this browser 已恢复更正."
    wait_for(browser, lambda d: find(d, "#status")[0].text == restored)
    assert corrected(browser) == {first: new_label, second: second_label}
    browser.save_screenshot(str(tmp_path / "corrections.png"))

    # Exported as a gold file, exactly what `pcc evaluate --gold` and `pcc train --human-labels` read.
    find(browser, "#export-gold")[0].click()
    rows = [json.loads(line) for line in downloaded(folder, "基层治理.corrections.jsonl").read_text("utf-8").splitlines()]
    assert rows == [{"paper": "基层治理", "heading": by_text[text]["heading_path"], "text": text, "label": label,
                     "lead": by_text[text]["lead"]} for text, label in ((first, new_label), (second, second_label))]
    assert [(r["text"], r["label"]) for r in read_gold(folder / "基层治理.corrections.jsonl")] == [
        (first, new_label), (second, second_label)]
    find(browser, "#export-gold-csv")[0].click()
    gold_csv = read_gold(downloaded(folder, "基层治理.corrections.csv"))
    assert [(r["text"], r["label"], r["paper"], r.get("heading", []), r["lead"]) for r in gold_csv] == [
        (row["text"], row["label"], row["paper"], row["heading"], row["lead"]) for row in rows]

    # The whole result, with the corrections, as JSON and CSV.
    find(browser, "#download-json")[0].click()
    result = json.loads(downloaded(folder, "基层治理.pcc.json").read_text("utf-8"))
    assert [s["text"] for s in result["sentences"]] == [s["text"] for s in expected["sentences"]]
    assert {s["text"]: s["corrected_label"] for s in result["sentences"] if s["corrected_label"]} == {
        first: new_label, second: second_label}
    find(browser, "#download-csv")[0].click()
    with downloaded(folder, "基层治理.pcc.csv").open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == len(expected["sentences"]) and table[0]["paper"] == "基层治理"

    # Saved to the server, which wants its token: the page asks for it once, then saves with it.
    find(browser, "#save-server")[0].click()
    wait_for(browser, lambda d: find(d, "#token-form")[0].is_displayed())
    assert find(browser, "#status")[0].text.startswith("This server saves corrections for those who know its access token.")
    assert browser.switch_to.active_element == find(browser, "#token")[0]
    find(browser, "#token")[0].send_keys("a guess" + Keys.ENTER)
    wait_for(browser, lambda d: find(d, "#status")[0].text.startswith("Wrong access token."))
    assert find(browser, "#token-form")[0].is_displayed() and not (corrections_dir / "corrections.jsonl").exists()
    find(browser, "#token")[0].send_keys(TOKEN + Keys.ENTER)
    wait_for(browser, lambda d: find(d, "#status")[0].text.startswith("Saved"))
    assert not find(browser, "#token-form")[0].is_displayed()
    assert find(browser, "#status")[0].text == "Saved 2 corrections to the server. 已保存到服务器。"
    stored = [json.loads(line) for line in (corrections_dir / "corrections.jsonl").read_text("utf-8").splitlines()]
    assert [(r["paper"], r["text"], r["label"], r["previous_label"], r["lead"]) for r in stored] == [
        ("基层治理", text, label, by_text[text]["label"], by_text[text]["lead"])
        for text, label in ((first, new_label), (second, second_label))]
    # Asked once: a later save from this tab sends the token by itself.
    find(browser, "#save-server")[0].click()
    wait_for(browser, lambda d: find(d, "#status")[0].text == "Saved 2 corrections to the server. 已保存到服务器。"
             and len((corrections_dir / "corrections.jsonl").read_text("utf-8").splitlines()) == 4)
    browser.execute_script("localStorage.clear()")


def test_a_binary_file_named_txt_is_reported_not_loaded(browser, server, tmp_path):
    junk = tmp_path / "junk.txt"
    junk.write_bytes(bytes(range(256)) * 8)
    open_page(browser, server)
    find(browser, "#file")[0].send_keys(str(junk))
    status = find(browser, "#status")[0]
    wait_for(browser, lambda d: "error" in status.get_attribute("class"))
    assert status.text.startswith("junk.txt: not a text file") and find(browser, "#text")[0].get_attribute("value") == ""


def test_an_unreadable_file_is_reported(browser, server, tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4)
    open_page(browser, server)
    find(browser, "#file")[0].send_keys(str(broken))
    status = find(browser, "#status")[0]
    wait_for(browser, lambda d: "error" in status.get_attribute("class"))
    assert status.text.startswith("broken.pdf: not a readable PDF")


def test_writes_need_the_servers_token_and_reads_do_not(server, corrections_dir):
    body = {"paper": "令牌检查", "corrections": [{"text": "民警宗旨意识淡薄。", "label": "cause"}]}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = httpx.post(f"{server}/corrections", json=body, headers=headers, timeout=30)
        assert refused.status_code == 401 and "access token" in refused.json()["error"]
    saved = httpx.post(f"{server}/corrections", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert saved.status_code == 200 and saved.json()["saved"] == 1
    stored = [json.loads(line) for line in (corrections_dir / "corrections.jsonl").read_text("utf-8").splitlines()]
    assert [row["text"] for row in stored if row["paper"] == "令牌检查"] == ["民警宗旨意识淡薄。"]
    assert httpx.post(f"{server}/classify", json={"sentences": ["警民关系紧张。"]}, timeout=30).status_code == 200
    assert httpx.get(f"{server}/", timeout=30).status_code == 200


# --- the corpus map: map.html of `pcc map`, and the page's map tab -------------------------------------

# Five papers: three discuss too few officers, blamed on tight funds and answered by more officers on the beat;
# two discuss slow replies online, blamed on untrained staff and answered by training.
MAP_PAPERS = {
    "p1": ("基层派出所警力严重不足。", "警力不足的原因是经费保障不足。", "要增加基层警力配置。", "警务室长期无人值守。"),
    "p2": ("农村警务室警力不足，民警疲于奔命。", "经费保障不足导致警力难以补充。", "应当增加社区警力配置。", "社区民警身兼数职。"),
    "p3": ("校园周边警力不足，巡逻难以覆盖。", "地方财政经费保障不足。", "增加校园警力配置，落实驻校民警。", "要防止</script>谣言扩散。"),
    "p4": ("涉警舆情回应迟缓，网民质疑不断。", "新媒体民警缺乏专业培训。", "加强新媒体民警专业培训。", "舆情回应迟缓引发网民不满。"),
    "p5": ("网络舆情回应迟缓，谣言先入为主。", "民警缺乏舆情应对专业培训。", "开展舆情应对专业培训。", "网民对回应迟缓表示不满。"),
}
MAP_CATEGORIES = ("problem", "cause", "countermeasure", "problem")


def bigram_vectors(texts):
    """Unit TF-IDF vectors of character pairs: a plain embedder whose themes these papers make certain."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectors = TfidfVectorizer(analyzer="char", ngram_range=(2, 2)).fit_transform(texts).toarray()
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def map_page(tmp_path_factory) -> Path:
    from serving.corpus_map.build import build_map
    from serving.corpus_map.inputs import read_predictions
    from serving.corpus_map.render import write_outputs
    from serving.corpus_map.themes import ThemeSettings
    from serving.outputs import write_rows

    folder = tmp_path_factory.mktemp("corpus-map")
    rows = [{"paper": paper, "title": f"{paper}的标题", "source": "papers.txt", "year": 2016 + n, "index": i,
             "text": text, "heading_path": [], "lead": None, "is_heading": False, "quality": "ok", "label": label,
             "confidence": 0.9, "scores": None}
            for n, (paper, texts) in enumerate(MAP_PAPERS.items())
            for i, (text, label) in enumerate(zip(texts, MAP_CATEGORIES))]
    write_rows(folder / "predictions.jsonl", rows)
    corpus_map = build_map(read_predictions([folder / "predictions.jsonl"]), bigram_vectors, "character-pair TF-IDF",
                           ThemeSettings(threshold=0.8, paper_weight=0.0, min_size=2))
    write_outputs(corpus_map, folder / "map")
    return folder / "map" / "map.html"


def test_map_html_opens_in_a_browser_with_themes_links_and_sentences(browser, map_page, tmp_path):
    data = json.loads(map_page.read_text("utf-8").split('type="application/json">')[1].split("</script>")[0])
    assert data["links"], "these papers make problem -> cause links"
    browser.get(map_page.as_uri())
    wait_for(browser, lambda d: find(d, ".map-theme"))
    assert [b.get_attribute("data-theme") for b in find(browser, ".map-theme")] == [t["id"] for t in data["themes"]]
    for category in ("problem", "cause", "countermeasure"):
        shown = find(browser, f'.map-category[data-category="{category}"] .map-theme')
        assert [b.get_attribute("data-theme") for b in shown] == [t["id"] for t in data["themes"] if t["category"] == category]
    assert len(find(browser, "#map-link-table tr.map-link-row")) == len(data["links"])

    # Click the largest problem theme: its sentences, each with its paper, its linked causes and countermeasures.
    problem = next(t for t in data["themes"] if t["category"] == "problem" and t["number"] == 1)
    find(browser, f'.map-theme[data-theme="{problem["id"]}"]')[0].click()
    wait_for(browser, lambda d: find(d, f'#theme-detail[data-theme="{problem["id"]}"]'))
    texts = [item.find_element("css selector", ".map-text").text for item in find(browser, "#theme-detail .map-sentence")]
    assert texts == [data["sentences"][s]["text"] for s in problem["sentences"]]
    assert all("的标题 (20" in p.text for p in find(browser, "#theme-detail .map-paper"))  # title and year
    linked = [link for link in data["links"] if link["problem"] == data["themes"].index(problem)]
    assert linked, "the largest problem theme is linked"
    assert {item.get_attribute("data-theme") for item in find(browser, "#theme-detail .map-link")} == {
        data["themes"][l["other"]]["id"] for l in linked}
    assert find(browser, "#theme-detail .map-pair-cause")  # each problem sentence's nearest cause in its paper
    assert find(browser, f'.map-theme[data-theme="{problem["id"]}"]')[0].get_attribute("aria-pressed") == "true"

    # A sentence holding "</script>" is shown as text.
    for button in find(browser, ".map-theme.countermeasure, .map-theme.noise"):
        button.click()
        if any("</script>" in s.text for s in find(browser, "#theme-detail .map-text")):
            break
    else:
        pytest.fail("the sentence with </script> is in no theme the page shows")
    browser.save_screenshot(str(tmp_path / "map.png"))


def test_the_map_tab_maps_uploaded_papers(browser, server, tmp_path):
    from tests.test_ray_predict import seed_papers

    paths = []
    for number, text in enumerate(seed_papers()[:4]):
        paths.append(tmp_path / f"论文{number}.txt")
        paths[-1].write_text(text, "utf-8")
    expected = httpx.post(f"{server}/map_files", files=[("files", (p.name, p.read_bytes())) for p in paths],
                          timeout=120).json()
    open_page(browser, server)
    assert find(browser, "#map-panel")[0].get_attribute("hidden") is not None
    find(browser, "#tab-map")[0].click()
    assert find(browser, "#paper-panel")[0].get_attribute("hidden") is not None
    find(browser, "#map-files")[0].send_keys("\n".join(str(p) for p in paths))
    find(browser, "#map-submit")[0].click()
    wait_for(browser, lambda d: find(d, "#map-result .map-theme"), timeout=120)
    assert [b.get_attribute("data-theme") for b in find(browser, "#map-result .map-theme")] == [
        t["id"] for t in expected["themes"]]
    assert find(browser, "#map-status")[0].text == "Mapped 4 papers from 4 files."
    assert find(browser, "#map-summary")[0].text.startswith("4 papers")

    junk = tmp_path / "slides.odp"
    junk.write_bytes(b"not a paper")
    find(browser, "#map-files")[0].send_keys(str(junk))
    find(browser, "#map-submit")[0].click()
    status = find(browser, "#map-status")[0]
    wait_for(browser, lambda d: "error" in status.get_attribute("class"))
    assert status.text.startswith("slides.odp: unsupported file type '.odp'")
