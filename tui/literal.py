"""Text that is not the program's own, shown exactly as it was typed.

Textual reads a `str` given to a Static, a Label, a notice, an option, a select's choices, a
table cell or a border title as markup. Text from people is not markup: a 改判 reason with
`[/b]` in it crashed the form (MarkupError), `[red]李四[/red]` lost its brackets and turned
red, and `王[@click=app.quit]五` became a link that closed the program. Names, addresses,
notes, reasons, operator names, the admins' form files (labels, help, choices, messages),
imported cells, file paths and the error messages that quote them are therefore handed to
Textual as `Content` (Rich `Text` in tables), or to a widget made with `markup=False`.

`textual.markup.escape` is not used for this: it leaves `[B]x` and `[$x]` read as markup
(both hide the bracket), and doubles a backslash at the end (`C:\\台账\\` showed two).
"""
from __future__ import annotations

from typing import Any, Iterable

from rich.text import Text
from textual.content import Content


def as_typed(text: Any) -> Content:
    """`text` as typed: no markup, no styles."""
    return Content("" if text is None else str(text))


def marked(template: str, **values: Any) -> Content:
    """The program's own markup `template` (its bold, its colour) with each `$name` in it
    replaced by `values[name]` as typed: `marked("[b]$name[/b]  $note", name=..., note=...)`."""
    return Content.from_markup(template, **{k: "" if v is None else str(v) for k, v in values.items()})


def joined(parts: Iterable[Content | str]) -> Content:
    """Lines under each other: a `str` line is shown as typed, a `marked` one keeps its style."""
    return Content("\n").join(parts)


def cell(value: Any) -> Any:
    """A table cell or a select's choice as typed. DataTable reads a `str` cell as Rich markup
    (and `:name:` as an emoji), Select and OptionList a `str` choice as markup; such text is
    given as `Text` (which Select's type-to-search also reads). Other text stays `str`, which
    `PagedTable` draws on its quick path."""
    if isinstance(value, str) and reads_as_markup(value):
        return Text(value, end="", no_wrap=True)
    return value


def reads_as_markup(text: str) -> bool:
    """Whether Rich would read `text` as more than text: markup, or an `:emoji:` code."""
    return "[" in text or text.count(":") > 1


def choices(pairs: Iterable[tuple[str, Any]]) -> list[tuple[Any, Any]]:
    """(label, value) pairs for a `Select`, each label shown as written (`cell`)."""
    return [(cell(label), value) for label, value in pairs]
