"""Quick visit rounds: a routine visit recorded in two keys, and a village walked person by person.

Most visits on the due list find nothing new: the clerk saw the elder, all is as before. The full
visit form asks 20 fields for that (about 45 keys); here the visit is shown filled in — today,
the level the due list asked for, the operator as visitor, the form's first method, and the
routine findings spelled out (`roles.ROUTINE_VISIT`, with the form's own labels) — and Enter
saves it. Anything not routine is F2: the full form, opened with the same values.

`Rounds` walks the due people of one village in the due list's order: Enter saves and shows the
next, F9 passes one by, Esc ends the round with a count of what was recorded.
"""
from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Select, Static

from core.engine import CarebookError, ValidationFailed
from core.engine import clerk_problem

from .. import roles
from ..keymap import bind, key_of
from ..literal import choices
from .base import after_backup

SAVED, SKIPPED, FULL = "saved", "skipped", "full"


class QuickVisitScreen(ModalScreen[str | None]):
    """Dismisses with SAVED, SKIPPED (rounds only), FULL (the full form was asked for) or None."""

    BINDINGS = [
        bind("back", "cancel", "取消"),
        bind("save", "save"),
        bind("edit", "full", "完整探访表"),
        bind("skip", "skip"),
    ]

    def __init__(self, person_id: str, level: str | None = None, position: str = "") -> None:
        super().__init__()
        self.person_id = person_id
        self.position = position          # "第 2/5 位" in a round, "" for one visit
        eng = self.app.engine
        self.form = eng.form(roles.VISIT_FORM)
        if level is None:       # not from a due row: the first level of the list (村委会, the village's)
            levels = self.form.choices_for(self.form.field(roles.VISIT_LEVEL)) if self.form.field(roles.VISIT_LEVEL) else []
            level = levels[0][0] if levels else None
        context = roles.visit_context(eng, person_id, self.app.today, self.app.operator, level)
        start = eng.new_record(roles.VISIT_FORM, **context)          # the form's defaults too
        self.data = {k: v for k, v in start.items() if self.form.field(k) is None or not self.form.field(k).computed}
        self.data.update(roles.routine_values(self.form))

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        return bool(self.position) if action == "skip" else True

    def _label(self, fid: str) -> str:
        f = self.form.field(fid)
        return f.label if f else fid

    def _value(self, fid: str) -> str:
        return roles.display(self.form, fid, self.data.get(fid), self.app.engine.divisions) or "（未填）"

    def compose(self) -> ComposeResult:
        eng = self.app.engine
        person = eng.get(self.person_id, roles.PERSON_FORM) or {"data": {}}
        pdata = person["data"]
        name = pdata.get("name") or ""
        village = roles.short_village(eng.divisions, pdata.get("village"))
        known = "  ".join(f"{self._label(k)} {self._value(k)}"
                          for k in (roles.first_date_field(self.form), roles.VISIT_LEVEL, "visitor")
                          if k and self.form.field(k))
        routine = "；".join(f"{self._label(k)}：{self._value(k)}" for k in roles.routine_values(self.form))
        method = self.form.field(roles.VISIT_METHOD)
        title = "登记探访" + (f"（巡访{self.position}）" if self.position else "")
        with Vertical(classes="dialog wide", id="quick-visit"):
            yield Static(title, classes="dialog-title")
            # names, labels and values as written (`tui.literal`)
            yield Static(f"{name}  {village}\n{known}", classes="dialog-body", markup=False)
            if method is not None:
                with Horizontal(classes="dialog-line"):
                    yield Label(method.label, classes="dialog-label", markup=False)
                    yield Select(choices((lab, v) for v, lab in self.form.choices_for(method)), id="qv-method",
                                 value=self.data.get(roles.VISIT_METHOD, Select.NULL), allow_blank=False,
                                 compact=True)
            yield Static(f"情况一切如常：{routine}。", classes="dialog-body", markup=False)
            yield Static("", id="qv-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("保存 回车", id="qv-save", variant="primary", compact=True)
                yield Button("有情况 F2", id="qv-full", compact=True)
                if self.position:
                    yield Button(f"跳过 {key_of('skip')}", id="qv-skip", compact=True)
                yield Button("取消 Esc", id="qv-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#qv-save", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        action = {"qv-save": self.action_save, "qv-full": self.action_full, "qv-skip": self.action_skip,
                  "qv-cancel": self.action_cancel}.get(event.button.id or "")
        if action:
            action()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "qv-method" and event.value is not Select.NULL:
            self.data[roles.VISIT_METHOD] = event.value

    @after_backup
    def action_save(self) -> None:
        eng = self.app.engine
        if not self.app.operator:
            self.query_one("#qv-error", Static).update("！请先填写操作员（首页按 O），探访人就是操作员。")
            return
        try:
            eng.save(roles.VISIT_FORM, self.data, operator=self.app.operator)
        except ValidationFailed as exc:
            lines = []
            for p in exc.problems:
                if p.is_error:
                    target, text = clerk_problem(self.form, p)
                    lines.append(f"{self._label(target)}：{text}" if target else text)
            shown = "；".join(dict.fromkeys(lines[:3]))
            self.query_one("#qv-error", Static).update(f"！未保存：{shown}。请按 F2 填写完整探访表。")
            return
        except CarebookError as exc:
            self.query_one("#qv-error", Static).update(f"！未保存：{exc}")
            return
        self.app.ledger_changed()
        self.dismiss(SAVED)

    def action_full(self) -> None:
        self.dismiss(FULL)
        self.app.open_form(roles.VISIT_FORM, None, **{k: v for k, v in self.data.items()
                                                       if k not in roles.ROUTINE_VISIT})

    def action_skip(self) -> None:
        if self.position:
            self.dismiss(SKIPPED)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Rounds:
    """One round: the people to visit in order, and what became of each."""

    def __init__(self, app: Any, people: list[tuple[str, str | None]], place: str) -> None:
        self.app = app
        self.people = people
        self.place = place
        self.at = 0
        self.saved = self.skipped = 0

    def next(self) -> None:
        if self.at >= len(self.people):
            self.finish()
            return
        person_id, level = self.people[self.at]
        self.at += 1
        position = f" 第 {self.at}/{len(self.people)} 位"
        self.app.push_screen(QuickVisitScreen(person_id, level, position), self.answered)

    def answered(self, answer: str | None) -> None:
        if answer == SAVED:
            self.saved += 1
            self.app.notify(f"已保存第 {self.at} 位的探访", timeout=2)
        elif answer == SKIPPED:
            self.skipped += 1
        if answer in (SAVED, SKIPPED):
            self.next()
        else:
            self.finish(stopped=True)       # Esc, or F2: the full form for this person

    def finish(self, stopped: bool = False) -> None:
        left = len(self.people) - self.saved - self.skipped
        end = "巡访已中止" if stopped else "巡访结束"
        self.app.notify(f"{self.place}{end}：已记录 {self.saved} 位，跳过 {self.skipped} 位"
                        + (f"，未到 {left} 位" if left else ""), timeout=8)
