"""Hyper-parameter search with Optuna: search spaces in YAML, pruning on validation loss,
each trial a normal run directory, distributed through Optuna's RDB storage."""

from finmt_core.tuning.space import SearchSpace, apply_overrides, load_search_space
from finmt_core.tuning.study import TuneResult, default_storage, run_tuning, study_summary

__all__ = [
    "SearchSpace",
    "TuneResult",
    "apply_overrides",
    "default_storage",
    "load_search_space",
    "run_tuning",
    "study_summary",
]
