"""Device selection, batch transfer and seeding (shared by the trainer, inference and benchmarks)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from finmt_core.errors import ConfigError
from finmt_core.training import distributed as dist


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is a ConfigError."""
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ConfigError("train.device is 'cuda' but no CUDA GPU is available here; use --device cpu or auto")
        return torch.device("cuda", dist.local_rank() if dist.is_initialized() else torch.cuda.current_device())
    if name not in ("auto", "cpu"):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device("cpu")


def to_device(batch: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """Move every tensor of a (nested) batch dict to ``device``; other values pass through."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, dict):
        return {k: to_device(v, device, non_blocking) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, non_blocking) for v in batch)
    return batch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


_CPU_BF16: tuple[bool, str] | None = None


def cpu_bf16_support() -> tuple[bool, str]:
    """Whether this CPU runs every op finmt's models use under ``torch.autocast("cpu", bfloat16)``.

    oneDNN's bfloat16 LSTM (and some GEMMs) need CPU features (AVX-512 BF16 / AMX) that many
    machines lack; there it raises "could not create a primitive descriptor". Probed once per
    process with a tiny LSTM + linear layer, forward and backward.

    Returns:
        ``(supported, reason)``: reason names the failure when unsupported.
    """
    global _CPU_BF16
    if _CPU_BF16 is None:
        try:
            lstm, lin = torch.nn.LSTM(4, 4, batch_first=True), torch.nn.Linear(4, 2)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out, _ = lstm(torch.randn(2, 3, 4))
                loss = lin(out).float().sum()
            loss.backward()
            _CPU_BF16 = (True, "bfloat16 autocast works on this CPU")
        except RuntimeError as exc:
            _CPU_BF16 = (False, f"this CPU cannot run bfloat16 autocast ({str(exc).splitlines()[0][:120]})")
    return _CPU_BF16
