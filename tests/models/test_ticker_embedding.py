"""Optional learnable ticker embeddings: off by default, zero start, learning, unseen tickers,
checkpoints, config plumbing and the Predictor's name mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from model_inputs import N_NODES, make_batch, make_info

from finmt_core.config import ExperimentConfig, ModelConfig
from finmt_core.errors import ConfigError
from finmt_core.models import list_models
from finmt_core.models.base import TickerEmbedding
from finmt_core.models.registry import create_estimator, create_model
from finmt_core.tasks import make_task

TICKERS = [f"T{i}" for i in range(N_NODES)]
TASKS = [make_task("direction", 1), make_task("return", 1)]
DIM = 4


def _build(name: str, params: dict[str, Any], tickers: list[str] | None = TICKERS, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return create_model(name, params, TASKS, make_info(tickers=tickers))


def _same_x_batch(model: Any, ticker_idx: torch.Tensor) -> dict[str, Any]:
    """A batch whose rows have identical inputs and differ only in ``ticker_idx``."""
    b = ticker_idx.shape[0]
    kind = model.input_kind
    batch = make_batch(kind, model.info, TASKS, rows=b, n_graphs=1)
    if kind == "graph":
        assert b == model.info.n_nodes
        batch["edge_index"] = torch.empty(2, 0, dtype=torch.long)  # no edges: nodes stay independent
        batch["edge_weight"] = torch.empty(0)
    for key in ("x", "image", "context", "stock"):
        if key in batch:
            batch[key] = batch[key][:1].expand_as(batch[key]).contiguous()
    batch["ticker_idx"] = ticker_idx
    return batch


def _train_step(model: Any, batch: dict[str, Any], steps: int = 1) -> None:
    """Adam steps (lr 0.01) on a loss that wants a different ``return`` per row, so the
    ticker vectors are what can fit it."""
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    target = torch.linspace(-1.0, 1.0, batch["ticker_idx"].shape[0])
    model.train()
    for _ in range(steps):
        out = model(batch)
        loss = ((out["return"] - target) ** 2).mean() + 0.01 * out["direction"].logsumexp(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


@pytest.mark.parametrize("name", list_models())
def test_off_by_default_and_zero_start_when_on(name: str) -> None:
    plain = _build(name, {})
    off = _build(name, {"ticker_embedding": 0})
    on = _build(name, {"ticker_embedding": DIM})
    assert plain.ticker_embedding is None and off.ticker_embedding is None
    assert plain.n_parameters() == off.n_parameters()
    d = on.ticker_embedding.proj.out_features
    assert on.n_parameters() == plain.n_parameters() + N_NODES * DIM + d * DIM
    assert "ticker_embedding" in on.param_groups() and "ticker_embedding" not in plain.param_groups()
    # same seed, embedding created last: identical base weights, and the zero projection adds 0
    batch = _same_x_batch(on, torch.arange(N_NODES))
    batch["x"] = torch.randn_like(batch["x"])
    plain.eval()
    on.eval()
    with torch.no_grad():
        a, b = plain(batch, explain=True), on(batch, explain=True)
    for key in ("direction", "return", "embedding"):
        torch.testing.assert_close(a[key], b[key])


def test_different_tickers_differ_after_a_gradient_step() -> None:
    model = _build("lstm_transformer", {"ticker_embedding": DIM})
    batch = _same_x_batch(model, torch.arange(N_NODES))
    model.eval()
    with torch.no_grad():
        before = model(batch)["return"]
    assert torch.allclose(before, before[:1].expand_as(before))  # identical inputs, no ticker effect yet
    _train_step(model, batch)
    assert model.ticker_embedding.seen[:N_NODES].all()
    with torch.no_grad():
        after = model(batch)["return"]
    assert (after.max() - after.min()).item() > 1e-5  # one step: only the projection moved
    _train_step(model, batch, steps=30)
    with torch.no_grad():
        trained = model(batch)["return"]
    assert (trained.max() - trained.min()).item() > 0.1
    assert torch.all(trained[1:] > trained[:-1])  # ordered as the per-row targets -1 .. 1


def test_unseen_tickers_get_the_mean_of_the_seen_vectors() -> None:
    model = _build("lstm_transformer", {"ticker_embedding": DIM})
    _train_step(model, _same_x_batch(model, torch.tensor([0, 1, 2, 0, 1, 2])))  # T3, T4 never trained
    emb = model.ticker_embedding
    assert emb.seen.tolist()[:N_NODES] == [True, True, True, False, False]
    shared = emb.proj(emb.table.weight[:3].mean(0))
    with torch.no_grad():
        got = emb(torch.arange(N_NODES), N_NODES)
        torch.testing.assert_close(got[3], shared)  # in the vocabulary, but never trained
        torch.testing.assert_close(got[4], shared)
        torch.testing.assert_close(got[0], emb.proj(emb.table.weight[0]))
        torch.testing.assert_close(emb(None, 2), shared.expand(2, -1))  # no ticker_idx: shared
        # data with another ticker list: names map to rows, new names to the shared vector
        model.bind_tickers(["T2", "NEW", "T0"])
        torch.testing.assert_close(emb(torch.tensor([0, 1, 2]), 3), torch.stack([got[2], shared, got[0]]))
        model.bind_tickers(TICKERS)  # the training list again: indices are rows
        assert emb.remap is None
        torch.testing.assert_close(emb(torch.arange(N_NODES), N_NODES), got)


def test_graph_batches_mark_only_present_nodes_as_seen() -> None:
    model = _build("tgcn", {"ticker_embedding": DIM})
    batch = _same_x_batch(model, torch.arange(N_NODES))
    batch["node_mask"] = torch.tensor([True, True, False, True, False])
    _train_step(model, batch)
    assert model.ticker_embedding.seen.tolist()[:N_NODES] == [True, True, False, True, False]


def test_ticker_embedding_module_checks_its_inputs() -> None:
    emb = TickerEmbedding(3, 2, 5, ["a", "b", "c"])
    with pytest.raises(ValueError, match="ticker_idx"):
        emb(torch.zeros(4, dtype=torch.long), 3)
    with pytest.raises(ConfigError):
        TickerEmbedding(3, 2, 5, ["a", "b"])
    no_vocab = TickerEmbedding(3, 2, 5, None)
    no_vocab.bind(["x", "y", "z", "w"])  # no names to match: indices kept, beyond N -> shared
    assert no_vocab.remap.tolist() == [0, 1, 2, -1]


def test_checkpoint_round_trip_keeps_embedding_vocabulary_and_seen(tmp_path: Path) -> None:
    from finmt_core.training.checkpoint import (
        build_checkpoint,
        load_checkpoint,
        model_from_checkpoint,
        save_checkpoint,
    )

    model = _build("lstm_transformer", {"ticker_embedding": DIM})
    batch = _same_x_batch(model, torch.tensor([0, 1, 2, 3]))
    _train_step(model, batch)
    info = model.info
    ckpt = build_checkpoint(model=model, model_name="lstm_transformer", model_params={"ticker_embedding": DIM},
                            tasks=TASKS, input_info=info.to_dict(), scaler=None, config={}, epoch=1)
    save_checkpoint(tmp_path / "a.pt", ckpt)
    loaded = model_from_checkpoint(load_checkpoint(tmp_path / "a.pt"))
    assert loaded.info.tickers == TICKERS
    assert loaded.ticker_embedding.vocabulary == TICKERS
    torch.testing.assert_close(loaded.ticker_embedding.seen, model.ticker_embedding.seen)
    with torch.no_grad():
        for key in ("direction", "return"):
            torch.testing.assert_close(loaded(batch)[key], model(batch)[key])
    # an older checkpoint: no tickers in input_info, no ticker_embedding param -> loads, embedding off
    old_model = _build("lstm_transformer", {}, tickers=None)
    old_info = info.to_dict()
    del old_info["tickers"]
    old = build_checkpoint(model=old_model, model_name="lstm_transformer", model_params={}, tasks=TASKS,
                           input_info=old_info, scaler=None, config={}, epoch=1)
    restored = model_from_checkpoint(old)
    assert restored.ticker_embedding is None and restored.info.tickers is None


def test_config_key_is_stored_in_params() -> None:
    cfg = ExperimentConfig.from_dict({"model": {"name": "tgcn", "ticker_embedding": 8, "params": {"hidden": 8}}})
    assert cfg.model.ticker_embedding == 8
    assert cfg.model.params == {"hidden": 8, "ticker_embedding": 8}
    again = ExperimentConfig.from_dict(cfg.model_dump(mode="json"))
    assert again.model.ticker_embedding == 8 and again.model == cfg.model
    assert ModelConfig().ticker_embedding == 0 and ModelConfig().params == {}
    # the top-level key wins; 0 removes it
    assert ModelConfig(ticker_embedding=0, params={"ticker_embedding": 3}).params == {}
    assert ModelConfig.model_validate({"params": {"ticker_embedding": 3}}).ticker_embedding == 3
    for bad in (-1, 2.5, "8", True):
        with pytest.raises(ConfigError):
            ExperimentConfig.from_dict({"model": {"ticker_embedding": bad}})
    model = create_model("tgcn", cfg.model.params, TASKS, make_info(tickers=TICKERS))
    assert model.ticker_embedding.table.weight.shape == (N_NODES, 8)
    with pytest.raises(ConfigError, match="ticker_embedding"):
        create_model("tgcn", {"ticker_embedding": -2}, TASKS, make_info())
    with pytest.raises(ConfigError, match="neural models"):
        create_estimator("lightgbm", {"ticker_embedding": 4}, TASKS)
    create_estimator("lightgbm", {"ticker_embedding": 0}, TASKS)  # off: accepted


def test_predictor_maps_new_ticker_lists_by_name(tmp_path: Path) -> None:
    """A run's model with a (trained-looking) ticker embedding predicts a panel whose first
    ticker was renamed: the others keep their predictions; the renamed one gets the shared
    vector, i.e. what any ticker the model never trained on gets."""
    import run_factory

    from finmt_core.data.samples import synthetic_market
    from finmt_core.inference import Predictor
    from finmt_core.training.checkpoint import load_checkpoint, save_checkpoint

    params = {**run_factory.SMALL_PARAMS["lstm_transformer"], "dropout": 0.0, "ticker_embedding": DIM}
    run = run_factory.make_run(tmp_path, "te", params=params)
    ckpt = load_checkpoint(run.best_checkpoint)
    g = torch.Generator().manual_seed(0)
    state = ckpt["state_dict"]
    state["ticker_embedding.proj.weight"] = torch.randn(state["ticker_embedding.proj.weight"].shape, generator=g)
    state["ticker_embedding.seen"][:-1] = True
    save_checkpoint(run.best_checkpoint, ckpt)

    panel = synthetic_market(**run_factory.SYNTHETIC)
    pred = Predictor.from_run(run.path)
    assert pred.info.tickers == sorted(panel.index.get_level_values("ticker").unique())
    first = pred.info.tickers[0]
    base = pred.predict(panel, dates="latest").set_index("ticker")
    renamed = panel.rename(index={first: "ZZZ_NEW"}, level="ticker")
    new = pred.predict(renamed, dates="latest").set_index("ticker")
    assert list(pred.prepare(renamed).tickers)[-1] == "ZZZ_NEW"  # every index moved by one
    cols = [c for c in base.columns if c.startswith("return")]
    others = [t for t in base.index if t != first]
    np.testing.assert_allclose(new.loc[others, cols].to_numpy(float), base.loc[others, cols].to_numpy(float), rtol=1e-5)
    assert not np.allclose(new.loc["ZZZ_NEW", cols].to_numpy(float), base.loc[first, cols].to_numpy(float))
    # predicting the original panel again binds back to the training list
    again = pred.predict(panel, dates="latest").set_index("ticker")
    np.testing.assert_allclose(again[cols].to_numpy(float), base[cols].to_numpy(float), rtol=1e-6)
    emb = pred.model.ticker_embedding
    assert emb.remap is None
    # the renamed ticker got the shared vector: the original row read with its name unknown
    from finmt_core.training.predict import predict_rows

    prepared = pred.prepare(panel)
    d, n = pred.select_rows(prepared, "latest", [first])
    pred.model.bind_tickers(["UNKNOWN", *pred.info.tickers[1:]])
    unknown = predict_rows(pred.model, prepared, d, n, torch.device("cpu"))
    np.testing.assert_allclose(new.loc["ZZZ_NEW", "return_pred"], unknown["return"][0], rtol=1e-4, atol=1e-7)
    assert not np.isclose(base.loc[first, "return_pred"], unknown["return"][0], rtol=1e-3)
