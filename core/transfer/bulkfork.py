"""A bulk save's records checked by a forked copy of the engine while the engine stores them.

The demo's work is two halves that need not wait for each other: checking each record
(`Engine.bulk_checked`: validation, id, time stamps — most of the CPU) and drawing the records
and storing them (list rows with their pinyin, journal, village files). The machines are
two-core, so a copy of the engine made by `fork` checks the records this process sends while
this process draws the next and stores those checked: `ForkedChecker` is a `checker` for
`Engine.bulk_save`.

What the copy does is what `bulk_save` does in one process — the same `bulk_checked`, record
by record in the same order, on the same engine state (forked from it), keeping its own list
rows of the forms it tracks so unique checks and references see every record before — so the
records stored are the ones the one-process save stores; only the work is in two places. This
process does the two steps the copy need not: each record's shape check (`refuse_bad_shape`,
before sending) and the list rows (after; the copy's rows have no search key, so it never
loads pypinyin's phrase table). Memory stays bounded: `AHEAD` batches of `BATCH` records in
the copy's hands at a time.

Only where it is safe: `fork` exists, the store is the folder store (a server connection
must not be shared by two processes), and no other thread is running (a lock another thread
holds at the fork would be held for ever in the copy). `usable` says so; otherwise the save
runs in one process as before. docs/bulk.md has the figures.
"""
from __future__ import annotations

import gc
import marshal
import multiprocessing
import os
import pickle
import queue
import threading
from typing import Any, Callable, Iterable, Iterator

from core.problems import CarebookError, Problem, ValidationFailed
from core.records.shape import refuse_bad_shape

BATCH = 500          # records per message: big enough that a message costs little, small enough to overlap
AHEAD = 2            # batches in the copy's hands at once: one checked while the next waits

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
    """Whether `eng` can be forked safely now (see the module docstring and
    `core.forksafe.fork_safe`); never for a read-only engine, whose copy could not save."""
    from core.forksafe import fork_safe

    return not eng.readonly and fork_safe(eng.store, wait)


class ForkedChecker:
    """`Engine.bulk_checked` run by a forked copy of `eng` (a context manager: the copy ends
    with it). Call it as `bulk_checked` is called; the answers come back in order, each
    record with None for its list row (made by the caller, with the pinyin the copy skips)."""

    def __init__(self, eng):
        ctx = multiprocessing.get_context("fork")
        their_in, self._to = ctx.Pipe(duplex=False)
        self._from, their_out = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_serve, args=(eng, their_in, their_out), name="carebook-bulk-check",
                                 daemon=True)
        self._proc.start()
        their_in.close()
        their_out.close()
        self._eng = eng
        self._outstanding = 0          # batches sent whose answers are not read yet

    def __enter__(self) -> "ForkedChecker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __call__(self, form_id: str, datas: Iterable[dict], operator: str = "",
                 on_problem: Callable[[int, list[Problem]], None] | None = None) -> Iterator[tuple[dict, dict | None]]:
        """Keep `AHEAD` batches in the copy's hands: draw the next batch while it checks, take
        the oldest answer, send the batch drawn, then hand out the answer's records (stored by
        the caller while the copy checks the ones it holds). Never more than `AHEAD` batches
        sent and unanswered, which the copy's queues hold: no pipe waits on a full other.

        Each record's shape is checked here as it is drawn (`refuse_bad_shape`, the first step
        of a save, is the copy's work done by this process, which has time to spare); a badly
        shaped record goes to `on_problem` with its place in `datas`, or — without one — is
        raised once every record before it has been handed out, as a save in one process
        raises when it reaches it."""
        self._drain()
        form = self._eng.form(form_id)
        # A number the copy gave would be counted in the copy's store, never in this one's.
        numbered = [f.id for f in form.top_fields() if f.autonumber]
        it = enumerate(datas)
        refused: list[ValidationFailed] = []

        def next_batch() -> bytes | None:
            chunk, places = [], []
            for i, data in it:
                try:
                    refuse_bad_shape(form, data)
                except ValidationFailed as exc:
                    if on_problem is None:
                        refused.append(exc)
                        break
                    on_problem(i, exc.problems)
                    continue
                if any(data.get(f) in (None, "") for f in numbered):
                    raise CarebookError("要自动编号的记录不能交给另一个进程检查：请在一个进程里保存（内部错误，请告诉开发者）")
                chunk.append(data)
                places.append(i)
                if len(chunk) >= BATCH:
                    break
            if not chunk:
                return None
            return _dumps((form_id, operator, places if on_problem is not None else None, chunk))

        pending = None if refused else next_batch()
        while pending is not None and self._outstanding < AHEAD:
            self._send(pending)
            pending = None if refused else next_batch()
        while self._outstanding:
            out, problems = self._receive()
            if pending is not None:
                self._send(pending)
                pending = None if refused else next_batch()    # drawn while the copy checks what it holds
            for i, found in problems:
                on_problem(i, found)       # type: ignore[misc]
            for rec in out:
                yield rec, None            # the caller makes the list row (the copy makes none)
        if refused:
            raise refused[0]

    def _drain(self) -> None:
        """Read the answers a call left unread (it stopped at an error): they are not the next call's."""
        while self._outstanding:
            try:
                self._receive()
            except Exception:              # noqa: BLE001 - the call that sent it has already failed
                pass

    def _send(self, blob: bytes) -> None:
        try:
            self._to.send_bytes(blob)
        except OSError:                    # the copy died after its last answer (e.g. out of memory)
            self._died()
        self._outstanding += 1

    def _receive(self) -> tuple[list, list]:
        try:
            blob = self._from.recv_bytes()
        except (EOFError, OSError):
            self._died()
        self._outstanding -= 1
        kind, payload, problems = _loads(blob)
        if kind == "error":
            raise pickle.loads(payload)
        return payload, pickle.loads(problems) if problems else []

    def _died(self) -> None:
        """The copy is gone: said as an error, never as a broken pipe (which the CLI takes for
        a reader that left, and would end with success on a part of the ledger)."""
        self._outstanding = 0
        raise CarebookError("检查记录的子进程意外退出，未保存的记录没有写入")

    def close(self) -> None:
        """Tell the copy to stop and wait for it. A copy still holding batches (the save
        stopped at an error) has nothing anyone will read: it is ended at once."""
        if self._outstanding == 0:
            try:
                self._to.send_bytes(b"")
            except OSError:
                pass
        else:
            self._proc.terminate()
        self._to.close()
        self._from.close()
        self._proc.join(timeout=30)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join()


