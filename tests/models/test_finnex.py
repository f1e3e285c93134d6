"""FinNeX image models: images rendered with the model's own layout; the wide path (last day, linear)."""

from __future__ import annotations

import pytest
import torch
from model_inputs import F, make_batch, make_info

from finmt_core.data.images import ImageBuilder
from finmt_core.models.finnex_cnn import last_day
from finmt_core.models.heads import apply_heads
from finmt_core.models.registry import create_model
from finmt_core.tasks import make_task

TASKS = [make_task("action", 1), make_task("return", 1)]
NAMES = ("finnex_cnn", "finnex_vit")


def _model(name: str, wide: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model(name, {"dropout": 0.0, "wide": wide}, TASKS, make_info())
    return model.eval()


@pytest.mark.parametrize("name", NAMES)
def test_wide_path_adds_a_linear_map_of_the_last_day(name: str) -> None:
    model = _model(name, wide=True)
    batch = make_batch("image", make_info(), TASKS, rows=4)
    assert torch.equal(last_day(batch, F), batch["x"][:, -1, :])
    image = model.images(batch["x"])
    with torch.no_grad():
        base, _ = model.backbone(image, batch["x"][:, -1, :], explain=False)
        last = batch["x"][:, -1, :].clone()
        last[:, 0] += 1.0  # one feature on the last day, the image held fixed
        moved, _ = model.backbone(image, last, explain=False)
    # the embedding moves by exactly the wide layer's column of feature 0
    column = model.backbone.wide.weight[:, 0]
    assert torch.allclose(moved - base, column.expand(4, -1), atol=1e-5)
    assert model.backbone.wide.in_features == F


@pytest.mark.parametrize("name", NAMES)
def test_model_renders_its_image_from_the_window_with_its_own_layout(name: str) -> None:
    """A batch's ``image`` is only a fallback: the net reads the image its InputInfo draws."""
    info = make_info()
    model = _model(name, wide=False)
    assert model.backbone.wide is None and not list(model.images.parameters())
    assert not any(k.startswith("images.") for k in model.state_dict())  # old checkpoints still load
    batch = make_batch("image", info, TASKS, rows=3)  # batch["image"] is random noise here
    drawn = ImageBuilder.from_info(info)(batch["x"])
    with torch.no_grad():
        from_x = model(batch)["return"]
        from_image = model({k: v for k, v in batch.items() if k != "x"} | {"image": drawn})["return"]
        noise = model({k: v for k, v in batch.items() if k != "x"})["return"]
    assert torch.allclose(from_x, from_image, atol=1e-6)
    assert not torch.allclose(from_x, noise)
    # an InputInfo without image_rows/image_resize (an old checkpoint) draws bilinear group images
    legacy = create_model(name, {"dropout": 0.0}, TASKS, info).images
    expected = torch.nn.functional.interpolate(legacy.raw(batch["x"]), size=(16, 16), mode="bilinear",
                                               align_corners=False)
    assert info.image_rows is None and torch.allclose(legacy(batch["x"]), expected, atol=1e-5)
    nearest = create_model(name, {}, TASKS, make_info(image_resize="nearest")).images(batch["x"])
    assert not torch.allclose(nearest, expected, atol=1e-3)


def _fit_last_day_target(name: str, wide: bool) -> float:
    """Train 60 Adam steps on a target linear in the last day with a blank image in the
    backbone (only the wide path can see the data); the final MSE as a share of the target's variance."""
    model = _model(name, wide).train()
    g = torch.Generator().manual_seed(1)
    x = make_batch("image", make_info(), TASKS, rows=64)["x"]
    blank = torch.zeros(64, 3, 16, 16)
    y = x[:, -1, 3] - 0.5 * x[:, -1, 7] + 0.05 * torch.randn(64, generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    for _ in range(60):
        opt.zero_grad()
        emb, _ = model.backbone(blank, x[:, -1, :] if wide else None, explain=False)
        loss = torch.mean((apply_heads(model.heads, emb)["return"] - y) ** 2)
        loss.backward()
        opt.step()
    return loss.item() / float(y.var())


@pytest.mark.parametrize("name", NAMES)
def test_wide_model_trains_on_the_last_day_signal(name: str) -> None:
    """Measured: ~0.002 of the variance left with the wide path, ~0.98 without it."""
    assert _fit_last_day_target(name, wide=True) < 0.05
    assert _fit_last_day_target(name, wide=False) > 0.5
