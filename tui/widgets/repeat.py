"""A repeat group (children and other supporters): a table of rows, each edited in a box.

Rows have up to eight sub-fields, more than fit beside each other at 80 columns, so the table
shows the first few and a row is added or edited in a modal drawn by the same field widgets
(`RowEditScreen`). Keys (`tui.keymap`): +/Insert add, Enter edit, -/Delete remove.
"""
from __future__ import annotations

import copy
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from .. import roles
from ..keymap import bind
from ..keymap import key_of
from .pagedtable import PagedTable, column


class RepeatTable(PagedTable):
    BINDINGS = [
        bind("row_add", "add"),
        bind("open", "edit", "修改该行"),
        bind("row_remove", "remove"),
    ]

    def action_add(self) -> None:
        self.parent.add_row()

    def action_edit(self) -> None:
        self.parent.edit_row()

    def action_remove(self) -> None:
        self.parent.remove_row()


class RepeatEditor(Vertical):
    class Changed(Message):
        pass

    def __init__(self, field: Any, form: Any, engine: Any, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="repeat")
        self.field = field
        self.form = form
        self.engine = engine
        self.rows: list[dict] = []

    def compose(self) -> ComposeResult:
        yield RepeatTable(cursor_type="row", classes="repeat-table")
        limit = f"，最多 {self.field.max_rows} 行" if self.field.max_rows else ""
        yield Static(f"{key_of('row_add')} 添加  回车 修改  {key_of('row_remove')} 删除{limit}", classes="repeat-hint")

    def on_mount(self) -> None:
        self.redraw()

    def set_rows(self, rows: list[dict] | None) -> None:
        self.rows = copy.deepcopy(list(rows or []))
        if self.is_mounted:
            self.redraw()

    def redraw(self) -> None:
        shown = self.field.fields[:4]
        cols = [("n", "序", 3)] + [column(f.id, f.label, 12) for f in shown]
        data = [{"id": str(i), "n": str(i + 1),
                 **{f.id: roles.masked(self.form, f.id, row.get(f.id)) for f in shown}}
                for i, row in enumerate(self.rows)]
        if not data:
            data = [{"id": "empty", "n": "", shown[0].id: "（无）"}] if shown else []
        self.query_one(RepeatTable).show_rows(cols, data)

    def _current(self) -> int | None:
        key = self.query_one(RepeatTable).current_key()
        return int(key) if key and key.isdigit() else None

    def add_row(self) -> None:
        if self.field.max_rows and len(self.rows) >= self.field.max_rows:
            self.app.notify(f"最多 {self.field.max_rows} 行", severity="warning")
            return
        self._open(None)

    def edit_row(self) -> None:
        i = self._current()
        if i is None:
            self.add_row()
        else:
            self._open(i)

    def remove_row(self) -> None:
        i = self._current()
        if i is None:
            return
        from ..screens.confirm import ConfirmScreen

        def done(answer: str | None) -> None:
            if answer == "yes":
                del self.rows[i]
                self.redraw()
                self.post_message(self.Changed())

        self.app.push_screen(ConfirmScreen(f"删除第 {i + 1} 行？", [("yes", "删除"), ("no", "不删")]), done)

    def _open(self, index: int | None) -> None:
        from ..screens.row_edit import RowEditScreen

        start = self.rows[index] if index is not None else {}

        def done(result: dict | None) -> None:
            if result is None:
                return
            if index is None:
                self.rows.append(result)
            else:
                self.rows[index] = result
            self.redraw()
            self.post_message(self.Changed())
            self.query_one(RepeatTable).focus()

        self.app.push_screen(RowEditScreen(self.field, self.form, self.engine, start), done)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.edit_row()
