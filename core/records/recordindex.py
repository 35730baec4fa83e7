"""The in-memory list rows of one form: what the roster, search and unique checks read.

Rows are small (the form's `list_fields`, its unique fields, version and a search key) and
come from the storage's index files, so 50,000 people are searchable as you type without
parsing a single full record. The search key joins the name and its pinyin initials, so one
substring test per row answers a search by name; letters that can only be pinyin are also
matched syllable by syllable against the names' spellings (`core.records.pinyinsearch`), so
`wang` and `wanggl` find 王桂兰 as `wgl` does.

ID and phone numbers are masked wherever a list shows them, so a search must not reveal them
either: were they in the key, `1201`, `12010`, `120107` ... would spell out a masked number
one digit at a time. They are matched only as a whole number (`_whole`), or by their last four
digits after a name (`张桂兰 0032`, `zgl0032`), the four a masked number shows anyway.
"""
from __future__ import annotations

from array import array
from bisect import bisect_right
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
import gc
from itertools import accumulate
import re
import threading
from typing import Any, Iterable, Iterator

from core.formlang.formmodel import once_per_form
from core.records.pinyinsearch import PinyinSpellings, typed_pinyin

SEARCH_KEY = "_s"
JOIN_FROM = 2000        # keys searched by one joined string from this many on (`_search`)
VERSION_KEY = "_v"
UPDATED_KEY = "_u"


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection while a table's list rows are read in: 50,000 rows (or 50,000
    rollup rows, each with nested counts) are hundreds of thousands of new dicts, and every
    collection the allocations trigger walks all of them again (measured: rollup rows of the
    50,000-person demo read in 120 ms without, 210 ms with). Nothing read here has cycles."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@lru_cache(maxsize=65536)
def pinyin_initials(text: str) -> str:
    """张三丰 -> zsf; other characters pass through lower-cased."""
    if not text:
        return ""
    from pypinyin import Style, lazy_pinyin

    return "".join(p[:1] for p in lazy_pinyin(text, style=Style.FIRST_LETTER, errors="default")).lower()


@dataclass
class Page:
    rows: list[dict]
    total: int
    offset: int
    limit: int


def _sort_value(v: Any):
    # None sorts last; numbers before strings so mixed columns do not raise.
    if v is None or v == "":
        return (2, "")
    if isinstance(v, (int, float)):
        return (0, v)
    return (1, str(v))


_WHOLE = re.compile(r"\d{17}[\dX]|\d{15}|1[3-9]\d{9}|(?:022)?[2-9]\d{7}")
_NAME_LAST4 = re.compile(r"(\D*[^\d\s])[\s\-]*(\d{3}[\dX])")


def _name_key(key: str) -> str:
    """The name part of a search key. Index files written before numbers left the key hold
    `name\x1fpinyin\x1fID\x1fphone`; what follows the pinyin is never searched."""
    if key.count("\x1f") <= 1:
        return key
    name, _, rest = key.partition("\x1f")
    return name + "\x1f" + rest.partition("\x1f")[0]


