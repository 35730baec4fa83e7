"""The same ledger on the embedded folder and on PostgreSQL, side by side in one run.

    .venv/bin/python -m bench.bench_server --data DIR          # a ledger from `carebook demo`
    .venv/bin/python -m bench.bench_server --persons 5000      # makes a demo ledger first

Starts its own PostgreSQL (tests/pg_support.py: initdb + pg_ctl in a temp folder, Unix
socket), copies the folder ledger to it with `carebook ledger copy` (verified per village),
then times on both backends:

- one save (an edited person and a new visit) — on the server with `--clerks` processes saving
  at once, each logged in as its village's own operator (row-level security on), first back to
  back (a stress test: on 2 cores ten busy processes queue for the CPU), then `--pause` seconds
  apart; on the folder with the one writer it allows; p50 and p95 over every save after each
  process's first;
- the quarter's summary and the due list (a fresh engine; on the server both are SQL,
  `core.reporting.sqlreports`);
- a roster search keystroke (the list rows in memory, as in the UI).

Every figure is printed with the load average and CPU model: the machine may be shared.
"""
from __future__ import annotations

import argparse
import atexit
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from core.engine import Engine

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo", encoding="utf-8")
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = "?"
    return f"load {' '.join(f'{x:.1f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs, {model}"


def say(text: str) -> None:
    print(text, flush=True)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def visit_for(person_id: str) -> dict:
    return {"person": person_id, "visit_date": time.strftime("%Y-%m-%d"), "visit_level": "村委会",
            "visit_method": "电话", "visitor": "赵强", "saw_person": "是", "physical": "良好", "mental": "良好",
            "daily_care": "正常", "hazards": ["无"], "children_contact": "经常", "referral": "否", "risk_change": "无"}


def clerk(target: str, people: list[str], out: "mp.Queue", pause: float = 0.0) -> None:
    """One clerk's desk: an edit and a new visit per person; latencies in ms (first pair apart)."""
    times: list = []
    try:
        _clerk(target, people, times, pause)
    except BaseException as exc:  # noqa: BLE001 - the parent must hear of it, not wait forever
        times = [f"{type(exc).__name__}: {exc}"]
    out.put(times)


def _clerk(target: str, people: list[str], times: list[float], pause: float) -> None:
    """`pause`: seconds between one person's saves and the next (0: back to back, a stress
    test; a clerk typing a form saves far less often than once a second)."""
    jitter = random.Random(os.getpid())
    with Engine.open(target, operator=f"基准测试{os.getpid()}") as eng:
        for i, rid in enumerate(people):
            if pause and i:
                time.sleep(pause * jitter.uniform(0.5, 1.5))
            data = dict(eng.get(rid, "registration")["data"], liaison_name=f"测试干部{i}")
            t = time.perf_counter()
            eng.save("registration", data, record_id=rid)
            t2 = time.perf_counter()
            eng.save("visit", visit_for(rid))
            t3 = time.perf_counter()
            if i:
                times += [(t2 - t) * 1000, (t3 - t2) * 1000]


def with_login(url: str, login: str, password: str) -> str:
    """The ledger URL as an operator's own login (the owner's URL with another user)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{quote(login)}:{quote(password)}@{host}"))


def village_logins(url: str, villages: list[str]) -> dict[str, str]:
    """A village clerk's login (row-level security on, as in an office) per village, made once."""
    from core.storage.pgstore import PgStore
    from core.storage.pgusers import add_operator

    out = {}
    with PgStore(url) as store:
        taken = {scope: login for login, scope in store.sql_rows("SELECT login, scope FROM operators")}
        for v in villages:
            login = taken.get(v) or add_operator(store, f"基准村干部{v[-3:]}{v[6:9]}", "village", v,
                                                 login=f"bench_{v}", password="bench-pw").login
            out[v] = with_login(url, login, "bench-pw")
    return out


def saves(target: str, clerks: int, per_clerk: int, pause: float = 0.0) -> list[float]:
    with Engine.open(target, readonly=True) as eng:
        by_village: dict[str, list[str]] = {}
        for rid, row in eng.index("registration").rows.items():
            if row.get("status") == "在册":
                by_village.setdefault(row["_p"], []).append(rid)
    villages = sorted(by_village)
    random.Random(5).shuffle(villages)
    targets = {v: target for v in villages}
    if clerks == 1:              # the folder's one writer does every clerk's people, one after another
        by_village = {"all": [rid for v in villages for rid in by_village[v][:2]]}
        villages, per_clerk, targets = ["all"], per_clerk * 10, {"all": target}
    elif target.startswith("postgresql"):      # each clerk logs in as their village's own operator
        targets.update(village_logins(target, villages[:clerks]))
    ctx = mp.get_context("spawn")        # a forked child inherited a held lock and hung
    out = ctx.Queue()
    chosen = [villages[i % len(villages)] for i in range(clerks)]
    procs = [ctx.Process(target=clerk, args=(targets[v], by_village[v][:per_clerk + 1], out, pause)) for v in chosen]
    for p in procs:
        p.start()
    times = [t for _ in procs for t in out.get(timeout=600)]
    for p in procs:
        p.join()
    failed = [t for t in times if isinstance(t, str)]
    if failed:
        raise SystemExit(f"a clerk process failed: {failed[0]}")
    return times


