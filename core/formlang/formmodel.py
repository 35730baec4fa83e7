"""The in-memory shape of a checked form file.

Everything downstream — compiling to JSON Schema, validation, the UI, reports — reads these
dataclasses rather than the raw YAML dict, so key names and defaults live in one place.
`Form.from_raw` does no checking (see `core.formlang.formload` for that): it trusts a dict that already
passed the meta-schema and the semantic checks, which is also what the engine stores as a
snapshot for records saved under an older version.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Iterator

Choices = list[tuple[str, str]]

# Keys of a field dict that map to named attributes; anything else is kept in `options`
# (type-specific keys such as `form`, `level`, `parent`).
_FIELD_KEYS = ("id", "label", "aliases", "type", "required", "pii", "unique", "help", "placeholder", "default", "initial", "autonumber",
               "relevant", "readonly", "calculate", "cases", "override", "min", "max", "min_length",
               "max_length", "pattern", "choices", "rules", "min_rows", "max_rows", "fields")


def once_per_form(form: Any, key: str, make: Any) -> Any:
    """`make()` worked out once per form and kept on it: a loaded form does not change, and
    what saves, rows and checks derive from its fields (autonumber and record-ref fields, row
    keys, shapes) was otherwise walked again for each of 50,000 records. A form-like object
    without a `__dict__` is asked each time."""
    cache = getattr(form, "__dict__", None)
    found = cache.get(key) if cache is not None else None
    if found is None:
        found = make()
        if cache is not None:
            cache[key] = found
    return found


def choice_items(items: list) -> Choices:
    """`[是, {value: 高, label: 高风险}]` -> `[("是", "是"), ("高", "高风险")]`."""
    out: Choices = []
    for item in items or []:
        if isinstance(item, dict):
            value = str(item.get("value"))
            out.append((value, str(item.get("label", value))))
        else:
            out.append((str(item), str(item)))
    return out


@dataclass
class Rule:
    id: str
    check: str
    message: str
    severity: str = "error"
    when: str | None = None
    fields: list[str] = field(default_factory=list)
    source: tuple = ()            # path in the form file, for locating expression errors

    @classmethod
    def from_raw(cls, raw: dict, source: tuple = ()) -> "Rule":
        return cls(raw["id"], raw["check"], raw["message"], raw.get("severity", "error"),
                   raw.get("when"), list(raw.get("fields", [])), source)


@dataclass
class Case:
    value: Any
    when: str | None = None
    reason: str = ""


@dataclass
class Field:
    id: str
    label: str
    type: str
    required: bool | str = False
    pii: bool = False
    unique: bool = False
    help: str = ""
    placeholder: str = ""
    default: Any = None
    initial: str | None = None     # expression filled in once when a blank record is created
    autonumber: str | None = None  # "{village}-{seq:04d}": filled at save when left empty
    relevant: str | None = None
    readonly: bool = False
    calculate: str | None = None
    cases: list[Case] = field(default_factory=list)
    override: bool = False
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    choices: str | list | None = None
    rules: list[Rule] = field(default_factory=list)
    min_rows: int | None = None
    max_rows: int | None = None
    fields: list["Field"] = field(default_factory=list)     # repeat children
    options: dict[str, Any] = field(default_factory=dict)   # type-specific keys (form, level, parent)
    source: tuple = ()
    aliases: list[str] = field(default_factory=list)   # other column names an import accepts

    @property
    def computed(self) -> bool:
        """True when the value comes from `calculate` or `cases`, not from staff."""
        return bool(self.calculate or self.cases)

    def __getattr__(self, name: str) -> Any:
        # Type-specific keys read like attributes (`field.level`), so plugins need no dict access.
        options = self.__dict__.get("options", {})
        if name in options:
            return options[name]
        raise AttributeError(name)

    @classmethod
    def from_raw(cls, raw: dict, source: tuple = ()) -> "Field":
        kw = {k: raw[k] for k in _FIELD_KEYS if k in raw and k not in ("cases", "rules", "fields")}
        return cls(
            **kw,
            cases=[Case(c.get("value"), c.get("when"), c.get("reason", "")) for c in raw.get("cases", [])],
            rules=[Rule.from_raw(r, source + ("rules", i)) for i, r in enumerate(raw.get("rules", []))],
            fields=[cls.from_raw(f, source + ("fields", i)) for i, f in enumerate(raw.get("fields", []))],
            options={k: v for k, v in raw.items() if k not in _FIELD_KEYS},
            source=source,
        )


@dataclass
class Section:
    id: str
    title: str
    fields: list[Field] = field(default_factory=list)
    relevant: str | None = None
    help: str = ""
    source: tuple = ()


@dataclass
class Form:
    id: str
    version: int
    title: str
    sections: list[Section] = field(default_factory=list)
    partition: str | None = None
    title_field: str | None = None
    list_fields: list[str] = field(default_factory=list)
    incomplete: dict[str, str] = field(default_factory=dict)   # {field, value}: the 待补全 status
    settings: dict[str, Any] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    lists: dict[str, Choices] = field(default_factory=dict)    # local and shared lists, resolved
    source: str | None = None                                   # the form file
    raw: dict = field(default_factory=dict, repr=False)
    town: str | None = None                                     # set on a town's overlaid copy
    overlays: list[str] = field(default_factory=list)           # what was added for that town

    @classmethod
    def from_raw(cls, raw: dict, *, shared_lists: dict[str, Choices] | None = None,
                 source: str | None = None) -> "Form":
        """Build a Form from a checked form-file dict (shared lists fill in names not defined locally)."""
        lists = dict(shared_lists or {})
        lists.update({name: choice_items(items) for name, items in (raw.get("lists") or {}).items()})
        sections = [
            Section(s["id"], s["title"],
                    [Field.from_raw(f, ("sections", si, "fields", fi)) for fi, f in enumerate(s["fields"])],
                    s.get("relevant"), s.get("help", ""), ("sections", si))
            for si, s in enumerate(raw.get("sections", []))
        ]
        return cls(
            id=raw["id"], version=raw["version"], title=raw.get("title", raw["id"]), sections=sections,
            partition=raw.get("partition"), title_field=raw.get("title_field"),
            list_fields=list(raw.get("list_fields", [])), incomplete=dict(raw.get("incomplete") or {}),
            settings=dict(raw.get("settings") or {}),
            rules=[Rule.from_raw(r, ("rules", i)) for i, r in enumerate(raw.get("rules", []))],
            lists=lists, source=source, raw=raw,
        )

    # --- looking things up -------------------------------------------------------------

    def top_fields(self) -> list[Field]:
        """The record's own fields (repeat children not included)."""
        return [f for s in self.sections for f in s.fields]

    def fields_flat(self) -> list[Field]:
        """Every field, repeat children right after their group, in form order."""
        def walk(fields: list[Field]) -> Iterator[Field]:
            for f in fields:
                yield f
                yield from walk(f.fields)
        return list(walk(self.top_fields()))

    def field(self, field_id: str) -> Field | None:
        return self._index().get(field_id)

    def section_of(self, field_id: str) -> Section | None:
        for s in self.sections:
            if any(f.id == field_id for f in s.fields):
                return s
        return None

    def _index(self) -> dict[str, Field]:
        return once_per_form(self, "_field_index", lambda: {f.id: f for f in self.fields_flat()})

    def choices_for(self, field: Field | str) -> Choices:
        """`[(value, label), ...]` for a choice/multi field ([] when it has none)."""
        f = self.field(field) if isinstance(field, str) else field
        if f is None or f.choices is None:
            return []
        if isinstance(f.choices, str):
            return list(self.lists.get(f.choices, []))
        return choice_items(f.choices)

    def defaults(self) -> dict[str, Any]:
        """Starting values of a new record: each top-level field's `default`, when it has one."""
        return {f.id: copy.deepcopy(f.default) for f in self.top_fields() if f.default is not None}

    def snapshot_text(self) -> str:
        """The form file as JSON with every list it uses inlined, so it rebuilds on its own later.

        The engine stores this per version; `core.formlang.formload.compile_form_text` reads it back, so a
        record saved under version N still validates under version N after the file changed.
        """
        raw = copy.deepcopy(self.raw)
        used = {f.choices for f in self.fields_flat() if isinstance(f.choices, str)}
        lists = raw.setdefault("lists", {})
        for name in sorted(used):
            if name not in lists and name in self.lists:
                lists[name] = [{"value": v, "label": lab} for v, lab in self.lists[name]]
        return json.dumps(raw, ensure_ascii=False, indent=1)
