"""Prediction-service latency: ``POST /predict`` for one ticker through ``finmt serve``'s real
HTTP stack.

A finished run of the preset (trained for one epoch through ``finmt train`` on the synthetic
market) is loaded once by :class:`finmt_core.serve.ModelService` (as ``finmt serve`` does) and
served by uvicorn on a free 127.0.0.1 port in a background thread, with ``finmt serve``'s
default of one torch intra-op thread (``--torch-threads``). Each timed call is one
``POST /predict`` for one ticker on the latest date over a kept-alive HTTP connection: request
parsing and validation, row selection, the model's forward pass, signal gating and the JSON
answer — what a client of the service waits for, minus the network. The ticker cycles through
the universe. Per round of ``calls`` calls the p50 and p95 are taken; the figures are the
median (min, max) of those over ``rounds`` rounds. Target: p95 < 50 ms (issue 15).
A ``POST /whatif`` figure (one return shock) is reported beside it for information.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from typing import Any

from benchmarks.fixtures import finished_run
from benchmarks.harness import Result, percentile

TARGET_P95_MS = 50.0
START_TIMEOUT_S = 60.0


def expand(case: dict[str, Any]) -> list[dict[str, Any]]:
    """One case (one child process) per preset."""
    return [dict(case, presets=[p]) for p in case["presets"]]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed_post(conn: http.client.HTTPConnection, path: str, body: dict[str, Any]) -> float:
    """Milliseconds for one POST and its whole answer (raises on a non-200)."""
    payload = json.dumps(body)
    t0 = time.perf_counter()
    conn.request("POST", path, body=payload, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    elapsed = (time.perf_counter() - t0) * 1e3
    if resp.status != 200:
        raise RuntimeError(f"POST {path} answered {resp.status}: {data[:300]!r}")
    return elapsed


def run(workdir: str, n_stocks: int, n_days: int, rounds: int, calls: int, presets: list[str]) -> list[Result]:
    import torch
    import uvicorn

    from finmt_core.commands.serve import DEFAULT_TORCH_THREADS
    from finmt_core.serve import ModelService, create_app

    (preset,) = presets
    run_dir = finished_run(workdir, preset, n_stocks, n_days, evaluate=False)
    torch.set_num_threads(DEFAULT_TORCH_THREADS)  # as finmt serve does
    service = ModelService.load([run_dir])
    tickers = sorted(next(iter(service.runs.values())).tickers)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the benchmark's uvicorn server did not start")
        time.sleep(0.05)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for t in tickers[:3]:  # warm-up: first requests pay for lazy imports and allocator growth
            _timed_post(conn, "/predict", {"tickers": [t]})
        _timed_post(conn, "/whatif", {"ticker": tickers[0], "shocks": {"return": 0.01}})
        p50s, p95s, what_p95s, i = [], [], [], 0
        for _ in range(rounds):
            lat, what = [], []
            for _ in range(calls):
                lat.append(_timed_post(conn, "/predict", {"tickers": [tickers[i % len(tickers)]]}))
                i += 1
            for j in range(max(calls // 4, 2)):
                what.append(_timed_post(conn, "/whatif", {"ticker": tickers[(i + j) % len(tickers)],
                                                          "shocks": {"return": 0.02 * (j % 5 - 2)}}))
            p50s.append(percentile(lat, 50))
            p95s.append(percentile(lat, 95))
            what_p95s.append(percentile(what, 95))
    finally:
        conn.close()
        server.should_exit = True
        thread.join(timeout=30)
    note = (f"{preset} run, {n_stocks} stocks x {n_days} days; POST /predict for one ticker (latest date) through "
            f"uvicorn on 127.0.0.1, kept-alive connection, {DEFAULT_TORCH_THREADS} torch thread; {rounds} rounds x "
            f"{calls} calls")
    return [
        Result(f"serve_predict_p50_{preset}_{n_stocks}", "ms", p50s, None, "lower", note=note),
        Result(f"serve_predict_p95_{preset}_{n_stocks}", "ms", p95s, TARGET_P95_MS, "lower", note="p95 per round"),
        Result(f"serve_whatif_p95_{preset}_{n_stocks}", "ms", what_p95s, None, "lower",
               note="POST /whatif, one return shock on one ticker; p95 per round"),
    ]
