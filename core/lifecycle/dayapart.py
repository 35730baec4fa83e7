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
import pickle
from typing import Callable

from core.problems import Problem


def recompute_apart(engine, reopen: Callable[[], object]):
    """`engine`, or — when the day's recompute is due and a copy may make it — a new engine
    from `reopen()` after a forked copy made it (`engine` is closed then). What either store
    found wrong (a damaged village set aside by the copy's run, a journal copied aside at the
    first open) is kept in the new engine's `store.problems`, as one engine would have it."""
    from core.forksafe import alone, fork_call, fork_safe, reap
    from core.lifecycle.reevaluate import due_today, kept_elsewhere

    if not due_today(engine) or not fork_safe(engine.store):
        return engine
    found = list(engine.store.problems)
    engine.close()
    told, tell = os.pipe()              # the copy's storage problems, pickled
    pid = fork_call(lambda: _recompute_in_copy(reopen, told, tell)) if alone() else None
    os.close(tell)
    if pid is None:                     # a thread of the closed store still ending, or no fork
        os.close(told)                  # to spare: made here instead
        return _with(reopen(), found)
    found += _heard(told)
    # the keeper before the ledger is opened again (it holds no lock); not after a failed copy:
    # the run is then made here, and every village it writes would be kept again anyway
    keeper = _fork_keeper(engine) if reap(pid) else None
    fresh = _with(reopen(), found)
    if keeper is not None:
        kept_elsewhere(fresh, keeper)
    return fresh


def _with(engine, problems: list) -> object:
    """`engine` with `problems` told before its own (each once)."""
    held = engine.store.problems
    told = {str(q) for q in held}
    held[:0] = [p for p in problems if str(p) not in told]
    return engine


def _heard(fd: int) -> list:
    """What the copy wrote to the pipe `fd` (its problems), read to the end; [] if nothing."""
    with os.fdopen(fd, "rb") as fh:
        raw = fh.read()
    try:
        got = pickle.loads(raw)
    except Exception:  # noqa: BLE001 - a copy that died mid-write told nothing usable
        return []
    return [p for p in got if isinstance(p, Problem)] if isinstance(got, list) else []


def _recompute_in_copy(reopen: Callable[[], object], told: int, tell: int) -> None:
    """In the copy: open, recompute, close (its writes and the marker on disk), and tell its
    storage problems on `tell` whatever happened (raising, it tells the parent to run)."""
    from core.lifecycle.reevaluate import DAY_OPERATOR, due_today, run

    os.close(told)
    problems: list = []
    try:
        eng = reopen()
        try:
            if due_today(eng):
                run(eng, apply=True, operator=DAY_OPERATOR, keep=False)
        finally:
            problems = list(eng.store.problems)
            eng.close()
    finally:
        os.write(tell, pickle.dumps(problems, protocol=pickle.HIGHEST_PROTOCOL))   # Problems: plain fields


def _fork_keeper(engine) -> int | None:
    """Fork the keeper from this process while `engine` (closed) left it small — no list rows
    loaded, no lock held, one thread — and return its pid; None when it cannot be (the
    screen's own thread then keeps the values, as on a day already done)."""
    from core.forksafe import alone, fork_call

    if not alone(0):
        return None
    return fork_call(lambda: _keep_in_copy(lambda: type(engine).open(engine.data_dir, engine.forms_dir,
                                                                      readonly=True)))


def _keep_in_copy(reader: Callable[[], object]) -> None:
    """The keeper: every village's values the rows lack kept (`reevaluate.keep_all`) by a
    read-only engine of its own (no lock, beside the screen's writer), on the other core, at a
    lower priority than the staff screen, silent (the terminal is the screen's); then it ends,
    and the screen's keeping thread, which waits for it, finds every village current."""
    from core.lifecycle.keptahead import keep_with_quick_reads
    from core.lifecycle.reevaluate import keep_all

    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.nice(10)
    eng = reader()
    try:
        keep_with_quick_reads(lambda: keep_all(eng))
    finally:
        eng.close()
