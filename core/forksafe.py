"""Whether this process may `fork` a copy of itself to share work across the two cores, and
how such a copy is made and waited for.

Work forked from the engine: `core.transfer.bulkfork` (the demo's checks),
`core.lifecycle.keptahead` (a dry run's reading of the village files) and
`core.lifecycle.dayapart` (the day's recompute before the staff screen, and its keeper). They
need the same guarantees, so they are asked here once: `fork` exists (not on Windows), the
store is the folder store (a server connection must not be shared by two processes), and no
other thread is running — a lock another thread holds at the fork would stay held for ever in
the copy. The last two run one function in the copy and end it (`fork_call`, `reap`).
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable


def fork_safe(store, wait: float = 1.0) -> bool:
    """Whether `store`'s process can be forked now. Waits for the store's own threads (the day's
    backup, a bulk batch's writer) to end, and up to `wait` seconds for any other (a closed
    store's background writer ends within `COMPACT_IDLE`)."""
    from core.storage.store import Store

    if not hasattr(os, "fork") or not isinstance(store, Store):
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    store.settle()
    return alone(wait)


def alone(wait: float = 1.0) -> bool:
    """Whether this thread is the process's only one, waiting up to `wait` seconds for the
    others to end (a closed store's writer ends within `COMPACT_IDLE`)."""
    deadline = time.monotonic() + wait
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    return threading.active_count() == 1


def fork_call(work: Callable[[], object]) -> int | None:
    """Fork a copy that runs `work()` and ends — exit 0 when it returned, 1 when it raised
    (the caller then does the work itself) — without running anything of this process's: no
    atexit, no flush of buffers this process will flush, no close of its store. The copy's pid
    here; None when the system refuses the fork (no memory or processes to spare)."""
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid:
        return pid
    code = 1
    try:
        work()
        code = 0
    except BaseException:  # noqa: BLE001 - the copy's failure is its exit status, never a traceback
        pass
    finally:
        os._exit(code)


def reap(pid: int) -> bool:
    """Wait for the copy `pid` to end; whether `work()` returned. Ctrl+C meanwhile waits for it
    still (a copy may hold the ledger's lock until it has closed it), then goes on."""
    try:
        try:
            _, status = os.waitpid(pid, 0)
        except KeyboardInterrupt:
            os.waitpid(pid, 0)
            raise
    except ChildProcessError:           # reaped already
        return False
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
