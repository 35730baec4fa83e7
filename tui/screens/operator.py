"""Who is typing: every saved record and history entry names its operator.

The name is remembered in the ledger's settings (engine.settings) so staff type it once per
machine, and can change it from the command palette when a colleague takes over.
"""
from __future__ import annotations

from .prompt import Ask, PromptScreen


class OperatorScreen(PromptScreen):
    def __init__(self) -> None:
        super().__init__("操作员", [Ask("name", "操作员姓名", placeholder="例如：张丽")],
                         note="保存的每条记录和修改历史都会记下操作员姓名。")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#ask-name").value = self.app.operator

    def dismiss(self, result=None):
        if result:
            self.app.set_operator(result["name"])
        return super().dismiss(result)
