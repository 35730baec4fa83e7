"""One row of a repeat group, edited in a box with the same field widgets as the form.

Each value is cleaned by its field type as it is typed in the main form; the whole record is
checked by the engine when it is saved, where row errors come back with their row number.
"""
from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..keymap import bind
from ..widgets.fields import FieldRow
from ..form_renderer import hint_of, normalize_value


class RowEditScreen(ModalScreen[dict | None]):
    BINDINGS = [bind("back", "cancel", "取消"), bind("save", "ok", "确定")]

    def __init__(self, field: Any, form: Any, engine: Any, row: dict) -> None:
        super().__init__()
        self.group = field
        self.form = form
        self.engine = engine
        self.row = dict(row)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(self.group.label, classes="dialog-title", markup=False)
            with VerticalScroll(classes="dialog-fields"):
                for f in self.group.fields:
                    yield FieldRow(f, self.form, self.engine, hint_of(self.engine, f),
                                   computed=f.computed)
            with Horizontal(classes="dialog-buttons"):
                yield Button("确定 Ctrl+S", id="ok", variant="primary")
                yield Button("取消 Esc", id="cancel")

    def on_mount(self) -> None:
        rows = list(self.query(FieldRow))
        for r in rows:
            r.set_value(self.row.get(r.field.id))
        if rows:
            rows[0].editor.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_ok() if event.button.id == "ok" else self.action_cancel()

    def on_field_row_left(self, event: FieldRow.Left) -> None:
        _, message = normalize_value(self.engine, event.row.field, event.row.get_value())
        event.row.show_error(message)

    def action_ok(self) -> None:
        out, bad = {}, None
        for r in self.query(FieldRow):
            value, message = normalize_value(self.engine, r.field, r.get_value())
            r.show_error(message)
            if message is None and r.field.required is True and value in (None, "", []):
                message = f"请填写{r.field.label}"
                r.show_error(message)
            if message and bad is None:
                bad = r
            if value not in (None, "", []):
                out[r.field.id] = value
        if bad is not None:
            bad.editor.focus()
            return
        self.dismiss(out)

    def action_cancel(self) -> None:
        self.dismiss(None)
