"""Build the ``torchrun`` command that ``finmt train --nproc N`` runs for multi-process
(multi-GPU, or gloo on CPU) and multi-node training.

The trainer itself is unchanged under torchrun: ``distributed.setup`` initialises the
process group from the environment torchrun sets, rank 0 alone writes the run directory,
and the run name chosen by rank 0 is broadcast to the others.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from finmt_core.errors import ConfigError

#: options of ``finmt train`` that configure the launch and must not reach the ranks
LAUNCH_OPTIONS = ("--nproc", "--nnodes", "--node-rank", "--rdzv-endpoint")


def strip_launch_options(argv: Sequence[str]) -> list[str]:
    """``finmt train`` arguments without the launch options (``--opt V`` and ``--opt=V``)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in LAUNCH_OPTIONS:
            skip = True
            continue
        if any(arg.startswith(f"{opt}=") for opt in LAUNCH_OPTIONS):
            continue
        out.append(arg)
    return out


def torchrun_command(
    train_args: Sequence[str],
    nproc: int,
    nnodes: int = 1,
    node_rank: int | None = None,
    rdzv_endpoint: str | None = None,
    run_id: str = "finmt",
) -> list[str]:
    """The command line that runs ``finmt train <train_args>`` on ``nproc`` processes per node.

    One node: ``--standalone`` (a local rendezvous). Several nodes with ``node_rank``: torchrun's
    static rendezvous — ``rdzv_endpoint`` is ``host:port`` of node 0, which hosts the store, and
    global rank = ``node_rank * nproc + local rank``, so node 0 holds rank 0, the one process that
    writes the run directory (c10d ignores ``--node-rank`` and ranks nodes by arrival: the run
    could land on any node's disk). Several nodes without ``node_rank``: the elastic c10d
    rendezvous at ``rdzv_endpoint`` (any one node's ``host:port``, the same on every node).
    """
    if nproc < 1 or nnodes < 1:
        raise ConfigError("--nproc and --nnodes must be >= 1")
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", f"--nnodes={nnodes}"]
    if nnodes == 1 and rdzv_endpoint is None:
        cmd.append("--standalone")
    else:
        if not rdzv_endpoint or ":" not in rdzv_endpoint:
            raise ConfigError("multi-node training needs --rdzv-endpoint HOST:PORT (the same on every node)")
        if node_rank is not None:
            if node_rank >= nnodes:
                raise ConfigError(f"--node-rank {node_rank} is outside 0..{nnodes - 1} (--nnodes {nnodes})")
            cmd += ["--rdzv-backend=static", f"--rdzv-endpoint={rdzv_endpoint}", f"--node-rank={node_rank}"]
        else:
            cmd += ["--rdzv-backend=c10d", f"--rdzv-endpoint={rdzv_endpoint}", f"--rdzv-id={run_id}"]
    return [*cmd, "-m", "finmt_core.cli", "train", *train_args]
