"""The TinyDB file format, read and written one document at a time.

A village file is a TinyDB database: `{"_default": {"1": {...}, "2": {...}}}` (TinyDB's default
table, documents keyed by their integer id as text). TinyDB reads and writes these files through
`tinystorage.VillageStorage` (full reads, bulk loads); this module is what that storage and the
single-save path share. A single save does not go through TinyDB's `Table`: TinyDB parses and
re-serialises the whole file on every change, which at ~700 KB per village costs ~10 ms to parse
and ~12 ms to encode, more than half of the 20 ms a save may take.

Instead a file is held as the JSON text of each document (`Documents`). A save encodes the one
changed document and joins the rest as they are; `parse` checks a whole file (it is the only way
a file we did not write ourselves gets in) and gives each document's text with its parsed value;
`Documents.encode` returns the file bytes and the byte span of every document, which the index
file keeps so that the next session can cut a file into documents without parsing it
(`Documents.from_layout`, only when the bytes still have the size and CRC-32 we wrote).
"""
from __future__ import annotations

import json
import re
import zlib
from itertools import chain
from operator import itemgetter, sub
from pathlib import Path
from typing import Any, Callable

from core.storage import atomic

TABLE = "_default"
_HEAD = b'{"_default":{'
_WS = re.compile(r"[ \t\n\r]*")
_scan = json.JSONDecoder().scan_once


class CorruptFile(Exception):
    """A data or index file exists but is not the JSON we wrote; the caller sets it aside."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def read_json(path: Path) -> Any:
    """Parse a file we wrote; `None` when it does not exist, `CorruptFile` when it does not parse."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return loads(path, raw)


