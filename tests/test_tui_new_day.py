"""A program left open past midnight recomputes ages and risk levels, and says so.

Office PCs stay on with carebook open overnight. The day's recompute used to run only when
the program started, so the morning after, the roster, home and the person file showed
yesterday's ages and risk levels until someone restarted it. The app now asks every minute
whether the date moved (`CarebookApp.check_new_day`) and recomputes on the screen's thread, as
a new day's first open does. The test moves the engine's clock instead of waiting for midnight and
reads the drawn screen at 80x24.
"""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from binhai_support import id_for, person, years_before  # noqa: E402
from tui_support import OPERATOR, SIZE, drive, screen_text, settle, until  # noqa: E402

from core.engine import Engine  # noqa: E402
from tui.app import CarebookApp  # noqa: E402

DAY = dt.date(2026, 3, 10)


def _ledger(tmp_path, clock) -> tuple[Engine, str]:
    """A ledger whose day's run is done for `clock[0]`, with one person turning 80 tomorrow."""
    eng = Engine.open(tmp_path / "data", operator=OPERATOR, today=lambda: clock[0])
    eng.settings.set("ledger_created", DAY.isoformat())
    eng.settings.set("operator", OPERATOR)
    data = person(filing=DAY - dt.timedelta(days=30), age=79)
    data["id_number"] = id_for(years_before(DAY + dt.timedelta(days=1), 80))    # 80 tomorrow
    data["name"] = "周满寿"
    rid = eng.save("registration", data).id
    eng.refresh_for_today()
    assert eng.get(rid)["data"]["risk_level"] == "中" and not eng.refresh_due()
    return eng, rid


def _roster_row(app) -> str:
    return next(line for line in screen_text(app).splitlines() if "周满寿" in line)


@drive
async def test_a_program_left_open_past_midnight_recomputes_and_says_so(tmp_path):
    clock = [DAY]
    eng, rid = _ledger(tmp_path, clock)
    app = CarebookApp(eng)              # the real date's way: nothing pinned
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        app.check_new_day()                                   # the same day: nothing to do
        await settle(pilot)
        assert "新的一天" not in screen_text(app) and eng.get(rid)["data"]["age"] == 79
        await pilot.press("r")                                # the roster open at midnight
        await until(pilot, lambda: "周满寿" in screen_text(app))
        assert " 79 " in _roster_row(app) and "中" in _roster_row(app)
        clock[0] = DAY + dt.timedelta(days=1)                 # midnight passes
        app.check_new_day()
        await until(pilot, lambda: "人有变化" in screen_text(app), timeout=20)
        shown = screen_text(app)
        notice = "".join(line.split("▌")[-1].strip(" │") for line in shown.splitlines() if "▌" in line)
        assert f"日期已到 {clock[0].isoformat()}：已按今天重新计算年龄和风险等级，1 人有变化" in \
            notice.replace("到2026", "到 2026").replace("，1人", "，1 人"), shown
        await until(pilot, lambda: " 80 " in _roster_row(app))     # the roster redrawn
        assert "高" in _roster_row(app), _roster_row(app)
        record = eng.get(rid)
        assert record["data"]["age"] == 80 and record["data"]["risk_level"] == "高"
        assert eng.history(rid)[-1]["action"] == "重新计算" and not eng.refresh_due()
        await pilot.press("escape")
        await until(pilot, lambda: f"今天 {clock[0].isoformat()}" in screen_text(app))   # home's date


@drive
async def test_a_form_open_at_midnight_holds_the_run_until_it_is_closed(tmp_path):
    """A form opened before the run would find its record changed on Ctrl+S: the run waits."""
    clock = [DAY]
    eng, rid = _ledger(tmp_path, clock)
    app = CarebookApp(eng)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        app.open_person(rid)
        await settle(pilot)
        await pilot.press("f2")
        await until(pilot, lambda: type(app.screen).__name__ == "FormEntryScreen")
        clock[0] = DAY + dt.timedelta(days=1)
        app.check_new_day()
        await settle(pilot)
        assert eng.refresh_due() and eng.get(rid)["data"]["age"] == 79     # not yet
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "PersonScreen")
        app.check_new_day()                                   # the next minute
        await until(pilot, lambda: not eng.refresh_due())
        assert eng.get(rid)["data"]["age"] == 80


