"""The admin corner's import screen with an office's roster: the column mapping shown as a screen
and saved, the import using it, 待补全 people listed there and counted on home — asserted on the
text an 80x24 terminal shows."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from test_import_office import village_roster  # noqa: E402
from tui_support import SIZE, TODAY, drive, make_app, screen_names, until  # noqa: E402


def screen_text(app) -> str:
    """What the terminal shows, line by line (the compositor's own strips)."""
    return "\n".join("".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips())


@drive
async def test_mapping_screen_then_import_as_incomplete(tmp_path):
    path, _ = village_roster(tmp_path / "翟庄子村花名册.xlsx")
    app = make_app(tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")                            # the admin corner, then its import screen
        await until(pilot, lambda: screen_names(app)[-1] == "AdminScreen")
        await pilot.press("i")
        await until(pilot, lambda: screen_names(app)[-1] == "ImportScreen")
        app.screen.query_one("#import-path").value = str(path)
        filed = (TODAY - dt.timedelta(days=5)).isoformat()
        app.screen.query_one("#import-set").value = f"filing_date={filed}"
        await pilot.press("ctrl+l")
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = screen_text(app)
        assert "表头在第 2 行" in text and "列对应已保存" in text
        assert "身份证号码" in text and "公民身份号码（同义词 95%）" in text
        assert "子女联系电话" in text and "子女及其他赡养人 联系电话" in text
        assert (tmp_path / "翟庄子村花名册.列对应.yaml").is_file()
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = screen_text(app)
        assert "已导入 5 人（其中 5 人待补全）" in text
        assert "待补全" in text and "王秀英" in text and "缺 " in text
        assert app.engine.count("registration") == 5
        await pilot.press("escape", "escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "待补全 5 人" in screen_text(app)
        await pilot.press("r")
        await until(pilot, lambda: screen_names(app)[-1] == "RosterScreen")
        app.screen.query_one("#f-list").value = "incomplete"        # the 名单 box: 待补全
        await pilot.pause()
        text = screen_text(app)
        assert "共 5 人" in text and "缺项" in text and "王秀英" in text and "项：填表人、民族" in text
