"""A computed field a plugin alone adds (`extend_form`: no form file or overlay field has it) is
re-evaluated like the form's own: listed in the table, applied with history.

The visit form computes nothing itself; a small plugin registered in the test gives 小王庄镇's
visits 距今天数 (`days_between(visit_date, today)`), which changes every day."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from binhai_support import TOWN, copy_forms, person, visit  # noqa: E402

from carebook import hookimpl  # noqa: E402
from core.engine import Engine  # noqa: E402
from core.lifecycle import reevaluate  # noqa: E402

DAY = dt.date(2026, 3, 10)


class DaysSince:
    """The plugin: 距今天数 on the visits of one town."""

    @hookimpl
    def extend_form(self, form_id, town):
        if form_id != "visit" or town != TOWN:
            return None
        return {"sections": {"visit": {"fields": [
            {"id": "days_since", "label": "距今天数", "type": "integer", "calculate": "days_between(visit_date, today)"}]}}}


def _open(data: Path, forms: Path, day: dt.date, **kw) -> Engine:
    return Engine.open(data, forms, operator="李芳", today=lambda: day, extra_plugins=[DaysSince()], **kw)


def test_a_computed_field_only_a_plugin_adds_is_recomputed_listed_and_applied(tmp_path):
    forms, data = copy_forms(tmp_path), tmp_path / "data"
    with _open(data, forms, DAY) as eng:
        assert not [f for f in eng.form("visit").top_fields() if f.computed]       # the form computes nothing
        pid = eng.save("registration", person(filing=DAY - dt.timedelta(days=40))).id
        ids = [eng.save("visit", visit(pid, DAY - dt.timedelta(days=d))).id for d in (1, 5)]
        assert [eng.get(v, "visit")["data"]["days_since"] for v in ids] == [1, 5]
        assert reevaluate.run(eng, apply=True, operator="李芳").changed == 0
    later = DAY + dt.timedelta(days=3)
    with _open(data, forms, later, readonly=True) as eng:
        dry = reevaluate.run(eng, "visit")
    assert dry.changes == {("visit", "距今天数", 1, 4): 1, ("visit", "距今天数", 5, 8): 1}, dry.table()
    with _open(data, forms, later) as eng:
        done = reevaluate.run(eng, apply=True, operator="李芳")
        assert done.changes[("visit", "距今天数", 1, 4)] == 1
        assert [eng.get(v, "visit")["data"]["days_since"] for v in ids] == [4, 8]
        assert eng.history(ids[0], "visit")[-1]["action"] == "重新计算"
