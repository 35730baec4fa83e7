"""Import an existing Excel/CSV ledger from the admin corner (I there).

Offices that kept the ledger in Excel should not type it again, and the admin who does the
import is not always at ease with a command line. The screen does what `carebook records
import` does, through the engine: 检查 reads and validates every row without saving and lists
each problem with its sheet and row; 导入 saves — nothing at all while any row has a problem,
unless 只导入没有问题的行 is ticked. Work runs in a worker so the screen stays responsive.

An office's own roster needs its columns read right first: 列对应 (Ctrl+L) shows the mapping
`records import --map` prints (file column → field, how sure, unmatched columns) and saves
it next to the sheet; 检查 and 导入 then use that saved, reviewed file. People whose rows
lack answers are listed as 待补全 with what is missing.
"""
from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static

from core.engine import CarebookError
from core.engine import mapping_path
from core.engine import parse_fixed

from .. import roles
from ..keymap import bind, key_of
from ..widgets.pagedtable import PagedTable
from ..widgets.ticks import TickBox
from .backupwait import backup_note
from .base import BaseScreen

HELP = ("表头可写表单上的字段名或常见写法（身份证号码、家庭住址、子女姓名……），标题里的镇、村会读出。"
        f"先按 {key_of('mapping')} 看列对应（存在表格旁，可改），再 {key_of('check')} 检查、{key_of('save')} 导入。缺必填项的人作为“待补全”导入。")


