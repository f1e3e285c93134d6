"""finmt's performance suite.

Run it with ``finmt bench [--quick] [--json FILE] [--only NAME ...]`` (or ``make bench``).
Each benchmark module measures one figure of the performance targets on generated data
(synthetic market, fixed seeds) in a fresh child process, so that peak-memory figures are
the child's own and one benchmark's allocations never skew the next one.

Modules:
    harness: Result, repeated timing with warm-up, peak memory, machine info.
    child:   the ``python -m benchmarks.child`` entry point a benchmark case runs in.
    suite:   the registry of benchmarks and their sizes (tiny / quick / full), run_suite().
    report:  the printed table and the JSON file.
    bench_*: one module per figure.
"""
