"""A form and its records as exporters see them: labelled columns and display text.

Exporters must not each re-learn the form language (choice lists by name, repeat groups,
booleans, which fields are personal), or a CSV and a spreadsheet of the same records would
disagree. `form_info` reads a `core.formlang.formmodel.Form` — or the same shape as plain dicts, as
loaded from a form file — into `FormInfo`, and `flat_record` turns one stored record into a
parent row plus one list of rows per repeat group, already masked.

Town-specific fields (overlay files, a plugin's `extend_form`) belong to some towns' records
only, so they are not in the form every exporter reads. `with_town_fields` adds them to a
`FormInfo` as extra columns after the declared ones, each knowing its towns, so a records export
shows them filled for those towns and blank for every other town.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

MULTI_SEP = "、"
# What people put between several choices typed into one cell or one line of text.
_MULTI_SPLIT = re.compile(r"[、,，;；\n]")


def split_multi(text: str) -> list[str]:
    """`高血压、糖尿病` (or commas, semicolons, lines) as its items, blanks dropped."""
    return [s.strip() for s in _MULTI_SPLIT.split(text) if s.strip()]

FILE_NO = "file_no"
TOWN = "town"           # the field the engine reads a record's town from (town overlays)
# Whatever the form file says, these types always hold personal data: a forgotten `pii: true`
# must not put ID numbers or phone numbers in clear into a default export.
PII_BY_TYPE = {"cn-resident-id": "id", "phone": "phone"}


def get(obj: Any, key: str, default: Any = None) -> Any:
    """Read `key` from a dataclass-like object or a dict (form files loaded as plain data)."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


@dataclass
class FieldInfo:
    id: str
    label: str
    type: str
    choices: list[tuple[str, str]] = field(default_factory=list)   # (value, label)
    pii: str | None = None
    children: list["FieldInfo"] = field(default_factory=list)
    relevant: str | None = None
    help: str = ""
    paper_hint: str = ""
    required: Any = False
    computed: bool = False
    min_rows: int = 0
    max_rows: int | None = None
    names: Callable[[str], str | None] | None = None     # division code -> name
    towns: tuple[str, ...] = ()     # town-specific field: only these towns' records have it

    def applies(self, data: dict[str, Any]) -> bool:
        """Whether this record may hold a value for the field: always for a declared field, and
        for a town-specific one only when the record belongs to one of its towns (a stray
        value in another town's record must not show up under that town's column)."""
        return not self.towns or str(data.get(TOWN) or "") in self.towns

    @property
    def town_note(self) -> str:
        """`太平镇` (or several names joined by 、) for a town-specific field, else ''."""
        if not self.towns:
            return ""
        return MULTI_SEP.join((self.names(t) if self.names else None) or t for t in self.towns)

    @property
    def is_repeat(self) -> bool:
        return self.type == "repeat"

    def label_of(self, value: Any) -> str:
        """The label of the first choice equal to `value` or to its text (else the text)."""
        labels = self._labels()
        if labels is not None:
            lab = labels.get(value if value.__class__ is str else str(value))
            if lab is not None:
                return lab
            return "" if value is None else str(value)
        for v, lab in self.choices:
            if v == value or v == str(value):
                return lab
        return "" if value is None else str(value)

    def _labels(self) -> dict[str, str] | None:
        """{code: label} of the choices, first one winning — what the loop in `label_of`
        finds, in one look-up (an export of 50,000 people asks some two million times).
        None when a code is not a text (then only the loop is exact); remade if the list
        of choices is replaced or grows."""
        held = self.__dict__.get("_label_map")
        if held is None or held[0] is not self.choices or held[1] != len(self.choices):
            codes_are_text = all(v.__class__ is str and lab is not None for v, lab in self.choices)
            mapping = dict(reversed(self.choices)) if codes_are_text else None
            held = self.__dict__["_label_map"] = (self.choices, len(self.choices), mapping)
        return held[2]

    def display(self, value: Any) -> Any:
        """The value as staff read it: choice labels, multi joined with 、, 是/否.
        Numbers stay numbers so spreadsheets can sum them."""
        if value is None or value == "" or value == []:
            return ""
        if self.type == "boolean" or isinstance(value, bool):
            return "是" if value else "否"
        if isinstance(value, (list, tuple)):
            return MULTI_SEP.join(self.label_of(v) for v in value)
        if self.choices:
            return self.label_of(value)
        if self.type == "division" and self.names:
            return self.names(value) or str(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)       # 年收入 18900, not 18900.0 in a CSV cell or on paper
        if isinstance(value, (int, float)):
            return value
        return str(value)


@dataclass
class SectionInfo:
    id: str
    title: str
    fields: list[FieldInfo]
    relevant: str | None = None
    help: str = ""
    paper_hint: str = ""


