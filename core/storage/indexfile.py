"""The small per-partition list files read at open.

Opening a ledger of 50,000 people must not parse 100 MB of records, so each partition has an
index file of list rows (name, town, risk ...). It is derived data: it records the size and
mtime of the data file it describes, and when they no longer match (a crash between the two
writes of a save, a restored or copied data file) it is rebuilt from the data file, whose
documents carry their rows.

It also keeps the data file's layout (size, CRC-32, id, record id and length of each document,
see `tinyfile.Documents.encode`): open drops it, and the first save to a village reads it again so
the save can cut the data file into documents instead of parsing it.

Format 3 puts one list row per line, after a first line holding everything else:

    {"format":3,"data":[size,mtime],"layout":{...},"check":<CRC-32 of the rows part>,"rows":{
    "<record id>":{row},
    "<record id>":{row}
    }}

It is still one JSON document (open parses it with one `json.loads`, as before), but a save no
longer needs it parsed or encoded whole: `IndexText` holds the rows part as bytes, finds a
record's line by searching for it, and splices the changed lines in (a village's visits:
~2,400 rows, 0.8 MB; parsing them took ~6 ms and encoding them ~9 ms of every save, over half
the 20 ms a save may take). The check guards that shortcut: rows whose bytes are not exactly
those written are not spliced, they go through `json.loads` and a full encode. Index files of
format 2 (one JSON line, the layout's spans absolute) are read as before, cut into lines
without parsing at a village's first save (`_cut_v2`), and written in format 3 from then on.
"""
from __future__ import annotations

import json
import os
import re
import zlib
from operator import countOf, itemgetter
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from core.storage import atomic
from core.storage.partfile import HIST_KEY, ROW_KEY, TIME_KEY
from core.storage.tinyfile import CorruptFile, loads, read_json, record_id

FORMAT = 3
READABLE = (2, 3)   # format 2: rows and layout on one line; read, rewritten in format 3 at the next save
_ROWS = b'"rows":{'
_LINE_ID = re.compile(rb'\n"([^"\\\n]*)":\{')   # the record id starting each row line
_END = b"\n}}"


def signature(data_path: Path) -> list[int] | None:
    """Size and mtime; the same for a temp file and the file it is renamed to.

    Not the inode: a ledger copied with its times kept (`cp -a`, a restored backup, another
    PC) must not look changed, or every village would be parsed again — and on each read-only
    open, since those never rewrite an index.
    """
    try:
        st = os.stat(data_path)
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns]


def load(index_path: Path, data_path: Path) -> dict[str, dict[str, Any]] | None:
    """Rows if the index is present and matches its data file; `None` means rebuild."""
    found = load_with_layout(index_path, data_path)
    return None if found is None else found[0]


def load_with_layout(index_path: Path, data_path: Path) -> tuple[dict[str, dict[str, Any]], Any] | None:
    """`load`, and the data file's layout from the same read (see `layout`)."""
    content = read_json(index_path)
    if content is None:
        return None
    if not (isinstance(content, dict) and isinstance(content.get("rows"), dict)):
        raise CorruptFile(index_path, "不是索引文件格式 (not an index file)")
    recorded = content.get("data")
    # Indexes written before the inode was dropped carry it third; size and mtime decide.
    if content.get("format") not in READABLE or not isinstance(recorded, list) or recorded[:2] != signature(data_path):
        return None
    return content["rows"], content.get("layout")


def layout(index_path: Path) -> Any:
    """The data file's layout as last written, or `None`.

    Not trusted by itself: `Documents.from_layout` uses it only when the data file's size and
    CRC-32 match it, so a damaged or stale index just means the file gets parsed.
    """
    try:
        raw = index_path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        if raw.startswith(b'{"format":3,') and raw.find(b"\n") > 0:   # the first line holds it
            content = json.loads(raw[:raw.index(b"\n")] + b"}}")
        elif raw.startswith(b'{"format":2,') and raw.rfind(_V2_TAIL) > 0:   # the end of the line
            return json.loads(raw[raw.rfind(_V2_TAIL) + len(_V2_TAIL):-1])
        else:
            content = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return content.get("layout") if isinstance(content, dict) else None


