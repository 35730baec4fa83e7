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
        from core.forksafe import reap

        pid, self.pid = self.pid, None
        return pid is not None and reap(pid)

    def stop(self) -> None:
        """End the copy now if it still runs (a file it was writing is left as a temp file,
        which the next writer sweeps; every kept file is whole), and reap it. (Not reaped
        yet, an ended copy's pid is still its own: the signal reaches nobody else.)"""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGTERM)
            self.wait()


def start(engine, form) -> Ahead | None:
    """Fork a copy that keeps `form`'s values of every village not current, or None when it
    is not safe or the system refuses the fork (this process then reads them, as before)."""
    from core.forksafe import fork_call, fork_safe

    if not fork_safe(engine.store, wait=0):
        return None
    pid = fork_call(lambda: _keep_in_copy(engine, form))
    return Ahead(pid) if pid is not None else None


def _keep_in_copy(engine, form) -> None:
    """In the copy: the form's values kept, reading only (nothing set aside, no index rewritten)."""
    from core.lifecycle.keptfiles import keep_current
    from core.lifecycle.keptvalues import kept_spec

    engine.store.readonly = True
    keep_with_quick_reads(lambda: keep_current(engine.store, form.id, kept_spec(engine, form)))


def keep_with_quick_reads(keep) -> None:
    """`keep()` in a copy that ends soon after: village files parsed with orjson (each let go
    after its village) and no garbage collection (nothing parsed is cyclic)."""
    from core.storage.sealed import quick_parse

    gc.disable()
    with quick_parse():
        keep()