@dataclass
class FormInfo:
    id: str
    version: Any
    title: str
    sections: list[SectionInfo]
    town_fields: list[FieldInfo] = field(default_factory=list)   # see `with_town_fields`

    @property
    def fields(self) -> list[FieldInfo]:
        """Top-level fields in form order, repeat groups included, then the town-specific
        fields (last, so the declared columns keep their places whatever a town adds)."""
        return [f for s in self.sections for f in s.fields] + self.town_fields

    @property
    def scalar_fields(self) -> list[FieldInfo]:
        return [f for f in self.fields if not f.is_repeat]

    @property
    def table_fields(self) -> list[FieldInfo]:
        """The parent table's columns after the key column (which already shows `file_no`)."""
        return [f for f in self.scalar_fields if f.id != FILE_NO]

    @property
    def groups(self) -> list[FieldInfo]:
        return [f for f in self.fields if f.is_repeat]

    def field(self, field_id: str) -> FieldInfo | None:
        for f in self.fields:
            if f.id == field_id:
                return f
            for c in f.children:
                if c.id == field_id:
                    return c
        return None


def _choices(raw: Any, lists: dict[str, Any]) -> list[tuple[str, str]]:
    if isinstance(raw, str):
        raw = lists.get(raw)
        if isinstance(raw, dict):               # a `kind: list` file loaded as a dict
            raw = raw.get("items")
        raw = get(raw, "items", raw) if raw is not None and not isinstance(raw, list) else raw
    out = []
    for item in raw or []:
        if isinstance(item, str):
            out.append((item, item))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            out.append((str(item[0]), str(item[1])))
        else:
            value = get(item, "value")
            out.append((str(value), str(get(item, "label", value))))
    return out


def pii_kind(raw: Any) -> str | None:
    """The masking kind of a field: its `pii` word, else guessed from type and id."""
    ftype, fid, pii = get(raw, "type", ""), get(raw, "id", ""), get(raw, "pii")
    if ftype in PII_BY_TYPE:
        return PII_BY_TYPE[ftype]
    if isinstance(pii, str) and pii:
        return pii
    if not pii:
        return None
    if "phone" in fid or "tel" in fid:
        return "phone"
    if "addr" in fid:
        return "address"
    if "name" in fid:
        return "name"
    return "other"


def _field(raw: Any, lists: dict[str, Any], names=None) -> FieldInfo:
    children = get(raw, "fields") or get(raw, "children") or []
    return FieldInfo(
        id=get(raw, "id"),
        label=get(raw, "label") or get(raw, "id"),
        type=get(raw, "type", "text"),
        choices=_choices(get(raw, "choices"), lists),
        pii=pii_kind(raw),
        children=[_field(c, lists, names) for c in children],
        relevant=get(raw, "relevant"),
        help=get(raw, "help") or "",
        paper_hint=get(raw, "paper_hint") or "",
        required=get(raw, "required", False),
        computed=bool(get(raw, "calculate") or get(raw, "cases")),
        min_rows=get(raw, "min_rows") or 0,
        max_rows=get(raw, "max_rows"),
        names=names,
    )


def form_info(form: Any, lists: dict[str, Any] | None = None,
              names: Callable[[str], str | None] | None = None) -> FormInfo:
    """Read a form (model object or plain dict) into the exporters' view of it.

    `names` turns division codes into town/village names (the engine's division list)."""
    all_lists = dict(lists or {})
    all_lists.update(get(form, "lists") or {})
    raw_sections = get(form, "sections") or [{"id": "main", "title": "", "fields": get(form, "fields") or []}]
    sections = [
        SectionInfo(
            id=get(s, "id"),
            title=get(s, "title") or "",
            fields=[_field(f, all_lists, names) for f in get(s, "fields") or []],
            relevant=get(s, "relevant"),
            help=get(s, "help") or "",
            paper_hint=get(s, "paper_hint") or "",
        )
        for s in raw_sections
    ]
    return FormInfo(get(form, "id"), get(form, "version"), get(form, "title") or get(form, "id"), sections)


def town_forms(engine: Any, form_id: str, version: int | None = None) -> list[tuple[str, Any]]:
    """(town, the form as that town's records see it) for every town whose form differs.

    Towns are asked one by one — the division list, and any town the stored records name
    (a retired one included) — because a plugin's `extend_form` answers per town and cannot
    list its towns in advance; the engine caches each merged form."""
    base = engine.form(form_id, version=version)
    towns = {t.code for t in engine.divisions.towns()}
    towns |= {str(r["town"]) for r in engine.index(form_id).rows.values() if r.get(TOWN)}
    out = []
    for town in sorted(towns):
        town_form = engine.form(form_id, version=version, town=town)
        if town_form is not base:
            out.append((town, town_form))
    return out


