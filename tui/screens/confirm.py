"""A question with a few answers, each on a key (Y/N style), answered without the mouse."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..keymap import bind


class ConfirmScreen(ModalScreen[str | None]):
    """Dismisses with the chosen answer's key, or None on Esc."""

    BINDINGS = [bind("back", "cancel", "取消")]

    def __init__(self, question: str, answers: list[tuple[str, str]], title: str = "请确认") -> None:
        super().__init__()
        self.question = question
        self.answers = answers        # [(key, label)], first is the default
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            # as written: a question names a person, a row, a file (`tui.literal`)
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.question, classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                for i, (key, label) in enumerate(self.answers):
                    yield Button(label, id=f"answer-{key}", variant="primary" if i == 0 else "default")

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id.removeprefix("answer-"))

    def action_cancel(self) -> None:
        self.dismiss(None)
