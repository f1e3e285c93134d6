"""data.storage_dtype: float16 ``X`` is the float32 ``X`` rounded, and batches reach models as float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from finmt_core.config import ExperimentConfig
from finmt_core.data import feature_store
from finmt_core.data.prepare import PreparedData, prepare
from finmt_core.data.samples import synthetic_market
from finmt_core.data.tensors import make_dataset
from finmt_core.errors import ConfigError

#: float16 keeps 11 significant bits: a value is rounded to within 2**-11 of its size (half an ulp);
#: values below float16's smallest normal (6.1e-5) are subnormals with an absolute step of 2**-24
REL = 2.0**-11
ABS = 2.0**-24


def _config(**data: object) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "data": {"window": 10, "image_size": 16, **data},
        "tasks": [
            {"target": "signal", "horizon": 1},
            {"target": "direction", "horizon": 1, "mask_by": "signal"},
            {"target": "return", "horizon": 5},
        ],
    })


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return synthetic_market(n_stocks=16, n_days=240, seed=9, context=1)


@pytest.fixture(scope="module")
def prepared(panel: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, PreparedData]:
    tmp = tmp_path_factory.mktemp("scratch16")
    out = {
        "f32": prepare(panel, _config(storage="memory")),
        "f16": prepare(panel, _config(storage="memory", storage_dtype="float16")),
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(feature_store, "SCALE_BLOCK_DATES", 7)  # several blocks of the blocked transform
        out["f16_disk"] = prepare(panel, _config(storage="disk", storage_dir=str(tmp), storage_dtype="float16"))
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
