"""A DataTable that only ever holds one page of rows.

DataTable needs ~1.2 s to show 10,000 rows on the office PCs, so lists never hand it more than
a page; PageUp/PageDown at the table's edge ask the screen for the next page instead of
scrolling (the screen owns the query, the table only draws).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import NULL_STYLE, Style
from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from ..keymap import bind
from ..literal import cell, reads_as_markup


def column(key: str, label: str, width: int) -> tuple[str, str, int]:
    """A (key, label, width) column at least as wide as its whole label: headers are never cut
    (the children table's 与老人联系频次 was 与老人联系)."""
    return key, label, max(width, cell_len(label))


@lru_cache(maxsize=8192)
def _fit(text: str, width: int, pad: int) -> str:
    """A cell's line as Rich lays it out: padding, the text cut or filled to the width, padding.
    Kept by content: a village, a sex or a status repeats on every page."""
    return " " * pad + set_cell_size(text, width - 2 * pad) + " " * pad


class PagedTable(DataTable):
    BINDINGS = [
        bind("page_next", "page(1)", keys="pagedown", show=False),
        bind("page_prev", "page(-1)", keys="pageup", show=False),
    ]

    class PageRequest(Message):
        def __init__(self, table: "PagedTable", step: int) -> None:
            super().__init__()
            self.table = table
            self.step = step

    def __init__(self, *args: Any, paged: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.paged = paged
        self._columns_spec: tuple = ()
        self._cell_styles: dict[tuple, Style] = {}     # see _render_cell

    def show_rows(self, columns: Iterable[tuple[str, str, int]], rows: Iterable[dict]) -> None:
        """Replace the content; columns are (key, label, width) and rows carry an "id".
        Labels and cells are shown as written (`tui.literal`): names, notes and form labels
        are not markup."""
        columns = tuple(columns)
        keep = self.cursor_row
        if columns != self._columns_spec:
            self.clear(columns=True)
            for key, label, width in columns:
                self.add_column(cell(label), key=key, width=width)
            self._columns_spec = columns
        else:
            self.clear()
        for row in rows:
            self.add_row(*(cell(row.get(key, "")) for key, _, _ in columns), key=row["id"])
        if self.row_count:
            self.move_cursor(row=min(keep, self.row_count - 1), animate=False)

    def _update_dimensions(self, new_rows) -> None:
        """Skip measuring every new cell when no column sizes itself to its content.

        DataTable measures each cell of each new row (a markup parse and a Rich measure per
        cell: 400 cells for a roster page, on every keystroke) only to widen auto-width
        columns and row labels. Lists here give every column a fixed width and one-line rows
        without labels, so the measurement changes nothing; the virtual size is still updated.
        """
        if any(c.auto_width for c in self.columns.values()) or \
                any(self.rows[k].label is not None or self.rows[k].auto_height
                    for k in new_rows if k in self.rows):
            super()._update_dimensions(new_rows)
        else:
            super()._update_dimensions(())

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> list[list[Segment]]:
        """One-line cells of plain text are laid out here, not by Rich.

        DataTable renders every cell through Rich (markup parse, Padding, Console.render_lines:
        ~0.2 ms a cell), and its cell cache is dropped whenever a row is added, so a keystroke
        in the roster re-rendered ~200 cells: 45 ms of a 70 ms keystroke at 50,000 people.
        The result is the same segments Rich produces (the text fitted to the cell with
        `set_cell_size`, cell padding around it, one style), built from two caches that
        survive a new page: the fitted text by content and width, and the style by position
        (row, column, cursor and zebra styles), since the mouse reads the row and column from
        the style's meta. Anything Rich would treat differently (markup, emoji codes, control
        characters, styled Text, taller rows) still goes through DataTable.
        """
        text = self._plain_cell(row_index, column_index)
        pad = self.cell_padding
        if text is None or width <= 2 * pad or self.fixed_rows or self.fixed_columns:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        key = (base_style, row_index, column_index, cursor, hover, self._show_hover_cursor,
               self.show_cursor, self.cursor_foreground_priority, self.cursor_background_priority)
        style = self._cell_styles.get(key)
        if style is None:
            if len(self._cell_styles) > 4096:
                self._cell_styles.clear()
            component, post = self._get_styles_to_render_cell(
                row_index == -1, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
                self.cursor_foreground_priority == "css", self.cursor_background_priority == "css")
            pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component
            style = self._cell_styles[key] = next(iter(Segment.apply_style([Segment("", NULL_STYLE)], pre, post))).style
        return [[Segment(_fit(text, width, pad), style)]]

    def _plain_cell(self, row_index: int, column_index: int) -> str | None:
        """The cell's text when Rich would draw it as is, else None."""
        column_key = self._column_locations.get_key(column_index)
        if column_key is None:
            return None
        if row_index == -1:
            if self.header_height != 1:
                return None
            label = self.columns[column_key].label
            if label.spans or label.style or label.justify or label.overflow or label.end not in ("", "\n"):
                return None
            value: Any = label.plain
        else:
            row_key = self._row_locations.get_key(row_index)
            row = self.rows.get(row_key)
            if row is None or row.height != 1 or row.auto_height:
                return None
            value = self._data[row_key].get(column_key)
            if value is None:
                return ""
            if isinstance(value, Text) and not (value.spans or value.style):
                value = value.plain      # text kept as typed (`literal.cell`): drawn here too
            elif type(value) is not str or reads_as_markup(value):
                return None      # markup or an :emoji: code: Rich's job
        return value if value.isprintable() else None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cell_styles.clear()

    def current_key(self) -> str | None:
        if not self.row_count:
            return None
        key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return key.value

    def action_page(self, step: int) -> None:
        if self.paged:
            self.post_message(self.PageRequest(self, step))
        elif step > 0:
            self.action_page_down()
        else:
            self.action_page_up()
