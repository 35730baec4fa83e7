"""ISO 7064 MOD 11-2, the check character of a 公民身份号码 (GB 11643-1999).

Core needs it without the Chinese plugin: the demo ledger makes valid numbers, and ``core``
imports no plugin module. ``plugins.cn.ids`` uses the same function for its checks.
"""
from __future__ import annotations

from operator import mul

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


_ZERO = ord("0") * sum(WEIGHTS)


def check_char(first17: str) -> str:
    """The MOD 11-2 check character for the first 17 digits.

    ASCII digits (every number once cleaned) are weighed as bytes in C — this runs for every
    ID number an import checks; other digits `int` reads (a regex `\\d` lets them through) as
    they always were."""
    if len(first17) == 17 and first17.isascii() and first17.isdigit():
        return CHECK_CHARS[(sum(map(mul, first17.encode(), WEIGHTS)) - _ZERO) % 11]
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS))
    return CHECK_CHARS[total % 11]
