"""A DataTable that only ever holds one page of rows.

DataTable needs ~1.2 s to show 10,000 rows on the office PCs, so lists never hand it more than
a page; PageUp/PageDown at the table's edge ask the screen for the next page instead of
scrolling (the screen owns the query, the table only draws).
"""
from __future__ import annotations

from typing import Any, Iterable

from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable


class PagedTable(DataTable):
    BINDINGS = [
        Binding("pagedown", "page(1)", "下一页", show=False),
        Binding("pageup", "page(-1)", "上一页", show=False),
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

    def show_rows(self, columns: Iterable[tuple[str, str, int]], rows: Iterable[dict]) -> None:
        """Replace the content; columns are (key, label, width) and rows carry an "id"."""
        columns = tuple(columns)
        keep = self.cursor_row
        if columns != self._columns_spec:
            self.clear(columns=True)
            for key, label, width in columns:
                self.add_column(label, key=key, width=width)
            self._columns_spec = columns
        else:
            self.clear()
        for row in rows:
            self.add_row(*(row.get(key, "") for key, _, _ in columns), key=row["id"])
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
