"""Calendar arithmetic the ledger's rules need: months away, quarters, month ends.

Eligibility ("all supporters away 6+ consecutive months") and the quarterly visit and report
cycle are defined in calendar months and quarters, not in days, so these follow the calendar:
adding a month to 31 May gives 30 June (clamped to the month's end).
"""
from __future__ import annotations

import calendar
import os
import re
import time
from datetime import date, datetime, timedelta

_QUARTER = re.compile(r"(\d{4})\s*[Qq]([1-4])")

#: Names a day (YYYY-MM-DD) that `today()` returns instead of the computer's date. The test suite
#: sets it (tests/conftest.py) so that results do not depend on the day the tests run and a run
#: across midnight cannot see two different days; nothing sets it in production, where the
#: engine uses the real date. See docs/testing.md.
TODAY_ENV = "CAREBOOK_TODAY"


def today() -> date:
    """The ledger's today: the computer's date, or the day `CAREBOOK_TODAY` pins (a test hook).

    Every "today" of the engine, the reports, the form expressions and the UI comes from here
    (or from an engine opened with an explicit `today=`), so one variable pins them all — the
    CLI run as a subprocess by a test included.

    Asked a few times for every record a bulk check cleans (372,000 times in a 50,000-row
    import): the variable is looked up in the environment's own dict, not through
    `os.environ.get` (which encodes the name and decodes the value each time), and the pinned
    text is parsed once per value (`_pinned`). It is still read on every call, so a test that
    sets or removes the variable (monkeypatch) sees the new day at once. The computer's date
    is kept with the clock span it lasts (`_computer_day`): past midnight it is asked again."""
    raw = _env_get(_ENV_KEY)
    if not raw:
        now, span = _clock(), _day
        if span[0] <= now < span[1]:
            return span[2]
        return _computer_day(now)
    last = _last
    if raw is last[0]:
        return last[1]
    return _pinned(raw)


def _computer_day(now: float) -> date:
    """The computer's date, remembered with the span of clock time it lasts (local midnight
    to midnight): `date.today()` asks the C library for the local time on every call. A clock
    set back or forward leaves the span and asks again."""
    global _day
    day = date.today()
    start = datetime.combine(day, datetime.min.time()).timestamp()
    end = datetime.combine(day + timedelta(days=1), datetime.min.time()).timestamp()
    if start <= now < end:
        _day = (start, end, day)            # one object: a thread reads all three or none
    return day


def _pinned(raw: object) -> date:
    """The day a raw (encoded) `CAREBOOK_TODAY` value names, remembered for the next call."""
    pinned = _decode(raw)           # not empty: `today` asks only for a value that is set
    try:
        day = date.fromisoformat(pinned.strip())
    except ValueError:
        from core.problems import CarebookError

        raise CarebookError(f"环境变量 {TODAY_ENV} 应为日期（年-月-日，如 2026-12-06），现为 {pinned!r}") from None
    global _last
    _last = (raw, day)
    return day


def _environ_reader() -> tuple:
    """(get, key, decode) reading `TODAY_ENV` from `os.environ`'s underlying dict, which
    every change through `os.environ` (setenv, monkeypatch, `del`) updates; `os.environ.get`
    itself where that dict is not there (another Python).

    Why not the public `os.environ.get`: it encodes the name and decodes the value on every
    call — 0.80 µs against 0.055 µs for the dict's own `get` (timeit, 2026-12-07) — and
    `today()` is asked about fourteen times a record, some 700,000 times in a 50,000-row import
    check: half a second of it. The fallback keeps it correct where `_data` is missing."""
    env = os.environ
    data, encode, decode = (getattr(env, name, None) for name in ("_data", "encodekey", "decodevalue"))
    if isinstance(data, dict) and callable(encode) and callable(decode):
        return data.get, encode(TODAY_ENV), decode
    return env.get, TODAY_ENV, str


_env_get, _ENV_KEY, _decode = _environ_reader()
_last: tuple = (object(), None)       # (the raw value last parsed, its day)
_day: tuple = (0.0, 0.0, None)        # (from, until (clock seconds), the computer's date then)
_clock = time.time


def to_date(value: object) -> date | None:
    """A ``date`` from a date, a datetime or an ISO string (time part ignored); else None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def add_months(d: date, n: int) -> date:
    """``d`` moved by ``n`` calendar months, the day clamped to the target month's last day."""
    index = d.year * 12 + d.month - 1 + n
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def months_between(a: date, b: date) -> int:
    """Whole calendar months from ``a`` to ``b``: the largest n with add_months(a, n) <= b.

    So 2026-05-15 → 2026-11-14 is 5 and → 2026-11-15 is 6; because of month-end clamping,
    2026-05-31 → 2026-11-30 is 6 (the last day of May to the last day of November), while
    2026-05-31 → 2026-11-29 is 5. When ``b`` is before ``a`` the result is the negative of
    months_between(b, a).
    """
    if b < a:
        return -months_between(b, a)
    n = (b.year - a.year) * 12 + b.month - a.month
    if add_months(a, n) > b:
        n -= 1
    return n


def add_days(d: date, n: int) -> date:
    return d + timedelta(days=n)


def quarter_of(d: date) -> str:
    """"2026Q4" for any day of October to December 2026."""
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


def parse_quarter(q: object) -> tuple[int, int] | None:
    """(year, quarter) from "2026Q4" (or "2026q4"), or from any date in that quarter."""
    if isinstance(q, str):
        m = _QUARTER.fullmatch(q.strip())
        if m:
            return int(m.group(1)), int(m.group(2))
    d = to_date(q)
    return (d.year, (d.month - 1) // 3 + 1) if d else None


def quarter_start(year: int, quarter: int) -> date:
    return date(year, quarter * 3 - 2, 1)


def quarter_end(year: int, quarter: int) -> date:
    month = quarter * 3
    return date(year, month, calendar.monthrange(year, month)[1])
