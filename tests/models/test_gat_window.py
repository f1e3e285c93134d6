"""Window-attention GATv2 (``gat_attention="window"``): equals GATv2Conv's attention on the
window-mean inputs applied to every step, in values and in gradients; batching and masks."""

from __future__ import annotations

import pytest
import torch
from model_inputs import make_batch, make_info
from test_tgcn import FEAT, H, N, T, graph

from finmt_core.errors import ConfigError
from finmt_core.models.registry import create_model
from finmt_core.models.tgcn import TGCNBackbone, TGCNLayer
from finmt_core.tasks import make_task


def reference_gates(layer: TGCNLayer, x: torch.Tensor, ei: torch.Tensor, ew: torch.Tensor) -> torch.Tensor:
    """PyG's GATv2Conv gives the attention (on the window means); a dense loop applies it to
    every step: ``out_it = mean_h sum_j alpha_ij^h lin_l(x_jt)^h + b``, then the gate map."""
    conv = layer.conv
    n, t, _ = x.shape
    _, (ei_a, alpha) = conv(x.mean(dim=1), ei, ew.unsqueeze(-1), return_attention_weights=True)
    heads, c = conv.heads, conv.out_channels
    x_l = conv.lin_l(x).view(n, t, heads, c)
    out = x.new_zeros(n, t, heads, c)
    for e in range(ei_a.shape[1]):
        j, i = int(ei_a[0, e]), int(ei_a[1, e])
        out[i] = out[i] + alpha[e].view(1, heads, 1) * x_l[j]
    return layer.gates(out.mean(dim=2) + conv.bias)


def test_window_gates_equal_gatv2conv_attention_on_the_window_mean() -> None:
    torch.manual_seed(0)
    ei, ew = graph()
    x = torch.randn(N, T, FEAT, dtype=torch.float64, requires_grad=True)
    net = TGCNBackbone(FEAT, hidden=H, layers=1, use_gat=True, gat_heads=3, gat_attention="window").double()
    layer = net.layers[0]
    graph_ = net._graph(ei, ew.double(), ei[0] != ei[1], N, torch.float64)
    got, alpha = layer.input_gates(x, graph_, want_attention=True)
    ref = reference_gates(layer, x, ei, ew.double())
    torch.testing.assert_close(got, ref, atol=1e-10, rtol=1e-9)
    conv = layer.conv
    wrt = [x, conv.att, conv.lin_l.weight, conv.lin_l.bias, conv.lin_r.weight, conv.lin_r.bias,
           conv.lin_edge.weight, conv.bias, layer.gates.weight, layer.gates.bias]
    got_grads = torch.autograd.grad((got**2).sum(), wrt)
    ref_grads = torch.autograd.grad((ref**2).sum(), wrt)
    for g1, g2 in zip(got_grads, ref_grads, strict=True):  # the attention is learned through the sparse product
        torch.testing.assert_close(g1, g2, atol=1e-9, rtol=1e-8)
    assert alpha is not None and alpha.shape == (ei.shape[1], 1, 3)


def test_window_edge_attention_sums_to_one_per_target() -> None:
    torch.manual_seed(1)
    ei, ew = graph()
    net = TGCNBackbone(FEAT, hidden=H, layers=2, use_gat=True, gat_attention="window")
    _, att = net(torch.randn(N, T, FEAT), ei, ew, return_attention=True)
    assert att is not None and att.shape == (ei.shape[1], 2)
    assert torch.all(att > 0) and torch.all(att < 1)  # every in-edge shares the mass with the self-loop


@pytest.mark.parametrize("masked", [False, True])
def test_window_batches_and_masks(masked: bool) -> None:
    torch.manual_seed(2)
    net = TGCNBackbone(FEAT, hidden=H, layers=2, use_gat=True, gat_attention="window")
    x = torch.randn(2 * N, T, FEAT)
    ei2, ew2 = graph(2)
    ei1, ew1 = graph(1)
    if masked:
        mask = torch.ones(2 * N, dtype=torch.bool)
        mask[2] = False
        x2 = x.clone()
        x2[2] = 100.0
        a, _ = net(x, ei2, ew2, node_mask=mask)
        b, _ = net(x2, ei2, ew2, node_mask=mask)
        torch.testing.assert_close(a, b)
        return
    both, _ = net(x, ei2, ew2)
    first, _ = net(x[:N], ei1, ew1)
    second, _ = net(x[N:], ei1, ew1)
    torch.testing.assert_close(both, torch.cat([first, second]), atol=1e-5, rtol=1e-4)


def test_model_config_checks_and_trains_a_step() -> None:
    info = make_info()
    tasks = [make_task("signal", 1), make_task("direction", 1, mask_by="signal")]
    with pytest.raises(ConfigError, match="gat_attention"):
        create_model("tgcn", {"use_gat": True, "gat_attention": "daily"}, tasks, info)
    model = create_model("tgcn", {"use_gat": True, "gat_attention": "window", "hidden": 8}, tasks, info)
    step = create_model("tgcn", {"use_gat": True, "hidden": 8}, tasks, info)
    assert [k for k, _ in model.named_parameters()] == [k for k, _ in step.named_parameters()]  # same parameters
    batch = make_batch("graph", info, tasks)
    out = model(batch, explain=True)
    loss = sum(o.float().pow(2).mean() for k, o in out.items() if not k.startswith(("attention", "embedding")))
    loss.backward()
    assert model.backbone.layers[0].conv.att.grad is not None
    assert out["attention/edges"].shape[1] == 2
