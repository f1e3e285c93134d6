"""The learning report: does each preset recover the signal that is there (and only then)?

Every preset is trained, with its own defaults, on synthetic markets whose predictable part is
known exactly (:func:`~finmt_core.data.samples.synthetic_market_with_oracle`) and on a random
walk, and scored on the test segment against the *oracle*, the true conditional expected
return:

- **share of the oracle's directional edge** ``(acc - 0.5) / (oracle acc - 0.5)``, where
  ``acc`` is the accuracy of the sign of the model's directional score against the sign of
  the realised forward return, and the oracle's accuracy is the same for the sign of the true
  expected return, on the same rows;
- **IC / oracle IC**: the mean per-date Spearman correlation of the model's score with the
  realised return, over the oracle's;
- on a random walk (nothing to recover), ``acc - 0.5`` and the IC, which must be noise;
- the gross (before costs) annualised Sharpe ratio of the run's default backtest strategy on
  the test segment, with its standard error ``sqrt(252 / test days)`` — on a random walk it
  must be within noise.

The model's directional score is read from its predictions in this order: ``direction``
(P(Up) - 1/2), ``return`` / ``quantiles`` (median) / ``relevance`` (the prediction),
``action`` (P(Buy) - P(Sell)), of the task whose horizon is the market's.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finmt_core.errors import ConfigError
from finmt_core.inference.output_columns import parse_output

log = logging.getLogger(__name__)

#: Where the committed report lives (read by the dashboard and the README).
REPORT_FILE = Path(__file__).with_name("learning_report.json")


@dataclass(frozen=True)
class Market:
    """A synthetic market of the report: ``synthetic_market`` keyword arguments + a name."""

    name: str
    kwargs: dict[str, Any]
    description: str

    @property
    def random_walk(self) -> bool:
        keys = ("signal_strength", "momentum", "vol_drift", "context")
        return all(float(self.kwargs.get(k, 0.0)) == 0.0 for k in keys)


#: 60 stocks x 1,600 days in 5 sectors: the size of the markets in issue 11.
SIZE = {"n_stocks": 60, "n_days": 1600, "n_sectors": 5}
MARKETS: dict[str, Market] = {
    m.name: m
    for m in (
        Market("planted", dict(SIZE, signal_strength=1.5), "cross-sectional reversal + sector lead-lag (s=1.5)"),
        Market("planted_weak", dict(SIZE, signal_strength=1.0), "cross-sectional reversal + sector lead-lag (s=1.0)"),
        Market("momentum", dict(SIZE, signal_strength=0.0, momentum=1.5), "time-series momentum (1.5)"),
        Market("vol_drift", dict(SIZE, signal_strength=0.0, vol_drift=1.5), "volatility-scaled drift (1.5)"),
        Market("context", dict(SIZE, signal_strength=0.0, context=1.5), "macro column moving sectors (1.5)"),
        Market("random_walk", dict(SIZE, signal_strength=0.0), "zero-drift random walk: nothing to recover"),
    )
}
#: Presets of the model zoo (the ``naive`` rule is a baseline, reported by evaluation).
PRESETS = ("lightgbm", "tgcn", "lstm_transformer", "cnn_lstm", "finnex_cnn", "finnex_vit", "dual_tower")


@dataclass
class LearningRow:
    """One (preset, market, seed) of the report; rates in [0, 1], ICs per-date Spearman means."""

    preset: str
    market: str
    seed: int
    horizon: int
    score_from: str
    rows: int
    accuracy: float
    oracle_accuracy: float | None
    share_of_edge: float | None
    ic: float
    oracle_ic: float | None
    ic_ratio: float | None
    train_s: float
    gross_sharpe: float | None = None
    sharpe_se: float | None = None
    single_task: bool = False
    notes: list[str] = field(default_factory=list)


# ---- scoring ------------------------------------------------------------------------------
def directional_score(pred: pd.DataFrame, tasks: Sequence[Any], horizon: int) -> tuple[pd.Series, str]:
    """The model's directional score per row and the column(s) it came from (see module doc)."""
    order = ("direction", "return", "quantiles", "relevance", "action")
    for family in order:
        for t in tasks:
            if t.target != family or t.horizon != horizon:
                continue
            if family == "direction":
                return pred[f"{t.name}_prob_{t.classes[-1]}"] - 0.5, f"{t.name} P({t.classes[-1]})"
            if family == "action":
                return pred[f"{t.name}_prob_Buy"] - pred[f"{t.name}_prob_Sell"], f"{t.name} P(Buy)-P(Sell)"
            if family == "quantiles":
                qs = list(t.quantiles)
                mid = int(np.argmin(np.abs(np.asarray(qs) - 0.5)))
                level = round(qs[mid] * 100)
                col = next(o.name for c in pred.columns
                           if (o := parse_output(str(c), [t.name])).task == t.name and o.kind == "quantile"
                           and o.level == level)
                return pred[col], col
            return pred[f"{t.name}_pred"], f"{t.name}_pred"
    raise ConfigError(f"no task of horizon {horizon} gives a directional score; tasks: {[t.name for t in tasks]}")


