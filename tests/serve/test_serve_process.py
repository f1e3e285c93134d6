"""``finmt serve`` as a real process: it loads the run, answers over HTTP on 127.0.0.1 with the
numbers of the library's Predictor, stops cleanly on SIGTERM, and refuses a network address
without ``--insecure``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("fastapi", reason="finmt serve needs fastapi (pip install -e .)")

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.slow  # a real uvicorn process: imports and loads the run in a child (~10 s quiet)
def test_the_real_server_answers_and_stops_on_sigterm(tmp_path):
    import run_factory

    from finmt_core.data.samples import synthetic_market
    from finmt_core.inference import Predictor

    run = run_factory.make_run(tmp_path / "runs", "svc-real", "lstm_transformer")
    port = _free_port()
    log = tmp_path / "serve.log"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "finmt_core.cli", "serve", "svc-real", "--runs-dir",
                                 str(tmp_path / "runs"), "--port", str(port)], cwd=tmp_path, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                    health = json.loads(resp.read())
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        assert health["status"] == "ok" and health["runs"] == 1
        status, body = _post(f"{url}/predict", {"tickers": ["S003"]})  # one run: "run" may be left out
        assert status == 200, body
        expected = Predictor.from_run(run.path).predict(synthetic_market(**run_factory.SYNTHETIC), "latest", ["S003"])
        (row,) = body["predictions"]
        assert row["ticker"] == "S003" and body["date"] == str(expected["date"].iloc[0].date())
        # the server runs torch on one thread, this process on its default: float32 sums may differ in the last bit
        np.testing.assert_allclose(row["return_pred"], expected["return_pred"].iloc[0], rtol=1e-5, atol=1e-8)
        status, body = _post(f"{url}/whatif", {"ticker": "S003", "shocks": {"volume": 3.0}})
        assert status == 200 and body["features"], body
        status, body = _post(f"{url}/predict", {"run": "other"})
        assert status == 404 and "not served" in body["detail"]
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught (exit by SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM), log.read_text()[-3000:]
        assert "Finished server process" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_network_address_needs_insecure(tmp_path):
    from finmt_core.cli import app

    result = CliRunner().invoke(app, ["serve", "any-run", "--address", "0.0.0.0", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--insecure" in result.output and "--address 127.0.0.1" in result.output
