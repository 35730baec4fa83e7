"""The first save of the day waits for the day's backup with a notice on screen, and a failed
backup is told on screen the moment it is known, before the waiting save's message.

The day's backup is slowed for real: another backup of this process (a migration's
`make_backup`) holds the lock that lets one backup run at a time, so the backup the ledger
started at open waits behind it on its own thread, in the real store, until the test lets go.
The app runs at 80x24 with its notifications drawn, and the assertions read the rendered screen.
"""
from __future__ import annotations

import shutil
import sys
import threading
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import (handled, SIZE, drive, make_app, open_engine, save_person, screen_names,  # noqa: E402
                         screen_text, type_text, until)

from core.storage import backups, list_backups  # noqa: E402

WAITING = "正在做今天的备份，请稍候"
OLD, NEW = "小王庄镇渡口村三排五号", "小王庄镇渡口村四排一号"


@contextmanager
def another_backup_running():
    """Another backup in this process holds the one-backup-at-a-time lock until the yielded
    event is set; a backup started meanwhile (the day's, at open) waits for it."""
    done, held = threading.Event(), threading.Event()

    def hold() -> None:
        with backups._ONE_AT_A_TIME:
            held.set()
            done.wait(60)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(10)
    try:
        yield done
    finally:
        done.set()
        holder.join(10)


def ledger_due_for_backup(folder: Path) -> str:
    """A ledger holding one person and no backup yet: its next opening makes the day's backup."""
    eng = open_engine(folder)
    rid = save_person(eng).id
    eng.close()
    shutil.rmtree(folder / backups.BACKUPS, ignore_errors=True)
    return rid


@asynccontextmanager
async def app_while_another_backup_runs(folder: Path, failing: bool = False):
    """(app, pilot, the person's id, the event that ends the other backup): the app at 80x24,
    notifications drawn, on a ledger whose day's backup waits behind another; `failing`: the
    day's backup will fail for real (its folder's name is taken by a file)."""
    rid = ledger_due_for_backup(folder)
    if failing:
        (folder / backups.BACKUPS).write_text("不是文件夹", encoding="utf-8")
    with another_backup_running() as done:
        app = make_app(folder)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            yield app, pilot, rid, done


async def save_while_the_backup_runs(app, pilot, rid: str) -> None:
    """From home, the person's registration form opened, the address typed anew and Ctrl+S
    pressed while the day's backup is still being made: the notice is on screen."""
    await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen")
    assert app.engine.backup_running()
    app.open_form("registration", rid)
    await until(pilot, lambda: screen_names(app)[-1] == "FormEntryScreen")
    row = app.screen.view.rows["address"]
    row.editor.focus()
    row.editor.value = ""
    await type_text(pilot, NEW)
    await pilot.press("ctrl+s")
    await until(pilot, lambda: WAITING in screen_text(app))


@drive
async def test_the_first_save_waits_for_the_days_backup_with_a_notice_then_saves(tmp_path):
    folder = tmp_path / "data"
    async with app_while_another_backup_runs(folder) as (app, pilot, rid, done):
        await save_while_the_backup_runs(app, pilot, rid)
        shown = screen_text(app)
        assert WAITING in shown and "备份完成后自动保存" in shown, shown
        assert app.engine.get(rid)["data"]["address"] == OLD        # not saved while waiting
        await until(pilot, lambda: "已等 1 秒" in screen_text(app), timeout=5)   # seen to be alive
        done.set()
        await until(pilot, lambda: "已保存" in screen_text(app))
        shown = screen_text(app)
        assert "已保存" in shown and WAITING not in shown, shown
        assert screen_names(app)[-1] == "HomeScreen"                  # the form closed as after any save
        assert app.engine.get(rid)["data"]["address"] == NEW
        assert not any(n.severity == "warning" for n in app._notifications)
    [backup] = list_backups(folder)                 # the ledger as it was opened, without the save
    held = "".join(p.read_text("utf-8") for p in (backup.path / "records").rglob("*.json"))
    assert OLD in held and NEW not in held


@drive
async def test_a_failed_backup_is_on_screen_when_known_and_before_the_waiting_save(tmp_path):
    folder = tmp_path / "data"
    async with app_while_another_backup_runs(folder, failing=True) as (app, pilot, rid, done):
        await save_while_the_backup_runs(app, pilot, rid)
        assert "自动备份失败" not in screen_text(app)
        done.set()
        await until(pilot, lambda: "自动备份失败" in screen_text(app) and "已保存" in screen_text(app))
        shown = screen_text(app)
        assert "自动备份失败" in shown and "已保存" in shown and WAITING not in shown, shown
        said = [n.message for n in app._notifications]
        first_warning = next(i for i, m in enumerate(said) if "自动备份失败" in m)
        assert first_warning < next(i for i, m in enumerate(said) if m.startswith("已保存")), said
        assert app.engine.get(rid)["data"]["address"] == NEW           # the ledger still saves


