"""Environment check — what OpenMP's wait policy does to torch on this machine.

torch's CPU kernels run on a GNU OpenMP pool whose idle threads spin before they sleep. On a
quiet machine that makes back-to-back small ops fast; when more threads want the CPU than it
has cores (several torch processes on 2 cores), the spinning threads take the cores from the
ones doing work and torch slows down 15-100x (measured while other jobs shared this machine).
``OMP_WAIT_POLICY=PASSIVE`` avoids that collapse but costs up to ~2x on a quiet machine, so
finmt leaves the library default; see docs/PERFORMANCE.md. This measures one fixed workload (a ``TGCNBackbone`` forward + backward, N=500, T=20, F=30,
hidden 16, 2 layers, a random graph of 20,000 edges) in fresh processes with the variable
unset (libgomp's default: spin, then sleep) and with ``PASSIVE``, alternately, and reports
``time(default) / time(PASSIVE)`` per pair: about 1 on an idle machine (the cost of passive
waiting), far above 1 under load. The 1-minute load average is in the note.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from benchmarks.harness import Result

_WORKLOAD = r"""
import json, statistics, sys, time
import torch
from finmt_core.models.tgcn import TGCNBackbone
torch.manual_seed(0)
n, e = 500, 20000
ei = torch.randint(0, n, (2, e))
ew = torch.rand(e)
x = torch.randn(n, 20, 30)
m = TGCNBackbone(30, 16, 2)
def step():
    h, _ = m(x, ei, ew)
    (h ** 2).sum().backward()
    m.zero_grad(set_to_none=True)
step()
times = []
for _ in range(int(sys.argv[1])):
    t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
print(json.dumps(statistics.median(times)))
"""


def _measure(policy: str | None, calls: int) -> float:
    """Median seconds of the workload in a fresh process; ``policy=None``: variable unset (the
    library default, what torch does without finmt's setting)."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run([sys.executable, "-c", _WORKLOAD, str(calls)], capture_output=True, text=True,
                         env=env, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def run(workdir: str, rounds: int, calls: int) -> list[Result]:
    load_before = os.getloadavg()[0]
    default, passive = [], []
    for _ in range(rounds):  # alternate so that load changes hit both policies alike
        default.append(_measure(None, calls) * 1e3)
        passive.append(_measure("PASSIVE", calls) * 1e3)
    load = (load_before + os.getloadavg()[0]) / 2
    note = (f"TGCNBackbone fwd+bwd (N=500, T=20, F=30, 2 layers), median of {calls} calls per process; "
            f"1-min load average during the test ~{load:.1f} on {os.cpu_count()} cores")
    return [
        Result("omp_default_over_passive", "x", [a / p for a, p in zip(default, passive)], None, "higher", note=note),
        Result("omp_passive_fwd_bwd", "ms", passive, None, "lower", note="OMP_WAIT_POLICY=PASSIVE"),
        Result("omp_default_fwd_bwd", "ms", default, None, "lower",
               note="OMP_WAIT_POLICY unset (libgomp default, what finmt runs with)"),
    ]
