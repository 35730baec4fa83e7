"""The application shell: one open engine, the screen stack, errors shown, never raised.

Staff use this all day on slow office PCs and over SSH, so the shell keeps three promises:
every action has a key (shown in the footer and in the command palette), no engine error ever
reaches the terminal as a traceback (`attempt` shows it as a message), and the demo ledger is
marked 演示数据 on every screen so nobody mistakes fictional people for real ones.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import gc
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from core.engine import Engine
from core.engine import CarebookError

from . import roles
from .widgets.followups import emergency_mark
from .keymap import bind
from .keys import key_name
from .palette import CarebookPalette, PeopleCommands, PinyinCommands

TITLE = "农村留守老年人信息台账"
BUILD_AHEAD_WAIT = 5.0    # seconds, in all, the exit waits for screens still being built ahead


class CarebookApp(App):
    """The staff UI over one open `Engine` (tests construct it directly with a real engine)."""

    CSS_PATH = "app.tcss"
    TITLE = TITLE
    ENABLE_COMMAND_PALETTE = True
    COMMAND_PALETTE_BINDING = "ctrl+p"
    COMMANDS = App.COMMANDS | {PinyinCommands, PeopleCommands}
    BINDINGS = [
        bind("help", "help"),
        bind("quit", "quit", priority=True),
        # Declared here so the footer and F1 describe it in Chinese (Textual's own says "palette").
        bind("palette", "command_palette", show=False, priority=True,
             tooltip="打开命令面板：输入中文或拼音首字母查找功能和人员"),
    ]

    def __init__(self, engine: Engine, *, demo: bool = False, low_spec: bool = False,
                 today: dt.date | None = None,
                 demo_opener: Callable[[], Engine] | None = None, start_form: str | None = None) -> None:
        super().__init__()
        self.start_form = start_form    # `carebook forms preview FORM`: open this form's entry screen
        self.engine = engine
        self.demo = demo
        self.low_spec = low_spec
        self._today = today
        self.demo_opener = demo_opener
        # Bumped after every save made in the UI: screens that show counts or due lists
        # recompute on return only when it moved (a due list over 50,000 people is not free).
        self.generation = 0
        self._warmed = False
        self._person_screen = None      # see open_person
        self._after_backup: list[Callable[[], Any]] | None = None    # see after_backup
        self._quit_after_backup = False                                 # see quit_after_backup
        self._day_seen: dt.date | None = None                           # see check_new_day
        self._backup_told = 0                                           # see _backup_done
        if low_spec:
            # Old PCs and SSH links: no animation, no smooth scrolling, fewer repaints.
            self.animation_level = "none"

    def get_key_display(self, binding: Binding) -> str:
        """Every key in Chinese style (Ctrl+S, F1, Esc), on every screen (`tui.keys`)."""
        return binding.key_display or key_name(binding.key)

    # ------------------------------------------------------------------ facts for screens
    @property
    def today(self) -> dt.date:
        """A fixed date in tests and snapshots, otherwise the engine's (the real date)."""
        return self._today or self.engine.today()

    @property
    def operator(self) -> str:
        return self.engine.operator or ""

    def set_operator(self, name: str) -> None:
        self.engine.operator = name
        self.attempt(self.engine.settings.set, "operator", name)
        self.refresh_subtitle()

    def refresh_subtitle(self) -> None:
        parts = []
        if self.demo:
            parts.append("演示数据")
        if self.operator:
            parts.append(f"操作员：{self.operator}")
        parts.append(emergency_mark(self.engine))      # open 应急 follow-ups, on every screen
        self.sub_title = "  ".join(p for p in parts if p)

    # ------------------------------------------------------------------ errors
    def attempt(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call into the engine; a CarebookError becomes a message, never a traceback."""
        try:
            return fn(*args, **kwargs)
        except CarebookError as exc:
            self.show_error(exc)
        except OSError as exc:   # a full disk or a locked file on Windows, not a program bug
            self.show_error(CarebookError(f"文件读写失败：{exc.strerror or exc}"))
        return None

    def notify(self, message: str, *, title: str = "", severity: str = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """A notice shows its message as written, not as markup (Textual's default): most
        quote something typed or read from a file (a name, a reason, a path, a form's label,
        an error message quoting a cell), and a `[/b]` in it stopped the program (`tui.literal`)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def show_error(self, exc: BaseException | str) -> None:
        """Safe from worker threads too: a worker's error is shown on the UI thread."""
        if threading.get_ident() != self._thread_id:
            self.call_from_thread(self.show_error, exc)
            return
        self.notify(str(exc), title="出错了", severity="error", timeout=10)

    def settle_memory(self) -> None:
        """Called once the ledger's list rows are loaded: exempt them from garbage collection.

        They live as long as the app, and on a district ledger they are hundreds of thousands
        of dicts: every full collection walked them all, a 130 ms pause in the middle of a
        keystroke (measured on 50,000 people). Screens' modules are imported now too, while
        staff read the home screen, so the first roster or form does not pay for it, and the
        roster's opening question is asked once (sorting and filtering 50,000 list rows, ~100 ms,
        kept by the engine until the next save), so `r` only draws. On the UI thread on purpose:
        a worker could cache an answer computed from rows a save was changing meanwhile.
        """
        if not self._warmed:
            self._warmed = True
            from .screens import form_entry, person, roster, summary  # noqa: F401
        from .screens.roster import warm_first_page

        warm_first_page(self)
        gc.freeze()

    # ------------------------------------------------------------------ past midnight
    NEW_DAY_CHECK_SECONDS = 60      # how often an open program asks whether the date moved

    def check_new_day(self) -> None:
        """A program left open overnight (office PCs are) recomputes ages and what follows
        from them when the date moves, as a new day's first open does: otherwise the roster,
        home and the person files would show yesterday's ages and risk levels until it is
        started again. Every minute the date is compared with the day last seen; the marker is
        read only once it moved.

        The run is made here, on the screen's own thread, after a notice says so: the screen
        waits for it (seconds at 50,000 people, most likely at midnight), but no save can meet
        it half-way — a save between its read and its write of a village would be overwritten,
        and a list row added meanwhile would break its walk of the rows. It waits for a better
        minute while a form or a dialog is open (a form opened before it would find its record
        changed on Ctrl+S), while the day's backup is made or a save waits for it. Not for a
        read-only ledger, nor a server's (each desk keeps its own day: every desk would judge
        the whole ledger at midnight; a desk's first open of the day does it, as before)."""
        if not self._new_day_due():
            return
        self.notify("日期已变，正在按今天重新计算年龄和风险等级，请稍候……", title="新的一天", timeout=4)
        self.call_after_refresh(self._recompute_new_day, self.engine)

    SAVING_GROUPS = ("import", "export")    # workers that save (or read all) on their own thread

    def _new_day_due(self) -> bool:
        from textual.screen import ModalScreen

        engine = self.engine
        if self._day_seen == engine.today() or self._after_backup is not None or engine.backup_running():
            return False
        if any(isinstance(s, ModalScreen) or getattr(s, "holds_typing", False) for s in self.screen_stack):
            return False
        if any(w.group in self.SAVING_GROUPS and not w.is_finished for w in self.workers):
            return False    # an import saving (its rows would change under the run's walk)
        if not self.attempt(engine.refresh_due):
            self._day_seen = engine.today()     # done already (or read-only): not asked again today
            return False
        return True

    def _recompute_new_day(self, engine: Engine) -> None:
        if engine is not self.engine or not self._new_day_due():     # another ledger, or a form opened
            return
        self._day_seen = engine.today()     # tried: not again today, whatever comes of it
        try:
            done = engine.refresh_for_today()
        except Exception as exc:  # noqa: BLE001 - a day's recompute never ends the program (what is typed stays)
            import logging

            from core.engine import describe_error

            logging.getLogger("carebook.newday").warning("新的一天重新计算失败：%s", describe_error(exc))
            self.show_error(f"按新的一天重新计算未完成（{describe_error(exc)}）；明天或下次打开台账时再算。")
            return
        if done is None:
            return
        self.ledger_changed()
        self.notify(f"日期已到 {engine.today().isoformat()}：已按今天重新计算年龄和风险等级，"
                    f"{done.changed} 人有变化（每人记入修改历史）。", title="新的一天", timeout=15)
        self.redraw_shown()

    def redraw_shown(self) -> None:
        """The screen on show drawn again from the ledger, when it says it shows the ledger's
        current state (`RELOAD_WHEN_LEDGER_CHANGES`: home, the roster, a person file) — after
        another desk's save or a new day's recompute. Others are drawn anew when next shown."""
        if getattr(self.screen, "RELOAD_WHEN_LEDGER_CHANGES", False):
            self.screen.reload()

    BACKUP_CHECK_SECONDS = 3600     # how often an open program backs up again when due

    def check_backup(self) -> None:
        """A program left open for days backs the ledger up as one opened each day does
        (`Engine.start_backup`: a backup when the newest is a day old; the journal written into
        the files first, on a thread, not on the screen's); saves meanwhile wait for it with
        the same notice as after the open. Not while a save waits for the last."""
        if self._after_backup is not None or self.engine.backup_running():
            return
        self._after_backup = []
        engine = self.engine

        def start_and_wait() -> None:
            self.attempt(engine.start_backup)       # a failure is said from this thread too
            self._wait_for_backup(engine)           # at once when none was due
        self.run_worker(start_and_wait, thread=True, group="backup")

    def ledger_changed(self) -> None:
        """A screen saved something: counts and due lists are stale from now on."""
        self.generation += 1
        self.refresh_subtitle()

    # ------------------------------------------------------------------ the day's backup
    def watch_backup(self) -> None:
        """Wait on a thread for the day's backup, made beside the program since the ledger
        opened; saves asked for meanwhile wait with a notice (`after_backup`). A failed backup
        is told the moment it is known, before those saves are made."""
        self._after_backup = []
        engine = self.engine
        self.run_worker(lambda: self._wait_for_backup(engine), thread=True, group="backup")

    def _wait_for_backup(self, engine: Engine) -> None:
        engine.wait_for_backup()
        try:
            self.call_from_thread(self._backup_done, engine)
        except RuntimeError:        # the program was closed meanwhile (closing waits for the backup)
            pass

    def _backup_done(self, engine: Engine) -> None:
        if engine is not self.engine:       # the demo ledger opened meanwhile: its own watcher
            return
        waiting, self._after_backup = self._after_backup or [], None
        if self._quit_after_backup:
            waiting.append(self.exit)
        found = engine.backup_problems()
        for message in found[self._backup_told:]:       # each failure once, not again every hour
            self.notify(message, title="备份", severity="warning", timeout=20)
        self._backup_told = len(found)
        notice = self._backup_notice()
        if notice is not None:
            notice.finish(waiting)
        else:
            for action in waiting:
                action()

    def _backup_notice(self) -> Any:
        """The notice of a save waiting for the backup, where it is in the stack (or None)."""
        from .screens.backupwait import BackupWaitScreen

        return next((s for s in self.screen_stack if isinstance(s, BackupWaitScreen)), None)

    def after_backup(self, action: Callable[[], Any]) -> None:
        """Do `action` (a save) now, or, while the day's backup is still being made, once it
        is done: a save would wait for it anyway (`Store.wait_for_backup`), and on this
        thread the screen would freeze with nothing said (4-5 s at 50,000 people)."""
        if self._after_backup is None or not (self._after_backup or self.engine.backup_running()):
            # no backup being made and no save waiting for one: now (a save queued with no
            # notice up would wait unseen, and a second Ctrl+S would queue it twice)
            action()
            return
        self._after_backup.append(action)
        if self.engine.backup_running() and self._backup_notice() is None:
            from .screens.backupwait import BackupWaitScreen

            self.push_screen(BackupWaitScreen())

    def drop_after_backup(self) -> None:
        """Esc on the notice: the saves asked for are not made, nor the quitting; what was typed stays."""
        self._quit_after_backup = False
        if self._after_backup:
            self._after_backup.clear()
            self.notify("未保存：备份完成后请再保存一次。已输入的内容仍在。", timeout=8)

    def quit_after_backup(self) -> bool:
        """Quitting while the day's backup is being made: the program closes the ledger only
        once the backup is done, which used to leave the screen up with nothing said for as
        long as it took (~2 s at 50,000 people, longer on a network folder). The notice says so
        and the program ends when the backup is done; Esc stays. False: no backup being made."""
        if self._after_backup is None or not self.engine.backup_running():
            return False
        from .screens.backupwait import QUIT_THEN, SAVE_QUIT_THEN, BackupWaitScreen

        self._quit_after_backup = True
        notice = self._backup_notice()
        if notice is None:
            self.push_screen(BackupWaitScreen(QUIT_THEN))
        else:                             # a save may wait already: it is made, then the program ends
            notice.say_then(SAVE_QUIT_THEN if self._after_backup else QUIT_THEN)
        return True

    # ------------------------------------------------------------------ server ledgers (issue 11)
    SERVER_POLL_SECONDS = 15.0

    def _poll_server(self) -> None:
        """Other desks save too: their rows are fetched in a worker, applied on this thread."""
        self.run_worker(self._fetch_changes, thread=True, exclusive=True, group="server-poll")

    def _fetch_changes(self) -> None:
        try:
            found = self.engine.fetch_changes()
        except CarebookError:
            return          # the server is away: the next save or screen says so
        self.call_from_thread(self._apply_changes, found)

    def _apply_changes(self, found: dict) -> None:
        if self.engine.apply_changes(found):
            self.ledger_changed()
            self.redraw_shown()

    # ------------------------------------------------------------------ start-up
    def on_mount(self) -> None:
        """Home, and over it the first-run choice or the operator prompt when needed; a
        screen's module is imported only when that screen is shown."""
        self.refresh_subtitle()
        self.watch_backup()
        if getattr(self.engine.store, "changes", None) is not None:     # a server: others save too
            self.set_interval(self.SERVER_POLL_SECONDS, self._poll_server)
        if self._today is None and getattr(self.engine.store, "changes", None) is None:
            # a date pinned (tests, snapshots) never moves; a server's desks: see check_new_day
            self.set_interval(self.NEW_DAY_CHECK_SECONDS, self.check_new_day)
        self.set_interval(self.BACKUP_CHECK_SECONDS, self.check_backup)
        from .screens.home import HomeScreen

        self._day_seen = self.engine.today()   # the launch made today's recompute
        self.push_screen(HomeScreen())
        # The settings check first: counting people loads the whole list index, which on a
        # district ledger costs more than drawing the first screen.
        if not self.demo and not self.engine.settings.get(roles.CREATED_SETTING) \
                and roles.ledger_is_empty(self.engine):
            from .screens.start import StartScreen

            self.push_screen(StartScreen())
        elif not self.operator:
            from .screens.operator import OperatorScreen

            self.push_screen(OperatorScreen())
        if self.start_form:
            self.open_form(self.start_form)

    def switch_to_demo(self) -> None:
        """The start screen's 打开演示数据: close this ledger, open the demo one."""
        if self.demo_opener is None:
            self.show_error("没有配置演示台账")
            return
        engine = self.attempt(self.demo_opener)
        if engine is None:
            return
        operator = self.operator
        self.attempt(self.engine.close)
        self.engine = engine
        self.demo = True
        self._day_seen, self._backup_told = engine.today(), 0      # another ledger's day and backups
        if operator and not engine.operator:
            engine.operator = operator
        self.refresh_subtitle()
        self.watch_backup()
        self.go_home()

    def go_home(self) -> None:
        """Pop back to the home screen and refresh what it shows."""
        from .screens.home import HomeScreen

        while len(self.screen_stack) > 2 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()
        if isinstance(self.screen, HomeScreen):
            self.screen.reload()
        else:
            self.switch_screen(HomeScreen())

    # ------------------------------------------------------------------ navigation
    def open_roster(self) -> None:
        from .screens.roster import RosterScreen

        self.push_screen(RosterScreen())

    def open_person(self, record_id: str) -> None:
        """One person file screen is kept and shown again for the next person.

        Staff open file after file from the roster; building the screen (tabs, scroll views,
        footer keys: ~35 widgets styled and laid out) cost as much as drawing it. A new one is
        made only when the kept one is already open (a file opened from a form on top of it).
        """
        from .screens.person import PersonScreen

        screen = self._person_screen
        if screen is not None and screen not in self.screen_stack:
            screen.show_person(record_id)
        else:
            screen = PersonScreen(record_id)
            if self._person_screen is None:
                self._person_screen = screen
                self.install_screen(screen, "person-file")
        self.push_screen(screen)

    def build_person_ahead(self) -> None:
        """The kept person file screen built and laid out unseen while staff read home, so the
        first file opened is as quick as the next ones (`screens.base.mount_unseen`)."""
        from .screens.base import mount_unseen
        from .screens.person import PersonScreen

        if self._person_screen is not None:
            return
        screen = self._person_screen = PersonScreen(None)
        self.install_screen(screen, "person-file")
        mount_unseen(self, screen)

    def open_form(self, form_id: str, record_id: str | None = None, **context: Any) -> None:
        from .screens.form_entry import FormEntryScreen

        try:
            screen = FormEntryScreen.opened(self, form_id, record_id, context)
        except CarebookError as exc:
            self.show_error(exc)
            return
        self.push_screen(screen)

    def open_visit(self, person_id: str, level: str | None = None) -> None:
        """The full visit form, filled in as far as known (operator, level, today, method)."""
        self.open_form(roles.VISIT_FORM, None, **roles.visit_context(self.engine, person_id, self.today,
                                                                     self.operator, level))

    def quick_visit(self, person_id: str, level: str | None = None) -> None:
        """A routine visit in two keys (V, Enter); the full form is one key (F2) away."""
        from .screens.quickvisit import QuickVisitScreen

        self.push_screen(QuickVisitScreen(person_id, level))

    def visit_rounds(self, people: list[tuple[str, str | None]], place: str) -> None:
        """Walk a village's due people one after another (`tui.screens.quickvisit.Rounds`)."""
        from .screens.quickvisit import Rounds

        Rounds(self, people, place).next()

    def action_command_palette(self) -> None:
        """Textual's palette, speaking Chinese (`tui.palette`)."""
        if self.use_command_palette and not CarebookPalette.is_open(self):
            self.push_screen(CarebookPalette())

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_go(self, where: str) -> None:
        """One entry point for the palette and the home keys."""
        from .screens.admin import AdminScreen
        from .screens.export import ExportScreen
        from .screens.operator import OperatorScreen
        from .screens.summary import SummaryScreen

        if where == "home":
            self.go_home()
        elif where == "roster":
            self.open_roster()
        elif where == "register":
            form = roles.form_or_none(self.engine, roles.PERSON_FORM)
            self.open_form(roles.PERSON_FORM, **(roles.operator_context(form, self.operator) if form else {}))
        elif where == "summary":
            self.push_screen(SummaryScreen())
        elif where == "export":
            self.push_screen(ExportScreen())
        elif where == "admin":
            self.push_screen(AdminScreen())
        elif where == "operator":
            self.push_screen(OperatorScreen())
        elif where in ("followups", "referrals"):
            from .screens.followups import FollowupsScreen

            self.push_screen(FollowupsScreen(town_view=where == "referrals"))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette finds every screen by its Chinese name."""
        for where, title, help_text in (
            ("home", "首页", "回到首页：人数、应探访、汇总截止日"),
            ("roster", "花名册", "查找人员：姓名、拼音、身份证号、电话"),
            ("register", "新建登记", "登记一位留守老年人"),
            ("summary", "汇总表", "本季度排查汇总表与截止日期"),
            ("export", "导出", "导出花名册、汇总表或记录"),
            ("admin", "管理", "表单检查、重新加载表单、已安装插件"),
            ("operator", "更换操作员", "填写当前操作员姓名"),
            ("followups", "跟进事项", "探访发现的问题、上报转介、应急处置，逾期的在前"),
            ("referrals", "街镇转介清单", "各村上报街镇、转介部门和应急的事项"),
        ):
            yield SystemCommand(title, help_text, lambda w=where: self.action_go(w))
        yield SystemCommand("帮助", "当前界面的按键说明", self.action_help)
        yield SystemCommand("退出程序", "关闭台账并退出", self.action_quit)

    async def action_quit(self) -> None:
        from .screens.form_entry import FormEntryScreen

        for screen in self.screen_stack:
            if isinstance(screen, FormEntryScreen):
                screen.keep_draft()
        if not self.quit_after_backup():
            self.exit()

    def _unseen_screens(self) -> list[Screen]:
        """Screens built ahead (`build_person_ahead`, `form_entry.build_ahead`) not shown now."""
        shown = {id(s) for stack in self._screen_stacks.values() for s in stack}
        return [s for s in self._installed_screens.values()
                if isinstance(s, Screen) and id(s) not in shown]

    def _building(self) -> list[Screen]:
        """Screens built ahead (`mount_unseen`) whose mount has begun and is not yet whole."""
        return [s for s in self._unseen_screens() if s._task is not None and not s._mounted_event.is_set()]

    async def _finish_building(self) -> None:
        """Wait (at most `BUILD_AHEAD_WAIT` seconds in all) for the screens still being built
        ahead to be whole (their mount, which waits for every widget's, done).

        Textual composes nothing once the app is exiting (`App.exit` makes `mount_all` a no-op)
        and starts no widget once it is closing: the rest of a screen built halfway was never
        made, and its widgets then met children that did not exist (the header its title, the
        person file's tabs their underline, a list its overlay) in a traceback at exit. That
        happened when staff quit, or a test ended, within a second of home showing its due list.
        """
        loop = asyncio.get_running_loop()
        end = loop.time() + BUILD_AHEAD_WAIT
        for screen in self._building():
            try:
                await asyncio.wait_for(screen._mounted_event.wait(), max(0.0, end - loop.time()))
            except asyncio.TimeoutError:
                return

    def exit(self, result: Any = None, return_code: int = 0, message: Any = None) -> None:
        """Staff quit: while a screen is being built ahead, the exit waits until it is whole
        (`_finish_building`), a fraction of a second; then the app exits as Textual exits it."""
        if not self._exit and self._building():
            async def when_built() -> None:
                await self._finish_building()
                App.exit(self, result, return_code, message)

            self.call_later(when_built)
            return
        super().exit(result, return_code, message)

    async def _shutdown(self) -> None:
        """Closed without `exit` (a test ending its `run_test`): the same wait first, while
        the app still runs."""
        await self._finish_building()
        await super()._shutdown()

    async def _close_all(self) -> None:
        """Screens built ahead and not shown are taken down first, each as one tree, the way
        Textual takes down the shown ones. Left to Textual's sweep of what else is mounted (one
        widget at a time, in no set order), a widget could handle a resize still queued for it
        after its children were gone: the same traceback at exit."""
        for screen in self._unseen_screens():
            if screen._running:
                await self._prune(screen)
        await super()._close_all()

    def on_unmount(self) -> None:
        try:
            self.engine.close()
        except CarebookError:
            pass


def open_demo_engine(forms_dir: Path | None = None, persons: int = 300, folder: Path | None = None) -> Engine:
    """Open (and on first use fill) a demo ledger, which lives apart from real records:
    `folder` (a demo ledger given with --data), else the per-user demo folder."""
    engine = Engine.open(folder or Engine.demo_folder(), forms_dir)
    if not engine.is_demo or roles.ledger_is_empty(engine):
        engine.fill_demo(persons=persons)
    return engine


RECOMPUTING = "正在按今天的日期重新计算年龄和风险等级……"


def before_first_screen(engine: Engine) -> str:
    """What the terminal says while the first screen waits (empty: nothing to wait for): the
    day's backup a recompute that saves must wait for, and the recompute itself, which on the
    first open of a day at district size takes seconds (longer on the first day after an
    upgrade) that looked like a hung program."""
    from .screens.backupwait import WAITING

    return "  ".join(note for note, due in ((WAITING, engine.backup_running()),
                                            (RECOMPUTING, engine.refresh_due())) if due)


def _unusable(engine: Engine) -> int:
    """2 (said, the ledger closed) when the ledger cannot be worked on at all, e.g. a broken
    division file on its first open; else 0."""
    import sys

    why = engine.unusable()
    if not why:
        return 0
    engine.close()
    print(f"无法打开台账：{why}", file=sys.stderr)
    return 2


def run(data_dir: Path, *, demo: bool, forms_dir: Path | None = None, low_spec: bool = False,
        start_form: str | None = None) -> int:
    """Open the ledger in `data_dir` and run the UI; a ledger that cannot open is a message."""
    import os
    import sys

    if low_spec:
        os.environ.setdefault("TEXTUAL_FPS", "15")
    def reopen() -> Engine:
        if demo:
            return open_demo_engine(forms_dir, folder=Path(data_dir))
        return Engine.open(data_dir, forms_dir)

    try:
        engine = reopen()
    except CarebookError as exc:
        print(f"无法打开台账：{exc}", file=sys.stderr)
        return 2
    why = _unusable(engine)
    if why:
        return why
    said = before_first_screen(engine)
    if said:
        print(said, end="", file=sys.stderr, flush=True)
    try:    # ages and what follows from them, recomputed on the first open of a new day, by a
        # copy of the program where it may be (its memory stays out of the staff screen's)
        engine = engine.recompute_day_apart(reopen)
    except CarebookError as exc:     # the ledger, closed for the copy, would not open again
        print(f"\n无法打开台账：{exc}", file=sys.stderr)
        return 2
    why = _unusable(engine)          # opened again: asked again
    if why:
        return why
    try:
        engine.refresh_for_today()
    except CarebookError as exc:
        print(f"\n按今天的日期重新计算未完成：{exc}", file=sys.stderr)
    else:
        if said:                    # not left in the terminal for after the program ends
            from rich.cells import cell_len

            # blanks, not an erase sequence: a Windows 10 console without VT mode prints those
            print("\r" + " " * cell_len(said) + "\r", end="", file=sys.stderr, flush=True)
    app = CarebookApp(engine, demo=demo or engine.is_demo, low_spec=low_spec,
                      demo_opener=lambda: open_demo_engine(forms_dir), start_form=start_form)
    app.run()
    return 0