def _serve(eng, inbox, outbox) -> None:
    """The copy: check each batch received with `bulk_checked`, answer with the records (or
    the error), until an empty message. A thread reads the batches as they come and another
    sends the answers, so the checking never waits on a pipe while there is work. Garbage is
    collected once a batch, not as the allocations go (see `Engine._bulk_session`)."""
    gc.disable()
    batches: queue.Queue[bytes] = queue.Queue(maxsize=AHEAD)
    answers: queue.Queue[bytes | None] = queue.Queue(maxsize=AHEAD)

    def read() -> None:
        while True:
            try:
                msg = inbox.recv_bytes()
            except (EOFError, OSError):          # the parent is gone
                msg = b""
            batches.put(msg)
            if not msg:
                return

    def send() -> None:
        while (reply := answers.get()) is not None:
            try:
                outbox.send_bytes(reply)
            except OSError:                      # the parent is gone: nobody reads what is left
                os._exit(0)

    threading.Thread(target=read, name="carebook-bulk-read", daemon=True).start()
    sender = threading.Thread(target=send, name="carebook-bulk-send", daemon=True)
    sender.start()
    while msg := batches.get():
        form_id, operator, places, datas = _loads(msg)
        del msg
        problems: list[tuple[int, list[Problem]]] = []
        on_problem = (lambda i, found: problems.append((places[i], found))) if places is not None else None
        out: list = []
        try:
            with eng._bulk_session():
                out = [rec for rec, _ in eng.bulk_checked(form_id, datas, operator, on_problem, rows=False,
                                                          shaped=True)]
            reply = _dumps(("ok", out, pickle.dumps(problems) if problems else b""))
        except Exception as exc:          # told to the parent, which raises it
            reply = _dumps(("error", _pickled(exc), b""))
        del datas, out
        answers.put(reply)
        del reply
        gc.collect(0)
    answers.put(None)
    sender.join()


def _pickled(exc: Exception) -> bytes:
    """`exc` as the parent will raise it: pickled and read back once here, since an exception
    whose `__init__` takes more than its message (`PluginFailed`) pickles but does not unpickle —
    the parent would show a TypeError's traceback instead of the Chinese message."""
    try:
        blob = pickle.dumps(exc)
        pickle.loads(blob)
        return blob
    except Exception:
        return pickle.dumps(CarebookError(str(exc)))