class ImportScreen(BaseScreen):
    DEFAULT_CSS = """
    ImportScreen #import-form { height: 1fr; }
    ImportScreen #import-buttons { height: auto; }
    ImportScreen #import-result { max-height: 5; }
    ImportScreen #import-problems { height: 1fr; }
    """
    BINDINGS = [bind("mapping", "mapping"), bind("check", "run(True)"), bind("save", "run(False)", "开始导入")]
    HELP_TEXT = (f"填写 Excel（.xlsx）或 CSV 文件的位置，{key_of('mapping')} 查看并保存列对应（文件中的列 → 字段），"
                 f"{key_of('check')} 只检查不保存，{key_of('save')} 导入。有问题的行会列出工作表和行号；缺必填项的人作为“待补全”导入，并列出缺什么。"
                 "子女可写在本人一行（子女姓名、子女1电话……），或放在名为“子女及其他赡养人”的工作表、每行写本人的档案编号。"
                 "空白模板可请管理员用命令行生成（见 docs/import.md）。")

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Vertical(id="import-form"):
            yield Static(HELP, id="import-help")
            yield Label("文件位置（几个 CSV 文件用 ; 分隔）")
            yield Input("", id="import-path", compact=True, placeholder="如 /home/zhang/旧台账.xlsx 或 D:\\台账\\2025.xlsx")
            yield Input("", id="import-set", compact=True,
                        placeholder="全表统一的值，如 village=翟庄子村 filing_date=2026-12-01（可不填）")
            yield TickBox("只导入没有问题的行（其余列在下面）", id="import-skip", compact=True)
            with Horizontal(id="import-buttons"):
                yield Button(f"列对应 {key_of('mapping')}", id="import-map", compact=True)
                yield Button(f"检查 {key_of('check')}", id="import-check", compact=True)
                yield Button(f"导入 {key_of('save')}", id="import-run", variant="primary", compact=True)
            yield Static("", id="import-result", markup=False)   # paths, messages quoting cells
            yield PagedTable(id="import-problems", cursor_type="row")
        yield from self.compose_footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "import-map":
            self.action_mapping()
        else:
            self.action_run(event.button.id == "import-check")

    def _request(self) -> tuple[list[Path], dict[str, str], Path | None] | None:
        """The files, the values for every row and a saved mapping next to the sheet, or None
        (said on screen) when the path is empty or a value is not written as 字段=值."""
        text = self.query_one("#import-path", Input).value.strip()
        paths = [Path(p.strip().strip('"')).expanduser() for p in text.split(";") if p.strip()]
        if not paths:
            self.query_one("#import-result", Static).update("请先填写文件位置。")
            return None
        try:
            fixed = parse_fixed(self.query_one("#import-set", Input).value.split())
        except CarebookError as exc:
            self.query_one("#import-result", Static).update(str(exc))
            return None
        saved = mapping_path(paths[0])
        return paths, fixed, saved if saved.is_file() else None

    def _busy(self, text: str) -> None:
        self.query_one("#import-result", Static).update(text)
        for button in self.query(Button):
            button.disabled = True

    def action_mapping(self) -> None:
        request = self._request()
        if request is not None:
            self._busy("正在读取表头……")
            self.run_mapping(*request)

    @work(thread=True, exclusive=True, group="import")
    def run_mapping(self, paths: list[Path], fixed: dict[str, str], saved: Path | None) -> None:
        cmap = self.app.attempt(self.eng.import_mapping, roles.PERSON_FORM, paths, fixed=fixed, mapping=saved)
        written = self.app.attempt(cmap.save, mapping_path(paths[0])) if cmap is not None else None
        self.app.call_from_thread(self.show_mapping, cmap, written)

    def show_mapping(self, cmap, written: Path | None) -> None:
        for button in self.query(Button):
            button.disabled = False
        if cmap is None:
            self.query_one("#import-result", Static).update("没有读出列对应，见右上角提示。")
            return
        lines = cmap.describe()
        self.query_one("#import-result", Static).update(
            f"{lines[0]}\n列对应已保存到 {written}（可用文本编辑器改正），检查和导入将按它进行。")
        self.query_one("#import-problems", PagedTable).show_rows(
            [("line", "列对应（文件中的列 → 字段）", 76)],
            [{"id": str(i), "line": text.strip()} for i, text in enumerate(lines[2:])])

    def action_run(self, dry_run: bool) -> None:
        request = self._request()
        if request is None:
            return
        self._busy("正在检查……" if dry_run else "正在导入……" + backup_note(self.eng))
        self.run_import(*request, dry_run, self.query_one("#import-skip", Checkbox).value)

    @work(thread=True, exclusive=True, group="import")
    def run_import(self, paths: list[Path], fixed: dict[str, str], saved: Path | None, dry_run: bool,
                   skip_bad: bool) -> None:
        result = self.app.attempt(self.eng.import_records, roles.PERSON_FORM, paths, dry_run=dry_run,
                                  skip_bad=skip_bad, fixed=fixed, mapping=saved)
        self.app.call_from_thread(self.show, result, dry_run, skip_bad)

    def show(self, res, dry_run: bool, skip_bad: bool) -> None:
        for button in self.query(Button):
            button.disabled = False
        out = self.query_one("#import-result", Static)
        if res is None:
            out.update("没有完成，见右上角提示。")
            return
        good = res.rows - res.refused
        later = f"（其中 {len(res.incomplete)} 人待补全）" if res.incomplete else ""
        if dry_run:
            head = f"检查完毕：共 {res.rows} 人，{good} 人可以导入{later}，{res.refused} 行有问题。未保存。"
        elif res.problems and not skip_bad:
            head = f"有 {res.refused} 行有问题，全部未导入。请改正文件后再导入，或勾选“只导入没有问题的行”。"
        else:
            head = f"已导入 {res.saved} 人{later}" + (f"，{res.refused} 行有问题未导入。" if res.problems else "。")
            self.app.notify(head, timeout=6)
            if res.saved:
                self.app.ledger_changed()          # home counts and the roster are stale now
        out.update("\n".join([head, *(f"提示：{n}" for n in res.notes)]))
        self.query_one("#import-problems", PagedTable).show_rows(
            [("sheet", "工作表", 14), ("line", "行", 5), ("message", "问题", 56)],
            [{"id": str(i), "sheet": p.sheet, "line": str(p.line), "message": p.message}
             for i, p in enumerate(res.problems)]
            + [{"id": f"later{i}", "sheet": "待补全", "line": str(p.line), "message": f"{p.name} {str(p).split('：', 1)[1]}"}
               for i, p in enumerate(res.incomplete)])
