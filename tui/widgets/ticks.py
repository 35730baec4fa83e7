"""Tick boxes that read without colour: `[x]` ticked, `[ ]` not.

Textual draws every tick box as `▐X▌`, ticked or not, and tells them apart by colour only; on a
monochrome office screen, a projector or a printout of the screen every box looks ticked. These
subclasses draw the state itself, through the widgets' own drawing hooks (`_button` of the
Checkbox, `render_line` of the SelectionList); behaviour and keys stay Textual's.
"""
from __future__ import annotations

from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.widgets import Checkbox, SelectionList

TICKED, UNTICKED = "[x]", "[ ]"


class TickBox(Checkbox):
    @property
    def _button(self) -> Content:
        return Content.styled(TICKED if self.value else UNTICKED, self.get_visual_style("toggle--button"))


class TickList(SelectionList):
    def render_line(self, y: int) -> Strip:
        """Textual's line with its three-cell button replaced by `[x]` or `[ ]`."""
        line = super().render_line(y)
        try:
            selection = self.get_option_at_index(self.scroll_offset.y + y)
        except Exception:        # noqa: BLE001 - a line below the last option
            return line
        segments = list(line)
        if not segments:
            return line
        style = segments[-1].style if len(segments) > 4 else segments[0].style
        mark = TICKED if selection.value in self._selected else UNTICKED
        return Strip.join([Strip([Segment(mark, style)]), line.crop(3, line.cell_length)])
