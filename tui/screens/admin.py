"""Admin corner: form-file check results with file and line, reload forms, installed plugins,
and the way to the import of an existing Excel ledger (I).

Admins edit form files while staff work; reloading here applies the edit without a restart,
and a broken file shows where it is broken instead of stopping the app.
"""
from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from core.engine import plain

from ..keymap import bind, key_of
from ..widgets.pagedtable import PagedTable
from .base import BaseScreen


# What each plugin hook gives, as the plugins tab names it (the hook names are for programmers).
HOOK_WORDS = {"register_field_types": "字段类型", "register_formats": "格式", "register_functions": "函数",
              "register_data": "数据表", "register_exporters": "导出格式", "register_reports": "报表",
              "extend_form": "表单扩展", "validate_record": "记录检查", "before_save": "保存前处理",
              "after_save": "保存后处理", "configure": "设置"}


class AdminScreen(BaseScreen):
    BINDINGS = [bind("refresh", "reload_forms", "重新加载表单"), bind("import", "import_ledger"),
                bind("check", "check_data", "核对记录")]
    HELP_TEXT = (f"表单检查：列出每个表单文件的问题（文件、行号、说明）。改了 forms/ 下的文件后按 {key_of('refresh')} 重新加载。"
                 f"{key_of('import')} 从 Excel 或 CSV 导入原有台账。{key_of('check')} 用当前表单核对已存的记录：删除或改名的字段、选项还有多少人在用，"
                 "改了内容却没把表单的版本号加 1。")

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with TabbedContent():
            with TabPane("表单检查", id="forms"):
                # form titles, problems quoting the form files, plugin errors: as written
                yield Static("", id="admin-forms-head", markup=False)
                yield PagedTable(id="admin-problems", cursor_type="row")
            with TabPane("已安装插件", id="plugins"):
                yield Static("", id="admin-plugins-head", markup=False)
                yield PagedTable(id="admin-plugins", cursor_type="row")
            with TabPane("启动消息", id="messages"):
                with VerticalScroll():
                    yield Static("", id="admin-messages", markup=False)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.show()

    def show(self, extra: list | None = None) -> None:
        forms = self.eng.forms
        problems = list(forms.problems) + list(extra or [])
        names = "、".join(f"{f.title}（{f.id}.yaml，第{f.version}版）" for f in self.eng.record_forms())
        self.query_one("#admin-forms-head", Static).update(
            f"已加载表单：{names or '无'}\n" + (f"发现 {len(problems)} 个问题：" if problems else "表单文件检查通过。"))
        self.query_one("#admin-problems", PagedTable).show_rows(
            [("file", "文件", 24), ("line", "行", 5), ("path", "位置", 16), ("message", "说明", 60)],
            [{"id": str(i), "file": p.file or "", "line": str(p.line or ""), "path": p.path,
              "message": ("" if p.is_error else "提醒：") + plain(p.message)} for i, p in enumerate(problems)])
        self.query_one("#admin-plugins", PagedTable).show_rows(
            [("name", "名称（停用时写它）", 24), ("source", "来源", 10), ("version", "版本", 8), ("hooks", "提供", 40)],
            [{"id": p.name, "name": p.name, "source": p.source, "version": p.version,
              "hooks": "、".join(HOOK_WORDS.get(h, h) for h in p.hooks)} for p in self.eng.plugins()])
        failures = self.eng.plugin_problems()
        self.query_one("#admin-plugins-head", Static).update(
            (f"插件问题 {len(failures)} 个：\n" + "\n".join(failures)) if failures else "插件检查通过。")
        self.query_one("#admin-messages", Static).update("\n".join(self.eng.problems) or "（无）")

    def action_check_data(self) -> None:
        self.query_one("#admin-forms-head", Static).update("正在用当前表单核对已存的记录……")
        self.check_data()

    @work(thread=True, exclusive=True, group="admin-data-check")
    def check_data(self) -> None:
        found = self.app.attempt(self.eng.check_against_data)
        self.app.call_from_thread(self.data_checked, found)

    def data_checked(self, found) -> None:
        if found is None:
            self.show()
            return
        self.show(found)
        errors = sum(p.is_error for p in found)
        self.app.notify(f"核对记录：{errors} 个问题" if errors else "核对记录：已存的值都在当前表单中", timeout=5)

    def action_import_ledger(self) -> None:
        from .importer import ImportScreen

        self.app.push_screen(ImportScreen())

    def action_reload_forms(self) -> None:
        problems = self.attempt(self.eng.reload_forms)
        if problems is not None:
            self.app.notify(f"表单已重新加载，{len(problems)} 个问题" if problems else "表单已重新加载，检查通过")
        self.show()
