"""Roster search over many rows: the joined-keys search finds exactly what testing every key finds."""
from __future__ import annotations

import random

from core.records.pinyinsearch import pattern, spelled, typed_pinyin
from core.records.recordindex import JOIN_FROM, SEARCH_KEY, RecordIndex, _name_key

SURNAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
GIVEN = "秀英桂兰玉凤芝淑珍华明国强建军志刚海波春生德福美丽红梅文"


def ledger(n: int, seed: int = 3) -> dict[str, dict]:
    """Search keys shaped like the real ones: name, pinyin-like initials, ID number, phone."""
    rnd = random.Random(seed)
    rows = {}
    for i in range(n):
        name = rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2))))
        initials = "".join(rnd.choice("zwlcyhgxsmqj") for _ in name)
        id_no = "1201" + "".join(rnd.choice("0123456789") for _ in range(13)) + rnd.choice("0123456789x")
        parts = [name, initials, id_no] + (["13" + "".join(rnd.choice("0123456789") for _ in range(9))]
                                           if rnd.random() < 0.7 else [])
        rows[f"r{i:05d}"] = {SEARCH_KEY: "\x1f".join(parts), "status": "在册" if rnd.random() < 0.9 else "退出",
                             "_p": f"v{rnd.randrange(40):02d}"}
    return rows


def every_key(index: RecordIndex, needle: str, filters: dict) -> list[str]:
    ids = [r for r in index._order(None, False) if all(index.rows[r].get(k) == v for k, v in filters.items())]
    needle = needle.strip().lower()              # as select reads the search box
    # Keys written before numbers left the search key still hold them: never searched. Letters
    # that can be pinyin also find the names they spell (tests/test_pinyin_search.py).
    letters = typed_pinyin(needle)
    return [r for r in ids if needle in _name_key(index.rows[r][SEARCH_KEY])
            or (letters and pattern(letters).search(spelled(index.rows[r][SEARCH_KEY].partition("\x1f")[0])))]


def test_first_characters_find_what_every_key_test_finds():
    index = RecordIndex(ledger(6000))
    assert len(index.rows) > 2 * JOIN_FROM
    # "x\n张" would be found across two joined keys if the newline were not kept out.
    needles = ["张", "秀英", "z", "zw", "1", "13", "0000", "x", "\x1f", "英\x1fz", "没有", "x\n张", "9\n", "1201", "英"]
    for filters in ({}, {"status": "在册"}):
        for needle in needles:
            index._last_text = None              # each a first character typed, not narrowing
            assert index.select(needle, filters) == every_key(index, needle, filters), (needle, filters)
    # The rare ones went through the joined keys, the common ones key by key.
    assert index._joined


def test_typing_on_narrows_and_a_save_is_found_at_once():
    index = RecordIndex(ledger(5000))
    index.prepare_search({"status": "在册"})
    assert index._joined                        # ready before the first keystroke
    for typed in ("张", "张秀", "张秀英"):
        assert index.select(typed, {"status": "在册"}) == every_key(index, typed, {"status": "在册"})
    index.put("r99999", {SEARCH_KEY: "张秀英\x1fzxy\x1f120100000000000000", "status": "在册", "_p": "v00"})
    assert not index._joined                    # joined keys of the old rows are dropped
    found = index.select("张秀英", {"status": "在册"})
    assert "r99999" in found and found == every_key(index, "张秀英", {"status": "在册"})
