"""The browser test's world: a prepared runs folder, the real Streamlit server on a free port of
127.0.0.1, and headless Debian Chromium driven by selenium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "dashboard"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").is_file() else shutil.which("chromedriver")
SERVER_START_TIMEOUT_S = 90


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def browser_tools() -> tuple[str, str]:
    """(chromium, chromedriver) paths, or skip with the reason."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[dev]')")
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("headless Chromium not found: install Debian's `chromium` and `chromium-driver` "
                    "(apt-get install -y chromium chromium-driver)")
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture(scope="session")
def e2e_runs(tmp_path_factory: pytest.TempPathFactory, browser_tools: tuple[str, str]) -> Path:
    """Finished, evaluated runs (real checkpoints from tests/run_factory.py, named like the
    dashboard's demo set) plus a failed hand-written run, so every page has something to show.

    ``FINMT_E2E_RUNS=/path/to/runs`` uses an existing runs folder instead, e.g. the real demo
    set (``python -m dashboard.demo DIR``) for the README screenshots."""
    override = os.environ.get("FINMT_E2E_RUNS")
    if override:
        return Path(override).resolve()
    import handmade_runs  # tests/dashboard/handmade_runs.py
    import run_factory

    from finmt_core.evaluation.evaluate import evaluate_run

    root = tmp_path_factory.mktemp("e2e-runs")
    handmade_runs.write_run(root, "fx-failed", "cnn_lstm", handmade_runs.SEQ_TASKS, state="failed", epochs_done=2,
                       error="loss became NaN at epoch 3 (task return); lower the learning rate", seed=3)
    for name, model in (("demo-lstm-transformer", "lstm_transformer"), ("demo-tgcn", "tgcn")):
        run = run_factory.make_run(root, name, model)
        evaluate_run(run.path, baselines=("naive_majority", "naive_momentum", "naive_zero"))
    return root


@pytest.fixture(scope="session")
def server(e2e_runs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app (``streamlit run dashboard/app.py``) on a free port; yields its base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = dict(os.environ, FINMT_RUNS_DIR=str(e2e_runs), FINMT_DEMO="0", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard" / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start; log:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def driver(browser_tools: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Headless Chromium with a fresh profile, no network services, no GPU."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = browser_tools
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
                "--window-size=1600,1000", "--hide-scrollbars",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(chromedriver), options=opts)
    drv.set_page_load_timeout(120)
    try:
        yield drv
    finally:
        drv.quit()
