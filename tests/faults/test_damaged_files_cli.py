"""Hand-damaged run files through the CLI: one ``error:`` line naming the file and the fix,
exit 2, never a traceback; files a command does not need do not stop it; following the
message's advice repairs the run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fault_helpers import assert_whole, tiny_config
from typer.testing import CliRunner

from finmt_core.cli import app
from finmt_core.training import train_run
from finmt_core.training.callbacks import Callback
from finmt_core.training.runs import RunDir

pytestmark = pytest.mark.faults
runner = CliRunner()


def cli(*args: str):
    res = runner.invoke(app, list(args))
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res


def one_error(res) -> str:
    """The single ``error:`` line of a failed command (exit 2)."""
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, res.output
    return errors[0]


def panel_of(root: Path) -> str:
    return str(root.parent / f"{root.name}-panel.parquet")


COMMANDS = {
    "evaluate": lambda root, run: ["evaluate", run, "--runs-dir", str(root), "--no-backtest"],
    "backtest": lambda root, run: ["backtest", run, "--runs-dir", str(root)],
    "predict": lambda root, run: ["predict", run, "--runs-dir", str(root), "--data", panel_of(root)],
    "report": lambda root, run: ["report", run, "--runs-dir", str(root), "--no-explain",
                                 "--out", str(root.parent / f"{run}-report.html")],
}
#: (damage, command) -> a phrase of the expected one-line error
FAILS = {
    ("pred-truncated", "evaluate"): "predictions.parquet is damaged",
    ("pred-truncated", "backtest"): "predictions.parquet is damaged",
    ("pred-truncated", "report"): "predictions.parquet is damaged",
    ("pred-columns", "evaluate"): "lacks the column(s) direction_target",
    ("pred-columns", "backtest"): "lacks the column(s) direction_target",
    ("pred-columns", "report"): "lacks the column(s) direction_target",
    ("ckpt-best", "evaluate"): "best.pt: the file is damaged",
    ("ckpt-best", "backtest"): "best.pt: the file is damaged",
    ("ckpt-best", "predict"): "best.pt: the file is damaged",
    ("config", "evaluate"): "the config of run 'config' cannot be read",
    ("config", "backtest"): "the config of run 'config' cannot be read",
    ("config", "predict"): "the config of run 'config' cannot be read",
    ("config", "report"): "the config of run 'config' cannot be read",
    ("evaluation", "report"): "evaluation.json is damaged",
}
#: damage -> a phrase of the fix the line must name
FIXES = {"pred-truncated": "finmt train --resume pred-truncated", "pred-columns": "finmt train --resume pred-columns",
         "ckpt-best": "cp ", "config": "Repair ", "evaluation": "finmt evaluate evaluation"}


@pytest.mark.parametrize(("damage", "command"), list(FAILS))
def test_damaged_file_gives_one_clear_line(damaged_root, damage, command) -> None:
    line = one_error(cli(*COMMANDS[command](damaged_root, damage)))
    assert FAILS[damage, command] in line
    assert FIXES[damage] in line


@pytest.mark.parametrize(("damage", "command"), [("pred-truncated", "predict"), ("status", "backtest"),
                                                 ("metrics", "backtest"), ("ckpt-best", "report")])
def test_a_damaged_file_the_command_does_not_need_does_not_stop_it(damaged_root, damage, command) -> None:
    res = cli(*COMMANDS[command](damaged_root, damage))
    assert res.exit_code == 0, res.output


def test_runs_lists_a_run_with_a_damaged_status_as_damaged(damaged_root) -> None:
    res = cli("runs", "--runs-dir", str(damaged_root))
    assert res.exit_code == 0
    rows = {ln.split()[0]: ln for ln in res.output.splitlines()[1:]}
    assert set(rows) >= {"ok", "status", "metrics", "config"}  # none vanished
    assert rows["status"].split()[2] == "damaged"


class CancelAfter(Callback):
    def __init__(self, n: int) -> None:
        self.n = n

    def on_epoch_end(self, trainer, record) -> None:
        if record["epoch"] == self.n:
            trainer.run.request_cancel()


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """A real run of 3 epochs cancelled after epoch 1 (last.pt with the optimizer state)."""
    root = tmp_path_factory.mktemp("stopped")
    return train_run(tiny_config(epochs=3), root, name="stopped", callbacks=[CancelAfter(1)])


def copy_of(run: RunDir, tmp_path: Path, name: str) -> RunDir:
    shutil.copytree(run.path, tmp_path / name)
    return RunDir(tmp_path / name)


def test_damaged_last_checkpoint_says_what_to_do_and_that_works(stopped, tmp_path) -> None:
    run = copy_of(stopped, tmp_path, "r")
    run.last_checkpoint.write_bytes(run.last_checkpoint.read_bytes()[:2000])
    line = one_error(cli("train", "--resume", "r", "--runs-dir", str(tmp_path)))
    assert "last.pt: the file is damaged" in line and "Delete it and run `finmt train --resume r`" in line
    assert run.status()["state"] == "cancelled"  # the refused resume changed nothing
    run.last_checkpoint.unlink()  # the advice: train the run again from epoch 1
    assert cli("train", "--resume", "r", "--runs-dir", str(tmp_path)).exit_code == 0
    assert assert_whole(run, epochs=3) == [1, 2, 3]  # restarted, not 1, 1, 2, 3
    assert run.status()["state"] == "done"


def test_damaged_metrics_lines_then_resume_logs_each_epoch_once(stopped, tmp_path) -> None:
    run = copy_of(stopped, tmp_path, "r")
    good = run.metrics_path.read_bytes()
    run.metrics_path.write_bytes(good[:10] + b"\xff\xfe" + good[12:] + b'{"epoch": 2, "val\n\x00\x00garbage\n')
    res = cli("train", "--resume", "r", "--runs-dir", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert assert_whole(run, epochs=3) == [1, 2, 3]  # epoch 1's line restored from last.pt


def test_damaged_status_then_resume_rewrites_it(stopped, tmp_path) -> None:
    run = copy_of(stopped, tmp_path, "r")
    run.status_path.write_text('{"state": "cancel')
    assert run.effective_state() == "damaged"
    assert cli("train", "--resume", "r", "--runs-dir", str(tmp_path)).exit_code == 0
    assert run.status()["state"] == "done" and json.loads(run.status_path.read_text())["epoch"] == 3
    # a damaged predictions.parquet of the finished run: the message's fix re-predicts, nothing retrains
    run.predictions_path.write_bytes(run.predictions_path.read_bytes()[:100])
    assert "finmt train --resume r" in one_error(cli("backtest", "r", "--runs-dir", str(tmp_path)))
    assert cli("train", "--resume", "r", "--runs-dir", str(tmp_path)).exit_code == 0
    assert assert_whole(run, epochs=3) == [1, 2, 3]
    assert cli("backtest", "r", "--runs-dir", str(tmp_path)).exit_code == 0
