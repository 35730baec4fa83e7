"""A dry run's village reads done by a forked copy of the process while it decides from rows.

The first dry run after a threshold change on a ledger whose values are not kept yet (a copy
moved to another PC, a ledger restored, the cache deleted, the first run after an upgrade)
has two halves of about equal cost: deciding every person from the list rows, and reading
every village file for the values the rows lack (`core.lifecycle.keptfiles`) — 1.7 s each at
50,000 people. The second needs nothing from the first but the answer to "which villages",
and when none is kept the answer is "all of them". So a copy made by `fork` brings the kept
files up to date (`keptfiles.keep_current`, parsing with orjson: its parsed villages live no
longer than one village) on the second core while this process walks the rows; when the walk
needs the values it waits for the copy and finds every file current. The answer is the same:
the files are read as any kept file is, checked against the village files' keys, and a
village the copy could not keep (damaged, written meanwhile, the copy killed) is read here as
before. A walk that needs no kept values ends the copy.

Only where forking is safe (`core.forksafe.fork_safe`: not Windows, not the server, one
thread — never in the TUI), for a form whose change the rows may not decide alone, and when
at least `MIN_VILLAGES` are not current: forking costs a few milliseconds, a village ~12 ms.
"""
from __future__ import annotations

import gc
import os
import signal

MIN_VILLAGES = 8


class Ahead:
    """The forked copy keeping `table`'s values; `wait` for it, or `stop` it."""

    def __init__(self, pid: int):
        self.pid: int | None = pid

    def wait(self) -> bool:
        """Wait until the copy is done; whether it kept every village it read."""
        return self._reap(0)

    def stop(self) -> None:
        """End the copy now if it still runs (a file it was writing is left as a temp file,
        which the next writer sweeps; every kept file is whole)."""
        if self.pid is not None and os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            os.kill(self.pid, signal.SIGTERM)
        self._reap(0)

    def _reap(self, flags: int) -> bool:
        if self.pid is None:
            return False
        try:
            _, status = os.waitpid(self.pid, flags)
        except ChildProcessError:       # already reaped
            status = 1
        self.pid = None
        return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def start(engine, form) -> Ahead | None:
    """Fork a copy that keeps `form`'s values of every village not current, or None when it
    is not worth it (fewer than `MIN_VILLAGES` stale under the spec last kept) or not safe.
    Forked before this process loads the list rows: the copy works out the spec itself."""
    from core.forksafe import fork_safe
    from core.lifecycle.keptfiles import stale

    store = engine.store
    if not fork_safe(store, wait=0):
        return None
    found = stale(store, form.id)
    if found is not None and found < MIN_VILLAGES:
        return None
    pid = os.fork()
    if pid:
        return Ahead(pid)
    _keep_in_copy(engine, form)       # never returns


def _keep_in_copy(engine, form) -> None:
    """The copy's whole life: keep, then leave without running anything of the parent's (no
    atexit, no flush of buffers the parent will flush, no close of the parent's store)."""
    code = 1
    try:
        from core.lifecycle.keptfiles import keep_current
        from core.lifecycle.keptvalues import kept_spec
        from core.storage.sealed import quick_parse

        gc.disable()                    # nothing it parses is cyclic; the copy ends soon
        with quick_parse():
            keep_current(engine.store, form.id, kept_spec(engine, form))
        code = 0
    except BaseException:               # noqa: BLE001 - the parent reads what is not kept
        pass
    finally:
        os._exit(code)
