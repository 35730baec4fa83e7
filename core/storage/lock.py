"""The one-writer lock on a data folder.

TinyDB is not safe across processes: two programs saving into the same folder would each
rewrite files from their own stale copy. The writer holds an OS lock on `root/.lock` for as long
as the store is open, released by the OS when the process dies (a crash never leaves the folder
locked). A lock on a file is only as good as the file: someone deleting `.lock` while carebook
runs would let a second program lock a new `.lock`. So on POSIX the writer also locks the data
folder itself (`flock` on the folder, which cannot be deleted while it holds files), and before
every write `check` confirms that the file it locked is still the one at `.lock` — if not, it
locks a fresh `.lock` again, or refuses to write when another program holds that one.
Windows cannot delete a file another program has open, so `filelock` alone does there.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from core.storage.errors import StorageError, StoreLocked

LOCK_NAME = ".lock"
_IS_WINDOWS = sys.platform == "win32"


def _locked_message(root: Path) -> str:
    return (f"数据文件夹 {root} 正被另一个 carebook 程序使用，不能同时修改。"
            "请先关闭另一个窗口，或以只读方式打开。")


class WriterLock:
    """Held from `acquire` to `release`; `check` before each write."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.path = self.root / LOCK_NAME
        self._fd: int | None = None
        self._dir_fd: int | None = None
        self._filelock = None

    def _flock(self, fd: int) -> None:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreLocked(_locked_message(self.root)) from None

    def _lock_file(self) -> None:
        self._fd = None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        self._flock(fd)
        self._fd = fd

    def acquire(self) -> "WriterLock":
        if _IS_WINDOWS:
            import filelock

            self._filelock = filelock.FileLock(str(self.path), timeout=0)
            try:
                self._filelock.acquire()
            except filelock.Timeout:
                raise StoreLocked(_locked_message(self.root)) from None
            return self
        self._dir_fd = None
        dir_fd = os.open(self.root, os.O_RDONLY)
        self._flock(dir_fd)
        self._dir_fd = dir_fd
        try:
            self._lock_file()
        except BaseException:
            self.release()
            raise
        return self

    def check(self) -> None:
        """Still the only writer: the locked file is the one at `.lock` (else lock it anew)."""
        if self._fd is None:
            if self._filelock is not None:
                return
            raise StorageError("写入锁已释放，不能保存")
        try:
            here = os.stat(self.path)
            mine = os.fstat(self._fd)
            if (here.st_ino, here.st_dev) == (mine.st_ino, mine.st_dev):
                return
        except FileNotFoundError:
            pass
        os.close(self._fd)
        try:
            self._lock_file()
        except StoreLocked:
            raise StorageError(f"锁文件 {self.path} 被删除后另一个程序占用了数据文件夹，"
                               "为防止两个程序同时修改，本窗口停止保存，请关闭后重新打开") from None

    def release(self) -> None:
        if self._filelock is not None:
            self._filelock.release()
            self._filelock = None
        for fd in (self._fd, self._dir_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._dir_fd = None


def acquire(root: Path) -> WriterLock:
    """Take the writer lock now or raise `StoreLocked`; never waits."""
    return WriterLock(root).acquire()