@drive
async def test_a_program_left_open_for_days_backs_the_ledger_up_again(tmp_path):
    """Asked every hour (`CarebookApp.check_backup`): a backup once the newest is a day old."""
    from core.storage import list_backups

    with Engine.open(tmp_path / "data", operator=OPERATOR, today=lambda: DAY) as eng:
        eng.settings.set("ledger_created", DAY.isoformat())
        eng.save("registration", person(filing=DAY - dt.timedelta(days=30), age=70))
    eng = Engine.open(tmp_path / "data", operator=OPERATOR, today=lambda: DAY)     # backs up
    eng.wait_for_backup()
    (first,) = list_backups(tmp_path / "data")
    first.path.rename(first.path.with_name("20200101-000000"))         # made long ago
    app = CarebookApp(eng, today=DAY)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.check_backup()
        await until(pilot, lambda: len(list_backups(tmp_path / "data")) == 2)
        await until(pilot, lambda: not eng.backup_running())
        assert "出错了" not in screen_text(app)


@drive
async def test_a_new_days_run_that_fails_is_told_once_not_every_minute(tmp_path):
    from core.engine import CarebookError

    clock = [DAY]
    eng = Engine.open(tmp_path / "data", operator=OPERATOR, today=lambda: clock[0])
    eng.settings.set("ledger_created", DAY.isoformat())
    eng.save("registration", person(filing=DAY - dt.timedelta(days=30), age=70))
    eng.refresh_for_today()
    tried = []

    def failing():
        tried.append(clock[0])
        raise CarebookError("磁盘已满，无法保存")
    eng.refresh_for_today = failing
    app = CarebookApp(eng)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        clock[0] = DAY + dt.timedelta(days=1)
        app.check_new_day()
        await until(pilot, lambda: "磁盘已满" in screen_text(app))
        for _ in range(3):                                    # the next minutes: not again
            app.check_new_day()
            await settle(pilot)
        assert tried == [clock[0]]
        clock[0] = DAY + dt.timedelta(days=2)                 # the next day: tried again
        app.check_new_day()
        await until(pilot, lambda: len(tried) == 2)


@drive
async def test_an_import_saving_holds_the_new_days_run(tmp_path):
    """An import saves from its own thread: the run would walk rows the import is adding."""
    import threading

    clock = [DAY]
    eng, rid = _ledger(tmp_path, clock)
    app = CarebookApp(eng)
    release = threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.run_worker(release.wait, thread=True, group="import")      # an import still saving
        clock[0] = DAY + dt.timedelta(days=1)
        try:
            app.check_new_day()
            await pilot.pause(0.2)
            assert eng.refresh_due() and eng.get(rid)["data"]["age"] == 79
        finally:
            release.set()                                     # (a test that fails must not hang)
        await app.workers.wait_for_complete()
        app.check_new_day()                                   # the next minute
        await until(pilot, lambda: not eng.refresh_due())
        assert eng.get(rid)["data"]["age"] == 80


@drive
async def test_a_backup_that_keeps_failing_is_told_once_and_tried_once_a_day(tmp_path, monkeypatch):
    from core.storage import backups

    with Engine.open(tmp_path / "data", operator=OPERATOR, today=lambda: DAY) as eng:
        eng.settings.set("ledger_created", DAY.isoformat())
        eng.save("registration", person(filing=DAY - dt.timedelta(days=30), age=70))
    tried = []

    def full(root):
        tried.append(root)
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(backups, "_make_backup", full)

    def told() -> int:
        return screen_text(app).count("自动备份失败")

    eng = Engine.open(tmp_path / "data", operator=OPERATOR, today=lambda: DAY)      # tries: fails
    app = CarebookApp(eng, today=DAY)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: told() == 1)
        for _ in range(3):                                    # three hours later
            app.check_backup()
            await until(pilot, lambda: app._after_backup is None)
        await settle(pilot)
        assert len(tried) == 1 and told() == 1
        eng.store._backup_failed -= 25 * 3600                 # a day later: tried again, told
        app.check_backup()
        await until(pilot, lambda: told() == 2)
        assert len(tried) == 2
