"""Multi-task models and baselines.

Model modules are imported on demand: ``create_model("tgcn", ...)`` imports
``finmt_core.models.tgcn`` (and with it torch_geometric) only then, so a LightGBM run or
``list_models()`` pays for no graph library (see ``registry.BUILTIN_MODELS``)::

    from finmt_core.models import create_model, list_models
    model = create_model("tgcn", {"hidden": 16}, tasks, info)

``finmt_core.models.tgcn`` etc. stay importable as attributes (``models.tgcn``) for old code.
"""

import importlib
from typing import Any

from finmt_core.models.base import MultiTaskModel
from finmt_core.models.heads import apply_heads, build_heads, enable_mc_dropout, monotone_quantiles
from finmt_core.models.registry import (
    create_estimator,
    create_model,
    get_estimator_class,
    get_model_class,
    is_estimator,
    list_estimators,
    list_models,
    register_estimator,
    register_model,
)

__all__ = [
    "MultiTaskModel",
    "apply_heads",
    "build_heads",
    "create_estimator",
    "create_model",
    "enable_mc_dropout",
    "get_estimator_class",
    "get_model_class",
    "is_estimator",
    "list_estimators",
    "list_models",
    "monotone_quantiles",
    "register_estimator",
    "register_model",
]

#: Submodules reachable as attributes (``finmt_core.models.tgcn``), imported on first access.
_SUBMODULES = frozenset(
    {"baselines", "cnn_lstm", "dual_tower", "ensemble", "finnex_cnn", "finnex_vit", "gbm", "lstm_transformer", "tgcn"}
)


def __getattr__(name: str) -> Any:  # PEP 562: lazy submodules keep `import finmt_core.models` light
    if name in _SUBMODULES:
        return importlib.import_module(f"finmt_core.models.{name}")
    raise AttributeError(f"module 'finmt_core.models' has no attribute {name!r}")
