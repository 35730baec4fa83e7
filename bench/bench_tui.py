"""How fast the staff UI is on a district ledger (50,000 people, ~300,000 visits).

Run: `.venv/bin/python -m bench.bench_tui [--data DIR] [--persons 50000] [--repeat 5]`.

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
  frame. The times until counts and the due list show are printed too.
- roster: `r` on home to the first page drawn <= 200 ms (home's workers finished first).
- keystroke: one character typed in the roster's search to the updated page <= 50 ms
  (median over --repeat different first characters; each starts from an empty search box).
- person: opening a person file from the roster to it drawn <= 100 ms (median over --repeat
  different people, each in another village, so each reads a file not yet cached).
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

TODAY = "2026-11-30"
TARGETS = {"roster": 0.200, "keystroke": 0.050, "person": 0.100, "form": 0.300}
PEAK_MB = 250


# ------------------------------------------------------------------ child side
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

    today = dt.date.fromisoformat(TODAY)
    out: dict = {}

    async def timed(pilot, action, done) -> float:
        t = time.perf_counter()
        action()
        await settle(pilot, done)
        return time.perf_counter() - t

    async def run() -> None:
        engine = Engine.open(data)
        app = CarebookApp(engine, today=today)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: type(app.screen).__name__ == "HomeScreen")
            out["start"] = time.time() - spawned
            home = app.screen
            await settle(pilot, lambda: "正在统计" not in text(home, "#home-counts"))
            out["counts"] = time.time() - spawned
            await app.workers.wait_for_complete()
            await settle(pilot)
            out["due"] = time.time() - spawned
            out["due_text"] = text(home, "#home-due").replace("\n", " ")
            if scenario == "start":
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
            if scenario == "keystroke":
                firsts = sorted({r["name"][0] for r in engine.query("registration", limit=500).rows})
                runs = []
                for ch in firsts[:repeat]:
                    before = roster._shown
                    runs.append(await timed(pilot, lambda: key(app, ch), lambda: roster._shown != before))
                    await pilot.press("backspace")
                    await pilot.pause()
                out["keystroke"] = runs
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
    """Past the first-run choice and the operator prompt, as on a working office PC.

    A child process too: Linux children start with their parent's peak RSS, so the parent
    must never load a ledger itself.
    """
    from core.engine import Engine

    eng = Engine.open(data)
    try:
        eng.settings.set("operator", "测试")
        eng.settings.set("ledger_created", TODAY)
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


def run_child(args: list[str]) -> dict:
    spawned = time.time()
    proc = subprocess.run([sys.executable, "-m", "bench.bench_tui", "--child", *args, "--spawned", repr(spawned)],
                          capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    if proc.returncode != 0:
        sys.exit(f"scenario {args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(bare: dict, got: dict[str, dict], repeat: int) -> None:
    def line(label, value, target=None, unit="ms", extra=""):
        shown = f"{value * 1000:9.1f} ms" if unit == "ms" else f"{value:9.1f} MB"
        if target is None:
            verdict = ""
        else:
            tshown = f"{target * 1000:.0f} ms" if unit == "ms" else f"{target:.0f} MB"
            verdict = f"target {tshown:>7}  {value / target:5.2f}x  {'ok' if value <= target else 'OVER'}"
        print(f"{label:<34}{shown}   {verdict}{extra}")

    b = bare["first_frame"]
    line("bare Textual app: first frame", b)
    line("carebook: interactive home", got["start"]["start"], 2 * b, extra=f"   ({got['start']['start'] / b:.2f}x bare)")
    line("  … home counts shown", got["start"]["counts"])
    line("  … home due list shown", got["start"]["due"])
    line("roster first page", got["roster"]["roster"], TARGETS["roster"])
    ks = got["keystroke"]["keystroke"]
    line(f"search keystroke (median of {len(ks)})", statistics.median(ks), TARGETS["keystroke"],
         extra=f"   max {max(ks) * 1000:.1f} ms")
    ps = got["person"]["person"]
    line(f"open person file (median of {len(ps)})", statistics.median(ps), TARGETS["person"],
         extra=f"   max {max(ps) * 1000:.1f} ms")
    fs = got["form"]["form"]
    line("open registration form: first", fs[0], TARGETS["form"])
    line(f"  … again (median of {len(fs) - 1})", statistics.median(fs[1:] or fs), TARGETS["form"],
         extra=f"   max {max(fs) * 1000:.1f} ms")
    for name in ("bare", *got):
        peak = bare["peak_mb"] if name == "bare" else got[name]["peak_mb"]
        line(f"peak memory: {name}", peak, None if name == "bare" else PEAK_MB, unit="MB")
    print(f"home due panel: {got['start']['due_text']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="an existing ledger folder (default: generate a demo one)")
    ap.add_argument("--persons", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        scenario = args.child[0]
        if scenario == "bare":
            result = child_bare(args.spawned)
            result["peak_mb"] = _rss_mb()
        elif scenario == "prepare":
            result = child_prepare(str(args.data))
        else:
            result = child_carebook(scenario, args.spawned, str(args.data), args.repeat)
        print(json.dumps(result, ensure_ascii=False))
        return 0

    data = ensure_ledger(args.data, args.persons)
    precompile()
    sizes = run_child(["prepare", "--data", str(data)])
    print(f"ledger {data}: {sizes['people']} people, {sizes['visits']} visits; "
          "80x24 headless; one process per scenario")
    print(machine_line())
    bare = run_child(["bare"])
    got = {s: run_child([s, "--data", str(data), "--repeat", str(args.repeat)])
           for s in ("start", "roster", "keystroke", "person", "form")}
    report(bare, got, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
