"""Defaults by search (issue 11 item 6): tune a preset on one planted market, check on another.

For one preset:

1. a study on market A (``finmt tune`` semantics: validation segment only, objective the
   negated monitored validation score), its first trial the preset's own defaults;
2. on market B (another seed and structure) a two-trial study: the defaults and A's best values,
   both scored on B's validation rows;
3. ``docs/tuning/<preset>.md``: search space, trials, best values, defaults vs best on A and B,
   importances (with the < 20 complete trials caveat), the optimisation history.

The test segments are never read. A preset's defaults should change only where A's best beats
the defaults on both markets (the verdict line says so; the change itself is made by hand in
``configs/<preset>.yaml`` with the numbers in a comment).

Usage::

    finmt data synth -o A.parquet --n-stocks 40 --n-days 1000 --seed 11 --signal-strength 1.5
    finmt data synth -o B.parquet --n-stocks 40 --n-days 1000 --seed 12 --signal-strength 0 --momentum 1.5
    python -m benchmarks.tune_defaults --preset lightgbm --trials 25 --a A.parquet --b B.parquet \\
        --runs /tmp/tune/runs --out docs/tuning
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger("tune_defaults")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _study_b(preset: str, market_b: Path, runs: Path, best_params: dict[str, Any]) -> dict[str, float | None]:
    """Score the defaults and A's best values on market B's validation rows (two trials)."""
    import optuna

    from finmt_core.config import load_preset
    from finmt_core.tuning import study as tuning

    base = load_preset(preset, {"data": {"source": str(market_b)}})
    url = tuning.default_storage(runs)
    name = f"B-{preset}"
    study = tuning._create_or_join(name, url, optuna.samplers.TPESampler(seed=0), optuna.pruners.NopPruner())
    todo = 0

    def checks_best(t: Any) -> bool:
        # a check of an earlier best (the study on A resumed and found another) does not count
        return bool(t.user_attrs.get("tuned_on") == "A" and t.params == best_params)

    if not any(checks_best(t) for t in study.trials):
        study.enqueue_trial(best_params, user_attrs={"tuned_on": "A"})
        todo += 1
    if tuning.defaults_trial(study) is None:
        todo += 1
    if todo:
        tuning.run_tuning(base, todo, runs, url, name, seed=0, pruner=optuna.pruners.NopPruner(),
                          enqueue_defaults=True)
    study = tuning.load_study(url, name)
    tuned = next((t for t in study.trials if checks_best(t)), None)
    dflt = tuning.defaults_trial(study)
    return {"defaults": dflt.value if dflt is not None else None,
            "tuned": tuned.value if tuned is not None else None}


def _history_table(trials: pd.DataFrame) -> str:
    rows = ["| trial | state | value | best so far | seconds |", "|---|---|---|---|---|"]
    best = math.inf
    for _, t in trials.sort_values("number").iterrows():
        value = t.get("value")
        done = t["state"] == "COMPLETE" and pd.notna(value)
        if done:
            best = min(best, float(value))
        secs = t["duration"].total_seconds() if pd.notna(t.get("duration")) else float("nan")
        rows.append(f"| {int(t['number'])} | {t['state']} | {_fmt(float(value)) if done else '-'} | "
                    f"{_fmt(best) if best < math.inf else '-'} | {secs:.0f} |")
    return "\n".join(rows)


def write_doc(preset: str, summary: dict[str, Any], b: dict[str, float | None], space_file: str,
              markets: tuple[str, str], out: Path, wall_s: float, load: str) -> Path:
    """``<out>/<preset>.md`` from the study summary and the market-B check."""
    trials = summary["trials"]
    complete = int((trials["state"] == "COMPLETE").sum())
    a_def, a_best = summary["defaults_value"], summary["best_value"]
    b_def, b_best = b["defaults"], b["tuned"]
    beats = all(v is not None for v in (a_def, a_best, b_def, b_best)) and a_best < a_def and b_best < b_def
    lines = [
        f"# Tuning {preset}",
        "",
        f"Objective (minimised): the negated monitored validation score (mean per-task skill over "
        f"chance; validation segment only, test never read). Market A: `{markets[0]}`; "
        f"market B: `{markets[1]}`.",
        f"Trials on A: {len(trials)} ({complete} complete; the rest pruned by the median pruner or "
        f"failed). Wall time of the whole study + check: {wall_s / 60:.1f} min, load average {load} "
        f"(2 CPUs shared).",
        "",
        f"Search space: `{os.path.relpath(space_file)}`",
        "",
        "```yaml",
        Path(space_file).read_text().strip(),
        "```",
        "",
        "## Defaults vs best (validation, lower is better)",
        "",
        "| | market A | market B |",
        "|---|---|---|",
        f"| preset defaults | {_fmt(a_def)} | {_fmt(b_def)} |",
        f"| best trial on A (values below) | {_fmt(a_best)} | {_fmt(b_best)} |",
        "",
        f"Verdict: the tuned values {'beat' if beats else 'do not beat'} the defaults on both markets"
        f"{' (candidate for the new defaults)' if beats else ' (defaults kept)'}.",
        "",
        "Best trial's values:",
        "",
        *[f"- `{k}`: {_fmt(v)}" for k, v in summary["best_params"].items()],
        "",
        "## Parameter importances (fANOVA, Optuna)",
        "",
    ]
    if summary["importance_note"]:
        lines += [f"> {summary['importance_note']}", ""]
    if summary["importances"]:
        lines += ["| parameter | importance |", "|---|---|"]
        lines += [f"| `{k}` | {v:.3f} |" for k, v in summary["importances"].items()]
    else:
        lines.append("(not available: fewer than two complete trials)")
    lines += ["", "## Optimisation history (market A)", "", _history_table(trials), ""]
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{preset}.md"
    from finmt_core.training.atomic import atomic_write_text

    atomic_write_text(path, "\n".join(lines))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", required=True)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--a", type=Path, required=True, help="market A panel (tuned on)")
    ap.add_argument("--b", type=Path, required=True, help="market B panel (checked on)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds for the study on A (then the B check)")
    ap.add_argument("--a-label", default="")
    ap.add_argument("--b-label", default="")
    ap.add_argument("--runs", type=Path, default=Path("runs/tune_defaults"))
    ap.add_argument("--out", type=Path, default=Path("docs/tuning"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import optuna

    from finmt_core.config import load_preset
    from finmt_core.tuning import study as tuning
    from finmt_core.tuning.space import load_search_space

    t0 = time.perf_counter()
    base = load_preset(args.preset, {"data": {"source": str(args.a)}})
    url = tuning.default_storage(args.runs)
    name = f"A-{args.preset}"
    existing = 0
    if name in tuning.list_studies(url) if (args.runs / "optuna.db").exists() else False:
        existing = len(tuning.load_study(url, name).trials)
    if args.trials > existing:
        tuning.run_tuning(base, args.trials - existing, args.runs, url, name, seed=0,
                          pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
                          enqueue_defaults=True, timeout_s=args.timeout)
    summary = tuning.study_summary(url, name)
    if summary["best_value"] is None or summary["best_value"] >= (summary["defaults_value"] or float("inf")):
        b: dict[str, float | None] = {"defaults": None, "tuned": None}  # defaults best on A: nothing to check
    else:
        b = _study_b(args.preset, args.b, args.runs, summary["best_params"])
    load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    space = load_search_space(args.preset, base).source
    path = write_doc(args.preset, summary, b, space, (args.a_label or str(args.a), args.b_label or str(args.b)),
                     args.out, time.perf_counter() - t0, load)
    log.info("wrote %s: A defaults %s best %s; B defaults %s tuned %s", path, summary["defaults_value"],
             summary["best_value"], b["defaults"], b["tuned"])


if __name__ == "__main__":
    main()