def with_town_fields(info: FormInfo, town_forms: Iterable[tuple[str, Any]],
                     names: Callable[[str], str | None] | None = None) -> FormInfo:
    """`info` with every field some town adds (and the form does not declare) as a
    town-specific field: first definition wins, the towns of all its definitions are kept."""
    declared = {f.id for f in info.fields} | {c.id for f in info.fields for c in f.children}
    found: dict[str, tuple[Any, dict[str, Any], list[str]]] = {}
    for town, form in town_forms:
        for section in get(form, "sections") or []:
            for raw in get(section, "fields") or []:
                fid = get(raw, "id")
                if fid not in declared:
                    found.setdefault(fid, (raw, get(form, "lists") or {}, []))[2].append(str(town))
    extra = []
    for raw, lists, towns in found.values():
        f = _field(raw, lists, names)
        f.towns = tuple(towns)
        extra.append(f)
    info.town_fields = extra
    return info


# --- records -------------------------------------------------------------------------------

def record_data(record: Any) -> dict[str, Any]:
    return get(record, "data") or {}


def file_no(record: Any) -> str:
    """A number staff can read back to a person: the file number, else a short record id."""
    data = record_data(record)
    return str(data.get(FILE_NO) or str(get(record, "id", ""))[:8])


Mask = Callable[[str | None, Any], Any]
BEIJING = dt.timezone(dt.timedelta(hours=8), "北京时间")


def local_time(stamp: Any) -> str:
    """A stored ISO timestamp as staff read it: Beijing time, `2026-11-30 21:02:05`.
    Storage may write UTC (`+00:00`); a clerk comparing 更新时间 with the office clock must not
    have to add eight hours. Text that is not a timestamp is passed through."""
    if not stamp:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    if moment.tzinfo is not None:
        moment = moment.astimezone(BEIJING)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _cell(f: FieldInfo, value: Any, mask: Mask) -> Any:
    text = f.display(value)
    return mask(f.pii, text) if f.pii else text


def column_labels(info: FormInfo) -> list[str]:
    """Labels of the scalar fields, made unique: a label seen before (姓名 of the person, then
    of the entrusted carer) gets its section title in front, so a column is never ambiguous.
    A town-specific column names its towns (`是否参加互助养老（太平镇）`): a reader at the
    district sees why the column is blank for most rows."""
    seen: set[str] = {"档案编号"}
    out = []
    for section in info.sections:
        for f in section.fields:
            if f.is_repeat or f.id == FILE_NO:
                continue
            label = f.label if f.label not in seen else f"{section.title}-{f.label}"
            seen.add(label)
            out.append(label)
    for f in info.town_fields:
        if not f.is_repeat:
            out.append(f"{f.label}（{f.town_note}）")
    return out


def parent_headers(info: FormInfo) -> list[str]:
    return ["档案编号"] + column_labels(info) + ["记录ID", "表单版本", "更新时间", RETIRED_HEADER]


def group_headers(group: FieldInfo) -> list[str]:
    return ["档案编号", "序号"] + [c.label for c in group.children]


def flat_record(info: FormInfo, record: Any, mask: Mask) -> tuple[list[Any], dict[str, list[list[Any]]]]:
    """One record as its parent row and its repeat-group rows (keyed by group id): the plain
    statement of what `RecordRows` does faster for a whole export (tests hold the two equal)."""
    table_fields, groups_of = info.table_fields, info.groups
    data, key = record_data(record), file_no(record)
    parent = [key] + [_cell(f, data.get(f.id) if f.applies(data) else None, mask) for f in table_fields]
    parent += [str(get(record, "id", "")), get(record, "version", ""), local_time(get(record, "updated")),
               retired_text(record, mask)]
    groups: dict[str, list[list[Any]]] = {}
    for g in groups_of:
        rows = (data.get(g.id) if g.applies(data) else None) or []
        groups[g.id] = [
            [key, i] + [_cell(c, (row or {}).get(c.id), mask) for c in g.children]
            for i, row in enumerate(rows, 1)
        ]
    return parent, groups