def per_date_ic(score: np.ndarray, outcome: np.ndarray, dates: np.ndarray) -> float:
    """Mean over dates of the Spearman correlation of ``score`` and ``outcome`` (dates with
    fewer than 3 rows or a constant side are skipped; 0.0 when none is left)."""
    df = pd.DataFrame({"s": score, "o": outcome, "d": dates})
    ranks = df.groupby("d")[["s", "o"]].rank()
    ranks["d"] = df["d"]
    g = ranks.groupby("d")
    cov = g.apply(lambda x: x["s"].cov(x["o"]) if len(x) >= 3 else np.nan, include_groups=False)
    sd = g["s"].std() * g["o"].std()
    ic = (cov / sd.where(sd > 0)).dropna()
    return float(ic.mean()) if len(ic) else 0.0


def score_run(pred: pd.DataFrame, oracle: pd.Series, realised: pd.Series, tasks: Sequence[Any],
              horizon: int) -> dict[str, Any]:
    """Test-segment accuracy/IC of a run's score and of the oracle, on the same rows.

    Args:
        pred: the run's predictions frame (``date``, ``ticker``, ``split`` + task columns).
        oracle: expected forward return, index (date, ticker).
        realised: realised forward log return over ``horizon``, index (date, ticker).
    """
    test = pred[pred["split"] == "test"]
    score, source = directional_score(test, tasks, horizon)
    idx = pd.MultiIndex.from_arrays([pd.to_datetime(test["date"]), test["ticker"].astype(str)])
    o = oracle.reindex(idx).to_numpy()
    r = realised.reindex(idx).to_numpy()
    s = score.to_numpy(dtype=np.float64)
    ok = np.isfinite(o) & np.isfinite(r) & np.isfinite(s) & (r != 0)
    s, o, r = s[ok], o[ok], r[ok]
    dates = idx.get_level_values(0).to_numpy()[ok]
    up = r > 0
    acc = float(((s > 0) == up).mean()) if ok.any() else math.nan
    o_acc = float(((o > 0) == up).mean()) if ok.any() else math.nan
    ic = per_date_ic(s, r, dates)
    o_ic = per_date_ic(o, r, dates) if np.ptp(o) > 0 else None
    edge = o_acc - 0.5
    flat = not (ok.any() and np.ptp(o) > 0)  # a random walk: the oracle predicts 0 everywhere
    return {
        "score_from": source, "rows": int(ok.sum()), "accuracy": acc, "oracle_accuracy": None if flat else o_acc,
        "share_of_edge": (acc - 0.5) / edge if not flat and edge > 0.005 else None,
        "ic": ic, "oracle_ic": o_ic, "ic_ratio": ic / o_ic if o_ic and o_ic > 0.01 else None,
    }


# ---- running ------------------------------------------------------------------------------
def realised_returns(panel: pd.DataFrame, horizon: int) -> pd.Series:
    """``log(C[t+h] / C[t])`` per (date, ticker)."""
    close = panel["close"].unstack("ticker")
    fwd = np.log(close.shift(-horizon) / close)
    return fwd.stack(future_stack=True)


