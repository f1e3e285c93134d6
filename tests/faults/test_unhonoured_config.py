"""A config key a command cannot honour is an error, never silently ignored."""

from __future__ import annotations

import pytest
import yaml
from fault_helpers import tiny_config
from typer.testing import CliRunner

from finmt_core.cli import app

pytestmark = pytest.mark.faults


def _wf_file(tmp_path) -> str:
    cfg = tiny_config().model_dump(mode="json")
    cfg["split"]["folds"] = 3
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_tune_refuses_walk_forward_folds_instead_of_ignoring_them(tmp_path) -> None:
    res = CliRunner().invoke(app, ["tune", "--preset", "lstm_transformer", "--config", _wf_file(tmp_path),
                                   "--runs-dir", str(tmp_path / "runs"), "--trials", "1"])
    assert res.exit_code == 2
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "split.folds = 3" in errors[0] and "Set split.folds: 1" in errors[0]
    assert not (tmp_path / "runs").exists()  # nothing written


def test_train_refuses_walk_forward_folds_under_torchrun(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it in every process it starts
    res = CliRunner().invoke(app, ["train", "--config", _wf_file(tmp_path), "--runs-dir", str(tmp_path / "runs")])
    assert res.exit_code == 2
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "split.folds = 3" in errors[0] and "--nproc" in errors[0]
    assert not (tmp_path / "runs").exists()


def test_resume_refuses_flags_it_cannot_honour(tmp_path) -> None:
    res = CliRunner().invoke(app, ["train", "--resume", "r", "--seed", "3", "--horizon", "5", "--runs-dir", str(tmp_path)])
    assert res.exit_code == 2
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "--horizon, --seed cannot change it" in errors[0]
