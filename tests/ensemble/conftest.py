"""Fixtures of the ensemble tests: three tiny finished member runs and one ensemble of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from ens_helpers import GBM, MARKET, TINY_CNN_LSTM, tiny_config

from finmt_core.training.pipeline import train_run


@pytest.fixture(scope="session")
def members(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Three finished member runs on the planted market: a tiny cnn_lstm, LightGBM and the momentum rule."""
    from finmt_core.data.samples import synthetic_market, synthetic_market_with_oracle

    panel, oracle = synthetic_market_with_oracle(**MARKET)
    assert panel.equals(synthetic_market(**MARKET)) and oracle["h1"].abs().max() > 0  # planted, not a random walk
    root = tmp_path_factory.mktemp("ens")
    names = []
    for name, cfg in (("cnn", tiny_config("cnn_lstm", TINY_CNN_LSTM)), ("gbm", tiny_config("lightgbm", GBM)),
                      ("mom", tiny_config("naive_momentum", {}))):
        names.append(train_run(cfg, root, name=name).name)
    return root, names


@pytest.fixture(scope="session")
def ensemble_run(members: tuple[Path, list[str]]) -> Path:
    """The stacked ensemble ``ens`` of the three members, evaluated (one estimator baseline, to stay quick)."""
    from finmt_core.ensemble.build import build_ensemble
    from finmt_core.evaluation.evaluate import evaluate_run

    root, names = members
    run = build_ensemble(root, names, name="ens", evaluate=False)
    evaluate_run(run.path, baselines=("naive_zero",))
    return run.path
