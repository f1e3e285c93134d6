"""Helpers of the fault-injection suite: tiny configs, hooked training subprocesses, checks
that a run directory is whole (imported as ``fault_helpers``; tests/faults is put on sys.path
by its conftest)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from finmt_core.config import ExperimentConfig
from finmt_core.training.checkpoint import load_checkpoint
from finmt_core.training.runs import RunDir

REPO = Path(__file__).resolve().parents[2]
HOOKED = Path(__file__).resolve().parent / "hooked_train.py"
TINY_MODEL = {"lstm_hidden": 8, "d_model": 8, "depth": 1, "heads": 2, "head_hidden": 8, "dropout": 0.1}
SYNTH = {"n_stocks": 8, "n_days": 300, "n_sectors": 2, "seed": 0, "signal_strength": 0.5}


def tiny_config(name: str = "tiny", **train: Any) -> ExperimentConfig:
    """8 stocks x 300 days, a tiny LSTM-transformer on direction + return (a second per epoch)."""
    t = {"epochs": 3, "batch_size": 128, "device": "cpu", "heartbeat_s": 0.05, "lr": 3e-3, "num_workers": 0}
    t.update(train)
    return ExperimentConfig.model_validate({
        "name": name, "data": {"source": "synthetic", "synthetic": SYNTH, "window": 10},
        "tasks": [{"target": "direction"}, {"target": "return", "loss": "mse"}],
        "model": {"name": "lstm_transformer", "params": TINY_MODEL}, "train": t,
    })


def config_file(tmp: Path, **train: Any) -> Path:
    """The tiny config as a YAML file for ``finmt train --config``."""
    path = tmp / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config(**train).model_dump(mode="json")))
    return path


def start(args: list[str], log: Path, **env: str) -> subprocess.Popen[bytes]:
    """``finmt ARGS`` in a subprocess with the fault hooks of hooked_train.py (env ``FAULT_*``),
    one torch thread, output to ``log``."""
    full = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **env)
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, str(HOOKED), *args], cwd=str(REPO), env=full,
                                stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait_for(predicate: Callable[[], bool], what: str, proc: subprocess.Popen[bytes] | None = None,
             log: Path | None = None, timeout_s: float = 240.0) -> None:
    """Poll ``predicate`` until true (generous deadline: the machine may be busy)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None and not predicate():
            raise AssertionError(f"process ended (rc {proc.returncode}) before {what}:\n{_tail(log)}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}:\n{_tail(log)}")


def _tail(log: Path | None) -> str:
    return "" if log is None or not log.exists() else log.read_text(errors="replace")[-3000:]


def kill9(proc: subprocess.Popen[bytes]) -> None:
    """``kill -9`` and reap."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def temp_files(run: RunDir) -> list[str]:
    return sorted(p.name for d in (run.path, run.checkpoints_dir) if d.is_dir() for p in d.iterdir()
                  if p.name.endswith(".tmp"))


def assert_whole(run: RunDir, epochs: int | None = None) -> list[int]:
    """Every file of the run parses and metrics.jsonl holds epochs 1..N in order, once each
    (N = ``epochs`` when given; N is last.pt's epoch, or one less when a kill came between
    writing last.pt and appending its line, which a resume restores). Returns the epochs."""
    lines = [ln for ln in run.metrics_path.read_text(encoding="utf-8").splitlines() if ln.strip()] \
        if run.metrics_path.exists() else []
    logged = [int(json.loads(ln)["epoch"]) for ln in lines]  # every line whole
    assert logged == list(range(1, len(logged) + 1)), logged
    if epochs is not None:
        assert len(logged) == epochs, logged
    json.loads(run.status_path.read_text())
    run.config()
    if run.last_checkpoint.exists():
        ckpt_epoch = int(load_checkpoint(run.last_checkpoint)["epoch"])
        assert len(logged) in (ckpt_epoch, ckpt_epoch - 1), (logged, ckpt_epoch)
    return logged
