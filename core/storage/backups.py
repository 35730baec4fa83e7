"""Rotating whole-folder backups, taken when a writer opens the store.

Corruption is handled by setting files aside, never by repairing them, so staff need a recent
good copy to go back to: at writer open, when the newest backup is older than N hours, the
`records/` and `history/` folders are copied into `backups/<YYYYMMDD-HHMMSS>/` (via a hidden
partial folder renamed at the end, so a cut-off copy is never listed) and only the newest few
are kept.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.storage import atomic, lock
from core.storage.errors import StorageError
from core.storage.tinyfile import CorruptFile, read_json

BACKUPS = "backups"
COPIED = ("records", "history")
NAME_FORMAT = "%Y%m%d-%H%M%S"
_IGNORE = shutil.ignore_patterns(f".*{atomic.TMP_SUFFIX}")


@dataclass(frozen=True)
class Backup:
    name: str
    path: Path
    created: datetime


def _parse(name: str) -> datetime | None:
    try:
        return datetime.strptime(name[:15], NAME_FORMAT)
    except ValueError:
        return None


def list_backups(root: Path) -> list[Backup]:
    """Complete backups, newest first."""
    folder = Path(root) / BACKUPS
    if not folder.is_dir():
        return []
    found = [
        Backup(p.name, p, created)
        for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (created := _parse(p.name)) is not None
    ]
    return sorted(found, key=lambda b: b.name, reverse=True)


def make_backup(root: Path) -> Backup:
    root = Path(root)
    folder = root / BACKUPS
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now()
    name = base = now.strftime(NAME_FORMAT)
    n = 0
    while (folder / name).exists():
        n += 1
        name = f"{base}-{n:02d}"
    partial = folder / f".partial-{name}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    for sub in COPIED:
        if (root / sub).is_dir():
            shutil.copytree(root / sub, partial / sub, ignore=_IGNORE)
    partial.rename(folder / name)
    atomic.fsync_dir(folder)
    return Backup(name, folder / name, now)


def rotate(root: Path, every_hours: float = 24, keep: int = 7) -> Backup | None:
    """Back up when the newest backup is older than `every_hours`; keep the newest `keep`."""
    root = Path(root)
    if not any((root / sub).is_dir() for sub in COPIED):
        return None
    existing = list_backups(root)
    made = None
    if not existing or (datetime.now() - existing[0].created).total_seconds() >= every_hours * 3600:
        made = make_backup(root)
        existing.insert(0, made)
    for old in existing[max(keep, 1):]:
        shutil.rmtree(old.path, ignore_errors=True)
    return made


def find_good_copy(root: Path, rel: Path) -> Backup | None:
    """The newest backup holding a readable copy of `rel` (a path relative to the root)."""
    for backup in list_backups(root):
        try:
            if read_json(backup.path / rel) is not None:
                return backup
        except CorruptFile:
            continue
    return None


def restore_backup(root: Path, name: str) -> Path:
    """Replace `records/` and `history/` by those of backup `name`.

    Needs the writer lock (raises `StoreLocked` while carebook runs). The current folders are
    not deleted but moved to `quarantine/before-restore-<time>/`, which is returned.
    """
    root = Path(root)
    source = root / BACKUPS / name
    held = lock.acquire(root)
    try:
        if "/" in name or "\\" in name or name.startswith(".") or not source.is_dir():
            raise StorageError(f"找不到备份 {name}（backup not found）。可用备份：" +
                               ("、".join(b.name for b in list_backups(root)) or "无"))
        base = f"before-restore-{time.strftime(NAME_FORMAT)}"
        aside, n = root / "quarantine" / base, 0
        while aside.exists():
            n += 1
            aside = aside.with_name(f"{base}-{n}")
        aside.mkdir(parents=True)
        for sub in COPIED:
            if (root / sub).exists():
                (root / sub).rename(aside / sub)
            if (source / sub).is_dir():
                shutil.copytree(source / sub, root / sub)
        atomic.fsync_dir(root)
        return aside
    finally:
        held.release()
