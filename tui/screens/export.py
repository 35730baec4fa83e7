"""Export: whatever exporters the installed plugins registered, run in a worker.

The list is not hard-coded: a town that installs a new exporter plugin sees it here. Personal
fields are masked unless 完整个人信息 is ticked, and a full export is recorded by the engine.
"""
from __future__ import annotations

import os
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Checkbox, Input, Label, ProgressBar, Select, Static

from ..keymap import bind
from ..literal import choices
from ..widgets.ticks import TickBox
from .backupwait import backup_note
from .base import BaseScreen
from .summary import quarter_label, recent_quarters

WHAT = {"roster": "花名册", "summary": "汇总表", "records": "全部记录", "form": "空白登记表"}
EXPORT_FOLDER = "台账导出"     # in the home folder (`export_folder`)


class ExportScreen(BaseScreen):
    BINDINGS = [bind("save", "run", "开始导出")]
    HELP_TEXT = "选择导出内容和格式，确认文件位置后按 Ctrl+S。默认隐去身份证号和电话的中间几位。"

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        exporters = self.attempt(self.eng.exporters) or []
        self.exporters = {e.name: e for e in exporters}
        supported = {w for e in exporters for w in getattr(e, "supports", ())}
        whats = [w for w in WHAT if w in supported] + sorted(supported - set(WHAT))
        with Vertical(id="export-form"):
            yield Label("导出内容")
            yield Select([(WHAT.get(w, w), w) for w in whats], id="x-what", compact=True, prompt="请选择",
                         value=whats[0] if whats else Select.NULL)
            yield Label("格式")
            yield Select([], id="x-format", compact=True, prompt="请选择")
            yield Label("季度（汇总表）")
            quarters = recent_quarters(self.app.today)
            yield Select([(quarter_label(q), q) for q in quarters], value=quarters[0], allow_blank=False, id="x-quarter",
                         compact=True)
            yield Label("保存到")
            yield Input("", id="x-output", compact=True)
            yield TickBox("完整个人信息（不隐去身份证号、电话；会记入审计日志）", id="x-full", compact=True)
            yield Button("开始导出 Ctrl+S", id="x-run", variant="primary", compact=True)
            yield ProgressBar(id="x-progress", show_eta=False)
            yield Static("" if exporters else "没有安装任何导出插件。", id="x-result", markup=False)   # paths
        yield from self.compose_footer()

    def on_mount(self) -> None:
        # Hidden until an export runs: an idle bar with no total animates as if busy.
        self.query_one("#x-progress", ProgressBar).display = False
        self.fill_formats()

    @on(Select.Changed, "#x-what")
    def fill_formats(self) -> None:
        what = self.query_one("#x-what", Select).value
        fmts = [(getattr(e, "label", e.name), e.name) for e in self.exporters.values()
                if what in getattr(e, "supports", ())]
        sel = self.query_one("#x-format", Select)
        sel.set_options(choices(fmts))        # a plugin's label, as written
        if fmts:
            sel.value = fmts[0][1]

    @on(Select.Changed, "#x-format")
    def suggest_output(self) -> None:
        what, fmt = self.query_one("#x-what", Select).value, self.query_one("#x-format", Select).value
        exp = self.exporters.get(fmt) if fmt is not Select.NULL else None
        if exp is None or what is Select.NULL:
            return
        name = f"{WHAT.get(what, what)}-{self.app.today.isoformat()}{getattr(exp, 'extension', '')}"
        self.query_one("#x-output", Input).value = str(export_folder(Path(self.eng.data_dir)) / name)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_run()

    def action_run(self) -> None:
        what = self.query_one("#x-what", Select).value
        fmt = self.query_one("#x-format", Select).value
        output = self.query_one("#x-output", Input).value.strip()
        if what is Select.NULL or fmt is Select.NULL or not output:
            self.query_one("#x-result", Static).update("请选择导出内容、格式并填写保存位置。")
            return
        params = {"quarter": self.query_one("#x-quarter", Select).value} if what == "summary" else {}
        # Every export is written to the audit log at its end, after the day's backup: said here.
        self.query_one("#x-result", Static).update("正在导出……" + backup_note(self.eng))
        self.query_one("#x-progress", ProgressBar).display = True
        self.query_one("#x-run", Button).disabled = True
        self.export(what, fmt, Path(output), self.query_one("#x-full", Checkbox).value, params)

    @work(thread=True, exclusive=True, group="export")
    def export(self, what: str, fmt: str, output: Path, full: bool, params: dict) -> None:
        bar = self.query_one("#x-progress", ProgressBar)

        def progress(done: int, total: int | None) -> None:
            self.app.call_from_thread(bar.update, total=total, progress=done)

        output.parent.mkdir(parents=True, exist_ok=True)
        written = self.app.attempt(self.eng.export, what, fmt, output, full=full, progress=progress, **params)
        rows = self.rows_written(what, params) if written else None
        self.app.call_from_thread(self.done, written, rows)

    def rows_written(self, what: str, params: dict) -> int | None:
        """How many rows the roster or summary file holds: the report the exporter wrote
        (`ExportJob.report`), asked again, so the clerk can compare it with the screen."""
        if what not in ("roster", "summary"):
            return None
        report = self.app.attempt(self.eng.report, what, **params)
        if report is None:
            return None
        return report.row_count if report.row_count is not None else sum(1 for _ in report.rows)

    def done(self, written, rows: int | None = None) -> None:
        self.query_one("#x-run", Button).disabled = False
        result = self.query_one("#x-result", Static)
        if written is None:
            result.update("导出没有完成，见右上角提示。")
            return
        bar = self.query_one("#x-progress", ProgressBar)
        bar.update(total=bar.total or 1, progress=bar.total or 1)   # progress ticks every 1000 rows
        what = WHAT.get(self.query_one("#x-what", Select).value, "")
        counted = f"{what} {rows} 行" if rows is not None else f"{len(written)} 个文件"
        result.update(f"已导出{counted}，保存在：\n" + "\n".join(str(p) for p in written))
        self.app.notify(f"已导出{counted}", timeout=5)


def export_folder(data_dir: Path) -> Path:
    """Where the suggested file goes: 台账导出 in the user's home folder, found again easily.
    Never inside the data folder, where the engine refuses any export (`core.storage.outputs`:
    a file written there once replaced a village's records); the old suggestion, `exports/` in
    the data folder, was refused every time."""
    from core.engine import CarebookError, check_output

    folder = Path.home() / EXPORT_FOLDER
    try:
        return check_output(data_dir, folder)       # the engine's own rule, asked, not copied
    except CarebookError:
        return Path(os.path.realpath(data_dir)).parent / EXPORT_FOLDER