def rows_from_docs(docs: Iterable[Any], partition: str) -> dict[str, dict[str, Any]]:
    rows = {}
    for doc in docs:
        rid = record_id(doc)
        if rid is not None:
            row = doc.get(ROW_KEY)
            rows[rid] = row = {**(row if isinstance(row, dict) else {}), TIME_KEY: doc.get(TIME_KEY, 0), "_p": partition}
            if isinstance(doc.get(HIST_KEY), list):
                row[HIST_KEY] = doc[HIST_KEY]
    return rows


def encode(sig: list[int], rows: dict[str, dict[str, Any]], data_layout: dict[str, Any] | None) -> bytes:
    """The whole index file from parsed rows (a rebuild, or a village whose index text is not at hand)."""
    return IndexText.from_rows(rows).encode(sig, data_layout)


def save(index_path: Path, data_path: Path, rows: dict[str, dict[str, Any]],
         data_layout: dict[str, Any] | None) -> None:
    """Rewrite the index of an unchanged data file (after a rebuild)."""
    sig = signature(data_path)
    if sig is None:
        index_path.unlink(missing_ok=True)
        return
    atomic.write_bytes(index_path, encode(sig, rows, data_layout))


def row_line(rid: str, row: dict[str, Any]) -> bytes:
    """One row as its line in the file: the member `"<id>":{row}` (compact JSON has no newline)."""
    return atomic.dumps(rid) + b":" + atomic.dumps(row)


