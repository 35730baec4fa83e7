"""Shared set-up for the TUI tests: a real engine on a tmp folder, demo people, typing helpers.

No fakes: every test opens `core.engine.Engine` on its own folder and drives the real app at
80x24 through Pilot, typing committed Chinese text key by key as an IME would deliver it.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from core.engine import Engine
from tui.app import CarebookApp

TODAY = dt.date(2026, 11, 30)
SIZE = (80, 24)
OPERATOR = "张丽"


def open_engine(folder: Path, persons: int = 0, forms_dir: Path | None = None) -> Engine:
    """`forms_dir`: a copied forms folder (e.g. with a town overlay added); default the shipped one."""
    if persons:                          # built once per run, copied here (tests/demo_cache.py)
        from demo_cache import demo_copy

        demo_copy(folder, persons=persons, seed=7, as_of=TODAY, forms=forms_dir, today=TODAY)
    eng = Engine.open(folder, forms_dir, today=lambda: TODAY)
    eng.settings.set("ledger_created", TODAY.isoformat())   # past the first-run choice
    eng.settings.set("operator", OPERATOR)
    eng.operator = OPERATOR
    return eng


def make_app(folder: Path, persons: int = 0, forms_dir: Path | None = None, **kw) -> CarebookApp:
    return CarebookApp(open_engine(folder, persons, forms_dir), today=TODAY, **kw)


async def type_text(pilot, text: str) -> None:
    """Committed text, one key event per character, as the terminal driver delivers an IME's
    output: the character travels with the key, and the whole commit arrives at once (one read
    of the terminal), so the app handles the keys in a row and the test waits once after them.
    (`Pilot.press("，")` drops full-width punctuation: it looks the character up by its key
    name and finds none.)"""
    from textual import events
    from textual.keys import _character_to_key

    for ch in text:
        name = ch if ch.isalnum() else _character_to_key(ch)
        pilot.app._driver.send_message(events.Key(name, ch))
    await pilot.pause()


async def until(pilot, condition, timeout: float = 10.0) -> None:
    """Wait until the UI reaches a state (a screen shown, a save done) rather than a fixed
    time: 0.3 s was not always enough on a loaded two-core machine. A UI that never gets there
    fails here, with the screen it shows."""
    import asyncio

    end = asyncio.get_running_loop().time() + timeout
    while not (reached := condition()) and asyncio.get_running_loop().time() < end:
        # The app runs on this loop: a plain sleep lets it work. `pilot.pause` would also post a
        # call to every widget of the screen and wait for each (~500 on the registration form)
        # twenty times a second, which cost more CPU than the app's own work.
        await asyncio.sleep(0.05)
    await pilot.pause(0.1)          # and the messages that state sent (a new screen's mount)
    if not reached:
        # Not left to the caller's next assertion: a wait that ran out unnoticed once let a
        # test pass on a line that was never drawn (and cost it 10 s).
        raise AssertionError(f"not reached in {timeout} s; the screen shows:\n{screen_text(pilot.app)}")


def _busy(app, timers_within: float) -> str | None:
    """What the app still has to do, or None: a message waiting for the app, a
    screen or any widget on one; a worker running; a one-shot timer (`set_timer`) due within
    `timers_within` seconds: by default the form's live values (0.25 s) and the palette's
    没有找到 (0.5 s), not the draft or building the form ahead (1 s each: a test that needs the
    draft passes 1.5). Intervals (a cursor blinking, the screen's refresh) never end and are
    not waited for."""
    nodes = [app]
    for screen in app.screen_stack:
        nodes.extend(screen.walk_children(with_self=True))
    for node in nodes:
        queue = node.__dict__.get("_message_queue")         # made on first use
        if (queue is not None and queue.qsize()) or node._next_callbacks:
            return f"message for {node!r}"
    if any(not w.is_finished for w in app.workers):
        return "worker"
    for node in nodes:
        for t in list(node._timers):
            if t._repeat == 0 and t._task is not None and not t._task.done() and t._interval <= timers_within:
                return f"timer {t._callback!r}"
    return None


async def handled(pilot) -> None:
    """Every message queued for the app and the shown screen's widgets now has been handled,
    and the screen laid out: `Pilot.pause()` without its wait for the process to look idle (at
    least 20 ms of sleep, more while any thread of the process works), which `settle` does not
    need: it checks the queues, workers and timers itself."""
    await pilot._wait_for_screen()
    pilot.app.screen._on_timer_update()


async def press(pilot, *keys: str) -> None:
    """Each key as the terminal sends it, once the app has done what the one before asked
    (`settle`). `Pilot.press` also waits, twice a key, for the process to look idle: half of a
    screen walk's time was spent sleeping there."""
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    for key in keys:                # named and given its character as `Pilot.press` does
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        try:
            char: str | None = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(pilot.app)
        await pilot.app._post_message(event)
        await settle(pilot)
        if pilot.app.animator._animations or pilot.app.animator._scheduled:
            # what the key set moving (focus scrolls the form to its field) ends first, as
            # after `Pilot.press`: a screen read mid-scroll shows the field half in view
            await pilot.app.animator.wait_until_complete()
            await settle(pilot)


async def settle(pilot, timeout: float = 15.0, timers_within: float = 0.5) -> None:
    """Until the app has nothing left to do (`_busy`), seen twice in a row. Instead of a fixed
    pause (0.3 s after each key was the habit), this waits as long as the app needs: no longer,
    and never too little on a loaded machine, where Pilot's own idle guess (no CPU used for
    20 ms) can come before a queued message is handled. The caller still asserts what it looks
    for; after `timeout` it asserts on whatever state the app is in."""
    import asyncio

    app = pilot.app
    loop = asyncio.get_running_loop()
    end, quiet, timer = loop.time() + timeout, 0, False
    while quiet < 2 and loop.time() < end:
        paused = not timer
        if paused:                  # while only a timer is due, the app has nothing to handle:
            await handled(pilot)    # no call to every widget (see `until`) until it has fired
        busy = _busy(app, timers_within)
        timer = busy is not None and busy.startswith("timer")
        if busy is None:
            quiet += paused         # quiet counts only when seen after a pause
            continue
        quiet = 0
        if busy == "worker":
            await app.workers.wait_for_complete([w for w in app.workers if not w.is_finished])
        elif timer:
            await asyncio.sleep(0.05)


async def first_run_choice(pilot, key: str, operator: str) -> None:
    """On the empty-ledger screen: press `key` (k / i / d), then say who is working."""
    await pilot.press(key)
    await pilot.pause()
    assert screen_names(pilot.app)[-1] == "OperatorScreen"
    await type_text(pilot, operator)
    await pilot.press("enter")
    await pilot.pause()


def screen_names(app) -> list[str]:
    return [type(s).__name__ for s in app.screen_stack]


# A complete registration: what a village clerk would fill in for one elder.
PERSON = {
    "file_no": "120116157201-9001",
    "town": "120116157000",
    "village": "120116157201",
    "filing_date": "2026-11-20",
    "filler": "王芳",
    "name": "赵桂兰",
    "id_number": "120116194003150023",
    "ethnicity": "汉族",
    "marital": "丧偶",
    "hukou_type": "农业(农村)",
    "address": "小王庄镇渡口村三排五号",
    "lives_alone": "是",
    "all_supporters_away": "是",
    "last_left_date": "2025-03-01",
    "health_status": "健康",
    "self_care": "自理",
    "family_doctor": "否",
    "income_sources": ["城乡居民养老保险金"],
    "economic_status": "一般",
    "living_arrangement": "独居",
    "children_count": 1,
    "housing": "自有",
    "housing_hazard": "否",
    "has_caregiver": "否",
    "children": [{"child_name": "赵明", "child_relation": "子", "child_whereabouts": "河北省沧州市",
                  "child_phone": "13812345678", "child_contact": "每月"}],
    "daily_carers": ["自己"],
    "liaison_name": "刘强",
    "liaison_phone": "13987654321",
}


# What a visitor fills in on a visit besides who, when and by whom.
VISIT = {"visit_level": "村委会", "visit_method": "入户", "saw_person": "是", "physical": "良好",
         "mental": "良好", "daily_care": "正常", "hazards": ["无"], "referral": "否", "risk_change": "无"}


def drive(test):
    """Run an async Pilot scenario as a plain pytest test (no asyncio plugin is installed)."""
    import asyncio
    import functools

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))

    return wrapper


