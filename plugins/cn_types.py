"""Built-in plugin: the Chinese field types and format checkers.

`cn-resident-id` (公民身份号码), `phone` (mobile or Tianjin landline) and `division` (town or
village code from forms/data/divisions.yaml). The rules themselves live in ``plugins.cn`` so the
expression functions (plugins/functions.py) use the very same definitions.

Division data comes from ``<forms>/data/divisions.yaml`` of the engine the types are registered
for (``DivisionFile.of(engine)``): each engine gets its own division type, format check and
``divisions`` data, so two engines on two forms folders never share village names.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Callable

from core import dates

from carebook import hookimpl

from .cn import divisions
from .cn.ids import check_id, normalize_id, valid_number
from .cn.phones import check_phone, normalize_phone
from .cn.text import fold

LEVEL_NAMES = {"town": "街镇", "village": "村（居）委会"}


def option(field: Any, key: str, default: Any = None) -> Any:
    """A type option of a form field, whether the field is a dict or a ``Field`` object.

    Looked up in ``field.options`` first (type-specific keys), then as an attribute or key.
    """
    if field is None:
        return default
    opts = field.get("options") if isinstance(field, dict) else getattr(field, "options", None)
    if isinstance(opts, dict) and key in opts:
        return opts[key]
    if isinstance(field, dict):
        return field.get(key, default)
    value = getattr(field, key, None)
    return default if value is None else value


def blank(value: Any) -> bool:
    """Nothing typed: None, or text that is empty once spaces and separators are dropped.

    The validator treats a ``None`` from ``normalize`` as "not filled" (``required`` then decides),
    as the basic types do; without this an optional phone left empty was checked as the text
    "None" or "" and refused — "无电话" is common among elders, so empty must pass.
    """
    return value is None or (isinstance(value, str) and not fold(value))


class ResidentIdType:
    """公民身份号码: normalised on input (full-width → ASCII, x → X, 15 → 18 digits)."""

    name = "cn-resident-id"
    widget = "text"
    format = "cn-resident-id"
    options = {"upgrade_15": {"type": "boolean", "default": True,
                              "description": "把15位旧号码升级为18位"}}

    def json_schema(self, field: Any) -> dict:
        return {"type": "string", "format": self.format}

    def normalize(self, value: Any, field: Any = None) -> str | None:
        if blank(value):
            return None
        upgrade = bool(option(field, "upgrade_15", True))
        if upgrade:
            return valid_number(value)         # the same cleaning, remembered for id_sex & co.
        number = normalize_id(value, upgrade_15=upgrade)
        reason = check_id(number)
        if reason:
            raise ValueError(f"身份证号码无效：{reason}")
        return number


class PhoneType:
    """Mobile `1[3-9]` + 9 digits, or Tianjin landline (022 optional); separators dropped."""

    name = "phone"
    widget = "text"
    format = "cn-phone"
    pure = True          # cleaning depends on the value and the field only (validationplan)
    options: dict = {}

    def json_schema(self, field: Any) -> dict:
        return {"type": "string", "format": self.format}

    def normalize(self, value: Any, field: Any = None) -> str | None:
        if blank(value):
            return None
        number = normalize_phone(value)
        reason = check_phone(number)
        if reason:
            raise ValueError(f"电话号码无效：{reason}")
        return number


class DivisionType:
    """A town or village code from the division list, in use today.

    Whether a village belongs to the town chosen in ``parent`` needs the whole record; the UI
    narrows the village list by the parent, and forms can add the rule
    ``town_of(village) == town``.
    """

    name = "division"
    widget = "division"

    def __init__(self, source: divisions.DivisionFile | None = None):
        self.source = source or divisions.DivisionFile()
    format = "cn-division"
    options = {
        "level": {"enum": ["town", "village"], "description": "town：街镇；village：村（居）委会"},
        "parent": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$",
                   "description": "村字段所属街镇字段的 id"},
    }

    def json_schema(self, field: Any) -> dict:
        return {"type": "string", "pattern": r"^\d{12}$", "format": self.format}

    def memo_scope(self) -> tuple | None:
        """What `normalize` reads besides the value and the field: the division list as loaded
        and today's date. A validator remembers its answers while both stay the same
        (`core.records.validationplan`); None when the list does not load."""
        data = self.source.current_or_none()
        return None if data is None else (data, dates.today())

    def normalize(self, value: Any, field: Any = None, today: date | None = None) -> str | None:
        if blank(value):
            return None
        code = fold(value)
        if len(code) != 12 or not code.isdigit():
            raise ValueError("区划代码应为12位数字")
        try:
            data = self.source.current()
        except divisions.DivisionsError as exc:
            raise ValueError(f"区划数据文件有误，无法核对区划代码：{exc.problems[0]}") from None
        entry = data.get(code)
        level = option(field, "level")
        if entry is None:
            raise ValueError("区划代码不在区划数据中")
        if level in LEVEL_NAMES and entry.level != level:
            raise ValueError(f"应选择{LEVEL_NAMES[level]}，而不是{LEVEL_NAMES.get(entry.level, entry.level)}")
        if not entry.in_use(today or dates.today()):
            raise ValueError(f"{entry.name}（{code}）已停用或尚未启用")
        return code


def is_resident_id(value: Any) -> bool:
    return not isinstance(value, str) or check_id(value) is None


def is_phone(value: Any) -> bool:
    return not isinstance(value, str) or check_phone(value) is None


is_phone.pure = True         # reads only the value (core.records.schemafast may remember its answers)


def division_check(source: divisions.DivisionFile) -> Callable[[Any], bool]:
    """The ``cn-division`` format of one division file."""
    def is_division(value: Any) -> bool:
        """True for a code the division list has (at any time: old records keep old codes)."""
        if not isinstance(value, str):
            return True
        data = source.current_or_none()
        return data is not None and data.get(value) is not None
    return is_division


@hookimpl
def register_data(register, engine):
    """The engine's division list (``engine.divisions``), from its own forms folder."""
    register("divisions", divisions.DivisionFile.of(engine).current)


@hookimpl
def register_field_types(register, engine):
    for ft in (ResidentIdType(), PhoneType(), DivisionType(divisions.DivisionFile.of(engine))):
        register(ft)


@hookimpl
def register_formats(register, engine):
    register("cn-resident-id", is_resident_id, "身份证号码无效（应为18位，出生日期和校验码正确）")
    register("cn-phone", is_phone, "电话号码无效（手机号11位，或天津固定电话8位、可加区号022）")
    register("cn-division", division_check(divisions.DivisionFile.of(engine)),
             "区划代码不在区划数据中（见 forms/data/divisions.yaml）")
