"""``finmt train`` / ``finmt runs``: a complete run from the command line, resume, clear errors."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from finmt_core.cli import app
from finmt_core.commands.train import build_config
from finmt_core.errors import ConfigError
from finmt_core.training.runs import open_run

#: Shrinks the tgcn preset for a CLI test: a small synthetic market, a short window.
SMALL = {
    "data": {"synthetic": {"n_stocks": 8, "n_days": 300, "n_sectors": 2, "seed": 0}, "window": 10},
    "model": {"params": {"hidden": 8}},
    "train": {"batch_size": 32, "heartbeat_s": 0.05},
}


@pytest.fixture()
def small_yaml(tmp_path):
    p = tmp_path / "small.yaml"
    p.write_text(yaml.safe_dump(SMALL))
    return p


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def test_train_synthetic_preset_gives_a_complete_run_and_resumes(tmp_path, small_yaml) -> None:
    runs = tmp_path / "runs"
    res = _invoke("train", "--data", "synthetic", "--preset", "tgcn", "--config", str(small_yaml),
                  "--epochs", "1", "--runs-dir", str(runs), "--name", "cli", "--device", "cpu", "--seed", "3")
    assert res.exit_code == 0, res.output
    assert "run cli: done" in res.output
    run = open_run(runs, "cli")
    cfg = run.config()
    assert cfg.preset == "tgcn" and cfg.data.source == "synthetic" and cfg.train.epochs == 1 and cfg.train.seed == 3
    assert run.status()["state"] == "done"
    assert [r["epoch"] for r in run.metric_records()] == [1]
    for p in (run.best_checkpoint, run.last_checkpoint, run.predictions_path):
        assert p.is_file()
    assert {"signal_prob_Signal", "direction_pred"} <= set(run.predictions().columns)

    res = _invoke("train", "--resume", "cli", "--epochs", "2", "--runs-dir", str(runs))
    assert res.exit_code == 0, res.output
    assert [r["epoch"] for r in run.metric_records()] == [1, 2]

    res = _invoke("runs", "--runs-dir", str(runs))
    assert res.exit_code == 0
    line = next(x for x in res.output.splitlines() if x.startswith("cli "))
    assert "tgcn" in line and "done" in line and "2/2" in line


def test_unknown_preset_exits_2_with_the_choices(tmp_path) -> None:
    res = _invoke("train", "--preset", "nope", "--runs-dir", str(tmp_path))
    assert res.exit_code == 2
    assert "unknown preset 'nope'" in res.output and "tgcn" in res.output and "lstm_transformer" in res.output
    assert not any(tmp_path.iterdir())  # nothing was created


def test_horizon_longer_than_the_data_is_a_clear_error(tmp_path, small_yaml) -> None:
    res = _invoke("train", "--data", "synthetic", "--preset", "tgcn", "--config", str(small_yaml),
                  "--horizon", "250", "--runs-dir", str(tmp_path))
    assert res.exit_code == 2
    assert "error:" in res.output and "history" in res.output


def test_resume_of_a_missing_run_and_bad_device(tmp_path) -> None:
    res = _invoke("train", "--resume", "ghost", "--runs-dir", str(tmp_path))
    assert res.exit_code == 2 and "no run named 'ghost'" in res.output
    res = _invoke("train", "--preset", "tgcn", "--device", "tpu", "--runs-dir", str(tmp_path))
    assert res.exit_code == 2 and "--device" in res.output


def test_runs_on_an_empty_folder(tmp_path) -> None:
    res = _invoke("runs", "--runs-dir", str(tmp_path))
    assert res.exit_code == 0 and "no runs" in res.output


def test_build_config_horizon_and_single_task() -> None:
    cfg = build_config(data="synthetic", preset="tgcn", config_file=None, horizon=5)
    assert {t.name: t.horizon for t in cfg.tasks} == {"signal": 5, "direction": 5}
    assert cfg.embargo >= 5
    single = build_config(data=None, preset="tgcn", config_file=None, single_task="direction")
    assert [t.name for t in single.tasks] == ["direction"] and single.tasks[0].mask_by is None
    assert single.preset == "tgcn-direction"
    with pytest.raises(ConfigError, match="not a task"):
        build_config(data=None, preset="tgcn", config_file=None, single_task="nope")
    with pytest.raises(ConfigError, match="--preset"):
        build_config(data=None, preset=None, config_file=None)


def test_horizon_renames_tasks_named_with_their_horizon(tmp_path) -> None:
    cfg = tmp_path / "vol.yaml"
    cfg.write_text("tasks:\n  - {name: volatility_5d, target: volatility, horizon: 5}\n"
                   "  - {name: regime_5d, target: regime, horizon: 5}\n")
    built = build_config(data=None, preset=None, config_file=cfg, horizon=3)
    assert [t.name for t in built.tasks] == ["volatility_3d", "regime_3d"]


def test_horizon_flag_reaches_every_task_and_keeps_the_dual_towers_pairs() -> None:
    from finmt_core.commands.train import build_config

    dual = build_config(data=None, preset="dual_tower", config_file=None, horizon=1)
    assert [(t.name, t.horizon) for t in dual.tasks] == [
        ("relevance_1d", 1), ("relevance_30d", 30), ("direction_1d", 1), ("direction_30d", 30)]
    long = build_config(data=None, preset="dual_tower", config_file=None, horizon=30)
    assert [(t.name, t.horizon) for t in long.tasks] == [("relevance_30d", 30), ("direction_30d", 30)]
    tgcn = build_config(data=None, preset="tgcn", config_file=None, horizon=5)
    assert [(t.name, t.horizon, t.mask_by) for t in tgcn.tasks] == [("signal", 5, None), ("direction", 5, "signal")]
