"""Features vs TA-Lib: finmt's vectorised panel kernels against TA-Lib called per ticker.

Both sides compute the same 27 features (:data:`benchmarks.talib_peer.TALIB_FEATURES`: every
finmt feature TA-Lib has the kernels for; values equal to 1e-6 where the definitions agree,
tested in ``tests/perf/test_talib_equality.py``) on the same synthetic panel. Ours is
``compute_features(dense, features=those 27)`` — the library call, float32 ``[D, N, F]``
output and mask included; the peer loops over tickers calling TA-Lib on contiguous float64
rows. A third function computes all of finmt's features. Calls alternate (peer, ours, all,
...) so load hits them alike; the figures are ratios per round:

- ``features_talib_speedup``: TA-Lib time / our time on the shared features (target >= 1);
- ``features_all_vs_talib``: our time for every feature / TA-Lib's time for the shared ones
  (target <= 2).
"""

from __future__ import annotations

from benchmarks.harness import Result, time_interleaved


def run(workdir: str, n_stocks: int, n_days: int, repeats: int) -> list[Result]:
    from benchmarks.fixtures import synthetic_parquet
    from benchmarks.talib_peer import TALIB_FEATURES, compute_panel
    from finmt_core.data.dense import to_dense
    from finmt_core.data.features import compute_features
    from finmt_core.data.features.registry import list_features
    from finmt_core.data.panel import load_panel

    try:
        import talib
    except ImportError:
        return [Result("features_talib_speedup", "x", [], 1.0, "higher",
                       error="TA-Lib is not installed (pip install 'finmt[dev]' or pip install TA-Lib)")]
    dense = to_dense(load_panel(synthetic_parquet(workdir, n_stocks, n_days)))
    shared = list(TALIB_FEATURES)
    columns = {k: dense.columns[k] for k in ("open", "high", "low", "close", "volume")}
    n_all = len(list_features())

    t = time_interleaved({
        "peer": lambda: compute_panel(columns, shared),
        "ours": lambda: compute_features(dense, shared),
        "all": lambda: compute_features(dense),
    }, repeats=repeats, warmup=1)
    size = f"{n_stocks} stocks x {n_days} days synthetic; TA-Lib {talib.__version__}"
    return [
        Result("features_talib_speedup", "x", [p / o for p, o in zip(t["peer"], t["ours"])], 1.0, "higher",
               note=f"TA-Lib per ticker time / finmt time, the {len(shared)} shared features; {size}"),
        Result("features_all_vs_talib", "x", [a / p for a, p in zip(t["all"], t["peer"])], 2.0, "lower",
               note=f"finmt, all {n_all} registered features / TA-Lib on the {len(shared)} shared ones"),
        Result("features_shared_finmt", "s", t["ours"], None, "lower",
               note=f"compute_features on the {len(shared)} shared features (float32 [D, N, F] + mask)"),
        Result("features_shared_talib", "s", t["peer"], None, "lower",
               note="TA-Lib, a loop over tickers, float64 rows"),
        Result("features_all_finmt", "s", t["all"], None, "lower", note=f"compute_features, all {n_all} features"),
    ]
