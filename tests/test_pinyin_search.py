"""Finding people by the pinyin staff type: whole syllables, initials, both mixed, polyphonic
surnames, ü typed as v or u; the same hits whether the names were spelled ahead on a thread or
on the first keystroke, and a saved name found at once."""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from core.records.pinyinsearch import PinyinSpellings, pattern, spelled, typed_pinyin
from core.records.recordindex import JOIN_FROM, SEARCH_KEY, RecordIndex, pinyin_initials

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import SIZE, drive, make_app, save_person, screen_text, type_text, until  # noqa: E402

NAMES = ["王桂兰", "汪桂林", "方桂兰", "王丽", "李桂兰", "单秀英", "曾国强", "吕淑珍", "周长林", "张玉山", "Anna王"]


def index_of(names: list[str]) -> RecordIndex:
    rows = {f"r{i:05d}": {SEARCH_KEY: f"{n}\x1f{pinyin_initials(n)}".lower(), "status": "在册"}
            for i, n in enumerate(names)}
    return RecordIndex(rows)


def found(index: RecordIndex, needle: str) -> set[str]:
    index._last_text = None
    return {index.rows[r][SEARCH_KEY].partition("\x1f")[0] for r in index.select(needle, {"status": "在册"})}


@pytest.mark.parametrize("needle, expected", [
    ("wang", {"王桂兰", "汪桂林", "王丽", "anna王"}),   # whole syllable; 方 (also read wang) is not
    ("wangguilan", {"王桂兰"}),
    ("wang gui lan", {"王桂兰"}),                     # spaces between syllables
    ("wanggl", {"王桂兰", "汪桂林"}),                  # syllable, then initials
    ("wgl", {"王桂兰", "汪桂林"}),                     # initials as before
    ("guil", {"王桂兰", "汪桂林", "方桂兰", "李桂兰"}),  # from any syllable
    ("shan", {"单秀英", "张玉山"}),                    # 单 as a surname reads shan
    ("danxiu", {"单秀英"}),                           # ... and as the character does
    ("zengguo", {"曾国强"}),
    ("lvshu", {"吕淑珍"}), ("lushu", {"吕淑珍"}),       # ü typed as v, or as u
    ("zhouchanglin", {"周长林"}),                     # 长 in a given name
    ("wl", {"王丽"}),                                 # no syllable skipped: 王桂兰 is not wl
    ("xyz", set()),
])
def test_pinyin_needles(needle, expected):
    assert found(index_of(NAMES), needle) == expected


def test_what_is_not_pinyin_is_left_to_the_search_key():
    assert typed_pinyin("w") is None                  # one letter: an initial, the key answers
    assert typed_pinyin("王w") is None and typed_pinyin("wang1") is None
    assert typed_pinyin("xi'an") == "xian"
    assert spelled("王·丽") == "'wang|'li"                # a mark ends a run of syllables
    assert not pattern("wl").search(spelled("王·丽"))
    assert found(index_of(NAMES), "王") == {"王桂兰", "王丽", "anna王"}


def test_joined_spellings_find_what_a_name_by_name_test_finds():
    """The blob scan (one match per line, bisect to the row) against a plain per-name test."""
    rnd = random.Random(5)
    surnames, given = "张王李赵刘陈杨黄周吴徐孙单曾吕方石长", "秀英桂兰玉凤芝淑珍华明国强长乐山"
    names = [rnd.choice(surnames) + "".join(rnd.choice(given) for _ in range(rnd.choice((1, 2)))) for _ in range(3000)]
    joined = PinyinSpellings(names)
    for letters in ("zh", "wang", "guil", "shanxiu", "lvyu", "changle", "zhangzhang", "xiuying", "zz", "qq"):
        plain = [i for i, n in enumerate(names) if pattern(letters).search(spelled(n))]
        assert joined.hits(letters) == plain, letters


def test_spelled_ahead_on_a_thread_equals_spelled_on_the_keystroke_and_a_save_is_found():
    names = [random.Random(i).choice(NAMES) for i in range(JOIN_FROM + 500)]
    ahead, cold = index_of(names), index_of(names)
    ahead.prepare_search({"status": "在册"})
    assert ahead._spelling_job is not None           # started before any keystroke
    for needle in ("wang", "guil", "shan", "zhouchanglin"):
        ahead._last_text = cold._last_text = None
        assert ahead.select(needle, {"status": "在册"}) == cold.select(needle, {"status": "在册"})
    ahead.put("r99999", {SEARCH_KEY: "欧阳秀英\x1foyxy", "status": "在册"})
    assert "r99999" in ahead.select("ouyang", {"status": "在册"})


@drive
async def test_roster_finds_a_person_by_whole_pinyin_on_screen(tmp_path):
    app = make_app(tmp_path / "data", persons=60)
    save_person(app.engine, name="吕长林")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        await type_text(pilot, "lvchanglin")
        await until(pilot, lambda: "吕长林" in screen_text(app, typed=False))
        assert "共 1 人" in screen_text(app, typed=False)


def test_typing_on_letter_by_letter_finds_what_each_needle_finds_afresh():
    """Each further letter narrows the last pinyin hits; backspace and a new start search all."""
    names = [random.Random(i).choice(NAMES) for i in range(JOIN_FROM + 300)]
    typed, fresh = index_of(names), index_of(names)
    for needle in ("w", "wa", "wan", "wang", "wangg", "wanggu", "wangg", "wan", "z", "zh", "zho", "x", "sh", "sha"):
        fresh._last_text = fresh._last_pinyin = None
        assert typed.select(needle, {"status": "在册"}) == fresh.select(needle, {"status": "在册"}), needle


def test_readings_are_pypinyins_usual_ones_read_without_loading_its_phrase_tables():
    """The table read from pypinyin's file is its usual reading of every character, and
    spelling names does not import pypinyin (its phrase tables cost the UI 55 MB)."""
    import subprocess

    from pypinyin import Style, lazy_pinyin
    from pypinyin.pinyin_dict import pinyin_dict

    from core.records.pinyinsearch import _usual_readings

    table = _usual_readings()
    assert len(table) > 20000
    sample = [chr(c) for c in sorted(pinyin_dict)[::37] if 0x4E00 <= c <= 0x9FFF]
    for ch in sample:
        want = lazy_pinyin(ch, style=Style.NORMAL, v_to_u=False)[0]
        assert table[ord(ch)] == want, ch
    code = ("import sys; from core.records.pinyinsearch import spelled; "
            "assert spelled('吕长林') == \"'lv'zhang'lin|'lv'chang'lin\"; "
            "assert 'pypinyin' not in sys.modules, 'pypinyin imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_preparing_the_same_list_again_spells_it_once():
    """The roster prepares its search on every visit: the names are spelled once per list of
    keys, not once per visit, and a save lets the next preparation spell the new list."""
    index = index_of([random.Random(i).choice(NAMES) for i in range(JOIN_FROM + 10)])
    index.prepare_search({"status": "在册"})
    first = index._spelling_job
    index.prepare_search({"status": "在册"})
    assert index._spelling_job is first              # still spelling, or spelled: not again
    first[1].join()
    index.prepare_search({"status": "在册"})
    assert index._spelling_job is first
    index.put("r99999", {SEARCH_KEY: "欧阳秀英\x1foyxy", "status": "在册"})
    index.prepare_search({"status": "在册"})
    assert index._spelling_job is not first and index._spelling_job is not None
