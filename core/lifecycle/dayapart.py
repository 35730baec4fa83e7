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


def recompute_apart(engine, reopen: Callable[[], object]):
    """`engine`, or — when the day's recompute is due and a copy may make it — a new engine
    from `reopen()` after a forked copy made it (`engine` is closed then). What either store
    found wrong (a damaged village set aside by the copy's run, a journal copied aside at the
    first open) is kept in the new engine's `store.problems`, as one engine would have it."""
    from core.forksafe import alone, fork_safe
    from core.lifecycle.reevaluate import due_today, kept_elsewhere

    if not due_today(engine) or not fork_safe(engine.store):
        return engine
    found = list(engine.store.problems)
    engine.close()
    if not alone():                     # a thread of the closed store still ending
        return _with(reopen(), found)
    told, tell = os.pipe()              # the copy's storage problems, pickled
    try:
        pid = os.fork()
    except OSError:                     # no memory or processes to spare: made here instead
        os.close(told)
        os.close(tell)
        return _with(reopen(), found)
    if pid == 0:
        os.close(told)
        _recompute_in_copy(reopen, tell)        # never returns
    os.close(tell)
    found += _heard(told)
    ran = _reap(pid)
    # before the ledger is opened again (it holds no lock); not after a failed copy: the run is
    # then made here, and every village it writes would be kept again anyway
    keeper = _fork_keeper(engine) if ran else None
    fresh = _with(reopen(), found)
    if keeper is not None:
        kept_elsewhere(fresh, keeper)
    return fresh


def _with(engine, problems: list) -> object:
    """`engine` with `problems` told before its own (each once)."""
    held = engine.store.problems
    held[:0] = [p for p in problems if str(p) not in {str(q) for q in held}]
    return engine


def _heard(fd: int) -> list:
    """What the copy wrote to the pipe `fd` (its problems), read to the end; [] if nothing."""
    chunks = []
    with os.fdopen(fd, "rb") as fh:
        chunks.append(fh.read())
    try:
        got = pickle.loads(b"".join(chunks))
    except Exception:  # noqa: BLE001 - a copy that died mid-write told nothing usable
        return []
    return got if isinstance(got, list) else []


def _reap(pid: int) -> bool:
    """Wait for the copy; whether it ended well. Ctrl+C meanwhile waits for it still (it holds
    the ledger's lock until it has closed it: a program started again at once would find the
    ledger in use)."""
    try:
        try:
            _, status = os.waitpid(pid, 0)
        except KeyboardInterrupt:
            os.waitpid(pid, 0)
            raise
    except ChildProcessError:
        return False
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _recompute_in_copy(reopen: Callable[[], object], tell: int) -> None:
    """The copy's whole life: open, recompute, close (its writes and the marker on disk), tell
    its storage problems on `tell`, and end without running anything of the parent's."""
    code = 1
    problems: list = []
    try:
        from core.lifecycle.reevaluate import DAY_OPERATOR, due_today, run

        eng = reopen()
        try:
            if due_today(eng):
                run(eng, apply=True, operator=DAY_OPERATOR, keep=False)
            code = 0
        finally:
            problems = list(eng.store.problems)
            eng.close()
    except BaseException:               # noqa: BLE001 - the parent makes the run and shows why
        pass
    finally:
        try:
            os.write(tell, _pickled(problems))
        except BaseException:           # noqa: BLE001 - the parent hears nothing, and goes on
            pass
        os._exit(code)


def _pickled(problems: list) -> bytes:
    try:
        return pickle.dumps(problems, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - told as text when a problem will not pickle
        return pickle.dumps([str(p) for p in problems])


def _fork_keeper(engine) -> int | None:
    """Fork the keeper from this process while `engine` (closed) left it small — no list rows
    loaded, no lock held, one thread — and return its pid; None when it cannot be (the
    screen's own thread then keeps the values, as on a day already done)."""
    from core.forksafe import alone

    if not alone(0):
        return None
    reader = lambda: type(engine).open(engine.data_dir, engine.forms_dir, readonly=True)  # noqa: E731
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:
        _keep_in_copy(reader)           # never returns
    return pid


def _keep_in_copy(reader: Callable[[], object]) -> None:
    """The keeper: every village's values the rows lack kept (`reevaluate.keep_all`) by a
    read-only engine of its own (no lock, beside the screen's writer), on the other core, at a
    lower priority than the staff screen, silent (the terminal is the screen's); then it ends,
    and the screen's keeping thread, which waits for it, finds every village current."""
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
