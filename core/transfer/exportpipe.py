"""A long report, or a long records export, written by a second process while this one reads.

Why: exporting a district roster is two jobs of about the same size — reading 50,000 records
and working out each row (this process, which holds the engine), and turning the rows into a
spreadsheet (pure formatting, e.g. xlsxwriter's XML). Run one after the other they took about
11 s on a two-core office PC; side by side each core does one and the export takes about as
long as the slower half. Rows cross over in batches through a pipe, which also bounds memory:
when the writer falls behind, the reader waits.

The writer is any module-level function `writer(report, path, mask, progress) -> int` (the
built-in XLSX roster writer is one; `write_report`), or `writer(head, rows, path, progress) ->
int` handed rows already finished and masked here (the records workbook; `write_rows`). The
second process is a plain `python -c` started with `subprocess` and fed pickled batches on its
stdin — not `multiprocessing`, whose "spawn" re-runs the caller's main script (a host script
without a `__main__` guard would export twice) and whose "fork" is unsafe beside the UI's
threads. Short reports, a writer that is not a module-level function, or
`CAREBOOK_EXPORT_PROCESS=off` keep everything in this process, with the same result. The child never sees the engine, the records or the operator: only finished
rows, masked by the same rule (`core.transfer.exporting.mask_value`) as in-process.
"""
from __future__ import annotations

import dataclasses
import functools
import gc
import importlib
import importlib.util
import itertools
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable

from core.transfer.exporting import mask_value
from core.reporting.reportmodel import Report

Writer = Callable[..., int]
BATCH = 500                    # rows per message: large enough that pickling is cheap per row
MIN_ROWS = 5000                # below this, starting a process costs more than it saves
_TAIL = ("total", "checks", "notes", "late", "due", "row_count")   # may be set while rows stream
_ROOT = str(Path(__file__).resolve().parents[2])                   # where `core` is importable from
_BOOT = f"import sys; sys.path.insert(0, {_ROOT!r}); from core.transfer.exportpipe import child_main; child_main()"


class ExportFailed(Exception):
    """The writing process failed; the text says why, in the writer's own words."""


def write_report(writer: Writer, report: Report, path: Path, *, full: bool,
                 progress: Callable[[int], None] | None = None, min_rows: int | None = None) -> int:
    """`writer(report, path, mask, progress)`, in a second process when the report is long."""
    where = _importable(writer)
    if where is None or not _long(report, min_rows):
        return writer(report, path, functools.partial(_masked, full), progress)
    head = ("report", where, dataclasses.replace(report, rows=()), full)
    return _in_child(head, report.rows, path, progress, lambda: {k: getattr(report, k) for k in _TAIL})


def write_rows(writer: Writer, head: Any, rows: Iterable[Any], path: Path, *,
               progress: Callable[[int], None] | None = None, min_rows: int | None = None,
               count: int | None = None) -> int:
    """`writer(head, rows, path, progress)`, in a second process when there are many rows.

    For a writer handed finished rows (masked, labelled: `plugins.xlsx_records` sends each
    record's row and its children's rows) and a `head` saying what the file holds (sheet names,
    headers); both must pickle. `count`: how many rows there will be, when the caller knows
    (a records export: the form's records); else `min_rows` of them are read first to see —
    fewer, and the writer runs here on those."""
    where = _importable(writer)
    if where is None:
        return writer(head, rows, path, progress)
    threshold = _threshold(min_rows)
    if count is not None:
        if count < threshold:
            return writer(head, rows, path, progress)
        return _in_child(("rows", where, head, None), rows, path, progress, dict)
    rows = iter(rows)
    ahead = list(itertools.islice(rows, threshold))
    if len(ahead) < threshold:
        return writer(head, itertools.chain(ahead, rows), path, progress)
    return _in_child(("rows", where, head, None), itertools.chain(ahead, rows), path, progress, dict)


def _in_child(start: tuple, rows: Iterable[Any], path: Path, progress: Callable[[int], None] | None,
              tail: Callable[[], dict[str, Any]]) -> int:
    """The writer named in `start` run by a second process, fed `rows` in batches, then `tail()`."""
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen([sys.executable, "-c", _BOOT], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=errors)
        try:
            _send(child.stdin, ("start", sys.path, start, str(path)))
            sent = _send_rows(child.stdin, rows, progress)
            _send(child.stdin, ("end", tail()))
            child.stdin.close()
            status, value = _answer(child, errors)
        except _PipeBroken:           # the writer stopped early: its error, or how it died
            status, value = _answer(child, errors)
        except BaseException:
            child.kill()              # reading failed here: the writer never closes its file
            raise
        finally:
            _reap(child)
    if status != "ok":
        raise ExportFailed(value)
    if value != sent:
        raise ExportFailed(f"写入 {value} 行，应为 {sent} 行")
    return value


