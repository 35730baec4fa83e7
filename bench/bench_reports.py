"""How long staff wait for the quarterly summary and the due lists on a district ledger.

Run: `.venv/bin/python -m bench.bench_reports --data DIR [--quarter 2026Q4] [--repeat 3]`
(DIR: a ledger from `carebook demo --persons 50000`; nothing is written to it).

Printed side by side in one run, each in a child process of its own (so each starts cold and
its peak memory is its own):

- `report summary` and `visits due` as whole processes (the CLI, start-up included): targets
  1.5 s and 1 s;
- the summary inside one process three ways: from the list rows and per-person quarterly
  counts (how carebook counts now), from the records and the quarter's visit rows (how it
  counted before, forced by treating every row as written before the fields were declared),
  and the floor — plain Python counting the same columns over rows already in memory, with no
  expression language;
- the due list in one process, from the rows in memory (the UI's case) and from the files.

The machines here are shared and noisy: the CPU model and load average are printed, and every
figure is the median of `--repeat` runs with its min and max.
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
    """One measurement in this (fresh) process."""
    from core.engine import Engine

    t0 = time.perf_counter()
    eng = Engine.open(data, readonly=True)
    opened = time.perf_counter() - t0
    out: dict = {"open": opened}
    if kind in ("summary_rows", "summary_records"):
        if kind == "summary_records":
            from core.records import rollup
            from core.reporting import rowfields
            rowfields.carries = lambda row, fields: False           # every row "stale": read records
            rollup.quarter_counts = lambda rows, quarter: None        # no counts: scan the visits
        t = time.perf_counter()
        rep = eng.report("summary", quarter=quarter)
        out["time"] = time.perf_counter() - t
        out["total"] = rep.total
    elif kind == "floor":
        rows = list(eng.index("registration").rows.values())
        t = time.perf_counter()
        out["total"] = _plain_count(rows)
        out["time"] = time.perf_counter() - t
        out["rows"] = len(rows)
    elif kind in ("due_held", "due_files"):
        if kind == "due_held":
            eng.index("registration")                                  # as the UI holds them
        t = time.perf_counter()
        due = eng.visits_due()
        out["time"] = time.perf_counter() - t
        out["items"] = len(due)
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


def run_child(kind: str, data: Path, quarter: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.bench_reports", "--child", kind, "--data", str(data),
                           "--quarter", quarter], capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    if proc.returncode != 0:
        sys.exit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def whole_process(args: list[str]) -> float:
    carebook = Path(sys.executable).parent / "carebook"
    t = time.perf_counter()
    proc = subprocess.run([str(carebook), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"carebook {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t


def stats(values: list[float]) -> str:
    return (f"{statistics.median(values) * 1000:8.0f} ms  (min {min(values) * 1000:.0f}, "
            f"max {max(values) * 1000:.0f})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
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

    print(f"ledger {args.data}, quarter {quarter}; {machine_line()}")
    runs: dict[str, list[dict]] = {}
    cli: dict[str, list[float]] = {"summary_cli": [], "due_cli": []}
    for _ in range(args.repeat):            # interleaved, so drift in the machine's speed hits all alike
        for kind in ("summary_rows", "summary_records", "floor", "due_held", "due_files"):
            runs.setdefault(kind, []).append(run_child(kind, args.data, quarter))
        cli["summary_cli"].append(whole_process(["--data", str(args.data), "report", "summary", "--quarter", quarter]))
        cli["due_cli"].append(whole_process(["--data", str(args.data), "visits", "due"]))

    rows, records = runs["summary_rows"], runs["summary_records"]
    same = all(r["total"] == rows[0]["total"] for r in rows + records)
    t_rows = [r["time"] for r in rows]
    t_records = [r["time"] for r in records]
    print(f"summary, whole process (CLI)        {stats(cli['summary_cli'])}   target {TARGETS['summary_cli']:.1f} s")
    print(f"summary in process, rows + counts   {stats(t_rows)}   peak {max(r['peak_mb'] for r in rows):.0f} MB")
    print(f"summary in process, records (before){stats(t_records)}   peak {max(r['peak_mb'] for r in records):.0f} MB"
          f"   before/now {statistics.median(t_records) / statistics.median(t_rows):.1f}x")
    print(f"floor: plain Python over {runs['floor'][0]['rows']} rows {stats([r['time'] for r in runs['floor']])}")
    print(f"  same totals both ways: {'yes' if same else 'NO'}")
    print(f"due list, whole process (CLI)       {stats(cli['due_cli'])}   target {TARGETS['due_cli']:.1f} s")
    print(f"due list in process, rows held (UI) {stats([r['time'] for r in runs['due_held']])}"
          f"   {runs['due_held'][0]['items']} items")
    print(f"due list in process, from files     {stats([r['time'] for r in runs['due_files']])}")
    print(f"ledger open (engine, in process)    {stats([r['open'] for r in rows])}")
    print(machine_line())
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