class RecordRows:
    """`flat_record` for every record of one export, faster: the layout is worked out once,
    and a column whose text comes from a short list (choices, 是/否, towns and villages) turns
    each value it meets into its cell once (`display`, then the mask) and looks it up after —
    a 50,000-person export asks the same few hundred values four million times. A plain text
    (name, address, ID number) is the value itself, masked when personal. The rows are those
    `flat_record` gives, value for value."""

    CACHED = 5000                     # values remembered per column

    def __init__(self, info: FormInfo, mask: Mask):
        self.info, self.mask = info, mask
        self.table_fields, self.groups = info.table_fields, info.groups
        self.parent = [self._column(f) for f in self.table_fields]
        self.children = {g.id: [self._column(c) for c in g.children] for g in self.groups}
        self.town_specific = [(i, f) for i, f in enumerate(self.table_fields) if f.towns]

    def _column(self, f: FieldInfo) -> tuple[str, bool, Callable[[Any], Any], Any, dict[str, Any]]:
        """(field id, whether a non-empty text is its own cell, how any other value becomes
        one, the cell of a missing value, {text: cell} of the texts met so far)."""
        plain = not f.pii and not f.choices and f.type not in ("boolean", "division", "multi")
        known: dict[str, Any] = {}
        return f.id, plain, self._maker(f, known), _cell(f, None, self.mask), known

    def _maker(self, f: FieldInfo, texts: dict[str, Any]) -> Callable[[Any], Any]:
        """How a value of `f` becomes its cell; a listed field's texts are kept in `texts`."""
        mask, kind = self.mask, f.pii
        if not f.choices and f.type not in ("boolean", "division", "multi"):
            def plain(value: Any) -> Any:
                if value.__class__ is str and value:
                    return mask(kind, value) if kind else value
                return _cell(f, value, mask)
            return plain
        memo: dict[Any, Any] = {}             # other values, by class and value
        limit = self.CACHED

        def listed(value: Any) -> Any:
            if value.__class__ is str:
                try:
                    return texts[value]
                except KeyError:
                    if len(texts) < limit:
                        texts[value] = _cell(f, value, mask)
                        return texts[value]
            key = (value.__class__, tuple(value) if value.__class__ is list else value)
            try:
                return memo[key]
            except KeyError:
                cell = _cell(f, value, mask)
                if len(memo) < limit:
                    memo[key] = cell
                return cell
            except TypeError:                 # a value that cannot be a key (a dict in a list)
                return _cell(f, value, mask)
        return listed

    def __call__(self, record: Any) -> tuple[list[Any], dict[str, list[list[Any]]]]:
        data, key = record_data(record), file_no(record)
        get_ = data.get
        # most of the four million cells without a call: a plain text is its own cell, a
        # missing value its column's blank, a listed text one met before looked up
        parent = [key] + [v if plain and v.__class__ is str and v else blank if v is None
                          else known[v] if v.__class__ is str and v in known else make(v)
                          for fid, plain, make, blank, known in self.parent for v in [get_(fid)]]
        for i, f in self.town_specific:
            if not f.applies(data):
                parent[i + 1] = _cell(f, None, self.mask)
        parent += [str(get(record, "id", "")), get(record, "version", ""), local_time(get(record, "updated")),
                   retired_text(record, self.mask)]
        groups: dict[str, list[list[Any]]] = {}
        for g in self.groups:
            rows = (data.get(g.id) if g.applies(data) else None) or []
            columns = self.children[g.id]
            groups[g.id] = [[key, i] + [v if plain and v.__class__ is str and v else blank if v is None
                                        else known[v] if v.__class__ is str and v in known else make(v)
                                        for fid, plain, make, blank, known in columns
                                        for v in [(row or {}).get(fid)]]
                            for i, row in enumerate(rows, 1)]
        return parent, groups


def masked_record(info: FormInfo, record: Any, mask: Mask) -> dict[str, Any]:
    """The stored record with personal values masked (for JSON): codes stay codes."""
    def clean(fields: Iterable[FieldInfo], data: dict[str, Any]) -> dict[str, Any]:
        out = dict(data)
        for f in fields:
            if f.id not in out:
                continue
            if f.is_repeat:
                out[f.id] = [clean(f.children, row or {}) for row in out[f.id] or []]
            elif f.pii:
                out[f.id] = mask(f.pii, out[f.id])
        return out

    base = dict(record) if isinstance(record, dict) else {
        k: get(record, k) for k in ("id", "form", "version", "created", "updated", "operator", "partition", "data", "meta")
    }
    base["data"] = clean(info.fields, record_data(record))
    base.update(masked_retired(base, mask))
    return base


# Values of fields the form no longer has (core.lifecycle.retired): exported, never dropped.
RETIRED_HEADER = "停用字段的值"


def masked_retired(record: dict, mask: Mask | None = None) -> dict:
    """`{"retired": ...}` with personal values masked by the kind kept with them ({} when none)."""
    if not isinstance(record, dict) or not record.get("retired"):
        return {}
    if mask is None:
        from core.transfer.exporting import mask_value as mask
    return {"retired": {k: {**v, "value": mask(v["pii"], v.get("value")) if v.get("pii") else v.get("value")}
                        for k, v in record["retired"].items()}}


def retired_text(record: Any, mask: Mask) -> str:
    from core.lifecycle.retired import as_text

    return as_text(record, mask) if isinstance(record, dict) and record.get("retired") else ""