def save_person(eng, **changes):
    """A registered person, saved the way the form saves one (defaults such as 在册 included)."""
    return eng.save("registration", eng.new_record("registration", **dict(PERSON, **changes)))


def screen_text(app, typed: bool = True) -> str:
    """What the terminal shows now, as lines of text: the top screen composited at its size,
    read from the rendered strips (not from widget state), so a message that is set but hidden,
    cut or scrolled away is not found. Wide characters appear once. With `typed=False` the
    text boxes are blanked: what the clerk typed there (a search in pinyin, a file path) is
    theirs, not the program's words."""
    from textual.strip import Strip
    from textual.widgets import Input

    strips = app.screen._compositor.render_strips()
    if not typed:
        for widget, (region, clip) in app.screen._compositor.visible_widgets.items():
            if isinstance(widget, Input):
                box = region.intersection(clip)
                for y in range(box.y, box.bottom):
                    s = strips[y]
                    strips[y] = Strip.join([s.crop(0, box.x), Strip.blank(box.width),
                                            s.crop(box.right, s.cell_length)])
    return "\n".join(strip.text.rstrip() for strip in strips)


def held_text(widget, width: int = 78) -> str:
    """The text a Static holds, laid out at `width`: for one that is not on screen now (a tab
    not shown), where `region_text` has nothing to read. Markup strings are read as rendered,
    Rich renderables (the person file's history) printed without colour."""
    import io

    from rich.console import Console

    content = widget.content
    if isinstance(content, str):
        return str(widget.render())
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(content)
    return console.file.getvalue()


def region_text(app, widget, region=None, strips=None) -> list[str]:
    """The rendered lines inside one widget's region on screen (e.g. the form beside the section
    list), or inside `region`, cut from the composited screen as `screen_text` reads it.
    `strips`: the screen already rendered (`app.screen._compositor.render_strips()`), for a
    caller that reads many regions of one unchanged screen."""
    region = region or widget.region
    strips = app.screen._compositor.render_strips() if strips is None else strips
    return [s.crop(region.x, region.right).text.rstrip() for s in strips[region.y:region.bottom]]
