"""Records brought in from a spreadsheet: the ledgers offices kept in Excel before carebook.

The layout read is the one `carebook export records` writes (`carebook records template`
writes it empty): a parent sheet whose header row names the fields — by the label staff see or
by field id — with one row a person, and a sheet per repeat group (children) whose rows carry
the person's 档案编号 and are attached to that person. A title line above the header is
fine. CSV files are one table each (`registration.csv` and `registration-children.csv`, as exported, are given
together), read as UTF-8 (with or without BOM) or, failing that, GB18030 — what Excel on a
Chinese Windows saves.

Cells are turned back into what a form takes: choice labels into their values, 、-separated
lists into lists, town and village names into codes, Excel dates into ISO dates. Computed
columns (年龄, 性别 from the ID number, …) are skipped: the engine works them out again.
Every row is then validated exactly as a form saved in the UI; each problem is reported as
sheet, row, field and message. By default nothing is saved while any row has a problem (fix the
file and run again); `skip_bad` saves the good rows and reports the rest. A masked value
(`120107********0032`, from an export without --full) is refused, never stored.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from core.textsafety import unsafe_cell
from core.transfer.exportform import FILE_NO, FieldInfo, FormInfo, column_labels, split_multi
from core.transfer.exporting import ExportJob
from core.problems import CarebookError, Problem

HEADER_SCAN = 10                      # the header is within the first rows (a title may come first)
KEY = "档案编号"
IGNORED = {"记录ID", "表单版本", "更新时间", "停用字段的值", "序号", "id", "version", "updated", "row"}


@dataclass
class RowProblem:
    sheet: str
    line: int                     # the spreadsheet's own row number, as staff see it
    message: str

    def __str__(self) -> str:
        return f"{self.sheet} 第 {self.line} 行：{self.message}"


@dataclass
class ImportResult:
    rows: int = 0                 # people read from the file
    saved: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)     # columns skipped and why

    @property
    def refused(self) -> int:
        return len({(p.sheet, p.line) for p in self.problems})


class _Sheet:
    """A sheet read as it is walked: (row number, cells) pairs, the top rows kept for finding
    the header. A district's 50,000-row workbook is never held as cells (~300 MB)."""

    def __init__(self, name: str, rows: Iterable[tuple[int, list[Any]]]):
        self.name = name
        self._rows = self._read(rows)
        self.top: list[tuple[int, list[Any]]] = []
        for row in self._rows:
            self.top.append(row)
            if len(self.top) == HEADER_SCAN:
                break

    def _read(self, rows: Iterable[tuple[int, list[Any]]]) -> Iterator[tuple[int, list[Any]]]:
        """The rows, a file damaged part-way (a sheet whose XML breaks off, a bad CSV quote)
        told in Chinese: the reading libraries raise their own errors (an XML ParseError is a
        SyntaxError) only once they reach the damage."""
        try:
            yield from rows
        except (csv.Error, zipfile.BadZipFile, OSError, KeyError, ValueError, EOFError, SyntaxError) as exc:
            raise CarebookError(f"工作表“{self.name}”读到一半读不下去了，文件可能已损坏（{type(exc).__name__}: {exc}）") from None

    def after(self, index: int) -> Iterator[tuple[int, list[Any]]]:
        """The rows after top row `index` (the header), once."""
        yield from self.top[index + 1:]
        yield from self._rows


@dataclass
class _Person:
    sheet: str
    line: int
    key: str
    data: dict[str, Any]
    problems: list[str]


def import_records(eng, form_id: str, paths: Path | str | Iterable[Path | str], *, operator: str = "",
                   dry_run: bool = False, skip_bad: bool = False) -> ImportResult:
    """Read the file(s), validate every row, and save (see the module docstring). Several CSV
    files are one workbook: `registration.csv` and `registration-children.csv` as exported."""
    files = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    info = ExportJob(what="records", output=files[0], engine=eng, params={"form": form_id}).form()
    result = ImportResult()
    with contextlib.ExitStack() as open_files:
        sheets = [sheet for path in files for sheet in _read(path, open_files)]
        people = _people(eng, info, sheets, result)
        _children(eng, info, sheets, people, result)
    result.rows = len(people)
    good = []
    for person in people:
        problems = list(person.problems)
        if not problems:
            _, found = eng.check(form_id, person.data)
            problems = [_say(p) for p in found]
        if problems:
            result.problems += [RowProblem(person.sheet, person.line, m) for m in problems]
        else:
            good.append(person)
    unique = [f.id for f in eng.form(form_id).top_fields() if f.unique]
    _duplicates_in_file(info, unique, good, result)
    bad = {(q.sheet, q.line) for q in result.problems}
    good = [p for p in good if (p.sheet, p.line) not in bad]
    if dry_run or (result.problems and not skip_bad):
        return result

    def refused(i: int, problems: list[Problem]) -> None:
        person = good[i]
        result.problems += [RowProblem(person.sheet, person.line, _say(p)) for p in problems]

    result.saved = eng.bulk_save(form_id, [p.data for p in good], operator=operator, on_problem=refused)
    return result


