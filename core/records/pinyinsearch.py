"""Finding people by the pinyin of their names as staff type it: whole syllables, initials or
both mixed (`wang`, `wangguilan`, `wgl`, `wanggl`, `guil`).

Many village clerks type a name as its full pinyin rather than its initials: a search key that
holds only the name and its initials (`王桂兰\x1fwgl`) finds nobody for `wang`. Here each name
is spelled once as its syllables, each marked by a leading apostrophe (`'wang'gui'lan`), and a
typed needle matches when it starts at a syllable and every letter either continues the
syllable it is in or starts the very next one: `wanggl` = wang + g(ui) + l(an). No syllable is
skipped, so `wl` does not find 王桂兰 while `gl` does (a name is searched from any syllable, as
the initials already were).

A name is spelled by its characters' usual readings, and also by the readings names give
some characters (surnames 单 shan, 曾 zeng; 长 chang in a given name), so a clerk finds 单 by
`shan` as by `dan`. The spellings are made per distinct name and joined once per filtered list, so a
keystroke is one regular-expression scan in C over the joined text (`PinyinSpellings`).
"""
from __future__ import annotations

from array import array
from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate, islice, product
import importlib.util
import json
from pathlib import Path
import re
import unicodedata

MAX_VARIANTS = 8          # spellings of one name at most (a name of polyphones multiplies)
_TYPED = re.compile(r"[a-z][a-z' ]*")
_LETTERS = re.compile(r"[a-z]+")
_LETTER = {"u": "[uv]"}


def typed_pinyin(needle: str) -> str | None:
    """The letters of a needle that can only be pinyin (two letters or more: one letter is an
    initial, which the search key already answers), else None. Spaces and apostrophes a
    clerk types between syllables (`wang gui`, `xi'an`) are dropped."""
    if not _TYPED.fullmatch(needle):
        return None
    letters = needle.replace(" ", "").replace("'", "")
    return letters if len(letters) >= 2 else None


# Readings besides the usual one that names use. A surname often reads otherwise than the
# character does elsewhere (单 shan, not dan): these apply to a name's first character. The
# other table holds characters whose second reading is common in given names (长 in 周长林).
# All of a character's dictionary readings would be too many: 方 also reads wang, 石 dan, and
# `wang` would find every 方.
SURNAME_READINGS = {
    "单": "shan", "曾": "zeng", "区": "ou", "仇": "qiu", "解": "xie", "查": "zha", "盖": "ge",
    "朴": "piao", "尉": "yu", "乐": "yue", "覃": "qin", "召": "shao", "缪": "miao", "翟": "zhai",
    "种": "chong", "秘": "bi", "折": "she", "员": "yun", "贲": "ben", "句": "gou", "繁": "po",
    "长": "chang", "重": "chong", "卜": "bu", "隗": "wei", "冼": "xian", "陆": "lu",
}
GIVEN_READINGS = {
    "长": "chang", "乐": "yue", "重": "chong", "行": "hang", "朝": "chao", "和": "he",
    "传": "zhuan", "调": "diao", "藏": "zang", "率": "shuai", "曲": "qu", "薄": "bo",
}


@lru_cache(maxsize=8192)
def _usual(ch: str) -> str:
    """A character's usual toneless reading; a Latin letter reads as itself; anything else (a
    digit, a mark) as nothing a letter can match."""
    if ch.isascii():
        return ch.lower() if ch.isalpha() else ""
    return usual_reading(ch) or ""


def usual_reading(ch: str) -> str | None:
    """A Hanzi's usual toneless reading (as pypinyin's `lazy_pinyin` gives it, without importing
    pypinyin), None for anything else: what a register sorts by."""
    return _usual_readings().get(ord(ch))


@lru_cache(maxsize=1)
def _usual_readings() -> dict[int, str]:
    """Every character's usual reading, toneless (`lǚ` -> `lv`, as pinyin keyboards spell it),
    from the character table pypinyin ships, read without importing pypinyin: the package
    loads its phrase tables too, 55 MB for the UI to hold (measured: bench_tui's start peak
    206 -> 264 MB), where this table alone is a few MB and 40 ms."""
    table = _pypinyin_characters()
    syllables: dict[str, str] = {}
    out = {}
    for code, readings in table.items():
        decomposed = unicodedata.normalize("NFD", readings.split(",")[0]).replace("u\u0308", "v")
        plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
        if _LETTERS.fullmatch(plain):
            out[int(code)] = syllables.setdefault(plain, plain)
    return out


def _pypinyin_characters() -> dict:
    """pypinyin's `pinyin_dict.json` ({code point: "líng,yuán"}), or its module where a release
    keeps the table otherwise."""
    spec = importlib.util.find_spec("pypinyin")
    folder = Path(spec.origin).parent if spec is not None and spec.origin else None
    if folder is not None and (folder / "pinyin_dict.json").is_file():
        return json.loads((folder / "pinyin_dict.json").read_text(encoding="utf-8"))
    from pypinyin.pinyin_dict import pinyin_dict

    return pinyin_dict


def _readings(ch: str, first: bool) -> tuple[str, ...]:
    usual = _usual(ch)
    extra = SURNAME_READINGS.get(ch) if first else GIVEN_READINGS.get(ch)
    return (usual, extra) if extra and extra != usual else (usual,)


@lru_cache(maxsize=65536)
def spelled(name: str) -> str:
    """`王桂兰` -> `'wang'gui'lan`; a name with polyphones -> its variants joined by `|`, which
    no pattern crosses. Characters that are no letter and no Hanzi end a run of syllables."""
    if not name:
        return ""
    chars = [_readings(c, i == 0) for i, c in enumerate(name)]
    variants = islice(product(*chars), MAX_VARIANTS)
    return "|".join("".join("'" + s if s else "|" for s in v) for v in variants)


@lru_cache(maxsize=1024)
def pattern(letters: str) -> re.Pattern:
    """The needle as syllable-walking pattern: from a syllable start, each further letter
    either continues the same syllable or, after skipping the rest of it, starts the next. A
    typed `u` also finds `ü` (spelled `v`): many type 吕 as `lu`."""
    first, *rest = (_LETTER.get(c, re.escape(c)) for c in letters)
    steps = "".join(f"(?:{c}|[a-z]*'{c})" for c in rest)
    return re.compile(f"'{first}{steps}[^\n]*")     # the rest of the line: one match per name


class PinyinSpellings:
    """The spellings of one filtered list of names, joined by newlines, with where each starts.
    Built on the first pinyin needle (50,000 names: see `bench.bench_tui`'s keystroke) and kept
    until the list changes."""

    def __init__(self, names: list[str]):
        self.spellings = spellings = [spelled(n) for n in names]
        self.blob = "\n".join(spellings)
        self.starts = array("q", accumulate(map(len, spellings), lambda a, b: a + b + 1, initial=0))

    def hits(self, letters: str, within: list[int] | None = None) -> list[int]:
        """Positions of the names the letters spell, in order, each once (a match runs to the end
        of its line). `within`: the positions a shorter start of these letters found; typing one
        more letter only narrows them (a name that spells `wang` spells `wan`), so only those
        names are tested again."""
        found = pattern(letters)
        if within is not None:
            search, spellings = found.search, self.spellings
            return [i for i in within if search(spellings[i])]
        starts = self.starts
        return [bisect_right(starts, m.start()) - 1 for m in found.finditer(self.blob)]
