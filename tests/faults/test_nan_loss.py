"""A NaN loss in one task fails the run, naming that task and the fix, in status.json, the
exception and ``finmt runs``; the files stay whole."""

from __future__ import annotations

import pytest
import torch
from fault_helpers import assert_whole, tiny_config
from typer.testing import CliRunner

from finmt_core.cli import app
from finmt_core.errors import RunError
from finmt_core.training import train_run
from finmt_core.training.callbacks import Callback
from finmt_core.training.runs import RunDir

pytestmark = pytest.mark.faults


class PoisonHead(Callback):
    """After epoch 1, one task head's weights become NaN (that task diverges)."""

    def __init__(self, task: str) -> None:
        self.task = task

    def on_epoch_end(self, trainer, record) -> None:
        if record["epoch"] == 1:
            with torch.no_grad():
                for p in trainer.model.heads[self.task].parameters():
                    p.fill_(float("nan"))


def test_nan_loss_fails_the_run_naming_the_task(tmp_path) -> None:
    with pytest.raises(RunError) as err:
        train_run(tiny_config(epochs=3), tmp_path, name="nan", callbacks=[PoisonHead("return")])
    msg = str(err.value)
    # the diverging head is named (its NaN gradients may reach the shared backbone, and the other
    # task, before the next sync point: those are named too)
    assert "NaN/inf in epoch 2 (task(s): " in msg and "return" in msg.split("task(s):")[1] and "lower train.lr" in msg
    run = RunDir(tmp_path / "nan")
    st = run.status()
    assert st["state"] == "failed" and "return" in st["error"].split("task(s):")[1]
    assert assert_whole(run) == [1]  # the last good epoch stays, resumable
    listing = CliRunner().invoke(app, ["runs", "--runs-dir", str(tmp_path)])
    assert listing.exit_code == 0 and "nan" in listing.output and "failed" in listing.output
