"""People and visits for the follow-up tests: saved through the real engine, like a clerk would."""
from __future__ import annotations

from plugins.cn.ids import check_char
from tui_support import VISIT, save_person

TOWNS = {"120116157000": "120116157201", "120116009000": "120116009201"}


def valid_id(birth: str, seq: str) -> str:
    """A resident ID with a correct check character: Tianjin Binhai, `birth` YYYYMMDD, `seq` 3 digits
    (odd for men, even for women)."""
    first = f"120116{birth}{seq}"
    return first + check_char(first)


def person_in(eng, n: int, town: str = "120116157000", **changes):
    """The n-th test elder (born 1960: risk 中, so 升高 proposes 高) in `town`'s first test village."""
    village = TOWNS[town]
    return save_person(eng, id_number=valid_id("19600315", f"{2 * n:03d}"), file_no=f"{village}-{9000 + n}",
                       town=town, village=village, **changes)


def visit(eng, person_id: str, day: str, **findings):
    """A village visit on `day` with the given findings (others as a clean visit)."""
    data = dict(VISIT, person=person_id, visit_date=day, visitor="刘强", **findings)
    return eng.save("visit", eng.new_record("visit", **data))


REFERRAL_AND_RAISED = {"referral": "是", "referral_to": ["上报街镇"], "referral_detail": "独居做饭困难，请街镇协调护理",
                       "risk_change": "升高"}