@drive
async def test_a_failed_backup_is_told_without_waiting_for_a_save(tmp_path):
    folder = tmp_path / "data"
    async with app_while_another_backup_runs(folder, failing=True) as (app, pilot, rid, done):
        await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen")
        await pilot.pause(0.3)
        assert "自动备份失败" not in screen_text(app)
        done.set()
        await until(pilot, lambda: "自动备份失败" in screen_text(app))
        assert "自动备份失败" in screen_text(app)
        assert screen_names(app)[-1] == "HomeScreen"


@drive
async def test_esc_on_the_notice_leaves_the_form_unsaved_with_what_was_typed(tmp_path):
    folder = tmp_path / "data"
    async with app_while_another_backup_runs(folder) as (app, pilot, rid, done):
        await save_while_the_backup_runs(app, pilot, rid)
        await pilot.press("escape")
        await until(pilot, lambda: WAITING not in screen_text(app))
        assert screen_names(app)[-1] == "FormEntryScreen"
        assert "未保存" in screen_text(app)
        assert app.screen.view.rows["address"].get_value() == NEW
        done.set()
        await until(pilot, lambda: not app.engine.backup_running())
        await pilot.pause(0.3)
        assert app.engine.get(rid)["data"]["address"] == OLD         # Esc: nothing saved later either
        await pilot.press("ctrl+s")                                  # the backup done: saved at once
        await until(pilot, lambda: "已保存" in screen_text(app))
        assert app.engine.get(rid)["data"]["address"] == NEW


@drive
async def test_a_quick_visit_saved_while_the_backup_runs_waits_with_the_notice_then_is_recorded(tmp_path):
    """The village clerk's usual first save of the day: V and Enter on the home due list."""
    async with app_while_another_backup_runs(tmp_path / "data") as (app, pilot, rid, done):
        await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen" and app.screen.due_items)
        assert [i.record_id for i in app.screen.due_items] == [rid]
        await pilot.press("v")
        await until(pilot, lambda: screen_names(app)[-1] == "QuickVisitScreen")
        await pilot.press("enter")
        await until(pilot, lambda: WAITING in screen_text(app))
        assert app.engine.related(rid, "visit") == []
        done.set()
        await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen" and WAITING not in screen_text(app))
        assert WAITING not in screen_text(app)
        await until(pilot, lambda: app.engine.related(rid, "visit"))
        [visit] = app.engine.related(rid, "visit")
        assert visit["data"]["visitor"] == app.operator


@drive
async def test_the_palette_opened_over_the_notice_the_save_is_made_once_it_is_closed(tmp_path):
    """Ctrl+P (a key of every screen) over the notice when the backup ends: the save waits for
    the palette to close, so it runs with its own form on top and closes that form."""
    async with app_while_another_backup_runs(tmp_path / "data") as (app, pilot, rid, done):
        await save_while_the_backup_runs(app, pilot, rid)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: screen_names(app)[-1] == "CarebookPalette")
        assert screen_names(app)[-3:] == ["FormEntryScreen", "BackupWaitScreen", "CarebookPalette"]
        done.set()
        await until(pilot, lambda: not app.engine.backup_running())
        await pilot.pause(0.3)
        assert screen_names(app)[-3:] == ["FormEntryScreen", "BackupWaitScreen", "CarebookPalette"]
        assert app.engine.get(rid)["data"]["address"] == OLD
        await pilot.press("escape")
        await until(pilot, lambda: "已保存" in screen_text(app))
        assert screen_names(app)[-1] == "HomeScreen" and WAITING not in screen_text(app)
        assert app.engine.get(rid)["data"]["address"] == NEW


