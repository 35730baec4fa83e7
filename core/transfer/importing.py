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
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from core.textsafety import FORMULA_START, unsafe_cell
from core.problems import CarebookError, Problem
from core.records import incomplete
from core.steadyfiles import steady
from core.transfer.exportform import FILE_NO, FieldInfo, FormInfo, split_multi
from core.transfer import xlsxread
from core.transfer.exporting import ExportJob, mask_value
from core.transfer.importmap import (COMPUTED, KEY, ColumnMap, Matcher, apply_saved, divisions_in_title, norm,
                                     propose, read_mapping, total_row, two_row_header)

HEADER_SCAN = 10                      # the header is within the first rows (a title may come first)


@dataclass
class RowProblem:
    sheet: str
    line: int                     # the spreadsheet's own row number, as staff see it
    message: str

    def __str__(self) -> str:
        return f"{self.sheet} 第 {self.line} 行：{self.message}"


@dataclass
class Incomplete:
    """A person imported as 待补全 and what is left to fill in."""
    sheet: str
    line: int
    name: str
    id_number: str
    missing: list[str]                                   # answers the file did not give
    refused_cells: list[str] = field(default_factory=list)   # cells the form could not take, and why

    def __str__(self) -> str:
        who = f"{self.name} {mask_value('id', self.id_number)}".strip()
        cells = f"；未导入的值：{'；'.join(self.refused_cells)}" if self.refused_cells else ""
        return f"{self.sheet} 第 {self.line} 行 {who}：缺 {len(self.missing)} 项（{'、'.join(self.missing)}）{cells}"


@dataclass
class ImportResult:
    rows: int = 0                 # people read from the file
    saved: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)     # columns and rows skipped and why
    incomplete: list[Incomplete] = field(default_factory=list)   # saved (or to be saved) as 待补全
    mapping: ColumnMap | None = None

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
    bad_cells: dict[str, str] = field(default_factory=dict)   # field id → why its cell was not taken


@steady()            # the division list looked at once per import, not per cell (core.steadyfiles)
def import_records(eng, form_id: str, paths: Path | str | Iterable[Path | str], *, operator: str = "",
                   dry_run: bool = False, skip_bad: bool = False, mapping: ColumnMap | Path | str | None = None,
                   fixed: dict[str, str] | None = None, strict: bool = False) -> ImportResult:
    """Read the file(s), validate every row, and save (see the module docstring). Several CSV
    files are one workbook: `registration.csv` and `registration-children.csv` as exported.
    `mapping`: a reviewed `ColumnMap` (or its file); `fixed`: values for every row (--set);
    `strict`: a row lacking answers is refused, not saved as 待补全.

    Streamed: each person is checked as the row is read, and only what the report needs is
    kept (problems, the 待补全 list, the ID numbers seen, the 档案编号 the group sheets point
    at) — and, to be saved, the good rows' data, pickled: a district's 50,000 rows held as
    dicts were 340 MB. The group sheets (children) are read first, by 档案编号, so each person
    is checked whole."""
    files = _files(paths)
    info = ExportJob(what="records", output=files[0], engine=eng, params={"form": form_id}).form()
    form = eng.form(form_id)
    result = ImportResult()
    checked = _Checked(eng, info, form, strict, keep=not dry_run)
    with contextlib.ExitStack() as open_files:
        open_files.enter_context(eng.checking_in_bulk())    # 50,000 checks: hooks nobody implements not asked
        sheets = [sheet for path in files for sheet in _read(path, open_files)]
        cmap, sheet, start = _locate(eng, info, form, sheets, mapping, fixed)
        result.mapping = cmap
        cells = _Cells(eng)
        groups = _GroupRows(cells, info, sheets, parent=sheet)
        for person in _people(cells, info, form, sheet, start, cmap, result):
            groups.attach(person)
            checked.add(person, result)
        result.notes += groups.notes
        result.problems[:0] = groups.orphans()       # as before: the group sheets' rows first
    result.rows = checked.rows
    result.problems += checked.repeated
    bad = {(q.sheet, q.line) for q in result.problems}
    result.incomplete = [i for i in result.incomplete if (i.sheet, i.line) not in bad]
    if dry_run or (result.problems and not skip_bad):
        return result
    good = [(where, data) for where, data in checked.good if where not in bad]
    checked.good.clear()

    def refused(i: int, problems: list[Problem]) -> None:
        sheet_name, line = good[i][0]
        result.problems += [RowProblem(sheet_name, line, _say(p)) for p in problems]

    result.saved = eng.bulk_save(form_id, (pickle.loads(data) for _, data in good), operator=operator,
                                 on_problem=refused)
    bad = {(q.sheet, q.line) for q in result.problems}
    result.incomplete = [i for i in result.incomplete if (i.sheet, i.line) not in bad]
    return result


