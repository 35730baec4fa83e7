"""How fast the staff UI is on a district ledger (50,000 people, ~300,000 visits).

Run: `.venv/bin/python -m bench.bench_tui [--data DIR] [--persons 50000] [--repeat 5] [--before TREE]`
(TREE: the code to compare with, e.g. `git archive 2c43149 | tar -x -C TREE`; its app runs
under this file's scenarios, interleaved with this checkout's, and both are printed side by side).

Every scenario runs in a child process of its own, so start-up includes the imports and the
opening of the ledger exactly as staff see it, and each peak RSS (resource.getrusage) belongs
to one scenario. The bare Textual app runs the same way in the same run, so the start-up ratio
holds on any machine. Timings use the headless `App.run_test` at 80x24. Keys are sent the way
the terminal driver sends them; a timing stops when the screen shows the result, every
widget's queued messages are handled and the frame is composed (`settle`). Pilot's own
`press`/`pause` are not used for timing: they sleep at least 20 ms per call waiting for the
process to look idle, and a worker computing the due list never looks idle.

Scenarios and targets:
- start: process start to an interactive home screen (drawn, keys work; the counts and the
  due list may still be computing in a worker) <= 2x the bare app's process start to first
  frame. The times until counts and the due list show are printed too (the due list: when
  its panel holds it; home's worker then reads the roster's rows, which `roster` waits for).
- roster: `r` on home to the first page drawn <= 200 ms (home's workers finished first).
- keystroke: one character typed in the roster's search to the updated page <= 50 ms
  (median over --repeat different first characters; each starts from an empty search box);
  then --repeat names typed letter by letter as their whole pinyin (`wangguilan`), every
  letter timed: median <= 50 ms, and the slowest printed.
- keeping: the same first-character keystrokes typed while the values re-evaluation keeps
  beside the ledger are rebuilt in the background, village after village
  (`reevaluate.keep_after_open`; their files are removed after the day's run, so every
  village is read, as on a ledger never kept): median <= 50 ms, the slowest printed, and how
  many villages were kept while the keys were typed (0: the keys did not overlap the work and
  prove nothing). Removes the kept values (`keptfiles.folder`) from --data.
- person: opening a person file from the roster to it drawn <= 100 ms (median over --repeat
  different people, each in another village, so each reads a file not yet cached).
- newday: the ledger opened as `carebook` opens it when the day's recompute is due, with its
  marker removed so every record is judged (the first day after an upgrade or a form change):
  the run's time, home's due list after it, and the peak — the run made by a forked copy
  (`Engine.recompute_day_apart`) where the tree has it, else in the UI's own process. Removes
  the marker from --data (the run writes it again; the values are already today's). Where the
  tree forks, the larger peak of the day's copy and its keeper is printed too (after the
  keeper's end: `wait_kept`).
- peak memory of every scenario <= 250 MB.

Without --data the ledger is generated once into bench/out/ledger-N with
`carebook demo --persons N` (about 10 minutes for 50,000 people) and reused afterwards.
The bench writes the operator and "ledger created" settings into the data folder, so point
--data at a copy when others use the folder.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

def today_iso() -> str:
    """The day staff open the ledger: today, as the app is run (a date pinned before the ledger
    was made asked for a past due list, which must scan every visit: not what staff wait for)."""
    import datetime as dt

    return dt.date.today().isoformat()


TARGETS = {"roster": 0.200, "keystroke": 0.050, "person": 0.100, "form": 0.300}
PEAK_MB = 250


# ------------------------------------------------------------------ child side
def _pinyin_reader():
    """A character's usual pinyin, to type names as clerks do, from this checkout's
    `core/records/pinyinsearch.py` loaded by path (so a tree before it can be typed at too), and
    not from pypinyin, whose phrase tables would add 55 MB to the peak the bench reports."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "core" / "records" / "pinyinsearch.py"
    spec = importlib.util.spec_from_file_location("bench_pinyinsearch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._usual


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_bare(spawned: float) -> dict:
    import asyncio

    from textual.app import App
    from textual.widgets import Footer, Header, Static

    class Bare(App):
        def compose(self):
            yield Header()
            yield Static("bare")
            yield Footer()

    async def run() -> dict:
        async with Bare().run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            return {"first_frame": time.time() - spawned}

    return asyncio.run(run())


def child_carebook(scenario: str, spawned: float, data: str, repeat: int) -> dict:
    import asyncio
    import datetime as dt

    from core.engine import Engine
    from tui.app import CarebookApp

    today = dt.date.fromisoformat(today_iso())
    out: dict = {}

    async def timed(pilot, action, done) -> float:
        t = time.perf_counter()
        action()
        await settle(pilot, done)
        return time.perf_counter() - t

    async def run() -> None:
        engine = Engine.open(data)
        kept = None                     # keeping: how many villages have their values kept now
        if scenario == "keeping":       # as `carebook` opens it (`tui.app.run`): the day's run, then
            import shutil               # the keeping on its thread a few seconds later, here with

            from core.lifecycle import reevaluate

            if not hasattr(reevaluate, "keep_after_open"):   # a tree before it: nothing to time
                out["skipped"] = True
                engine.close()
                return
            from core.lifecycle.keptfiles import folder

            engine.refresh_for_today()  # nothing kept: every village is read in the background
            kept_dir = folder(engine.store, "registration")
            shutil.rmtree(kept_dir, ignore_errors=True)

            def kept() -> int:          # the villages' files, not the spec (`.spec.bin`)
                return len(list(kept_dir.glob("[!.]*.bin")))
        if scenario == "newday":        # as `carebook` opens a ledger whose day's run is due
            from core.lifecycle.reevaluate import MARKER

            (Path(data) / MARKER).unlink(missing_ok=True)     # every record judged: the first
            t = time.perf_counter()                           # day after an upgrade
            apart = getattr(engine, "recompute_day_apart", None)
            if apart is not None:       # a tree before it makes the run in this process
                engine = apart(lambda: Engine.open(data))
            engine.refresh_for_today()
            out["day_run"] = time.perf_counter() - t
        app = CarebookApp(engine, today=today)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: type(app.screen).__name__ == "HomeScreen")
            out["start"] = time.time() - spawned
            home = app.screen
            await settle(pilot, lambda: "正在统计" not in text(home, "#home-counts"))
            out["counts"] = time.time() - spawned
            # shown: the panel holds the list (home's worker may still read the roster's rows)
            await settle(pilot, lambda: "正在计算" not in text(home, "#home-due"))
            out["due"] = time.time() - spawned
            await app.workers.wait_for_complete()
            await settle(pilot)
            out["due_text"] = text(home, "#home-due").replace("\n", " ")
            if hasattr(home, "build_forms_ahead"):       # the registration form (and, where the tree
                # has it, the person file) built while home is read
                await settle(pilot, lambda: any(getattr(s, "built_ahead", False)
                                                for s in app._installed_screens.values())
                             and all(getattr(s, "built_ahead", True) for s in app._installed_screens.values()))
                out["form_ahead"] = time.time() - spawned
            if scenario == "newday" and hasattr(engine, "recompute_day_apart"):
                from core.lifecycle.reevaluate import wait_kept
                import resource

                wait_kept(engine)       # the keeper's end (then this process finds all kept)
                out["copies_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            if scenario in ("start", "newday"):
                return
            if scenario == "form":
                runs = []
                for _ in range(repeat):
                    runs.append(await timed(pilot, lambda: key(app, "n"), lambda: shown(app, "FormEntryScreen")))
                    await pilot.press("escape")
                    await settle(pilot, lambda: shown(app, "HomeScreen"))
                out["form"] = runs
                return
            out["roster"] = await timed(pilot, lambda: key(app, "r"), lambda: shown(app, "RosterScreen"))
            roster = app.screen
            if scenario in ("keystroke", "keeping"):
                # The names are spelled as pinyin on a thread while home is read (RecordIndex.
                # prepare_search); a clerk reading the screen gives it that second, so do we.
                job = getattr(engine.index("registration"), "_spelling_job", None)
                if job is not None:
                    job[1].join()
                firsts = sorted({r["name"][0] for r in engine.query("registration", limit=500).rows})
                if kept is not None:          # typed once the background keeping has begun
                    await settle(pilot, lambda: kept() >= 1)
                    kept_before = kept()
                runs = []
                for ch in firsts[:repeat] * (4 if scenario == "keeping" else 1):   # the same keys
                    before = roster._shown
                    runs.append(await timed(pilot, lambda: key(app, ch), lambda: roster._shown != before))
                    await pilot.press("backspace")
                    await pilot.pause()
                out[scenario] = runs
                if kept is not None:
                    out["kept_meanwhile"] = kept() - kept_before
                    return
                # A name typed as its whole pinyin, letter by letter: from the second letter on
                # each keystroke also scans the names' spellings (core.records.pinyinsearch).
                # Run where the tree has it (a tree before it just searches the keys).
                usual = _pinyin_reader()
                spelled = runs = []
                for name in sorted({r["name"] for r in engine.query("registration", limit=500).rows})[:repeat]:
                    for ch in "".join(map(usual, name)):
                        before = roster._shown
                        runs.append(await timed(pilot, lambda: key(app, ch), lambda: roster._shown != before))
                    roster.query_one("#search").value = ""
                    await pilot.pause()
                out["pinyin"] = spelled
            elif scenario == "person":
                runs, seen = [], set()
                for rid, row in engine.index("registration").rows.items():
                    if len(runs) >= repeat:
                        break
                    if row.get("village") in seen:
                        continue
                    seen.add(row.get("village"))
                    runs.append(await timed(pilot, lambda: app.open_person(rid),
                                            lambda: shown(app, "PersonScreen")))
                    await pilot.press("escape")
                    await pilot.pause()
                out["person"] = runs

    asyncio.run(run())
    out["peak_mb"] = _rss_mb()
    return out


async def settle(pilot, done=None, timeout: float = 120) -> None:
    """Until `done()` holds, the screen's queued messages are handled and a frame is composed."""
    import asyncio

    end = time.perf_counter() + timeout
    while done is not None and not done():
        if time.perf_counter() > end:
            raise TimeoutError("the screen never showed the result")
        await asyncio.sleep(0.001)       # not 0: a busy loop would starve the app's workers
    await pilot._wait_for_screen()
    pilot.app.screen._on_timer_update()     # what Pilot.pause does to draw


def key(app, name: str) -> None:
    """A key as the terminal driver delivers it (no idle waiting, unlike Pilot.press)."""
    from textual import events

    app._driver.send_message(events.Key(name, name if len(name) == 1 else None))


def shown(app, screen: str) -> bool:
    """The screen is on top and has drawn its content (mounted, not just pushed)."""
    return type(app.screen).__name__ == screen and app.screen.is_mounted


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


# ------------------------------------------------------------------ parent side
def ensure_ledger(data: Path | None, persons: int) -> Path:
    if data is not None:
        if not (data / "records" / "registration").is_dir():
            sys.exit(f"{data} 不是台账数据文件夹（没有 records/registration）")
        return data
    data = Path(__file__).parent / "out" / f"ledger-{persons}"
    if not (data / "records" / "registration").is_dir():
        print(f"generating a {persons}-person demo ledger into {data} "
              f"(carebook demo; about 10 minutes for 50,000) ...", file=sys.stderr)
        carebook = Path(sys.executable).parent / "carebook"
        subprocess.run([str(carebook), "demo", "--persons", str(persons), "--data", str(data)], check=True)
    return data


def child_prepare(data: str) -> dict:
    """Past the first-run choice and the operator prompt, and today's day's run done with its
    values kept, as on a working office PC that opened the ledger earlier today.

    A child process too: Linux children start with their parent's peak RSS, so the parent
    must never load a ledger itself.
    """
    from core.engine import Engine

    eng = Engine.open(data)
    try:
        eng.settings.set("operator", "测试")
        eng.settings.set("ledger_created", today_iso())
        try:
            from core.lifecycle.reevaluate import wait_kept
        except ImportError:                 # a tree before the day's run kept values
            pass
        else:
            eng.refresh_for_today()
            wait_kept(eng)
        return {"people": eng.count("registration"), "visits": eng.store.count("visit")}
    finally:
        eng.close()


def precompile() -> None:
    """Compile carebook's modules to bytecode first, as an installed copy has them.

    Textual's come compiled (pip compiles what it installs); carebook's, in an editable
    checkout, are compiled on a first run — unless PYTHONDONTWRITEBYTECODE is set, as on the
    machines here, when every start would compile ~100 modules again (~60 ms) and the ratio
    against the bare app would measure the compiler, not the start-up staff see."""
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", "core", "plugins", "tui", "examples"],
                   cwd=root, check=True, capture_output=True)


