"""The ledger's journal: one fsynced line per save, the unit of commit.

Why: a save changes several files — the village file of the record, the village it left, the
rollup row the engine keeps from it, and the history file. Renaming them one by one, a crash
between two renames left a stored change with no history, or a visit without its rollup row.
Here the save is one line appended to `journal.jsonl` and fsync'd: the record, its list row,
its history line, the rows derived from it and the number it took, together. Once that line is
on disk the save is acknowledged; the village files are rewritten from the journal later, in
batches and at close (`Store._checkpoint`), and the journal is emptied only after they all are.
After a crash the next writer replays the journal; readers overlay it on the files.

One journal for the folder, not one per village: a move and a rollup row touch two villages,
and one file keeps such a save one line and one fsync.

A line is compact JSON, `#`, and the CRC-32 of the JSON in 8 hex digits; a line whose CRC does
not match is damage, a last line without its newline is a save that never finished.

    {"t": save time, "ops": [[table, partition, id, document or null], ...],
     "h": [[table, partition, history line, (its time)], ...], "n": [[table, partition, {key: n}], ...]}

A bulk batch (demo, import: `Store.put_many`) is one line too, however many records it holds:
the records, their history lines and the rollup rows derived from them are durable together or
not at all, with one fsync for the batch. Such a line can be tens of megabytes, so it is encoded
and written a record at a time (`Journal.append_entry`), never held whole in memory.
"""
from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any, Iterator

from core.storage import atomic

NAME = "journal.jsonl"


def encode(entry: dict[str, Any]) -> bytes:
    body = atomic.dumps(entry)
    return body + b"#%08x" % zlib.crc32(body)


CHUNK_ITEMS = 256      # list elements encoded together (one call, one piece of ~300 KB for records)
WRITE_BYTES = 1 << 20  # pieces gathered before one write (a bulk batch was 700,000 small writes)


def chunks(entry: dict[str, Any]) -> Iterator[bytes]:
    """The JSON of `entry` in pieces, `CHUNK_ITEMS` list elements at a time (the same bytes as
    `atomic.dumps(entry)`), so a batch of 20,000 records is never one string."""
    yield b"{"
    for n, (key, value) in enumerate(entry.items()):
        yield (b"," if n else b"") + atomic.dumps(key) + b":"
        if isinstance(value, list):
            yield b"["
            for i in range(0, len(value), CHUNK_ITEMS):
                # a list's JSON is its elements' JSON between brackets, joined by commas
                yield (b"," if i else b"") + atomic.dumps(value[i:i + CHUNK_ITEMS])[1:-1]
            yield b"]"
        else:
            yield atomic.dumps(value)
    yield b"}"


def decode(line: bytes) -> dict[str, Any] | None:
    """The entry of one line, or `None` when the line is damaged."""
    body, _, crc = line.rpartition(b"#")
    try:
        if int(crc, 16) != zlib.crc32(body):
            return None
        entry = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("t"), int) else None


def read(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """(entries of whole lines in order, numbers of damaged lines)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], []
    entries, damaged = [], []
    for no, line in enumerate(raw.split(b"\n")[:-1], 1):
        entry = decode(line)
        if entry is None:
            damaged.append(no)
        else:
            entries.append(entry)
    return entries, damaged


class Journal:
    """The writer's open journal: `append` lines durably, `clear` after a checkpoint."""

    def __init__(self, path: Path):
        self.path = path
        new = not path.exists()
        self._fh = open(path, "ab+")
        atomic.whole_lines(self._fh)
        if new:
            atomic.fsync_dir(path.parent)
        self.size = self._fh.seek(0, os.SEEK_END)

    def append(self, lines: list[bytes]) -> None:
        data = b"".join(line + b"\n" for line in lines)
        self._fh.write(data)
        self._fh.flush()
        atomic.step("journal-written")
        os.fsync(self._fh.fileno())
        self.size += len(data)
        atomic.step("journal-synced")

    def append_entry(self, entry: dict[str, Any]) -> None:
        """Append one entry as one line, encoded piece by piece, and fsync once. A value that
        cannot be encoded (TypeError/ValueError) takes back what was written of the line."""
        crc = 0
        try:
            held: list[bytes] = []
            size = 0
            for piece in chunks(entry):
                held.append(piece)
                size += len(piece)
                if size >= WRITE_BYTES:
                    data = b"".join(held)
                    crc = zlib.crc32(data, crc)
                    self._fh.write(data)
                    held, size = [], 0
            data = b"".join(held)
            crc = zlib.crc32(data, crc)
            self._fh.write(data)
        except BaseException:
            self._fh.flush()
            self._fh.truncate(self.size)
            self._fh.seek(0, os.SEEK_END)
            raise
        tail = b"#%08x\n" % crc
        self._fh.write(tail)
        self._fh.flush()
        atomic.step("journal-written")
        os.fsync(self._fh.fileno())
        self.size = self._fh.tell()
        atomic.step("journal-synced")

    def clear(self) -> None:
        self._fh.truncate(0)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.size = 0
        atomic.step("journal-cleared")

    def close(self) -> None:
        self._fh.close()
