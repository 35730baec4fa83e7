"""`carebook divisions import FILE.csv`: a new edition of the official village list, applied to
`forms/data/divisions.yaml` with valid_from / valid_to, so records keep their codes.

The 统计用区划代码 list changes year to year: villages merge, are renamed or become 社区. The
admin downloads the new edition as CSV (columns `code` and `village` or `name`; `town_code` and
`town` optional), looks at the plan (added / renamed / retired, placeholders named), and applies
it. Nothing is deleted: a village missing from the new edition gets `valid_to` (the day before
the edition's date), so old records still show its name; a new one gets `valid_from`. The file is
edited line by line, so the admin's comments and layout stay, and the result must load with the
division checks before it replaces the file. The current list and those checks come from the
plugin that registers the `divisions` data set (`core.lifecycle.divisioncheck`), so this module
knows the file's layout, not its rules.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from core import dates
from core.lifecycle.divisioncheck import division_problems, divisions_of
from core.problems import CarebookError, Problem

_CODE = re.compile(r"\d{12}")
PLACEHOLDER = re.compile(r"第\d+村$")


@dataclass
class Row:
    code: str
    name: str
    town_code: str
    line: int


@dataclass
class Plan:
    added: list[Row] = field(default_factory=list)
    renamed: list[tuple[Row, str]] = field(default_factory=list)      # (new row, old name)
    confirmed: list[Row] = field(default_factory=list)                # same name, now confirmed
    retired: list[tuple[str, str]] = field(default_factory=list)      # (code, name)
    unchanged: int = 0
    valid_from: dt.date | None = None

    @property
    def empty(self) -> bool:
        return not (self.added or self.renamed or self.confirmed or self.retired)


def read_csv(path: Path) -> list[Row]:
    """Rows of an official list; a bad row is a located Chinese message, never a traceback."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CarebookError(f"无法读取 {path}：{exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CarebookError(f"{path} 不是 UTF-8 编码的 CSV（请另存为“CSV UTF-8”）") from None
    lines = [(i, ln) for i, ln in enumerate(text.splitlines(), 1) if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise CarebookError(f"{path} 是空的")
    reader = csv.DictReader(io.StringIO("\n".join(ln for _, ln in lines)))
    cols = reader.fieldnames or []
    name_col = "village" if "village" in cols else "name" if "name" in cols else None
    if "code" not in cols or name_col is None:
        raise CarebookError(f"{path}:{lines[0][0]}: 表头要有 code 和 village（或 name）两列，实际是：{'、'.join(cols)}")
    rows, problems, seen = [], [], {}
    for (lineno, _), rec in zip(lines[1:], reader):
        code = (rec.get("code") or "").strip()
        name = (rec.get(name_col) or "").strip()
        if not _CODE.fullmatch(code):
            problems.append(f"{path}:{lineno}: 代码 “{code}” 应是12位数字")
            continue
        if not name:
            problems.append(f"{path}:{lineno}: 代码 {code} 没有名称")
            continue
        if code in seen:
            problems.append(f"{path}:{lineno}: 代码 {code} 重复（第 {seen[code]} 行已出现）")
            continue
        seen[code] = lineno
        town = (rec.get("town_code") or "").strip() or code[:9] + "000"
        if town[:9] != code[:9]:
            problems.append(f"{path}:{lineno}: 村代码 {code} 的前9位与街镇代码 {town} 不一致")
            continue
        rows.append(Row(code, name, town, lineno))
    if problems:
        raise CarebookError("\n".join(problems))
    return rows


def _file(forms_dir: Path) -> Path:
    return Path(forms_dir) / "data" / "divisions.yaml"


def plan(forms_dir: Path, rows: list[Row], valid_from: dt.date | None = None) -> Plan:
    """What applying `rows` would change (only towns the list covers lose villages)."""
    current = divisions_of(forms_dir)
    out = Plan(valid_from=valid_from)
    listed = {r.code for r in rows}
    towns = {r.town_code for r in rows}
    for r in rows:
        old = current.get(r.code)
        if old is None:
            if current.get(r.town_code) is None:
                raise CarebookError(f"第 {r.line} 行：街镇 {r.town_code} 不在区划文件中，请先添加街镇（村代码 {r.code}）")
            out.added.append(r)
        elif old.name != r.name:
            out.renamed.append((r, old.name))
        elif not old.confirmed:
            out.confirmed.append(r)
        else:
            out.unchanged += 1
    for v in current.all_villages():
        if v.parent in towns and v.code not in listed and v.valid_to is None:
            out.retired.append((v.code, v.name))
    return out


def _line(indent: str, code: str, name: str, start: str | None, end: str | None, comment: str = "") -> str:
    def day(d):
        return f'"{d}"' if d else "null"
    if re.search(r"[:#,\[\]{}&*!|>'\"%@`]", name) or name != name.strip():
        import json

        name = json.dumps(name, ensure_ascii=False)
    return (f'{indent}- {{code: "{code}", name: {name}, confirmed: true, valid_from: {day(start)}, '
            f'valid_to: {day(end)}}}' + (f"  # {comment}" if comment else ""))


_VILLAGE_LINE = re.compile(r'^(\s*)- \{code: "(\d{12})".*$')


def apply(forms_dir: Path, p: Plan, source: str = "") -> str:
    """The new text of the division file (checked by the division loader before it is written)."""
    current = divisions_of(forms_dir)
    lines = _file(forms_dir).read_text(encoding="utf-8").splitlines()
    names = {r.code: r.name for r, _ in p.renamed} | {r.code: r.name for r in p.confirmed}
    end_day = (p.valid_from - dt.timedelta(days=1)).isoformat() if p.valid_from else dates.today().isoformat()
    retired = {code for code, _ in p.retired}
    note = f"据 {source}" if source else ""
    last_of_town: dict[str, int] = {}
    for i, text in enumerate(lines):
        m = _VILLAGE_LINE.match(text)
        if not m:
            continue
        indent, code = m.group(1), m.group(2)
        last_of_town[code[:9]] = i
        v = current.get(code)
        if v is None:
            continue
        start = v.valid_from.isoformat() if v.valid_from else None
        until = v.valid_to.isoformat() if v.valid_to else None
        if code in names:
            lines[i] = _line(indent, code, names[code], start, until, note)
        elif code in retired:
            lines[i] = _line(indent, code, v.name, start, end_day, f"{note}已撤销或改为社区".strip())
    inserts: dict[int, list[str]] = {}
    for r in p.added:
        at = last_of_town.get(r.code[:9])
        if at is None:
            raise CarebookError(f"区划文件中街镇 {r.town_code} 下没有村，无法确定 {r.code} 的位置，请手工添加一个村后再导入")
        indent = _VILLAGE_LINE.match(lines[at]).group(1)
        start = p.valid_from.isoformat() if p.valid_from else None
        inserts.setdefault(at, []).append(_line(indent, r.code, r.name, start, None, f"{note}新增".strip()))
    out = []
    for i, text in enumerate(lines):
        out.append(text)
        out.extend(inserts.get(i, []))
    return "\n".join(out) + "\n"


def check_text(text: str) -> list[Problem]:
    """Problems of the new text, loaded exactly as the app will load it (from a scratch folder)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="carebook-divisions-") as scratch:
        (Path(scratch) / "data").mkdir()
        _file(Path(scratch)).write_text(text, encoding="utf-8")
        return division_problems(Path(scratch))
