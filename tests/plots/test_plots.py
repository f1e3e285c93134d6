"""Each figure builder returns a figure with the expected traces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from finmt_core import plots
from finmt_core.evaluation import backtest as B
from finmt_core.evaluation import metrics as M


@pytest.fixture(scope="module")
def metrics_log() -> pd.DataFrame:
    """A metrics log flattened the way RunDir.metrics() flattens metrics.jsonl."""
    recs = [
        {"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e, "train": {"direction": 0.7 / e, "return": 0.3 / e},
         "val": {"direction": 0.8 / e, "return": 0.3 / e}, "weights": {"direction": 1.0, "return": 0.5 + e / 10},
         "lr": {"backbone": 1e-3 / e, "heads": 2e-3 / e}, "val_metrics": {"direction": {"accuracy": 0.5 + e / 100}},
         "samples_per_s": 1000.0 + e, "epoch_time_s": 2.0}
        for e in range(1, 5)
    ]
    return pd.json_normalize(recs, sep=".")


def test_loss_curves_traces_and_toggle(metrics_log: pd.DataFrame) -> None:
    fig = plots.loss_curves(metrics_log)
    names = [t.name for t in fig.data]
    assert names == ["total (train)", "total (val)", "direction (train)", "direction (val)", "return (train)", "return (val)"]
    assert {t.legendgroup for t in fig.data} == {"total", "direction", "return"}
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["train + val", "train", "val"]
    assert buttons[1].args[0]["visible"] == [True, False] * 3
    # dict columns (not flattened) give the same chart
    nested = pd.DataFrame({"epoch": [1, 2], "train_loss": [1, 0.5], "val_loss": [1, 0.6],
                           "train": [{"a": 1.0}, {"a": 0.5}], "val": [{"a": 1.0}, {"a": 0.7}]})
    assert len(plots.loss_curves(nested).data) == 4
    assert len(plots.loss_curves(pd.DataFrame()).data) == 0


def test_loss_curves_layout_does_not_overlap(metrics_log: pd.DataFrame) -> None:
    fig = plots.loss_curves(metrics_log)
    menu, title, legend = fig.layout.updatemenus[0], fig.layout.title, fig.layout.legend
    # title pinned to the top edge; buttons sit on the plot's top edge; legend below the plot
    assert title.yanchor == "top" and title.y > 0.95
    assert menu.yanchor == "bottom" and menu.y <= 1.05
    assert legend.y < 0 and legend.yanchor == "top"
    assert fig.layout.xaxis.dtick == 1  # 4 epochs: one tick per whole epoch
    many = pd.DataFrame({"epoch": range(1, 41), "train_loss": np.linspace(1, 0.1, 40), "val_loss": np.linspace(1, 0.2, 40)})
    assert plots.loss_curves(many).layout.xaxis.tickformat == "d"


def test_compare_runs_overlays_each_run(metrics_log: pd.DataFrame) -> None:
    other = metrics_log.assign(val_loss=metrics_log["val_loss"] * 2).iloc[:2]
    fig = plots.compare_runs({"a": metrics_log, "b": other, "empty": pd.DataFrame()})
    assert [t.name for t in fig.data] == ["a", "b"]
    np.testing.assert_allclose(fig.data[1].y, other["val_loss"])
    assert list(fig.data[0].x) == [1, 2, 3, 4] and fig.layout.xaxis.dtick == 1
    nested = plots.compare_runs({"a": metrics_log}, column="val.direction")
    np.testing.assert_allclose(nested.data[0].y, metrics_log["val.direction"])
    none = plots.compare_runs({"a": metrics_log}, column="val.nope")
    assert len(none.data) == 0 and "val.nope" in none.layout.annotations[0].text


def test_whatif_before_after_bars_and_error_bars() -> None:
    table = pd.DataFrame({"before": [0.4, 0.6, 0.01, 1.0], "after": [0.7, 0.3, -0.02, -1.0]},
                         index=["direction_prob_Down", "direction_prob_Up", "return_pred", "gate_code"])
    fig = plots.whatif_before_after(table)
    assert [t.name for t in fig.data] == ["before", "after", "before", "after"]  # probabilities, values panels
    assert list(fig.data[0].x) == ["direction_prob_Down", "direction_prob_Up"] and list(fig.data[3].x) == ["return_pred"]
    assert all(t.error_y.array is None for t in fig.data)
    mc = table.drop(index="gate_code").assign(
        before_mean=[0.4, 0.6, 0.01], before_lo=[0.3, 0.5, 0.0], before_hi=[0.5, 0.7, 0.03],
        after_mean=[0.7, 0.3, -0.02], after_lo=[0.6, 0.2, -0.05], after_hi=[0.8, 0.4, 0.0])
    mc.loc["direction_entropy"] = [0.67, 0.61, 0.66, np.nan, np.nan, 0.6, np.nan, np.nan]
    fig = plots.whatif_before_after(mc)
    assert len(fig.data) == 6  # probabilities, values, entropy panels x before/after
    after_probs = fig.data[1]
    np.testing.assert_allclose(after_probs.error_y.array, [0.1, 0.1])
    np.testing.assert_allclose(after_probs.error_y.arrayminus, [0.1, 0.1])
    assert fig.data[4].error_y.array is None  # entropy has no interval
    assert "interval" in fig.layout.title.text
    assert len(plots.whatif_before_after(pd.DataFrame()).data) == 0


def test_prediction_history_against_outcomes() -> None:
    dates = pd.bdate_range("2024-01-01", periods=6)
    df = pd.DataFrame({
        "date": np.tile(dates, 2), "ticker": np.repeat(["AAA", "BBB"], 6),
        "split": np.tile(["train", "train", "val", "val", "test", "test"], 2),
        "direction_prob_Down": np.linspace(0.2, 0.8, 12), "direction_prob_Up": 1 - np.linspace(0.2, 0.8, 12),
        "direction_target": np.tile([0, 1, np.nan, 1, 0, 1], 2), "return_pred": np.linspace(-0.01, 0.01, 12),
        "return_target": np.linspace(0.02, -0.02, 12),
    })
    fig = plots.prediction_history(df, "AAA", "direction")
    assert [t.name for t in fig.data] == ["P(Down)", "P(Up)", "realised class"]
    np.testing.assert_allclose(fig.data[0].y, df["direction_prob_Down"][:6])
    assert len(fig.layout.shapes) == 2  # val and test shaded
    with_ret = plots.prediction_history(df.assign(fwd_return=np.linspace(-0.03, 0.03, 12)), "BBB", "direction")
    assert with_ret.data[-1].type == "bar" and with_ret.data[-1].name == "realised fwd return"
    reg = plots.prediction_history(df, "BBB", "return")
    assert [t.name for t in reg.data] == ["predicted", "realised"]
    np.testing.assert_allclose(reg.data[1].y, df["return_target"][6:])
    q = df.assign(q_q10=-0.02, q_q50=0.0, q_q90=0.02, q_pred=0.0, q_target=0.01)
    assert [t.name for t in plots.prediction_history(q, "AAA", "q").data][1:] == ["q10–q90", "median", "realised"]
    assert len(plots.prediction_history(df, "ZZZ", "direction").data) == 0
    assert len(plots.prediction_history(df, "AAA", "nope").data) == 0


def test_training_side_charts(metrics_log: pd.DataFrame) -> None:
    assert [t.name for t in plots.task_weights(metrics_log).data] == ["direction", "return"]
    lr = plots.learning_rate(metrics_log)
    assert len(lr.data) == 2 and lr.layout.yaxis.type == "log"
    assert [t.name for t in plots.val_metric(metrics_log, "accuracy").data] == ["direction"]
    assert len(plots.throughput(metrics_log).data) == 2


def test_classification_charts() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    p = rng.dirichlet(np.ones(3), 200)
    cm = M.confusion(y, p.argmax(1), 3)
    fig = plots.confusion_matrix(cm, ["Sell", "Hold", "Buy"], normalize=True)
    assert isinstance(fig.data[0], go.Heatmap)
    np.testing.assert_allclose(np.asarray(fig.data[0].z).sum(axis=1), 1.0)
    roc = plots.roc_curves(y, p, ["Sell", "Hold", "Buy"])
    assert [t.name for t in roc.data] == ["Sell", "Hold", "Buy", "chance"]
    assert [t.name for t in plots.roc_curves(y % 2, p[:, :2] / p[:, :2].sum(1, keepdims=True), ["Down", "Up"]).data] == ["Up", "chance"]
    cal = plots.calibration(M.reliability_bins(y, p))
    assert len(cal.data) == 2 and "ECE" in cal.layout.title.text


def test_regression_and_ic_charts() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    fig = plots.regression_scatter(y, y + rng.normal(size=300), max_points=100)
    assert len(fig.data[0].x) == 100 and len(fig.data) == 3
    ic = pd.Series(rng.normal(0.02, 0.1, 50), index=pd.bdate_range("2022-01-03", periods=50))
    fig = plots.ic_over_time(ic, window=10)
    assert isinstance(fig.data[0], go.Bar) and len(fig.data[0].x) == 50
    assert len(plots.ic_over_time(pd.Series(dtype=float)).data) == 0


def test_backtest_charts() -> None:
    rng = np.random.default_rng(2)
    r = rng.normal(0, 0.01, (30, 4))
    frame = B.run_backtest(np.full((30, 4), 0.25), r, pd.bdate_range("2022-01-03", periods=30)).frame()
    fig = plots.equity_drawdown(frame)
    assert [t.name for t in fig.data] == ["strategy, net of costs", "strategy, net of costs drawdown", "strategy, before costs",
                                          "equal-weight buy & hold", "equal-weight buy & hold drawdown"]
    assert len(plots.turnover(frame).data) == 3
    assert len(plots.returns_histogram(frame).data) == 2


def test_baseline_gating_and_label_charts() -> None:
    table = pd.DataFrame({"task": ["direction", "direction", "signal", "signal"], "name": ["model", "lightgbm"] * 2,
                          "metric": "accuracy", "value": [0.52, 0.51, 0.6, 0.61], "ci_low": [0.5, 0.49, 0.58, 0.6],
                          "ci_high": [0.54, 0.53, 0.62, 0.63]})
    fig = plots.metric_vs_baseline(table, "accuracy")
    assert [t.name for t in fig.data] == ["model", "lightgbm"] and fig.data[0].error_y.array is not None
    curve = pd.DataFrame({"threshold": [0.5, 0.7], "coverage": [1.0, 0.3], "accuracy": [0.51, 0.55]})
    assert [t.name for t in plots.coverage_accuracy(curve).data] == ["accuracy", "coverage"]
    gated = pd.DataFrame({"date": pd.to_datetime(["2022-01-03", "2022-01-03", "2022-01-04"]), "ticker": ["A", "B", "A"],
                          "gate": ["Up", "Neutral", "Down"], "gate_code": [1, 0, -1], "confidence": [0.7, 0.6, 0.8]})
    tab = plots.signal_gated_table(gated)
    assert isinstance(tab.data[0], go.Table) and tab.data[0].cells.values[2][0] == "Down"
    heat = plots.signal_gated_heatmap(gated)
    assert np.asarray(heat.data[0].z).shape == (2, 2)
    counts = pd.DataFrame({"task": "direction", "class": ["Down", "Up", "Down", "Up"], "split": ["train", "train", "test", "test"],
                           "count": [40, 60, 5, 5]})
    fig = plots.label_distribution(counts)
    assert [t.name for t in fig.data] == ["train", "test"] and fig.data[0].y[1] == pytest.approx(0.6)


def test_explain_and_data_charts() -> None:
    fig = plots.attention_heatmap(np.random.default_rng(0).uniform(size=(3, 5)), list("abcde"), ["x", "y", "z"])
    assert np.asarray(fig.data[0].z).shape == (3, 5)
    bars = plots.attribution_bars(pd.Series({"ret_1": 0.5, "vol_20": -0.8, "rsi": 0.1}), top=2)
    assert list(bars.data[0].y) == ["ret_1", "vol_20"]
    emb = plots.embedding_scatter(pd.DataFrame({"x": [0, 1, 2], "y": [1, 0, 1], "sector": ["a", "b", "a"]}), color_by="sector")
    assert [t.name for t in emb.data] == ["a", "b"]
    ei = np.array([[0, 1, 1, 2], [1, 0, 2, 1]])
    net = plots.stock_graph(ei, np.array([1.0, 1.0, 0.2, 0.2]), ["A", "B", "C"], ["s1", "s1", "s2"])
    assert [t.name for t in net.data if t.mode == "markers+text"] == ["s1", "s2"]
    assert len(plots.gat_edges(ei, np.ones(4), ["A", "B", "C"]).data) >= 2
    idx = pd.MultiIndex.from_product([pd.bdate_range("2022-01-03", periods=5), ["A"]], names=["date", "ticker"])
    panel = pd.DataFrame({"open": 1.0, "high": 1.1, "low": 0.9, "close": 1.0, "volume": 100.0}, index=idx)
    candle = plots.price_candlestick(panel, "A")
    assert isinstance(candle.data[0], go.Candlestick) and isinstance(candle.data[1], go.Bar)
    assert isinstance(plots.price_candlestick(panel[["close"]], "A").data[0], go.Scatter)
    feats = plots.feature_explorer(pd.DataFrame({"ret_1": [0.1, 0.2], "vol_20": [1, 2]}), ["ret_1", "vol_20", "nope"])
    assert len(feats.data) == 2