def run_one(preset: str, market: Market, seed: int, root: Path, horizon: int = 1, epochs: int | None = None,
            single_task: bool = False, market_cache: dict[Any, Any] | None = None) -> LearningRow:
    """Train ``preset`` (its defaults, ``--horizon`` where its tasks allow) on one market and score it."""
    from finmt_core.commands.train import build_config
    from finmt_core.data.samples import synthetic_market_with_oracle
    from finmt_core.training import train_run

    key = (market.name, seed, horizon)
    cache = market_cache if market_cache is not None else {}
    if key not in cache:
        panel, oracle = synthetic_market_with_oracle(**market.kwargs, seed=seed, horizons=(horizon,))
        path = root / f"market-{market.name}-{seed}.parquet"
        root.mkdir(parents=True, exist_ok=True)
        panel.to_parquet(path)
        cache[key] = (path, oracle[f"h{horizon}"], realised_returns(panel, horizon))
    path, oracle, realised = cache[key]
    base = build_config(data=str(path), preset=preset, config_file=None, epochs=epochs, horizon=horizon,
                        device="cpu", seed=0)
    single = _primary_task(base, horizon) if single_task else None
    if single is not None:
        base = build_config(data=str(path), preset=preset, config_file=None, epochs=epochs, horizon=horizon,
                            device="cpu", seed=0, single_task=single)
    t0 = time.monotonic()
    run = train_run(base, root / "runs", name=f"{preset}{'-st' if single else ''}-{market.name}-{seed}")
    took = time.monotonic() - t0
    state = run.status().get("state")
    if state != "done":
        raise ConfigError(f"{preset} on {market.name}: training ended {state}: {run.status().get('error')}")
    pred = run.predictions()
    scores = score_run(pred, oracle, realised, base.tasks, horizon)
    sharpe, se = _gross_sharpe(pred, base.tasks, path)
    return LearningRow(preset=preset, market=market.name, seed=seed, horizon=horizon, train_s=round(took, 1),
                       single_task=single_task, gross_sharpe=sharpe, sharpe_se=se, **scores)


def _gross_sharpe(pred: pd.DataFrame, tasks: Sequence[Any], panel_path: Path) -> tuple[float | None, float | None]:
    """Gross annualised Sharpe of the default strategy on the test rows and its standard error."""
    from finmt_core.evaluation.run_backtest import backtest_predictions

    close = pd.read_parquet(panel_path, columns=["close"])["close"].unstack("ticker")
    test = pred[pred["split"] == "test"]
    try:
        res = backtest_predictions(test, list(tasks), close.to_numpy(), pd.DatetimeIndex(close.index),
                                   [str(t) for t in close.columns])
    except (ValueError, KeyError, ConfigError) as exc:  # a task mix the backtest cannot size
        log.info("no backtest for the learning report: %s", exc)
        return None, None
    sharpe = res.metrics.get("gross", {}).get("sharpe")
    days = int(np.isfinite(res.gross_returns).sum())
    if sharpe is None or not math.isfinite(sharpe) or days < 2:
        return None, None
    return float(sharpe), float(math.sqrt(252.0 / days))


def _primary_task(cfg: Any, horizon: int) -> str:
    """The task whose prediction is the directional score (its single-task version is trained)."""
    for family in ("direction", "return", "quantiles", "relevance", "action"):
        for t in cfg.tasks:
            if t.target == family and t.horizon == horizon:
                return str(t.name)
    raise ConfigError(f"preset {cfg.name}: no task of horizon {horizon}")


def learning_report(presets: Sequence[str], markets: Sequence[str], seeds: Sequence[int], root: Path,
                    horizon: int = 1, epochs: int | None = None, single_task: bool = False,
                    echo: Callable[[str], None] = log.info, size: dict[str, int] | None = None) -> list[LearningRow]:
    """Train and score every (preset, market, seed); with ``single_task`` also each preset's
    single-task version of its directional task on the same data. ``size`` overrides the
    markets' ``n_stocks`` / ``n_days`` / ``n_sectors`` (smaller: faster, noisier)."""
    unknown = [m for m in markets if m not in MARKETS]
    if unknown:
        raise ConfigError(f"unknown market(s) {unknown}; choose from {', '.join(MARKETS)}")
    rows: list[LearningRow] = []
    cache: dict[Any, Any] = {}
    for m in markets:
        market = MARKETS[m]
        if size:
            market = Market(market.name, dict(market.kwargs, **size), market.description)
        for seed in seeds:
            for preset in presets:
                for st in ((False, True) if single_task else (False,)):
                    row = run_one(preset, market, seed, root, horizon, epochs, st, cache)
                    rows.append(row)
                    echo(format_row(row))
    return rows