class _Checked:
    """People judged one at a time (`_judge`), the file checked against itself on the way (two
    rows with one ID number), and what a save needs of the good rows kept small."""

    def __init__(self, eng, info: FormInfo, form, strict: bool, keep: bool):
        self.eng, self.info, self.form, self.strict, self.keep = eng, info, form, strict, keep
        self.unique = [f.id for f in form.top_fields() if f.unique]
        self.rows = 0
        self.seen: dict[tuple[str, str], int] = {}          # (field, value) → line of the first row
        self.repeated: list[RowProblem] = []
        self.good: list[tuple[tuple[str, int], bytes]] = []
        self.required = _required_outright(form)

    def add(self, person: _Person, result: ImportResult) -> None:
        self.rows += 1
        if not _judge(self.eng, self.form, person, self.strict, result, self.required):
            return
        for fid in self.unique:
            value = str(person.data.get(fid) or "").strip().upper()
            if not value:
                continue
            first = self.seen.setdefault((fid, value), person.line)
            if first != person.line:
                f = self.info.field(fid)
                self.repeated.append(RowProblem(person.sheet, person.line, f"{f.label if f else fid}与第 {first} 行重复"))
        if self.keep:
            self.good.append(((person.sheet, person.line), pickle.dumps(person.data, pickle.HIGHEST_PROTOCOL)))


def propose_mapping(eng, form_id: str, paths, *, fixed: dict[str, str] | None = None,
                    mapping: ColumnMap | Path | str | None = None) -> ColumnMap:
    """The mapping `import_records` would use for these files, without reading their rows."""
    files = _files(paths)
    info = ExportJob(what="records", output=files[0], engine=eng, params={"form": form_id}).form()
    with contextlib.ExitStack() as open_files:
        sheets = [sheet for path in files for sheet in _read(path, open_files)]
        return _locate(eng, info, eng.form(form_id), sheets, mapping, fixed)[0]


def mapping_path(data_file: Path | str) -> Path:
    """Where `--map` writes the mapping when not told: next to the sheet, named after it."""
    data_file = Path(data_file)
    return data_file.with_name(f"{data_file.stem}.列对应.yaml")


def _files(paths) -> list[Path]:
    return [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]


def _say(p: Problem) -> str:
    """A warning cannot be accepted in a batch (it needs a typed reason): it is reported as one.
    The rule's key (`(required)`) is left out: the sheet's row and the words say what to fix."""
    from core.records.wording import plain

    message = plain(p.message)
    return message if p.is_error else f"警告（需在登记界面填写理由后保存）：{message}"


