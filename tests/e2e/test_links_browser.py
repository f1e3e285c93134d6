"""Links, downloads and the look at 1400 px, in headless Chromium against the real server.

The server runs on a small runs folder of real tiny runs (tests/run_factory.py: genuine
checkpoints and predictions, evaluated), without the first-start demo. Links with non-default
settings are opened in the browser; the widgets must show those settings and the page the same
number the library computes for them. A CSV and an SVG are downloaded through the page; a
screenshot of each page is taken at 1400 px (into $TMPDIR/finmt-e2e-screenshots).
"""

from __future__ import annotations

import csv
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
WIDTH = 1400


@pytest.fixture(scope="module")
def own_tmp() -> Iterator[Path]:
    """A temporary folder of this module alone: pytest's shared base folders are pruned by other
    pytest sessions on the same machine while a long browser test still reads them."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="finmt-links-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def small_runs(own_tmp: Path, browser_tools) -> Path:
    """Two real tiny runs (graph model with gating heads; sequence model), evaluated."""
    import run_factory

    from finmt_core.evaluation.evaluate import evaluate_run

    root = own_tmp / "runs"
    root.mkdir()
    for name, model in (("rf-tgcn", "tgcn"), ("rf-seq", "lstm_transformer")):
        run = run_factory.make_run(root, name, model)
        evaluate_run(run.path, baselines=("naive_majority", "naive_momentum", "naive_zero"), backtest=True)
    return root


@pytest.fixture(scope="module")
def app(small_runs: Path, own_tmp: Path, serve_fn) -> Iterator[str]:
    yield from serve_fn(small_runs, own_tmp / "streamlit.log", demo=False)


@pytest.fixture(scope="module")
def downloads(driver, own_tmp: Path) -> Path:
    folder = own_tmp / "downloads"
    folder.mkdir()
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    return folder


def _open(driver, url: str) -> str:
    """Load ``url`` in the browser, wait until the script run is over; returns the page text."""
    from selenium.webdriver.common.by import By

    driver.set_window_size(WIDTH, 1000)
    driver.get(url)
    deadline, calm = time.monotonic() + 240, None
    while time.monotonic() < deadline:
        apps = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stApp']")
        running = not apps or apps[0].get_attribute("data-test-script-state") != "notRunning"
        spinning = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stSpinner']")
        if not running and not spinning:
            calm = calm or time.monotonic()
            if time.monotonic() - calm > 2.5:
                break
        else:
            calm = None
        time.sleep(0.25)
    body = driver.find_element(By.TAG_NAME, "body").text
    assert "Traceback" not in body and "StreamlitAPIException" not in body, body[:2000]
    return body


def _shot(driver, name: str) -> Path:
    import os

    folder = Path(os.environ.get("TMPDIR", "/tmp")) / "finmt-e2e-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script(
        "const m = document.querySelector('[data-testid=\"stMain\"]') || document.body;"
        "return Math.max(m.scrollHeight, document.body.scrollHeight);")
    driver.set_window_size(WIDTH, min(max(int(height) + 40, 900), 4200))
    time.sleep(1.0)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(WIDTH, 1000)
    return path


def _input_value(driver, label: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f"input[aria-label='{label}']").get_attribute("value")


def _slider_value(driver, label: str) -> str:
    """The value of the slider labelled ``label`` (Streamlit renders an ``input type=range``)."""
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f"input[type='range'][aria-label='{label}']").get_attribute("value")


def _wait_file(folder: Path, pattern: str, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.glob(pattern) if not p.name.endswith(".crdownload")]
        if done:
            return done[0]
        time.sleep(0.5)
    raise AssertionError(f"nothing matching {pattern} downloaded into {folder}: {list(folder.iterdir())}")


def test_backtest_link_in_a_fresh_browser(app, driver, small_runs, downloads):
    """Non-default cost and exposure from the URL: the widgets show them and the net total
    return is the library's for those settings; the daily series downloads as CSV."""
    from selenium.webdriver.common.by import By

    from finmt_core.evaluation.run_backtest import backtest_predictions
    from finmt_core.training import load_run_data
    from finmt_core.training.runs import RunDir

    body = _open(driver, f"{app}/backtest?run=rf-seq&bt_cost=200&bt_gross=0.5&bt_strategy=top_k_long")
    assert _input_value(driver, "Cost (bps)") == "200.00"
    assert _slider_value(driver, "Max gross exposure") == "0.5"
    run = RunDir(small_runs / "rf-seq")
    _, prepared = load_run_data(run)
    preds = run.predictions()
    rows = preds[preds["split"] == "test"].reset_index(drop=True)
    n = rows["ticker"].nunique()
    result = backtest_predictions(rows, list(run.config().tasks), prepared.dense.close, prepared.dates,
                                  list(prepared.tickers), strategy="top_k_long", cost_bps=200.0, slippage_bps=0.0,
                                  k=max(1, round(0.1 * n)), max_gross=0.5, max_net=1.0)
    assert f"{result.metrics['net']['total_return']:.1%}" in body
    _shot(driver, "present_backtest_link")
    driver.find_element(By.XPATH, "//button[.//p[text()='Daily series (CSV)']]").click()
    path = _wait_file(downloads, "rf-seq-backtest-daily-test*.csv")
    with path.open() as fh:
        header = next(csv.reader(fh))
    assert {"date", "net_return", "equity_net", "benchmark_return"} <= set(header)


