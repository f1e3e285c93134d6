"""The runs root has one way in: ``--runs-dir`` on every verb, ``FINMT_RUNS_DIR`` as its
default, ``--run-dir`` a hidden deprecated alias that works identically and warns."""

from __future__ import annotations

import logging

import pytest
import typer
from typer.testing import CliRunner

from finmt_core.cli import app
from finmt_core.commands._common import runs_root
from finmt_core.config import ExperimentConfig
from finmt_core.errors import ConfigError
from finmt_core.runs_root import RUNS_ENV
from finmt_core.training.runs import create_run, open_run

#: every verb that reads or writes run directories
RUN_VERBS = {"train", "runs", "evaluate", "backtest", "predict", "report", "compare", "export", "serve",
             "ensemble", "tune", "dashboard"}


def _options(command) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {opt: p for p in command.params for opt in getattr(p, "opts", [])}


def test_every_run_verb_has_runs_dir_and_hides_the_old_spelling() -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    with_root = {name for name, c in commands.items() if "--runs-dir" in _options(c)}
    assert with_root >= RUN_VERBS
    for name in with_root - {"learning"}:  # learning's --runs-dir keeps scratch runs (default: a temp folder)
        opts = _options(commands[name])
        assert "--run-dir" in opts and opts["--run-dir"].hidden, name
        assert not opts["--runs-dir"].hidden, name
    help_text = CliRunner().invoke(app, ["train", "--help"]).output
    assert "--runs-dir" in help_text and "--run-dir " not in help_text and RUNS_ENV in help_text


def test_resolution_order(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.delenv(RUNS_ENV, raising=False)
    assert str(runs_root(None)) == "runs"
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "env"))
    assert runs_root(None) == tmp_path / "env"  # the variable is only the default
    assert runs_root(tmp_path / "flag") == tmp_path / "flag"
    with caplog.at_level(logging.WARNING, logger="finmt_core.commands"):
        assert runs_root(None, tmp_path / "old") == tmp_path / "old"  # the alias beats the variable too
    assert "--run-dir is deprecated" in caplog.text and "--runs-dir" in caplog.text
    assert runs_root(tmp_path / "same", tmp_path / "same") == tmp_path / "same"
    with pytest.raises(ConfigError, match="different folders"):
        runs_root(tmp_path / "a", tmp_path / "b")


def test_both_spellings_list_the_same_runs(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.delenv(RUNS_ENV, raising=False)
    create_run(tmp_path, "queued-one", ExperimentConfig())
    runner = CliRunner()
    new = runner.invoke(app, ["runs", "--runs-dir", str(tmp_path)])
    with caplog.at_level(logging.WARNING, logger="finmt_core.commands"):
        old = runner.invoke(app, ["runs", "--run-dir", str(tmp_path)])
    assert new.exit_code == old.exit_code == 0
    assert "queued-one" in new.stdout and new.stdout == old.stdout
    assert "deprecated" in caplog.text
    monkeypatch.setenv(RUNS_ENV, str(tmp_path))
    assert runner.invoke(app, ["runs"]).stdout == new.stdout  # FINMT_RUNS_DIR alone: the same folder
    clash = runner.invoke(app, ["runs", "--runs-dir", str(tmp_path), "--run-dir", str(tmp_path / "x")])
    assert clash.exit_code == 2 and "different folders" in clash.output


def test_a_training_job_finds_its_run_through_the_variable(tmp_path, monkeypatch) -> None:
    """The dashboard's training child gets the runs root in FINMT_RUNS_DIR: without any flag,
    ``finmt train --resume NAME`` starts the queued run there."""
    cfg = ExperimentConfig(data={"source": "synthetic", "synthetic": {"n_stocks": 6, "n_days": 200, "seed": 0},
                                 "window": 10}, model={"name": "naive_majority"}, train={"device": "cpu"})
    create_run(tmp_path, "queued", cfg)
    monkeypatch.setenv(RUNS_ENV, str(tmp_path))
    res = CliRunner().invoke(app, ["train", "--resume", "queued"])
    assert res.exit_code == 0, res.output
    assert open_run(tmp_path, "queued").status()["state"] == "done"
