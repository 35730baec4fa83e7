"""First run: an empty data folder offers a new, empty ledger, one filled from the office's
old Excel ledger (the import screen), or the demo ledger.

The demo lives in its own folder (core.paths.demo_data_dir) so fictional people can never end
up among real records; choosing it switches the whole app over and marks every screen 演示数据.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Static

from .. import roles
from ..keymap import bind, key_of
from .base import BaseScreen


class StartScreen(BaseScreen):
    BINDINGS = [
        bind("new_ledger", "new"),
        bind("import", "import_ledger", "从 Excel 导入"),
        bind("demo", "demo"),
    ]
    HELP_TEXT = "数据文件夹里还没有台账。新建空台账后即可登记；演示数据中的人员均为虚构，用于培训。"

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Vertical(classes="dialog start"):
            yield Static("欢迎使用农村留守老年人信息台账", classes="dialog-title")
            yield Static("这个数据文件夹里还没有台账。请选择：", classes="dialog-body")
            yield Button(f"{key_of('new_ledger')} 新建空台账", id="new", variant="primary")
            yield Button(f"{key_of('import')} 新建并从 Excel/CSV 导入原有台账", id="import")
            yield Button(f"{key_of('demo')} 打开演示数据（虚构人员，用于培训）", id="demo")
        yield from self.compose_footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "new":
            self.action_new()
        elif event.button.id == "import":
            self.action_import_ledger()
        else:
            self.action_demo()

    def action_back(self) -> None:
        self.action_new()

    def action_new(self) -> None:
        self.app.attempt(self.eng.settings.set, roles.CREATED_SETTING, self.app.today.isoformat())
        self.app.pop_screen()
        self._ask_operator()

    def action_import_ledger(self) -> None:
        from .importer import ImportScreen

        self.app.attempt(self.eng.settings.set, roles.CREATED_SETTING, self.app.today.isoformat())
        self.app.pop_screen()
        self.app.push_screen(ImportScreen())
        self._ask_operator()

    def action_demo(self) -> None:
        self.app.pop_screen()
        self.app.switch_to_demo()
        self._ask_operator()

    def _ask_operator(self) -> None:
        if not self.app.operator:
            from .operator import OperatorScreen

            self.app.push_screen(OperatorScreen())