def test_signals_and_curves_links_and_an_svg_download(app, driver, small_runs, downloads):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    from finmt_core.inference.gating import gated_accuracy
    from finmt_core.training.runs import RunDir

    body = _open(driver, f"{app}/signals?run=rf-tgcn&sg_threshold=0.7")
    assert _slider_value(driver, "Gate threshold") == "0.7"
    preds = RunDir(small_runs / "rf-tgcn").predictions()
    calls = int(gated_accuracy(preds[preds["split"] == "test"].reset_index(drop=True), 0.7)["n_calls"])
    assert re.search(rf"Calls\s*\n\s*{calls}\b", body), body[:1500]
    _shot(driver, "present_signals_link")

    body = _open(driver, f"{app}/curves?run=rf-tgcn&compare=rf-seq&curves_log=1")
    assert "rf-seq" in body and "Overlaid curves (CSV)" in body
    toggle = driver.find_element(By.CSS_SELECTOR, "input[aria-label='Log-scale losses']")
    assert toggle.is_selected()
    chart = next(c for c in driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot") if c.is_displayed())
    ActionChains(driver).move_to_element(chart).perform()
    time.sleep(0.5)
    camera = next(b for b in driver.find_elements(By.CSS_SELECTOR, ".modebar-btn[data-title='Download plot']")
                  if b.is_displayed())
    driver.execute_script("arguments[0].click();", camera)  # the camera: saves the chart as SVG
    svg = _wait_file(downloads, "*.svg")
    assert svg.read_text(encoding="utf-8", errors="replace").lstrip().startswith("<svg")
    _shot(driver, "present_curves_link")


@pytest.mark.parametrize("page,query", [
    ("", ""), ("evaluation", "?run=rf-tgcn"), ("whatif", "?run=rf-seq&wi_return=-5"),
    ("explain", "?run=rf-seq"), ("report", "?run=rf-tgcn&present=1"), ("data", ""), ("train", ""),
])
def test_pages_at_1400px_show_no_raw_values(app, driver, page, query):
    """No Python dicts, None/nan cells, gate codes or server paths on the screen."""
    body = _open(driver, f"{app}/{page}{query}")
    for raw in ("{'", "nan – nan", "gate_code", "/.uploads/", " None "):
        assert raw not in body, (page, raw)
    _shot(driver, f"present_{page or 'home'}")
