"""Which column of an office's sheet is which field: proposed, shown, saved, reused.

Offices keep their own rosters: 身份证号码 where the form says 公民身份号码, 家庭住址 for
现居住地址, the children as columns of the person's row (子女姓名 | 子女联系电话 | 子女务工地点,
or 子女1 … 子女3), the village only in the title ("太平镇翟庄子村留守老人花名册"). Guessing
silently would put a phone number into the wrong field for 5,000 people, so the guess is a
`ColumnMap` the admin reads first (`records import --map`, the import screen), can save as a
small YAML file, correct, and give back (`--mapping FILE`).

Headers are compared after normalising what spreadsheets vary in: full-width letters and
brackets (NFKC), spaces and line breaks inside a cell, a leading `*` marking a required column.
A header matches a field by its label, its id, the column name carebook's own export writes,
or one of the field's `aliases` in the form file. A repeat group's `aliases` are prefixes: 子女
+ 姓名 is the child's 姓名, 子女2 + 电话 the second child's phone; a cell holding several
names (张伟、张丽) with as many phones gives as many rows.
"""
from __future__ import annotations

import difflib
import itertools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.problems import CarebookError
from core.transfer.exportform import FILE_NO, FieldInfo, FormInfo, column_labels

KEY = "档案编号"
IGNORED = {"记录ID", "表单版本", "更新时间", "停用字段的值", "序号", "编号", "id", "version", "updated", "row", "备注", "说明"}
CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_SLOT = re.compile(r"^(\d+|[一二三四五六七八九十])?(?:的)?(.*)$")
TOTAL_WORDS = ("合计", "总计", "小计", "共计")
FOOTER_WORDS = ("填表人", "制表人", "审核人", "负责人", "填报人", "联系人：")

# how a column was matched → confidence shown to the admin
EXACT, ALIAS, CHILD, CLOSE = "字段名", "同义词", "子女列", "相近"
SKIPPED, COMPUTED, KEYCOL, UNKNOWN, TWICE = "不导入", "计算字段", "档案编号", "未识别", "重复"


