"""A writer to be killed: every kind of save through the real engine, each acknowledged on stdout.

    python tests/crash_scenario.py DATA FORMS steps        # one of each kind, then close
    python tests/crash_scenario.py DATA FORMS loop SEED    # saves until killed

An acknowledgement (one JSON line) is printed only after the save returned, so whatever it
names must survive a crash at any later moment. `check(data, acks)` opens the ledger as the next
writer would (recovering what a crash left), runs `carebook verify`'s checks, and returns every
finding plus every acknowledged save that is missing. Used by `tests/test_storage_crashpoints.py`
(a crash at every durable step) and `bench/bench_crash.py` (random kill -9).
"""
from __future__ import annotations

import datetime as dt
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from binhai_support import TOWN2, VILLAGE, VILLAGE2, person, visit  # noqa: E402

from core.transfer.demo import make_id  # noqa: E402

TODAY = dt.date(2026, 11, 20)


def _ack(**kw) -> None:
    print(json.dumps(kw, ensure_ascii=False), flush=True)


def _someone(eng, rng: random.Random, name: str, taken: set[str] | None = None) -> dict:
    """A new person whose ID number the ledger does not hold yet. Each run draws from its own
    `rng`, but over thousands of people two runs do draw the same number now and then; the
    engine then rightly refuses the save, which the random kill loop took for a writer that
    died by itself (run 223 of 300)."""
    taken = set() if taken is None else taken
    while True:
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(3000))
        number = make_id(rng, birth, "女", taken)
        if eng.find_unique("registration", "id_number", number) is None:
            return person(name=name, file_no=None, id_number=number)


def _new(eng, rng: random.Random) -> str:
    name = f"老人{rng.randrange(10**6)}"
    res = eng.save("registration", _someone(eng, rng, name))
    _ack(kind="new", id=res.id, name=name, file_no=res.record["data"]["file_no"])
    return res.id


def _edit(eng, rid: str, rng: random.Random, move: bool | None = None) -> None:
    data = dict(eng.get(rid, "registration")["data"])
    move = data["village"] == VILLAGE and (rng.random() < 0.5 if move is None else move)
    if move:
        data.update(village=VILLAGE2, town=TOWN2, address="天津市滨海新区太平镇太平村2号")
        del data["file_no"]                 # numbered again in the new village
    data["liaison_name"] = name = f"干部{rng.randrange(10**6)}"
    eng.save("registration", data, record_id=rid)
    _ack(kind="edit", id=rid, liaison=name, village=data["village"])


def _visit(eng, rid: str, rng: random.Random) -> None:
    day = TODAY - dt.timedelta(days=rng.randrange(0, 60))
    rec = eng.get(rid, "registration")["data"]
    res = eng.save("visit", visit(rid, day, village=rec["village"], town=rec["town"]))
    _ack(kind="visit", id=res.id, person=rid, day=day.isoformat())


def _bulk(eng, rng: random.Random) -> None:
    names = [f"批量{rng.randrange(10**6)}-{i}" for i in range(3)]
    taken: set[str] = set()
    eng.bulk_save("registration", [_someone(eng, rng, n, taken) for n in names], operator="导入员")
    _ack(kind="bulk", names=names)


def run(data: Path, forms: Path, mode: str, seed: int = 0) -> None:
    from core.engine import Engine

    rng = random.Random(f"{mode}-{seed}")
    eng = Engine.open(data, forms_dir=forms, operator="测试员", today=lambda: TODAY)
    people = [rid for rid, row in eng.index("registration").rows.items()]
    if mode == "steps":
        rid = _new(eng, rng)
        _edit(eng, rid, rng, move=True)
        _visit(eng, people[0] if people else rid, rng)
        _bulk(eng, rng)
        eng.close()
        _ack(kind="closed")
        return
    while True:
        roll = rng.random()
        if roll < 0.3 or not people:
            _new(eng, rng)
            people = list(eng.index("registration").rows)
        elif roll < 0.55:
            _edit(eng, rng.choice(people), rng)
        elif roll < 0.95:
            _visit(eng, rng.choice(people), rng)
        else:
            _bulk(eng, rng)
            people = list(eng.index("registration").rows)


def check(data: Path, forms: Path, acks: list[dict]) -> list[str]:
    """Findings after recovery: `verify`'s, and acknowledged saves that are missing."""
    from core.engine import Engine
    from core.storage.verify import verify_ledger

    out: list[str] = []
    with Engine.open(data, forms_dir=forms, operator="检查员", today=lambda: TODAY) as eng:
        out += [f"problem: {p}" for p in eng.store.problems]
        rows = eng.index("registration").rows
        latest = eng.latest("visit")
        for a in acks:
            kind = a["kind"]
            if kind == "new":
                rec = eng.get(a["id"], "registration")
                # an edit (acknowledged or finished just before the kill) may have moved and renumbered it
                edited = rec is not None and str(rec["data"].get("liaison_name")).startswith("干部")
                if rec is None or (rec["data"]["file_no"] != a["file_no"] and not edited):
                    out.append(f"lost: new person {a['id']}")
            elif kind == "edit":
                # The stored liaison is the last acknowledged one, or one of a later save that
                # finished before the kill but was never acknowledged (also "干部…").
                rec = eng.get(a["id"], "registration")
                acked = [x["liaison"] for x in acks if x["kind"] == "edit" and x["id"] == a["id"]]
                stored = rec["data"]["liaison_name"] if rec else None
                if stored is None or stored in acked[:-1] or not stored.startswith("干部"):
                    out.append(f"lost: edit of {a['id']}")
            elif kind == "visit":
                if eng.get(a["id"], "visit") is None:
                    out.append(f"lost: visit {a['id']}")
                elif max(latest.get(a["person"], {}).values(), default="") < a["day"]:
                    out.append(f"lost: rollup of visit {a['id']}")
            elif kind == "bulk":
                names = {row.get("name") for row in rows.values()}
                out += [f"lost: bulk person {n}" for n in a["names"] if n not in names]
        numbers = [row.get("file_no") for row in rows.values() if row.get("file_no")]
        if len(numbers) != len(set(numbers)):
            out.append("file numbers given twice")
        out += [f"verify: {f}" for f in eng.verify_rollups()]
    out += [f"verify: {f}" for f in verify_ledger(data)]
    return out


def acks_of(stdout: bytes) -> list[dict]:
    """The acknowledgements in a killed writer's output (a cut-off last line was never one)."""
    out = []
    for line in stdout.decode("utf-8", "replace").split("\n"):
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