@drive
async def test_an_export_while_the_backup_runs_says_it_waits_and_ends_when_the_backup_is_done(tmp_path):
    """Every export is written to the audit log at its end, after the day's backup: the export
    screen's line says so instead of a bare 正在导出…… for as long as the backup takes."""
    async with app_while_another_backup_runs(tmp_path / "data") as (app, pilot, rid, done):
        await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen")
        await pilot.press("e")
        await until(pilot, lambda: screen_names(app)[-1] == "ExportScreen")
        screen = app.screen
        out = tmp_path / "out" / "roster"
        screen.query_one("#x-output").value = str(out) + screen.exporters[screen.query_one("#x-format").value].extension
        await pilot.press("ctrl+s")
        await until(pilot, lambda: WAITING in screen_text(app))
        shown = screen_text(app)
        assert "正在导出" in shown and WAITING in shown and "已导出" not in shown, shown
        done.set()
        await until(pilot, lambda: "已导出" in screen_text(app))
        shown = screen_text(app)
        assert "已导出" in shown and WAITING not in shown, shown


def running(app) -> bool:
    """The program has not been told to end (`App.exit` sets the return code)."""
    return app.return_code is None


@drive
async def test_quitting_while_the_backup_runs_says_so_and_ends_when_the_backup_is_done(tmp_path):
    """Ctrl+Q during the day's backup: closing the ledger waits for it, and the screen says so
    (it used to stay as it was, saying nothing, for as long as the backup took)."""
    async with app_while_another_backup_runs(tmp_path / "data") as (app, pilot, rid, done):
        await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen")
        assert app.engine.backup_running()
        await pilot.press("ctrl+q")
        await until(pilot, lambda: WAITING in screen_text(app))
        shown = screen_text(app)
        assert WAITING in shown and "备份完成后自动退出" in shown and "自动保存" not in shown, shown
        await until(pilot, lambda: "已等 1 秒" in screen_text(app), timeout=5)   # seen to be alive
        assert running(app) and app.engine.backup_running()
        await pilot.press("ctrl+q")                  # asked again: still no save to speak of
        await handled(pilot)                         # not `press`: it settles the backup's worker too
        shown = screen_text(app)
        assert "备份完成后自动退出" in shown and "自动保存" not in shown, shown
        done.set()
        await until(pilot, lambda: not running(app))
        assert app.return_code == 0 and not app.engine.backup_running()
    assert len(list_backups(tmp_path / "data")) == 1               # the backup was made, then closed


@drive
async def test_esc_on_the_quitting_notice_stays_in_the_program(tmp_path):
    async with app_while_another_backup_runs(tmp_path / "data") as (app, pilot, rid, done):
        await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen")
        await pilot.press("ctrl+q")
        await until(pilot, lambda: "备份完成后自动退出" in screen_text(app))
        await pilot.press("escape")
        await until(pilot, lambda: WAITING not in screen_text(app))
        assert screen_names(app)[-1] == "HomeScreen" and "未保存" not in screen_text(app)
        done.set()
        await until(pilot, lambda: not app.engine.backup_running())
        await pilot.pause(0.5)
        assert running(app) and screen_names(app)[-1] == "HomeScreen"
        await pilot.press("ctrl+q")                                   # the backup done: ends at once
        await until(pilot, lambda: not running(app))
        assert WAITING not in screen_text(app)


@drive
async def test_quitting_over_a_waiting_save_saves_then_ends(tmp_path):
    """Ctrl+S, then Ctrl+Q while the save waits for the backup: the notice says both, the save
    is made once the backup is done, and the program ends after it."""
    folder = tmp_path / "data"
    async with app_while_another_backup_runs(folder) as (app, pilot, rid, done):
        await save_while_the_backup_runs(app, pilot, rid)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: "然后退出" in screen_text(app))
        shown = screen_text(app)
        assert WAITING in shown and "备份完成后自动保存，然后退出" in shown, shown
        assert running(app) and app.engine.get(rid)["data"]["address"] == OLD
        done.set()
        await until(pilot, lambda: not running(app))
    eng = open_engine(folder)
    assert eng.get(rid)["data"]["address"] == NEW
    eng.close()


@drive
async def test_the_palettes_quit_waits_for_the_backup_the_same_way(tmp_path):
    """退出程序 in the command palette is Ctrl+Q: the same notice, the same end."""
    async with app_while_another_backup_runs(tmp_path / "data") as (app, pilot, rid, done):
        await until(pilot, lambda: screen_names(app)[-1] == "HomeScreen")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: screen_names(app)[-1] == "CarebookPalette")
        await type_text(pilot, "退出程序")
        await until(pilot, lambda: "关闭台账并退出" in screen_text(app))      # the command found
        await pilot.press("enter")
        await until(pilot, lambda: "备份完成后自动退出" in screen_text(app))
        assert WAITING in screen_text(app) and running(app)
        done.set()
        await until(pilot, lambda: not running(app))
        assert app.return_code == 0
