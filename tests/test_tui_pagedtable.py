"""PagedTable draws plain cells itself (for speed): it must draw exactly what DataTable draws
of the cells it is handed, which are shown as typed (`tui.literal.cell`: `[b]` is not markup)."""
from __future__ import annotations

import sys
from pathlib import Path

from rich.style import Style
from textual.app import App
from textual.strip import Strip
from textual.widgets import DataTable

from tui.literal import cell
from tui.widgets.pagedtable import PagedTable

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import SIZE, drive  # noqa: E402

# Names cut mid-character at odd widths, masked IDs, blanks, and what only Rich may handle:
# markup, :emoji: codes, line breaks, tabs, a combining accent, full-width digits.
CELLS = ["张三", "欧阳娜娜娜", "120116********0023", "", None, "男", "[b]粗[/b]", "a :smile: b",
         "第一行\n第二行", "tab\there", "e\u0301t\u00e9", "１２３", "13812345678", "在册", "x"]
COLUMNS = [("a", "姓名", 6), ("b", "村（居）委会", 5), ("c", "身份证号", 18), ("d", "风险", 1), ("e", "状态", 3)]


class OneTable(App):
    def compose(self):
        yield PagedTable(id="t", cursor_type="row", zebra_stripes=True)


def drawn(segments) -> list[tuple[str, Style | None]]:
    return [(s.text, s.style) for s in Strip(list(segments)).simplify()]


@drive
async def test_plain_cells_render_exactly_as_datatable_renders_them():
    app = OneTable()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PagedTable)
        rows = [{"id": str(i), **{key: CELLS[(i + n) % len(CELLS)] for n, (key, _, _) in enumerate(COLUMNS)}}
                for i in range(len(CELLS))]
        table.show_rows(COLUMNS, rows)
        table.focus()
        await pilot.pause()
        base = Style(color="red", bgcolor="black")
        compared = fast = 0
        for row in range(-1, table.row_count):
            for col, column in enumerate(table.ordered_columns):
                width = column.get_render_width(table)
                for cursor in (False, True):
                    for hover in (False, True):
                        ours = table._render_cell(row, col, base, width, cursor, hover)
                        theirs = DataTable._render_cell(table, row, col, base, width, cursor, hover)
                        assert len(ours) == len(theirs) == 1
                        assert drawn(ours[0]) == drawn(theirs[0]), (row, col, cursor, hover)
                        compared += 1
                        fast += table._plain_cell(row, col) is not None
        # Both ways were exercised: most cells take the fast path, the tricky ones Rich's.
        assert compared == (table.row_count + 1) * len(COLUMNS) * 4
        assert compared * 0.5 < fast < compared
        assert all(table._plain_cell(-1, col) for col in range(len(COLUMNS)))   # headers too


@drive
async def test_the_drawn_table_matches_datatable_line_by_line():
    """Whole lines (zebra stripes, the cursor row, the header) through the real render path."""
    class Both(App):
        CSS = "DataTable { height: 10; }"
        AUTO_FOCUS = None

        def compose(self):
            yield PagedTable(id="ours", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="theirs", cursor_type="row", zebra_stripes=True)

    app = Both()
    async with app.run_test(size=(80, 24)) as pilot:
        ours, theirs = app.query_one("#ours", PagedTable), app.query_one("#theirs", DataTable)
        rows = [{"id": str(i), **{key: CELLS[(i * 3 + n) % len(CELLS)] for n, (key, _, _) in enumerate(COLUMNS)}}
                for i in range(8)]
        ours.show_rows(COLUMNS, rows)
        for key, label, width in COLUMNS:
            theirs.add_column(label, key=key, width=width)
        for row in rows:
            theirs.add_row(*(cell(row[key]) for key, _, _ in COLUMNS), key=row["id"])
        for table in (ours, theirs):
            table.move_cursor(row=2)
        await pilot.pause()
        for y in range(10):
            assert drawn(ours.render_line(y)) == drawn(theirs.render_line(y)), y
        # Focused, the cursor row takes other colours: the same ones.
        ours.focus()
        await pilot.pause()
        focused_ours = [drawn(ours.render_line(y)) for y in range(10)]
        theirs.focus()
        await pilot.pause()
        assert focused_ours == [drawn(theirs.render_line(y)) for y in range(10)]
        shown = "".join(text for y in range(10) for text, _ in drawn(ours.render_line(y)))
        assert "姓名" in shown and "欧阳" in shown and "张三" in shown
        assert "[b]粗" in shown                            # as typed (cut to 6 cells), not markup