def _judge(eng, form, person: _Person, strict: bool, result: ImportResult,
           required: list[str] | None = None) -> bool:
    """Whether the row is saved: complete as it is; or, unless `strict`, as 待补全 when what
    stands between it and a complete file is only missing or unreadable answers — never when
    its name or ID number is missing or wrong (nobody could find the person again).

    One validation per row in the usual cases (a complete row; a roster row plainly lacking
    required answers, checked at once as 待补全): validation is most of an import's time."""
    mark = incomplete.marker(form)
    may_defer = not strict and mark is not None and not person.problems
    lacks = (any(fid not in person.data for fid in required) if required is not None
             else _lacks_answers(form, person.data))
    if not may_defer or (not person.bad_cells and not lacks):
        _, found = eng.check(form.id, person.data)
        if not (found or person.problems or person.bad_cells):
            return True
        if not may_defer:
            messages = person.problems + list(person.bad_cells.values()) + [_say(p) for p in found]
            result.problems += [RowProblem(person.sheet, person.line, m) for m in messages]
            return False
    data = {**person.data, mark[0]: mark[1]}
    keys = [form.title_field or "name"] + [f.id for f in form.top_fields() if f.unique and not f.autonumber]
    notes = dict(person.bad_cells)
    for _ in range(3):
        clean, found = eng.check(form.id, data)
        hard = incomplete.blocking(form, data, found)
        fields = {p.path.split(".")[0] for p in hard}
        if not hard or fields & {"", *keys} or not fields <= set(data):
            break
        for p in hard:               # a value the form cannot take (健康状况 “良好”): left to fill in
            notes.setdefault(p.path.split(".")[0], _say(p))
            data.pop(p.path.split(".")[0], None)
    if not found and not notes:      # complete after all (the guess above was wrong): as the file says
        return _judge(eng, form, person, True, result, required)
    lacking = [k for k in keys if not data.get(k) or k in notes]
    if hard or lacking:
        said = [f"{'、'.join(_label(form, k) for k in lacking)} 缺失或有误，不能作为待补全导入"] if lacking else []
        result.problems += [RowProblem(person.sheet, person.line, m)
                            for m in said + list(notes.values()) + [_say(p) for p in hard]]
        return False
    person.data = data
    result.incomplete.append(Incomplete(person.sheet, person.line, str(data.get(keys[0]) or ""),
                                        str(clean.get(keys[1]) if len(keys) > 1 else ""),
                                        incomplete.missing(found), list(notes.values())))
    return True


def _lacks_answers(form, data: dict) -> bool:
    """A quick look: a field required outright (no condition, shown always) is empty."""
    return any(fid not in data for fid in _required_outright(form))


def _required_outright(form) -> list[str]:
    """The fields required with no condition, in sections shown always (found once an import)."""
    return [f.id for s in form.sections if not s.relevant for f in s.fields
            if f.required is True and not f.relevant and not f.computed]