class IndexText:
    """The rows part of a format-3 index file as bytes, changed by splicing lines.

    `body` is empty or `\n<line>,\n<line>...\n`: every line starts right after a newline with
    its record id as JSON, so `\n"<id>":` finds it (a row's own text holds no raw newline).
    `spliced` gives the bytes a full encode of the changed rows would give (same order: a
    replaced row keeps its place, a new one goes last, as in a `dict`), tested byte for byte.
    """

    __slots__ = ("body",)

    def __init__(self, body: bytes = b""):
        self.body = body

    @classmethod
    def from_rows(cls, rows: dict[str, dict[str, Any]]) -> "IndexText":
        if not rows:
            return cls()
        return cls(b"\n" + b",\n".join(row_line(rid, row) for rid, row in rows.items()) + b"\n")

    def _find(self, rid: str) -> tuple[int, int]:
        """Start (at the newline before it) and end (at the newline after it) of `rid`'s line, or (-1, -1)."""
        start = self.body.find(b"\n" + atomic.dumps(rid) + b":")
        return (start, self.body.index(b"\n", start + 1)) if start >= 0 else (-1, -1)

    def __contains__(self, rid: object) -> bool:
        return isinstance(rid, str) and self._find(rid)[0] >= 0

    def row(self, rid: str) -> dict[str, Any] | None:
        """One row parsed from its line (a fresh dict), or `None`."""
        start, end = self._find(rid)
        if start < 0:
            return None
        line = self.body[start + 1:end].rstrip(b",")
        return json.loads(b"{" + line + b"}")[rid]

    def rows(self) -> dict[str, dict[str, Any]]:
        """Every row, parsed (one `json.loads`)."""
        return json.loads(b"{" + self.body + b"}")

    def spliced(self, lines: dict[str, bytes], removes: Iterable[str]) -> "IndexText":
        """A new text with `lines` (record id → `row_line`) put and `removes` dropped.

        A few lines are spliced one by one (each a search and a copy of the text); a batch (a
        bulk load into a village) would make that quadratic, so it is cut into lines once.
        """
        removes = list(removes)
        if len(lines) + len(removes) > 8:
            batch = self._batch(lines, removes)
            if batch is not None:
                return batch
        body = self.body
        for rid in removes:
            if rid in lines:
                continue
            start = body.find(b"\n" + atomic.dumps(rid) + b":")
            if start < 0:
                continue
            end = body.index(b"\n", start + 1)
            if body[end - 1:end] == b",":          # not the last line: drop it with its comma
                body = body[:start] + body[end:]
            elif start == 0:                        # the only line
                body = b""
            else:                                   # the last line: the one before loses its comma
                body = body[:start - 1] + b"\n"
        for rid, line in lines.items():
            start = body.find(b"\n" + atomic.dumps(rid) + b":")
            if start >= 0:
                end = body.index(b"\n", start + 1)
                comma = b"," if body[end - 1:end] == b"," else b""
                body = b"".join((body[:start + 1], line, comma, body[end:]))
            elif body:
                body = b"".join((body[:-1], b",\n", line, b"\n"))
            else:
                body = b"\n" + line + b"\n"
        return IndexText(body)

    def _batch(self, lines: dict[str, bytes], removes: list[str]) -> "IndexText | None":
        """`spliced` for many lines: the text as a dict of lines by id, changed, joined once.
        `None` when an id needs escaping in JSON (the lines could not be keyed by their bytes)."""
        keyed = self.body[1:-1].split(b",\n") if self.body else []
        ids = _LINE_ID.findall(self.body)
        if len(ids) != len(keyed):
            return None
        by_id = dict(zip(ids, keyed))
        for rid in [*removes, *lines]:
            if atomic.dumps(rid)[1:-1] != rid.encode("utf-8"):
                return None
        for rid in removes:
            if rid not in lines:
                by_id.pop(rid.encode("utf-8"), None)
        for rid, line in lines.items():
            by_id[rid.encode("utf-8")] = line
        return IndexText(b"\n" + b",\n".join(by_id.values()) + b"\n" if by_id else b"")

    def encode(self, sig: list[int], data_layout: dict[str, Any] | None) -> bytes:
        head = (b'{"format":3,"data":' + atomic.dumps(sig) + b',"layout":' + atomic.dumps(data_layout)
                + b',"check":' + str(zlib.crc32(self.body)).encode() + b"," + _ROWS)
        return b"".join((head, self.body, b"}}"))


def read_text(index_path: Path, data_path: Path) -> tuple[IndexText, Any] | None:
    """The rows part of an index file as text to splice, and the data layout.

    The rows are not parsed. A format-2 file (every index of a ledger from before format 3) is
    cut into lines by `_cut_v2`, so the first save to such a village does not parse and encode
    its rows either. `None` (the caller reads the file the usual way, `load_with_layout`, and
    the save encodes the rows whole) when the file is missing, does not match its data file, or
    its rows part is not exactly the bytes written (format 3: CRC-32; format 2: the record ids
    its data file's layout lists): then they are not trusted to splice.
    """
    try:
        raw = index_path.read_bytes()
    except FileNotFoundError:
        return None
    if raw.startswith(b'{"format":2,'):
        found = _cut_v2(raw)
        if found is None or found[0][:2] != signature(data_path):
            return None
        return found[1], found[2]
    nl = raw.find(b"\n")
    if nl >= 0:
        head, body = raw[:nl], raw[nl:-2]
        if not raw.endswith(_END):
            return None
    elif raw.endswith(_ROWS + b"}}"):
        head, body = raw[:-2], b""
    else:
        return None
    if not head.endswith(_ROWS):
        return None
    try:
        content = loads(index_path, head + b"}}")
    except CorruptFile:
        return None
    if not isinstance(content, dict) or content.get("format") != FORMAT or content.get("check") != zlib.crc32(body):
        return None
    recorded = content.get("data")
    if not isinstance(recorded, list) or recorded[:2] != signature(data_path):
        return None
    return IndexText(body), content.get("layout")