def norm(text: Any) -> str:
    """A header as compared: NFKC (全角 → 半角), no whitespace or line breaks, no `*` marks."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text))
    return re.sub(r"[\s*]+", "", s)


@dataclass
class Column:
    index: int                  # 0-based position in the header row
    header: str                 # as written in the file
    target: str | None          # "id_number", "children.child_name", "children.2.child_phone", "@key", None
    how: str
    confidence: float = 0.0

    @property
    def imported(self) -> bool:
        return bool(self.target)


@dataclass
class ColumnMap:
    form: str
    sheet: str = ""
    header_line: int = 1                      # the header's row number, as staff see it
    columns: list[Column] = field(default_factory=list)
    fixed: dict[str, str] = field(default_factory=dict)      # field id → text, for every row
    title: str = ""                           # the title line(s) above the header
    from_title: dict[str, str] = field(default_factory=dict)  # field id → name read from the title
    reviewed: bool = False                    # read from a mapping file the admin saved
    info: FormInfo | None = field(default=None, repr=False, compare=False)   # for the labels shown

    @property
    def unmatched(self) -> list[Column]:
        return [c for c in self.columns if c.how in (UNKNOWN, TWICE)]

    def describe(self) -> list[str]:
        """The mapping as printed by `records import --map` and shown on the import screen."""
        info = self.info
        lines = [f"工作表“{self.sheet}”，表头在第 {self.header_line} 行" + (f"；标题：{self.title}" if self.title else ""),
                 "  文件中的列 → 字段（依据 把握）"]
        width = max([len(c.header) for c in self.columns] + [4])
        why = {COMPUTED: "（不导入：计算字段，按其他字段重新算）", UNKNOWN: "（未识别，不导入）",
               TWICE: "（与前面的列对应同一字段，不导入）"}
        for c in self.columns:
            header = (c.header or "（空）").replace("\n", " ")
            where = f"{target_label(info, c.target)}（{c.how} {c.confidence:.0%}）" if c.target else why.get(c.how, "（不导入）")
            lines.append(f"  {header:{chr(12288)}<{width}} → {where}")
        for fid, text in self.fixed.items():
            lines.append(f"  全表统一：{target_label(info, fid)} = {text}")
        for fid, text in self.from_title.items():
            if fid not in self.fixed:
                lines.append(f"  从标题读出：{target_label(info, fid)} = {text}（该列为空的行用它）")
        if self.unmatched:
            lines.append("未对应的列（不会导入）：" + "、".join(c.header for c in self.unmatched))
        return lines

    def to_yaml(self) -> str:
        """A small file the admin can read and correct: one line per column of the sheet."""
        out = ["# carebook 导入列对应：records import --map 生成。核对每一列对应的字段（写 null 即不导入），",
               "# 然后 carebook records import 表单 文件 --mapping 本文件 导入。",
               f"form: {self.form}", f"sheet: {_quoted(self.sheet)}", f"header_row: {self.header_line}", "columns:"]
        for c in self.columns:
            out.append(f"  - {_quoted(c.header)}: {_quoted(c.target) if c.target else 'null'}    # {c.how}"
                       + (f" {c.confidence:.0%}" if c.target else ""))
        if self.fixed or self.from_title:
            out.append("set:                     # 全表统一的值（名称或代码）")
            for fid, text in {**self.from_title, **self.fixed}.items():
                out.append(f"  {fid}: {_quoted(text)}")
        return "\n".join(out) + "\n"

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        path.write_text(self.to_yaml(), encoding="utf-8")
        return path


def parse_fixed(items: list[str]) -> dict[str, str]:
    """`town=太平镇` pairs (--set, or the import screen's box): a field id or label, then a name or code."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise CarebookError(f"全表统一的值应写成 字段=值，如 town=太平镇（收到：{item}）")
        out[key.strip()] = value.strip()
    return out


def _quoted(text: str) -> str:
    """A YAML string in double quotes (JSON's form), so 是/否/no/010 stay text when read back."""
    return json.dumps(text, ensure_ascii=False)


def target_label(info: FormInfo | None, target: str) -> str:
    """`children.2.child_phone` → 子女及其他赡养人 第2人 联系电话; `id_number` → 公民身份号码."""
    if info is None:
        return target
    if target == "@key":
        return KEY
    parts = target.split(".")
    f = info.field(parts[0])
    if len(parts) == 1:
        return f.label if f else target
    child = info.field(parts[-1])
    slot = f"第{parts[1]}人 " if len(parts) == 3 else ""
    return f"{f.label if f else parts[0]} {slot}{child.label if child else parts[-1]}"


def read_mapping(path: Path | str, info: FormInfo) -> ColumnMap:
    """A mapping file as saved by `--map` (and perhaps corrected): every target must exist."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CarebookError(f"读不了列对应文件 {path.name}：{exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("columns"), list):
        raise CarebookError(f"列对应文件 {path.name} 应有 columns: 一列一行（可用 --map 生成）")
    if raw.get("form") not in (None, info.id):
        raise CarebookError(f"列对应文件 {path.name} 是表单 {raw.get('form')} 的，不是 {info.id} 的")
    cmap = ColumnMap(info.id, sheet=str(raw.get("sheet") or ""), header_line=int(raw.get("header_row") or 1),
                     reviewed=True)
    for n, item in enumerate(raw["columns"], 1):
        if not isinstance(item, dict) or len(item) != 1:
            raise CarebookError(f"列对应文件 {path.name} columns 第 {n} 项应写成“- 列名: 字段”")
        [(header, target)] = item.items()
        target = str(target) if target not in (None, "") else None
        if target and target != "@key" and not valid_target(info, target):
            raise CarebookError(f"列对应文件 {path.name} columns 第 {n} 项：“{header}”对应的 {target} "
                                f"不是表单 {info.id} 的字段")
        cmap.columns.append(Column(n - 1, str(header), target, "已核对" if target else SKIPPED, 1.0 if target else 0.0))
    for fid, text in (raw.get("set") or {}).items():
        cmap.fixed[str(fid)] = str(text)
    return cmap


def valid_target(info: FormInfo, target: str) -> bool:
    parts = target.split(".")
    group = info.field(parts[0])
    if group is None:
        return False
    if len(parts) == 1:
        return not group.is_repeat and not group.computed
    if not group.is_repeat or len(parts) > 3 or (len(parts) == 3 and not parts[1].isdigit()):
        return False
    return any(c.id == parts[-1] and not c.computed for c in group.children)


class Matcher:
    """Header text → field, built once per import from the form (labels, ids, aliases)."""

    def __init__(self, info: FormInfo, form):
        self.info = info
        self.names: dict[str, tuple[FieldInfo, str]] = {}
        for f in info.table_fields:
            self.names.setdefault(norm(f.id), (f, EXACT))
        plain = [f.label for f in info.table_fields]
        for f, label in zip(info.table_fields, column_labels(info)):
            self.names[norm(label)] = (f, EXACT)
            if plain.count(f.label) == 1:
                self.names.setdefault(norm(f.label), (f, EXACT))
        for f in info.table_fields:
            for alias in _aliases(form, f.id):
                self.names.setdefault(norm(alias), (f, ALIAS))
        self.groups: list[tuple[str, FieldInfo, dict[str, FieldInfo]]] = []
        for g in info.groups:
            kids: dict[str, FieldInfo] = {}
            for c in g.children:
                for name in (c.label, c.id, *_aliases(form, c.id)):
                    kids.setdefault(norm(name), c)
            for prefix in (g.label, g.id, *_aliases(form, g.id)):
                self.groups.append((norm(prefix), g, kids))
        self.groups.sort(key=lambda t: -len(t[0]))           # 子女及其他赡养人 before 子女
        self.ignored = {norm(x) for x in IGNORED}

    def match(self, header: Any, index: int, before: list[Column]) -> Column:
        text = "" if header is None else str(header).strip()
        h = norm(text)
        taken = {c.target for c in before if c.target}
        if not h or h in self.ignored:
            return Column(index, text, None, SKIPPED)
        if h in (norm(KEY), norm(FILE_NO)):
            return Column(index, text, "@key", KEYCOL, 1.0)
        found = self.names.get(h)
        if found is not None and found[0].id in taken:
            child = self._as_neighbour_child(h, index, before)    # 子女姓名 | 联系电话: the child's phone
            if child is not None:
                return child
        if found is not None:
            f, how = found
            if f.computed:
                return Column(index, text, None, COMPUTED)
            if f.id in taken:
                return Column(index, text, None, TWICE)
            return Column(index, text, f.id, how, 1.0 if how == EXACT else 0.95)
        child = self._child(h, index, text)
        if child is not None:
            return child if child.target not in taken else Column(index, text, None, TWICE)
        close = difflib.get_close_matches(h, list(self.names), n=1, cutoff=0.75)
        if close:
            f, _ = self.names[close[0]]
            ratio = difflib.SequenceMatcher(None, h, close[0]).ratio()
            if not f.computed and f.id not in taken:
                return Column(index, text, f.id, CLOSE, round(ratio * 0.8, 2))
        return Column(index, text, None, UNKNOWN)

    def _child(self, h: str, index: int, text: str) -> Column | None:
        for prefix, group, kids in self.groups:
            if not h.startswith(prefix):
                continue
            m = _SLOT.match(h[len(prefix):])
            slot_text, rest = m.group(1), m.group(2).strip("()")
            slot = (int(slot_text) if slot_text.isdigit() else CN_DIGITS[slot_text]) if slot_text else None
            kid = kids.get(rest) if rest else next((c for c in group.children if not c.computed), None)
            if kid is None and rest:      # 子女情况姓名 (a two-row header): the name at the end
                ends = sorted((n for n in kids if n and rest.endswith(n)), key=len, reverse=True)
                kid = kids[ends[0]] if ends else None
            if kid is None or kid.computed:
                continue
            target = f"{group.id}.{slot}.{kid.id}" if slot else f"{group.id}.{kid.id}"
            return Column(index, text, target, CHILD, 0.9)
        return None

    def _as_neighbour_child(self, h: str, index: int, before: list[Column]) -> Column | None:
        prev = before[-1] if before else None
        if prev is None or not prev.target or prev.target.count(".") == 0:
            return None
        parts = prev.target.split(".")
        group = self.info.field(parts[0])
        kid = next((c for c in group.children for n in (c.label, c.id) if norm(n) == h), None) if group else None
        if kid is None:
            return None
        target = ".".join(parts[:-1] + [kid.id])
        if any(c.target == target for c in before):
            return None
        return Column(index, "", target, CHILD, 0.8)


def _aliases(form, field_id: str) -> list[str]:
    f = form.field(field_id) if form is not None else None
    return list(getattr(f, "aliases", None) or [])


def propose(matcher: Matcher, cells: list[Any]) -> list[Column]:
    columns: list[Column] = []
    for i, cell in enumerate(cells):
        col = matcher.match(cell, i, columns)
        if not col.header:
            col.header = "" if cell is None else str(cell).strip()
        columns.append(col)
    while columns and not columns[-1].header:
        columns.pop()
    return columns


def two_row_header(head: list[Any], below: list[Any] | None) -> list[str] | None:
    """A header whose group cell (子女情况, merged over three columns) names its columns in the
    row below (姓名 | 联系电话 | 务工地点): read as one row (子女情况姓名 …). None when `below` is
    not such a row: its cells must all sit under a merged group cell, and hold no numbers."""
    texts = ["" if c is None else str(c).strip() for c in head]
    subs = {i: str(c).strip() for i, c in enumerate(below or []) if c is not None and str(c).strip()}
    if len(subs) < 2 or any(sum(ch.isdigit() for ch in t) >= 6 for t in subs.values()):
        return None

    def in_group(i: int) -> bool:
        empty_here = i >= len(texts) or not texts[i]
        starts_group = i < len(texts) and texts[i] and (i + 1 >= len(texts) or not texts[i + 1])
        return bool(empty_here or starts_group) and any(texts[:i + 1])

    if not all(in_group(i) for i in subs):
        return None
    out, carry = [], ""
    for i in range(max(len(texts), max(subs) + 1)):
        own = texts[i] if i < len(texts) else ""
        carry = own or carry
        out.append((carry + subs[i]) if i in subs else own)
    return out


def apply_saved(saved: ColumnMap, cells: list[Any]) -> list[Column]:
    """The reviewed mapping laid over this file's header: by header text, in order of occurrence
    (two 联系电话 columns stay two), so a column moved or added elsewhere does not shift the rest."""
    pending: dict[str, list[Column]] = {}
    for c in saved.columns:
        pending.setdefault(norm(c.header), []).append(c)
    out = []
    for i, cell in enumerate(cells):
        text = "" if cell is None else str(cell).strip()
        queue = pending.get(norm(text))
        if queue:
            c = queue.pop(0)
            out.append(Column(i, text, c.target, c.how, c.confidence))
        elif text:
            out.append(Column(i, text, None, UNKNOWN))
    return out


def total_row(cells: list[Any]) -> bool:
    """A 合计/小计 row at the foot of a roster (or a signature line): not a person."""
    # only the first three filled cells are read (normalising all sixty was 7 % of an import check)
    texts = [norm(c) for c in itertools.islice((c for c in cells if c not in (None, "")), 3)]
    return bool(texts) and any(t.startswith(TOTAL_WORDS) or t.startswith(FOOTER_WORDS) for t in texts)


def divisions_in_title(divisions, title: str) -> dict[str, str]:
    """Town and village named in a title line (太平镇翟庄子村留守老人花名册) → {town, village}
    codes' names, only when the reading is unambiguous."""
    text = norm(title)
    if not text:
        return {}
    out: dict[str, str] = {}
    towns = [t for t in divisions.towns() if t.name and norm(t.name) in text]
    towns = _longest(towns)
    if len(towns) == 1:
        out["town"] = towns[0].name
    pool = towns if len(towns) == 1 else list(divisions.towns())
    villages = _longest([v for t in pool for v in divisions.villages(t.code) if v.name and norm(v.name) in text])
    if len(villages) == 1:
        out["village"] = villages[0].name
        if "town" not in out and divisions.name(villages[0].parent):
            out["town"] = divisions.name(villages[0].parent)
    return out


def _longest(found: list) -> list:
    """Among names found in one text, drop those inside a longer one found there too."""
    names = {norm(x.name) for x in found}
    return [x for x in found if not any(norm(x.name) != n and norm(x.name) in n for n in names)]
