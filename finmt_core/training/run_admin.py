"""Run management: tags, notes, rename, trash (undoable delete), and which run a page opens on.

A run's labels live in ``<run>/meta.json`` (``{"tags": [...], "notes": "..."}``, written
atomically), beside the files the trainer writes, so they travel with the run. Deleting moves
the run into ``<root>/.trash/<name>~<UTC stamp>/`` (the leading dot keeps it out of
:func:`~finmt_core.training.runs.list_runs`); :func:`restore_run` moves it back. Nothing here
touches a run that is training: rename and trash refuse a live run.

Trials of a tuning study are runs named ``<study>-t<NNNN>`` (see :mod:`finmt_core.tuning.study`);
:func:`default_run` never opens a page on one, nor on a run that did not finish.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from finmt_core.errors import RunError
from finmt_core.training.atomic import atomic_write_json
from finmt_core.training.run_state import one_line, validate_run_name
from finmt_core.training.runs import RunDir, open_run

log = logging.getLogger(__name__)

META_FILE = "meta.json"
TRASH = ".trash"
#: ``<study>-t0003``: the run name a tuning trial gets (finmt_core.tuning.study._objective).
TRIAL_NAME_RE = re.compile(r".+-t\d{4}")
TAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:+-]{0,31}")
MAX_NOTES = 5000
_STAMP = "%Y%m%d-%H%M%S"


@dataclass(frozen=True)
class RunMeta:
    """A run's labels: ``tags`` (sorted, unique) and free-text ``notes``."""

    tags: tuple[str, ...] = ()
    notes: str = ""


@dataclass(frozen=True)
class TrashEntry:
    """A run in the trash: its folder there, the name it had and when it was deleted (UTC)."""

    path: Path
    name: str
    deleted: datetime | None = field(default=None)


def _meta_path(run: RunDir) -> Path:
    return run.path / META_FILE


