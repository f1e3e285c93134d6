"""Start-up: CPU seconds of fresh ``finmt`` processes (what a user waits for before any work).

Each sample is the user + system CPU time of one fresh child process (``resource``'s
``RUSAGE_CHILDREN`` before and after), so load from other processes does not inflate it the
way it inflates wall time. Commands: ``finmt --help``, ``finmt runs`` (empty folder),
``finmt train --preset lightgbm --help``, and the imports a LightGBM training pays before it
reads any data (the training pipeline and the estimator class, by name through the registry);
the note of that figure says whether ``torch_geometric`` was among them (it must not be).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import Result

TARGET_CPU_S = 3.0

TRAIN_IMPORTS = (
    "import sys\n"
    "from finmt_core.training.pipeline import train_run\n"
    "from finmt_core.models.registry import get_estimator_class\n"
    "get_estimator_class('lightgbm')\n"
    "print('torch_geometric' in sys.modules)\n"
)


def _cpu_of(cmd: list[str], cwd: str) -> tuple[float, str]:
    """CPU seconds (user + system) of one child process running ``cmd``, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stdout


def run(workdir: str, repeats: int) -> list[Result]:
    cli = [sys.executable, "-m", "finmt_core.cli"]
    commands = {
        "help": [*cli, "--help"],
        "runs": [*cli, "runs", "--runs-dir", "runs"],
        "train_help": [*cli, "train", "--preset", "lightgbm", "--help"],
        "train_lightgbm_imports": [sys.executable, "-c", TRAIN_IMPORTS],
    }
    samples: dict[str, list[float]] = {k: [] for k in commands}
    pays_pyg = False
    with tempfile.TemporaryDirectory(dir=workdir) as cwd:
        Path(cwd, "runs").mkdir()
        for _ in range(repeats):  # interleaved: one of each per round
            for name, cmd in commands.items():
                cpu, out = _cpu_of(cmd, cwd)
                samples[name].append(cpu)
                if name == "train_lightgbm_imports":
                    pays_pyg = pays_pyg or out.strip().endswith("True")
    results = [
        Result(f"startup_cpu_{name}", "s", samples[name], TARGET_CPU_S, "lower",
               note=f"CPU s of a fresh process: {' '.join(cmd[2:]) if cmd[1] == '-m' else 'python -c <imports>'}")
        for name, cmd in commands.items() if name != "train_lightgbm_imports"
    ]
    results.append(Result(
        "startup_cpu_train_lightgbm_imports", "s", samples["train_lightgbm_imports"], None, "lower",
        note="CPU s of importing the training pipeline + the lightgbm estimator by name; torch_geometric "
             + ("IMPORTED (regression)" if pays_pyg else "not imported")))
    return results
