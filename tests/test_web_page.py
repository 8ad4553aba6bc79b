"""The web page at `/`, driven by headless Chromium (Debian's, through selenium) against the real service."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import httpx
import pytest

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
def server(tiny_bundle, tmp_path_factory) -> Iterator[str]:
    with running_server(tiny_bundle, ("--precision", "int8"), log_path=tmp_path_factory.mktemp("page") / "server.log") as url:
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


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
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
