"""One form field on screen: its label, the editor its widget hint asks for, and its error.

Field types come from plugins and name a widget hint (`core.registry.WIDGETS`); this module is
the only place that turns a hint into Textual widgets, so a plugin's new field type appears in
the UI without UI code. Every editor is one line high where it can be (compact widgets) so a
form section fits the 80x24 terminals in village offices.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from rich.cells import cell_len
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, SelectionList, Static, TextArea

from textual.widgets.select import InvalidSelectValueError

from .. import roles
from ..literal import choices
from .repeat import RepeatEditor
from .ticks import TickBox, TickList

LABEL_CELLS = 17     # the label column (18 cells, one of them the gap before the editor)
DATE_RE = re.compile(r"^(\d{4})[-./年]?(\d{1,2})[-./月]?(\d{1,2})日?$")


def clean_date(text: str) -> str:
    """`20260105`, `2026.1.5`, `2026年1月5日` -> `2026-01-05`; anything else is left for the rules."""
    m = DATE_RE.match(text.strip())
    if not m:
        return text.strip()
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        return text.strip()


def show_text(static: Static, text: str) -> None:
    """`static.update(text)` unless it shows `text` already. Every update lays the whole screen
    out again (its height may change): on the registration form, ~500 widgets, 20-40 ms here.
    Most updates of the form write what is shown already (each computed field and the live
    line after every recompute, each error line at every check), and need no layout."""
    if static.content != text:
        static.update(text)


class FieldRow(Vertical):
    """Label + editor + the field's error line; reads and writes the field's stored value.
    Laid out as a two-column grid (`app.tcss`), a long label and the error line across both."""

    class Changed(Message):
        def __init__(self, row: "FieldRow") -> None:
            super().__init__()
            self.row = row

    class Left(Message):
        """Focus left the field: the screen checks it and shows its errors."""

        def __init__(self, row: "FieldRow") -> None:
            super().__init__()
            self.row = row

    def __init__(self, field: Any, form: Any, engine: Any, hint: str, *, computed: bool = False) -> None:
        super().__init__(classes="field-row", id=f"row-{field.id}")
        self.field = field
        self.form = form
        self.engine = engine
        self.hint = hint
        self.computed = computed or bool(field.readonly)
        self._value: Any = None
        self._quiet = False

    # ------------------------------------------------------------------ building
    def compose(self) -> ComposeResult:
        required = self.field.required is True and not self.computed
        label = self.field.label + ("*" if required else "")
        # Labels, computed values and messages are the form's and staff's words, not markup.
        if cell_len(label) > LABEL_CELLS:
            # A long label on its own line, whole: cut at 18 cells it read 最近一名赡养人离/津时间.
            yield Label(label, classes="field-label-long", markup=False)
            label = ""
        yield Label(label, classes="field-label", markup=False)
        yield self._editor()
        error = Static("", classes="field-error", markup=False)
        error.display = False
        yield error

    def _editor(self) -> Widget:
        f, eid = self.field, f"f-{self.field.id}"
        if self.computed:
            return Static("", id=eid, classes="field-computed", markup=False)
        if self.hint == "repeat":
            return RepeatEditor(f, self.form, self.engine, id=eid)
        if self.hint == "textarea":
            return TextArea(id=eid, compact=True, classes="field-textarea", soft_wrap=True)
        if self.hint == "checkbox":
            return TickBox("", id=eid, compact=True)
        if self.hint in ("select", "division"):
            return Select(self._options(), id=eid, compact=True, prompt="请选择")
        if self.hint == "multiselect":
            return TickList(*choices((lab, val) for val, lab in self.form.choices_for(f)), id=eid,
                            compact=True, classes="field-multi")
        if self.hint == "reference":
            return Horizontal(Static("（未选择）", id=eid, classes="field-ref", markup=False),
                              Button("选择", id=f"pick-{f.id}", compact=True), classes="field-ref-line")
        kind = {"integer": "integer", "decimal": "number"}.get(self.hint, "text")
        placeholder = f.placeholder or ("年-月-日，如 2026-01-05" if self.hint == "date" else "")
        max_len = f.max_length or (0 if self.hint != "date" else 11)
        return Input(id=eid, type=kind, compact=True, placeholder=placeholder, max_length=max_len)

    def _options(self, parent_value: Any = None) -> list[tuple[Any, str]]:
        """(label, value) pairs, each label shown as the form or the division table writes it."""
        return choices(self._choices(parent_value))

    def _choices(self, parent_value: Any) -> list[tuple[str, str]]:
        if self.hint == "division":
            divisions = self.engine.divisions
            today = self.engine.today()
            if self.field.options.get("level") == "village":
                if not parent_value:
                    return []
                return [(v.name, v.code) for v in divisions.villages(parent_value, today)]
            return [(t.name, t.code) for t in divisions.towns(today)]
        return [(lab, val) for val, lab in self.form.choices_for(self.field)]

    @property
    def editor(self) -> Widget:
        return self.query_one(f"#f-{self.field.id}")

    @property
    def parent_field(self) -> str | None:
        return self.field.options.get("parent") if self.hint == "division" else None

    def set_parent_value(self, parent_value: Any) -> None:
        """A village list follows the chosen town (the division cascade)."""
        if self.computed:
            return
        select = self.editor
        keep = self.get_value()
        options = self._options(parent_value)
        self._quiet = True
        select.set_options(options)
        if keep in {v for _, v in options}:
            select.value = keep
        self._quiet = False

    # ------------------------------------------------------------------ values
    def get_value(self) -> Any:
        if self.computed or self.hint == "reference":
            return self._value
        w = self.editor
        if self.hint == "repeat":
            return [dict(r) for r in w.rows] or None
        if isinstance(w, Select):
            return None if w.value is Select.NULL else w.value
        if isinstance(w, SelectionList):
            return list(w.selected) or None
        if isinstance(w, Checkbox):
            return w.value
        if isinstance(w, TextArea):
            return w.text.strip() or None
        text = w.value.strip()
        if not text:
            return None
        if self.hint == "date":
            return clean_date(text)
        if self.hint == "integer":
            try:
                return int(text)
            except ValueError:
                return text
        if self.hint == "decimal":
            try:
                return float(text)
            except ValueError:
                return text
        return text

    def set_value(self, value: Any, label: str | None = None) -> None:
        self._value = value
        self._quiet = True
        try:
            w = self.editor
            if self.computed:
                show_text(w, roles.display(self.form, self.field.id, value, self.engine.divisions) or "-")
            elif self.hint == "repeat":
                w.set_rows(value)
            elif self.hint == "reference":
                show_text(w, label or ("（未选择）" if not value else str(value)))
            elif isinstance(w, Select):
                if value is None or value == "":
                    w.clear()
                else:
                    try:
                        w.value = str(value)
                    except InvalidSelectValueError:
                        pass    # a village whose town list is not loaded yet, or a retired code
            elif isinstance(w, SelectionList):
                w.deselect_all()
                for v in value or []:
                    w.select(v)
            elif isinstance(w, Checkbox):
                w.value = bool(value)
            elif isinstance(w, TextArea):
                w.text = "" if value is None else str(value)
            else:
                w.value = "" if value is None else str(value)
        finally:
            self._quiet = False

    def show_error(self, message: str | None) -> None:
        """The message on its own line under the field, marked with ！ so it reads without
        colour; shown by `display`, not by CSS `:empty` (which kept an updated Static hidden)."""
        err = self.query_one(".field-error", Static)
        show_text(err, f"！{message}" if message else "")
        err.display = bool(message)
        self.set_class(bool(message), "has-error")

    @property
    def error_text(self) -> str:
        return str(self.query_one(".field-error", Static).render()) if self.has_class("has-error") else ""

    # ------------------------------------------------------------------ events up
    def _changed(self) -> None:
        if not self._quiet:
            self.post_message(self.Changed(self))

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(TextArea.Changed)
    @on(SelectionList.SelectedChanged)
    @on(RepeatEditor.Changed)
    def _on_edit(self, event: Message) -> None:
        event.stop()
        self._changed()

    def on_descendant_blur(self, event) -> None:
        self.post_message(self.Left(self))
