"""`finmt train --nproc 2` runs the unchanged trainer under torchrun (gloo on CPU)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from finmt_core.errors import ConfigError
from finmt_core.training.launch import strip_launch_options, torchrun_command

TINY = {
    "data": {"window": 10, "synthetic": {"n_stocks": 5, "n_days": 260, "n_sectors": 1, "seed": 4}},
    "train": {"epochs": 2, "batch_size": 64, "max_batches_per_epoch": 4, "device": "cpu"},
}


def test_launch_options_are_stripped_and_torchrun_command_built() -> None:
    argv = ["--data", "demo", "--nproc", "2", "--preset", "tgcn", "--rdzv-endpoint=h:1", "--nnodes", "1"]
    assert strip_launch_options(argv) == ["--data", "demo", "--preset", "tgcn"]
    one = torchrun_command(["--preset", "tgcn"], nproc=2)
    assert "--standalone" in one and "--nproc_per_node=2" in one
    assert one[-4:] == ["finmt_core.cli", "train", "--preset", "tgcn"]
    multi = torchrun_command([], nproc=4, nnodes=2, node_rank=1, rdzv_endpoint="10.0.0.1:29500", run_id="r")
    assert "--rdzv-endpoint=10.0.0.1:29500" in multi and "--node-rank=1" in multi and "--standalone" not in multi
    with pytest.raises(ConfigError, match="rdzv-endpoint"):
        torchrun_command([], nproc=1, nnodes=2)


@pytest.mark.slow
def test_two_gloo_processes_train_one_run_with_ranks_in_sync(tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "finmt_core.cli", "train", "--data", "synthetic", "--preset", "lstm_transformer",
           "--config", str(cfg), "--runs-dir", str(runs), "--name", "ddp", "--nproc", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert [p.name for p in runs.iterdir()] == ["ddp"]  # one run directory, written by rank 0 only
    lines = (runs / "ddp" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2]  # one metrics log, no duplicate lines
    status = json.loads((runs / "ddp" / "status.json").read_text())
    assert status["state"] == "done"
    assert status["ddp"] == {"world_size": 2, "weights_in_sync": True}
    assert (runs / "ddp" / "predictions.parquet").is_file()
