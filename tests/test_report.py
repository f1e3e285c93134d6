"""The report: one valid, self-contained HTML file with every section — from a hand-written run
directory (no checkpoint, data gone) and from a real run."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import run_factory

from finmt_core.config import ExperimentConfig
from finmt_core.errors import RunError
from finmt_core.report import SECTIONS, build_report

VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "source", "wbr"}


class _Checker(HTMLParser):
    """Tracks open tags: a well-formed page closes every non-void tag in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: set[str] = set()
        self.errors: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag in ("script", "link", "img") and (a.get("src") or a.get("href") or "").startswith(("http:", "https:", "//")):
            self.external.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()


def _check(path: Path) -> tuple[_Checker, str]:
    text = path.read_text(encoding="utf-8")
    c = _Checker()
    c.feed(text)
    assert text.startswith("<!DOCTYPE html>")
    assert not c.errors and not c.stack, (c.errors[:3], c.stack[-3:])
    assert not c.external  # self-contained
    # sections the run's tasks cannot fill are left out; every navigation link has its section
    assert {sid for sid, _ in SECTIONS} - {"classification", "regression", "signal-gating"} <= c.ids
    assert set(re.findall(r'<a href="#([a-z-]+)">', text)) <= c.ids
    return c, text


def _hand_made_run(root: Path) -> Path:
    """config.yaml, status.json, metrics.jsonl, predictions.parquet and evaluation.json written
    by hand; the data source does not exist any more and there is no checkpoint."""
    run = root / "hand"
    run.mkdir()
    cfg = ExperimentConfig.from_dict({"name": "hand", "data": {"source": str(root / "gone.csv")},
                                      "tasks": [{"target": "direction"}, {"target": "return"}], "model": {"name": "tgcn"}})
    (run / "config.yaml").write_text(cfg.to_yaml())
    (run / "status.json").write_text(json.dumps({"state": "done", "epoch": 2, "epochs": 10, "best_epoch": 2}))
    lines = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "train": {"direction": 0.7 / e, "return": 0.3 / e},
              "val": {"direction": 0.8 / e, "return": 0.4 / e}, "weights": {"direction": 1.0, "return": 1.0},
              "lr": {"default": 1e-3}, "samples_per_s": 900.0, "epoch_time_s": 1.5} for e in (1, 2)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    rng = np.random.default_rng(0)
    dates = np.repeat(pd.bdate_range("2021-03-01", periods=20).to_numpy(), 5)
    p_up = rng.uniform(0.3, 0.7, len(dates))
    ret = rng.normal(0, 0.01, len(dates))
    pd.DataFrame({"date": dates, "ticker": np.tile([f"T{i}" for i in range(5)], 20), "split": "test",
                  "direction_pred": (p_up > 0.5).astype(int), "direction_prob_Down": 1 - p_up, "direction_prob_Up": p_up,
                  "direction_target": (ret > 0).astype(float), "return_pred": ret * 0.1 + rng.normal(0, 0.002, len(dates)),
                  "return_target": ret}).to_parquet(run / "predictions.parquet", index=False)
    ev = {"run": {"name": "hand"}, "splits": {"train": ["2020-01-02", "2020-12-30"], "val": ["2021-01-05", "2021-02-25"],
                                                "test": ["2021-03-01", "2021-03-26"]},
          "tasks": {"direction": {"n": 100, "accuracy": 0.53, "balanced_accuracy": 0.52, "mcc": 0.04, "roc_auc": 0.54},
                    "return": {"n": 100, "ic": 0.03, "rank_ic": 0.02, "mae": 0.008}},
          "baselines": {"naive_majority": {"direction": {"n": 100, "accuracy": 0.51}, "return": {"n": 100, "ic": None, "mae": 0.0081}}},
          "significance": {"direction": {"metric": "accuracy", "model": {"value": 0.53, "ci_low": 0.47, "ci_high": 0.59},
                                         "vs": {"naive_majority": {"value": 0.02, "ci_low": -0.04, "ci_high": 0.08, "significant": 0.0}}}},
          "confusion": {"direction": {"classes": ["Down", "Up"], "matrix": [[20, 30], [17, 33]]}},
          "signal_gated": None, "breakdowns": {"regime": {}, "ticker": {}, "cross_task_correlation": {}},
          "warnings": ["direction: the edge over naive_majority is within noise"]}
    (run / "evaluation.json").write_text(json.dumps(ev))
    return run


def test_report_from_a_hand_made_run(tmp_path: Path) -> None:
    run = _hand_made_run(tmp_path)
    out = build_report(run, tmp_path / "out" / "report.html")
    _, text = _check(out)
    from plotly.offline import get_plotlyjs

    assert text.count(get_plotlyjs()[:300]) == 1  # the library, inlined once
    assert "could not be rebuilt" in text  # data gone: said plainly, not a crash
    assert "within noise" in text and "naive_majority" in text
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["report.html"]  # atomic: no temp file left
    assert str(tmp_path) not in text and "gone.csv" in text  # the data file by name, never its server path
    assert 'id="classification"' in text and 'id="regression"' in text  # direction + return: both kinds
    assert 'id="signal-gating"' not in text  # not evaluated with gating: no empty section


def test_report_needs_predictions(tmp_path: Path) -> None:
    run = _hand_made_run(tmp_path)
    (run / "predictions.parquet").unlink()
    with pytest.raises(RunError, match="no predictions"):
        build_report(run, tmp_path / "r.html")


@pytest.mark.slow
def test_report_of_a_real_run(tmp_path: Path) -> None:
    from finmt_core.evaluation.evaluate import evaluate_run

    run = run_factory.make_run(tmp_path, "rep", "lstm_transformer")
    evaluate_run(run.path, baseline_params={"lightgbm": {"n_jobs": 1, "n_estimators": 30}})
    before = run_factory.snapshot(run)
    out = build_report(run.path, tmp_path / "report.html")
    _, text = _check(out)
    assert text.count('class="plotly-graph-div"') >= 15
    for phrase in ("Results: model vs baselines", "Integrated Gradients", "equal-weight buy &amp; hold", "Signal-gated"):
        assert phrase in text
    assert run_factory.snapshot(run) == before
