"""torchrun across nodes: two `finmt train --nnodes 2 --node-rank R` launchers on this machine form
one gloo job, and DDP sees the single-process batches."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from finmt_core.data.tensors import BatchIndexSampler
from finmt_core.errors import ConfigError
from finmt_core.training.checkpoint import load_checkpoint, model_from_checkpoint
from finmt_core.training.launch import torchrun_command
from finmt_core.training.loaders import GlobalBatchShare
from finmt_core.training.session import weights_fingerprint

#: rows per rank and batch; the one-process reference uses 2 x this
BATCH = 32
TINY = {
    "data": {"window": 10, "synthetic": {"n_stocks": 5, "n_days": 260, "n_sectors": 1, "seed": 4}},
    # dropout off: each rank draws its own dropout masks, which a one-process run cannot reproduce
    "model": {"params": {"dropout": 0.0}},
    "train": {"epochs": 2, "batch_size": BATCH, "max_batches_per_epoch": 4, "device": "cpu"},
}
#: Tolerance of the DDP vs one-process loss comparison (relative, per epoch and task). Both runs see
#: the same global batches in the same order (GlobalBatchShare), so what remains is (a) DDP averaging
#: the two ranks' per-task *means* where one process takes one mean over the whole batch — equal only
#: when a task's valid rows split evenly between the ranks (`direction` is masked by its move size),
#: and (b) float32 summation order. Measured here: at most 1e-4 relative; 2e-3 leaves room for
#: other BLAS builds while any change of data order or gradient averaging (percent-level) fails it.
RTOL = 2e-3


@pytest.mark.parametrize(("n", "world", "batch", "shuffle"), [(103, 2, 8, True), (100, 3, 5, True), (7, 4, 1, False)])
def test_rank_shares_rebuild_the_single_process_batches(n: int, world: int, batch: int, shuffle: bool) -> None:
    single = list(BatchIndexSampler(n, world * batch, shuffle, seed=17))
    shares = [list(GlobalBatchShare(n, batch, world, r, shuffle, seed=17)) for r in range(world)]
    assert all(len(s) == len(single) for s in shares)  # DDP ranks stay in step
    for i, full in enumerate(single):
        parts = [s[i] for s in shares]
        assert all(len(p) >= 1 for p in parts)
        if len(full) >= world:  # every row once, in the single process's order
            assert torch.equal(torch.cat(parts), full)
        else:  # fewer rows than ranks: rows lent again, none invented
            assert set(torch.cat(parts).tolist()) == set(full.tolist())


def test_node_rank_uses_the_static_rendezvous_so_node_0_holds_rank_0() -> None:
    cmd = torchrun_command([], nproc=1, nnodes=2, node_rank=1, rdzv_endpoint="10.0.0.1:29500")
    assert "--rdzv-backend=static" in cmd and "--node-rank=1" in cmd and "--rdzv-endpoint=10.0.0.1:29500" in cmd
    elastic = torchrun_command([], nproc=1, nnodes=2, rdzv_endpoint="10.0.0.1:29500", run_id="r")
    assert "--rdzv-backend=c10d" in elastic and "--rdzv-id=r" in elastic
    with pytest.raises(ConfigError, match="node-rank 2"):
        torchrun_command([], nproc=1, nnodes=2, node_rank=2, rdzv_endpoint="h:1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _losses(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_nodes_form_one_job_in_sync_and_match_one_process(tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    runs = tmp_path / "runs"
    base = [sys.executable, "-m", "finmt_core.cli", "train", "--data", "synthetic", "--preset", "lstm_transformer",
            "--config", str(cfg), "--run-dir", str(runs)]
    endpoint = f"127.0.0.1:{_free_port()}"
    # node 1 starts first: node 0 must still hold rank 0 (the writer)
    nodes = {r: subprocess.Popen([*base, "--name", "two-nodes", "--nnodes", "2", "--node-rank", str(r),
                                  "--rdzv-endpoint", endpoint], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for r in (1, 0)}
    outs = {r: p.communicate(timeout=900) for r, p in nodes.items()}
    assert all(p.returncode == 0 for p in nodes.values()), {r: o[1][-3000:] for r, o in outs.items()}
    assert "run two-nodes: done" in outs[0][0] and "run two-nodes" not in outs[1][0]  # rank 0 on node 0 reports

    run = runs / "two-nodes"
    assert [p.name for p in runs.iterdir()] == ["two-nodes"]  # one run directory, written once
    records = _losses(run)
    assert [r["epoch"] for r in records] == [1, 2]
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "done" and status["ddp"]["world_size"] == 2 and status["ddp"]["weights_in_sync"]
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    saved = sum(weights_fingerprint(model_from_checkpoint(ckpt)))
    assert status["ddp_rank_checksums"] == pytest.approx([saved, saved], rel=1e-9)  # every rank = the file

    # the same global batch in one process: 2 x BATCH rows per step
    single_cfg = tmp_path / "single.yaml"
    single_cfg.write_text(yaml.safe_dump({**TINY, "train": {**TINY["train"], "batch_size": 2 * BATCH}}))
    single = [a if a != str(cfg) else str(single_cfg) for a in base]
    proc = subprocess.run([*single, "--name", "one-process"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for ddp, ref in zip(records, _losses(runs / "one-process"), strict=True):
        assert ddp["train_loss"] == pytest.approx(ref["train_loss"], rel=RTOL)
        assert ddp["val_loss"] == pytest.approx(ref["val_loss"], rel=RTOL)
        for task, value in ref["train"].items():
            assert ddp["train"][task] == pytest.approx(value, rel=RTOL), (ddp["epoch"], task)
