"""Ensemble runs end to end on a planted market: members trained tiny, weights on validation,
predictions, evaluation beside the members, refusal of mismatched members, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ens_helpers import MARKET, tiny_config
from typer.testing import CliRunner

from finmt_core.config import ExperimentConfig
from finmt_core.errors import ConfigError
from finmt_core.training.pipeline import train_run


def test_ensemble_weights_on_validation_and_loss_not_worse(members: tuple[Path, list[str]], ensemble_run: Path) -> None:
    from finmt_core.ensemble.build import read_summary
    from finmt_core.training.runs import RunDir

    root, names = members
    run = RunDir(ensemble_run)
    summary = read_summary(run.path)
    assert summary is not None and summary["members"] == names and summary["fitted_on"] == "val"
    for task, s in summary["tasks"].items():
        w = np.array(list(s["weights"].values()))
        assert (w >= 0).all() and w.sum() == pytest.approx(1.0, abs=1e-9), task
        assert s["loss"] <= max(s["member_losses"].values()) + 1e-12, task  # never worse than the worse member
        assert s["loss"] <= min(s["member_losses"].values()) + 1e-9, task  # vertices are candidates
        assert s["loss"] <= s["equal_loss"] + 1e-12, task
    # the metrics line's validation loss is the ensemble's own: recompute from its predictions
    rec = RunDir(run.path).metric_records()[-1]
    assert rec["val_loss"] is not None and np.isfinite(rec["val_loss"])
    preds = RunDir(run.path).predictions()
    assert set(preds["split"]) == {"val", "test"}
    probs = preds[["direction_prob_Down", "direction_prob_Up"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # the ensemble's val predictions are the weighted members' on the same rows
    member_val = [RunDir(root / n).predictions().query("split == 'val'").set_index(["date", "ticker"]) for n in names]
    val = preds.query("split == 'val'").set_index(["date", "ticker"])
    w = np.array(list(summary["tasks"]["return"]["weights"].values()))
    mixed = sum(wi * m.loc[val.index, "return_pred"].to_numpy() for wi, m in zip(w, member_val, strict=True))
    np.testing.assert_allclose(val["return_pred"].to_numpy(), mixed, rtol=1e-4, atol=1e-6)
    # evaluation: members and equal weights beside the usual baselines, on the same rows
    ev = json.loads((run.path / "evaluation.json").read_text())
    assert {f"member:{n}" for n in names} | {"equal_weights", "naive_zero"} <= set(ev["baselines"])
    assert ev["ensemble"]["members"] == names
    assert ev["run"]["model"] == "ensemble"


def test_predictor_and_latest_calls_of_an_ensemble(members: tuple[Path, list[str]]) -> None:
    from finmt_core.ensemble.build import build_ensemble
    from finmt_core.inference import Predictor
    from finmt_core.training import load_run_data
    from finmt_core.training.runs import RunDir

    root, names = members
    run = build_ensemble(root, names[1:], name="ens-two", method="equal", evaluate=False)
    pred = Predictor.from_run(run.path)
    panel, _ = load_run_data(run.path)
    latest = pred.predict(panel, dates="latest")
    assert len(latest) == MARKET["n_stocks"] and latest["split"].eq("predict").all()
    # equal weights: the mean of the two members' own latest calls
    calls = [Predictor.from_run(root / n).predict(panel, dates="latest") for n in names[1:]]
    np.testing.assert_allclose(latest["return_pred"], (calls[0]["return_pred"] + calls[1]["return_pred"]) / 2,
                               rtol=1e-5, atol=1e-7)
    # the same rows through the run's own data give the same numbers as predictions.parquet
    test = RunDir(run.path).predictions().query("split == 'test'")
    again = pred.predict(panel, dates=list(test["date"].unique()[-2:]))
    merged = again.merge(test, on=["date", "ticker"], suffixes=("", "_run"))
    np.testing.assert_allclose(merged["return_pred"], merged["return_pred_run"], rtol=1e-5, atol=1e-7)


def test_members_with_other_tasks_or_data_are_refused(members: tuple[Path, list[str]], tmp_path: Path) -> None:
    from finmt_core.ensemble.build import build_ensemble

    root, names = members
    other = train_run(tiny_config("naive_zero", {}, tasks=[{"name": "direction", "target": "direction", "horizon": 5}]),
                      root, name="other-h5")
    with pytest.raises(ConfigError, match=r"different tasks.*h5"):
        build_ensemble(root, [names[2], other.name], name="bad")
    assert not (root / "bad").exists()
    cfg = tiny_config("naive_zero", {}).model_dump(mode="json")
    cfg["data"]["synthetic"] = {**MARKET, "seed": 4}
    moved = train_run(ExperimentConfig.from_dict(cfg), root, name="other-data")
    with pytest.raises(ConfigError, match=r"different data: data\.synthetic"):
        build_ensemble(root, [names[2], moved.name], name="bad2")
    with pytest.raises(ConfigError, match="at least two"):
        build_ensemble(root, [names[2]], name="bad3")


def test_cli_ensemble_prints_weights_and_refuses_cleanly(members: tuple[Path, list[str]]) -> None:
    from finmt_core.cli import app

    root, names = members
    res = CliRunner().invoke(app, ["ensemble", names[1], names[2], "--name", "cli-ens", "--runs-dir", str(root),
                                   "--no-evaluate"])
    assert res.exit_code == 0, res.output
    assert "cli-ens" in res.output and "weight" in res.output
    res = CliRunner().invoke(app, ["ensemble", names[1], "--name", "cli-bad", "--runs-dir", str(root)])
    assert res.exit_code == 2 and "at least two" in res.output


@pytest.mark.slow
def test_report_of_an_ensemble_points_to_its_members(members: tuple[Path, list[str]], ensemble_run: Path,
                                                     tmp_path: Path) -> None:
    from finmt_core.report import build_report

    out = build_report(ensemble_run, tmp_path / "report.html", explain=True)
    html = out.read_text()
    assert "An ensemble has no inputs of its own to explain" in html and "member:gbm" in html
