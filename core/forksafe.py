"""Whether this process may `fork` a copy of itself to share work across the two cores.

Two kinds of work fork a copy of the engine (`core.transfer.bulkfork`: the demo's checks;
`core.lifecycle.keptahead`: a dry run's reading of the village files). Both need the same
guarantees, so they are asked here once: `fork` exists (not on Windows), the store is the
folder store (a server connection must not be shared by two processes), and no other thread is
running — a lock another thread holds at the fork would stay held for ever in the copy.
"""
from __future__ import annotations

import os
import threading
import time


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
