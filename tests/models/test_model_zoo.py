"""Every registered model: forward + backward, output shapes per task kind, explain path, MC dropout."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from model_inputs import IMG, T, all_kind_tasks, make_batch, make_info

from finmt_core.models import enable_mc_dropout, get_model_class, list_models
from finmt_core.models.registry import create_model
from finmt_core.tasks import Task, make_task

#: extra parameter sets tested besides the defaults
VARIANTS: dict[str, list[dict[str, Any]]] = {"tgcn": [{"use_gat": True}]}
#: parameters that switch every dropout off
NO_DROPOUT: dict[str, dict[str, Any]] = {
    "finnex_cnn": {"dropout": 0.0},
    "finnex_vit": {"dropout": 0.0},
    "tgcn": {"dropout": 0.0},
    "cnn_lstm": {"dropout": 0.0},
    "dual_tower": {"context_dropout": 0.0, "stock_dropout": 0.0, "head_dropout": 0.0},
    "lstm_transformer": {"dropout": 0.0},
}

C = 3  # image channels of make_info()
P = (IMG // 8) ** 2  # ViT patches at the default patch size 8
E = 2 * 5 * 2  # ring over 5 nodes, both directions, 2 graphs


def explain_shapes(name: str, params: dict[str, Any], b: int) -> dict[str, tuple[tuple[int, ...], int | None]]:
    """Expected explain outputs: key -> (shape, axis that sums to 1 or None)."""
    if name == "finnex_cnn":
        return {"embedding": ((b, 32), None), "attention/cross_modal": ((b, C, C), -1), "attention/modality": ((b, C), -1)}
    if name == "finnex_vit":
        return {"embedding": ((b, 32), None), "attention/layers": ((b, 2, 4, P + 1, P + 1), -1)}
    if name == "tgcn":
        out: dict[str, tuple[tuple[int, ...], int | None]] = {"embedding": ((b, 16), None)}
        if params.get("use_gat"):
            out["attention/edges"] = ((E, 2), None)
        return out
    if name == "cnn_lstm":
        return {
            "embedding": ((b, 32), None),
            "attention/temporal": ((b, T), -1),
            "attention/cross": ((b, T), -1),
            "attention/scales": ((b, 3), -1),
        }
    if name == "dual_tower":
        return {"embedding": ((b, 32), None), "embedding/context": ((b, 32), None), "embedding/stock": ((b, 64), None)}
    if name == "lstm_transformer":
        return {"embedding": ((b, 64), None), "attention/layers": ((b, 2, 4, T, T), -1)}
    raise AssertionError(f"add the explain outputs of the new model {name!r} to this test")


CASES = [(n, {}) for n in list_models()] + [(n, p) for n, ps in VARIANTS.items() for p in ps]
CASES += [(n, {"ticker_embedding": 4}) for n in list_models()]  # the common option, on every model
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}" if p else n for n, p in CASES]


def build(name: str, params: dict[str, Any], tasks: list[Task] | None = None, seed: int = 0) -> tuple[Any, dict]:
    torch.manual_seed(seed)
    tasks = tasks if tasks is not None else all_kind_tasks()
    info = make_info()
    model = create_model(name, params, tasks, info)
    return model, make_batch(model.input_kind, info, tasks)


def simple_loss(task: Task, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if task.kind == "classification":
        return F.cross_entropy(out, target.long())
    if task.kind == "quantile":
        q = torch.tensor(task.quantiles)
        diff = target[:, None] - out
        return torch.maximum(q * diff, (q - 1) * diff).mean()
    return F.mse_loss(out, target)


def check_outputs(tasks: list[Task], out: dict[str, torch.Tensor], b: int) -> None:
    for t in tasks:
        y = out[t.name]
        assert torch.isfinite(y).all(), t.name
        if t.kind == "classification":
            assert y.shape == (b, len(t.classes)), t.name
        elif t.kind == "regression":
            assert y.shape == (b,), t.name
            if t.bounded:
                assert y.abs().max() <= 1.0
        else:
            assert y.shape == (b, len(t.quantiles)), t.name
            assert (y[:, 1:] > y[:, :-1]).all(), "quantiles must ascend"


def test_every_model_is_covered() -> None:
    assert set(list_models()) >= {"finnex_cnn", "finnex_vit", "tgcn", "cnn_lstm", "dual_tower", "lstm_transformer"}
    assert set(list_models()) == set(NO_DROPOUT)


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_forward_backward(name: str, params: dict[str, Any]) -> None:
    tasks = all_kind_tasks()
    model, batch = build(name, params, tasks)
    model.train()
    out = model(batch)
    b = batch["x"].shape[0]
    assert set(out) == {t.name for t in tasks}  # no explain extras unless asked
    check_outputs(tasks, out, b)
    loss = sum(simple_loss(t, out[t.name], batch["targets"][t.name]) for t in tasks)
    reg = model.regularization()
    if reg is not None:
        assert torch.isfinite(reg) and reg.ndim == 0
        loss = loss + reg
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient (unused parameter?)"
        assert torch.isfinite(p.grad).all(), pname
    for t in tasks:
        head_grad = sum(p.grad.abs().sum() for p in model.heads[t.name].parameters())
        assert head_grad > 0, f"head {t.name} got a zero gradient"
    backbone = [p for n, p in model.named_parameters() if not n.startswith("heads.")]
    assert sum(p.grad.abs().sum() for p in backbone) > 0


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_explain_outputs(name: str, params: dict[str, Any]) -> None:
    tasks = all_kind_tasks()
    model, batch = build(name, params, tasks)
    model.eval()
    with torch.no_grad():
        plain = model(batch)
        out = model(batch, explain=True)
    b = batch["x"].shape[0]
    expected = explain_shapes(name, params, b)
    extras = {k for k in out if k not in plain}
    assert extras == set(expected)
    for key, (shape, norm_axis) in expected.items():
        assert tuple(out[key].shape) == shape, key
        assert torch.isfinite(out[key]).all(), key
        if norm_axis is not None:
            torch.testing.assert_close(out[key].sum(norm_axis), torch.ones(out[key].sum(norm_axis).shape))
    for t in tasks:  # the explain path predicts exactly the same
        torch.testing.assert_close(out[t.name], plain[t.name])


@pytest.mark.parametrize("name", list_models())
def test_single_task_variant_is_the_same_model_with_one_head(name: str) -> None:
    task = make_task("return", 1)
    model, batch = build(name, {}, [task])
    out = model(batch)
    assert set(out) == {"return"} and list(model.heads) == ["return"]
    check_outputs([task], out, batch["x"].shape[0])


@pytest.mark.parametrize("name", list_models())
def test_mc_dropout_spread_only_with_dropout(name: str) -> None:
    tasks = [make_task("direction", 1), make_task("return", 1)]
    for params, expect_spread in (({}, True), (NO_DROPOUT[name], False)):
        model, batch = build(name, params, tasks)
        model.eval()
        with torch.no_grad():
            a, b = model(batch), model(batch)
        for t in tasks:  # plain eval is deterministic
            torch.testing.assert_close(a[t.name], b[t.name])
        active = enable_mc_dropout(model)
        assert (active > 0) == expect_spread
        assert not any(m.training for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))
        with torch.no_grad():
            draws = torch.stack([model(batch)["return"] for _ in range(4)])
        spread = draws.std(dim=0).max().item()
        assert (spread > 0) == expect_spread, f"{name} {params}: spread {spread}"


@pytest.mark.parametrize("name", list_models())
def test_param_groups_partition_parameters(name: str) -> None:
    model, _ = build(name, {})
    groups = model.param_groups()
    assert "heads" in groups
    ids = [id(p) for ps in groups.values() for p in ps]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    if name == "dual_tower":
        assert {"context_tower", "stock_tower", "fusion", "heads"} == set(groups)
    else:
        assert {"backbone", "heads"} == set(groups)


@pytest.mark.parametrize("name", [n for n in list_models() if get_model_class(n).input_kind != "graph"])
def test_training_batch_of_one_row(name: str) -> None:
    model, _ = build(name, {})
    batch = make_batch(model.input_kind, make_info(), all_kind_tasks(), rows=1)
    model.train()
    out = model(batch)
    check_outputs(all_kind_tasks(), out, 1)


@pytest.mark.parametrize(("name", "params"), CASES, ids=IDS)
def test_mixed_precision_forward_backward(name: str, params: dict[str, Any]) -> None:
    """Under autocast (CPU bfloat16 here, as the trainer's CUDA AMP would) every model runs and trains."""
    from finmt_core.training.device import cpu_bf16_support

    ok, reason = cpu_bf16_support()
    if not ok:
        pytest.skip(reason)
    tasks = all_kind_tasks()
    model, batch = build(name, params, tasks)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch, explain=True)
        loss = sum(simple_loss(t, out[t.name].float(), batch["targets"][t.name]) for t in tasks)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
