"""Home at district size: the counts panel shows the risk counts on one line at 80x24 when
every count has five digits.

The ledger is real: a 20-person demo whose registrations are stored again under new ids —
each a stored record with its status and risk level set and the list row the engine makes
for it — through the store's own bulk save, until there are more than 10,000 people in care
at each risk level and some 1,000 who left. The app then opens it as it opens any ledger, and
the assertions read the rendered screen. (At 50,000 people the counts were 12,195, 32,762 and
2,520: five digits each is the widest line a district ledger makes.)
"""
from __future__ import annotations

import sys
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import SIZE, TODAY, drive, open_engine, screen_text, until  # noqa: E402

from tui.app import CarebookApp  # noqa: E402

ADDED = {("在册", "高"): 10000, ("在册", "中"): 12762, ("在册", "低"): 10000, ("退出", "中"): 1000}


def district_ledger(folder: Path) -> Counter:
    """The 20-person demo grown past 33,000 registrations; the (status, risk) tally stored."""
    eng = open_engine(folder, persons=20)
    form = eng.form("registration")
    rows = eng.index("registration").rows
    tally = Counter((row.get("status"), row.get("risk_level")) for row in rows.values())
    people = [eng.store.get("registration", rid) for rid in rows]
    made = []
    for i, (status, risk) in enumerate(key for key, n in ADDED.items() for _ in range(n)):
        base = people[i % len(people)]
        record = {**base, "id": str(uuid.uuid4()), "data": {**base["data"], "status": status, "risk_level": risk}}
        made.append((record, eng._index_row(form, record), None))
    for start in range(0, len(made), 20000):
        eng.store.put_many("registration", made[start:start + 20000], new=True)
    eng.close()
    return tally + Counter(ADDED)


@drive
async def test_five_digit_risk_counts_stay_on_one_line_at_80_columns(tmp_path):
    tally = district_ledger(tmp_path)
    app = CarebookApp(open_engine(tmp_path), today=TODAY)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "高 " in screen_text(app), timeout=60)
        text = screen_text(app)
        lines = text.splitlines()
        high, mid, low = (tally[("在册", level)] for level in "高中低")
        assert all(len(str(n)) == 5 for n in (high, mid, low))      # the widest a district makes
        assert f"在册 {high + mid + low} 人    退出 {tally[('退出', '中')] + tally[('退出', '高')] + tally[('退出', '低')]} 人" in text
        [line] = [ln for ln in lines if "高 " in ln]
        assert f"│ 风险 高 {high}  中 {mid}  低 {low}" in line, text
        below = lines[lines.index(line) + 1]
        assert below.startswith("╰─") and not any(c.isdigit() for c in below), text   # nothing wrapped
        panel = [ln.split("││")[0] for ln in lines[1:lines.index(below) + 1]]
        assert not any(ln.strip("│ ╰─╯").isdigit() for ln in panel), text           # no count alone
