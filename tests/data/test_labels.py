"""Labels: every task family against hand-computed values, validity, gaps, no look-ahead."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from finmt_core.data.dense import to_dense
from finmt_core.data.labels import build_targets
from finmt_core.errors import ConfigError
from finmt_core.tasks import CATALOGUE, make_task

# one ticker, 14 days; the jump at the end makes a Volatile regime
CLOSES = [100.0, 101.0, 99.0, 102.0, 104.0, 103.0, 105.0, 104.0, 106.0, 108.0, 107.0, 110.0, 98.0, 111.0]
W = 4  # vol_window of the hand-made tasks: σ needs W // 2 = 2 returns


def panel_from(close: np.ndarray, tickers: list[str] | None = None) -> pd.DataFrame:
    close = np.asarray(close, dtype=np.float64).reshape(len(close), -1)
    tickers = tickers or [f"T{i}" for i in range(close.shape[1])]
    dates = pd.bdate_range("2021-01-04", periods=close.shape[0])
    idx = pd.MultiIndex.from_product([dates, tickers], names=["date", "ticker"])
    return pd.DataFrame({"close": close.ravel()}, index=idx)


def random_close(n_days: int = 120, n_tickers: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 30.0 * np.exp(np.cumsum(rng.normal(0, 0.015, (n_days, n_tickers)), axis=0))


# ---- a plain-python reference, one date at a time ---------------------------------------------
def ref_targets(c: list[float], family: str, h: int, k: float = 0.5, vol_mult: float = 1.5,
                threshold: float | None = None) -> list[float]:
    r = [math.nan] + [math.log(c[s] / c[s - 1]) for s in range(1, len(c))]
    out = []
    for t in range(len(c)):
        if t + h >= len(c):
            out.append(math.nan)
            continue
        fwd = math.log(c[t + h] / c[t])
        past = [r[s] for s in range(max(1, t - W + 1), t + 1)]
        sigma = statistics.stdev(past) if len(past) >= 2 else math.nan
        band = k * sigma * math.sqrt(h)
        rv = abs(r[t + 1]) if h == 1 else statistics.stdev(r[t + 1:t + h + 1])
        if family == "return" or family == "quantiles":
            v = fwd
        elif family == "direction":
            v = float(fwd > 0)
        elif family == "volatility":
            v = rv
        elif family == "action":
            thr = band if threshold is None else threshold
            v = 2.0 if fwd > thr else 0.0 if fwd < -thr else 1.0
            v = v if not math.isnan(thr) else math.nan
        elif family == "signal":
            v = float(abs(fwd) > band) if not math.isnan(band) else math.nan
        elif family == "relevance":
            v = math.tanh(fwd / (sigma * math.sqrt(h)))
        elif family == "regime":
            if math.isnan(sigma):
                v = math.nan
            elif rv > vol_mult * sigma:
                v = 3.0
            else:
                v = 2.0 if fwd > band else 0.0 if fwd < -band else 1.0
        out.append(v)
    return out


HAND_TASKS = [
    make_task("action", 2, name="action_2", params={"vol_window": W}),
    make_task("action", 1, name="action_fixed", params={"threshold": 0.015}),
    make_task("direction", 1),
    make_task("return", 2),
    make_task("volatility", 3),
    make_task("volatility", 1, name="volatility_1"),
    make_task("regime", 2, params={"vol_window": W}),
    make_task("regime", 1, name="regime_1", params={"vol_window": W}),
    make_task("signal", 2, params={"vol_window": W}),
    make_task("relevance", 3, params={"vol_window": W}),
    make_task("quantiles", 2),
]


def test_every_family_matches_hand_computed_values() -> None:
    targets = build_targets(to_dense(panel_from(CLOSES)), HAND_TASKS)
    for task in HAND_TASKS:
        p = task.params
        ref = ref_targets(CLOSES, task.target, task.horizon, k=p.get("k", 0.5),
                          vol_mult=p.get("vol_mult", 1.5), threshold=p.get("threshold"))
        got = targets.values[task.name][:, 0]
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-7, err_msg=task.name)
        assert np.array_equal(targets.valid[task.name][:, 0], np.isfinite(ref)), task.name
    v = targets.values
    assert v["return"][3, 0] == pytest.approx(math.log(103 / 102), rel=1e-6)
    assert v["direction"][1, 0] == 0 and v["direction"][2, 0] == 1
    assert v["action_fixed"][1, 0] == 0 and v["action_fixed"][2, 0] == 2 and v["action_fixed"][4, 0] == 1
    assert v["regime"][10, 0] == 3  # 110 -> 98 -> 111 is volatile
    assert v["volatility_1"][11, 0] == pytest.approx(abs(math.log(98 / 110)), rel=1e-6)
    assert set(np.unique(v["regime"][np.isfinite(v["regime"])])) >= {1.0, 2.0, 3.0}
    assert targets.aux["fwd_return_2"][3, 0] == pytest.approx(math.log(103 / 102), rel=1e-6)
    assert set(targets.aux) == {"fwd_return_1", "fwd_return_2", "fwd_return_3", "vol"}


def test_mask_by_keeps_only_signal_rows() -> None:
    tasks = [make_task("signal", 2, params={"vol_window": W}),
             make_task("direction", 2, name="dir_on_signal", mask_by="signal")]
    t = build_targets(to_dense(panel_from(CLOSES)), tasks)
    sig = t.values["signal"]
    assert np.array_equal(t.valid["dir_on_signal"], t.valid["signal"] & (sig == 1))
    assert np.isnan(t.values["dir_on_signal"][~t.valid["dir_on_signal"]]).all()
    assert 0 < t.valid["dir_on_signal"].sum() < t.valid["signal"].sum()


def test_targets_past_the_end_are_invalid_nan() -> None:
    close = random_close(60)
    for h in (1, 5, 20):
        tasks = [make_task(f, h) for f in CATALOGUE]
        t = build_targets(to_dense(panel_from(close)), tasks)
        for task in tasks:
            valid, values = t.valid[task.name], t.values[task.name]
            assert not valid[-h:].any() and np.isnan(values[-h:]).all(), task.name
            assert np.array_equal(valid, np.isfinite(values)), task.name  # never zero-filled
            assert valid[40:-h].all(), task.name


def test_missing_close_invalidates_the_labels_around_it() -> None:
    g, h = 50, 3
    panel = panel_from(random_close(100, 2)).drop(index=(pd.bdate_range("2021-01-04", periods=100)[g], "T1"))
    tasks = [make_task("return", h), make_task("volatility", h), make_task("direction", 1)]
    t = build_targets(to_dense(panel), tasks)
    ret, vol, d1 = (t.valid[n][:, 1] for n in ("return", "volatility", "direction"))
    assert not ret[g] and not ret[g - h] and ret[g - 1] and ret[g + 1]  # endpoints needed only
    assert not vol[g - h:g + 1].any() and vol[g - h - 1] and vol[g + 2]  # every return t+1..t+h needed
    assert not d1[g] and not d1[g - 1] and d1[g + 1]
    assert t.valid["return"][:-h, 0].all()  # the other ticker is untouched


def test_labels_only_see_t_plus_1_to_t_plus_h() -> None:
    h, u = 5, 70  # perturb the close at date u only
    close = random_close(100, 3, seed=2)
    tasks = [make_task(f, h) for f in CATALOGUE] + [make_task("direction", 1, name="direction_1")]
    base = build_targets(to_dense(panel_from(close)), tasks)
    moved = close.copy()
    moved[u] *= 1.07
    t = build_targets(to_dense(panel_from(moved)), tasks)
    for task in tasks:
        a, b = base.values[task.name], t.values[task.name]
        assert np.array_equal(a[:u - task.horizon], b[:u - task.horizon], equal_nan=True), task.name
    assert not np.array_equal(base.values["return"][u - h:u], t.values["return"][u - h:u])
    moved_after = close.copy()
    moved_after[u + h + 1:] *= 0.9  # everything after t+h for t = u
    t2 = build_targets(to_dense(panel_from(moved_after)), tasks)
    for task in tasks:
        assert np.array_equal(base.values[task.name][:u + 1], t2.values[task.name][:u + 1], equal_nan=True)


def test_action_balance_responds_to_k() -> None:
    dense = to_dense(panel_from(random_close(300, 10, seed=4)))
    holds = []
    for k in (0.25, 0.5, 1.0, 2.0):
        t = build_targets(dense, [make_task("action", 1, params={"k": k})])
        v = t.values["action"][t.valid["action"]]
        holds.append(float((v == 1).mean()))
    assert holds == sorted(holds) and holds[-1] > holds[0] + 0.3
    fixed = [build_targets(dense, [make_task("action", 1, params={"threshold": th})]).values["action"]
             for th in (0.005, 0.03)]
    assert np.nanmean(fixed[0] == 1) < np.nanmean(fixed[1] == 1)


def test_aux_vol_is_trailing_30_day_std() -> None:
    close = random_close(90, 2)
    t = build_targets(to_dense(panel_from(close)), [make_task("return", 1)])
    r = pd.DataFrame(np.log(close)).diff()
    np.testing.assert_allclose(t.aux["vol"], r.rolling(30, min_periods=15).std(), rtol=1e-5)


def test_bad_task_params_and_mask_cycles() -> None:
    dense = to_dense(panel_from(CLOSES))
    with pytest.raises(ConfigError, match=r"params\.k"):
        build_targets(dense, [make_task("action", 1, params={"k": -1})])
    with pytest.raises(ConfigError, match="vol_window"):
        build_targets(dense, [make_task("signal", 1, params={"vol_window": 2.5})])
    cyc = [make_task("signal", 1, mask_by="direction"), make_task("direction", 1, mask_by="signal")]
    with pytest.raises(ConfigError, match="cycle"):
        build_targets(dense, cyc)
