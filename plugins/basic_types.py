"""The built-in field types, registered through the same hook a third-party plugin uses.

Each type says how a value looks in JSON Schema (`json_schema`), how staff input is cleaned
before it is checked (`normalize`: "12" -> 12, "2026/1/5" -> "2026-01-05", trimmed text), which
widget the UI should draw, and — for dates — how a stored value reads inside expressions
(`to_python`). Constraints that every type shares (min/max, lengths, choices, rows) are added by
`core.formlang.compile`, so a plugin type gets them without repeating them.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from core.transfer.exportform import split_multi
from carebook import hookimpl
from core.textsafety import is_blank, text_problem


@dataclass(frozen=True)
class FieldType:
    """A field type described as data plus one cleaning function."""

    name: str
    widget: str
    schema: dict
    clean: Callable[[Any, Any], Any]
    format: str | None = None
    options: dict = field(default_factory=dict)
    needs_choices: bool = False
    python: Callable[[Any], Any] | None = None   # stored value -> value inside expressions
    # `normalize` depends on the value and the field only: a validator may remember its answers
    # (`core.records.validationplan`). True for every type built from this class, which are the
    # basic types below only; a plugin's own type says `pure = True` itself or is asked every time.
    pure: ClassVar[bool] = True

    def json_schema(self, field) -> dict:  # noqa: ARG002 - same signature for every type
        return dict(self.schema)

    def normalize(self, value: Any, field) -> Any:
        """Cleaned value, None for "not filled", or ValueError with a Chinese message.

        Text made only of spaces and invisible characters is "not filled" (so `required` says
        so); text holding control, bidi or zero-width characters is refused, whatever the type."""
        if type(value) is str and value.isprintable():     # the common case, as the lines below
            if self.clean in _STRIPPED:
                return value.strip() or None
            return self.clean(value, field) if value.strip() else None
        if value is None or (isinstance(value, str) and is_blank(value)):
            return None
        if isinstance(value, str) and (problem := text_problem(value, multiline=self.name == "longtext")):
            raise ValueError(problem)
        return self.clean(value, field)

    def to_python(self, value: Any) -> Any:
        return self.python(value) if self.python and value is not None else value


def _ascii(text: str) -> str:
    """Full-width digits and punctuation (common with Chinese IMEs) to ASCII."""
    return unicodedata.normalize("NFKC", text).strip()


def clean_text(value: Any, field) -> str:  # noqa: ARG001
    if isinstance(value, (list, dict)):
        raise ValueError("应为一段文字")
    if isinstance(value, bool):
        raise ValueError("应为一段文字，不是是/否")
    return str(value).strip()


def clean_integer(value: Any, field) -> int:  # noqa: ARG001
    if isinstance(value, bool):
        raise ValueError("请输入整数")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"请输入整数，不能有小数：{value}")
    text = _ascii(str(value)).replace(",", "")
    if re.fullmatch(r"[-+]?\d+(\.0*)?", text):
        return int(text.split(".")[0])
    raise ValueError(f"请输入整数：{value}")


def clean_decimal(value: Any, field) -> float | int:  # noqa: ARG001
    if isinstance(value, bool):
        raise ValueError("请输入数字")
    if isinstance(value, (int, float)):
        number = value
    else:
        text = _ascii(str(value)).replace(",", "")
        if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)", text):
            raise ValueError(f"请输入数字：{value}")
        number = float(text)
    if isinstance(number, float) and (number != number or number in (float("inf"), float("-inf"))):
        raise ValueError("请输入有限的数字")
    return number


_DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def parse_date(value: Any) -> dt.date:
    """`2026-1-5`, `2026/01/05`, `2026.1.5`, `2026年1月5日`, `20260105` or a date -> date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if type(value) is str and len(value) == 10 and value.isascii() and value[4] == "-" == value[7] \
            and value[:4].isdigit() and value[5:7].isdigit() and value[8:].isdigit():
        try:                             # already YYYY-MM-DD (every stored and exported date)
            return dt.date(int(value[:4]), int(value[5:7]), int(value[8:]))
        except ValueError:
            pass                         # no such day: said below, in the general path's words
    text = _ascii(str(value))
    m = _DATE_RE.fullmatch(text) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
    if not m:
        raise ValueError(f"日期格式应为 YYYY-MM-DD，如 2026-01-05：{value}")
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise ValueError(f"没有这一天：{value}") from None