class RecordIndex:
    def __init__(self, rows: dict[str, dict], private: tuple[str, ...] = ()):
        """`private`: the row keys holding ID or phone numbers (see `_number_hits`)."""
        self.rows = rows
        self.private = tuple(private)
        self._orders: dict[tuple[str, bool], list[str]] = {}
        self._lookups: dict[str, dict[Any, set[str]]] = {}   # field -> value -> ids (unique checks)
        self._filter_cache: dict[tuple, tuple] = {}
        self._last_text: tuple | None = None
        self._joined: dict[int, tuple] = {}     # id(keys) -> (keys, joined keys, row starts)
        self._spellings: tuple | None = None    # (keys, PinyinSpellings) of the last pinyin search
        self._spelling_job: tuple | None = None  # (keys, thread) making them ahead (prepare_search)
        self._last_pinyin: tuple | None = None  # (keys, letters, positions) of the last pinyin search

    @staticmethod
    def row_for(form, record: dict, extra: Iterable[str] = (), search: bool = True) -> dict:
        """The list row of a record: `list_fields`, unique fields and `extra` (the fields reports
        read, `core.reporting.rowfields`). Lists (multi choices) are kept for `extra` fields
        only; repeat groups never. `search=False`: without the search key (its pinyin), for a
        copy that only checks records (`core.transfer.bulkfork`) and never searches."""
        data = record["data"]
        keys = RecordIndex._row_keys(form)
        row = {k: data.get(k) for k in keys if not isinstance(data.get(k), (list, dict))}
        for k in extra:
            if k not in row:
                v = data.get(k)
                if not isinstance(v, dict) and not (isinstance(v, list) and any(isinstance(i, dict) for i in v)):
                    row[k] = v
        row[VERSION_KEY] = record["version"]
        row[UPDATED_KEY] = record["updated"]
        if search:
            title = str(data.get(getattr(form, "title_field", None) or "name") or "")
            row[SEARCH_KEY] = "\x1f".join([title, pinyin_initials(title)]).lower()
        return row

    @staticmethod
    def _row_keys(form) -> list[str]:
        """`list_fields` and unique fields, worked out once per form: a migration or
        re-evaluation makes 50,000 rows, and walking the form's fields for each was a third of
        the rows' time."""
        def keys() -> list[str]:
            listed = list(getattr(form, "list_fields", None) or [])
            return listed + [f.id for f in form.fields_flat() if getattr(f, "unique", False) and f.id not in listed]

        return once_per_form(form, "_row_keys", keys)

    def put(self, record_id: str, row: dict) -> None:
        old = self.rows.get(record_id)
        for field, lookup in self._lookups.items():
            if old is not None and old.get(field) is not None:
                lookup.get(old.get(field), set()).discard(record_id)
            if row.get(field) is not None:
                lookup.setdefault(row[field], set()).add(record_id)
        self.rows[record_id] = row
        self._orders.clear()
        self._filter_cache.clear()
        self._joined.clear()
        self._spellings = self._last_pinyin = self._spelling_job = None
        self._last_text = None

    def find(self, field: str, value: Any, exclude: str | None = None) -> str | None:
        """Another record holding `value` in `field` (built once per field, then kept current)."""
        lookup = self._lookups.get(field)
        if lookup is None:
            lookup = self._lookups[field] = {}
            for rid, row in self.rows.items():
                if row.get(field) is not None:
                    lookup.setdefault(row[field], set()).add(rid)
        for rid in lookup.get(value, ()):
            if rid != exclude:
                return rid
        return None

    def _order(self, sort: str | None, desc: bool) -> list[str]:
        """Ids in display order, cached until the next save.

        With no sort column, records group by partition (village) and then by the search key,
        which starts with the name: what a roster is expected to look like.
        """
        key = (sort or "", desc)
        if key not in self._orders:
            rows = self.rows
            if sort:
                def by(r): return _sort_value(rows[r].get(sort))
            else:
                def by(r): return (rows[r].get("_p") or "", rows[r].get(SEARCH_KEY, ""))
            self._orders[key] = sorted(rows, key=by, reverse=desc)
        return self._orders[key]

    def _filtered(self, filters: dict, ids, sort: str | None, desc: bool) -> tuple[list[str], list[str]]:
        """Ids passing the filters, in order; cached per (filters, sort) until the next save, so
        typing in the search box only runs the text test."""
        frozen = tuple(sorted((k, tuple(sorted(map(str, v))) if isinstance(v, (list, tuple, set, frozenset)) else v)
                              for k, v in filters.items() if v not in (None, "")))
        key = (frozen, id(ids) if ids is not None else None, sort or "", desc)
        hit = self._filter_cache.get(key)
        if hit is not None and hit[0] is ids:
            return hit[1], hit[2]
        rows, out = self.rows, self._order(sort, desc)
        for field, want in filters.items():
            if want is None or want == "":
                continue
            if isinstance(want, (list, tuple, set, frozenset)):
                wanted = set(want)
                out = [r for r in out if rows[r].get(field) in wanted]
            else:
                out = [r for r in out if rows[r].get(field) == want]
        if ids is not None:
            out = [r for r in out if r in ids]
        # The search keys side by side with the ids: a keystroke then tests 50,000 strings
        # without a dict lookup each (measured 34 ms -> a few ms).
        keys = [_name_key(rows[r].get(SEARCH_KEY, "")) for r in out]
        self._filter_cache[key] = (ids, out, keys)
        return out, keys

    def select(self, text: str | None = None, filters: dict | None = None, sort: str | None = None,
               desc: bool = False) -> list[str]:
        filters = dict(filters or {})
        ids = filters.pop("_id", None)
        base, keys = self._filtered(filters, ids, sort, desc)
        needle = (text or "").strip().lower()
        if not needle:
            return base
        last = self._last_text
        if last is not None and last[0] is base and last[1] in needle:
            base, keys = last[2], last[3]   # typing one more character narrows the previous result
            hits = [i for i, k in enumerate(keys) if needle in k]
        else:
            hits = self._search(keys, needle)
        out, out_keys = [base[i] for i in hits], [keys[i] for i in hits]
        every = self._filtered(filters, ids, sort, desc)      # the whole filtered list, not the narrowed one
        self._last_text = (every[0], needle, out, out_keys)
        if letters := typed_pinyin(needle):
            out = self._pinyin_hits(letters, *every, out)
        if self.private and any(c.isdigit() for c in needle):
            out = self._number_hits(needle, *every, out)
        return out

    def _pinyin_hits(self, letters: str, base: list[str], keys: list[str], by_key: list[str]) -> list[str]:
        """`by_key` plus the rows whose names the letters spell as pinyin, in `base` order."""
        last = self._last_pinyin
        narrowing = last is not None and last[0] is keys and letters.startswith(last[1])
        positions = self._spelled(keys).hits(letters, last[2] if narrowing else None)
        self._last_pinyin = (keys, letters, positions)
        spelled = [base[i] for i in positions]
        if not spelled:
            return by_key
        if not by_key:
            return spelled
        found = set(by_key)
        found.update(spelled)
        if len(found) == len(by_key):
            return by_key
        return [r for r in base if r in found]

    def _spelled(self, keys: list[str]) -> PinyinSpellings:
        """The names' spellings for these keys: made ahead by `prepare_search` (joined here if
        that is still at it) or now, and kept until the next save."""
        held = self._spellings
        if held is not None and held[0] is keys:
            return held[1]
        job = self._spelling_job
        if job is not None and job[0] is keys:
            job[1].join()
            held = self._spellings
            if held is not None and held[0] is keys:
                return held[1]
        made = PinyinSpellings([k.partition("\x1f")[0] for k in keys])
        self._spellings = (keys, made)
        return made

    def _spell_ahead(self, keys: list[str]) -> None:
        """Spell these names on a thread while staff read the screen: at 50,000 people the
        spellings (and pypinyin's character table) take a few tenths of a second, which the first
        pinyin keystroke would otherwise wait for. The result is only used for this very list of
        keys (a save makes a new one), so a thread finishing late cannot answer a newer list.
        Nothing is started when these keys are spelled already or being spelled."""
        if (self._spellings is not None and self._spellings[0] is keys) or \
                (self._spelling_job is not None and self._spelling_job[0] is keys):
            return

        def spell() -> None:
            made = PinyinSpellings([k.partition("\x1f")[0] for k in keys])
            if self._spellings is None or self._spellings[0] is not keys:
                self._spellings = (keys, made)

        thread = threading.Thread(target=spell, name="carebook-pinyin", daemon=True)
        self._spelling_job = (keys, thread)
        thread.start()

    def _number_hits(self, needle: str, base: list[str], keys: list[str], by_name: list[str]) -> list[str]:
        """`by_name` plus the rows whose ID/phone the needle names: the whole number, or the
        last four digits after (part of) a name. Nothing shorter matches a number."""
        compact = re.sub(r"[\s\-()（）]", "", needle).upper()
        rows, private = self.rows, self.private
        if _WHOLE.fullmatch(compact):
            wanted = {compact, compact[3:] if compact.startswith("022") else "022" + compact}
            extra = {r for r in base if any(str(rows[r].get(f) or "").upper() in wanted for f in private)}
        elif m := _NAME_LAST4.fullmatch(needle.strip().upper()):
            name, last4 = m[1].strip().lower(), m[2]
            extra = {r for r, k in zip(base, keys) if name in k
                     and any(str(rows[r].get(f) or "").upper().endswith(last4) for f in private)}
        else:
            return by_name
        if not extra:
            return by_name
        found = set(by_name) | extra
        return [r for r in base if r in found]

    def _search(self, keys: list[str], needle: str) -> list[int]:
        """Positions of the keys holding `needle`, in order.

        A first character typed tests every key (~50,000, 7-10 ms); most first characters (a
        surname, a rare letter) are in a few hundred. The keys are joined once per filter
        result, so `str.find` skips in C from one holder to the next and only holders cost
        Python work (~1 ms). `count` says first whether holders are too many for that to pay;
        a needle with the joining newline in it could span two keys, so it takes the plain way.
        """
        if len(keys) < JOIN_FROM or "\n" in needle:
            return [i for i, k in enumerate(keys) if needle in k]
        blob, starts = self._joined_keys(keys)
        if blob.count(needle) * 3 > len(keys):
            return [i for i, k in enumerate(keys) if needle in k]
        hits, find = [], blob.find
        at = find(needle)
        while at >= 0:
            i = bisect_right(starts, at) - 1
            hits.append(i)
            at = find(needle, starts[i + 1])     # on from the next key; the last start is past the end
        return hits

    def _joined_keys(self, keys: list[str]) -> tuple[str, array]:
        """The keys joined by newlines, and where each starts; kept until the next save."""
        joined = self._joined.get(id(keys))
        if joined is None or joined[0] is not keys:
            if len(self._joined) >= 4:          # a few filter results at a time, ~4 MB each
                self._joined.clear()
            starts = array("q", accumulate(map(len, keys), lambda a, b: a + b + 1, initial=0))
            joined = self._joined[id(keys)] = (keys, "\n".join(keys), starts)
        return joined[1], joined[2]

    def prepare_search(self, filters: dict | None = None, sort: str | None = None, desc: bool = False) -> None:
        """Do now what the first text search over these filters would do first (filter, sort,
        join the keys: ~100 ms on 50,000 rows after a save; spell the names, on a thread), e.g.
        while a screen is read."""
        filters = dict(filters or {})
        ids = filters.pop("_id", None)
        keys = self._filtered(filters, ids, sort, desc)[1]
        if len(keys) >= JOIN_FROM:
            self._joined_keys(keys)
            self._spell_ahead(keys)

    def query(self, *, text=None, filters=None, sort=None, desc=False, offset=0, limit=50) -> Page:
        ids = self.select(text, filters, sort, desc)
        return Page([{"id": rid, **self.rows[rid]} for rid in ids[offset:offset + limit]], len(ids), offset, limit)

    def count(self, filters: dict | None = None) -> int:
        if not filters:
            return len(self.rows)
        return len(self.select(filters=filters))