def _say(p: Problem) -> str:
    """A warning cannot be accepted in a batch (it needs a typed reason): it is reported as one."""
    return p.message if p.is_error else f"警告（需在登记界面填写理由后保存）：{p.message}"


# ------------------------------------------------------------------------------ reading files
def _read(path: Path, open_files: contextlib.ExitStack) -> list[_Sheet]:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise CarebookError(f"找不到文件 {path}")
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, open_files)
    if suffix in (".csv", ".txt"):
        return [_read_csv(path)]
    raise CarebookError(f"只能导入 .xlsx 或 .csv 文件：{path.name}（.xls 请先在 Excel 中另存为 .xlsx）")


def _read_xlsx(path: Path, open_files: contextlib.ExitStack) -> list[_Sheet]:
    """openpyxl's read-only mode: rows come from the file as they are walked (it stays open
    until the import is done)."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise CarebookError(f"无法读取 Excel 文件 {path.name}：{exc}") from None
    open_files.callback(wb.close)
    return [_Sheet(ws.title, ((i, list(row)) for i, row in enumerate(ws.iter_rows(values_only=True), 1)))
            for ws in wb.worksheets]


def _read_csv(path: Path) -> _Sheet:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise CarebookError(f"无法识别 {path.name} 的文字编码（请另存为 UTF-8 的 CSV）")
    return _Sheet(path.stem, enumerate(csv.reader(io.StringIO(text)), 1))


def _header(sheet: _Sheet, known: set[str]) -> tuple[int, list[str]] | None:
    """The header row: the first of the top rows where at least two cells name known columns."""
    for n, (line, cells) in enumerate(sheet.top):
        names = [_text(c) for c in cells]
        if sum(1 for c in names if c in known) >= 2:
            return n, names
    return None


def _text(value: Any) -> str:
    """A cell as text; the apostrophe an export put before `=`, `+`, `-`, `@` (so Excel shows
    the value rather than running it, `core.textsafety.safe_cell`) is taken off again."""
    return "" if value is None else unsafe_cell(str(value).strip())


# ------------------------------------------------------------------------------ people
def _columns(info: FormInfo) -> dict[str, FieldInfo]:
    """Header text → field: the exported labels (made unique as the exporter makes them), the
    plain labels where they are unique, and the field ids."""
    out: dict[str, FieldInfo] = {}
    for f in info.table_fields:
        out.setdefault(f.id, f)
    plain = [f.label for f in info.table_fields]
    for f, label in zip(info.table_fields, column_labels(info)):
        out[label] = f
        if plain.count(f.label) == 1:
            out.setdefault(f.label, f)
    return out


def _people(eng, info: FormInfo, sheets: list[_Sheet], result: ImportResult) -> list[_Person]:
    columns = _columns(info)
    known = set(columns) | {KEY, FILE_NO}
    for sheet in sheets:
        found = _header(sheet, known)
        if found is not None and sum(1 for c in found[1] if c in columns) >= 3:
            break
    else:
        raise CarebookError("文件里找不到表头行（第一行或标题下一行应是字段名，如 姓名、公民身份号码）；"
                            "可用 carebook records template 生成模板")
    start, header = found
    mapping: dict[int, FieldInfo | None] = {}
    computed, unknown = [], []
    for i, name in enumerate(header):
        if not name or name in IGNORED:
            continue
        if name in (KEY, FILE_NO):
            mapping[i] = None
        elif name in columns and columns[name].computed:
            computed.append(name)
        elif name in columns:
            mapping[i] = columns[name]
        else:
            unknown.append(name)
    if computed:
        result.notes.append(f"{'、'.join(computed)}：计算字段，按其他字段重新计算，文件中的值未导入")
    if unknown:
        result.notes.append(f"{'、'.join(unknown)}：不是表单 {info.id} 的字段，这些列未导入")
    # The town first, so a village given by name is looked for in its own town.
    columns_in_order = sorted(mapping.items(), key=lambda kv: not (kv[1] is not None and kv[1].id == "town"))
    people = []
    renumbered = False
    for line, cells in sheet.after(start):
        if not any(_text(c) for c in cells):
            continue
        data: dict[str, Any] = {}
        problems: list[str] = []
        key = ""
        for i, f in columns_in_order:
            value = cells[i] if i < len(cells) else None
            if f is None:
                key = _text(value)
                continue
            _put(eng, f, value, data, problems)
        if key and _writable(info, FILE_NO) and key.startswith(str(data.get("village") or "-")):
            data[FILE_NO] = key           # carebook's own numbering is kept; any other is redone
        elif key and not renumbered:
            renumbered = True
            result.notes.append("档案编号不是“村代码-序号”格式的，已按本系统规则重新编号（子表仍按原编号对应到人）")
        people.append(_Person(sheet.name, line, key, data, problems))
    return people


def _writable(info: FormInfo, field_id: str) -> bool:
    f = info.field(field_id)
    return f is not None and not f.computed


def _put(eng, f: FieldInfo, value: Any, data: dict, problems: list[str], town: str | None = None) -> None:
    """One cell into `data[f.id]` as the form takes it, or a problem naming the column."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return
    if f.pii and isinstance(value, str) and "*" in value:
        problems.append(f"{f.label}：是遮蔽后的值（{value[:4]}…），请用 carebook export --full 导出的文件或原始数据")
        return
    try:
        data[f.id] = _value(eng, f, value, data.get("town") if town is None else town)
    except ValueError as exc:
        problems.append(f"{f.label}：{exc}")