def clean_date(value: Any, field) -> str:  # noqa: ARG001
    """The date as YYYY-MM-DD. A text already written so that names a real day is remembered
    (`_ISO_DAYS`): a 50,000-row import cleans 380,000 dates, spread too widely over the years
    for each field's own memory to keep them, but drawn from some tens of thousands of days.
    Whether a text names a day depends on the text alone, so the memory is shared and never
    goes stale; it stops growing at `ISO_DAYS_LIMIT` texts."""
    if type(value) is str and value in _ISO_DAYS:
        return value
    day = parse_date(value).isoformat()
    if day == value and len(_ISO_DAYS) < ISO_DAYS_LIMIT:
        _ISO_DAYS.add(day)
    return day


ISO_DAYS_LIMIT = 1 << 16         # texts (~5 MB at most); a 1926–2026 calendar is 36,900 days
_ISO_DAYS: set[str] = set()


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_iso_date(value: Any) -> bool:
    if type(value) is str and value in _ISO_DAYS:      # a day `clean_date` gave as it was written
        return True
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


is_iso_date.pure = True      # reads only the value (core.records.schemafast may remember its answers)


_TRUE = {"true", "1", "是", "yes", "y", "对", "有", "√"}
_FALSE = {"false", "0", "否", "no", "n", "错", "无", "×"}


def clean_boolean(value: Any, field) -> bool:  # noqa: ARG001
    if isinstance(value, bool):
        return value
    text = _ascii(str(value)).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"应为 是 或 否：{value}")


def clean_choice(value: Any, field) -> str:  # noqa: ARG001
    if isinstance(value, (list, dict, bool)):
        raise ValueError("只能选一项")
    return str(value).strip()


_STRIPPED = (clean_text, clean_choice)     # a printable text is cleaned to itself, stripped


def clean_multi(value: Any, field) -> list[str] | None:  # noqa: ARG001
    if isinstance(value, str):
        value = split_multi(value)
    if not isinstance(value, (list, tuple, set)):
        raise ValueError("应为多个选项的列表")
    items = [str(v).strip() for v in value if v is not None and str(v).strip()]
    for item in items:
        if problem := text_problem(item):
            raise ValueError(problem)
    return list(dict.fromkeys(items)) or None


def clean_repeat(value: Any, field) -> list[dict] | None:  # noqa: ARG001
    if not isinstance(value, (list, tuple)):
        raise ValueError("应为多行记录")
    rows = list(value)
    if any(not isinstance(r, dict) for r in rows):
        raise ValueError("每一行应为一组字段")
    return rows or None


def _iso_to_date(value: Any) -> Any:
    """`is_iso_date(value)` and then the date, reading the text once."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return value


BASIC_TYPES = (
    FieldType("text", "text", {"type": "string"}, clean_text),
    FieldType("longtext", "textarea", {"type": "string"}, clean_text),
    FieldType("integer", "integer", {"type": "integer"}, clean_integer),
    FieldType("decimal", "decimal", {"type": "number"}, clean_decimal),
    FieldType("date", "date", {"type": "string"}, clean_date, format="date", python=_iso_to_date),
    FieldType("boolean", "checkbox", {"type": "boolean"}, clean_boolean),
    FieldType("choice", "select", {"type": "string"}, clean_choice, needs_choices=True),
    FieldType("multi", "multiselect", {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
              clean_multi, needs_choices=True),
    FieldType("repeat", "repeat", {"type": "array", "items": {"type": "object"}}, clean_repeat),
    FieldType("record-ref", "reference", {"type": "string"}, clean_text,
              options={"form": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                       # {this form's field: the referenced record's field}, copied at save
                       "copy": {"type": "object", "additionalProperties": {"type": "string"}}}),
)


@hookimpl
def register_field_types(register):
    for ft in BASIC_TYPES:
        register(ft)


@hookimpl
def register_formats(register):
    register("date", is_iso_date, "日期应为 YYYY-MM-DD 格式的真实日期，如 2026-01-05")