def format_row(r: LearningRow) -> str:
    share = "-" if r.share_of_edge is None else f"{r.share_of_edge:.2f}"
    ratio = "-" if r.ic_ratio is None else f"{r.ic_ratio:.2f}"
    oracle = "-" if r.oracle_accuracy is None else f"{r.oracle_accuracy:.4f}"
    name = r.preset + (" (single-task)" if r.single_task else "")
    return (f"{name:30s} {r.market:12s} seed {r.seed}  acc {r.accuracy:.4f} (oracle {oracle})  "
            f"share {share}  IC {r.ic:+.4f} / {ratio}  {r.train_s:.0f}s")


def summary_table(rows: Sequence[LearningRow]) -> pd.DataFrame:
    """Mean over seeds per (preset, single_task, market): the README / dashboard table."""
    df = pd.DataFrame([asdict(r) for r in rows])
    if df.empty:
        return df
    cols = ["accuracy", "oracle_accuracy", "share_of_edge", "ic", "oracle_ic", "ic_ratio", "gross_sharpe",
            "sharpe_se", "train_s"]
    for c in cols:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    out = df.groupby(["preset", "single_task", "market"], sort=False)[cols].mean()
    out["seeds"] = df.groupby(["preset", "single_task", "market"], sort=False)["seed"].count()
    out = out.reset_index()
    # markets in catalogue order, then presets in zoo order (single-task right after its preset)
    m_rank = {m: i for i, m in enumerate(MARKETS)}
    p_rank = {p: i for i, p in enumerate(PRESETS)}
    key = out["market"].map(m_rank).fillna(len(m_rank)) * 1000 + out["preset"].map(p_rank).fillna(len(p_rank)) * 2 \
        + out["single_task"].astype(int)
    return out.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def format_table(summary: pd.DataFrame) -> str:
    """The summary as a Markdown table (README, CLI): one row per preset and market."""
    if summary.empty:
        return "(no rows)"
    head = ("| preset | market | test accuracy | oracle accuracy | share of the oracle's edge | IC | IC / oracle IC "
            "| gross Sharpe (± s.e.) | seeds | train s |")
    lines = [head, "|" + "---|" * 10]
    for r in summary.itertuples(index=False):
        name = r.preset + (" (single-task)" if r.single_task else "")
        share = "-" if pd.isna(r.share_of_edge) else f"{r.share_of_edge:.2f}"
        ratio = "-" if pd.isna(r.ic_ratio) else f"{r.ic_ratio:.2f}"
        oracle = "-" if pd.isna(r.oracle_accuracy) else f"{r.oracle_accuracy:.3f}"
        sharpe = "-" if pd.isna(r.gross_sharpe) else f"{r.gross_sharpe:+.2f} (± {r.sharpe_se:.2f})"
        lines.append(f"| {name} | {r.market} | {r.accuracy:.3f} | {oracle} | {share} | "
                     f"{r.ic:+.3f} | {ratio} | {sharpe} | {r.seeds} | {r.train_s:.0f} |")
    return "\n".join(lines)


def merge_rows(old: Sequence[dict[str, Any]], new: Sequence[LearningRow]) -> list[LearningRow]:
    """``old`` report rows (JSON dicts) with ``new`` ones replacing those of the same
    (preset, market, seed, single_task); order: the old rows, then rows for new keys."""
    names = {f for f in LearningRow.__dataclass_fields__}
    rows = {(r["preset"], r["market"], int(r["seed"]), bool(r.get("single_task", False))):
            LearningRow(**{k: v for k, v in r.items() if k in names}) for r in old}
    for r in new:
        rows[(r.preset, r.market, int(r.seed), bool(r.single_task))] = r
    return list(rows.values())


def load_report(path: Path = REPORT_FILE) -> dict[str, Any] | None:
    """The committed report: ``{"summary": DataFrame, "rows": [...], "measured": str, "machine": str}``,
    or None when there is none (or it cannot be read)."""
    import json

    try:
        payload = json.loads(Path(path).read_text())
        summary = pd.DataFrame(payload["summary"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("no learning report at %s (%s)", path, exc)
        return None
    if summary.empty:
        return None
    return {"summary": summary, "rows": payload.get("rows", []), "measured": payload.get("measured", ""),
            "machine": payload.get("machine", "")}
