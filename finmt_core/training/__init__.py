"""Training: run directories, checkpoints, the trainer and its callbacks.

Public entry points: :func:`start` (a new run), :func:`start_queued` (a run written ahead),
:func:`resume` (from its last checkpoint), :func:`continue_run` (``finmt train --resume``),
:func:`train_run` (the older single entry) and :func:`load_run_data` (``pipeline``), the run
directory helpers (``runs``) and checkpoint loading (``checkpoint``). Submodules import torch
lazily where they can, so ``from finmt_core.training.runs import RunDir`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the checker sees the real functions; at run time __getattr__ imports them
    from finmt_core.training.pipeline import (
        continue_run,
        load_run_data,
        resume,
        start,
        start_queued,
        train_run,
    )

__all__ = ["continue_run", "load_run_data", "resume", "start", "start_queued", "train_run"]


def __getattr__(name: str) -> Any:  # lazy: importing the package must not pull in torch
    if name in __all__:
        from finmt_core.training import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
