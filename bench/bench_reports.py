"""How long staff wait for the quarterly summary, the due lists and one-record commands.

Run: `.venv/bin/python -m bench.bench_reports --data DIR [--small DIR1K] [--before TREE]
[--scratch DIR] [--quarter 2026Q4] [--repeat 3]`
(DIR: a copy of a ledger from `carebook demo --persons 50000`, DIR1K one of 1,000: the reports
write their column cache into `cache/` there; `records add` runs on copies made under --scratch; TREE: the code to compare with,
e.g. `git archive 2c43149 | tar -x -C TREE`, run with this same Python).

Every row of issue 13 that a command answers, side by side in one run — before (TREE) and now
(this checkout), each command a child process of its own (start-up and ledger open included,
each peak memory its own):

- `report summary` and `visits due` as whole processes (targets 1.5 s and 1 s);
- the summary and the due list inside one process with the list rows held, as the UI holds
  them (target 1 s), and the floor: plain Python counting the summary's columns over the rows;
- `records list --limit 1` and `records add` as whole processes at 50,000 and at 1,000 people
  (target: the 50,000 figure at most 1.5 times the 1,000 one).

The machines here are shared and noisy: the CPU model and load average are printed with every
row, and every figure is the median of `--repeat` runs with its min and max; runs are
interleaved (before, now, before, now ...) so drift in the machine's speed hits both alike.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.bench_tui import machine_line

TARGETS = {"summary_cli": 1.5, "due_cli": 1.0}


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, data: str, quarter: str) -> dict:
    """The floor, in this (fresh) process: the summary's person columns as hand-written Python
    over the list rows in memory (no expression language, no ledger open in the figure)."""
    from core.engine import Engine

    eng = Engine.open(data, readonly=True)
    rows = list(eng.index("registration").rows.values())
    t = time.perf_counter()
    out: dict = {"total": _plain_count(rows)}
    out["time"] = time.perf_counter() - t
    out["rows"] = len(rows)
    eng.close()
    out["peak_mb"] = _peak_mb()
    return out


def _plain_count(rows: list[dict]) -> dict[str, int]:
    """The floor: the summary's person columns as hand-written Python over in-memory rows."""
    counts: dict[str, int] = {}
    for r in rows:
        if r.get("eligible") != "是" or r.get("status") == "退出":
            continue
        for key in (f"sex={r.get('sex')}", f"self_care={r.get('self_care')}", f"econ={r.get('economic_status')}",
                    f"health={r.get('health_status')}", f"living={r.get('living_arrangement')}",
                    f"risk={r.get('risk_level')}", f"carer={r.get('has_caregiver')}", f"town={r.get('town')}",
                    f"born={str(r.get('birth_date'))[:3]}"):
            counts[key] = counts.get(key, 0) + 1
    return counts


ROOT = Path(__file__).resolve().parent.parent
CLI = "import sys; from tui.launch import main; sys.exit(main())"
HELD = """
import json, resource, sys, time
from core.engine import Engine
kind, data = sys.argv[1], sys.argv[2]
eng = Engine.open(data, readonly=True)
eng.index("registration")
eng.rollup_rows("visit")                      # as the home screen's due list leaves them
t, c = time.perf_counter(), time.process_time()
got = eng.report("summary") if kind == "summary" else eng.visits_due()
out = {"time": time.perf_counter() - t, "cpu": time.process_time() - c,
       "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
print(json.dumps(out))
"""


