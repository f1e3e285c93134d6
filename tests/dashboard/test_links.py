"""Every view is a link: the settings that shape a page live in the URL, and opening a URL with
non-default settings in a fresh session shows the same widgets and the same numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from page_helpers import no_exception

from dashboard.fmt import pct


def _metrics(at: object) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}  # type: ignore[attr-defined]


def test_backtest_link_reproduces_the_settings_and_the_numbers(open_page, runs_root):
    at = open_page(runs_root, "backtest", run="rf-seq")
    at.number_input(key="bt_cost").set_value(200.0).run()
    at.slider(key="bt_gross").set_value(0.5).run()
    no_exception(at)
    assert at.query_params["bt_cost"] == "200" and at.query_params["bt_gross"] == "0.5"
    shown = _metrics(at)["Net total return"]
    fresh = open_page(runs_root, "backtest", run="rf-seq", bt_cost="200", bt_gross="0.5")  # a new session
    no_exception(fresh)
    assert fresh.number_input(key="bt_cost").value == 200.0 and fresh.slider(key="bt_gross").value == 0.5
    assert _metrics(fresh)["Net total return"] == shown
    fresh.number_input(key="bt_cost").set_value(10.0).run()  # back to the default: left out of the link
    assert "bt_cost" not in fresh.query_params


def test_signals_link_sets_the_threshold_and_the_table_shows_what_the_gate_tests(open_page, runs_root):
    from finmt_core.inference.gating import gated_accuracy
    from finmt_core.training.runs import RunDir

    at = open_page(runs_root, "signals", run="rf-tgcn", sg_threshold="0.6")
    no_exception(at)
    assert at.slider(key="sg_threshold").value == 0.6
    preds = RunDir(runs_root / "rf-tgcn").predictions()
    test = preds[preds["split"] == "test"].reset_index(drop=True)
    assert _metrics(at)["Calls"] == str(int(gated_accuracy(test, 0.6)["n_calls"]))
    table = at.dataframe[0].value
    calls = table["gate"].astype(str) != "Neutral"
    assert (table.loc[calls, "confidence"] >= 0.6).all() and (table.loc[~calls, "confidence"] < 0.6).all()
    assert "gate_code" not in table.columns


def test_curves_link_reopens_the_compared_runs_and_the_scale(open_page, runs_root):
    at = open_page(runs_root, "curves", run="fx-tgcn", compare="fx-seq", curves_log="1", compare_side="train")
    no_exception(at)
    assert at.multiselect(key="compare").value == ["fx-seq"]
    assert at.toggle(key="curves_log").value is True
    assert at.get("segmented_control")  # the loss / segment choice of the comparison
    assert any(getattr(b, "label", "") == "Overlaid curves (CSV)" for b in at.get("download_button"))


def test_whatif_link_reapplies_the_shock(open_page, runs_root):
    at = open_page(runs_root, "whatif", run="rf-seq", wi_return="-10", wi_vol="2")
    no_exception(at)
    assert at.slider(key="wi_return").value == -10.0 and at.slider(key="wi_vol").value == 2.0
    assert any(m.delta not in (None, "+0.0000", "-0.0000") for m in at.metric)
    caption = "\n".join(c.value for c in at.caption)
    assert "last return -10.0%" in caption and "volatility 2.0×" in caption and "{" not in caption


def test_evaluation_link_picks_the_metric_and_shows_no_raw_missing_values(open_page, runs_root):
    at = open_page(runs_root, "evaluation", run="rf-tgcn", eval_metric="balanced_accuracy", eval_norm="0")
    no_exception(at)
    assert at.toggle(key="eval_norm").value is False
    frames = [d.value for d in at.dataframe]
    cells = pd.concat([f.astype(str).stack() for f in frames if len(f)])
    assert not cells.isin(["None", "nan", "nan – nan", "<NA>"]).any()
    labels = {b.label for b in at.get("download_button")}
    assert {"Metrics (CSV)", "signal: test predictions (CSV)", "direction: test predictions (CSV)"} <= labels


def test_data_link_opens_the_tab_and_the_settings(open_page, empty_root):
    at = open_page(empty_root, "data", data_tab="Labels", label_tasks="direction", label_h="5")
    no_exception(at)
    assert at.multiselect(key="label_tasks").value == ["direction"] and at.number_input(key="label_h").value == 5
    assert any("Date split (purged by the horizon)" in c.value for c in at.caption)  # the Labels tab is open


def test_invalid_link_values_fall_back_to_the_defaults(open_page, runs_root):
    at = open_page(runs_root, "backtest", run="rf-seq", bt_cost="lots", bt_gross="99", bt_strategy="nope")
    no_exception(at)
    assert at.number_input(key="bt_cost").value == 10.0 and at.slider(key="bt_gross").value == 1.0


def test_fmt_never_shows_raw_missing_values():
    from dashboard import fmt

    assert pct(1.0) == "100.0 %" and pct(float("nan")) == "—" and pct(None, reason="no calls") == "— (no calls)"
    assert fmt.interval(np.nan, np.nan) == "— (not computed)" and fmt.interval(0.1, 0.2, ".2f") == "0.10 – 0.20"
    assert fmt.source_name("/srv/runs/.uploads/prices.parquet") == "prices"
    assert fmt.source_name("/data/x/prices.csv") == "prices.csv" and fmt.source_name("demo") == "bundled demo data"
    assert fmt.settings_text({"cost_bps": 10.0, "threshold": 0.6, "strategy": "signal_gated"}) == \
        "cost 10 bps · gate threshold 0.60 · strategy signal gated"


def test_glossary_explains_features_and_metrics():
    from dashboard import glossary
    from finmt_core.data.features import compute_features
    from finmt_core.data.samples import synthetic_market

    assert "Garman" in glossary.describe("garman_klass_20") and "20 days" in glossary.describe("garman_klass_20")
    assert "Matthews" in glossary.describe("mcc") and glossary.describe("no_such_thing") is None
    names = compute_features(synthetic_market(n_stocks=4, n_days=120, n_sectors=2, seed=0)).names
    assert not [n for n in names if glossary.describe(n) is None]  # every feature has an entry