def _importable(writer: Writer) -> tuple[str, str] | None:
    """(module, name) when the writer is a module-level function the child can import."""
    if os.environ.get("CAREBOOK_EXPORT_PROCESS", "").lower() in ("off", "0", "no"):
        return None
    if getattr(sys, "frozen", False) or not sys.executable:
        return None                   # a bundled program's executable is not a Python to run -c
    module, name = getattr(writer, "__module__", None), getattr(writer, "__qualname__", "")
    if not module or module == "__main__" or not name.isidentifier():
        return None
    try:            # a plugin loaded from a file under a made-up name cannot be imported by name
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    return (module, name) if found else None


def _threshold(min_rows: int | None) -> int:
    return min_rows if min_rows is not None else int(os.environ.get("CAREBOOK_EXPORT_PROCESS_ROWS") or MIN_ROWS)


def _long(report: Report, min_rows: int | None) -> bool:
    return not isinstance(report.rows, (list, tuple)) and (report.row_count or 0) >= _threshold(min_rows)


class _PipeBroken(Exception):
    """The writing process is no longer reading (it failed, or died)."""


def _send(stream: BinaryIO, message: tuple) -> None:
    try:
        pickle.dump(message, stream, protocol=pickle.HIGHEST_PROTOCOL)
    except (BrokenPipeError, ConnectionResetError, ValueError) as exc:   # ValueError: stream closed
        raise _PipeBroken() from exc


def _answer(child: subprocess.Popen, errors: BinaryIO | None = None) -> tuple[str, Any]:
    """What the writer said last: ("ok", rows written) or ("error", why)."""
    try:
        return pickle.load(child.stdout)
    except (EOFError, OSError, pickle.UnpicklingError):
        return "error", _why(child, errors)


def _send_rows(stream: BinaryIO, rows: Iterable[Any], progress: Callable[[int], None] | None) -> int:
    sent, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            _send(stream, ("rows", batch))
            sent += len(batch)
            batch = []
            if progress:
                progress(sent)
    if batch:
        _send(stream, ("rows", batch))
        sent += len(batch)
    return sent


def _why(child: subprocess.Popen, errors: BinaryIO | None) -> str:
    """The writer died without a word: its last line on stderr, if it left one."""
    lines: list[str] = []
    try:
        child.wait(timeout=10)
        if errors is not None:
            errors.seek(0)
            lines = errors.read().decode("utf-8", "replace").strip().splitlines()
    except (OSError, subprocess.TimeoutExpired):
        pass
    tail = f"（{lines[-1][:200]}）" if lines else ""
    return f"写文件的进程意外退出，文件没有写成{tail}；请重试，或设 CAREBOOK_EXPORT_PROCESS=off 后再导出"


def _reap(child: subprocess.Popen) -> None:
    for stream in (child.stdin, child.stdout):
        try:
            stream.close()
        except OSError:
            pass
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _masked(full: bool, kind: str | None, value: Any) -> Any:
    return value if full else mask_value(kind, value)


def child_main() -> None:
    """The writing process: a start message, batches of rows, the tail, then the count back.
    Its own stdout is kept for that answer and fd 1 points at nothing, so a stray print from a
    library cannot break the protocol (stderr goes to a file the parent reads).

    No garbage collection here: every batch unpickled is hundreds of new lists, which set off
    collections that walk them all again (a sixth of the writer's time at 50,000 people); the
    rows hold no cycles, so counting references frees each batch once it is written."""
    gc.disable()
    answer = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    source = sys.stdin.buffer
    try:
        _, path_list, (kind, (module, name), head, full), path = pickle.load(source)
        sys.path[:] = path_list          # the exporting process's, so its plugins import here too
        writer = getattr(importlib.import_module(module), name)

        def rows():
            while True:
                what, payload = pickle.load(source)
                if what == "rows":
                    yield from payload
                    continue
                for key, value in payload.items():
                    setattr(head, key, value)
                return

        if kind == "report":
            head.rows = rows()
            result = ("ok", writer(head, Path(path), functools.partial(_masked, full), None))
        else:
            result = ("ok", writer(head, rows(), Path(path), None))
    except EOFError:
        return                    # the exporting process gave up: write nothing, say nothing
    except Exception as exc:  # noqa: BLE001 - reported to the exporting process in words
        result = ("error", f"{type(exc).__name__}: {exc}")
    pickle.dump(result, answer)
    answer.flush()
