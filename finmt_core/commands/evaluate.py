"""``finmt evaluate | backtest | predict | report``: score, trade, query and present a run."""

from __future__ import annotations

import json
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
from finmt_core.errors import DataError

RUN_HELP = "Run directory path, or a run name under --runs-dir."


def register(app: typer.Typer) -> None:
    """Attach the evaluation commands to the ``finmt`` app."""
    app.command("evaluate")(evaluate)
    app.command("backtest")(backtest)
    app.command("predict")(predict)
    app.command("report")(report)


def resolve_run(run: str, run_dir: Path, *, last_fold: bool = True) -> Path:
    """A run given as a directory path or as a name under ``run_dir``. A walk-forward run
    resolves to its last fold (its model and test segment) unless ``last_fold=False``."""
    from finmt_core.training.runs import RunDir, open_run
    from finmt_core.training.walk_forward import analysis_run

    p = Path(run)
    path = p if (p / "config.yaml").is_file() else open_run(run_dir, run).path
    return analysis_run(RunDir(path)).path if last_fold else path


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


def _dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str, allow_nan=False)


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
    from finmt_core.evaluation.evaluate import evaluate_run
    from finmt_core.evaluation.walk_forward import evaluate_walk_forward
    from finmt_core.training.runs import RunDir
    from finmt_core.training.walk_forward import is_walk_forward

    path = resolve_run(run, runs_root(runs_dir, run_dir), last_fold=False)
    if is_walk_forward(RunDir(path)):
        ev = evaluate_walk_forward(path, cost_bps=cost_bps, backtest=not no_backtest)
        typer.echo(_dumps(ev) if as_json else format_walk_forward(ev))
    else:
        ev = evaluate_run(path, cost_bps=cost_bps, backtest=not no_backtest)
        typer.echo(_dumps(ev) if as_json else format_evaluation(ev))
    if strict and (ev.get("gates") or {}).get("passed") is False:
        typer.echo(f"error: validation gates failed ({ev['gates']['n_failed']}); see the gates above", err=True)
        raise typer.Exit(code=1)


