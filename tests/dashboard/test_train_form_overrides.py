"""The Train form's values as preset overrides (dashboard/train_form.py form_overrides)."""

from __future__ import annotations

from dashboard import train_form as tf
from finmt_core.config import load_preset


def _overrides(base, head_lr: float) -> dict:
    return tf.form_overrides(base, source="synthetic", tasks=tf.tasks_from_table(base, tf.task_table(base)),
                             weighting="fixed", folds=1, scheme="expanding", params={}, epochs=2, batch_size=32,
                             device="cpu", lr=1e-3, head_lr=head_lr, schedule="none", warmup_epochs=0)


def test_form_values_load_as_a_config():
    base = load_preset("tgcn")
    config = load_preset("tgcn", _overrides(base, head_lr=5e-3))
    assert config.data.source == "synthetic" and config.train.epochs == 2 and config.train.batch_size == 32
    assert config.train.lr_groups["heads"] == 5e-3 and config.loss.weighting == "fixed"
    assert [t.name for t in config.tasks] == [t.name for t in base.tasks]


def test_zero_head_lr_drops_the_heads_group():
    base = load_preset("tgcn")
    assert "heads" not in _overrides(base, head_lr=0.0)["train"]["lr_groups"]
