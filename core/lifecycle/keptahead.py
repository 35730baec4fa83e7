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
thread — never in the TUI) and for a form whose change the rows may not decide alone. The copy
is forked before the list rows are loaded here and works out the spec itself: a village whose
kept file is current costs it a small file read, so a ledger with everything kept costs the
second core a fraction of a second and this process nothing. It never writes the ledger: its
store is made read-only (a damaged file is left where it is, for this process to find).
"""
from __future__ import annotations

import gc
import os
import signal


class Ahead:
    """The forked copy keeping a form's values; `wait` for it, or `stop` it."""

    def __init__(self, pid: int):
        self.pid: int | None = pid

    def wait(self) -> bool:
        """Wait until the copy is done; whether it ended well."""
        return self._reap(0)

    def stop(self) -> None:
        """End the copy now if it still runs (a file it was writing is left as a temp file,
        which the next writer sweeps; every kept file is whole)."""
        if self.pid is not None and not self._reap(os.WNOHANG, ended_only=True):
            os.kill(self.pid, signal.SIGTERM)
            self._reap(0)

    def _reap(self, flags: int, ended_only: bool = False) -> bool:
        """Reap the copy (`flags` as `os.waitpid`'s); whether it ended well. With
        `ended_only`, False also when it still runs (then it is not reaped)."""
        if self.pid is None:
            return not ended_only
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:       # reaped already
            pid, status = self.pid, 1
        if pid == 0:                    # still running (WNOHANG)
            return False
        self.pid = None
        return ended_only or (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0)


def start(engine, form) -> Ahead | None:
    """Fork a copy that keeps `form`'s values of every village not current, or None when it
    is not safe or the system refuses the fork (this process then reads them, as before)."""
    from core.forksafe import fork_safe

    if not fork_safe(engine.store, wait=0):
        return None
    try:
        pid = os.fork()
    except OSError:                     # no memory or processes to spare
        return None
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

        engine.store.readonly = True    # reads only: nothing set aside, no index rewritten
        gc.disable()                    # nothing it parses is cyclic; the copy ends soon
        with quick_parse():
            keep_current(engine.store, form.id, kept_spec(engine, form))
        code = 0
    except BaseException:               # noqa: BLE001 - the parent reads what is not kept
        pass
    finally:
        os._exit(code)
