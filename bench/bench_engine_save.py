"""How long staff wait when they press save, measured through the whole engine.

`bench_storage` times the store alone against stock TinyDB; this times `Engine.save` on a real
ledger — normalising, computing, validating, the unique-ID check, the atomic write, the
history line and, for visits, the rollup of latest visits — for an edited person file and a
new visit, each in a village not read before. The first save of each kind is shown apart: it
also builds the validator and loads the list rows.

    .venv/bin/python -m bench.bench_engine_save --data DIR     # a ledger from `carebook demo`

Each save goes to a village not read before (the slowest case: its files are read first); a
last run records visit after visit in one village, as a village clerk does.
The ledger is written to (one field of 40 people, 80 new visits): use a copy.

A save is one fsynced journal line (`core/storage/journal.py`); the village files are
rewritten from the journal in batches (every 400 saves or 48 villages) and at close, so one
save in ~40 here also pays for such a batch. Opening a fresh copy also takes the day's backup,
which hard-links what the previous backup holds and copies the rest.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from pathlib import Path

from core.engine import Engine

TARGET_MS = 20.0


def visit_for(person_id: str) -> dict:
    return {"person": person_id, "visit_date": time.strftime("%Y-%m-%d"), "visit_level": "村委会",
            "visit_method": "电话", "visitor": "赵强", "saw_person": "是", "physical": "良好", "mental": "良好",
            "daily_care": "正常", "hazards": ["无"], "children_contact": "经常", "referral": "否", "risk_change": "无"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="a copy of a demo ledger")
    ap.add_argument("--n", type=int, default=40)
    args = ap.parse_args()
    eng = Engine.open(args.data, operator="基准测试")    # every write names its operator
    try:
        rows = [(rid, r) for rid, r in eng.index("registration").rows.items() if r.get("status") == "在册"]
        by_village: dict[str, str] = {}
        for rid, r in rows:
            by_village.setdefault(r.get("_p"), rid)
        pick = random.Random(3).sample(sorted(by_village.values()), min(args.n + 1, len(by_village)))
        edits, visits, same = [], [], []
        for i, rid in enumerate(pick):
            data = dict(eng.get(rid, "registration")["data"], liaison_name=f"测试干部{i}")
            t = time.perf_counter()
            eng.save("registration", data, record_id=rid)
            edits.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            eng.save("visit", visit_for(rid))
            visits.append((time.perf_counter() - t) * 1000)
        # A village clerk's afternoon: one visit after another for people of one village.
        home = pick[0]
        neighbours = [rid for rid, r in rows if r.get("_p") == eng.index("registration").rows[home]["_p"]]
        for rid in (neighbours * args.n)[:args.n + 1]:
            t = time.perf_counter()
            eng.save("visit", visit_for(rid))
            same.append((time.perf_counter() - t) * 1000)
    finally:
        eng.close()
    print(f"ledger {args.data}: {len(rows)} people in the ledger; load {os.getloadavg()[0]:.1f} "
          f"(2 cores shared with other jobs), cpu {platform.processor() or platform.machine()}")
    for label, xs in (("edit a person file", edits), ("record a new visit", visits),
                      ("visits, one village", same)):
        first, rest = xs[0], sorted(xs[1:])
        med, p95 = statistics.median(rest), rest[max(0, int(len(rest) * 0.95) - 1)]
        verdict = "ok" if med <= TARGET_MS else "OVER"
        print(f"Engine.save, {label:<20} first {first:7.1f} ms   then median {med:6.1f} ms  p95 {p95:6.1f} ms"
              f"   target {TARGET_MS:.0f} ms  {med / TARGET_MS:.2f}x  {verdict}   (n={len(rest)})")


if __name__ == "__main__":
    main()
