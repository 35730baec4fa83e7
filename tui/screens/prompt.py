"""A small form in a box: the operator's name, a reason for a warning, 退出 reason and date.

Anything that must be typed before an action goes on (a reason is never optional when the
rules ask for one) is asked here, so the check "nothing empty" lives in one place.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ..keymap import bind
from ..literal import choices


@dataclass
class Ask:
    key: str
    label: str
    value: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)   # (value, label): a Select
    placeholder: str = ""
    required: bool = True


class PromptScreen(ModalScreen[dict | None]):
    """Dismisses with {key: value} once every required answer is filled, None on Esc."""

    BINDINGS = [bind("back", "cancel", "取消"), bind("save", "ok", "确定")]

    def __init__(self, title: str, asks: list[Ask], note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.asks = asks
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            # as written: titles, notes and labels quote names and form labels (`tui.literal`)
            yield Static(self.title_text, classes="dialog-title", markup=False)
            if self.note:
                yield Static(self.note, classes="dialog-body", markup=False)
            with VerticalScroll(classes="dialog-fields"):
                for ask in self.asks:
                    yield Label(ask.label + ("*" if ask.required else ""), markup=False)
                    if ask.choices:
                        yield Select(choices((lab, val) for val, lab in ask.choices), id=f"ask-{ask.key}",
                                     value=ask.value or Select.NULL, prompt="请选择")
                    else:
                        yield Input(ask.value, placeholder=ask.placeholder, id=f"ask-{ask.key}")
            yield Static("", id="prompt-error", classes="field-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("确定", id="ok", variant="primary")
                yield Button("取消", id="cancel")

    def on_mount(self) -> None:
        self.query_one(f"#ask-{self.asks[0].key}").focus()

    def answers(self) -> dict[str, str]:
        out = {}
        for ask in self.asks:
            w = self.query_one(f"#ask-{ask.key}")
            value = w.value
            out[ask.key] = "" if value is Select.NULL or value is None else str(value).strip()
        return out

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_ok()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_ok()
        else:
            self.action_cancel()

    def action_ok(self) -> None:
        values = self.answers()
        missing = [a.label for a in self.asks if a.required and not values[a.key]]
        if missing:
            self.query_one("#prompt-error", Static).update("请填写：" + "、".join(missing))
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)
