"""Located messages shared by every part of the engine.

A `Problem` is what admins and staff see when something is wrong: a form file that does not
check, a record that breaks a rule, a data file set aside. Keeping one shape everywhere lets the
CLI print `FILE:LINE:COL: field.path: message` and the UI show the same text at the field.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One message, located as precisely as its source allows."""

    message: str                 # Chinese, for people; may end with the English key in ()
    path: str = ""               # dotted field path: `children.0.phone`, `sections.2.fields.1.type`
    file: str | None = None      # form file, when the problem is about a form file
    line: int | None = None      # 1-based
    col: int | None = None       # 1-based
    severity: str = "error"      # "error" blocks; "warning" may be accepted with a reason
    rule: str | None = None      # the rule id (or JSON Schema keyword) that fired

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line or 0}:{self.col or 0}: "
        path = f"{self.path}: " if self.path else ""
        return f"{where}{path}{self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class CarebookError(Exception):
    """Base of the errors the UI and CLI show as plain Chinese text, never a traceback."""


class FormError(CarebookError):
    """A form cannot be used (missing, or its file did not check)."""


@dataclass
class ValidationFailed(CarebookError):
    """Saving was refused; `problems` says which fields broke which rules."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems) or "记录未通过校验"
