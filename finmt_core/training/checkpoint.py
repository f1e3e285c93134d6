"""Self-describing checkpoints: plain dicts that ``torch.load(weights_only=True)`` reads.

A checkpoint stores, beside the weights, everything needed to rebuild the model without custom
objects: the registered model name, its hyper-parameters, the task specs, the InputInfo, the
fitted feature scaler and the whole experiment config. ``last.pt`` adds the optimizer,
scheduler, loss-weighting, trainer and RNG state for resuming.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from finmt_core.errors import RunError
from finmt_core.tasks import Task
from finmt_core.training.runs import atomic_write_bytes

if TYPE_CHECKING:
    from finmt_core.models.base import MultiTaskModel

FORMAT = "finmt-checkpoint-v1"


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module under DistributedDataParallel and/or ``torch.compile`` wrappers."""
    inner = getattr(model, "module", None)
    if isinstance(inner, nn.Module) and type(model).__name__ == "DistributedDataParallel":
        model = inner
    orig = getattr(model, "_orig_mod", None)
    return orig if isinstance(orig, nn.Module) else model


def build_checkpoint(
    *,
    model: nn.Module,
    model_name: str,
    model_params: dict[str, Any],
    tasks: list[Task],
    input_info: dict[str, Any],
    scaler: dict[str, Any] | None,
    config: dict[str, Any],
    epoch: int,
    **extra: Any,
) -> dict[str, Any]:
    """The checkpoint dict (weights moved to CPU so it loads anywhere)."""
    state = {k: v.detach().cpu() for k, v in unwrap_model(model).state_dict().items()}
    ckpt: dict[str, Any] = {
        "format": FORMAT,
        "model_name": model_name,
        "model_params": dict(model_params),
        "tasks": [t.model_dump(mode="json") for t in tasks],
        "input_info": input_info,
        "scaler": scaler,
        "config": config,
        "state_dict": state,
        "epoch": int(epoch),
    }
    ckpt.update(extra)
    return ckpt


def save_checkpoint(path: str | Path, ckpt: dict[str, Any]) -> None:
    """``torch.save`` to memory, then an atomic write (a crash never leaves half a file)."""
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no arbitrary code is unpickled).

    Raises:
        RunError: missing, damaged or foreign file; the message says which other checkpoints
            of the run exist and what to do (see :func:`damaged_checkpoint_hint`).
    """
    p = Path(path)
    if not p.is_file():
        raise RunError(f"checkpoint not found: {p}")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupted file or a pickle that is not plain data
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(". ")[0][:160]
        raise RunError(f"cannot load checkpoint {p}: the file is damaged ({detail}). {damaged_checkpoint_hint(p)}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or "state_dict" not in ckpt:
        raise RunError(f"{p} is not a finmt checkpoint (expected format {FORMAT!r}). {damaged_checkpoint_hint(p)}")
    return ckpt


def damaged_checkpoint_hint(path: Path) -> str:
    """What to do about an unreadable checkpoint of a run (``<run>/checkpoints/<file>.pt``).

    ``last.pt`` alone carries the optimizer and RNG state that ``--resume`` needs; ``best.pt``
    and ``epoch-NNNN.pt`` hold weights only, so they can stand in for one another (and a
    ``last.pt`` for ``best.pt``), but not for ``last.pt``.
    """
    folder, run = path.parent, path.parent.parent
    others = sorted(p.name for p in folder.glob("*.pt") if p.name != path.name)
    retrain = f"retrain with `finmt train --config {run / 'config.yaml'}`"
    if path.name == "last.pt":
        return (f"The run cannot continue from it (only last.pt holds the optimizer state). Delete it and run "
                f"`finmt train --resume {run.name}` to train the run again from epoch 1, or {retrain}."
                + (f" Its weights-only checkpoint(s) {', '.join(others)} still serve evaluation and prediction."
                   if others else ""))
    if others:
        pick = "last.pt" if "last.pt" in others else others[-1]
        return (f"Use another checkpoint of the run instead: `cp {folder / pick} {path}` "
                f"(present: {', '.join(others)}), or {retrain}.")
    return f"The run has no other checkpoint: {retrain}."


def checkpoint_tasks(ckpt: dict[str, Any]) -> list[Task]:
    return [Task.model_validate(d) for d in ckpt["tasks"]]


def model_from_checkpoint(ckpt: dict[str, Any], device: str | torch.device = "cpu") -> MultiTaskModel:
    """Rebuild the model through the registry and load its weights (strict), in eval mode."""
    from finmt_core.data.prepare import InputInfo
    from finmt_core.models import create_model

    info = InputInfo.from_dict(ckpt["input_info"])
    model = create_model(ckpt["model_name"], ckpt["model_params"], checkpoint_tasks(ckpt), info)
    try:
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except RuntimeError as exc:  # weights of an older/newer version of the architecture
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RunError(
            f"the checkpoint's weights do not fit the current {ckpt['model_name']!r} model "
            f"({first}); it was saved by a different finmt version of this architecture. "
            "Retrain the run (same config) to use it with this version."
        ) from None
    return model.to(device).eval()


# ---- RNG state (plain types only, so weights_only loading accepts it) ----------------------
def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state(legacy=False)
    out: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "key": torch.from_numpy(np.asarray(np_state["state"]["key"], dtype=np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    # weights_only loading returns lists where tuples were saved; random.setstate wants tuples.
    random.setstate((py[0], tuple(py[1]), py[2]))
    npst = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": npst["key"].numpy().astype(np.uint32), "pos": npst["pos"]},
            "has_gauss": npst["has_gauss"],
            "gauss": npst["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
