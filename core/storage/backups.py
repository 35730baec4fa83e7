"""Rotating backups of the whole ledger by hard links, and restore staged and switched at once.

Corruption is handled by setting files aside, never by repairing them, so staff need a recent
good copy to go back to. At writer open, when the newest backup is older than N hours, the
ledger (`records/`, `history/`, the form snapshots in `forms/`, `drafts/`, `settings.json`)
goes into `backups/<YYYYMMDD-HHMMSS>/`. A file the previous backup holds unchanged (same size
and modification time) is hard-linked to that backup's copy, so a daily backup of a 700 MB
ledger copies only what changed since; links never point at live files, which history appends
change in place. The copy is made in a hidden `.partial-` folder renamed at the end; a
`.partial-` left by a killed backup is removed at the next writer open.

Restore copies the backup into a staging folder (with the live audit log and a line saying
who restored what), then switches with one atomic write of `.restore.json`: from then on the
restore happens, and the next writer open finishes it if the process died mid-way. What the
restore replaces moves to `quarantine/before-restore-<time>/`.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from core.storage import atomic, chain, lock, sealed
from core.storage.errors import StorageError

BACKUPS = "backups"
SUBJECTS = ("records", "history", "forms", "published-forms", "drafts", "settings.json", "journal.jsonl")
LEDGER = ("records", "history", "journal.jsonl")     # always replaced by a restore
NAME_FORMAT = "%Y%m%d-%H%M%S"
PARTIAL = ".partial-"
MARKER, STAGE = ".restore.json", ".restore-stage"


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


def _files(base: Path) -> Iterator[Path]:
    """Paths (relative to `base`) of the ledger's files, temp files left out."""
    for subject in SUBJECTS:
        top = base / subject
        if top.is_file():
            yield Path(subject)
        elif top.is_dir():
            for f in sorted(top.rglob("*")):
                if f.is_file() and not f.name.endswith(atomic.TMP_SUFFIX):
                    yield f.relative_to(base)


def _same(a: Path, b: Path) -> bool:
    try:
        sa, sb = a.stat(), b.stat()
    except FileNotFoundError:
        return False
    return (sa.st_size, sa.st_mtime_ns) == (sb.st_size, sb.st_mtime_ns)


# One backup at a time in this process: the one a writer's open starts beside its command
# (`Store`), and one asked for outright (a migration) while that is still running.
_ONE_AT_A_TIME = threading.RLock()


def make_backup(root: Path) -> Backup:
    with _ONE_AT_A_TIME:
        return _make_backup(Path(root))


def _make_backup(root: Path) -> Backup:
    folder = root / BACKUPS
    folder.mkdir(parents=True, exist_ok=True)
    previous = next(iter(list_backups(root)), None)
    now = datetime.now()
    name = base = now.strftime(NAME_FORMAT)
    n = 0
    while (folder / name).exists():
        n += 1
        name = f"{base}-{n:02d}"
    partial = folder / f"{PARTIAL}{name}"
    shutil.rmtree(partial, ignore_errors=True)
    for rel in _files(root):
        dest = partial / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        old = previous.path / rel if previous is not None else None
        if old is not None and _same(root / rel, old):
            try:
                os.link(old, dest)
                continue
            except OSError:          # no hard links here (FAT, some network folders): copy
                pass
        try:
            shutil.copy2(root / rel, dest)
        except FileNotFoundError:
            if (root / rel).exists():
                raise
            continue                 # set aside (quarantine) by a reader meanwhile: not in the ledger now
    partial.mkdir(parents=True, exist_ok=True)
    atomic.step("backup-copied")
    partial.rename(folder / name)
    atomic.fsync_dir(folder)
    atomic.step("backup-renamed")
    return Backup(name, folder / name, now)


def rotate(root: Path, every_hours: float = 24, keep: int = 7) -> Backup | None:
    """Back up when the newest backup is older than `every_hours`; keep the newest `keep`.

    Also removes what a killed backup left (`.partial-` folders): only a writer calls this."""
    with _ONE_AT_A_TIME:
        return _rotate(Path(root), every_hours, keep)


def due(root: Path, every_hours: float, existing: list[Backup] | None = None) -> bool:
    """Whether a backup is due: none yet, or the newest `every_hours` old."""
    existing = list_backups(root) if existing is None else existing
    return not existing or (datetime.now() - existing[0].created).total_seconds() >= every_hours * 3600