def _label(form, field_id: str) -> str:
    f = form.field(field_id)
    return f.label if f else field_id


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
    return [_Sheet(ws.title, ((i, list(row)) for i, row in enumerate(xlsxread.rows(ws), 1)))
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


# ------------------------------------------------------------------------------ the mapping
def _locate(eng, info: FormInfo, form, sheets: list[_Sheet], mapping, fixed: dict[str, str] | None
            ) -> tuple[ColumnMap, _Sheet, int]:
    """The sheet, its header row and the column mapping: the reviewed one laid over the header,
    or one proposed from the form's labels and aliases; the title above the header read for the
    town and village; `fixed` (--set) keys turned into field ids."""
    saved = read_mapping(mapping, info) if isinstance(mapping, (str, Path)) else mapping
    matcher = Matcher(info, form)
    best = None
    for sheet in sorted(sheets, key=lambda sh: saved is not None and sh.name != saved.sheet):
        for n, (line, cells) in enumerate(sheet.top):
            below = sheet.top[n + 1][1] if n + 1 < len(sheet.top) else None
            joined = two_row_header(cells, below)          # 子女情况 over 姓名 | 联系电话 …
            cells = joined or cells
            columns = apply_saved(saved, cells) if saved else propose(matcher, cells)
            score = sum(1 for c in columns if c.target)
            if score >= 3 and (best is None or score > best[0]):
                best = (score, sheet, n, line, columns, n + 1 if joined else n)
        if best is not None:
            break
    if best is None:
        raise CarebookError("文件里找不到表头行（第一行或标题下几行应是列名，如 姓名、身份证号码）；"
                            "可用 carebook records template 生成模板")
    _, sheet, n, line, columns, last = best
    title = " ".join(_text(c) for _, cells in sheet.top[:n] for c in cells if _text(c))
    cmap = ColumnMap(info.id, sheet.name, line, columns, title=title, reviewed=saved is not None, info=info)
    cmap.fixed = {_field_id(matcher, k): str(v) for k, v in {**(saved.fixed if saved else {}), **(fixed or {})}.items()}
    for fid, name in divisions_in_title(eng.divisions, title).items():
        if fid in {f.id for f in info.table_fields} and fid not in cmap.fixed:
            cmap.from_title[fid] = name
    return cmap, sheet, last


def _field_id(matcher: Matcher, key: str) -> str:
    """A --set key: a field id, label or alias."""
    found = matcher.names.get(norm(key))
    if found is None or found[0].computed:
        raise CarebookError(f"--set {key}=…：“{key}”不是表单 {matcher.info.id} 可填写的字段（可写字段名或 id，如 town、村）")
    return found[0].id


# ------------------------------------------------------------------------------ people
def _people(cells: "_Cells", info: FormInfo, form, sheet: _Sheet, start: int, cmap: ColumnMap,
            result: ImportResult) -> Iterator[_Person]:
    """The people of the sheet, one at a time, as read (the notes on skipped rows on the way)."""
    computed = [c.header for c in cmap.columns if c.how == COMPUTED]
    unknown = [c.header for c in cmap.unmatched]
    if computed:
        result.notes.append(f"{'、'.join(computed)}：计算字段，按其他字段重新计算，文件中的值未导入")
    if unknown:
        result.notes.append(f"{'、'.join(unknown)}：不是表单 {info.id} 的字段，这些列未导入")
    scalar = [(c.index, info.field(c.target)) for c in cmap.columns if c.target and "." not in c.target
              and c.target != "@key"]
    scalar.sort(key=lambda kv: kv[1].id != "town")  # the town first: a village name is looked for in it
    key_at = next((c.index for c in cmap.columns if c.target == "@key"), None)
    kids = [(c.index, c.target.split(".")) for c in cmap.columns if c.target and "." in c.target]
    # values for every row, the town first; a value from the title only where the cell is empty
    whole = sorted([*cmap.fixed.items(), *((k, v) for k, v in cmap.from_title.items() if k not in cmap.fixed)],
                   key=lambda kv: kv[0] != "town")
    defaults = {f.id: f.default for f in form.top_fields() if f.default is not None and not f.computed}
    renumbered = False
    converted: dict[tuple, tuple[Any, str | None]] = {}
    read = [c.index for c in cmap.columns if c.target]
    blank: list[int] = []
    file_no = _writable(info, FILE_NO)
    put = cells.put
    at = [i for i, _ in scalar]
    columns = cells.columns_of([f for _, f in scalar])
    for line, row in sheet.after(start):
        width = len(row)
        if not any(_text(c) for c in row):
            continue
        if total_row(row):
            result.notes.append(f"{sheet.name} 第 {line} 行是合计或落款行（{_first_text(row)}），已跳过")
            continue
        if not any(_text(row[i]) for i in read if i < width):
            blank.append(line)            # a pre-numbered empty row: 序号 only
            continue
        person = _Person(sheet.name, line, "", {}, [])
        cells.fill(person, columns, [row[i] if i < width else None for i in at])
        for fid, text in whole:
            if fid not in person.data and fid not in person.bad_cells:   # a wrong cell is not overruled
                key = (fid, text, person.data.get("town"))    # converted once, not once a row
                if key not in converted:
                    probe = _Person(sheet.name, line, "", {"town": key[2]} if key[2] else {}, [])
                    put(info.field(fid), text, probe)
                    converted[key] = (probe.data.get(fid), probe.bad_cells.get(fid))
                value, bad = converted[key]
                if bad:
                    person.bad_cells[fid] = bad
                elif value is not None:
                    person.data[fid] = value
        for fid, value in defaults.items():
            person.data.setdefault(fid, value)
        if kids:
            _children_in_columns(cells, info, row, kids, person)
        key = _text(row[key_at]) if key_at is not None and key_at < width else ""
        person.key = key
        if key and file_no and key.startswith(str(person.data.get("village") or "-")):
            person.data[FILE_NO] = key    # carebook's own numbering is kept; any other is redone
        elif key and not renumbered:
            renumbered = True
            result.notes.append("档案编号不是“村代码-序号”格式的，已按本系统规则重新编号（子表仍按原编号对应到人）")
        yield person
    if blank:
        result.notes.append(f"{sheet.name} 有 {len(blank)} 行只填了序号或备注等不导入的列（第 {blank[0]} 行起），已跳过")


def _first_text(cells: list[Any]) -> str:
    return next((_text(c) for c in cells if _text(c)), "")[:20]


def _children_in_columns(cells: "_Cells", info: FormInfo, row_cells: list[Any], kids: list[tuple[int, list[str]]],
                         person: _Person) -> None:
    """子女姓名 | 子女联系电话 | 子女务工地点 (one cell may hold 张伟、张丽 with two phones) and
    子女1 … 子女3 columns of the person's row, as rows of the repeat group."""
    slots: dict[tuple[str, str], dict[str, Any]] = {}
    for i, parts in kids:
        value = row_cells[i] if i < len(row_cells) else None
        if _text(value):
            slot = parts[1] if len(parts) == 3 else ""
            slots.setdefault((parts[0], slot), {})[parts[-1]] = value
    for (group_id, slot), values in slots.items():
        group = info.field(group_id)
        pieces = {cid: split_multi(_text(v)) if not slot else [v] for cid, v in values.items()}
        count = max(len(v) for v in pieces.values())
        if count > 1 and any(len(v) not in (1, count) for v in pieces.values()):
            pieces = {cid: [v] for cid, v in values.items()}     # cannot pair them up: one row, as written
            count = 1
        for n in range(count):
            row: dict[str, Any] = {}
            for cid, items in pieces.items():
                child = next(c for c in group.children if c.id == cid)
                item = items[n] if len(items) == count else items[0] if n == 0 else None
                where = f"{group.label}{slot or (n + 1 if count > 1 else '')}"
                cells.put(child, item, person, row=row, where=f"{group_id}.{slot or n}.{cid}", label=where)
            if row:
                person.data.setdefault(group_id, []).append(row)


def _writable(info: FormInfo, field_id: str) -> bool:
    f = info.field(field_id)
    return f is not None and not f.computed


class _Cells:
    """Cells into values as the form takes them, for one import.

    What a choice, list or division cell turns into depends on its text (and, for a village,
    the town) only, and a district's file repeats a few hundred such texts 50,000 times: each
    is worked out once (`_value`) and looked up after. The other cells (names, ID numbers,
    addresses, dates) are converted each time."""

    CACHED = 20000                     # texts remembered per field (a free-text field is not cached)

    def __init__(self, eng):
        self.eng = eng
        self.columns: dict[int, tuple[bool, dict]] = {}     # field → `column(field)`

    def column(self, f: FieldInfo) -> tuple[bool, dict[tuple[str, str | None], tuple[Any, str | None]]]:
        """(a text of this field is taken as it is, the texts looked up so far: (text, town) →
        (value, None) or (None, why not))."""
        held = self.columns.get(id(f))
        if held is None:
            held = self.columns[id(f)] = (not (f.choices or f.type in ("multi", "division")), {})
        return held

    def columns_of(self, fields: list[FieldInfo]) -> list[tuple[FieldInfo, str, bool, dict, bool]]:
        """(field, id, `column(field)`..., personal?) of each field: what `fill` reads a row with."""
        return [(f, f.id, *self.column(f), bool(f.pii)) for f in fields]

    def fill(self, person: _Person, columns: list[tuple[FieldInfo, str, bool, dict, bool]], values: list[Any], *,
             row: dict | None = None, where: str = "", label: str = "", town: str | None = None) -> None:
        """`put` each of `values` (None: no cell) in its column, its two common cases written
        out: a text taken as it is, a text already looked up (a call a cell was a third of
        reading a row). `where`: the prefix of each cell's place in `bad_cells`."""
        data = person.data if row is None else row
        for (f, fid, plain, memo, pii), v in zip(columns, values):
            if v is None:
                continue
            if v.__class__ is str and v and not (pii and "*" in v) and not v.isspace():
                if plain:
                    # as `unsafe_cell`: the apostrophe an export put before = + - @ taken off
                    data[fid] = v if v[0] != "'" or len(v) < 2 or v[1] not in FORMULA_START else v[1:]
                    continue
                found = memo.get((v, person.data.get("town") if town is None else town))
                if found is not None and found[1] is None:
                    data[fid] = list(found[0]) if found[0].__class__ is list else found[0]
                    continue
            self.put(f, v, person, row=row, where=where and where + fid, label=label, town=town)

    def put(self, f: FieldInfo, value: Any, person: _Person, *, row: dict | None = None, where: str = "",
            label: str = "", town: str | None = None) -> None:
        """One cell into the person's data (or a repeat `row`) as the form takes it; a cell it
        cannot take is named in `person.bad_cells`, so the rest of the row still counts."""
        if value is None:
            return
        data = person.data if row is None else row
        here = person.data.get("town") if town is None else town
        place = where or f.id
        if not isinstance(value, str):
            try:
                data[f.id] = _value(self.eng, f, value, here)
            except ValueError as exc:
                person.bad_cells[place] = f"{f'{label} {f.label}'.strip()}：{exc}"
            return
        if not value or value.isspace():
            return
        if f.pii and "*" in value:
            person.bad_cells[place] = (f"{f'{label} {f.label}'.strip()}：是遮蔽后的值（{value[:4]}…），"
                                       "请用 carebook export --full 导出的文件或原始数据")
            return
        plain, memo = self.column(f)
        if plain:                # a text as it is (what `_value` gives a text of any other field)
            data[f.id] = unsafe_cell(value)
            return
        found = memo.get((value, here))
        if found is None:
            try:
                found = (_value(self.eng, f, value, here), None)
            except ValueError as exc:
                found = (None, str(exc))
            if len(memo) < self.CACHED:
                memo[(value, here)] = found
        converted, error = found
        if error is None:
            data[f.id] = list(converted) if converted.__class__ is list else converted
        else:
            person.bad_cells[place] = f"{f'{label} {f.label}'.strip()}：{error}"


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
class _GroupRows:
    """The rows of each repeat group's sheet (children), read before the people and kept by
    the 档案编号 they carry until that person is read (`attach`); rows whose 档案编号 no
    person has are reported at the end (`orphans`). A group sheet is a tenth of the people's
    data: it is what is held while the people stream past."""

    def __init__(self, cells: _Cells, info: FormInfo, sheets: list[_Sheet], parent: _Sheet):
        self.cells = cells
        self.notes: list[str] = []
        self.groups: list[tuple[FieldInfo, _Sheet, list[tuple], dict[str, list[bytes]]]] = []
        self.claimed: set[str] = set()
        for group in info.groups:
            labels = {c.label: c for c in group.children} | {c.id: c for c in group.children}
            sheet = next((s for s in sheets if s.name.startswith(group.label[:28]) or s.name.endswith(f"-{group.id}")), None)
            found = _header(sheet, set(labels) | {KEY}) if sheet is not None else None
            if sheet is None or found is None:
                continue
            start, header = found
            if KEY not in header and FILE_NO not in header:
                self.notes.append(f"工作表“{sheet.name}”没有“档案编号”列，无法对应到人，未导入")
                continue
            key_at = header.index(KEY) if KEY in header else header.index(FILE_NO)
            at = [(i, child) for i, name in enumerate(header)
                  if (child := labels.get(name)) is not None and not child.computed]
            columns = cells.columns_of([child for _, child in at])
            by_key: dict[str, list[bytes]] = {}
            # the people's own sheet is read after this: as before, only its top rows count here
            rows = sheet.top[start + 1:] if sheet is parent else sheet.after(start)
            for line, row in rows:
                if not any(_text(c) for c in row):
                    continue
                key = _text(row[key_at]) if key_at < len(row) else ""
                width = len(row)
                # pickled: a row's few texts as objects were ~600 bytes, as bytes ~150
                by_key.setdefault(key, []).append(pickle.dumps(
                    (line, [row[i] if i < width else None for i, _ in at]), pickle.HIGHEST_PROTOCOL))
            self.groups.append((group, sheet, columns, by_key))

    def attach(self, person: _Person) -> None:
        """The group rows carrying the person's 档案编号 (the first person with it takes them)."""
        key = person.key
        if not key or key in self.claimed:
            return
        self.claimed.add(key)
        for group, sheet, columns, by_key in self.groups:
            town = person.data.get("town")
            for held in by_key.pop(key, ()):
                line, values = pickle.loads(held)
                row: dict[str, Any] = {}
                self.cells.fill(person, columns, values, row=row, where=f"{group.id}@{sheet.name}:{line}.",
                                label=f"{group.label}（{sheet.name} 第 {line} 行）", town=town)
                if row:
                    person.data.setdefault(group.id, []).append(row)

    def orphans(self) -> list[RowProblem]:
        """A row for every group row no person took, in sheet order."""
        out = []
        for _, sheet, _, by_key in self.groups:
            left = sorted((pickle.loads(held)[0], key) for key, rows in by_key.items() for held in rows)
            out += [RowProblem(sheet.name, line, f"档案编号“{key}”在主表中没有对应的人") for line, key in left]
        return out
