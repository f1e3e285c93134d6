"""An ensemble config with member_presets trains its members first, reuses identical finished
runs on a second training, and refuses members whose tasks differ from its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from ens_helpers import MARKET

from finmt_core.config import ExperimentConfig, load_preset
from finmt_core.errors import ConfigError
from finmt_core.training.pipeline import train_run
from finmt_core.training.runs import list_runs

FAST = {"n_estimators": 20, "num_leaves": 7, "min_child_samples": 20, "lags": [1]}


def _ensemble(presets: list[dict]) -> ExperimentConfig:
    base = load_preset("lgbm_lstm_fusion").model_dump(mode="json")
    base["data"] = {"source": "synthetic", "synthetic": MARKET, "window": 10}
    base["model"]["params"]["member_presets"] = presets
    return ExperimentConfig.from_dict(base)


def test_member_presets_are_trained_then_reused(tmp_path: Path) -> None:
    members = [{"preset": "lightgbm", "overrides": {"model": {"params": {**FAST, "seed": s}}, "data": {"window": 10}}}
               for s in (0, 1)]
    cfg = _ensemble(members)
    first = train_run(cfg, tmp_path, name="fusion-a")
    assert first.status()["state"] == "done"
    built = first.config().model.params
    assert len(built["members"]) == 2 and Path(built["runs_root"]) == tmp_path.resolve()
    member_cfgs = [ExperimentConfig.from_yaml(tmp_path / m / "config.yaml") for m in built["members"]]
    # the members got the ensemble's data and their own overrides
    assert all(c.data.synthetic == MARKET and c.model.name == "lightgbm" for c in member_cfgs)
    assert [c.model.params["seed"] for c in member_cfgs] == [0, 1]
    assert (first.path / "ensemble.json").is_file() and first.predictions_path.is_file()
    n_runs = len(list_runs(tmp_path))
    second = train_run(cfg, tmp_path, name="fusion-b")
    assert second.config().model.params["members"] == built["members"]  # reused, not retrained
    assert len(list_runs(tmp_path)) == n_runs + 1


def test_members_must_predict_the_ensembles_tasks(tmp_path: Path) -> None:
    cfg = _ensemble([{"preset": "naive", "overrides": {"data": {"window": 10}}},
                     {"preset": "naive", "overrides": {"data": {"window": 10}, "train": {"seed": 1}}}])
    with pytest.raises(ConfigError, match="are not its members'"):  # naive has no quantiles task
        train_run(cfg, tmp_path, name="fusion-bad")
    assert list_runs(tmp_path) == []  # refused before any member trained
    with pytest.raises(ConfigError, match="member_presets"):
        train_run(_ensemble([]), tmp_path, name="empty")