def machine_line() -> str:
    """CPU model and load average: figures from these shared machines mean little without them."""
    import os
    import platform

    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return f"CPU {model} x{os.cpu_count()}; load average {load}"


CHILD = ("import runpy, sys; sys.argv = sys.argv[1:]; "
         "runpy.run_path(sys.argv[0], run_name='__main__')")


def run_child(args: list[str], tree: Path | None = None) -> dict:
    """One scenario in a process of its own: this file's code driving `tree`'s app (default:
    this checkout), so the figures before and after a change are taken the same way."""
    spawned = time.time()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(Path(__file__).resolve()), "--child", *args,
                           "--spawned", repr(spawned)],
                          capture_output=True, text=True, cwd=tree or Path(__file__).parent.parent)
    if proc.returncode != 0:
        sys.exit(f"scenario {args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


SCENARIOS = ("start", "roster", "keystroke", "keeping", "person", "form", "newday")


def report(bare: dict, runs: dict[str, dict[str, dict]]) -> None:
    """Every row: before (where a tree was given) and now, side by side, each with the load
    average when its scenario ended."""
    def fig(got: dict | None, pick, unit: str) -> str:
        if got is None:
            return f"{'-':>12}"
        try:
            value = pick(got)
        except (KeyError, IndexError, statistics.StatisticsError):
            return f"{'n/a':>12}"         # a row the code before did not have (the form built ahead)
        return f"{value:9.1f} MB" if unit == "MB" else f"{value * 1000:9.1f} ms"

    def line(label: str, scenario: str, pick, target: float | None = None, unit: str = "ms") -> None:
        cells, loads = [], []
        for tree in ("before", "now"):
            got = runs.get(tree, {}).get(scenario)
            if got is not None and got.get("skipped"):      # the scenario is newer than that tree
                got = None
            cells.append(fig(got, pick, unit))
            if got is not None:
                loads.append(f"{tree} load {got.get('load', 0):.1f}")
        verdict = ""
        now = runs.get("now", {}).get(scenario)
        if target is not None and now is not None:
            try:
                value = pick(now)
                verdict = f"target {target * 1000 if unit == 'ms' else target:.0f} {unit} " + \
                          ("ok" if value <= target else "OVER")
            except (KeyError, IndexError, statistics.StatisticsError):
                verdict = ""
        print(f"{label:<34}{cells[0]}  {cells[1]}   {verdict:<18} [{', '.join(loads)}]")

    print(f"{'what':<34}{'before':>12}  {'now':>12}")
    print(f"{'bare Textual app: first frame':<34}{'':>12}  {bare['first_frame'] * 1000:9.1f} ms")
    line("carebook: interactive home", "start", lambda g: g["start"], 2 * bare["first_frame"])
    line("  … home counts shown", "start", lambda g: g["counts"])
    line("  … home due list shown", "start", lambda g: g["due"], 1.0)
    line("  … registration form built ahead", "start", lambda g: g["form_ahead"])
    line("new day, every record judged: run", "newday", lambda g: g["day_run"])
    line("  … then home due list shown", "newday", lambda g: g["due"])
    line("  … the day's copy and keeper: peak", "newday", lambda g: g["copies_peak_mb"], unit="MB")
    line("roster first page", "roster", lambda g: g["roster"], TARGETS["roster"])
    line("search keystroke (median)", "keystroke", lambda g: statistics.median(g["keystroke"]), TARGETS["keystroke"])
    line("  … whole pinyin, per letter (median)", "keystroke", lambda g: statistics.median(g["pinyin"]), TARGETS["keystroke"])
    line("  … whole pinyin, per letter (max)", "keystroke", lambda g: max(g["pinyin"]))
    line("keystroke while values are kept (median)", "keeping", lambda g: statistics.median(g["keeping"]),
         TARGETS["keystroke"])
    line("  … (max)", "keeping", lambda g: max(g["keeping"]))
    for tree in ("before", "now"):
        got = runs.get(tree, {}).get("keeping")
        if got is not None and "kept_meanwhile" in got:
            print(f"  … {tree}: {got['kept_meanwhile']} villages kept while those keys were typed")
    line("open person file (median)", "person", lambda g: statistics.median(g["person"]), TARGETS["person"])
    line("  … (max)", "person", lambda g: max(g["person"]))
    line("open registration form: first", "form", lambda g: g["form"][0], TARGETS["form"])
    line("  … again (median)", "form", lambda g: statistics.median(g["form"][1:] or g["form"]), TARGETS["form"])
    line("  … again (max)", "form", lambda g: max(g["form"][1:] or g["form"]))
    for scenario in SCENARIOS:
        line(f"peak memory: {scenario}", scenario, lambda g: g["peak_mb"], PEAK_MB, unit="MB")
    now = runs.get("now", {}).get("start")
    if now:
        print(f"home due panel: {now['due_text']}")



def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="an existing ledger folder (default: generate a demo one)")
    ap.add_argument("--persons", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--before", type=Path, help="a tree of the code to compare with (same Python)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="which scenarios (comma-separated)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        import os

        scenario = args.child[0]
        if scenario == "bare":
            result = child_bare(args.spawned)
            result["peak_mb"] = _rss_mb()
        elif scenario == "prepare":
            result = child_prepare(str(args.data))
        else:
            result = child_carebook(scenario, args.spawned, str(args.data), args.repeat)
        result["load"] = os.getloadavg()[0]
        print(json.dumps(result, ensure_ascii=False))
        return 0

    data = ensure_ledger(args.data, args.persons)
    precompile()
    sizes = run_child(["prepare", "--data", str(data)])
    print(f"ledger {data}: {sizes['people']} people, {sizes['visits']} visits; "
          "80x24 headless; one process per scenario")
    print(machine_line())
    bare = run_child(["bare"])
    trees = {"now": None, **({"before": args.before} if args.before else {})}
    runs: dict[str, dict[str, dict]] = {name: {} for name in trees}
    for scenario in args.scenarios.split(","):
        for name in ("before", "now"):          # interleaved: drift in the machine hits both
            if name in trees:
                runs[name][scenario] = run_child([scenario, "--data", str(data), "--repeat", str(args.repeat)],
                                                 trees[name])
    report(bare, runs)
    print(machine_line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
