"""Heads: shapes per task kind, monotone quantiles, bounded regression; MC dropout (gating: tests/inference)."""

from __future__ import annotations

import torch
from torch import nn

from finmt_core.models import apply_heads, build_heads, enable_mc_dropout, monotone_quantiles
from finmt_core.tasks import make_task


def test_head_output_shapes_and_bounds() -> None:
    tasks = [
        make_task("regime", 5),
        make_task("return", 1),
        make_task("relevance", 7, name="relevance_7d"),
        make_task("quantiles", 1, params={"quantiles": [0.05, 0.25, 0.5, 0.75, 0.95]}),
    ]
    heads = build_heads(tasks, in_dim=8, hidden=4, dropout=0.0)
    h = 50.0 * torch.randn(32, 8)  # large embeddings: the bound must still hold
    out = apply_heads(heads, h)
    assert out["regime"].shape == (32, 4)
    assert out["return"].shape == (32,)
    assert out["relevance_7d"].shape == (32,) and out["relevance_7d"].abs().max() <= 1.0
    assert out["quantiles"].shape == (32, 5)
    assert (out["quantiles"].diff(dim=1) > 0).all()


def test_linear_heads_when_hidden_is_zero() -> None:
    heads = build_heads([make_task("signal", 1)], in_dim=16, hidden=0, dropout=0.1)
    linears = [m for m in heads.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 1 and linears[0].in_features == 16 and linears[0].out_features == 2


def test_monotone_quantiles_never_cross() -> None:
    raw = torch.tensor([[0.0, -50.0, -50.0], [1.0, 3.0, -2.0], [-1.0, 0.0, 10.0]])
    q = monotone_quantiles(raw)
    assert (q[:, 1:] > q[:, :-1]).all()
    torch.testing.assert_close(q[:, 0], raw[:, 0])
    expected = raw[1, 0] + torch.nn.functional.softplus(raw[1, 1])
    torch.testing.assert_close(q[1, 1], expected)
    single = torch.tensor([[0.3], [-0.2]])
    assert torch.equal(monotone_quantiles(single), single)


def test_quantile_head_starts_with_a_narrow_interval() -> None:
    heads = build_heads([make_task("quantiles", 1)], in_dim=8, hidden=8, dropout=0.0)
    q = heads["quantiles"](torch.randn(64, 8))
    width = (q[:, -1] - q[:, 0]).mean().item()
    assert 0.0 < width < 0.1  # about the spread of daily returns, not a unit-wide interval


def test_enable_mc_dropout_counts_active_layers_and_keeps_batchnorm_frozen() -> None:
    net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Dropout(0.0))
    assert enable_mc_dropout(net) == 1
    assert not net[1].training and net[2].training and net[3].training
    net.eval()
    assert not any(m.training for m in net.modules())
