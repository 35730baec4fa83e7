"""Choose a record for a reference field (the visit's person) by typing, as in the roster."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from .. import roles
from ..keymap import bind
from ..widgets.pagedtable import PagedTable, column


class PickRecordScreen(ModalScreen[str | None]):
    BINDINGS = [bind("back", "cancel", "取消")]

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.form = self.app.engine.form(form_id)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(f"选择：{self.form.title}", classes="dialog-title", markup=False)
            yield Input(placeholder=roles.SEARCH_HINT, id="pick-search", compact=True)
            yield PagedTable(id="pick-table", cursor_type="row")
            yield Static("回车选定  Esc 取消", classes="repeat-hint")

    def on_mount(self) -> None:
        self.refresh_rows()
        self.query_one("#pick-search").focus()

    @on(Input.Changed)
    def refresh_rows(self) -> None:
        text = self.query_one("#pick-search", Input).value.strip() or None
        page = self.app.attempt(self.app.engine.query, self.form_id, text=text, limit=30)
        if page is None:
            return
        cols = [column(fid, self.form.field(fid).label, 12) for fid in self.form.list_fields[:5]
                if self.form.field(fid)]
        divisions = self.app.engine.divisions
        rows = [{"id": r["id"], **{c: roles.masked(self.form, c, r.get(c), divisions) for c, _, _ in cols}}
                for r in page.rows]
        self.query_one(PagedTable).show_rows(cols, rows)

    @on(Input.Submitted)
    def to_table(self) -> None:
        self.query_one(PagedTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.dismiss(event.row_key.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
