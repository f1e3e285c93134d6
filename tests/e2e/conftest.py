"""The browser test's world: the real Streamlit server on a free port of 127.0.0.1, started on
an empty runs folder so that it trains its first-start demo set (exactly what a new user
sees), and headless Debian Chromium driven by selenium."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_server import serve_process

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "dashboard"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").is_file() else shutil.which("chromedriver")
#: the tracked screenshots are rewritten only on request (FINMT_UPDATE_SCREENSHOTS=1); a test
#: run must not modify the checkout
SCREENSHOTS = (REPO / "docs" / "screenshots" if os.environ.get("FINMT_UPDATE_SCREENSHOTS") == "1"
               else Path(os.environ.get("TMPDIR", "/tmp")) / "finmt-e2e-screenshots")
SERVER_START_TIMEOUT_S = 90
#: the demo set takes about a minute on a quiet 2-core CPU. The wait is on *progress*: it fails
#: only when the demo makes no progress at all (no run finishes, no epoch moves) for this long,
#: so a busy machine makes the tests slower, never red.
DEMO_STALL_S = 300


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
def runs_dir(tmp_path_factory: pytest.TempPathFactory, browser_tools: tuple[str, str]) -> Path:
    """An empty runs folder (the server trains its demo set into it), or ``FINMT_E2E_RUNS``:
    an existing, already populated folder for quick reruns (no first start then)."""
    override = os.environ.get("FINMT_E2E_RUNS")
    return Path(override).resolve() if override else tmp_path_factory.mktemp("e2e-runs")


@pytest.fixture(scope="session")
def server(runs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app (``streamlit run dashboard/app.py``) on a free port; yields its base URL."""
    first_start = "FINMT_E2E_RUNS" not in os.environ
    yield from serve(runs_dir, tmp_path_factory.mktemp("server") / "streamlit.log", demo=first_start)
    _stop_demo(runs_dir)


@pytest.fixture(scope="session")
def serve_fn():
    """The server starter below, for test modules that start their own server (a fixture, because
    ``from conftest import serve`` resolves to whichever conftest.py was imported first)."""
    return serve


def serve(runs_dir: Path, log: Path, *, demo: bool) -> Iterator[str]:
    """Start the app on ``runs_dir`` (with or without the first-start demo set), yield its URL,
    stop it afterwards (a generator for fixtures: ``yield from serve(...)``)."""
    port = _free_port()
    env = dict(os.environ, FINMT_RUNS_DIR=str(runs_dir), FINMT_DEMO="1" if demo else "0", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard" / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    yield from serve_process(cmd, cwd=REPO, env=env, log=log, port=port, what="streamlit",
                             start_timeout_s=SERVER_START_TIMEOUT_S)


def _stop_demo(runs_dir: Path) -> None:
    """Stop the demo process the server started, if it still runs (a failed test mid-demo)."""
    try:
        pid = json.loads((runs_dir / ".demo.json").read_text()).get("pid")
    except (FileNotFoundError, json.JSONDecodeError):
        return
    if pid:
        import psutil

        try:
            proc = psutil.Process(int(pid))
            if "dashboard.demo" in " ".join(proc.cmdline()):
                proc.terminate()
        except psutil.NoSuchProcess:
            pass


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


@dataclass
class FirstStart:
    """What the first visit to an empty dashboard showed."""

    ran: bool  # False with FINMT_E2E_RUNS (an already populated folder)
    saw_progress: bool = False
    seconds_to_done: float | None = None
    states: dict[str, str] | None = None


@pytest.fixture(scope="session")
def demo_ready(server: str, driver, runs_dir: Path) -> FirstStart:
    """Open Home once: on an empty folder that launches the demo set in the background and shows
    its progress; wait until every demo run is trained and evaluated, then add a failed run
    (hand-written) so the Train page shows an error too."""
    from selenium.webdriver.common.by import By

    if "FINMT_E2E_RUNS" in os.environ:
        return FirstStart(ran=False)
    import handmade_runs  # tests/dashboard/handmade_runs.py

    from dashboard.demo import DEMO_SET
    from dashboard.demo import progress as demo_progress
    from finmt_core.training.runs import RunDir

    t0 = time.monotonic()
    driver.get(server)
    result = FirstStart(ran=True)
    last_seen: tuple[object, ...] | None = None
    last_change = t0
    while time.monotonic() - last_change < DEMO_STALL_S:
        p = demo_progress(runs_dir)
        seen = None if p is None else (p.done, p.failed, p.current, round(p.current_progress, 3))
        if seen != last_seen:
            last_seen, last_change = seen, time.monotonic()
        text = driver.find_element(By.TAG_NAME, "body").text
        if not result.saw_progress and "Training the demo runs" in text and re.search(r"[1-9] of \d+ runs done", text):
            # the progress box above the demo runs, one or more done: what a new user sees
            result.saw_progress = True
            time.sleep(1.0)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(SCREENSHOTS / "00_first_start.png"))
        try:
            finished = json.loads((runs_dir / ".demo.json").read_text()).get("finished")
        except (FileNotFoundError, json.JSONDecodeError):
            finished = None
        if finished:
            break
        time.sleep(1.0)
    result.seconds_to_done = time.monotonic() - t0
    result.states = {item.name: str(RunDir(runs_dir / item.name).status().get("state")) for item in DEMO_SET}
    handmade_runs.write_run(runs_dir, "fx-failed", "cnn_lstm", handmade_runs.SEQ_TASKS, state="failed", epochs_done=2,
                            error="loss became NaN at epoch 3 (task return); lower the learning rate", seed=3)
    return result
