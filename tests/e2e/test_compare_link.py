"""End to end: on the Compare runs page a user picks three runs and a curve metric, copies the
page's URL, and a colleague opens it in a fresh browser (own profile): same runs, same
metric, same grouped number. The server runs on hand-written runs (tests/evaluation/
compare_world.py: three seeds and one other learning rate, known evaluation numbers), so no
training is needed. A screenshot of the view is saved for the notes."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_server import serve_process

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))

import compare_world  # tests/evaluation/compare_world.py

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("TMPDIR", "/tmp")) / "finmt-e2e-screenshots"
RENDER_TIMEOUT_S = 180
START_TIMEOUT_S = 90
#: the three seeds of one experiment: accuracy 0.52, 0.54, 0.56 -> mean 0.54, std 0.02
PICKED = ["cmp-s0", "cmp-s1", "cmp-s2"]
GROUPED = "0.5400 ± 0.0200 (n=3)"


@pytest.fixture(scope="module")
def compare_server(tmp_path_factory: pytest.TempPathFactory, browser_tools: tuple[str, str]) -> Iterator[str]:
    """The real app on the hand-written runs (no demo training); yields its base URL."""
    root = tmp_path_factory.mktemp("compare-runs")
    compare_world.write_world(root)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("compare-server") / "streamlit.log"
    env = dict(os.environ, FINMT_RUNS_DIR=str(root), FINMT_DEMO="0", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard" / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    yield from serve_process(cmd, cwd=REPO, env=env, log=log, port=port, what="streamlit",
                             start_timeout_s=START_TIMEOUT_S)


def _browser(tools: tuple[str, str], profile: Path) -> object:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = tools[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--hide-scrollbars", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(tools[1]), options=opts)
    drv.set_page_load_timeout(120)
    return drv


def _wait_calm(driver, must_see: str) -> None:
    """Until ``must_see`` is on the page and the script run has been finished for 1.5 s."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + RENDER_TIMEOUT_S
    calm_since = None
    while time.monotonic() < deadline:
        apps = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stApp']")
        state = apps[0].get_attribute("data-test-script-state") if apps else None
        if state == "notRunning" and must_see in driver.find_element(By.TAG_NAME, "body").text:
            calm_since = calm_since or time.monotonic()
            if time.monotonic() - calm_since > 1.5:
                return
        else:
            calm_since = None
        time.sleep(0.25)
    raise AssertionError(f"{must_see!r} did not appear within {RENDER_TIMEOUT_S}s")


def _widget(driver, testid: str, label: str):
    from selenium.webdriver.common.by import By

    return next(w for w in driver.find_elements(By.CSS_SELECTOR, f"[data-testid='{testid}']") if label in w.text)


def _choose(driver, testid: str, label: str, option: str) -> None:
    """Open a select / multiselect by its label, type the option and press Enter."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = _widget(driver, testid, label).find_element(By.CSS_SELECTOR, "input")
    box.click()
    box.send_keys(option)
    time.sleep(0.3)
    box.send_keys(Keys.ENTER)
    time.sleep(0.5)


def _view(driver) -> tuple[list[str], str, str]:
    """(picked runs, curve metric shown, the groups table's text)."""
    from selenium.webdriver.common.by import By

    tags = _widget(driver, "stMultiSelect", "Runs to compare").find_element(
        By.CSS_SELECTOR, "[data-testid='stMultiSelectTagsContainer']")
    runs = [line.strip() for line in tags.text.splitlines() if line.strip()]
    # the select box shows its value in its combobox input
    metric = _widget(driver, "stSelectbox", "Logged metric").find_element(By.CSS_SELECTOR, "input").get_attribute("value")
    table = driver.find_element(By.CSS_SELECTOR, "[data-testid='stTable']").text
    return runs, metric, table


def test_compare_view_is_a_link(compare_server: str, browser_tools: tuple[str, str], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    first = _browser(browser_tools, tmp_path / "profile-a")
    try:
        first.get(f"{compare_server}/compare")
        _wait_calm(first, "Pick two or more runs")
        for name in PICKED:
            _choose(first, "stMultiSelect", "Runs to compare", name)
            _wait_calm(first, "Runs to compare")
        _wait_calm(first, GROUPED)
        _choose(first, "stSelectbox", "Logged metric", "val.direction")
        _wait_calm(first, "val.direction by run")
        runs, metric, table = _view(first)
        assert runs == PICKED and metric == "val.direction" and GROUPED in table
        assert not first.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")
        link = first.current_url
        assert "runs=cmp-s0%2Ccmp-s1%2Ccmp-s2" in link or "runs=cmp-s0,cmp-s1,cmp-s2" in link, link
        SHOTS.mkdir(parents=True, exist_ok=True)
        height = first.execute_script("const m = document.querySelector('[data-testid=\"stMain\"]');"
                                      "return m ? m.scrollHeight : document.body.scrollHeight;")
        first.set_window_size(1400, min(int(height) + 60, 4200))
        first.execute_script("const m = document.querySelector('[data-testid=\"stMain\"]'); if (m) { m.scrollTop = 0; }"
                             "window.scrollTo(0, 0);")
        time.sleep(1.0)
        first.save_screenshot(str(SHOTS / "compare_runs.png"))
    finally:
        first.quit()
    fresh = _browser(browser_tools, tmp_path / "profile-b")  # a colleague: new profile, no session
    try:
        fresh.get(link)
        _wait_calm(fresh, GROUPED)
        runs, metric, table = _view(fresh)
        assert runs == PICKED
        assert metric == "val.direction"
        assert GROUPED in table
        assert "val.direction by run" in fresh.find_element(By.TAG_NAME, "body").text
    finally:
        fresh.quit()
