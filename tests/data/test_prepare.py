"""prepare(): panel -> scaled arrays, targets, split, graph, InputInfo; end to end on tiny panels."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import torch

from finmt_core.config import ExperimentConfig, SplitConfig
from finmt_core.data.containers import Split
from finmt_core.data.prepare import InputInfo, PreparedData, prepare
from finmt_core.data.splits import walk_forward_splits
from finmt_core.data.tensors import KINDS, make_dataset, make_loader
from finmt_core.errors import ConfigError, DataError

WINDOW = 10


def _config(**data) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "data": {"window": WINDOW, "image_size": 16, **data},
        "tasks": [
            {"target": "signal", "horizon": 1},
            {"target": "direction", "horizon": 1, "mask_by": "signal"},
            {"target": "return", "horizon": 5},
        ],
    })


@pytest.fixture(scope="module")
def prepared(tiny_panel: pd.DataFrame) -> PreparedData:
    return prepare(tiny_panel, _config())


def test_prepare_end_to_end(prepared: PreparedData, tiny_panel: pd.DataFrame) -> None:
    d, n, f = prepared.X.shape
    assert (d, n) == (tiny_panel.index.get_level_values("date").nunique(), 8)
    assert prepared.X.dtype == np.float32 and prepared.X.flags.c_contiguous
    assert np.isfinite(prepared.X).all()
    info = prepared.info
    assert info.n_features == f == len(info.feature_names) and info.window == WINDOW
    assert info.n_nodes == 8 and info.image_size == 16
    assert sorted(info.context_idx + info.stock_idx) == list(range(f))
    assert all(idx for idx in info.groups.values())
    assert info.image_groups == [g for g in ("trend", "volume", "volatility") if g in info.groups]
    split = prepared.split
    assert split.embargo == 5 and split.train[0] == WINDOW - 1
    assert split.train[-1] + 5 < split.val[0] and split.val[-1] + 5 < split.test[0]
    assert prepared.graph.fit_dates == (prepared.dates[split.train[0]], prepared.dates[split.train[-1]])
    for seg in ("train", "val", "test"):
        rd, rn = prepared.rows(seg)
        assert rd.size > 0
        assert np.isin(rd, split.segment(seg)).all() and (rd >= WINDOW - 1).all()
        assert prepared.frame.mask[rd, rn].all()
        any_valid = np.any([prepared.targets.valid[t.name][rd, rn] for t in prepared.targets.tasks], axis=0)
        assert any_valid.all()
    # the latest date has no target but is an inference row
    last = d - 1
    assert last not in prepared.rows("test")[0] and last in prepared.rows_all()[0]


def test_fitted_parts_ignore_data_after_train(tiny_panel: pd.DataFrame, prepared: PreparedData) -> None:
    cut = prepared.dates[prepared.split.train[-1]]
    changed = tiny_panel.copy()
    later = changed.index.get_level_values("date") > cut
    for col in ("open", "high", "low", "close"):
        changed.loc[later, col] *= 1.7
    other = prepare(changed, _config())
    assert other.scaler.state_dict() == prepared.scaler.state_dict()
    np.testing.assert_array_equal(other.graph.edge_index, prepared.graph.edge_index)
    np.testing.assert_array_equal(other.graph.edge_weight, prepared.graph.edge_weight)
    np.testing.assert_array_equal(other.X[: prepared.split.train[-1] + 1], prepared.X[: prepared.split.train[-1] + 1])


def test_scaler_state_reproduces_X(tiny_panel: pd.DataFrame, prepared: PreparedData) -> None:
    again = prepare(tiny_panel, _config(), split=prepared.split, scaler_state=prepared.scaler.state_dict())
    np.testing.assert_array_equal(again.X, prepared.X)


def test_input_info_round_trip_plain_types(prepared: PreparedData) -> None:
    d = prepared.info.to_dict()
    assert json.loads(json.dumps(d)) == d
    buf = io.BytesIO()
    torch.save({"input_info": d}, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)["input_info"]
    assert InputInfo.from_dict(loaded) == prepared.info
    with pytest.raises(DataError, match="input_info"):
        InputInfo.from_dict({"n_features": 3})


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_runs_on_prepared(prepared: PreparedData, kind: str) -> None:
    ds = make_dataset(kind, prepared, "train")
    batch = next(iter(make_loader(ds, batch_size=4, shuffle=True, seed=0)))
    b = 4 * prepared.info.n_nodes if kind == "graph" else 4
    assert batch["x"].shape == (b, WINDOW, prepared.info.n_features)
    assert set(batch["targets"]) == {"signal", "direction", "return"}


def test_close_only_runs_through_every_kind(tiny_panel: pd.DataFrame) -> None:
    close_only = tiny_panel[["close"]].copy()
    prep = prepare(close_only, _config())
    assert "volume" not in prep.info.groups
    assert prep.info.image_groups == ["trend", "volatility"]
    for kind in KINDS:
        batch = make_dataset(kind, prep, "val").__getitems__([0, 1])
        assert torch.isfinite(batch["x"]).all()
        if kind == "image":
            assert batch["image"].shape == (2, 2, 16, 16)  # no volume channel


def test_ticker_and_feature_subsets(tiny_panel: pd.DataFrame, prepared: PreparedData) -> None:
    tickers = prepared.tickers[:3]
    feats = prepared.info.feature_names[:4]
    prep = prepare(tiny_panel, _config(tickers=tickers, features=feats))
    assert prep.tickers == sorted(tickers) and prep.info.n_nodes == 3
    assert set(prep.info.feature_names) == set(feats)
    with pytest.raises(DataError, match=r"data\.tickers"):
        prepare(tiny_panel, _config(tickers=["NOPE"]))


def test_given_walk_forward_split(tiny_panel: pd.DataFrame, prepared: PreparedData) -> None:
    cfg = SplitConfig(train_frac=0.5, val_frac=0.2, folds=2)
    folds = walk_forward_splits(prepared.dates, cfg, 5, min_index=WINDOW - 1)
    prep = prepare(tiny_panel, _config(), split=folds[1])
    assert prep.split.fold == 1
    np.testing.assert_array_equal(prep.split.test, folds[1].test)


def test_too_short_history_is_a_clear_error(tiny_panel: pd.DataFrame) -> None:
    dates = tiny_panel.index.get_level_values("date").unique()
    short = tiny_panel[tiny_panel.index.get_level_values("date") <= dates[40]]
    with pytest.raises((DataError, ConfigError), match=r"(?i)short|history"):
        prepare(short, _config())


def test_given_split_is_checked(tiny_panel: pd.DataFrame, prepared: PreparedData) -> None:
    s = prepared.split
    leaky = Split(train=s.train, val=s.val, test=s.test, embargo=1)
    with pytest.raises(ConfigError, match="embargo"):
        prepare(tiny_panel, _config(), split=leaky)
    early = Split(train=np.arange(0, 100), val=s.val, test=s.test, embargo=5)
    with pytest.raises(DataError, match="first usable row"):
        prepare(tiny_panel, _config(), split=early)