def _rotate(root: Path, every_hours: float, keep: int) -> Backup | None:
    folder = root / BACKUPS
    if folder.is_dir():
        for left in folder.glob(f"{PARTIAL}*"):
            shutil.rmtree(left, ignore_errors=True)
    if not any((root / sub).exists() for sub in LEDGER[:2]):
        return None
    existing = list_backups(root)
    made = None
    if due(root, every_hours, existing):
        made = _make_backup(root)
        existing.insert(0, made)
    for old in existing[max(keep, 1):]:
        shutil.rmtree(old.path, ignore_errors=True)
    return made


def find_good_copy(root: Path, rel: Path) -> Backup | None:
    """The newest backup holding a copy of `rel` that passes its check."""
    for backup in list_backups(root):
        try:
            if sealed.read(backup.path / rel) is not None:
                return backup
        except sealed.CorruptFile:
            continue
    return None


def restore_backup(root: Path, name: str, operator: str = "") -> Path:
    """Replace the ledger by backup `name`; returns where the replaced files went.

    Needs the writer lock (raises `StoreLocked` while carebook runs). Staged first, switched
    by one atomic write (see the module docstring), audited with `operator`.
    """
    root = Path(root)
    source = root / BACKUPS / name
    held = lock.acquire(root)
    try:
        if "/" in name or "\\" in name or name.startswith(".") or not source.is_dir():
            raise StorageError(f"找不到备份 {name}。可用备份：" +
                               ("、".join(b.name for b in list_backups(root)) or "无"))
        finish_restore(root)
        stage = root / STAGE
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir()
        for rel in _files(source):
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / rel, stage / rel)      # copied: history is appended in place
        (stage / "records").mkdir(exist_ok=True)
        (stage / "history").mkdir(exist_ok=True)
        (stage / "journal.jsonl").write_bytes(b"")
        audit = root / chain.AUDIT
        staged_audit = stage / chain.AUDIT
        staged_audit.unlink(missing_ok=True)
        if audit.exists():
            shutil.copy2(audit, staged_audit)
        chain.append(staged_audit, [{"at": datetime.now().astimezone().isoformat(timespec="seconds"),
                                     "operator": operator, "action": "恢复备份", "backup": name}])
        stamp = time.strftime(NAME_FORMAT)
        aside, n = Path("quarantine") / f"before-restore-{stamp}", 0
        while (root / aside).exists():
            n += 1
            aside = aside.with_name(f"before-restore-{stamp}-{n}")
        atomic.step("restore-staged")
        atomic.write_bytes(root / MARKER, atomic.dumps({"backup": name, "aside": aside.as_posix()}))
        atomic.step("restore-switched")
        finish_restore(root)
        return root / aside
    finally:
        held.release()


def finish_restore(root: Path) -> None:
    """Carry out a switched restore (`.restore.json`); nothing when there is none.

    Each step is a rename and can be repeated: a subject still in the staging folder is moved
    in (the live one aside first); one no longer there was moved already. Writers only.
    """
    root = Path(root)
    try:
        marker = json.loads((root / MARKER).read_bytes())
    except FileNotFoundError:
        shutil.rmtree(root / STAGE, ignore_errors=True)     # staged, never switched: not a restore
        return
    except ValueError:
        raise StorageError(f"恢复标记 {root / MARKER} 已损坏，请联系技术支持") from None
    stage, aside = root / STAGE, root / marker["aside"]
    for subject in SUBJECTS:
        staged = stage / subject
        if not staged.exists():
            continue
        if (root / subject).exists():
            aside.mkdir(parents=True, exist_ok=True)
            os.replace(root / subject, aside / subject)
        os.replace(staged, root / subject)
        atomic.step("restore-moved")
    atomic.fsync_dir(root)
    shutil.rmtree(stage, ignore_errors=True)
    (root / MARKER).unlink()
    atomic.fsync_dir(root)


def pending_restore(root: Path) -> str | None:
    """A message when a restore was switched but not finished (a reader cannot finish it)."""
    if (Path(root) / MARKER).exists():
        return "上次从备份恢复没有完成，以可写方式打开台账（任何修改命令）即可完成恢复"
    return None
