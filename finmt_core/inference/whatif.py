"""What-if: change one stock's recent inputs and see how the predictions move.

Shocks (keys of ``shocks``):

- ``"return"``: log return added to the stock's close on the chosen date (high/low widen to
  include the new close);
- ``"volatility"``: factor k scaling the stock's daily log-return deviations (around their
  mean) over the input window, with its intraday ranges scaled alike;
- ``"volume"``: factor scaling the stock's volume over the input window;
- any feature name of the run: the new raw (unscaled) value of that feature on the date.

Price-level shocks are turned into feature changes by recomputing the features of a short
slice of dates (the window plus :data:`LOOKBACK` days of history) with and without the shock
and adding the difference for this stock only: its own-column features on the stock alone,
the cross-sectional ones on every ticker so they stay right. Market-wide features are left as they are: one stock's shock does not move
the market here. Then only this stock's window of the scaled input is swapped in, the model
runs on the one row (graph models: that date's snapshot), and the window is restored — the
run directory and the cached data are left as they were.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finmt_core.data.dense import DensePanel
from finmt_core.errors import DataError
from finmt_core.inference.gating import GatingPolicy
from finmt_core.tasks import Task

if TYPE_CHECKING:  # the Predictor calls what_if; what_if only reads the Predictor it is given
    from finmt_core.data.prepare import PreparedData
    from finmt_core.inference.predictor import Predictor

PRICE_SHOCKS = ("return", "volatility", "volume")
#: Days of history before the window recomputed for price-level shocks (longest feature
#: lookback is 60 days; EMAs settle well within the rest).
LOOKBACK = 130
#: Central interval of the MC-dropout samples shown as error bars (10 % and 90 % quantiles).
MC_INTERVAL = (0.10, 0.90)
#: MC columns added to the table when ``mc_samples > 0``.
MC_COLUMNS = ("before_mean", "before_lo", "before_hi", "after_mean", "after_lo", "after_hi")


@dataclass
class WhatIfResult:
    """Before / after predictions of one (ticker, date).

    Attributes:
        table: index = output (``<task>_prob_<Class>``, ``<task>_pred``, ``<task>_q<NN>``,
            gating columns), columns ``before``, ``after``, ``difference`` (deterministic
            predictions). With MC dropout also :data:`MC_COLUMNS`: the sample mean and the
            :data:`MC_INTERVAL` quantiles before and after (probabilities in [0, 1], returns as
            log returns), and rows ``<task>_entropy`` per classification head (nats;
            ``before``/``after`` = entropy of the deterministic probabilities, ``*_mean`` =
            predictive entropy ``H[mean p]`` of the samples, no interval).
        mc_samples: MC-dropout passes used per side (0 = none).
        features: the stock's raw features on the date: ``before``, ``after``, ``difference``.
    """

    ticker: str
    date: pd.Timestamp
    shocks: dict[str, float]
    table: pd.DataFrame
    features: pd.DataFrame
    elapsed_ms: float = 0.0
    mc_samples: int = 0
    notes: list[str] = field(default_factory=list)


def _flat(tasks: list[Task], preds: dict[str, np.ndarray]) -> pd.DataFrame:
    """Rows of estimator-format predictions as named output columns (+ gating columns)."""
    cols: dict[str, np.ndarray] = {}
    for t in tasks:
        p = np.asarray(preds[t.name], dtype=np.float64)
        if t.kind == "classification":
            cols.update({f"{t.name}_prob_{c}": p[:, i] for i, c in enumerate(t.classes)})
        elif t.kind == "quantile":
            cols.update({f"{t.name}_q{round(q * 100):02d}": p[:, j] for j, q in enumerate(t.quantiles)})
        else:
            cols[f"{t.name}_pred"] = p.reshape(-1)
    out = pd.DataFrame(cols)
    policy = GatingPolicy.for_frame(out)
    if policy.can_gate:
        out["gate_code"] = policy.gate(out)["gate_code"].astype(np.float64)
        # the probability the gate compares with its threshold (P(Signal) for signal+direction),
        # not the call's confidence P(Signal) x P(side): a shock that moves it across the
        # threshold is what flips the call, so that is the number a person must see move
        out["gate_probability"] = policy.probability(out)
    return out


def _slice(dense: DensePanel, s: int, e: int, n: int | None = None) -> DensePanel:
    """Dates ``s:e`` of ``dense`` (copies), all tickers or only ticker ``n``."""
    if n is None:
        return DensePanel(dates=dense.dates[s:e], tickers=list(dense.tickers),
                          columns={c: a[s:e].copy() for c, a in dense.columns.items()}, sector=dense.sector,
                          extra=list(dense.extra))
    return DensePanel(dates=dense.dates[s:e], tickers=[dense.tickers[n]],
                      columns={c: a[s:e, n:n + 1].copy() for c, a in dense.columns.items()},
                      sector=[dense.sector[n]] if dense.sector is not None else None, extra=list(dense.extra))


def _split_features(names: list[str], market: list[str]) -> tuple[list[str], list[str]]:
    """A stock's non-market features split into those computed from its own columns alone
    and the cross-sectional ones (ranks, sector- and market-relative), which need every ticker."""
    from finmt_core.data.features import list_features

    cross_names = {f.name for f in list_features() if f.cross_sectional}
    from finmt_core.data.features.fitted import is_fitted

    # fitted features (peers' returns) do not move with the stock's own prices: kept as they are
    own = [f for f in names if f not in set(market) and not is_fitted(f)]
    return [f for f in own if f not in cross_names], [f for f in own if f in cross_names]


def _slice_features(prepared: PreparedData, s: int, d: int, w0: int, n: int, shocks: dict[str, float]) -> dict[str, np.ndarray]:
    """Raw features of ticker ``n`` over the window rows ``w0..d``, ``{name: [T]}`` float64,
    recomputed on dates ``s..d`` with ``shocks`` applied to its prices.

    The features of the ticker's own columns run on a one-ticker slice; only the
    cross-sectional ones run on the whole universe (where the shocked ticker is one of many).
    Both give exactly what computing every feature on the whole slice would, at a fraction of
    the cost for a large universe (500 stocks: ~5x fewer feature evaluations)."""
    from finmt_core.data.features import compute_features

    frame = prepared.frame
    solo, cross = _split_features(frame.names, frame.market)
    out: dict[str, np.ndarray] = {}
    for names, ticker in ((solo, n), (cross, None)):
        if not names:
            continue
        sl = _slice(prepared.dense, s, d + 1, ticker)
        if shocks:
            _shock_prices(sl, 0 if ticker is not None else n, w0 - s, shocks)
        ff = compute_features(sl, names)
        vals = ff.values[w0 - s:, 0 if ticker is not None else n, :].astype(np.float64)
        out.update({name: vals[:, j] for j, name in enumerate(ff.names)})
    return out


def _shock_prices(sl: DensePanel, n: int, w0: int, shocks: dict[str, float]) -> None:
    """Apply price-level shocks in place to ticker ``n`` of the slice (window starts at row w0)."""
    cols = sl.columns
    if "volatility" in shocks:
        k = float(shocks["volatility"])
        if k < 0:
            raise DataError(f"what-if volatility factor must be >= 0, got {k}")
        a = max(w0 - 1, 0)  # the day before the window anchors the rebuilt path
        lc = np.log(cols["close"][a:, n])
        r = np.diff(lc)
        m = np.nanmean(r)
        new = np.exp(lc[0] + np.concatenate([[0.0], np.nancumsum(m + k * (r - m))]))
        new[~np.isfinite(lc)] = np.nan  # gaps stay gaps
        for c in ("open", "high", "low"):
            if c in cols:  # keep each bar's shape, its log distance from the close scaled by k
                cols[c][a + 1:, n] = new[1:] * np.exp(k * np.log(cols[c][a + 1:, n] / cols["close"][a + 1:, n]))
        cols["close"][a:, n] = new
    if "return" in shocks:
        cols["close"][-1, n] *= float(np.exp(shocks["return"]))
        if "high" in cols:
            cols["high"][-1, n] = np.fmax(cols["high"][-1, n], cols["close"][-1, n])
        if "low" in cols:
            cols["low"][-1, n] = np.fmin(cols["low"][-1, n], cols["close"][-1, n])
    if "volume" in shocks:
        if "volume" not in cols:
            raise DataError("what-if volume shock: the panel has no volume column")
        k = float(shocks["volume"])
        if k < 0:
            raise DataError(f"what-if volume factor must be >= 0, got {k}")
        cols["volume"][w0:, n] *= k


def shocked_window(prepared: PreparedData, n: int, d: int, shocks: dict[str, float], cache: dict[Any, Any]) -> np.ndarray:
    """The stock's raw feature window ``[T, F]`` (float64) after ``shocks``."""
    frame = prepared.frame
    t = prepared.info.window
    w0 = d - t + 1
    raw = frame.values[w0:d + 1, n, :].astype(np.float64)
    price = {k: v for k, v in shocks.items() if k in PRICE_SHOCKS}
    names = {name: j for j, name in enumerate(frame.names)}
    if price:
        s = max(0, w0 - 1 - LOOKBACK)
        key = ("features", s, d, n)
        if key not in cache:  # unshocked slice features: the reference the change is measured from
            cache.clear()
            cache[key] = _slice_features(prepared, s, d, w0, n, {})
        after = _slice_features(prepared, s, d, w0, n, price)
        for name, ref in cache[key].items():
            raw[:, names[name]] += np.nan_to_num(after[name] - ref)
    for k, v in shocks.items():
        if k in PRICE_SHOCKS:
            continue
        if k not in names:
            raise DataError(f"unknown what-if shock {k!r}; use one of {', '.join(PRICE_SHOCKS)} or a feature name "
                            f"({', '.join(frame.names[:6])}, ...)")
        if k in frame.market:
            raise DataError(f"{k!r} is a market-wide feature shared by every stock; a what-if edits one stock's inputs")
        raw[-1, names[k]] = float(v)
    return raw


