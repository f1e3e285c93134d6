"""Peer implementations the suite compares against.

The TGCN cell of PyTorch Geometric Temporal (Zhao et al. 2019, "T-GCN") is loaded from its
module file ``torch_geometric_temporal/nn/recurrent/temporalgcn.py``: importing the package
root needs the compiled ``torch_sparse`` extension, but that one file only imports
``torch`` and ``torch_geometric.nn.GCNConv``. The wheel is installed without dependencies
into ``.bench-peers/`` at the repository root (git-ignored). Only when that file cannot be
had (offline, package gone) does the suite fall back to :class:`RestatedTGCNCell`, the
published equations written out here with the same GCNConv layers, and it says so.
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
PEER_DIR = REPO_ROOT / ".bench-peers"
#: pinned so that the peer's code, and so the comparison, is reproducible.
PEER_REQUIREMENT = "torch-geometric-temporal==0.56.2"
PEER_FILE = PEER_DIR / "torch_geometric_temporal" / "nn" / "recurrent" / "temporalgcn.py"


def install_peer(timeout_s: int = 240) -> bool:
    """``pip install --no-deps --target .bench-peers torch-geometric-temporal``; True if the file is there."""
    if PEER_FILE.is_file():
        return True
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(PEER_DIR), PEER_REQUIREMENT]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("could not install %s: %s", PEER_REQUIREMENT, exc)
        return False
    if proc.returncode != 0:
        log.warning("pip could not install %s: %s", PEER_REQUIREMENT, proc.stderr.strip()[-300:])
    return PEER_FILE.is_file()


def load_peer_tgcn_class(install: bool = True) -> tuple[type[nn.Module], str]:
    """The peer ``TGCN`` cell class and a note saying which implementation it is."""
    if install:
        install_peer()
    if PEER_FILE.is_file():
        try:
            spec = importlib.util.spec_from_file_location("_finmt_peer_temporalgcn", PEER_FILE)
            if spec is None or spec.loader is None:
                raise ImportError(f"no import spec for {PEER_FILE}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.TGCN, f"peer: {PEER_REQUIREMENT} nn/recurrent/temporalgcn.py TGCN (module file)"
        except Exception as exc:  # an incompatible peer file: fall back, and say so
            log.warning("could not load the peer TGCN from %s (%s); using the restated equations", PEER_FILE, exc)
    return RestatedTGCNCell, "peer: TGCN equations restated in benchmarks/peers.py (module file unavailable)"


class RestatedTGCNCell(nn.Module):
    """The T-GCN gated recurrent cell, as published and as PyG Temporal implements it.

    ``Z = σ(W_z [GCN_z(X), H])``, ``R = σ(W_r [GCN_r(X), H])``,
    ``H~ = tanh(W_h [GCN_h(X), H ⊙ R])``, ``H' = Z ⊙ H + (1 - Z) ⊙ H~``.

    Shapes: ``X`` [N, F], ``edge_index`` [2, E], ``edge_weight`` [E], ``H`` [N, hidden] -> [N, hidden].
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        from torch_geometric.nn import GCNConv

        self.out_channels = out_channels
        self.conv_z = GCNConv(in_channels, out_channels)
        self.conv_r = GCNConv(in_channels, out_channels)
        self.conv_h = GCNConv(in_channels, out_channels)
        self.linear_z = nn.Linear(2 * out_channels, out_channels)
        self.linear_r = nn.Linear(2 * out_channels, out_channels)
        self.linear_h = nn.Linear(2 * out_channels, out_channels)

    def forward(
        self,
        X: torch.Tensor,
        edge_index: torch.Tensor,
        edge_weight: torch.Tensor | None = None,
        H: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if H is None:
            H = X.new_zeros(X.shape[0], self.out_channels)
        Z = torch.sigmoid(self.linear_z(torch.cat([self.conv_z(X, edge_index, edge_weight), H], dim=1)))
        R = torch.sigmoid(self.linear_r(torch.cat([self.conv_r(X, edge_index, edge_weight), H], dim=1)))
        H_tilde = torch.tanh(self.linear_h(torch.cat([self.conv_h(X, edge_index, edge_weight), H * R], dim=1)))
        return Z * H + (1 - Z) * H_tilde


class UnrolledPeer(nn.Module):
    """The peer cell(s) unrolled over the T steps of a window, stacked ``layers`` deep (layer
    l+1 reads layer l's hidden state at the same step), the way PyG Temporal's examples use it.

    Shapes: ``x`` [N, T, F] -> last hidden state of the top layer [N, hidden].
    """

    def __init__(self, cell_cls: type[nn.Module], in_channels: int, hidden: int, layers: int = 1) -> None:
        super().__init__()
        self.cells = nn.ModuleList(
            [cell_cls(in_channels if i == 0 else hidden, hidden) for i in range(layers)]
        )

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        hs: list[torch.Tensor | None] = [None] * len(self.cells)
        inp = x[:, 0, :]
        for t in range(x.shape[1]):
            inp = x[:, t, :]
            for i, cell in enumerate(self.cells):
                inp = cell(inp, edge_index, edge_weight, hs[i])
                hs[i] = inp
        return inp
