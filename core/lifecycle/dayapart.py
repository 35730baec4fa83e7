"""The day's recompute made by a forked copy of the program before the staff screen opens.

On the first open of a new day `refresh_for_today` recomputes ages and what follows from them,
with history: at 50,000 people it reads the villages of the day's birthdays (about three
seconds), and on the first day after an upgrade, or after a form change, every record (about
ten seconds, 245 MB). Made in the program that then shows the staff screen, that memory stays
with it all day — Python keeps what it freed for itself — and the screen then peaked at
315–325 MB, over the 250 MB the office PCs are sized for. So the run is made by a copy made
with `fork`, which opens the ledger itself, runs, closes it (every write in place, the marker
written) and ends; this process, its own engine closed meanwhile, opens the ledger again and
finds the day done: `refresh_for_today` then only registers the background keeping.

Where forking is not safe (`core.forksafe.fork_safe`: Windows, the server, another thread)
nothing changes. A copy that fails leaves the day not done: the run is then made here, as
before, and its error shown as before.
"""
from __future__ import annotations

import os
from typing import Callable


def recompute_apart(engine, reopen: Callable[[], object]):
    """`engine`, or — when the day's recompute is due and a copy may make it — a new engine
    from `reopen()` after a forked copy made it (`engine` is closed then)."""
    from core.forksafe import fork_safe
    from core.lifecycle.reevaluate import due_today, kept_elsewhere

    if not due_today(engine) or not fork_safe(engine.store):
        return engine
    engine.close()
    reader = _reader(engine)
    done, keeping = os.pipe()           # the keeper holds `keeping` open while it works
    pid = os.fork()
    if pid == 0:
        os.close(done)
        _recompute_in_copy(reopen, reader)      # never returns
    os.close(keeping)
    os.waitpid(pid, 0)
    try:
        fresh = reopen()
    except BaseException:
        os.close(done)
        raise
    kept_elsewhere(fresh, done)
    return fresh


def _reader(engine) -> Callable[[], object]:
    """How the keeper opens the ledger: read-only (no lock), beside the staff screen's writer."""
    return lambda: type(engine).open(engine.data_dir, engine.forms_dir, readonly=True)


def _recompute_in_copy(reopen: Callable[[], object], reader: Callable[[], object]) -> None:
    """The copy's whole life: open, recompute, close (its writes and the marker on disk); then,
    when it can, fork the keeper (`_keep_in_copy`) and end either way without running anything
    of the parent's. The parent goes on as soon as it ends; the keeper works meanwhile."""
    import threading

    code = 1
    try:
        from core.lifecycle.reevaluate import DAY_OPERATOR, due_today, run

        eng = reopen()
        try:
            if due_today(eng):
                run(eng, apply=True, operator=DAY_OPERATOR, keep=False)
            code = 0
        finally:
            eng.close()
        if threading.active_count() == 1 and os.fork() == 0:
            _keep_in_copy(reader)       # never returns
    except BaseException:               # noqa: BLE001 - the parent makes the run and shows why
        pass
    finally:
        os._exit(code)


def _keep_in_copy(reader: Callable[[], object]) -> None:
    """The keeper: every village's values the rows lack kept (`reevaluate.keep_all`) by a
    read-only engine of its own, on the other core, at a lower priority than the staff
    screen, silent (the terminal is the screen's); then it ends, which closes the pipe the
    screen's keeping thread waits on."""
    import gc

    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.nice(10)
        gc.disable()                    # what it parses is not cyclic; it ends soon
        from core.lifecycle.reevaluate import keep_all
        from core.storage.sealed import quick_parse

        eng = reader()
        try:
            with quick_parse():
                keep_all(eng)
        finally:
            eng.close()
    except BaseException:               # noqa: BLE001 - what is not kept is kept at the next open
        pass
    finally:
        os._exit(0)
