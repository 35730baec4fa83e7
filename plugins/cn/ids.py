"""公民身份号码 (GB 11643-1999): cleaning, checking and what a number tells.

An 18-character number is 6 address digits + 8 birth-date digits + 3 sequence digits (odd for
men) + a check character (ISO 7064 MOD 11-2). Any 6-digit address code is accepted: Binhai's
elders mostly carry 塘沽/汉沽/大港 (120107/120108/120109) or codes from elsewhere.

Numbers are personal information: nothing here logs them and no message repeats them.
"""
from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from core import dates
from core.checkdigit import CHECK_CHARS, WEIGHTS, check_char  # noqa: F401 - re-exported

from .text import fold

__all__ = ["CHECK_CHARS", "WEIGHTS", "check_char", "check_id", "normalize_id", "valid_number"]
EARLIEST_YEAR = 1800   # the standard's own example is born 1880; nothing older is plausible

_SHAPE = re.compile(r"\d{17}[\dX]")
_CANONICAL = re.compile(r"[0-9]{17}[0-9X]")          # `_SHAPE` in ASCII: what cleaning leaves as it is


def normalize_id(value: object, upgrade_15: bool = True) -> str:
    """Clean a typed number: full-width → ASCII, separators dropped, `x` → `X`.

    A legacy 15-digit number (YYMMDD, no check character) becomes 18 characters by inserting
    "19" before the year and appending the check character, unless ``upgrade_15`` is false.
    Nothing is judged here; ``check_id`` says whether the result is valid.
    """
    text = fold(value).upper()
    if upgrade_15 and len(text) == 15 and text.isdigit():
        first17 = text[:6] + "19" + text[6:]
        text = first17 + check_char(first17)
    return text


def _birth_of(first17: str) -> date | None:
    try:
        born = date(int(first17[6:10]), int(first17[10:12]), int(first17[12:14]))
    except ValueError:
        return None
    return born if born.year >= EARLIEST_YEAR else None


def check_id(value: object, today: date | None = None) -> str | None:
    """None when ``value`` is a valid 18-character number, else the reason in Chinese.

    The value is checked as given (callers normalise first), so a stored value that passes is
    also in canonical form."""
    if not isinstance(value, str) or not value:
        return "身份证号码为空"
    if len(value) != 18:
        return f"长度不对：应为18位，实际为{len(value)}位"
    if not _SHAPE.fullmatch(value):
        return "含有无效字符：前17位应为数字，末位应为数字或X"
    return _judged(value, today or dates.today())


@lru_cache(maxsize=1024)
def _judged(value: str, today: date) -> str | None:
    """The birth date and check character of a well-shaped number, as of `today`.

    Remembered per (number, day): a record's number is checked when it is cleaned and again by
    the schema's `cn-resident-id` format, a few calls apart. The day is part of the key, so a
    number born "tomorrow" is judged afresh once tomorrow comes (or a test pins another day)."""
    born = _birth_of(value[:17])
    if born is None:
        return "出生日期无效"
    if born > today:
        return "出生日期无效：晚于今天"
    if check_char(value[:17]) != value[17]:
        return "校验码不符，请核对号码"
    return None


def valid_number(value: object) -> str:
    """The normalised number (15 digits upgraded), or ValueError "身份证号码无效：<reason>".

    What the `cn-resident-id` field type makes of a typed number, and what `birth_date` and
    `sex` read: a record's number is cleaned, then its sex, birth date and age are worked out
    from it, each asking this. Answers for text are remembered per (text, day) (`_valid_on`)."""
    if type(value) is not str:
        return _checked(value, dates.today())
    return _valid_on(value, dates.today())


@lru_cache(maxsize=4096)
def _valid_on(value: str, today: date) -> str:
    """`_checked` remembered per (text, day): a number born "tomorrow" is refused today and
    accepted tomorrow, and a pinned test day moved back refuses it again. A refusal raises, and
    `lru_cache` keeps no exception: refused texts are checked afresh each time."""
    return _checked(value, today)


def _checked(value: object, today: date) -> str:
    if type(value) is str and _CANONICAL.fullmatch(value):
        # already as `normalize_id` leaves a number (folding, upper case and the 15-digit
        # upgrade change nothing) and as `check_id` wants its shape: only its date and check
        # character are left to judge — a typed number of an import usually is this
        reason = _judged(value, today)
        if reason:
            raise ValueError(f"身份证号码无效：{reason}")
        return value
    number = normalize_id(value)
    reason = check_id(number, today)
    if reason:
        raise ValueError(f"身份证号码无效：{reason}")
    return number


def birth_date(value: object) -> date:
    """Birth date of a valid number (15-digit legacy numbers are upgraded first)."""
    return _born(valid_number(value))


@lru_cache(maxsize=4096)
def _born(number: str) -> date:
    """The birth date a valid number spells (a record's age, 高龄, eligibility and risk level
    each read it: four or five times a person)."""
    born = _birth_of(number)
    assert born is not None             # a valid number's date always is one
    return born


def sex(value: object) -> str:
    """"男" when the sequence number (17th digit) is odd, else "女"."""
    return "男" if int(valid_number(value)[16]) % 2 else "女"


def age_on(birth: date, on: date) -> int:
    """Exact age in whole years (周岁) on ``on``.

    A birthday counts from its own day: born 1966-12-01 is 59 on 2026-11-30 and 60 on
    2026-12-01. Someone born on 29 February has their birthday on 1 March in common years
    (the day after 28 February), i.e. becomes a year older only once February is over.
    """
    if on < birth:
        raise ValueError("计算日期早于出生日期")
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def mask(value: object) -> str:
    """Show the first 6 and last 4 characters only: `120107********0032`.

    Anything too short to keep 10 characters visible with some hidden is masked entirely, so
    a partial number never leaks more than the region code and the tail.
    """
    text = "" if value is None else str(value)
    if len(text) <= 10:
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]