def reports(target: str) -> dict[str, float]:
    """Seconds for the quarter's summary and the due list, both from a fresh engine (nothing
    held), and ms per roster search keystroke with the list rows in memory (as in the UI)."""
    from core.reporting import sqlreports

    out: dict[str, float] = {}
    with Engine.open(target, readonly=True) as eng:
        t = time.perf_counter()
        rep = eng.report("summary")
        list(rep.rows)
        out["summary"] = time.perf_counter() - t
        out["summary fallbacks"] = len(sqlreports.last_fallbacks) if target.startswith("postgresql") else 0
    with Engine.open(target, readonly=True) as eng:
        t = time.perf_counter()
        out["due"] = len(eng.visits_due())
        out["due list"] = time.perf_counter() - t
        # the list rows loaded as the UI loads them before the roster opens (`warm_first_page`:
        # `query` with no text reads one page without them)
        eng.index("registration")
        eng.query("registration", text="")
        keys = []
        for text in ("王", "王秀", "w", "wx", "1201", "张"):
            t = time.perf_counter()
            eng.query("registration", text=text, limit=20)
            keys.append((time.perf_counter() - t) * 1000)
        out["key median"], out["key max"] = statistics.median(keys), max(keys)
    return out


class Server:
    """The benchmark's own PostgreSQL, stopped however the run ends: `finally`, `atexit`
    (an exception, sys.exit) and SIGTERM / SIGHUP (turned into sys.exit). Only SIGKILL can
    leave it running; its folder is then under the temp dir (carebook-pg-*)."""

    def __init__(self) -> None:
        import pg_support

        self._support = pg_support
        self.server = pg_support.start_server()
        atexit.register(self.stop)

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            self._support.remove_server(server)
            say(f"PostgreSQL stopped ({server.root})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="a demo ledger folder (used read-only: copied first)")
    ap.add_argument("--persons", type=int, default=5000, help="without --data: people in a new demo ledger")
    ap.add_argument("--clerks", type=int, default=10)
    ap.add_argument("--saves", type=int, default=10, help="people each clerk edits (plus a visit each)")
    ap.add_argument("--runs", type=int, default=2, help="times every measurement is repeated")
    ap.add_argument("--pause", type=float, default=1.0,
                    help="seconds between a clerk's saves in the second server measurement (the first: none)")
    ap.add_argument("--url", help="a server ledger already holding --data's ledger (owner login): no copy")
    args = ap.parse_args()
    import signal

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(143))     # so the server is stopped below
    sys.path.insert(0, str(ROOT / "tests"))
    import shutil

    from core.transfer import demo
    from core.commands.ledger import server_ready
    from core.transfer.ledgercopy import copy_ledger

    work = Path(tempfile.mkdtemp(prefix="carebook-bench-"))
    atexit.register(shutil.rmtree, work, True)
    os.environ.setdefault("CAREBOOK_DESK", str(work / "desks"))
    folder = work / "folder"
    if args.data:
        shutil.copytree(args.data, folder, ignore=shutil.ignore_patterns("backups"))
    else:
        t = time.perf_counter()
        with Engine.open(folder, operator="演示数据") as eng:
            demo.generate(eng, persons=args.persons, seed=1)
        say(f"demo ledger of {args.persons} people: {time.perf_counter() - t:.0f} s  [{machine()}]")
    pg = Server() if not args.url else None
    try:
        t = time.perf_counter()
        if pg is not None:
            url = pg.server.url(pg.server.create_db())
            checks = copy_ledger(folder, url)
            assert all(c.ok for c in checks)
            server_ready(url, say)                  # as `carebook ledger copy` does: unique indexes made
        else:
            url = args.url
        with Engine.open(folder, readonly=True) as eng:
            people = eng.count("registration")
            visits = eng.count("visit")
        how = "copied to the server and verified" if pg is not None else "server ledger given by --url, not copied"
        say(f"ledger: {people} people, {visits} visits; {how} in {time.perf_counter() - t:.1f} s  [{machine()}]")
        for run in range(1, args.runs + 1):
            say(f"-- run {run} of {args.runs} (the machine is shared with other work: see the load)")
            for name, target, clerks, pause in (
                    ("folder (1 writer)", str(folder), 1, 0.0),
                    (f"server ({args.clerks} clerks)", url, args.clerks, 0.0),
                    (f"server ({args.clerks}, {args.pause:g} s apart)", url, args.clerks, args.pause)):
                times = saves(target, clerks, args.saves, pause)
                say(f"{name:>26}: save p50 {pct(times, .5):6.1f} ms  p95 {pct(times, .95):6.1f} ms"
                    f"  ({len(times)} saves)  [{machine()}]")
            for name, target in (("folder", str(folder)), ("server", url)):
                r = reports(target)
                say(f"{name:>26}: summary {r['summary']:5.2f} s  due list {r['due list']:5.2f} s "
                    f"({r['due']:.0f} due)  search keystroke median {r['key median']:5.1f} ms"
                    f" max {r['key max']:5.1f} ms  [{machine()}]")
    finally:
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    main()
