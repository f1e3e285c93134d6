"""data.storage: the same panel prepared in memory and on disk (memory-mapped, blocked) gives equal arrays;
data.storage_dtype float16: X is the float32 X rounded, and batches reach models as float32."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from finmt_core.config import ExperimentConfig
from finmt_core.data import disk_arrays, feature_store
from finmt_core.data.features import compute as feature_compute
from finmt_core.data.prepare import PreparedData, prepare
from finmt_core.data.samples import synthetic_market
from finmt_core.data.tensors import make_dataset
from finmt_core.errors import ConfigError

TOL = 1e-6


def _config(tmp: Path | None = None, **data: object) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "data": {"window": 10, "image_size": 16, **({"storage_dir": str(tmp)} if tmp else {}), **data},
        "tasks": [
            {"target": "signal", "horizon": 1},
            {"target": "direction", "horizon": 1, "mask_by": "signal"},
            {"target": "return", "horizon": 5},
        ],
    })


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    # 20 stocks with a market-wide extra column: fitted peer and context features are appended
    return synthetic_market(n_stocks=20, n_days=260, seed=5, context=2)


@pytest.fixture(scope="module")
def both(panel: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[PreparedData, PreparedData]:
    tmp = tmp_path_factory.mktemp("scratch")
    mem = prepare(panel, _config(storage="memory"))
    with pytest.MonkeyPatch.context() as mp:
        # small blocks so that the blocked writers (ticker blocks, date blocks) run several times
        mp.setattr(feature_compute, "TICKER_BLOCK", 8)
        mp.setattr(feature_compute, "WRITE_BLOCK", 3)
        mp.setattr(feature_store, "SCALE_BLOCK_DATES", 7)
        disk = prepare(panel, _config(tmp, storage="disk"))
    return mem, disk


def test_disk_and_memory_give_equal_arrays(both: tuple[PreparedData, PreparedData]) -> None:
    mem, disk = both
    assert mem.storage == "memory" and disk.storage == "disk"
    assert disk.X.dtype == np.float32 and disk.X.flags.c_contiguous and disk.X.shape == mem.X.shape
    assert disk.frame.names == mem.frame.names and disk.frame.fitted == mem.frame.fitted == ["peer_ret_1", "ctx_macro"]
    assert disk.frame.groups == mem.frame.groups
    np.testing.assert_allclose(disk.X, mem.X, rtol=0, atol=TOL)
    np.testing.assert_allclose(disk.frame.values, mem.frame.values, rtol=0, atol=TOL)  # NaN in the same places
    np.testing.assert_array_equal(disk.frame.mask, mem.frame.mask)
    np.testing.assert_allclose(disk.scaler.center_, mem.scaler.center_, rtol=0, atol=TOL)
    np.testing.assert_allclose(disk.scaler.scale_, mem.scaler.scale_, rtol=0, atol=TOL)
    for s in ("train", "val", "test"):
        for a, b in zip(disk.rows(s), mem.rows(s), strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["window", "graph", "tower"])
def test_disk_batches_equal_memory_batches(both: tuple[PreparedData, PreparedData], kind: str) -> None:
    mem, disk = both
    a, b = make_dataset(kind, mem, "train"), make_dataset(kind, disk, "train")
    assert len(a) == len(b)
    idx = list(range(0, len(a), max(1, len(a) // 5)))[:5]
    ba, bb = a.__getitems__(idx), b.__getitems__(idx)
    for key in ("x", "context"):
        if key in ba:
            torch.testing.assert_close(bb[key], ba[key], rtol=0, atol=TOL)
    for task in ba["targets"]:
        torch.testing.assert_close(bb["targets"][task], ba["targets"][task], rtol=0, atol=TOL)
        assert torch.equal(bb["valid"][task], ba["valid"][task])


def test_tensor_store_shares_the_mapping(both: tuple[PreparedData, PreparedData]) -> None:
    _, disk = both
    ds = make_dataset("window", disk, "train")
    assert ds.store.X.data_ptr() == disk.X.__array_interface__["data"][0]  # torch.from_numpy: no copy
    assert disk_arrays.is_disk(disk.X) and disk_arrays.is_disk(disk.frame.values)


def test_scratch_files_leave_nothing_behind(panel: pd.DataFrame, tmp_path: Path) -> None:
    prepared = prepare(panel, _config(tmp_path, storage="disk"))
    if os.name == "posix":  # unlinked as soon as mapped: the mapping alone holds the data
        assert [p for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
    assert np.isfinite(prepared.X).all()


def test_release_keeps_the_data(tmp_path: Path) -> None:
    arr = disk_arrays.disk_array(tmp_path, "a", (50, 30, 7), np.float32)
    arr[:] = np.arange(arr.size, dtype=np.float32).reshape(arr.shape)
    disk_arrays.release(arr, 3, 17)
    disk_arrays.release(arr[10:])
    disk_arrays.release(arr)
    np.testing.assert_array_equal(arr.ravel(), np.arange(arr.size, dtype=np.float32))
    mem = np.zeros(4)
    disk_arrays.release(mem)  # in-memory arrays: a no-op
    assert not disk_arrays.is_disk(mem)


def test_auto_picks_disk_from_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    assert disk_arrays.storage_for("auto", disk_arrays.AUTO_DISK_BYTES - 1) == "memory"
    assert disk_arrays.storage_for("auto", disk_arrays.AUTO_DISK_BYTES) == "disk"
    assert disk_arrays.storage_for("memory", 10 * disk_arrays.AUTO_DISK_BYTES) == "memory"
    assert disk_arrays.storage_for("disk", 1) == "disk"
    with pytest.raises(ConfigError, match=r"data\.storage must be one of"):
        disk_arrays.storage_for("ssd", 1)


def test_auto_on_a_small_panel_stays_in_memory(panel: pd.DataFrame, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert prepare(panel, _config(tmp_path)).storage == "memory"
    monkeypatch.setattr(disk_arrays, "AUTO_DISK_BYTES", 1024)
    assert prepare(panel, _config(tmp_path)).storage == "disk"


def test_bad_storage_settings_are_clear_errors(panel: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="storage"):
        _config(storage="ssd")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"data\.storage_dir .* cannot hold the on-disk features"):
        prepare(panel, _config(blocker / "sub", storage="disk"))


def test_runs_differing_only_in_storage_group_together() -> None:
    from finmt_core.evaluation.compare_runs import group_key

    base = {"name": "a", "model.name": "tgcn", "data.window": 20}
    assert group_key({**base, "data.storage": "disk", "data.storage_dir": "/scratch"}) == group_key(base)


#: float16 keeps 11 significant bits: a value is rounded to within 2**-11 of its size (half an ulp);
#: values below float16's smallest normal (6.1e-5) are subnormals with an absolute step of 2**-24
REL = 2.0**-11
ABS = 2.0**-24


@pytest.fixture(scope="module")
def prepared(both: tuple[PreparedData, PreparedData], panel: pd.DataFrame,
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, PreparedData]:
    """data.storage_dtype float16 in memory and on disk, beside the float32 (memory) arrays."""
    tmp = tmp_path_factory.mktemp("scratch16")
    out = {"f32": both[0], "f16": prepare(panel, _config(storage="memory", storage_dtype="float16"))}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(feature_store, "SCALE_BLOCK_DATES", 7)  # several blocks of the blocked transform
        out["f16_disk"] = prepare(panel, _config(tmp, storage="disk", storage_dtype="float16"))
    return out


def _assert_rounded(x16: np.ndarray, x32: np.ndarray) -> None:
    assert x16.dtype == np.float16 and x16.shape == x32.shape and x16.flags.c_contiguous
    err = np.abs(x16.astype(np.float32) - x32)
    assert (err <= REL * np.abs(x32) + ABS).all(), float(err.max())
    # the nearest float16: casting the float32 X gives exactly the stored values
    np.testing.assert_array_equal(x16, x32.astype(np.float16))


def test_float16_x_is_the_float32_x_rounded(prepared: dict[str, PreparedData]) -> None:
    x32 = prepared["f32"].X
    assert x32.dtype == np.float32
    assert np.abs(x32).max() > 1.0  # scaled values of several sizes, so the check means something
    _assert_rounded(prepared["f16"].X, x32)
    _assert_rounded(prepared["f16_disk"].X, x32)
    assert prepared["f16_disk"].storage == "disk"
    # only X changes: the raw features, mask, scaler, targets and rows are the float32 run's
    for key in ("f16", "f16_disk"):
        p = prepared[key]
        np.testing.assert_array_equal(p.frame.mask, prepared["f32"].frame.mask)
        np.testing.assert_allclose(p.frame.values, prepared["f32"].frame.values, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(p.scaler.center_, prepared["f32"].scaler.center_)


@pytest.mark.parametrize("kind", ["window", "graph", "tower", "image"])
def test_batches_are_float32_and_rounded(prepared: dict[str, PreparedData], kind: str) -> None:
    a, b = make_dataset(kind, prepared["f32"], "train"), make_dataset(kind, prepared["f16"], "train")
    assert len(a) == len(b) > 0
    idx = list(range(0, len(a), max(1, len(a) // 4)))[:4]
    ba, bb = a.__getitems__(idx), b.__getitems__(idx)
    compared = 0
    for key in ("x", "stock", "context"):
        if key in ba:
            assert bb[key].dtype == torch.float32, key
            err = (bb[key] - ba[key]).abs()
            # x / stock: gathered values, each rounded; context: means of rounded values, whose
            # error is bounded by the largest value averaged (|X| <= the scaler's clip of 5)
            bound = REL * ba[key].abs() + ABS if key != "context" else torch.full_like(err, REL * 5.0)
            assert bool((err <= bound + 1e-6).all()), (key, float(err.max()))
            compared += 1
    assert compared >= 1
    for task in ba["targets"]:
        torch.testing.assert_close(bb["targets"][task], ba["targets"][task], rtol=0, atol=0)


def test_bad_storage_dtype_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="storage_dtype"):
        _config(storage_dtype="int8")


def test_storage_dtype_keeps_runs_apart_in_comparisons() -> None:
    from finmt_core.evaluation.compare_runs import group_key

    base = {"name": "a", "model.name": "tgcn", "data.window": 20}
    # float16 rounds the model's input, so its results are not those of float32: separate groups
    assert group_key({**base, "data.storage_dtype": "float16"}) != group_key(base)


def test_a_float16_run_trains_like_the_float32_run(tmp_path: Path) -> None:
    """Same seed, same data, dropout off: the per-epoch losses of a float16-X run stay within
    1 % of the float32 run's (the inputs differ by < 0.05 %), and its predictions load back."""
    from finmt_core.tasks import make_task
    from finmt_core.training import train_run

    def cfg(dtype: str) -> ExperimentConfig:
        return ExperimentConfig(
            name=f"tiny-{dtype}",
            data={"source": "synthetic", "window": 10, "storage_dtype": dtype,
                  "synthetic": {"n_stocks": 8, "n_days": 300, "n_sectors": 2, "seed": 0, "signal_strength": 0.5}},
            tasks=[make_task("direction"), make_task("return", loss="mse")],
            model={"name": "lstm_transformer",
                   "params": {"lstm_hidden": 8, "d_model": 8, "depth": 1, "heads": 2, "head_hidden": 8, "dropout": 0.0}},
            train={"epochs": 2, "batch_size": 128, "device": "cpu", "heartbeat_s": 0.05, "lr": 3e-3},
        )

    runs = {dt: train_run(cfg(dt), tmp_path, name=f"r-{dt}") for dt in ("float32", "float16")}
    logs = {dt: run.metrics().to_dict("records") for dt, run in runs.items()}
    assert all(run.status()["state"] == "done" for run in runs.values())
    assert len(logs["float16"]) == len(logs["float32"]) == 2
    for a, b in zip(logs["float32"], logs["float16"], strict=True):
        for key in ("train_loss", "val_loss"):
            assert b[key] == pytest.approx(a[key], rel=1e-2), (key, a[key], b[key])
    pred = runs["float16"].predictions()
    assert len(pred) == len(runs["float32"].predictions()) > 0
