"""Training: run directories, checkpoints, the trainer and its callbacks.

Public entry points: :func:`train_run`, :func:`load_run_data` (``pipeline``), the run
directory helpers (``runs``) and checkpoint loading (``checkpoint``). Submodules import torch
lazily where they can, so ``from finmt_core.training.runs import RunDir`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_run_data", "train_run"]


def __getattr__(name: str) -> Any:  # lazy: importing the package must not pull in torch
    if name in __all__:
        from finmt_core.training import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
