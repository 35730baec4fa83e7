"""Import an existing Excel/CSV ledger from the admin corner (F6 there).

Offices that kept the ledger in Excel should not type it again, and the admin who does the
import is not always at ease with a command line. The screen does what `carebook records
import` does, through the engine: 检查 reads and validates every row without saving and lists
each problem with its sheet and row; 导入 saves — nothing at all while any row has a problem,
unless 只导入没有问题的行 is ticked. Work runs in a worker so the screen stays responsive.
"""
from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static

from .. import roles
from ..widgets.pagedtable import PagedTable
from ..widgets.ticks import TickBox
from .base import BaseScreen

HELP = ("文件第一行（或标题下一行）为表头，写表单上的字段名（姓名、公民身份号码、村（居）委会……）。"
        "子女情况放在名为“子女及其他赡养人”的工作表，每行写本人的档案编号。"
        "可先在“导出”中选“空白登记表”生成模板。")


class ImportScreen(BaseScreen):
    DEFAULT_CSS = """
    ImportScreen #import-form { height: 1fr; }
    ImportScreen #import-buttons { height: auto; }
    ImportScreen #import-result { max-height: 5; }
    ImportScreen #import-problems { height: 1fr; }
    """
    BINDINGS = [Binding("f6", "run(True)", "检查"), Binding("f7", "run(False)", "导入")]
    HELP_TEXT = "填写 Excel（.xlsx）或 CSV 文件的位置，F6 只检查不保存，F7 导入。有问题的行会列出工作表和行号。"

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Vertical(id="import-form"):
            yield Static(HELP, id="import-help")
            yield Label("文件位置（几个 CSV 文件用 ; 分隔）")
            yield Input("", id="import-path", compact=True, placeholder="如 /home/zhang/旧台账.xlsx 或 D:\\台账\\2025.xlsx")
            yield TickBox("只导入没有问题的行（其余列在下面）", id="import-skip", compact=True)
            with Horizontal(id="import-buttons"):
                yield Button("检查 F6", id="import-check", compact=True)
                yield Button("导入 F7", id="import-run", variant="primary", compact=True)
            yield Static("", id="import-result")
            yield PagedTable(id="import-problems", cursor_type="row")
        yield from self.compose_footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_run(event.button.id == "import-check")

    def action_run(self, dry_run: bool) -> None:
        text = self.query_one("#import-path", Input).value.strip()
        paths = [Path(p.strip().strip('"')).expanduser() for p in text.split(";") if p.strip()]
        if not paths:
            self.query_one("#import-result", Static).update("请先填写文件位置。")
            return
        self.query_one("#import-result", Static).update("正在检查……" if dry_run else "正在导入……")
        for button in self.query(Button):
            button.disabled = True
        self.run_import(paths, dry_run, self.query_one("#import-skip", Checkbox).value)

    @work(thread=True, exclusive=True, group="import")
    def run_import(self, paths: list[Path], dry_run: bool, skip_bad: bool) -> None:
        result = self.app.attempt(self.eng.import_records, roles.PERSON_FORM, paths, dry_run=dry_run,
                                  skip_bad=skip_bad)
        self.app.call_from_thread(self.show, result, dry_run, skip_bad)

    def show(self, res, dry_run: bool, skip_bad: bool) -> None:
        for button in self.query(Button):
            button.disabled = False
        out = self.query_one("#import-result", Static)
        if res is None:
            out.update("没有完成，见右上角提示。")
            return
        good = res.rows - res.refused
        if dry_run:
            head = f"检查完毕：共 {res.rows} 人，{good} 人可以导入，{res.refused} 行有问题。未保存。"
        elif res.problems and not skip_bad:
            head = f"有 {res.refused} 行有问题，全部未导入。请改正文件后再导入，或勾选“只导入没有问题的行”。"
        else:
            head = f"已导入 {res.saved} 人" + (f"，{res.refused} 行有问题未导入。" if res.problems else "。")
            self.app.notify(head, timeout=6)
            if res.saved:
                self.app.ledger_changed()          # home counts and the roster are stale now
        out.update("\n".join([head, *(f"提示：{n}" for n in res.notes)]))
        self.query_one("#import-problems", PagedTable).show_rows(
            [("sheet", "工作表", 14), ("line", "行", 5), ("message", "问题", 56)],
            [{"id": str(i), "sheet": p.sheet, "line": str(p.line), "message": p.message}
             for i, p in enumerate(res.problems)])
