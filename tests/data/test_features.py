"""Features: registry, values, causality (no look-ahead), gaps, close-only panels, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.data.containers import FEATURE_GROUPS, PRICE_COLUMNS
from finmt_core.data.dense import to_dense
from finmt_core.data.features import compute_features, list_features, ops
from finmt_core.errors import ConfigError, DataError

MARKET = {"mkt_ret_1", "mkt_ret_20", "mkt_vol_20", "breadth"}


def make_panel(n_tickers: int = 6, n_days: int = 120, seed: int = 0, *, ohlcv: bool = True,
               sector: bool = True, extra: bool = False) -> pd.DataFrame:
    """A Panel (MultiIndex (date, ticker), float64 prices) of correlated random walks."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_days)
    tickers = [f"T{i}" for i in range(n_tickers)]
    r = rng.standard_t(4, (n_days, n_tickers)) * 0.01 + rng.normal(0, 0.008, (n_days, 1))
    close = 40.0 * np.exp(np.cumsum(r, axis=0))
    cols: dict[str, np.ndarray] = {"close": close}
    if ohlcv:
        op = close * np.exp(rng.normal(0, 0.004, close.shape))
        cols["open"] = op
        cols["high"] = np.maximum(op, close) * np.exp(np.abs(rng.normal(0, 0.006, close.shape)))
        cols["low"] = np.minimum(op, close) * np.exp(-np.abs(rng.normal(0, 0.006, close.shape)))
        cols["volume"] = np.round(np.exp(rng.normal(12, 0.5, close.shape)))
    if extra:
        cols["rate"] = np.repeat(rng.normal(2, 0.1, (n_days, 1)), n_tickers, axis=1)  # market-wide
        cols["sentiment"] = rng.normal(0, 1, close.shape)  # per stock
    idx = pd.MultiIndex.from_product([dates, tickers], names=["date", "ticker"])
    df = pd.DataFrame({k: v.ravel() for k, v in cols.items()}, index=idx)
    if sector:
        df["sector"] = np.tile([f"S{i % 2}" for i in range(n_tickers)], n_days)
    return df


@pytest.fixture(scope="module")
def full_panel() -> pd.DataFrame:
    return make_panel(extra=True)


@pytest.fixture(scope="module")
def full_frame(full_panel: pd.DataFrame):
    return compute_features(full_panel)


def col(frame, name: str) -> np.ndarray:
    return frame.values[:, :, frame.index_of([name])[0]]


# ---- registry and shapes ---------------------------------------------------------------------
def test_registry_has_30_plus_grouped_features() -> None:
    specs = list_features()
    assert len(specs) >= 30
    assert len({s.name for s in specs}) == len(specs)
    allowed = set(PRICE_COLUMNS) | {"sector"}
    for s in specs:
        assert s.group in FEATURE_GROUPS and s.description and "close" in s.needs
        assert s.needs <= allowed
    # canonical order: groups contiguous, in FEATURE_GROUPS order
    order = [FEATURE_GROUPS.index(s.group) for s in specs]
    assert order == sorted(order)


def test_full_panel_frame(full_frame, full_panel: pd.DataFrame) -> None:
    f = full_frame
    d, n = full_panel.index.levshape
    assert f.values.dtype == np.float32 and f.values.shape == (d, n, len(f.names))
    assert len(f.names) >= 30 + 2 and not f.skipped
    assert set(f.groups) == set(FEATURE_GROUPS) and all(f.groups[g] for g in FEATURE_GROUPS)
    assert sum(len(v) for v in f.groups.values()) == len(f.names)
    assert set(f.market) == MARKET | {"extra_rate"}
    assert f.mask.dtype == bool and f.mask[-20:].all()
    assert not f.mask[:50].any()  # 60-day features still warming up
    assert np.isfinite(f.values[f.mask]).all()
    for name in f.market:  # one value per date
        v = col(f, name)[f.mask.all(axis=1)]
        assert np.allclose(v, v[:, :1])


def test_extra_columns_pass_through(full_frame, full_panel: pd.DataFrame) -> None:
    dense = to_dense(full_panel)
    np.testing.assert_allclose(col(full_frame, "extra_sentiment"), dense.columns["sentiment"], rtol=1e-6)
    assert "extra_sentiment" in full_frame.groups["context"]


