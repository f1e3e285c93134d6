"""The epoch profiler (benchmarks/profile_epoch.py) accounts for the whole epoch and leaves no probe behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from benchmarks.profile_epoch import COMPUTE, PARTS, format_rows, profile_preset
from finmt_core.training import trainer as trainer_mod


@pytest.mark.slow  # a whole epoch with checkpoints: ~15 s on a quiet machine, a minute on a busy one
def test_parts_add_up_to_the_epoch_and_probes_are_removed(tmp_path: Path) -> None:
    backward, loader = torch.Tensor.backward, trainer_mod.epoch_loader
    r = profile_preset(str(tmp_path), "lstm_transformer", n_stocks=6, n_days=260, batches=2)
    assert r["batches"] == 2 and r["rows"] == 2 * r["batch_size"]  # the trainer's own count of train rows
    assert set(r["seconds"]) == set(PARTS) and all(v >= 0 for v in r["seconds"].values())
    assert sum(r["seconds"].values()) == pytest.approx(r["wall_s"], rel=1e-6)
    assert r["compute_share"] == pytest.approx(sum(r["share"][p] for p in COMPUTE) / (1 - r["share"]["validation"]))
    assert r["seconds"]["forward"] > 0 and r["seconds"]["backward"] > 0 and r["seconds"]["optimizer"] > 0
    assert r["seconds"]["validation"] > 0 and r["seconds"]["callbacks"] > 0  # checkpoints were written
    assert torch.Tensor.backward is backward and trainer_mod.epoch_loader is loader
    table = format_rows([r]).splitlines()
    assert len(table) == 3 and table[2].startswith("| lstm_transformer |")
    assert len({line.count("|") for line in table}) == 1  # header, separator and rows line up