def run_child(kind: str, data: Path, quarter: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.bench_reports", "--child", kind, "--data", str(data),
                           "--quarter", quarter], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def held(tree: Path, kind: str, data: Path) -> dict:
    """The summary or due list in one process of `tree`'s code, rows held as the UI holds them."""
    proc = subprocess.run([sys.executable, "-c", HELD, kind, str(data)], capture_output=True, text=True, cwd=tree)
    if proc.returncode != 0:
        sys.exit(f"{kind} ({tree}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def whole_process(args: list[str], tree: Path = ROOT) -> tuple[float, float]:
    """(wall, CPU seconds) of `carebook ARGS` with `tree`'s code, start to exit. The CPU time
    (user + system, the kernel's account of the child) says more than the wall time on a
    machine others load: waiting for a core is not carebook's cost."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, cwd=tree)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"carebook {' '.join(args)} ({tree}) failed:\n{proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def stats(values: list[float]) -> str:
    return (f"{statistics.median(values) * 1000:7.0f} ms (min {min(values) * 1000:.0f}, "
            f"max {max(values) * 1000:.0f})")


def load() -> str:
    import os

    return f"load {os.getloadavg()[0]:.2f}"


def person_file(folder: Path, n: int) -> Path:
    """A new registration for `records add`, with an ID number no other run uses."""
    sys.path.insert(0, str(ROOT / "tests"))
    from core.checkdigit import check_char
    from tui_support import PERSON

    first17 = f"12011619450{n % 9 + 1}{n // 9 % 28 + 1:02d}{n % 1000:03d}"[:17]
    path = folder / f"person-{n}.json"
    path.write_text(json.dumps(dict(PERSON, id_number=first17 + check_char(first17), file_no="", status="在册",
                                    name="测试员甲"), ensure_ascii=False), encoding="utf-8")
    return path


def scratch_copies(scratch: Path, ledgers: dict[str, Path]) -> dict[str, Path]:
    """Writable copies for `records add`, each opened once for writing first: the day's backup
    (a copy of the whole ledger, another issue's row) is not part of one save."""
    import shutil

    out = {}
    for name, src in ledgers.items():
        dst = scratch / f"add-{name}"
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src, dst, symlinks=True)
        whole_process(["--data", str(dst), "records", "add", "registration",
                       str(person_file(scratch, 990 + len(out))), "--operator", "测试"])
        out[name] = dst
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--small", type=Path, help="a 1,000-person ledger: the ratio rows")
    ap.add_argument("--before", type=Path, help="a tree of the code to compare with")
    ap.add_argument("--scratch", type=Path, help="where copies for `records add` may be made")
    ap.add_argument("--quarter", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    from core.dates import quarter_of
    import datetime as dt
    quarter = args.quarter or quarter_of(dt.date.today())
    if args.child:
        print(json.dumps(child(args.child, str(args.data), quarter), ensure_ascii=False))
        return 0

    print(f"ledger {args.data} (small: {args.small}), quarter {quarter}; {machine_line()}")
    trees = {"now": ROOT, **({"before": args.before} if args.before else {})}
    sizes = {"50k": args.data, **({"1k": args.small} if args.small else {})}
    adds = scratch_copies(args.scratch, sizes) if args.scratch else {}
    figures: dict[tuple, list[float]] = {}
    cpus: dict[tuple, list[float]] = {}
    loads: dict[tuple, list[str]] = {}
    floor: list[dict] = []
    n = 0

    def note(key: tuple, got: tuple[float, float] | dict) -> None:
        wall, cpu = (got["time"], got["cpu"]) if isinstance(got, dict) else got
        figures.setdefault(key, []).append(wall)
        cpus.setdefault(key, []).append(cpu)
        loads.setdefault(key, []).append(load())

    for _ in range(args.repeat):
        floor.append(run_child("floor", args.data, quarter))
        for tree_name in ("before", "now"):
            tree = trees.get(tree_name)
            if tree is None:
                continue
            data = ["--data", str(args.data)]
            note(("summary_cli", tree_name), whole_process([*data, "report", "summary", "--quarter", quarter], tree))
            note(("due_cli", tree_name), whole_process([*data, "visits", "due"], tree))
            note(("summary_ui", tree_name), held(tree, "summary", args.data))
            note(("due_ui", tree_name), held(tree, "due", args.data))
            for size, ledger in sizes.items():
                note(("list", tree_name, size), whole_process(["--data", str(ledger), "records", "list",
                                                               "registration", "--limit", "1"], tree))
            for size, ledger in adds.items():
                n += 1
                note(("add", tree_name, size), whole_process(
                    ["--data", str(ledger), "records", "add", "registration", str(person_file(args.scratch, n)),
                     "--operator", "测试"], tree))

    def row(label: str, key: str, target: float | None = None, size: str | None = None) -> None:
        for tree_name in ("before", "now"):
            k = (key, tree_name) if size is None else (key, tree_name, size)
            if k not in figures:
                continue
            med = statistics.median(figures[k])
            verdict = "" if target is None or tree_name == "before" else \
                f"  target {target:.1f} s {'ok' if med <= target else 'OVER'}"
            print(f"{label:<38} {tree_name:<6} {stats(figures[k])} cpu {statistics.median(cpus[k]) * 1000:5.0f} ms"
                  f"{verdict}   [{', '.join(loads[k])}]")

    def ratio(label: str, key: str) -> None:
        for tree_name in ("before", "now"):
            big, small = figures.get((key, tree_name, "50k")), figures.get((key, tree_name, "1k"))
            if big and small:
                r = statistics.median(big) / statistics.median(small)
                rc = statistics.median(cpus[(key, tree_name, "50k")]) / statistics.median(cpus[(key, tree_name, "1k")])
                print(f"{label:<38} {tree_name:<6} 50k/1k = {r:.2f}x wall, {rc:.2f}x cpu"
                      + ("" if tree_name == "before" else f"  target 1.5x {'ok' if r <= 1.5 else 'OVER'}"))

    print(f"{'what':<38} {'code':<6} wall median (min, max), cpu median")
    row("summary, whole process (CLI, 50k)", "summary_cli", TARGETS["summary_cli"])
    row("summary in process, rows held (UI)", "summary_ui", 1.0)
    print(f"{'floor: plain Python over ' + str(floor[0]['rows']) + ' rows':<38} {'':<6} "
          f"{stats([r['time'] for r in floor])}")
    row("due list, whole process (CLI, 50k)", "due_cli", TARGETS["due_cli"])
    row("due list in process, rows held (UI)", "due_ui")
    for size in sizes:
        row(f"records list --limit 1, whole ({size})", "list", size=size)
    ratio("records list --limit 1", "list")
    for size in adds:
        row(f"records add, whole process ({size})", "add", size=size)
    ratio("records add", "add")
    print(machine_line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