def loads(path: Path, raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptFile(path, f"{type(exc).__name__}: {exc}") from None


def _is_doc_id(key: str) -> bool:
    """TinyDB turns every document key into an `int`; a file with any other key breaks its `Table`."""
    return key.isascii() and key.isdigit()


def _key_json(key: str) -> bytes:
    # Document keys are decimal ids; table names may be anything and are escaped properly.
    return f'"{key}"'.encode() if _is_doc_id(key) else json.dumps(key, ensure_ascii=False).encode("utf-8")


def record_id(doc: Any) -> str | None:
    """The carebook record id of a stored document (`None` for documents carebook did not write)."""
    rid = doc.get("id") if isinstance(doc, dict) else None
    return rid if isinstance(rid, str) else None


class Documents:
    """The documents of one TinyDB file as JSON text, in file order.

    `texts` maps TinyDB document id → the document's JSON; `ids` maps carebook record id →
    document id; `others` holds any other tables verbatim (carebook writes none).

    A file cut by its layout, or just written, is held as its bytes and layout instead
    (`_Spliced`): no text per document is cut until one is asked for (`text` cuts one,
    `texts` all), and a save splices the changed document into the bytes (`changed`) — a new
    visit appends to a 2.5 MB village without cutting 2,400 documents (~1 ms) or joining them
    again (~2 ms), and extends the CRC-32 instead of computing it afresh (~1 ms).
    """

    def __init__(self, texts: dict[str, bytes] | None = None, ids: dict[str, str] | None = None,
                 others: list[tuple[bytes, bytes]] | None = None, next_id: int = 1):
        self._texts: dict[str, bytes] | None = texts if texts is not None else {}
        self.ids = ids if ids is not None else {}
        self.others = others if others is not None else []
        self.next_id = next_id
        self._spliced: _Spliced | None = None

    @property
    def texts(self) -> dict[str, bytes]:
        if self._texts is None:
            assert self._spliced is not None
            self._texts = self._spliced.cut()
            self._spliced = None    # one copy of the village in memory, not two
        return self._texts

    @texts.setter
    def texts(self, value: dict[str, bytes]) -> None:
        self._texts, self._spliced = value, None

    def text(self, key: str) -> bytes:
        """One document's JSON, cut without cutting the others."""
        return self._spliced.text(key) if self._spliced is not None else self.texts[key]

    def size(self) -> int:
        return sum(self._spliced.lens) if self._spliced is not None else sum(map(len, self.texts.values()))

    @classmethod
    def _of_bytes(cls, spliced: "_Spliced", ids: dict[str, str] | None = None, next_id: int | None = None
                  ) -> "Documents":
        if next_id is None:
            next_id = max(map(int, spliced.keys), default=0) + 1
        docs = cls(None, spliced.ids() if ids is None else ids, [], next_id)
        docs._texts, docs._spliced = None, spliced
        return docs

    @property
    def is_spliced(self) -> bool:
        """Held as the file's bytes and layout (see the class docstring)."""
        return self._spliced is not None

    @classmethod
    def from_encoded(cls, raw: bytes, layout: dict[str, Any]) -> "Documents":
        """The documents `encode` just gave `raw` and `layout` for, held as those bytes."""
        return cls._of_bytes(_Spliced(raw, layout["keys"], layout["rids"], layout["lens"], layout["crc"]))

    @classmethod
    def from_tables(cls, tables: dict[str, Any]) -> "Documents":
        """Encode a whole database as TinyDB hands it to a storage (`{table: {id: document}}`).

        Every document is encoded again: TinyDB passes parsed values, and one changed in place
        (`Table.update`) cannot be told from one that was not, so no old text can be reused.
        Raises `TypeError`/`ValueError` for a value JSON cannot hold.
        """
        docs = cls()
        for key, value in tables.get(TABLE, {}).items():
            key = str(key)
            docs.texts[key] = atomic.dumps(value)
            rid = record_id(value)
            if rid is not None:
                docs.ids[rid] = key
        docs.others = [(_key_json(name), atomic.dumps(value)) for name, value in tables.items() if name != TABLE]
        docs.next_id = _next_id(docs.texts)
        return docs

    def tables(self) -> dict[str, Any]:
        """The database as TinyDB reads it from a storage: every document parsed afresh."""
        return {TABLE: {key: json.loads(blob) for key, blob in self.texts.items()}, **self.other_tables()}

    def other_tables(self) -> dict[str, Any]:
        """Tables other than `_default` (carebook writes none; kept for files others wrote)."""
        return {json.loads(name): json.loads(value) for name, value in self.others}

    def changed(self, upserts: dict[str, bytes], removes: set[str]) -> "Documents":
        """A new `Documents` with `upserts` (record id → JSON) put and `removes` dropped.

        The original is left as it was, so the in-memory copy changes only once the file
        holding the new one has reached the disk. A record keeps its TinyDB id when replaced;
        a new one gets TinyDB's next id (highest so far + 1).
        """
        # A few documents are spliced into the bytes; a batch (a bulk load) would copy the whole
        # file once per document, so it cuts the file into texts and joins them once instead.
        if (self._spliced is not None and len(upserts) <= _SPLICE_AT_MOST
                and not any(rid in self.ids and rid not in upserts for rid in removes)):
            docs = self
            for rid, blob in upserts.items():
                docs = docs._splice(rid, blob)
            return docs
        texts, ids, next_id = dict(self.texts), dict(self.ids), self.next_id
        for rid in removes:
            if rid not in upserts and rid in ids:
                del texts[ids.pop(rid)]
        for rid, blob in upserts.items():
            key = ids.get(rid)
            if key is None:
                key = ids[rid] = str(next_id)
                next_id += 1
            texts[key] = blob
        return Documents(texts, ids, self.others, next_id)

    def _splice(self, rid: str, blob: bytes) -> "Documents":
        assert self._spliced is not None
        key = self.ids.get(rid)
        if key is not None:
            return Documents._of_bytes(self._spliced.replaced(key, blob), self.ids, self.next_id)
        key = str(self.next_id)
        return Documents._of_bytes(self._spliced.appended(key, rid, blob), {**self.ids, rid: key}, self.next_id + 1)

    def encode(self) -> tuple[bytes, dict[str, Any] | None]:
        """The file bytes and their layout (`None` when the file has other tables).

        The layout is what `from_layout` needs to cut the same bytes into documents again:
        size, CRC-32, and every document's id, record id and length, in file order (three
        flat lists: the json module encodes and parses those in C, where a list per document
        cost ~2 ms a save for a village of visits). One `join` of cached key prefixes and the
        documents' text makes the bytes, with no Python step per document.
        """
        if self._spliced is not None:
            return self._spliced.raw, self._spliced.layout()
        texts = self.texts
        keys = list(texts)
        body = b"".join(chain.from_iterable(zip(map(_LEADS.__getitem__, keys), texts.values())))
        tail = b"}" + b"".join(b"," + name + b":" + value for name, value in self.others) + b"}"
        raw = b"".join((_HEAD, memoryview(body)[1:], tail))  # the first document has no comma before it
        if self.others:
            return raw, None
        owner = dict(zip(self.ids.values(), self.ids.keys()))
        return raw, {"size": len(raw), "crc": zlib.crc32(raw), "keys": keys,
                     "rids": list(map(owner.get, keys)), "lens": list(map(len, texts.values()))}

    @classmethod
    def from_layout(cls, raw: bytes, layout: Any) -> "Documents | None":
        """Cut `raw` by a layout `encode` gave; `None` unless `raw` is exactly those bytes.

        Size and CRC-32 must match: the file then is, byte for byte, a file we wrote from
        documents that were each checked, so it need not be parsed again. Anything else (a
        copied-in or restored file, a stale index, damage on disk) returns `None` and the
        caller parses the file in full. Layouts of index format 2 (`spans`: id, record id,
        start, end of each document) are read too.
        """
        try:
            # The CRC-32 of all but the closing `}}` is kept: an append extends it (`_Spliced`).
            crc_open = zlib.crc32(memoryview(raw)[:-2])
            if len(raw) != layout["size"] or zlib.crc32(raw[-2:], crc_open) != layout["crc"]:
                return None
            if "spans" in layout:   # index format 2: start and end of each document
                spans = layout["spans"]
                keys, rids = list(map(itemgetter(0), spans)), list(map(itemgetter(1), spans))
                lens = list(map(sub, map(itemgetter(3), spans), map(itemgetter(2), spans)))
            else:
                keys, rids, lens = layout["keys"], layout["rids"], layout["lens"]
            if not (len(keys) == len(rids) == len(lens) == len(set(keys))) or not all(type(n) is int for n in lens):
                return None
            spliced = _Spliced(raw, keys, rids, lens, layout["crc"], crc_open)
            if spliced.end() != len(raw) - 2 or not raw.endswith(b"}}"):
                return None
            # Ids in a layout we wrote are decimal (checked when they came in): no per-key test.
            return cls._of_bytes(spliced)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


_SPLICE_AT_MOST = 4


class _Spliced:
    """A village file as its bytes and layout (see `Documents`); never changed in place.

    Document `i` starts after `_HEAD` and every earlier document with its lead (`,"<id>":`,
    the first without the comma): sums over the lengths, done in C, not a walk in Python.
    """

    __slots__ = ("raw", "keys", "rids", "lens", "crc", "_at", "_leads", "_crc_open")

    def __init__(self, raw: bytes, keys: list[str], rids: list[str | None], lens: list[int], crc: int,
                 crc_open: int | None = None):
        self.raw, self.keys, self.rids, self.lens, self.crc = raw, keys, rids, lens, crc
        self._crc_open = crc_open      # CRC-32 of all but the closing `}}`, to extend on append
        self._at: dict[str, int] | None = None
        self._leads: list[int] | None = None

    def ids(self) -> dict[str, str]:
        ids = dict(zip(self.rids, self.keys))
        ids.pop(None, None)  # type: ignore[call-overload]
        return ids

    def _lead_lens(self) -> list[int]:
        if self._leads is None:
            self._leads = list(map(len, map(_LEADS.__getitem__, self.keys)))
        return self._leads

    def _start(self, i: int) -> int:
        return len(_HEAD) - 1 + sum(self.lens[:i]) + sum(self._lead_lens()[:i + 1])

    def end(self) -> int:
        return len(_HEAD) - 1 + sum(self.lens) + sum(self._lead_lens()) if self.keys else len(_HEAD)

    def _index(self, key: str) -> int:
        if self._at is None:
            self._at = dict(zip(self.keys, range(len(self.keys))))
        return self._at[key]

    def text(self, key: str) -> bytes:
        i = self._index(key)
        start = self._start(i)
        return self.raw[start:start + self.lens[i]]

    def cut(self) -> dict[str, bytes]:
        texts: dict[str, bytes] = {}
        raw, pos = self.raw, len(_HEAD) - 1
        for key, lead, n in zip(self.keys, self._lead_lens(), self.lens):
            pos += lead
            texts[key] = raw[pos:pos + n]
            pos += n
        return texts

    def layout(self) -> dict[str, Any]:
        return {"size": len(self.raw), "crc": self.crc, "keys": self.keys, "rids": self.rids, "lens": self.lens}

    def replaced(self, key: str, blob: bytes) -> "_Spliced":
        i = self._index(key)
        start = self._start(i)
        view = memoryview(self.raw)
        raw = b"".join((view[:start], blob, view[start + self.lens[i]:]))
        lens = list(self.lens)
        lens[i] = len(blob)
        nxt = _Spliced(raw, self.keys, self.rids, lens, zlib.crc32(raw))
        nxt._at, nxt._leads = self._at, self._leads
        return nxt

    def appended(self, key: str, rid: str, blob: bytes) -> "_Spliced":
        lead = _LEADS[key] if self.keys else _LEADS[key][1:]
        view = memoryview(self.raw)
        if self._crc_open is None:
            self._crc_open = zlib.crc32(view[:-2])
        crc_open = zlib.crc32(blob, zlib.crc32(lead, self._crc_open))
        raw = b"".join((view[:-2], lead, blob, b"}}"))
        return _Spliced(raw, self.keys + [key], self.rids + [rid], self.lens + [len(blob)],
                        zlib.crc32(b"}}", crc_open), crc_open)


class _Leads(dict):
    """`,"<id>":` for each document id, made once: encoding a village then needs no Python per
    document. Ids are small numbers, so the cache stays small; past a bound it stops growing."""

    def __missing__(self, key: str) -> bytes:
        lead = b"," + _key_json(key) + b":"
        if len(self) < 200_000:
            self[key] = lead
        return lead


_LEADS = _Leads()


def _next_id(texts: dict[str, bytes]) -> int:
    return max((int(k) for k in texts if _is_doc_id(k)), default=0) + 1


def parse(path: Path, raw: bytes) -> tuple[Documents, list[Any], dict[str, Any] | None]:
    """`parse_tables` with the documents of `_default` as a list, in file order."""
    docs, values, layout = parse_tables(path, raw)
    return docs, list(values.values()), layout


def parse_tables(path: Path, raw: bytes) -> tuple[Documents, dict[str, Any], dict[str, Any] | None]:
    """Check a whole TinyDB file: its documents as text and as values (by key), and its layout.

    Walks the file with the json module's own scanner so each document's exact text comes
    with its value (no second encoding); raises `CorruptFile` for anything that is not a
    TinyDB database, including keys TinyDB cannot turn into ids and documents that are not
    objects (TinyDB's `Table` fails on both). A file not in carebook's form (stock TinyDB
    writes spaces and \\u escapes) has its documents encoded again, so that the next save
    writes readable UTF-8 throughout, and no layout: its spans would not fit the bytes on disk.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptFile(path, f"UnicodeDecodeError: {exc}") from None
    try:
        docs, values = _walk(text)
    except (ValueError, StopIteration, IndexError) as exc:
        reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, StopIteration) else "JSON 不完整 (truncated)"
        raise CorruptFile(path, reason) from None
    again, layout = docs.encode()
    if again != raw:
        docs.texts = {key: atomic.dumps(value) for key, value in values.items()}
        layout = None
    return docs, values, layout


def check_tables(path: Path, content: Any) -> dict[str, Any]:
    """`content` (a whole file, already parsed) if TinyDB can read it; `CorruptFile` if not.

    The same rules as `parse_tables`, for readers that parse with one `json.loads` because
    they need values, not text.
    """
    if not isinstance(content, dict) or not all(isinstance(t, dict) for t in content.values()):
        raise CorruptFile(path, "不是 TinyDB 数据库格式 (not a TinyDB database)")
    for key, value in content.get(TABLE, {}).items():
        if not _is_doc_id(key) or not isinstance(value, dict):
            raise CorruptFile(path, _BAD_DOC)
    return content


_BAD_DOC = "文档编号不是数字或文档不是对象 (document id not a number, or document not an object)"


def _expect(text: str, i: int, char: str) -> int:
    i = _WS.match(text, i).end()
    if i >= len(text):
        raise ValueError("JSON 不完整 (truncated)")
    if text[i:i + 1] != char:
        raise ValueError(f"应为 {char!r}，位置 {i} (expected {char!r} at {i})")
    return i + 1


def _walk(text: str) -> tuple[Documents, dict[str, Any]]:
    docs = Documents()
    values: dict[str, Any] = {}

    def document(key: str, start: int) -> int:
        value, end = _scan(text, start)
        if not _is_doc_id(key) or not isinstance(value, dict):
            raise ValueError(_BAD_DOC)
        replaced = record_id(values.get(key))  # a repeated id: the later copy wins, as in json.loads
        if replaced is not None and docs.ids.get(replaced) == key:
            del docs.ids[replaced]
        docs.texts[key] = text[start:end].encode("utf-8")
        values[key] = value
        rid = record_id(value)
        if rid is not None:
            docs.ids[rid] = key
        return end

    def table(name: str, start: int) -> int:
        if name == TABLE:
            return _members(text, start, document)
        value, end = _scan(text, start)
        if not isinstance(value, dict):
            raise ValueError("不是 TinyDB 数据库格式 (not a TinyDB database)")
        docs.others.append((_key_json(name), text[start:end].encode("utf-8")))
        return end

    end = _members(text, 0, table)
    if _WS.match(text, end).end() != len(text):
        raise ValueError("文件末尾有多余内容 (extra data)")
    docs.next_id = _next_id(docs.texts)
    return docs, values


def _members(text: str, i: int, member: Callable[[str, int], int]) -> int:
    """Walk the JSON object at `i`; `member(key, start)` reads the value at `start` and returns
    where it ends. Returns the position after the closing brace."""
    i = _expect(text, i, "{")
    first = True
    while True:
        i = _WS.match(text, i).end()
        if text[i:i + 1] == "}":
            return i + 1
        if not first:
            i = _expect(text, i, ",")
            i = _WS.match(text, i).end()
        first = False
        key, i = _scan(text, i)
        if not isinstance(key, str):
            raise ValueError(f"键不是字符串，位置 {i} (key not a string)")
        i = _expect(text, i, ":")
        i = member(key, _WS.match(text, i).end())