def _mc_summary(tasks: list[Task], samples: dict[str, np.ndarray]) -> pd.DataFrame:
    """``[S, 1, ...]`` MC samples of one row -> index = output, columns ``mean``, ``lo``, ``hi``
    (plus ``<task>_entropy`` rows: predictive entropy of the mean probabilities, nats)."""
    from finmt_core.inference.uncertainty import entropy

    # the S samples of the one row are S rows in estimator format: _flat names every output
    per_sample = _flat(tasks, {t.name: np.asarray(samples[t.name])[:, 0] for t in tasks})
    lo, hi = MC_INTERVAL
    out = pd.DataFrame({"mean": per_sample.mean(), "lo": per_sample.quantile(lo), "hi": per_sample.quantile(hi)})
    ent = {f"{t.name}_entropy": float(entropy(np.asarray(samples[t.name])[:, 0].mean(axis=0)))
           for t in tasks if t.kind == "classification"}
    return pd.concat([out, pd.DataFrame({"mean": ent, "lo": np.nan, "hi": np.nan})]) if ent else out


def _point_entropy(tasks: list[Task], table: pd.DataFrame) -> pd.DataFrame:
    """``<task>_entropy`` rows (nats) of the deterministic before/after class probabilities."""
    from finmt_core.inference.uncertainty import entropy

    rows = {f"{t.name}_entropy": entropy(table.loc[[f"{t.name}_prob_{c}" for c in t.classes], ["before", "after"]].to_numpy().T)
            for t in tasks if t.kind == "classification"}
    return pd.DataFrame(rows, index=["before", "after"]).T


