"""Built-in plugin: the expression functions form files use.

Form authors write rules such as ``id_age(id_number, today) >= 60`` or
``months_between(left_date, today) >= 6``, and records are half-filled most of the time, so
every function here returns ``None`` instead of raising when an argument is missing or cannot
be read (an unreadable date, an invalid ID number). Dates may come as ``datetime.date`` or ISO
strings. The rules themselves live in ``plugins.cn``.
"""
from __future__ import annotations

from datetime import date
from functools import wraps
from typing import Callable

from carebook import hookimpl
from core import dates

from .cn import divisions, ids, phones

_TODAY = object()   # marks an omitted "on" argument: today is meant


def _safe(fn: Callable) -> Callable:
    """Turn missing input and ValueError/TypeError from bad data into ``None``."""
    @wraps(fn)
    def wrapper(*args):
        if None in args:           # (the values expressions pass are never equal to None otherwise)
            return None
        try:
            return fn(*args)
        except (ValueError, TypeError, OverflowError):
            return None
    return wrapper


def _dates(*values) -> list[date]:
    """Every value as a date; TypeError (→ None from ``_safe``) when one cannot be read."""
    out = [dates.to_date(v) for v in values]
    if None in out:
        raise TypeError("不是日期")
    return out


def _on(value) -> date:
    return dates.today() if value is _TODAY else _dates(value)[0]


@_safe
def age_on(birth, on=_TODAY):
    """Whole years (周岁) on ``on`` (today when omitted); see plugins.cn.ids.age_on."""
    return ids.age_on(_dates(birth)[0], _on(on))


@_safe
def id_birth_date(number):
    return ids.birth_date(number)


@_safe
def id_sex(number):
    return ids.sex(number)


@_safe
def id_age(number, on=_TODAY):
    return ids.age_on(ids.birth_date(number), _on(on))


@_safe
def months_between(a, b):
    """Whole calendar months from a to b; see core.dates.months_between."""
    return dates.months_between(*_dates(a, b))


@_safe
def days_between(a, b):
    """Days from a to b (negative when b is earlier)."""
    a, b = _dates(a, b)
    return (b - a).days


@_safe
def quarter_of(d):
    return dates.quarter_of(_dates(d)[0])


@_safe
def quarter_start(q):
    """First day of a quarter given as "2026Q4" or as any date in it."""
    return dates.quarter_start(*dates.parse_quarter(q))


@_safe
def quarter_end(q):
    """Last day of a quarter given as "2026Q4" or as any date in it."""
    return dates.quarter_end(*dates.parse_quarter(q))


def _whole(n) -> int:
    """An integer count; 1.5 months is refused (→ None) rather than silently truncated."""
    if isinstance(n, bool) or int(n) != n:
        raise ValueError("不是整数")
    return int(n)


@_safe
def add_months(d, n):
    return dates.add_months(_dates(d)[0], _whole(n))


@_safe
def add_days(d, n):
    return dates.add_days(_dates(d)[0], _whole(n))


@_safe
def year_of(d):
    return _dates(d)[0].year


def division_functions(source: divisions.DivisionFile) -> dict[str, Callable]:
    """``division_name`` and ``town_of`` reading one engine's division file."""
    @_safe
    def division_name(code):
        data = source.current_or_none()
        return data.name(code) if data else None

    @_safe
    def town_of(village_code):
        data = source.current_or_none()
        return data.town_of(village_code) if data else None

    return {"division_name": division_name, "town_of": town_of}


@_safe
def mask_id(number):
    return ids.mask(number)


@_safe
def mask_phone(number):
    return phones.mask_phone(number)


FUNCTIONS = {f.__name__: f for f in (
    age_on, id_birth_date, id_sex, id_age, months_between, days_between, quarter_of,
    quarter_start, quarter_end, add_months, add_days, year_of, mask_id, mask_phone)}


@hookimpl
def register_functions(register, engine):
    for name, fn in {**FUNCTIONS, **division_functions(divisions.DivisionFile.of(engine))}.items():
        register(name, fn)
