"""Explanations: IG completeness, saliency, attention maps with labels, SHAP, embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import run_factory
import torch

from finmt_core.explain import (
    attention_maps,
    embedding_frame,
    gradient_shap,
    integrated_gradients,
    project_2d,
    rollout,
    saliency,
    shap_summary,
    tree_shap,
)

TASKS = [{"target": "direction"}, {"target": "return"}, {"target": "quantiles"}]


@pytest.fixture(scope="module")
def setup() -> dict:
    from finmt_core.data.prepare import prepare
    from finmt_core.data.samples import synthetic_market

    panel = synthetic_market(**run_factory.SYNTHETIC)
    out = {}
    for name in ("lstm_transformer", "tgcn", "finnex_cnn", "finnex_vit", "cnn_lstm", "dual_tower"):
        cfg = run_factory.config(name, name, TASKS)
        out[name] = (cfg, prepare(panel, cfg))
    return out


def _model_batch(setup: dict, name: str, rows: int = 6):
    from finmt_core.data.tensors import make_inference_batches
    from finmt_core.models import create_model

    cfg, prep = setup[name]
    torch.manual_seed(0)
    model = create_model(name, cfg.model.params, cfg.tasks, prep.info).eval()
    d, n = prep.rows("test")
    batch = next(make_inference_batches(prep, model.input_kind, d[:rows], n[:rows], 10_000))
    return model, batch, prep, cfg



@pytest.mark.parametrize(("name", "task"), [("lstm_transformer", 0), ("finnex_cnn", 1), ("dual_tower", 2), ("cnn_lstm", 0),
                                            ("lstm_transformer", 1)])
def test_integrated_gradients_completeness(setup: dict, name: str, task: int) -> None:
    model, batch, prep, cfg = _model_batch(setup, name)
    a = integrated_gradients(model, batch, cfg.tasks[task], prep.info, n_steps=48)
    total = a.values.reshape(len(a.output), -1).sum(axis=1)
    diff = a.output - a.baseline_output
    np.testing.assert_allclose(total, diff, atol=2e-3 + 0.02 * np.abs(diff).max())
    assert np.abs(a.delta).max() < 2e-3 + 0.02 * np.abs(diff).max()
    feats = a.by_feature(absolute=False)
    np.testing.assert_allclose(feats.sum(), a.per_feature().sum(axis=1).mean(), rtol=1e-6, atol=1e-12)
    groups = a.by_group(absolute=False)
    np.testing.assert_allclose(groups.sum(), feats.sum(), rtol=1e-6, atol=1e-12)
    if model.input_kind != "tower":
        assert a.values.shape == (6, prep.info.window, prep.info.n_features) and a.time_labels[-1] == "t"
        assert a.heatmap().shape == (prep.info.n_features, prep.info.window)


def test_graph_attribution_completeness_and_saliency(setup: dict) -> None:
    model, batch, prep, cfg = _model_batch(setup, "tgcn", rows=1)
    node = torch.tensor([3])
    a = integrated_gradients(model, batch, cfg.tasks[1], prep.info, nodes=node, n_steps=64)
    assert a.values.shape == (1, prep.info.window, prep.info.n_features)
    np.testing.assert_allclose(a.values.sum(), a.output - a.baseline_output, atol=1e-3)
    s = saliency(model, batch, cfg.tasks[0], prep.info, nodes=node)
    assert (s.values >= 0).all() and s.values.sum() > 0


def test_attention_maps_are_labelled(setup: dict) -> None:
    model, batch, prep, _ = _model_batch(setup, "lstm_transformer")
    maps = {m.name: m for m in attention_maps(model, batch, prep.info)}
    t = prep.info.window
    roll = maps["temporal_rollout"]
    assert roll.values.shape == (1, t) and roll.x_labels[-1] == "t" and roll.values.sum() == pytest.approx(1.0)
    assert maps["last_layer"].values.shape == (t, t)
    model, batch, prep, _ = _model_batch(setup, "finnex_cnn")
    cnn = {m.name: m for m in attention_maps(model, batch, prep.info)}
    assert cnn["cross_modal"].x_labels == list(prep.info.image_groups)
    np.testing.assert_allclose(cnn["cross_modal"].values.sum(axis=1), 1.0, rtol=1e-5)
    model, batch, prep, _ = _model_batch(setup, "finnex_vit")
    vit = {m.name: m for m in attention_maps(model, batch, prep.info)}
    assert vit["vit_rollout"].values.sum() == pytest.approx(1.0)
    model, batch, prep, _ = _model_batch(setup, "cnn_lstm")
    assert {"temporal", "cross", "scales"} <= {m.name for m in attention_maps(model, batch, prep.info)}
    model, batch, prep, _ = _model_batch(setup, "tgcn", rows=1)
    gat = attention_maps(model, batch, prep.info, tickers=prep.tickers, edge_index=prep.graph.edge_index)[0]
    assert gat.name == "gat_edges" and gat.values.shape == (8, 8) and gat.y_labels == prep.tickers
    assert len(gat.extra["edge_weight"]) == prep.graph.edge_index.shape[1]


def test_rollout_identity_and_mixing() -> None:
    eye = np.broadcast_to(np.eye(3), (2, 4, 3, 3))  # 2 layers x 4 heads of "attend to self"
    np.testing.assert_allclose(rollout(eye), np.eye(3))
    uniform = np.full((1, 1, 3, 3), 1 / 3)
    np.testing.assert_allclose(rollout(uniform).sum(axis=-1), 1.0)


def test_tree_shap_additivity_and_gradient_shap(setup: dict) -> None:
    from finmt_core.models import create_estimator

    cfg, prep = setup["lstm_transformer"]
    est = create_estimator("lightgbm", {"n_jobs": 1, "n_estimators": 20}, cfg.tasks).fit(prep)
    d, n = prep.rows("test")
    task = cfg.tasks[1]
    sv = tree_shap(est, prep, d[:20], n[:20], task)
    pred = est.predict(prep, d[:20], n[:20])[task.name]
    np.testing.assert_allclose(sv.sum(axis=1) + sv.attrs["expected_value"], pred, atol=1e-6)
    summary = shap_summary(sv)
    assert "ret_1" in summary.index and not summary.index.str.contains("_lag").any()
    assert tree_shap(est, prep, d[:5], n[:5], cfg.tasks[0]).shape == (5, len(est.feature_names_))
    model, batch, prep, cfg = _model_batch(setup, "lstm_transformer")
    dt, nt = prep.rows("train")
    from finmt_core.data.tensors import make_inference_batches

    background = next(make_inference_batches(prep, "window", dt[:16], nt[:16], 100))
    g = gradient_shap(model, batch, background, cfg.tasks[1], prep.info, n_samples=8)
    assert g.values.shape == batch["x"].shape and np.isfinite(g.values).all()


def test_embeddings_projection(setup: dict) -> None:
    from finmt_core.models import create_model

    cfg, prep = setup["dual_tower"]
    model = create_model("dual_tower", cfg.model.params, cfg.tasks, prep.info).eval()
    d, n = prep.rows("test")
    df = embedding_frame(model, prep, d[:40], n[:40])
    assert len(df) == 40 and {"x", "y", "ticker", "sector", "label"} <= set(df.columns)
    assert 0 <= sum(df.attrs["explained_variance"]) <= 1 + 1e-9
    ctx = embedding_frame(model, prep, d[:40], n[:40], key="embedding/context")
    assert len(ctx) == 40
    xy, ratio = project_2d(np.random.default_rng(0).normal(size=(10, 1)))
    assert xy.shape == (10, 2) and ratio[1] == 0
