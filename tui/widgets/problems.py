"""The problems panel under a form: what stops the record being saved, until it is corrected.

A toast that lists 8 of 23 problems for ten seconds leaves the clerk with nothing to work from.
This list appears when a save is refused, stays on screen, shrinks as each field is corrected
(the screen hands it the engine's problems again whenever a field is left) and goes when none
is left; Enter on a line jumps to its field. Lines are in clerk words (`core.records.wording`):
the field's label once, no rule keys, the input to correct rather than a computed field.
"""
from __future__ import annotations

from typing import Any

from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ..keymap import bind

from core.engine import clerk_problem


class ProblemsPanel(OptionList):
    BINDINGS = [bind("open", "select", "到该项", show=False)]

    class Jump(Message):
        """Staff chose a line: the screen focuses `field_id`."""

        def __init__(self, field_id: str) -> None:
            super().__init__()
            self.field_id = field_id

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, **kwargs)     # lines quote labels and typed values
        self.active = False          # shown since a refused save, until nothing is left
        self.display = False

    def show(self, form: Any, problems: list, shown: set[str] | None = None) -> int:
        """List the blocking problems (errors) of `problems`; returns how many. `shown`: the
        fields on screen now (skip logic may hide one whose problem is then not the clerk's)."""
        lines: dict[str, str] = {}
        for p in problems:
            if not p.is_error:
                continue
            target, text = clerk_problem(form, p)
            f = form.field(target) if target else None
            if f is not None and shown is not None and target not in shown:
                continue
            line = f"{f.label}：{text}" if f is not None else text
            lines.setdefault(line, target)
        self.clear_options()
        self.add_options([Option(line, id=f"{i}|{target}") for i, (line, target) in enumerate(lines.items())])
        self.active = bool(lines)
        self.display = bool(lines)
        self.border_title = f"还有 {len(lines)} 处需要改正（F8 到此列表，回车到该项）" if lines else ""
        if lines:
            self.highlighted = 0
        return len(lines)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        target = (event.option.id or "").split("|", 1)[-1]
        if target:
            self.post_message(self.Jump(target))