def test_values_against_pandas_reference(full_frame, full_panel: pd.DataFrame) -> None:
    close = full_panel["close"].unstack("ticker")
    r = np.log(close).diff()
    np.testing.assert_allclose(col(full_frame, "ret_5"), np.log(close / close.shift(5)), rtol=1e-5)
    np.testing.assert_allclose(col(full_frame, "ma_gap_20"),
                               close / close.rolling(20, min_periods=16).mean() - 1, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(col(full_frame, "vol_20"), r.rolling(20, min_periods=16).std(), rtol=1e-4)
    mkt = r.mean(axis=1).to_numpy()
    np.testing.assert_allclose(col(full_frame, "mkt_ret_1")[:, 0], mkt, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(col(full_frame, "breadth")[1:, 0], (r > 0).mean(axis=1)[1:], rtol=1e-6)
    corr = r.rolling(60, min_periods=48).corr(pd.Series(mkt, index=r.index))
    np.testing.assert_allclose(col(full_frame, "corr_mkt_60"), corr, rtol=1e-3, atol=1e-5)
    for name in ("rsi_14", "stoch_14", "cs_rank_ret_5"):
        v = col(full_frame, name)[full_frame.mask]
        assert v.min() >= 0.0 and v.max() <= 1.0


def test_cross_sectional_rank_and_sector_relative() -> None:
    a = np.array([[0.3, -0.1, 0.2, np.nan], [1.0, 1.0, 0.0, 2.0], [np.nan, 5.0, np.nan, np.nan]])
    np.testing.assert_allclose(ops.cs_rank(a), [[1.0, 0.0, 0.5, np.nan], [0.5, 0.5, 0.0, 1.0],
                                                [np.nan, 0.5, np.nan, np.nan]])
    g = ops.group_mean(a, np.array([0, 0, 1, 1]), 2)
    np.testing.assert_allclose(g[0], [0.1, 0.1, 0.2, 0.2])


@pytest.mark.parametrize("layout", ["C", "F"])
def test_rolling_ops_match_pandas(layout: str) -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(80, 5))
    a[rng.random(a.shape) < 0.1] = np.nan
    x = np.asarray(a, order=layout)
    ref = pd.DataFrame(a).rolling(10, min_periods=8)
    for ours, theirs in [(ops.roll_mean, ref.mean()), (ops.roll_sum, ref.sum()), (ops.roll_std, ref.std()),
                         (ops.roll_max, ref.max()), (ops.roll_min, ref.min())]:
        np.testing.assert_allclose(ours(x, 10), theirs.to_numpy(), rtol=1e-9, atol=1e-12)
    flat = np.full((30, 1), 13.7)
    flat[:10] = rng.uniform(0, 100, (10, 1))
    assert (ops.roll_std(flat, 10)[-5:] == 0).all()  # flat window: exactly 0, not rounding noise


@pytest.mark.parametrize("layout", ["C", "F", "1d"])
@pytest.mark.parametrize(("kw", "minp"), [({"span": 12}, 12), ({"alpha": 1 / 14}, 14), ({"span": 3}, 1), ({"span": 5}, 50)])
def test_ewm_mean_matches_pandas(layout: str, kw: dict, minp: int) -> None:
    rng = np.random.default_rng(4)
    a = np.cumsum(rng.normal(size=(90, 7)), axis=0)
    a[:12, 1] = np.nan  # leading gap: the filter path
    a[40:43, 2] = np.nan  # gap inside the history: pandas' re-weighting
    a[:, 3] = np.nan  # never observed
    a[60:, 4] = np.nan  # trailing gap
    a[30, 5] = np.inf
    ref = pd.DataFrame(a).ewm(adjust=False, min_periods=minp, **kw).mean().to_numpy()
    if layout == "1d":
        for j in range(a.shape[1]):
            np.testing.assert_allclose(ops.ewm_mean(a[:, j], minp=minp, **kw), ref[:, j], rtol=1e-12, atol=1e-12)
        return
    out = ops.ewm_mean(np.asarray(a, order=layout), minp=minp, **kw)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    assert out.flags.f_contiguous == (layout == "F")
    with pytest.raises(ValueError, match="alpha"):
        ops.ewm_mean(a, alpha=1.5)


def test_cross_sectional_flag_is_right(full_panel: pd.DataFrame, full_frame) -> None:
    """A feature not flagged market or cross-sectional must come out the same when its ticker is
    computed alone (what-if relies on it); a flagged one must actually depend on the others."""
    specs = {s.name: s for s in list_features()}
    ticker = "T3"
    alone = compute_features(full_panel.xs(ticker, level="ticker", drop_level=False))
    j = full_frame.tickers.index(ticker)
    flagged_moved = []
    for name in full_frame.names:
        spec = specs.get(name)
        if spec is None or spec.market:  # extra columns pass through; market features are shared
            continue
        ours, solo = col(full_frame, name)[:, j], alone.values[:, 0, alone.index_of([name])[0]]
        if spec.cross_sectional:
            flagged_moved.append(not np.allclose(ours, solo, equal_nan=True))
        else:
            np.testing.assert_allclose(solo, ours, rtol=1e-6, atol=1e-6, err_msg=name)
    assert flagged_moved and all(flagged_moved)


# ---- causality -------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["after", "next_day"])
def test_no_lookahead(full_panel: pd.DataFrame, where: str) -> None:
    """Changing any input strictly after t (or only at t+1) leaves every feature at <= t unchanged."""
    base = compute_features(full_panel)
    dates = full_panel.index.get_level_values("date")
    t = base.dates[80]
    after = dates > t if where == "after" else dates == base.dates[81]
    moved = full_panel.copy()
    rng = np.random.default_rng(7)
    for c in ("open", "high", "low", "close", "volume", "rate", "sentiment"):
        moved.loc[after, c] = moved.loc[after, c].to_numpy() * rng.uniform(0.5, 1.5, after.sum())
    f = compute_features(moved)
    assert np.array_equal(base.values[:81], f.values[:81], equal_nan=True)
    assert np.array_equal(base.mask[:81], f.mask[:81])
    assert not np.array_equal(base.values[81], f.values[81], equal_nan=True)


# ---- gaps ------------------------------------------------------------------------------------
def test_gap_is_never_filled() -> None:
    panel = make_panel(n_days=100)
    g, k = 70, "T2"
    gap_date = panel.index.levels[0][g]
    f = compute_features(panel.drop(index=(gap_date, k)))
    j = f.tickers.index(k)
    ret1, ret5 = col(f, "ret_1")[:, j], col(f, "ret_5")[:, j]
    assert np.isnan(f.values[g, j]).all() and not f.mask[g, j]
    assert np.isnan(ret1[g + 1]) and not f.mask[g + 1, j]  # the return across the gap
    assert np.isnan(ret5[g + 5]) and np.isfinite(ret5[g + 4]) and np.isfinite(ret5[g + 6])
    assert np.isfinite(col(f, "vol_20")[g + 2, j])  # windows skip the gap, they do not need it
    assert f.mask[g + 1, [i for i in range(len(f.tickers)) if i != j]].all()  # others unaffected


# ---- partial panels, selection, errors -----------------------------------------------------
def test_close_only_panel_skips_and_lists() -> None:
    from finmt_core.data.labels import build_targets
    from finmt_core.tasks import CATALOGUE, make_task

    panel = make_panel(ohlcv=False, sector=False)
    f = compute_features(panel)
    targets = build_targets(to_dense(panel), [make_task(name, 5) for name in CATALOGUE])
    assert all(v[60:-5].all() for v in targets.valid.values())
    assert f.groups["volume"] == [] and len(f.names) >= 30
    for name in ("volume_z_20", "atr_14", "gap_open", "garman_klass_20", "sector_rel_ret_5"):
        assert name in f.skipped and name not in f.names
    assert "volume" in f.skipped["volume_z_20"] and "high" in f.skipped["atr_14"]
    assert "sector" in f.skipped["sector_rel_ret_5"]
    assert f.mask[-10:].all()


def test_feature_selection(full_panel: pd.DataFrame) -> None:
    f = compute_features(make_panel(ohlcv=False), features=["vol_20", "ret_1", "atr_14"])
    assert f.names == ["ret_1", "vol_20"] and list(f.skipped) == ["atr_14"]
    with pytest.raises(ConfigError, match="did you mean 'rsi_14'"):
        compute_features(full_panel, features=["rsi14"])
    with pytest.raises(DataError, match="none of the requested features"):
        compute_features(make_panel(ohlcv=False), features=["atr_14"])


def test_bad_inputs() -> None:
    panel = make_panel(n_days=30)
    with pytest.raises(DataError, match="close"):
        compute_features(panel.drop(columns="close"))
    with pytest.raises(DataError, match="Panel"):
        compute_features(panel.reset_index())
    with pytest.raises(DataError, match="Panel"):
        compute_features([1, 2, 3])  # type: ignore[arg-type]
    bad = panel.copy()
    bad.iloc[5, bad.columns.get_loc("close")] = -1.0
    with pytest.raises(DataError, match="> 0"):
        compute_features(bad)


# ---- scaler ----------------------------------------------------------------------------------
def test_scaler_fits_on_train_rows_only(full_frame) -> None:
    from finmt_core.data.features import FeatureScaler

    train = np.arange(60, 90)
    s1 = FeatureScaler().fit(full_frame.values, full_frame.mask, train)
    changed = full_frame.values.copy()
    changed[90:] *= 100.0  # val/test dates
    changed[60:90][~full_frame.mask[60:90]] = 1e6  # masked train rows are not read either
    s2 = FeatureScaler().fit(changed, full_frame.mask, train)
    assert s1.state_dict() == s2.state_dict()
    x = s1.transform(full_frame.values)
    assert x.dtype == np.float32 and x.shape == full_frame.values.shape
    assert np.isfinite(x).all() and np.abs(x).max() <= 5.0
    assert (x[~full_frame.mask] == 0).sum() > 0  # NaN (warm-up rows) -> 0
    rows = x[train][full_frame.mask[train]]
    assert np.allclose(np.median(rows, axis=0), 0.0, atol=1e-5)  # median-centred on train rows


def test_scaler_state_dict_round_trip(full_frame, tmp_path) -> None:
    import json

    import torch

    from finmt_core.data.features import FeatureScaler
    from finmt_core.errors import RunError

    with pytest.raises(RunError, match="not fitted"):
        FeatureScaler().transform(full_frame.values)
    s = FeatureScaler(clip=3.0).fit(full_frame.values, full_frame.mask, np.arange(60, 100))
    state = s.state_dict()
    json.dumps(state)  # plain python types only
    torch.save({"scaler": state}, tmp_path / "ck.pt")
    loaded = torch.load(tmp_path / "ck.pt", weights_only=True)["scaler"]
    s2 = FeatureScaler().load_state_dict(loaded)
    assert np.array_equal(s.transform(full_frame.values), s2.transform(full_frame.values))
    assert np.abs(s2.transform(full_frame.values)).max() <= 3.0
    with pytest.raises(DataError, match="fitted on"):
        s2.transform(full_frame.values[:, :, :5])
    with pytest.raises(RunError, match="invalid scaler state"):
        FeatureScaler().load_state_dict({"center": [0.0]})
    with pytest.raises(DataError, match="no valid training rows"):
        FeatureScaler().fit(full_frame.values, full_frame.mask, np.arange(0, 10))


def test_panel_shorter_than_warm_up() -> None:
    f = compute_features(make_panel(n_days=40))
    assert np.isnan(col(f, "vol_60")).all() and np.isnan(col(f, "ret_60")).all()
    assert np.isfinite(col(f, "ret_5")[5:]).all() and not f.mask.any()


def test_ticker_blocks_give_identical_features(monkeypatch: pytest.MonkeyPatch) -> None:
    """Own-column features computed on blocks of tickers equal the one-pass computation bit for bit."""
    import finmt_core.data.features.compute as compute_mod

    panel = make_panel(n_tickers=7, n_days=150, seed=5, extra=True)
    whole = compute_features(panel)
    monkeypatch.setattr(compute_mod, "TICKER_BLOCK", 3)  # blocks of 3, 3 and 1 tickers
    blocked = compute_features(panel)
    assert blocked.names == whole.names
    np.testing.assert_array_equal(blocked.values, whole.values)
    np.testing.assert_array_equal(blocked.mask, whole.mask)
