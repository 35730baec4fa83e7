"""Cleaning what staff type: full-width characters, spaces and separators.

Chinese input methods produce full-width digits and letters (`１２３`, `Ｘ`) and people copy
numbers with spaces or dashes; every cleaning function starts from the same folding so an ID,
a phone and a division code are read the same way.
"""
from __future__ import annotations

import unicodedata

# Separators people put inside numbers; removed before checking.
SEPARATORS = " \t\r\n-－—–_·.()（）"
_DROP = str.maketrans("", "", SEPARATORS)


def fold(value: object) -> str:
    """NFKC-fold (full-width → ASCII, ideographic space → space) and drop separators."""
    return unicodedata.normalize("NFKC", str(value)).translate(_DROP)
