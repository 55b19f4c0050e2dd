"""The page of ``emo serve`` in a real headless Chromium (Selenium + chromedriver).

A clip dropped on the page gets the overall answer and a timeline of windowed predictions
(probabilities on hover); a corrupt file gets the server's error. Skipped, saying why,
where Selenium or Chromium is not installed (``.ci/run`` installs the Debian packages
``chromium`` and ``chromium-driver``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emo.data.labels import CLASSES
from tests._serving import Server, noise, wav

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WAIT_S = 120.0  # a first prediction on a busy 2-core machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tone_model: Path) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("browser"), model=tone_model, workers=1)
    try:
        yield server.wait()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="Selenium is not installed (pip install -e '.[dev]')")
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("no Chromium/chromedriver on PATH (apt-get install chromium "
                    "chromium-driver; .ci/run does it)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--window-size=1200,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def _drop(driver: Any, path: Path) -> None:
    """Drop a file on the page's drop zone, as a user dragging it from a file manager."""
    from selenium.webdriver.common.by import By

    driver.execute_script(
        "const input = document.createElement('input');"
        "input.type = 'file'; input.id = 'dragged'; input.hidden = true;"
        "document.body.append(input);")
    driver.find_element(By.ID, "dragged").send_keys(str(path))
    driver.execute_script(
        "const input = document.getElementById('dragged'), data = new DataTransfer();"
        "for (const f of input.files) data.items.add(f);"
        "input.remove();"
        "document.getElementById('drop').dispatchEvent("
        "  new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));")


def test_drop_a_clip_see_answer_and_timeline_then_a_corrupt_file(
        server: Server, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S)
    browser.get(f"{server.url}/")
    wait.until(lambda d: d.execute_script("return hasModel === true"))

    _drop(browser, wav(tmp_path / "talk.wav", 5.0, 150.0, seed=2))
    verdict = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#answer .verdict"))[0]
    assert verdict.text.split()[0] in CLASSES
    assert "talk.wav" in browser.find_element(By.ID, "status").text
    segments = browser.find_elements(By.CSS_SELECTOR, "#timeline .segment")
    assert len(segments) == 4  # 5 s in 2 s windows every 1 s
    assert {s.get_attribute("data-class") for s in segments} <= set(CLASSES)
    assert [float(s.get_attribute("data-start")) for s in segments] == [0, 1, 2, 3]
    tip = browser.find_element(By.ID, "tip")
    assert not tip.is_displayed()
    ActionChains(browser).move_to_element(segments[1]).perform()
    wait.until(lambda d: tip.is_displayed())
    assert tip.text.startswith("1.0-3.0 s: " + segments[1].get_attribute("data-class"))
    assert tip.text.count("%") == len(CLASSES)

    _drop(browser, noise(tmp_path / "noise.wav"))
    error = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#status .error"))[0]
    assert error.text.startswith("422: noise.wav: not a readable")
    assert browser.find_elements(By.CSS_SELECTOR, "#answer") == []
