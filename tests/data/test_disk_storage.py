"""data.storage: the same panel prepared in memory and on disk (memory-mapped, blocked) gives equal arrays."""

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
