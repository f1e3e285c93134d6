"""Torch datasets: exact shapes/dtypes per kind, values equal hand slices, no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data.distributed import DistributedSampler

from finmt_core.config import ExperimentConfig, SplitConfig
from finmt_core.data.containers import FeatureFrame, StockGraph, Targets
from finmt_core.data.dense import DensePanel
from finmt_core.data.images import ImageBuilder
from finmt_core.data.prepare import PreparedData, make_input_info
from finmt_core.data.splits import make_split
from finmt_core.data.tensors import BatchIndexSampler, make_dataset, make_inference_batches, make_loader
from finmt_core.errors import ConfigError, DataError
from finmt_core.tasks import make_task

D, N, T = 40, 4, 4
NAMES = ["f0", "f1", "f2", "f3", "f4"]
GROUPS = {"trend": ["f0", "f1"], "volume": ["f2"], "volatility": ["f3"], "context": ["f4"]}
EDGES = np.array([[0, 1, 1, 2], [1, 0, 2, 1]], dtype=np.int64)


def _encoded() -> np.ndarray:
    """X[d, n, f] = 100 d + 10 n + f (exact in float32): every value names its own row."""
    d, n, f = np.meshgrid(np.arange(D), np.arange(N), np.arange(len(NAMES)), indexing="ij")
    x = (100 * d + 10 * n + f).astype(np.float32)
    x[:, :, 4] = 100 * np.arange(D)[:, None] + 4  # market feature: same for every ticker
    return x


def make_prepared(names: list[str] = NAMES, groups: dict | None = None, market: list[str] | None = None,
                  image_size: int = 8) -> PreparedData:
    groups = GROUPS if groups is None else groups
    market = ["f4"] if market is None else market
    cols = [NAMES.index(n) for n in names]
    x = np.ascontiguousarray(_encoded()[:, :, cols])
    mask = np.ones((D, N), dtype=bool)
    mask[10, 2] = False
    mask[20:23, 3] = False
    x[~mask] = 0.0  # as the scaler does for NaN features
    dates = pd.bdate_range("2021-01-01", periods=D)
    tickers = [f"T{i}" for i in range(N)]
    frame = FeatureFrame(values=x.copy(), mask=mask, dates=dates, tickers=tickers, names=list(names),
                         groups=groups, market=market)
    tasks = [make_task("direction", 1), make_task("return", 2)]
    rng = np.random.default_rng(0)
    values = {"direction": rng.integers(0, 2, (D, N)).astype(np.float32),
              "return": rng.normal(size=(D, N)).astype(np.float32)}
    valid = {"direction": mask.copy(), "return": mask.copy()}
    valid["direction"][-1] = False
    valid["return"][-2:] = False
    values["return"][~valid["return"]] = np.nan
    targets = Targets(tasks=tasks, values=values, valid=valid)
    config = ExperimentConfig(tasks=tasks)
    split = make_split(dates, SplitConfig(train_frac=0.5, val_frac=0.25), 2, min_index=T - 1)
    dense = DensePanel(dates=dates, tickers=tickers, columns={"close": np.ones((D, N))})
    graph = StockGraph(edge_index=EDGES, edge_weight=np.array([0.5, 0.5, 0.8, 0.8], dtype=np.float32),
                       n_nodes=N, kind="correlation")
    info = make_input_info(frame, T, image_size)
    return PreparedData(config=config, dense=dense, frame=frame, targets=targets, split=split, graph=graph,
                        scaler=None, X=x, info=info)  # type: ignore[arg-type]


@pytest.fixture()
def prepared() -> PreparedData:
    return make_prepared()


def _common_checks(batch: dict, b: int) -> None:
    assert set(batch["targets"]) == {"direction", "return"} == set(batch["valid"])
    for name in ("direction", "return"):
        assert batch["targets"][name].shape == (b,) and batch["targets"][name].dtype == torch.float32
        assert batch["valid"][name].shape == (b,) and batch["valid"][name].dtype == torch.bool
        assert torch.isfinite(batch["targets"][name]).all()
    assert batch["date_idx"].dtype == torch.int64 and batch["date_idx"].shape == (b,)
    assert batch["ticker_idx"].dtype == torch.int64 and batch["ticker_idx"].shape == (b,)


def test_rows_are_usable_rows(prepared) -> None:
    d, n = prepared.rows("train")
    assert d.min() >= T - 1 and set(d.tolist()) <= set(prepared.split.train.tolist())
    assert prepared.frame.mask[d, n].all()
    assert not ((d == 10) & (n == 2)).any()
    # rows_all keeps the last date (no target) while rows("test") does not
    dt, _ = prepared.rows("test")
    da, _ = prepared.rows_all("test")
    assert D - 1 not in dt and D - 1 in da


@pytest.mark.parametrize("kind", ["window", "flat", "image", "tower"])
def test_row_kinds_shapes_and_dtypes(prepared, kind) -> None:
    ds = make_dataset(kind, prepared, "train")
    assert len(ds) == prepared.rows("train")[0].size
    batch = ds.__getitems__([0, 3, 5])
    _common_checks(batch, 3)
    assert batch["x"].shape == (3, T, 5) and batch["x"].dtype == torch.float32
    if kind == "image":
        assert batch["image"].shape == (3, 3, 8, 8) and batch["image"].dtype == torch.float32
    if kind == "tower":
        assert batch["context"].shape == (3, prepared.info.context_dim) == (3, 2)
        assert batch["stock"].shape == (3, prepared.info.stock_dim) == (3, 4)


def test_window_values_equal_hand_slice_and_never_look_ahead(prepared) -> None:
    ds = make_dataset("window", prepared, "val")
    d_rows, n_rows = prepared.rows("val")
    batch = ds.__getitems__(list(range(len(ds))))
    for i in range(len(ds)):  # a handful of rows: hand check each
        d, n = d_rows[i], n_rows[i]
        expected = torch.from_numpy(prepared.X[d - T + 1: d + 1, n])
        assert torch.equal(batch["x"][i], expected)
    # decode the date of every window cell: the last column is the row's date, none later
    x_dates = torch.div(batch["x"][..., 0], 100, rounding_mode="floor")
    assert torch.equal(x_dates[:, -1].long(), torch.from_numpy(d_rows))  # the row itself is never masked
    assert (x_dates <= torch.from_numpy(d_rows)[:, None]).all()


def test_changing_future_leaves_batch_unchanged(prepared) -> None:
    ds = make_dataset("image", prepared, "train")
    before = ds.__getitems__(list(range(len(ds))))
    last = int(prepared.split.train.max())
    prepared.X[last + 1:] = 999.0  # in place: the dataset shares memory with X
    after = ds.__getitems__(list(range(len(ds))))
    assert torch.equal(before["x"], after["x"]) and torch.equal(before["image"], after["image"])


def test_dataset_shares_memory_with_X(prepared) -> None:
    ds = make_dataset("window", prepared, "train")
    assert ds.store.X.data_ptr() == prepared.X.ctypes.data


def test_targets_and_valid_follow_targets(prepared) -> None:
    ds = make_dataset("window", prepared, "test")
    batch = ds.__getitems__(list(range(len(ds))))
    d, n = batch["date_idx"].numpy(), batch["ticker_idx"].numpy()
    np.testing.assert_array_equal(batch["valid"]["return"].numpy(), prepared.targets.valid["return"][d, n])
    ok = prepared.targets.valid["direction"][d, n]
    np.testing.assert_array_equal(batch["targets"]["direction"].numpy()[ok], prepared.targets.values["direction"][d, n][ok])
    assert (batch["targets"]["return"][~batch["valid"]["return"]] == 0).all()  # never NaN


def test_image_channels_are_groups(prepared) -> None:
    builder = ImageBuilder.from_info(prepared.info)
    assert prepared.info.image_resize == "nearest"
    ds = make_dataset("image", prepared, "train")
    batch = ds.__getitems__([0, 1])
    raw = builder.raw(batch["x"])  # [B, C, Hmax, T]
    assert raw.shape == (2, 3, 2, T)  # f4 is market-wide: not an image row
    x = batch["x"]
    assert torch.equal(raw[:, 0], x[:, :, [0, 1]].permute(0, 2, 1))  # trend: f0, f1 as rows
    assert torch.equal(raw[:, 1, 0], x[:, :, 2]) and (raw[:, 1, 1] == 0).all()  # volume + padding
    assert torch.equal(raw[:, 2, 0], x[:, :, 3])
    expected = torch.nn.functional.interpolate(raw, size=(8, 8), mode="nearest-exact")
    assert torch.equal(batch["image"], expected)
    # nearest: every pixel is one exact feature value, the last column is the last day
    assert torch.equal(batch["image"][:, 0, :, -1], x[:, -1, [0, 0, 0, 0, 1, 1, 1, 1]])
    # touching only the volume feature changes only channel 1
    x2 = x.clone()
    x2[:, :, 2] += 50.0
    diff = (builder(x2) - builder(x)).abs().amax(dim=(2, 3))
    assert (diff[:, 1] > 0).all() and (diff[:, [0, 2]] == 0).all()


def test_stock_level_context_features_are_image_rows() -> None:
    names = ["f0", "f1", "f2", "f3", "f4", "beta_60", "mkt"]
    groups = {"trend": ["f0", "f1"], "volume": ["f2"], "volatility": ["f3"], "context": ["f4", "beta_60", "mkt"]}
    info = make_input_info(FeatureFrame(values=np.zeros((D, N, 7), np.float32), mask=np.ones((D, N), bool),
                                        dates=pd.bdate_range("2021-01-01", periods=D), tickers=[f"T{i}" for i in range(N)],
                                        names=names, groups=groups, market=["mkt"]), T, 8)
    # f4 (stock-level) -> trend, beta_60 (a risk measure) -> volatility, mkt (market-wide) -> none
    assert info.image_rows == {"trend": [0, 1, 4], "volume": [2], "volatility": [3, 5]}
    x = torch.arange(2 * T * 7, dtype=torch.float32).reshape(2, T, 7)
    raw = ImageBuilder.from_info(info).raw(x)
    assert raw.shape == (2, 3, 3, T)
    assert torch.equal(raw[:, 0, 2], x[:, :, 4]) and torch.equal(raw[:, 2, 1], x[:, :, 5])
    assert not torch.isin(x[:, :, 6], raw).any()  # the market feature is in no channel


def test_input_info_without_image_fields_keeps_the_old_images(prepared) -> None:
    """Checkpoints written before image_rows/image_resize rebuild their bilinear group images."""
    old = {k: v for k, v in prepared.info.to_dict().items() if k not in ("image_rows", "image_resize")}
    info = type(prepared.info).from_dict(old)
    assert info.image_rows is None and info.image_resize == "bilinear"
    x = torch.randn(3, T, 5)
    builder = ImageBuilder.from_info(info)
    expected = torch.nn.functional.interpolate(builder.raw(x), size=(8, 8), mode="bilinear", align_corners=False)
    assert torch.allclose(builder(x), expected, atol=1e-6)
    assert type(prepared.info).from_dict(prepared.info.to_dict()) == prepared.info


def test_nearest_shrinking_averages_rows_instead_of_dropping_them() -> None:
    builder = ImageBuilder({"trend": list(range(6))}, ["trend"], 3, 6, resize="nearest")
    x = torch.zeros(1, 6, 6)
    x[0, :, 5] = 6.0  # only the last row (feature 5) is non-zero
    img = builder(x)
    assert img.shape == (1, 1, 3, 3)
    assert torch.allclose(img[0, 0, -1], torch.full((3,), 3.0)) and (img[0, 0, :2] == 0).all()


def test_image_without_volume_has_fewer_channels() -> None:
    names = ["f0", "f1", "f3", "f4"]
    groups = {"trend": ["f0", "f1"], "volume": [], "volatility": ["f3"], "context": ["f4"]}
    prep = make_prepared(names=names, groups=groups)
    assert prep.info.image_groups == ["trend", "volatility"]
    batch = make_dataset("image", prep, "train").__getitems__([0])
    assert batch["image"].shape == (1, 2, 8, 8)


def test_tower_context_is_market_at_t_and_5_day_mean(prepared) -> None:
    ds = make_dataset("tower", prepared, "val")
    batch = ds.__getitems__(list(range(len(ds))))
    d = batch["date_idx"].float()
    mkt_now = 100 * d + 4
    assert torch.allclose(batch["context"][:, 0], mkt_now)
    assert torch.allclose(batch["context"][:, 1], mkt_now - 200)  # mean of d-4..d
    n = batch["ticker_idx"]
    assert torch.equal(batch["stock"], prepared_x(prepared)[batch["date_idx"], n][:, :4])


def prepared_x(prep: PreparedData) -> torch.Tensor:
    return torch.from_numpy(prep.X)


def test_tower_without_market_features_errors() -> None:
    prep = make_prepared(names=["f0", "f1", "f2", "f3"], groups={"trend": ["f0", "f1"], "volume": ["f2"],
                                                                 "volatility": ["f3"]}, market=[])
    with pytest.raises(ConfigError, match="market"):
        make_dataset("tower", prep, "train")


def test_graph_batches_offset_edges(prepared) -> None:
    ds = make_dataset("graph", prepared, "test")
    dates = np.unique(prepared.rows("test")[0])
    assert len(ds) == len(dates) and ds.rows_per_sample == N
    batch = ds.__getitems__([0, 1, 2])
    g = 3
    _common_checks(batch, g * N)
    assert batch["n_graphs"] == g
    assert batch["x"].shape == (g * N, T, 5)
    assert batch["edge_index"].shape == (2, g * EDGES.shape[1]) and batch["edge_index"].dtype == torch.int64
    assert batch["edge_weight"].shape == (g * EDGES.shape[1],)
    for k in range(g):
        part = batch["edge_index"][:, k * 4:(k + 1) * 4]
        assert torch.equal(part, torch.from_numpy(EDGES) + k * N)
        d = int(dates[k])
        for node in range(N):  # node k*N + node is ticker `node` at date d
            assert torch.equal(batch["x"][k * N + node], torch.from_numpy(prepared.X[d - T + 1:d + 1, node]))
    assert torch.equal(batch["date_idx"], torch.from_numpy(dates[:3]).repeat_interleave(N))
    assert torch.equal(batch["ticker_idx"], torch.arange(N).repeat(g))


def test_graph_missing_nodes_are_masked() -> None:
    prep = make_prepared()
    ds = make_dataset("graph", prep, None, date_idx=np.array([21, 21, 30]), ticker_idx=np.array([0, 1, 0]))
    batch = ds.__getitems__([0, 1])
    assert batch["node_mask"].tolist() == [True, True, True, False, True, True, True, True]
    for name in ("direction", "return"):
        assert not batch["valid"][name][3]


@pytest.mark.parametrize("kind", ["window", "image", "graph", "tower", "flat"])
def test_loader_shuffle_covers_every_sample_once(prepared, kind) -> None:
    ds = make_dataset(kind, prepared, "train")
    loader = make_loader(ds, batch_size=7, shuffle=True, seed=3)
    seen = []
    for batch in loader:
        key = batch["date_idx"] * N + batch["ticker_idx"]
        seen.append(key)
    seen_all = torch.cat(seen)
    if kind == "graph":
        assert seen_all.numel() == len(ds) * N
    else:
        assert sorted(seen_all.tolist()) == sorted((ds.date_idx * N + ds.ticker_idx).tolist())
    # same seed, same order
    again = torch.cat([b["date_idx"] * N + b["ticker_idx"] for b in make_loader(ds, 7, True, 3)])
    assert torch.equal(seen_all, again)


def test_loader_with_distributed_sampler(prepared) -> None:
    ds = make_dataset("window", prepared, "train")
    parts = []
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=0, drop_last=True)
        sampler.set_epoch(1)
        loader = make_loader(ds, batch_size=5, shuffle=True, seed=0, sampler=sampler)
        parts.append(torch.cat([b["date_idx"] * N + b["ticker_idx"] for b in loader]))
    assert parts[0].numel() == parts[1].numel() == len(ds) // 2
    assert not set(parts[0].tolist()) & set(parts[1].tolist())


def test_single_item_is_batch_of_one(prepared) -> None:
    ds = make_dataset("window", prepared, "train")
    assert ds[2]["x"].shape == (1, T, 5)


def test_inference_batches_cover_rows_including_latest_date(prepared) -> None:
    d, n = prepared.rows_all()
    got = list(make_inference_batches(prepared, "window", d, n, batch_size=16))
    assert [b["x"].shape[0] for b in got[:-1]] == [16] * (len(got) - 1)
    assert torch.equal(torch.cat([b["date_idx"] for b in got]), torch.from_numpy(d))
    graph_batches = list(make_inference_batches(prepared, "graph", d, n, batch_size=2 * N))
    dates = torch.cat([b["date_idx"][::N] for b in graph_batches])
    assert torch.equal(dates, torch.from_numpy(np.unique(d)))
    assert all(b["n_graphs"] <= 2 for b in graph_batches)


def test_bad_requests_raise(prepared) -> None:
    with pytest.raises(ConfigError, match="unknown input kind"):
        make_dataset("video", prepared, "train")
    with pytest.raises(DataError, match="full 4-day window"):
        make_dataset("window", prepared, None, date_idx=np.array([1]), ticker_idx=np.array([0]))
    with pytest.raises(ConfigError, match="segment"):
        make_dataset("window", prepared, None)


def test_batch_index_sampler_epochs_and_drop_last() -> None:
    s = BatchIndexSampler(10, 4, shuffle=True, seed=1)
    first = torch.cat(list(s))
    second = torch.cat(list(s))  # the epoch advanced: another order, same items
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(10))
    assert not torch.equal(first, second)
    s.set_epoch(0)
    assert torch.equal(torch.cat(list(s)), first)  # resuming at epoch 0 replays its order
    assert [b.tolist() for b in BatchIndexSampler(10, 4, shuffle=False, seed=0)] == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dropped = BatchIndexSampler(10, 4, shuffle=True, seed=0, drop_last=True)
    assert len(dropped) == 2 and [len(b) for b in dropped] == [4, 4]


def test_loader_without_shuffle_is_in_row_order(prepared) -> None:
    ds = make_dataset("window", prepared, "val")
    batches = list(make_loader(ds, batch_size=6, shuffle=False, seed=0))
    assert len(batches) == -(-len(ds) // 6)
    d = torch.cat([b["date_idx"] for b in batches])
    assert torch.equal(d, torch.from_numpy(prepared.rows("val")[0]))
