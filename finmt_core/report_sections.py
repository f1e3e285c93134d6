"""HTML sections of the stakeholder report (see :mod:`finmt_core.report`).

Each builder takes what it needs (the run, its evaluation dict, frames) and returns an HTML
fragment; text is escaped, figures come from :mod:`finmt_core.plots` and are embedded without
plotly.js (the report inlines it once).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from finmt_core.evaluation.metrics import HEADLINE

#: Metrics shown in the results table per task kind (headline first).
TABLE_METRICS = {
    "classification": ("accuracy", "balanced_accuracy", "mcc", "roc_auc", "log_loss", "f1_macro"),
    "regression": ("ic", "rank_ic", "icir", "directional_accuracy", "mae", "r2"),
    "quantile": ("pinball", "coverage", "coverage_nominal", "median_ic", "median_directional_accuracy"),
}
#: Metrics where lower is better (the best cell is the smallest).
LOWER_BETTER = {"log_loss", "mae", "rmse", "pinball", "max_drawdown"}


def esc(x: Any) -> str:
    return html.escape(str(x))


def fmt(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    if isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer() and abs(v) >= 10):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return f"{v:.{digits}g}"
    return esc(v)


def source_name(source: Any) -> str:
    """A data source as a reader sees it: the shortcut ("demo", "synthetic") or the file's name,
    never a path on the server."""
    text = str(source or "—")
    return text if text in ("demo", "synthetic", "—") else Path(text).name


def figure(fig: go.Figure) -> str:
    """A plotly figure as an HTML ``div`` (plotly.js is inlined once in the page head)."""
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def table(rows: Sequence[Sequence[Any]], header: Sequence[str], *, left: int = 1, best: Sequence[set[int]] | None = None,
          row_class: Sequence[str] | None = None) -> str:
    """An HTML table; the first ``left`` columns are left-aligned; ``best[i]`` marks cells of row i."""
    out = ['<table class="data"><thead><tr>']
    out += [f'<th class="{"l" if j < left else ""}">{esc(h)}</th>' for j, h in enumerate(header)]
    out.append("</tr></thead><tbody>")
    for i, r in enumerate(rows):
        cls = f' class="{row_class[i]}"' if row_class and row_class[i] else ""
        cells = []
        for j, v in enumerate(r):
            c = "l" if j < left else ("best" if best and j in best[i] else "")
            cells.append(f'<td class="{c}">{v if isinstance(v, _Raw) else fmt(v)}</td>')
        out.append(f"<tr{cls}>{''.join(cells)}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


class _Raw(str):
    """A table cell that is already HTML."""


def raw(s: str) -> _Raw:
    return _Raw(s)


def section(sid: str, title: str, body: Iterable[str]) -> str:
    return f'<section id="{esc(sid)}"><h2>{esc(title)}</h2>\n' + "\n".join(body) + "\n</section>"


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def grid(items: Iterable[str]) -> str:
    return '<div class="grid">' + "".join(f"<div>{x}</div>" for x in items) + "</div>"


# ---- sections ----------------------------------------------------------------------------------
def overview(config: Any, status: dict[str, Any], ev: dict[str, Any], data_info: dict[str, Any]) -> str:
    """What was trained, on what data, split how."""
    facts = [
        ("Model", config.model.name), ("Preset", config.preset or "—"), ("State", status.get("state", "—")),
        ("Data", source_name(config.data.source)), ("Tickers", data_info.get("tickers", ev.get("run", {}).get("tickers", "—"))),
        ("Features", data_info.get("features", "—")), ("Input window", f"{config.data.window} trading days"),
        ("Embargo between segments", f"{config.embargo} trading days (≥ longest horizon {config.max_horizon})"),
        ("Epochs", f"{status.get('epoch', '—')} of {config.train.epochs} (best: {status.get('best_epoch', '—')})"),
        ("Optimiser", f"lr {config.train.lr:g}, batch {config.train.batch_size}, schedule {config.train.schedule}"),
        ("Task weighting", config.loss.weighting), ("Device", status.get("device", "—")),
    ]
    splits = ev.get("splits", {})
    split_rows = [(seg, *(splits.get(seg) or ["—", "—"])) for seg in ("train", "val", "test")]
    tasks = [(t.name, t.target, t.kind, t.horizon, ", ".join(t.classes) or "—", t.loss, t.mask_by or "—") for t in config.tasks]
    return section("overview", "What was trained on what data", [
        table(facts, ["", ""]),
        "<h3>Date splits (by date, purged and embargoed; fitted statistics use train only)</h3>",
        table(split_rows, ["segment", "first date", "last date"], left=3),
        "<h3>Tasks (one head each)</h3>",
        table(tasks, ["task", "target", "kind", "horizon (days)", "classes", "loss", "trained only where"], left=7),
    ])


def _task_kind(m: dict[str, Any]) -> str:
    return "classification" if "accuracy" in m else "quantile" if "pinball" in m else "regression"


def results(ev: dict[str, Any], bars: Sequence[go.Figure] = ()) -> str:
    """The honest metric table: every model metric beside every baseline on the same rows."""
    names = ["model", *ev.get("baselines", {})]
    body = [note("Test segment only. Baselines are fitted on the same train segment and scored on exactly the same "
                 "rows as the model; the best value of each row is highlighted.")]
    for task, m in ev.get("tasks", {}).items():
        kind = _task_kind(m)
        rows, best = [], []
        for metric in TABLE_METRICS[kind]:
            vals = [m.get(metric)] + [ev["baselines"][b].get(task, {}).get(metric) for b in names[1:]]
            finite = [(v, j + 1) for j, v in enumerate(vals) if isinstance(v, (int, float)) and v is not None and np.isfinite(v)]
            mark: set[int] = set()
            if finite and metric not in ("coverage", "coverage_nominal"):
                target = min(v for v, _ in finite) if metric in LOWER_BETTER else max(v for v, _ in finite)
                mark = {j for v, j in finite if v == target}
            rows.append([metric, *vals])
            best.append(mark)
        body.append(f"<h3>{esc(task)} <span class='note'>({esc(kind)}, n = {fmt(m.get('n'))} test rows)</span></h3>")
        body.append(table(rows, ["metric", *names], best=best))
    if bars:
        body.append(grid(figure(f) for f in bars))
    return section("results", "Results: model vs baselines", body)


def caveats(ev: dict[str, Any]) -> str:
    """Warnings, significance of each edge, and the standing caveats."""
    warns = ev.get("warnings", [])
    body = [f'<div class="warn">{esc(w)}</div>' for w in warns] or ['<div class="ok">No collapse and every headline '
                                                                   "metric beats every baseline.</div>"]
    body += gate_rows(ev.get("gates"))
    rows = []
    for task, s in ev.get("significance", {}).items():
        mod = s.get("model", {})
        rows.append([task, s.get("metric"), raw(f"{fmt(mod.get('value'))} [{fmt(mod.get('ci_low'))}, {fmt(mod.get('ci_high'))}]"),
                     *[raw(_edge(s.get("vs", {}).get(b))) for b in ev.get("baselines", {})]])
    if rows:
        body += ["<h3>Significance (95% intervals, clustered by date; edge &gt; 0 = model better; <b>better</b> / <b>worse</b> = "
                 "the interval excludes 0)</h3>",
                 table(rows, ["task", "metric", "model [CI]", *[f"edge vs {b}" for b in ev.get("baselines", {})]], left=2)]
    body.append("<h3>Read before quoting any number</h3><ul>" + "".join(f"<li>{esc(x)}</li>" for x in (
        "Rows on the same date move together; intervals are clustered by date, so they are wider than a naive "
        "row-level interval would suggest.",
        "A metric within noise of its best baseline is not evidence of skill.",
        "Backtests assume positions decided at the close of t earn the close t → t+1 return, trade at that close, and pay "
        "the stated cost on turnover; there is no market impact, borrow cost or capacity limit.",
        "One test segment is one historical path; walk-forward folds give a fairer spread.",
    )) + "</ul>")
    return section("caveats", "Caveats: warnings and significance", body)


def gate_rows(gates: dict[str, Any] | None) -> list[str]:
    """The validation gates (judged on validation rows, beside the best baseline there)."""
    from finmt_core.evaluation.gates import gate_summary

    state, line = gate_summary(gates)
    out = [f'<div class="{"ok" if state == "passed" else "warn"}">Validation gates: {esc(line)}</div>']
    rows = [[task, g["gate"], "pass" if g["passed"] else "FAIL", g.get("value"),
             f"within {fmt(g['threshold'][0])}–{fmt(g['threshold'][1])}" if isinstance(g.get("threshold"), list)
             else f"{g['op']} {fmt(g.get('threshold'))}", g.get("baseline") or "—", g.get("baseline_value")]
            for task, t in (gates or {}).get("tasks", {}).items() for g in t.get("gates", [])]
    if rows:
        out += ["<h3>Validation gates (validation segment, never test; beside the best baseline on the same rows)</h3>",
                table(rows, ["task", "gate", "verdict", "value", "rule", "best baseline", "baseline value"], left=3)]
    return out


def _edge(e: dict[str, Any] | None) -> str:
    if not e or e.get("value") is None:
        return "—"
    verdict = ""
    if e.get("significant"):
        verdict = " <b>better</b>" if e["value"] > 0 else " <b>worse</b>"
    return f"{fmt(e.get('value'), 3)} [{fmt(e.get('ci_low'), 3)}, {fmt(e.get('ci_high'), 3)}]{verdict}"


def figures_section(sid: str, title: str, figs: Sequence[go.Figure], empty: str, intro: str | None = None) -> str:
    body = [note(intro)] if intro else []
    body.append(grid(figure(f) for f in figs) if figs else note(empty))
    return section(sid, title, body)


def backtest(results_by_strategy: dict[str, Any], equity: go.Figure | None, cost_bps: float, error: str | None) -> str:
    """Metrics (net, gross, benchmark) per strategy and the equity/drawdown chart."""
    if error:
        return section("backtest", "Backtest with costs", [note(error)])
    keys = ("total_return", "annual_return", "annual_vol", "sharpe", "sortino", "max_drawdown", "calmar", "win_rate",
            "profit_factor", "avg_turnover", "hit_rate")
    header = ["metric"]
    cols = []
    for name, res in results_by_strategy.items():
        for part in ("net", "gross"):
            header.append(f"{name} ({'after' if part == 'net' else 'before'} costs)")
            cols.append(res.metrics[part])
    first = next(iter(results_by_strategy.values()))
    header.append("equal-weight buy & hold")
    cols.append(first.metrics["benchmark"])
    rows = [[k, *[c.get(k) for c in cols]] for k in keys]
    body = [note(f"Costs: {cost_bps:g} bps per unit of turnover. Positions decided at the close of t earn the close t → "
                 "t+1 return (no look-ahead); gross exposure capped at 1."), table(rows, header)]
    if equity is not None:
        body.append(figure(equity))
    return section("backtest", "Backtest with costs", body)


def breakdowns(ev: dict[str, Any], corr_fig: go.Figure | None) -> str:
    """Regime and ticker breakdowns of each task's headline metric, cross-task correlation."""
    b = ev.get("breakdowns", {})
    body = []
    reg = b.get("regime", {})
    if reg:
        regimes = ["Bear", "Sideways", "Bull", "Volatile"]
        rows = []
        for task, cells in reg.items():
            kind = _task_kind(ev["tasks"].get(task, {}))
            metric = HEADLINE[kind][0]
            rows.append([task, metric, *[raw(f"{fmt(cells[r][metric])} <span class='note'>(n={fmt(cells[r]['n'])})</span>")
                                        if r in cells else "—" for r in regimes]])
        body += [note("Regimes from the equal-weight market's trailing 20-day return and volatility (cut-offs fitted "
                      "on train dates)."), table(rows, ["task", "metric", *regimes], left=2)]
    tick = b.get("ticker", {})
    for task, per in list(tick.items())[:2]:
        df = pd.DataFrame(per).T
        if df.empty:
            continue
        col = "accuracy" if "accuracy" in df.columns else "directional_accuracy"
        df = df.sort_values(col, ascending=False)
        show = pd.concat([df.head(5), df.tail(5)]).drop_duplicates()
        body += [f"<h3>{esc(task)}: best and worst tickers by {esc(col)}</h3>",
                 table([[i, *r] for i, r in zip(show.index, show.to_numpy().tolist())], ["ticker", *show.columns])]
    if corr_fig is not None:
        body.append(figure(corr_fig))
    return section("breakdowns", "Breakdowns", body or [note("no breakdowns in the evaluation")])
