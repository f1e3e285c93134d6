"""The dashboard's run-management actions: tags and notes, rename, trash and restore.

Thin wrappers over :mod:`finmt_core.training.run_admin` that refuse in viewer mode
(:func:`dashboard.state.require_editor`), like every other mutating control.
"""

from __future__ import annotations

from pathlib import Path

from dashboard import state
from finmt_core.training import run_admin
from finmt_core.training.runs import RunDir


def save_labels(run: RunDir, tags: str, notes: str) -> run_admin.RunMeta:
    """Set a run's tags (comma-separated) and notes."""
    state.require_editor("Editing tags and notes")
    return run_admin.write_meta(run, tags=tags, notes=notes)


def rename(root: Path, name: str, new_name: str) -> RunDir:
    """Rename a run; the view follows it (``?run=`` is the new name)."""
    state.require_editor("Renaming a run")
    renamed = run_admin.rename_run(root, name, new_name)
    if state.get_param("run") == name:
        state.set_param("run", renamed.name)
    return renamed


def trash(root: Path, name: str) -> run_admin.TrashEntry:
    """Move a run to the trash (undoable with :func:`restore`)."""
    state.require_editor("Deleting a run")
    entry = run_admin.trash_run(root, name)
    if state.get_param("run") == name:
        state.set_param("run", None)
    return entry


def restore(root: Path, entry: str) -> RunDir:
    """Bring a trashed run back under its name."""
    state.require_editor("Restoring a run")
    return run_admin.restore_run(root, entry)
