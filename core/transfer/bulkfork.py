"""A bulk save's records checked by a forked copy of the engine while the engine stores them.

The demo's work is two halves that need not wait for each other: checking each record
(`Engine.bulk_checked`: validation, id, time stamps — most of the CPU) and drawing the
records and storing them (list rows, journal, village files). The machines are two-core, so
a copy of the engine made by `fork` checks one batch of records while this process draws the
next and stores the one before: `ForkedChecker` is a `checker` for `Engine.bulk_save`.

What the copy does is exactly what `bulk_save` does in one process — the same
`bulk_checked`, record by record in the same order, on the same engine state (forked from it),
keeping its own list rows of the forms it tracks so unique checks see every record before —
so the records stored are the ones the one-process save stores; only the work is in two
places. Memory stays bounded: one batch (`BATCH` records) in each direction at a time.

Only where it is safe: `fork` exists, the store is the folder store (a server connection
must not be shared by two processes), and no other thread is running (a lock another thread
holds at the fork would be held for ever in the copy). `usable` says so; otherwise the save
runs in one process as before.
"""
from __future__ import annotations

import gc
import marshal
import multiprocessing
import os
import pickle
import threading
import time
from itertools import islice
from typing import Any, Callable, Iterable, Iterator

from core.problems import CarebookError, Problem

BATCH = 500          # records per message: big enough that a message costs little, small enough to overlap

_MARSHAL, _PICKLE = b"m", b"p"


def _dumps(obj: Any) -> bytes:
    """marshal (records are JSON-shaped: dicts, lists, strings, numbers; some twice as quick
    as pickle both ways), pickle for anything marshal refuses."""
    try:
        return _MARSHAL + marshal.dumps(obj)
    except ValueError:
        return _PICKLE + pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _loads(blob: bytes) -> Any:
    return marshal.loads(memoryview(blob)[1:]) if blob[:1] == _MARSHAL else pickle.loads(memoryview(blob)[1:])


def usable(eng, wait: float = 1.0) -> bool:
    """Whether `eng` can be forked safely now (see the module docstring). Waits for the
    store's own threads (the day's backup, a bulk batch's writer) to end, and up to `wait`
    seconds for any other (a closed store's background writer ends within `COMPACT_IDLE`)."""
    from core.storage.store import Store

    if not hasattr(os, "fork") or not isinstance(eng.store, Store) or eng.readonly:
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    eng.store.settle()
    deadline = time.monotonic() + wait
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    return threading.active_count() == 1


class ForkedChecker:
    """`Engine.bulk_checked` run by a forked copy of `eng` (a context manager: the copy ends
    with it). Call it as `bulk_checked` is called; the answers come back in order."""

    def __init__(self, eng):
        ctx = multiprocessing.get_context("fork")
        their_in, self._to = ctx.Pipe(duplex=False)
        self._from, their_out = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_serve, args=(eng, their_in, their_out), name="carebook-bulk-check",
                                 daemon=True)
        self._proc.start()
        their_in.close()
        their_out.close()
        self._busy = False           # a batch sent whose answer is not read yet

    def __enter__(self) -> "ForkedChecker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __call__(self, form_id: str, datas: Iterable[dict], operator: str = "",
                 on_problem: Callable[[int, list[Problem]], None] | None = None) -> Iterator[tuple[dict, dict | None]]:
        """Send a batch, draw the next while the copy checks it, then take the answers and
        hand them out (stored by the caller while the copy checks the next). Strictly one
        batch in the copy's hands: no pipe is ever full in both directions."""
        it = iter(datas)
        offset = 0

        def next_batch() -> bytes | None:
            nonlocal offset
            chunk = list(islice(it, BATCH))
            if not chunk:
                return None
            msg = _dumps((form_id, operator, offset, on_problem is not None, chunk))
            offset += len(chunk)
            return msg

        if self._busy:                     # an earlier call left off: its answer is not ours
            self._receive()
        pending = next_batch()
        if pending is None:
            return
        self._send(pending)
        while True:
            pending = next_batch()         # drawn while the copy checks the batch sent
            out, problems = self._receive()
            if pending is not None:
                self._send(pending)
            for i, found in problems:
                on_problem(i, found)       # type: ignore[misc]
            yield from out
            if pending is None:
                return

    def _send(self, blob: bytes) -> None:
        self._to.send_bytes(blob)
        self._busy = True

    def _receive(self) -> tuple[list, list]:
        try:
            kind, payload, problems = _loads(self._from.recv_bytes())
        except (EOFError, OSError):
            raise CarebookError("检查记录的子进程意外退出，未保存的记录没有写入") from None
        self._busy = False
        if kind == "error":
            raise pickle.loads(payload)
        return payload, pickle.loads(problems) if problems else []

    def close(self) -> None:
        """Tell the copy to stop and wait for it; one that does not stop (it was sending an
        answer nobody will read) is ended."""
        try:
            if not self._busy:
                self._to.send_bytes(b"")
        except OSError:
            pass
        self._to.close()
        self._from.close()
        self._proc.join(timeout=30)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join()


def _serve(eng, inbox, outbox) -> None:
    """The copy: check each batch received with `bulk_checked`, answer with the records (or
    the error), until an empty message. Garbage is collected once a batch, not as the
    allocations go (see `Engine._bulk_session`)."""
    gc.disable()
    while True:
        msg = inbox.recv_bytes()
        if not msg:
            return
        form_id, operator, offset, want_problems, datas = _loads(msg)
        problems: list[tuple[int, list[Problem]]] = []
        on_problem = (lambda i, found: problems.append((offset + i, found))) if want_problems else None
        try:
            with eng._bulk_session():
                out = list(eng.bulk_checked(form_id, datas, operator, on_problem))
            reply = _dumps(("ok", out, pickle.dumps(problems) if problems else b""))
        except Exception as exc:          # told to the parent, which raises it
            reply = _dumps(("error", _pickled(exc), b""))
        del datas
        outbox.send_bytes(reply)
        del reply
        gc.collect(0)


def _pickled(exc: Exception) -> bytes:
    try:
        return pickle.dumps(exc)
    except Exception:
        return pickle.dumps(CarebookError(str(exc)))