_V2_HEAD = re.compile(rb'\{"format":2,"data":(\[[0-9,]*\]),"rows":\{')
_V2_TAIL = b'},"layout":'


def _cut_v2(raw: bytes) -> tuple[list[Any], IndexText, Any] | None:
    """A format-2 file (one line of compact JSON: format, data, rows, layout) cut into row lines
    without parsing the rows (~2 ms against ~6 ms to parse and ~9 ms to encode them again):
    (data signature, text, layout), or `None`.

    In compact JSON `},"` (a bare quote after a closing brace; inside a string every quote is
    escaped) only follows an object value: the end of a row, or an object inside a row, where
    the cut gives a line that does not start with a record id. So the cut is trusted only when
    its lines start with exactly the record ids of the data file's layout, once each (that
    layout must in turn match the data file's CRC to be used); anything else — such a line, ids
    with escapes, rows the data file does not hold — returns `None`, and the caller parses the
    file as before.
    """
    head = _V2_HEAD.match(raw)
    close = raw.rfind(_V2_TAIL)
    if head is None or close < head.end() - 1 or not raw.endswith(b"}") or b"\n" in raw:
        return None
    try:
        sig = json.loads(head.group(1))
        data_layout = json.loads(raw[close + len(_V2_TAIL):-1])
        listed = list(map(itemgetter(1), data_layout["spans"]))   # record id of each document
        rids = set(listed)
        rids.discard(None)
        spans = len(listed) - countOf(listed, None)
        region = raw[head.end():close]
        body = b"\n" + region.replace(b'},"', b'},\n"') + b"\n" if region else b""
        ids = _LINE_ID.findall(body)
        lines = body.count(b"\n") - 1 if body else 0
        if not (len(ids) == lines == spans == len(rids) and set(map(bytes.decode, ids)) == rids):
            return None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeDecodeError):
        return None
    if region and not region.endswith(b"}"):
        return None
    return sig, IndexText(body), data_layout


class LazyRows(Mapping[str, dict]):
    """A partition's rows read for a save into a table not loaded whole, parsed only when asked.

    A new visit in a village needs to know whether its record is there (a search of the
    bytes), not its ~2,400 neighbours as dicts; iterating parses them all at once.
    """


    def __init__(self, text: IndexText, partition: str):
        self.text = text
        self.partition = partition
        self._rows: dict[str, dict[str, Any]] | None = None
        self._ids: set[str] | None = None

    def after(self, text: IndexText, saved: Iterable[str], removes: Iterable[str]) -> "LazyRows":
        """The partition after a save: `text` spliced; ids already found are carried over."""
        nxt = LazyRows(text, self.partition)
        if self._ids is not None:
            nxt._ids = (self._ids - set(removes)) | set(saved)
        return nxt

    def _all(self) -> dict[str, dict[str, Any]]:
        if self._rows is None:
            rows = self.text.rows()
            for row in rows.values():
                row["_p"] = self.partition
            self._rows = rows
        return self._rows

    def ids(self) -> set[str]:
        """Every record id, found in the bytes (~0.5 ms for 2,400 rows) without parsing a row."""
        if self._ids is None:
            found = {m.decode("utf-8") for m in _LINE_ID.findall(self.text.body)}
            self._ids = found if len(found) == len(self) else set(self._all())  # an id with escapes
        return self._ids

    def get(self, rid: object, default: Any = None) -> Any:  # type: ignore[override]
        if self._rows is not None:
            return self._rows.get(rid, default)  # type: ignore[arg-type]
        row = self.text.row(rid) if isinstance(rid, str) else None
        if row is None:
            return default
        row["_p"] = self.partition
        return row

    def __getitem__(self, rid: str) -> dict[str, Any]:
        row = self.get(rid)
        if row is None:
            raise KeyError(rid)
        return row

    def __contains__(self, rid: object) -> bool:
        return rid in (self._rows if self._rows is not None else self.ids())

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return self.text.body.count(b"\n") - 1 if self.text.body else 0
