"""Text that cannot hurt whoever reads it: in a field, a spreadsheet cell or a terminal.

Three readers are at risk from one typed or imported string:

- staff reading a name: invisible characters (zero-width spaces, bidi overrides that turn
  `张三‮7654` around) make two records look alike or one look like another, and a name of
  only U+200B looks empty yet passes "required" — so text fields refuse them with a message
  (`text_problem`) and a value made only of them counts as not filled (`is_blank`);
- Excel opening a CSV: a cell starting with `=`, `+`, `-`, `@` (or a tab/CR before one) is run
  as a formula (`=cmd|' /C calc'!A0`), so every text cell an exporter writes goes through
  `safe_cell`, which puts the apostrophe Excel itself uses for "this is text" in front;
- the terminal: ESC sequences in a stored value could retitle the window, move the cursor or
  hide lines, so everything the CLI prints goes through `printable`.
"""
from __future__ import annotations

import re
import unicodedata

# Zero-width and bidirectional controls by name, for the message; every other format (Cf)
# character is refused too, under the generic name.
_NAMES = {
    **{c: "零宽字符" for c in "\u200b\u200c\u200d\u2060\ufeff\u180e"},
    **{c: "文字方向控制符" for c in "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"},
}
FORMULA_START = frozenset("=+-@\t\r")
_LINE_BREAKS = frozenset("\n\r\t")


def _bad_char(ch: str, multiline: bool) -> bool:
    if ch in _LINE_BREAKS:
        return not multiline and ch != "\t"
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs")


def text_problem(text: str, *, multiline: bool = False) -> str | None:
    """A Chinese sentence naming the first character a text field must not hold, else None.

    Tabs are let through (a pasted cell); line breaks only where the field is `multiline`
    (long text). The message names the character by its code point, since it cannot be seen."""
    if text.isprintable():       # the common case, in C: no Cc/Cf/Zl/Zp character at all
        return None
    for i, ch in enumerate(text):
        if _bad_char(ch, multiline):
            kind = _NAMES.get(ch) or ("换行符" if ch in "\n\r\u2028\u2029" else "控制字符")
            return f"含有看不见的{kind}（U+{ord(ch):04X}，第 {i + 1} 个字符），请删除后重新输入"
    return None


_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u180e\u061c\u00ad]")


def is_blank(text: str) -> bool:
    """Nothing a person could read: spaces and invisible characters only (U+200B is not
    whitespace to Python, so `"\\u200b".strip()` is not empty)."""
    if text.isprintable():       # the common case, in C: no invisible (format) character at all
        return not text.strip()
    return not _INVISIBLE.sub("", text).strip()


def safe_cell(value):
    """A spreadsheet cell that Excel shows as typed and never evaluates (OWASP CSV injection):
    a text starting with = + - @ tab or CR gets a leading apostrophe. Numbers stay numbers."""
    if isinstance(value, str) and value and value[0] in FORMULA_START:
        return "'" + value
    return value


def unsafe_cell(value) -> str:
    """The cell as it was before `safe_cell` (import of a file carebook exported)."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        return value[1:]
    return value


_TERMINAL_BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u2028\u2029]")


def printable(text: str) -> str:
    """`text` safe to write to a terminal: control, bidi and zero-width characters shown as
    `\\x1b`-style escapes, so a stored value can neither drive the terminal nor hide itself."""
    if text.isascii() and text.isprintable():
        return text
    return _TERMINAL_BAD.sub(lambda m: f"\\u{ord(m[0]):04x}" if ord(m[0]) > 0xff else f"\\x{ord(m[0]):02x}", text)
