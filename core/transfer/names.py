"""Data for plausible Chinese names in the demo ledger (no real person's data).

Surnames carry rough weights from the frequency tables of the 2020 census (王李张刘陈 lead);
given names are drawn from characters common for people born 1925–1965 in northern China, by
sex, so a demo roster looks like a real village roster (王秀英, 张德山) rather than random text.
Kept apart from `core.transfer.demo` so the generator stays about the ledger, not about names.
"""
from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate
from typing import Any, Sequence

# (surname, weight in ‰ of the population, rounded)
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 71.5), ("李", 70.5), ("张", 68.8), ("刘", 53.8), ("陈", 46.1), ("杨", 33.7),
    ("赵", 20.2), ("黄", 18.2), ("周", 17.2), ("吴", 15.8), ("徐", 12.8), ("孙", 12.3),
    ("胡", 11.8), ("朱", 11.1), ("高", 10.9), ("林", 10.2), ("何", 9.9), ("郭", 9.6),
    ("马", 9.5), ("罗", 8.1), ("梁", 7.7), ("宋", 6.4), ("郑", 6.3), ("谢", 5.9),
    ("韩", 5.6), ("唐", 5.2), ("冯", 5.1), ("于", 5.1), ("董", 5.0), ("萧", 4.5),
    ("程", 4.4), ("曹", 4.3), ("袁", 4.2), ("邓", 4.2), ("许", 4.1), ("傅", 3.8),
    ("沈", 3.7), ("曾", 3.6), ("彭", 3.5), ("吕", 3.4), ("苏", 3.3), ("卢", 3.3),
    ("蒋", 3.3), ("蔡", 3.2), ("贾", 3.0), ("丁", 2.9), ("魏", 2.9), ("薛", 2.8),
    ("叶", 2.8), ("阎", 2.7), ("余", 2.6), ("潘", 2.6), ("杜", 2.5), ("戴", 2.4),
    ("夏", 2.4), ("钟", 2.3), ("汪", 2.3), ("田", 2.3), ("任", 2.2), ("姜", 2.2),
    ("范", 2.1), ("方", 2.1), ("石", 2.1), ("姚", 2.0), ("谭", 1.9), ("廖", 1.9),
    ("邹", 1.9), ("熊", 1.9), ("金", 1.8), ("陆", 1.8), ("郝", 1.8), ("孔", 1.7),
    ("白", 1.7), ("崔", 1.7), ("康", 1.7), ("毛", 1.6), ("邱", 1.6), ("秦", 1.6),
    ("江", 1.5), ("史", 1.5), ("顾", 1.5), ("侯", 1.5), ("邵", 1.4), ("孟", 1.4),
    ("龙", 1.4), ("万", 1.4), ("段", 1.3), ("雷", 1.3), ("钱", 1.3), ("汤", 1.3),
    ("尹", 1.3), ("黎", 1.2), ("易", 1.2), ("常", 1.2), ("武", 1.2), ("乔", 1.2),
    ("贺", 1.2), ("赖", 1.1), ("龚", 1.1), ("文", 1.1), ("翟", 0.9), ("窦", 0.6),
)

# Two-character given names typical of the elders' generation.
MALE_GIVEN = (
    "建国 国华 振华 德明 德山 德福 文明 宝山 宝林 长海 长林 春生 凤山 福来 福生 广才 桂林 国强 国庆 "
    "海山 洪亮 金生 金海 俊峰 立新 连生 明山 庆和 庆林 瑞林 少华 守义 树林 树森 铁柱 万里 文祥 "
    "喜林 希望 学文 永和 永利 永祥 玉山 玉林 跃进 占山 振东 志刚 志明 忠良 子明 宗仁 殿臣 恩荣"
).split()
FEMALE_GIVEN = (
    "秀英 桂兰 玉兰 凤英 淑珍 淑华 秀兰 桂英 玉珍 秀珍 凤兰 桂芝 淑兰 素芬 淑英 玉梅 秀云 "
    "桂荣 凤芝 兰英 翠兰 翠英 素珍 玉芬 秀荣 金凤 春兰 美华 丽华 爱华 桂珍 秀芳 玉华 淑芬 "
    "凤琴 玉荣 振英 桂芳 秀梅 荣华 凤珍 月英 宝珍 素英 桂香 雅琴 淑敏 艳华 金兰 俊英"
).split()
# Children born 1950–1990 (the elders' sons and daughters).
YOUNG_MALE_GIVEN = (
    "伟 强 磊 军 勇 杰 涛 斌 超 明 刚 平 辉 鹏 华 飞 鑫 波 宇 浩 凯 健 俊 帆 帅 旭 宁 龙 林 阳 "
    "海涛 海峰 建军 建华 志强 志勇 国栋 立军 永刚 振宇 晓东 晓明 卫东 红军"
).split()
YOUNG_FEMALE_GIVEN = (
    "芳 娜 敏 静 丽 艳 娟 霞 燕 玲 桂芳 红 梅 莉 婷 雪 慧 颖 琳 洁 倩 "
    "丽娟 海燕 红梅 晓燕 秀娟 春燕 美玲 晓红 文静 雪梅 丽丽 小红"
).split()

_SURNAME_LIST = [s for s, _ in SURNAMES]
_SURNAME_WEIGHTS = [w for _, w in SURNAMES]


def draw_table(population: Sequence, weights: Sequence[float]) -> tuple:
    """What `draw` needs of a weighted table: its running totals, worked out once per table
    rather than once per draw (a 50,000-person demo draws some two million times)."""
    totals = list(accumulate(weights))
    total = totals[-1] + 0.0
    if not total > 0.0:
        raise ValueError("权重之和应大于 0")
    return tuple(population), totals, total, len(totals) - 1


def draw(rng: random.Random, table: tuple) -> Any:
    """`rng.choices(population, weights, k=1)[0]` of the table's population and weights: the
    same draw from the same random stream (a seeded demo must repeat exactly)."""
    items, totals, total, hi = table
    return items[bisect(totals, rng.random() * total, 0, hi)]


_SURNAMES = draw_table(_SURNAME_LIST, _SURNAME_WEIGHTS)


def surname(rng: random.Random) -> str:
    """A surname drawn by frequency."""
    return draw(rng, _SURNAMES)


def elder_name(rng: random.Random, sex: str, family: str | None = None) -> str:
    """An elder's full name; `family` forces the surname (a husband's name for a wife is not used)."""
    pool = MALE_GIVEN if sex == "男" else FEMALE_GIVEN
    return (family or surname(rng)) + rng.choice(pool)


def child_name(rng: random.Random, sex: str, family: str | None = None) -> str:
    """A son's or daughter's name; sons mostly keep the father's surname."""
    pool = YOUNG_MALE_GIVEN if sex == "男" else YOUNG_FEMALE_GIVEN
    return (family or surname(rng)) + rng.choice(pool)
