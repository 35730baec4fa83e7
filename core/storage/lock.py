"""The one-writer lock on a data folder.

TinyDB is not safe across processes: two programs saving into the same folder would each
rewrite files from their own stale copy. The writer holds an OS lock on `root/.lock` for as long
as the store is open (filelock: `fcntl.flock` on Linux, `msvcrt.locking` on Windows, released by
the OS when the process dies, so a crash never leaves the folder locked).
"""
from __future__ import annotations

from pathlib import Path

import filelock

from core.storage.errors import StoreLocked

LOCK_NAME = ".lock"


def acquire(root: Path) -> filelock.BaseFileLock:
    """Take the writer lock now or raise `StoreLocked`; never waits."""
    lock = filelock.FileLock(str(root / LOCK_NAME), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise StoreLocked(
            f"数据文件夹 {root} 正被另一个 carebook 程序使用，不能同时修改（store locked）。"
            "请先关闭另一个窗口，或以只读方式打开。"
        ) from None
    return lock
