"""The analysis pages on an ensemble run: Evaluation shows the weights and the members beside
it, Backtest and Signals work, What-if and Explain say clearly that they do not apply, and the
Train page offers the ensemble form."""

from __future__ import annotations

from pathlib import Path

import pytest


def _texts(at: object) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "title", "subheader")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def _ok(at: object) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.slow
def test_pages_on_an_ensemble_run(open_page, members: tuple[Path, list[str]], ensemble_run: Path) -> None:
    root, names = members
    at = open_page(root, "evaluation", run=ensemble_run.name)
    _ok(at)
    frames = [d.value for d in at.dataframe]
    weights = next(f for f in frames if "member" in f.columns and "weight" in f.columns)
    assert set(names) <= set(weights["member"])
    assert "member:gbm" in _texts(at) or any("member:gbm" in map(str, f.columns) for f in frames)
    for page in ("backtest", "signals"):
        at = open_page(root, page, run=ensemble_run.name)
        _ok(at)
        assert not at.error, (page, [e.value for e in at.error])
    for page, words in (("whatif", "What-if is not supported for an ensemble"),
                        ("explain", "Explanations are not supported for an ensemble")):
        at = open_page(root, page, run=ensemble_run.name)
        _ok(at)
        assert words in _texts(at), page
    from ens_helpers import tiny_config

    from finmt_core.training.pipeline import train_run

    odd = train_run(tiny_config("naive_zero", {}, tasks=[{"name": "direction", "target": "direction", "horizon": 3}]),
                    root, name="odd-h3").name
    at = open_page(root, "train")
    _ok(at)
    assert set(names) <= set(at.multiselect(key="ens_members").options)
    at.multiselect(key="ens_members").set_value([names[2], odd])
    at.text_input(key="ens_name").set_value("ui-bad")
    at.button(key="ens_build").click().run()
    _ok(at)
    assert any("different tasks" in e.value for e in at.error)  # refused, nothing launched
    assert not (root / "ui-bad").exists()
