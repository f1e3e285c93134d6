"""A checkpoint whose weights no longer fit the architecture is a RunError that says to retrain."""

from __future__ import annotations

import pytest

from finmt_core.errors import RunError
from finmt_core.training.checkpoint import model_from_checkpoint


def test_mismatched_weights_raise_run_error_with_hint() -> None:
    from finmt_core.data.prepare import InputInfo
    from finmt_core.models import create_model
    from finmt_core.tasks import make_task

    info = InputInfo(n_features=4, window=5, feature_names=list("abcd"), groups={"trend": [0, 1, 2, 3]},
                     image_groups=["trend"], image_size=8, n_nodes=3, context_idx=[], stock_idx=[0, 1, 2, 3])
    tasks = [make_task("direction", 1)]
    model = create_model("lstm_transformer", {}, tasks, info)
    state = model.state_dict()
    state.pop(next(iter(state)))  # an older version lacked a weight
    ckpt = {"model_name": "lstm_transformer", "model_params": {}, "tasks": [t.model_dump(mode="json") for t in tasks],
            "input_info": info.to_dict(), "state_dict": state}
    with pytest.raises(RunError, match="Retrain"):
        model_from_checkpoint(ckpt)