@friendly_errors
def backtest(
    run: str = typer.Argument(..., help=RUN_HELP),
    strategy: str = typer.Option("auto", "--strategy", help="auto | signal_gated | top_k | top_k_long | sized"),
    cost_bps: float = typer.Option(10.0, "--cost-bps", min=0.0, help="Transaction cost, bps per unit of turnover."),
    slippage_bps: float = typer.Option(0.0, "--slippage-bps", min=0.0, help="Extra slippage, bps per unit of turnover."),
    k: int = typer.Option(None, "--k", min=1, help="Names per side for top-k (default 10% of tickers)."),
    threshold: float = typer.Option(0.5, "--threshold", min=0.0, max=1.0, help="Signal-gating threshold."),
    max_gross: float = typer.Option(1.0, "--max-gross", help="Gross exposure cap (sum |w|)."),
    max_net: float = typer.Option(1.0, "--max-net", help="Net exposure cap (|sum w|)."),
    split: str = typer.Option("test", "--split", help="test | val"),
    out: Path = typer.Option(None, "--out", help="Write the daily series (equity, drawdown, turnover) to CSV/Parquet."),
    as_json: bool = typer.Option(False, "--json", help="Print settings and metrics as JSON."),
    runs_dir: Path | None = runs_dir_option(),
    run_dir: Path | None = run_dir_alias(),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Trade RUN's predictions (positions at close t earn t -> t+1), net and gross of costs, vs buy & hold."""
    setup_logging(verbose)
    from finmt_core.evaluation.evaluate import _clean
    from finmt_core.evaluation.run_backtest import backtest_predictions
    from finmt_core.training import load_run_data
    from finmt_core.training.runs import RunDir

    if split not in ("test", "val"):
        raise DataError(f"--split must be test or val, got {split!r}")
    rd = RunDir(resolve_run(run, runs_root(runs_dir, run_dir)))
    preds = rd.predictions()
    _, prepared = load_run_data(rd)
    res = backtest_predictions(preds[preds["split"] == split], rd.config().tasks, prepared.dense.close, prepared.dates,
                               prepared.tickers, strategy=strategy, k=k, threshold=threshold, cost_bps=cost_bps,
                               slippage_bps=slippage_bps, max_gross=max_gross, max_net=max_net)
    if out is not None:
        _write_frame(res.frame().reset_index(), out)
    if as_json:
        typer.echo(_dumps(_clean(res.to_dict())))
        return
    import pandas as pd

    table = pd.DataFrame(res.metrics).loc[["total_return", "annual_return", "annual_vol", "sharpe", "sortino", "max_drawdown",
                                           "calmar", "win_rate", "profit_factor"]]
    typer.echo(f"{res.settings['strategy']} on {split}, {cost_bps:g} bps + {slippage_bps:g} bps slippage, "
               f"{len(res.dates)} days (positions at close t earn t -> t+1)")
    typer.echo(table.to_string(float_format=lambda v: f"{v:.4f}"))
    typer.echo(f"average daily turnover {res.metrics['net'].get('avg_turnover', float('nan')):.3f}, "
               f"total cost {res.metrics['net'].get('total_cost', float('nan')):.4f}")


def _write_frame(df: Any, out: Path) -> None:
    from finmt_core.training.runs import atomic_write_bytes

    name = out.name.lower()
    if name.endswith(".parquet"):
        import io

        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        atomic_write_bytes(out, buf.getvalue())
    elif name.endswith(".csv"):
        from finmt_core.io_safety import safe_csv_frame  # tickers come from users' files

        atomic_write_bytes(out, safe_csv_frame(df).to_csv(index=False).encode("utf-8"))
    else:
        raise DataError(f"--out must end in .csv or .parquet, got {out}")


@friendly_errors
def predict(
    run: str = typer.Argument(..., help=RUN_HELP),
    data: str = typer.Option(..., "--data", help="Panel to predict on (CSV/Parquet, 'demo' or 'synthetic')."),
    date: str = typer.Option("latest", "--date", help="A date (YYYY-MM-DD), 'latest' (default) or 'all'."),
    threshold: float = typer.Option(0.5, "--threshold", min=0.0, max=1.0, help="Signal-gating threshold."),
    out: Path = typer.Option(None, "--out", help="Write the predictions to FILE.csv or FILE.parquet."),
    runs_dir: Path | None = runs_dir_option(),
    run_dir: Path | None = run_dir_alias(),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """What does RUN's model say on DATA (default: for the day after its last date)?"""
    setup_logging(verbose)
    from finmt_core.data.panel import load_panel
    from finmt_core.inference import Predictor
    from finmt_core.inference.gating import gating_rule

    p = Predictor.from_run(resolve_run(run, runs_root(runs_dir, run_dir)))
    df = p.predict(load_panel(data), dates=None if date == "all" else date)
    try:
        gating_rule(df)
        df = p.signal_gated(df, threshold)
    except DataError:  # no classification heads to gate
        pass
    if out is not None:
        _write_frame(df, out)
        typer.echo(f"wrote {len(df)} rows to {out}")
    shown = [c for c in df.columns if c in ("date", "ticker", "gate", "confidence") or c.endswith("_pred")]
    typer.echo(df[shown].to_string(index=False, max_rows=60, float_format=lambda v: f"{v:.4f}"))


@friendly_errors
def report(
    run: str = typer.Argument(..., help=RUN_HELP),
    out: Path = typer.Option(Path("report.html"), "--out", help="HTML file to write."),
    cost_bps: float = typer.Option(10.0, "--cost-bps", min=0.0, help="Backtest cost, bps per unit of turnover."),
    no_explain: bool = typer.Option(False, "--no-explain", help="Skip attributions (faster)."),
    pdf: bool = typer.Option(False, "--pdf", help="Also print it to a PDF next to --out (needs headless Chromium; "
                                                  "implied by --out FILE.pdf)."),
    runs_dir: Path | None = runs_dir_option(),
    run_dir: Path | None = run_dir_alias(),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Write one self-contained HTML report of RUN (opens without a network connection); with
    --pdf also a PDF of it (A4 pages, printed by headless Chromium)."""
    setup_logging(verbose)
    from finmt_core.report import build_report

    if out.suffix.lower() == ".pdf":  # --out report.pdf: the HTML goes beside it, then it is printed
        pdf, out = True, out.with_suffix(".html")
    if pdf:  # fail before the (long) report is built when no Chromium can print it
        from finmt_core.report_pdf import find_chromium

        find_chromium()
    path = build_report(resolve_run(run, runs_root(runs_dir, run_dir)), out, cost_bps=cost_bps, explain=not no_explain)
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if pdf:
        from finmt_core.report_pdf import html_to_pdf

        printed = html_to_pdf(path, path.with_suffix(".pdf"))
        typer.echo(f"wrote {printed} ({printed.stat().st_size / 1e6:.1f} MB)")
