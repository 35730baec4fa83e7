"""How fast the staff UI is on a full district ledger (50,000 people, 200,000 visits).

Measured in one run against a bare Textual app so the ratios hold on any machine:
start to interactive home, the roster's first page, one search keystroke, opening a person
file, and peak memory. Targets: start <= 2x bare, first page <= 200 ms, keystroke <= 50 ms,
person file <= 100 ms, peak <= 250 MB.

    .venv/bin/python bench/bench_tui.py [--persons 50000] [--data DIR]

The ledger is generated once into --data (default bench/out/ledger) and reused.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import resource
import sys
import time
from pathlib import Path

from textual.app import App
from textual.widgets import Footer, Header, Static

TODAY = dt.date(2026, 11, 30)


class Bare(App):
    def compose(self):
        yield Header()
        yield Static("bare")
        yield Footer()


async def time_start(make_app) -> float:
    t = time.perf_counter()
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        elapsed = time.perf_counter() - t
    return elapsed


async def measure(engine) -> dict[str, float]:
    from tui.app import CarebookApp

    out = {}
    app = CarebookApp(engine, today=TODAY)
    t = time.perf_counter()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        out["start"] = time.perf_counter() - t
        t = time.perf_counter()
        await pilot.press("r")
        await pilot.pause()
        out["roster"] = time.perf_counter() - t
        name = next(iter(engine.index("registration").rows.values()))["name"]
        t = time.perf_counter()
        await pilot.press(name[0])
        await pilot.pause()
        out["keystroke"] = time.perf_counter() - t
        rid = next(iter(engine.index("registration").rows))
        t = time.perf_counter()
        app.open_person(rid)
        await pilot.pause()
        out["person"] = time.perf_counter() - t
        await app.workers.wait_for_complete()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=50_000)
    ap.add_argument("--data", type=Path, default=Path(__file__).parent / "out" / "ledger")
    args = ap.parse_args()

    from core.engine import Engine

    engine = Engine.open(args.data)
    if engine.count("registration") < args.persons:
        from core import demo

        print(f"generating {args.persons} people ...", file=sys.stderr)
        demo.generate(engine, persons=args.persons, seed=1, as_of=TODAY)
    engine.settings.set("operator", "测试")
    engine.settings.set("ledger_created", TODAY.isoformat())
    engine.close()
    # Time the real start: opening the ledger is part of reaching an interactive home.
    bare = asyncio.run(time_start(Bare))
    t = time.perf_counter()
    engine = Engine.open(args.data)
    open_s = time.perf_counter() - t
    got = asyncio.run(measure(engine))
    got["start"] += open_s
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    visits = engine.count("visit")
    print(f"ledger: {engine.count('registration')} people, {visits} visits")
    rows = [
        ("bare Textual app start", bare, None),
        ("carebook start to home", got["start"], 2 * bare),
        ("roster first page", got["roster"], 0.200),
        ("search keystroke", got["keystroke"], 0.050),
        ("open person file", got["person"], 0.100),
    ]
    for label, value, target in rows:
        ratio = f"  ({value / bare:.2f}x bare)" if label.startswith("carebook") else ""
        ok = "" if target is None else ("  ok" if value <= target else f"  OVER target {target * 1000:.0f} ms")
        print(f"{label:<26} {value * 1000:8.1f} ms{ratio}{ok}")
    print(f"{'peak memory':<26} {peak_mb:8.1f} MB{'  ok' if peak_mb <= 250 else '  OVER target 250 MB'}")
    engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