def _value(eng, f: FieldInfo, value: Any, town: str | None) -> Any:
    value = unsafe_cell(value)
    if isinstance(value, dt.datetime):
        value = value.date() if value.time() == dt.time() else value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if f.type == "multi":
        items = value if isinstance(value, list) else split_multi(str(value))
        return [_choice(f, item) for item in items]
    if f.choices:
        return _choice(f, value)
    if f.type == "division":
        return _division(eng, value, town)
    if f.type in ("text", "longtext", "phone", "id_number") and isinstance(value, int):
        return str(value)           # a phone or ID typed into a number cell
    return value


def _choice(f: FieldInfo, value: Any) -> Any:
    text = _text(value)
    for v, label in f.choices:
        if text in (str(v), label):
            return v
    return text                     # validation names the choices allowed


def _division(eng, value: Any, town: str | None) -> str:
    """A town or village code, from its code or its name (a village name within its town)."""
    text = _text(value)
    divisions = eng.divisions
    found = divisions.get(text)
    if found is not None:
        return found.code
    candidates = [t for t in divisions.towns() if t.name == text]
    if not candidates:
        towns = [town] if town else [t.code for t in divisions.towns()]
        candidates = [v for t in towns for v in divisions.villages(t) if v.name == text]
    if len(candidates) == 1:
        return candidates[0].code
    if candidates:
        raise ValueError(f"“{text}”有重名，请填写区划代码")
    raise ValueError(f"区划数据里没有“{text}”（可填名称或12位代码）")


# ------------------------------------------------------------------------------ repeat groups
def _children(eng, info: FormInfo, sheets: list[_Sheet], people: list[_Person], result: ImportResult) -> None:
    """Rows of each group's sheet attached to the person with the same 档案编号."""
    by_key: dict[str, _Person] = {}
    for p in people:
        if p.key:
            by_key.setdefault(p.key, p)
    for group in info.groups:
        labels = {c.label: c for c in group.children} | {c.id: c for c in group.children}
        sheet = next((s for s in sheets if s.name.startswith(group.label[:28]) or s.name.endswith(f"-{group.id}")), None)
        found = _header(sheet, set(labels) | {KEY}) if sheet is not None else None
        if sheet is None or found is None:
            continue
        start, header = found
        if KEY not in header and FILE_NO not in header:
            result.notes.append(f"工作表“{sheet.name}”没有“档案编号”列，无法对应到人，未导入")
            continue
        key_at = header.index(KEY) if KEY in header else header.index(FILE_NO)
        for line, cells in sheet.after(start):
            if not any(_text(c) for c in cells):
                continue
            owner = by_key.get(_text(cells[key_at]) if key_at < len(cells) else "")
            if owner is None:
                result.problems.append(RowProblem(sheet.name, line, f"档案编号“{_text(cells[key_at])}”在主表中没有对应的人"))
                continue
            row: dict[str, Any] = {}
            problems: list[str] = []
            for i, name in enumerate(header):
                child = labels.get(name)
                if child is not None and not child.computed and i < len(cells):
                    _put(eng, child, cells[i], row, problems, town=owner.data.get("town"))
            owner.problems += [f"{group.label}（{sheet.name} 第 {line} 行）{m}" for m in problems]
            if row:
                owner.data.setdefault(group.id, []).append(row)


def _duplicates_in_file(info: FormInfo, unique: list[str], good: Iterable[_Person], result: ImportResult) -> None:
    """Two rows of the file with the same ID number (any `unique` field): the ledger check
    cannot see the second before the first is saved, so the file is checked against itself."""
    seen: dict[tuple[str, str], _Person] = {}
    for person in good:
        for fid in unique:
            value = str(person.data.get(fid) or "").strip().upper()
            if not value:
                continue
            first = seen.setdefault((fid, value), person)
            if first is not person:
                label = info.field(fid).label if info.field(fid) else fid
                result.problems.append(RowProblem(person.sheet, person.line, f"{label}与第 {first.line} 行重复"))
