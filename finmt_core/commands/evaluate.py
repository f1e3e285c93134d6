"""``finmt evaluate RUN``: score a run beside its baselines and judge its validation gates.

(``finmt backtest``, ``predict`` and ``report`` live in their own modules of this package.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from finmt_core.commands._common import (
    friendly_errors,
    run_dir_alias,
    runs_dir_option,
    runs_root,
    setup_logging,
)
from finmt_core.commands._output import RUN_HELP, dumps


def register(app: typer.Typer) -> None:
    """Attach ``finmt evaluate`` to the ``finmt`` app."""
    app.command("evaluate")(evaluate)


def format_gates(gates: dict[str, Any] | None) -> list[str]:
    """The validation gates as lines: the verdict, then one line per gate (value vs threshold
    vs the best baseline on the same validation rows)."""
    from finmt_core.evaluation.gates import gate_summary

    state, line = gate_summary(gates)
    out = [f"gates ({state.upper()}): {line}"]
    for task, t in (gates or {}).get("tasks", {}).items():
        for g in t.get("gates", []):
            out.append(f"  {'pass' if g['passed'] else 'FAIL'}  {task}.{g['gate']}: {g['reason']}")
    for f in (gates or {}).get("folds", []):
        out.append(f"  fold {f['fold']}: {'passed' if f['passed'] else 'failed' if f['passed'] is False else 'not judged'}")
    return out


def format_walk_forward(ev: dict[str, Any]) -> str:
    """Per-fold headline metrics and their mean ± std beside the baselines, then the gates."""
    import pandas as pd

    from finmt_core.evaluation.metrics import HEADLINE
    from finmt_core.evaluation.walk_forward import aggregate_frame, fold_table

    wf = ev["walk_forward"]
    lines = [f"walk-forward run {ev['run']['name']} ({ev['run']['model']}): {wf['n_folds']} {wf['scheme']} folds, "
             f"test {' to '.join(ev['splits'].get('test', []))}"]
    metrics = {HEADLINE["classification" if "accuracy" in ms else "quantile" if "pinball" in ms else "regression"][0]
               for f in wf["folds"] for ms in f["tasks"].values()}
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4f}".format):
        for metric in sorted(metrics):
            lines.append(f"{metric} per fold (model beside the baselines on each fold's test rows):")
            lines.append(fold_table(ev, metric).to_string(index=False))
            lines.append(f"{metric} over folds, mean ± std:")
            lines.append(aggregate_frame(wf, metric).to_string())
    lines += format_gates(ev.get("gates"))
    lines += [f"warning: {w}" for w in ev.get("warnings", [])]
    return "\n".join(lines)


def format_evaluation(ev: dict[str, Any]) -> str:
    """Readable text: splits, each task's headline metric beside the baselines, warnings."""
    import pandas as pd

    from finmt_core.evaluation.evaluate import headline_frame

    lines = [f"run {ev['run']['name']} ({ev['run']['model']}), test {' to '.join(ev['splits'].get('test', []))}"]
    head = headline_frame(ev)
    if not head.empty:
        with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:.4f}".format):
            lines.append(head.set_index("task").to_string())
    for task, sig in ev.get("significance", {}).items():
        best = sig.get("vs_best_baseline")
        if best and best.get("value") is not None:
            p = best.get("p_value")
            lines.append(f"{task}: edge over the best baseline ({best['baseline']}) {best['value']:+.4f} "
                         f"(> 0: model better), p = {'n/a' if p is None else f'{p:.3g}'} (H0: no edge, paired by date)")
    g = ev.get("signal_gated")
    if g:
        lines.append(f"signal-gated @ {g['threshold']}: coverage {g['coverage']:.3f}, accuracy {g['accuracy']:.3f}")
    bt = (ev.get("backtest") or {}).get("metrics")
    if bt:
        lines.append(f"backtest ({ev['backtest']['settings']['strategy']}, {ev['backtest']['settings']['cost_bps']:g} bps): "
                     f"net Sharpe {bt['net'].get('sharpe')}, benchmark Sharpe {bt['benchmark'].get('sharpe')}")
    lines += format_gates(ev.get("gates"))
    lines += [f"warning: {w}" for w in ev.get("warnings", [])]
    return "\n".join(lines)


@friendly_errors
def evaluate(
    run: str = typer.Argument(..., help=RUN_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the evaluation as one JSON object."),
    runs_dir: Path | None = runs_dir_option(),
    run_dir: Path | None = run_dir_alias(),
    cost_bps: float = typer.Option(10.0, "--cost-bps", min=0.0, help="Cost of the default backtest, bps per turnover."),
    no_backtest: bool = typer.Option(False, "--no-backtest", help="Skip the default backtest."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when a validation gate fails (default: report only)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Score RUN's test predictions beside its baselines on the same rows and judge its validation
    gates (on validation rows); writes evaluation.json. A walk-forward run: every fold, and the
    mean ± std over folds."""
    setup_logging(verbose)
    from finmt_core.evaluation.walk_forward import evaluate_walk_forward
    from finmt_core.run import Run
    from finmt_core.training.walk_forward import is_walk_forward

    target = Run.resolve(run, runs_root(runs_dir, run_dir), last_fold=False)
    if is_walk_forward(target):
        ev = evaluate_walk_forward(target.path, cost_bps=cost_bps, backtest=not no_backtest)
        typer.echo(dumps(ev) if as_json else format_walk_forward(ev))
    else:
        ev = target.evaluate(cost_bps=cost_bps, backtest=not no_backtest)
        typer.echo(dumps(ev) if as_json else format_evaluation(ev))
    if strict and (ev.get("gates") or {}).get("passed") is False:
        typer.echo(f"error: validation gates failed ({ev['gates']['n_failed']}); see the gates above", err=True)
        raise typer.Exit(code=1)
