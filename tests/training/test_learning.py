"""Learning works, honestly: on a synthetic market with a planted signal the graph model and a
sequence model beat the naive baselines on the test segment by a margin far outside noise,
and on a pure random walk (signal 0) they stay at chance.

Statistic: next-day direction accuracy per test date, paired with the baseline's on the same
rows; the t-statistic of the mean per-date difference (dates are close to independent in
this market, tickers on one date are not, so dates are the unit of noise).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.config import ExperimentConfig
from finmt_core.tasks import make_task
from finmt_core.training import train_run

pytestmark = pytest.mark.slow

#: Market: 30 stocks in 5 sectors over 1200 business days; 35 % of the dates (about 420) are
#: the test segment, so a per-date statistic has power (the market's move is shared by every
#: stock on a date and dominates the noise of daily direction accuracy).
MARKET = {"n_stocks": 30, "n_days": 1200, "n_sectors": 5, "seed": 3}
SPLIT = {"train_frac": 0.5, "val_frac": 0.15}
#: Planted-signal strength (synthetic_market's s: reversal a = 0.1 s, sector lead-lag b = 0.2 s).
SIGNAL = 5.0
#: A margin "well outside noise": t-statistic of the per-date accuracy edge.
T_EDGE = 3.0
#: model -> (params, batch size: dates for graph / rows otherwise, lr, epochs). tgcn is the
#: preset's GCN variant (hidden 16, 2 layers); the sequence model a small LSTM-Transformer.
NEURAL = {
    "tgcn": ({}, 16, 5e-3, 6),
    "lstm_transformer": ({"lstm_hidden": 16, "d_model": 16, "depth": 1, "heads": 2, "head_hidden": 16}, 256, 3e-3, 4),
}
BASELINES = ("naive_majority", "naive_momentum")


def _config(model: str, signal: float) -> ExperimentConfig:
    params, batch, lr, epochs = NEURAL.get(model, ({}, 256, 1e-3, 1))
    return ExperimentConfig(
        name=model,
        data={"source": "synthetic", "synthetic": dict(MARKET, signal_strength=signal), "window": 10},
        split=SPLIT,
        tasks=[make_task("direction"), make_task("return")],
        model={"name": model, "params": params},
        train={"epochs": epochs, "batch_size": batch, "lr": lr, "patience": 3, "device": "cpu", "seed": 0},
    )


def _test_hits(run) -> pd.Series:  # type: ignore[no-untyped-def]
    """1.0 / 0.0 per valid test row (index: date, ticker) for the direction task."""
    p = run.predictions()
    p = p[(p["split"] == "test") & p["direction_target"].notna()]
    hits = (p["direction_pred"] == p["direction_target"]).astype(float)
    return pd.Series(hits.to_numpy(), index=pd.MultiIndex.from_frame(p[["date", "ticker"]]))


def _edge_t(model_hits: pd.Series, base_hits: pd.Series) -> tuple[float, float]:
    """(mean per-date accuracy edge, its t-statistic over dates), on the rows both predicted."""
    both = pd.concat({"m": model_hits, "b": base_hits}, axis=1, join="inner")
    assert len(both) == len(model_hits) == len(base_hits)  # same rows
    diff = (both["m"] - both["b"]).groupby(level="date").mean()
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    return float(diff.mean()), float(diff.mean() / se) if se > 0 else 0.0


def _chance_t(model_hits: pd.Series) -> float:
    per_date = model_hits.groupby(level="date").mean() - 0.5
    return float(per_date.mean() / (per_date.std(ddof=1) / np.sqrt(len(per_date))))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[tuple[str, float], pd.Series]:
    root = tmp_path_factory.mktemp("learning")
    out = {}
    for signal in (SIGNAL, 0.0):
        for model in (*NEURAL, *BASELINES):
            run = train_run(_config(model, signal), root, name=f"{model}-s{signal:g}")
            assert run.status()["state"] == "done"
            out[(model, signal)] = _test_hits(run)
    return out


@pytest.mark.parametrize("model", list(NEURAL))
def test_beats_naive_baselines_on_planted_signal(outcomes, model: str) -> None:
    hits = outcomes[(model, SIGNAL)]
    assert len(hits.index.get_level_values("date").unique()) >= 350
    for base in BASELINES:
        edge, t = _edge_t(hits, outcomes[(base, SIGNAL)])
        assert edge > 0.03 and t > T_EDGE, f"{model} vs {base}: edge {edge:.3f}, t {t:.2f}"


@pytest.mark.parametrize("model", list(NEURAL))
def test_stays_at_chance_on_random_walk(outcomes, model: str) -> None:
    hits = outcomes[(model, 0.0)]
    t = _chance_t(hits)
    # the band is wide because every stock shares the market's move on a date
    assert abs(hits.mean() - 0.5) < 0.05, f"{model}: accuracy {hits.mean():.3f} on a random walk"
    assert t < T_EDGE, f"{model}: significant edge (t {t:.2f}) on a random walk means leakage"
    for base in BASELINES:
        _, te = _edge_t(hits, outcomes[(base, 0.0)])
        assert te < T_EDGE, f"{model} beats {base} on a random walk (t {te:.2f}): leakage"