def what_if(predictor: Predictor, prepared: PreparedData, ticker: str, date: Any, shocks: dict[str, float], mc_samples: int = 0,
            seed: int = 0) -> WhatIfResult:
    """Before/after predictions of ``ticker`` on ``date`` (default: its last date with a full
    window) under ``shocks``; see the module doc. Nothing is written anywhere.

    Args:
        mc_samples: MC-dropout passes per side (0 = point predictions only, the fast path);
            ignored, with a note, for estimator runs and models without active dropout.
        seed: seed of the dropout masks (the same masks before and after).
    """
    t0 = time.perf_counter()
    if ticker not in prepared.tickers:
        raise DataError(f"ticker {ticker!r} is not in the panel ({', '.join(prepared.tickers[:8])} ...)")
    n = prepared.tickers.index(ticker)
    ok = prepared.has_window()[:, n]
    if date is None:
        if not ok.any():
            raise DataError(f"{ticker} has no date with features and a full {prepared.info.window}-day window")
        d = int(np.flatnonzero(ok)[-1])
    else:
        d = int(prepared.dates.get_indexer(pd.DatetimeIndex([pd.Timestamp(date)]))[0])
        if d < 0 or not ok[d]:
            raise DataError(f"{ticker} has no full input window on {date}; pick a date with data")
    cache = prepared._cache.setdefault("whatif_reference", {})
    raw = shocked_window(prepared, n, d, shocks, cache)
    w0 = d - prepared.info.window + 1
    di, ni = np.array([d]), np.array([n])
    notes: list[str] = []
    use_mc = mc_samples > 0 and predictor.model is not None
    if mc_samples > 0 and predictor.model is None:
        notes.append(f"{predictor.config.model.name} is a fitted estimator without dropout: no MC-dropout uncertainty")
    mc_before = mc_after = None
    with predictor._lock:
        key = ("before", d, n)
        if key not in cache:  # the unshocked prediction of this row is reused while sliding
            cache[key] = predictor.predict_rows(prepared, di, ni)
        if use_mc:
            mc_key = ("before_mc", d, n, int(mc_samples), seed)
            if mc_key not in cache:
                cache[mc_key] = _sample(predictor, prepared, di, ni, int(mc_samples), seed)
            mc_before, active = cache[mc_key]
            if active == 0:
                use_mc = False
                notes.append("the model has no active dropout layers: MC dropout would give no spread")
        saved = prepared.X[w0:d + 1, n, :].copy()
        try:
            prepared.X[w0:d + 1, n, :] = prepared.scaler.transform(raw[:, None, :])[:, 0, :]
            after_raw = predictor.predict_rows(prepared, di, ni)
            if use_mc:
                mc_after, _ = _sample(predictor, prepared, di, ni, int(mc_samples), seed)
        finally:
            prepared.X[w0:d + 1, n, :] = saved
    both = _flat(predictor.tasks, {t.name: np.concatenate([np.asarray(cache[key][t.name]), np.asarray(after_raw[t.name])])
                                   for t in predictor.tasks})
    before, after = both.iloc[0], both.iloc[1]
    table = pd.DataFrame({"before": before, "after": after})
    if mc_before is not None and mc_after is not None:
        table = pd.concat([table, _point_entropy(predictor.tasks, table)])
        sb, sa = _mc_summary(predictor.tasks, mc_before), _mc_summary(predictor.tasks, mc_after)
        table = table.join(sb.add_prefix("before_")).join(sa.add_prefix("after_"))
    table["difference"] = table["after"] - table["before"]
    feats = pd.DataFrame({"before": prepared.frame.values[d, n, :].astype(np.float64), "after": raw[-1]}, index=prepared.frame.names)
    feats["difference"] = feats["after"] - feats["before"]
    return WhatIfResult(ticker=ticker, date=prepared.dates[d], shocks=dict(shocks), table=table, features=feats,
                        elapsed_ms=(time.perf_counter() - t0) * 1e3, mc_samples=int(mc_samples) if mc_after is not None else 0,
                        notes=notes)


def _sample(predictor: Predictor, prepared: PreparedData, di: np.ndarray, ni: np.ndarray, n_samples: int,
            seed: int) -> tuple[dict[str, np.ndarray], int]:
    """MC-dropout samples ``{task: [S, 1, ...]}`` of one row and the active dropout layers."""
    from finmt_core.inference.uncertainty import mc_samples

    return mc_samples(predictor.network(), prepared, di, ni, n_samples, seed=seed, device=predictor.device)
