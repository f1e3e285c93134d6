"""Merging re-measured rows into a committed learning report."""

from __future__ import annotations

from dataclasses import asdict

from finmt_core.evaluation.learning import LearningRow, merge_rows, summary_table


def _row(preset: str, market: str, seed: int, acc: float, single: bool = False) -> LearningRow:
    return LearningRow(preset=preset, market=market, seed=seed, horizon=1, score_from="return", rows=100,
                       accuracy=acc, oracle_accuracy=0.6, share_of_edge=(acc - 0.5) / 0.1, ic=0.1,
                       oracle_ic=0.2, ic_ratio=0.5, train_s=1.0, single_task=single)


def test_new_rows_replace_same_key_and_others_are_kept_in_order() -> None:
    old = [asdict(_row("lightgbm", "planted", 1, 0.55)), asdict(_row("lightgbm", "planted", 1, 0.54, single=True)),
           dict(asdict(_row("tgcn", "planted", 1, 0.58)), extra_field="ignored")]
    new = [_row("lightgbm", "planted", 1, 0.59), _row("lightgbm", "planted", 2, 0.57)]
    rows = merge_rows(old, new)
    assert [(r.preset, r.seed, r.single_task, r.accuracy) for r in rows] == [
        ("lightgbm", 1, False, 0.59), ("lightgbm", 1, True, 0.54), ("tgcn", 1, False, 0.58), ("lightgbm", 2, False, 0.57)]
    summary = summary_table(rows)
    multi = summary[(summary.preset == "lightgbm") & ~summary.single_task].iloc[0]
    assert multi["seeds"] == 2 and abs(multi["accuracy"] - 0.58) < 1e-12
