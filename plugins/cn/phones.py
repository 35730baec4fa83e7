"""Phone numbers: mainland mobiles and Tianjin landlines.

Mobile: `1[3-9]` + 9 digits. Tianjin landline: area code 022 + 8 digits, or the 8 digits
alone as people write them locally (landline numbers never start with 0 or 1). Numbers are
personal information: nothing here logs them and no message repeats them.
"""
from __future__ import annotations

import re

from .text import fold

MOBILE = re.compile(r"1[3-9]\d{9}")
LANDLINE = re.compile(r"(?:022)?[2-9]\d{7}")
TIANJIN_AREA = "022"


def normalize_phone(value: object) -> str:
    """Clean a typed number: full-width → ASCII, spaces/dashes/brackets and +86 dropped.

    `022-2345 6789` → `02223456789`. The 8-digit local form stays as typed (022 is optional
    by the domain rule). Nothing is judged here; ``check_phone`` says whether it is valid.
    """
    text = fold(value)
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    return text


def phone_kind(value: object) -> str | None:
    """"mobile", "landline" or None for a canonical (normalised) number."""
    if not isinstance(value, str):
        return None
    if MOBILE.fullmatch(value):
        return "mobile"
    if LANDLINE.fullmatch(value):
        return "landline"
    return None


def check_phone(value: object) -> str | None:
    """None when ``value`` is a valid canonical number, else the reason in Chinese."""
    if not isinstance(value, str) or not value:
        return "电话号码为空"
    if phone_kind(value):
        return None
    if not value.isdigit():
        return "电话号码只能包含数字"
    if value.startswith("1"):
        return "手机号码应为11位，以13–19开头"
    if value.startswith("0") and not value.startswith(TIANJIN_AREA):
        return "只接受天津固定电话（区号022）或手机号码"
    return "固定电话应为8位号码，可加区号022"


def mask_phone(value: object) -> str:
    """Hide the middle: mobiles `138****5678`; landlines keep only their last four
    (`*******6789`, 8-digit `****6789`)."""
    text = "" if value is None else str(value)
    if len(text) == 11 and text.startswith("1"):
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if len(text) > 4:
        return "*" * (len(text) - 4) + text[-4:]
    return "*" * len(text)