def read_meta(run: RunDir) -> RunMeta:
    """The run's tags and notes (empty when it has none, or when meta.json is damaged: the
    labels are a convenience, and a damaged file is logged and rewritten on the next save)."""
    try:
        data = json.loads(_meta_path(run).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return RunMeta()
    except (ValueError, OSError) as exc:
        log.warning("%s is damaged (%s); showing no tags or notes", _meta_path(run), one_line(exc))
        return RunMeta()
    if not isinstance(data, dict):
        return RunMeta()
    tags = data.get("tags") or []
    return RunMeta(tags=tuple(sorted({str(t) for t in tags if isinstance(t, str)})), notes=str(data.get("notes") or ""))


def clean_tags(tags: Iterable[str] | str) -> tuple[str, ...]:
    """Tags from a list or a comma-separated string: stripped, unique, sorted. RunError names
    the first tag that is not 1-32 letters, digits, spaces or ``._:+-``."""
    items = tags.split(",") if isinstance(tags, str) else list(tags)
    out = set()
    for tag in (str(t).strip() for t in items):
        if not tag:
            continue
        if not TAG_RE.fullmatch(tag):
            raise RunError(f"invalid tag {tag!r}: use 1-32 letters, digits, spaces or '._:+-', starting with a "
                           "letter or digit; separate tags with commas")
        out.add(tag)
    return tuple(sorted(out))


def write_meta(run: RunDir, *, tags: Iterable[str] | str | None = None, notes: str | None = None) -> RunMeta:
    """Set the run's tags and/or notes (``None`` keeps the current value); atomic write."""
    if not run.exists():
        raise RunError(f"no run at {run.path}; it may have been renamed or moved to the trash")
    meta = read_meta(run)
    new_tags = meta.tags if tags is None else clean_tags(tags)
    new_notes = meta.notes if notes is None else str(notes).strip()
    if len(new_notes) > MAX_NOTES:
        raise RunError(f"notes of run {run.name!r} are {len(new_notes)} characters long; keep them under {MAX_NOTES}")
    atomic_write_json(_meta_path(run), {"tags": list(new_tags), "notes": new_notes})
    return RunMeta(tags=new_tags, notes=new_notes)


def _refuse_live(run: RunDir, action: str) -> None:
    if run.effective_state() == "running" or run.training_holder() is not None:
        raise RunError(f"cannot {action} run {run.name!r} while it trains; cancel it on the Train page "
                       "(or wait for it to finish) first")


def rename_run(root: str | Path, name: str, new_name: str) -> RunDir:
    """Rename a run's folder (and the name in its status.json); returns the renamed run.

    RunError when the new name is invalid or taken, or the run is training. A tuning study
    keeps pointing at the old name of its trials, so trials are best left unrenamed.
    """
    run = open_run(root, name)
    new_name = validate_run_name(str(new_name).strip())
    if new_name == run.name:
        return run
    target = Path(root) / new_name
    if target.exists():
        raise RunError(f"a run named {new_name!r} already exists in {root}; choose another name")
    _refuse_live(run, "rename")
    run.path.rename(target)
    renamed = RunDir(target)
    if renamed.status_path.is_file():
        renamed.write_status(name=new_name)
    log.info("renamed run %s -> %s", name, new_name)
    return renamed


def trash_dir(root: str | Path) -> Path:
    return Path(root) / TRASH


def trash_run(root: str | Path, name: str) -> TrashEntry:
    """Move a run into ``<root>/.trash/`` (undo with :func:`restore_run`); RunError while it trains."""
    run = open_run(root, name)
    _refuse_live(run, "delete")
    stamp = datetime.now(timezone.utc)
    folder = trash_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{run.name}~{stamp.strftime(_STAMP)}"
    suffix = 2
    while target.exists():  # deleted twice within one second
        target = folder / f"{run.name}~{stamp.strftime(_STAMP)}-{suffix}"
        suffix += 1
    run.path.rename(target)
    log.info("moved run %s to %s", name, target)
    return TrashEntry(path=target, name=run.name, deleted=stamp)


def list_trash(root: str | Path) -> list[TrashEntry]:
    """The runs in the trash, most recently deleted first."""
    folder = trash_dir(root)
    if not folder.is_dir():
        return []
    entries = []
    for path in folder.iterdir():
        if not path.is_dir() or "~" not in path.name:
            continue
        name, _, when = path.name.rpartition("~")
        try:
            deleted = datetime.strptime(when[:15], _STAMP).replace(tzinfo=timezone.utc)
        except ValueError:
            deleted = None
        entries.append(TrashEntry(path=path, name=name, deleted=deleted))
    return sorted(entries, key=lambda e: (e.deleted or datetime.min.replace(tzinfo=timezone.utc), e.path.name),
                  reverse=True)


def restore_run(root: str | Path, entry: str | Path) -> RunDir:
    """Move a trashed run (its folder name under ``.trash`` or its path) back to its name;
    RunError when a run of that name exists again (rename that one first)."""
    path = Path(entry)
    path = path if path.is_absolute() else trash_dir(root) / path.name
    if path.parent.resolve() != trash_dir(root).resolve() or not path.is_dir():
        raise RunError(f"{path.name!r} is not in the trash of {root}; see list_trash() for what can be restored")
    name = validate_run_name(path.name.rpartition("~")[0])
    target = Path(root) / name
    if target.exists():
        raise RunError(f"cannot restore {name!r}: a run of that name exists again; rename it first")
    path.rename(target)
    log.info("restored run %s from the trash", name)
    return RunDir(target)


def is_trial(run: RunDir) -> bool:
    """Whether the run is a tuning trial (named ``<study>-t<NNNN>``, or marked ``trial`` in its status)."""
    return bool(TRIAL_NAME_RE.fullmatch(run.name)) or run.status().get("trial") is not None


def default_run(runs: Sequence[RunDir]) -> RunDir | None:
    """The run a page opens on: the most recent finished (state ``done``), non-trial run of
    ``runs`` (newest first, as ``list_runs`` orders them); else the first non-trial; else the first."""
    if not runs:
        return None
    plain = [r for r in runs if not is_trial(r)]
    finished = [r for r in plain if r.effective_state() == "done"]
    return (finished or plain or list(runs))[0]


def delete_run(root: str | Path, name: str, force: bool = False) -> None:
    """Delete a run directory. A live "running" run needs ``force=True`` (cancel it first)."""
    run = open_run(root, name)
    if not force and run.effective_state() == "running":
        raise RunError(f"run {name!r} is still running; cancel it first (or pass force=True)")
    shutil.rmtree(run.path)
