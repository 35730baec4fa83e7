"""Append-only JSON-lines files whose every line carries the hash of the line before.

Why: history and audit are the ledger's proof of who changed what. An edited, removed or
inserted line breaks the chain at that point, and `carebook verify` names the first broken
link (file and line). The chain has no secret key: it tells damage and careless edits, not a
forger who rewrites every later line — backups and the copies sent to the town keep the rest.

A line is `{"_prev":"<16 hex>",...}`: the first 16 hex digits of the SHA-256 of the previous
line's bytes (`""` on the first line). Lines a file held before chains (no `_prev`) are taken
as they are; the chain starts at the first line that has one. The audit log (`history/audit.jsonl`, whole-ledger
actions: exports, restores) is such a file too; `append_audit` is the one way to write it.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from core.storage import atomic

PREV = "_prev"
AUDIT = Path("history") / "audit.jsonl"


def digest(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()[:16]


def link(entry: dict[str, Any], prev: str) -> bytes:
    """One line chained to the line whose digest is `prev`; raises TypeError/ValueError for
    values JSON cannot hold."""
    return atomic.dumps({PREV: prev, **entry})


def last_line(path: Path) -> bytes | None:
    """The last complete line of the file (`None` when there is none)."""
    try:
        with open(path, "rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            back = 4096
            while True:
                start = max(0, end - back)
                fh.seek(start)
                tail = fh.read(end - start)
                stop = tail.rfind(b"\n")
                if stop < 0:
                    return None
                begin = tail.rfind(b"\n", 0, stop)
                if begin >= 0 or start == 0:
                    return tail[begin + 1:stop]
                back *= 4
    except FileNotFoundError:
        return None


def head(path: Path) -> str:
    """The digest the next line appended to `path` must carry."""
    line = last_line(path)
    return digest(line) if line else ""


def read(path: Path) -> bytes:
    """The file's bytes; a missing file is empty."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def lines(path: Path, raw: bytes | None = None) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of every complete line; a cut-off last line is not yielded.
    `raw`: the file's bytes already read."""
    parts = (read(path) if raw is None else raw).split(b"\n")
    for no, text in enumerate(parts[:-1], 1):
        yield no, text


def entries(path: Path, needle: bytes = b"", raw: bytes | None = None) -> list[dict[str, Any]]:
    """Parsed lines containing `needle`, in file order; lines that do not parse are skipped.
    `raw`: the file's bytes already read (a history read checks the chain on the same bytes)."""
    out = []
    for _, text in lines(path, raw):
        if not text or needle not in text:
            continue
        try:
            doc = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def first_break(path: Path) -> tuple[int, str] | None:
    """(line number, reason) of the first line that does not parse or does not follow the
    line before it, or `None` when the whole chain holds."""
    return check(path)[0]


@dataclass(frozen=True)
class Checked:
    """How much of a file a chain check found whole: its first `size` bytes (their SHA-256
    `sha`), `lines` complete lines, the last one's digest `prev`, `chained` once a line
    carried `_prev`. Given back to `check`, only the lines after those are parsed again."""
    size: int
    sha: bytes
    lines: int
    prev: str
    chained: bool


def check(path: Path, known: Checked | None = None,
          raw: bytes | None = None) -> tuple[tuple[int, str] | None, Checked | None]:
    """`first_break`'s answer, and what to pass next time (`None` when the chain is broken).

    Why: a person's history (`Store.history`) checks the village's whole chain, one JSON
    parse and one hash per line; a file opened person after person was parsed whole each time.
    With `known`, the first `known.size` bytes are compared as one SHA-256 (any byte edited,
    removed or inserted there changes it, and the file is then checked from the start) and
    only the lines appended since are parsed. `raw`: the file's bytes already read."""
    if raw is None:
        raw = read(path)
    if not raw:
        return None, None
    end = raw.rfind(b"\n") + 1                   # the complete lines; a cut-off last one is not
    seen = hashlib.sha256()
    prev, chained, no, start = "", False, 0, 0
    if known is not None and known.size <= end:
        seen.update(memoryview(raw)[:known.size])
        if seen.digest() == known.sha:
            prev, chained, no, start = known.prev, known.chained, known.lines, known.size
        else:
            seen = hashlib.sha256()
    for text in raw[start:end].split(b"\n")[:-1]:
        no += 1
        try:
            doc = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return (no, "该行不是完整的 JSON"), None
        if not chained and isinstance(doc, dict) and PREV not in doc:
            prev = digest(text)        # written before chains: the chain starts after these lines
            continue
        chained = True
        if not isinstance(doc, dict) or doc.get(PREV) != prev:
            return (no, "与上一行的哈希链接不符，上一行或本行被改动、删除或插入"), None
        prev = digest(text)
    if end < len(raw):
        return (no + 1, "最后一行不完整"), None
    seen.update(memoryview(raw)[start:end])
    return None, Checked(end, seen.digest(), no, prev, chained)


def append(path: Path, entries_: list[dict[str, Any]]) -> None:
    """Append entries chained to the file's last line (writers only: a cut-off line is cut)."""
    if not entries_:
        return
    with open(path, "ab+") if path.exists() else _new(path) as fh:
        atomic.whole_lines(fh)
    prev = head(path)
    out = []
    for entry in entries_:
        line = link(entry, prev)
        out.append(line)
        prev = digest(line)
    atomic.append_lines(path, out)


def _new(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "ab+")


def append_audit(root: Path, entry: dict[str, Any]) -> None:
    """One whole-ledger action in the audit log, durable before this returns."""
    append(Path(root) / AUDIT, [entry])


def read_audit(root: Path) -> list[dict[str, Any]]:
    return [{k: v for k, v in doc.items() if k != PREV} for doc in entries(Path(root) / AUDIT)]
