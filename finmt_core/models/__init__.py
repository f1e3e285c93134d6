"""Multi-task models and baselines.

Importing this package imports every model module, which fills the registries::

    from finmt_core.models import create_model, list_models
    model = create_model("tgcn", {"hidden": 16}, tasks, info)
"""

from finmt_core.models import (  # noqa: F401  (imported for their @register_* side effects)
    baselines,
    cnn_lstm,
    dual_tower,
    ensemble,
    finnex_cnn,
    finnex_vit,
    gbm,
    lstm_transformer,
    tgcn,
)
from finmt_core.models.base import MultiTaskModel
from finmt_core.models.heads import (
    GATE_LABELS,
    apply_heads,
    build_heads,
    enable_mc_dropout,
    monotone_quantiles,
    signal_gate,
)
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
    "GATE_LABELS",
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
    "signal_gate",
]
