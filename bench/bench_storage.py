"""Benchmark: saving one record with 50,000 people, stock TinyDB vs. carebook's `Store`.

Run: `.venv/bin/python -m bench.bench_storage [--persons N | --quick]`. Stock TinyDB keeps the
whole ledger in one `JSONStorage` file and rewrites it on every insert (~650 ms at 50,000
people), which is why `Store` splits files by village and keeps parsed files in memory. Both get
the same synthetic ~2 KB Chinese records spread over 139 villages (plus visit records in
`Store`, which live in their own table); only a handful of stock inserts are timed because each
takes most of a second. Target: carebook median single save <= 20 ms into a village whose file
is not in memory ("cold"); "get+save" is what the form screen does (open a person's file, save).
Prints a table; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any, Callable

from tinydb import TinyDB

from core.storage import Store

FAMILY = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
NAMES = "秀兰桂英玉珍淑芬凤英建国国华志强德福永利春生金山宝林文清"
HEALTH = ["健康", "患病", "残疾"]
DISEASES = ["高血压", "糖尿病", "冠心病", "脑卒中", "慢性阻塞性肺疾病", "恶性肿瘤"]
AWAY = ["广东省深圳市", "北京市朝阳区", "江苏省苏州市", "上海市浦东新区", "浙江省杭州市"]
VILLAGES = [f"120116{100 + t:03d}{200 + v:03d}" for t in range(10) for v in range(14)][:139]


def person(rng: random.Random, n: int) -> dict[str, Any]:
    """A registration record of about 2 KB, shaped like docs/design.md "Records"."""
    village = rng.choice(VILLAGES)
    name = rng.choice(FAMILY) + "".join(rng.choices(NAMES, k=2))
    children = [{"name": rng.choice(FAMILY) + rng.choice(NAMES), "relation": rng.choice(["子", "女", "儿媳"]),
                 "whereabouts": rng.choice(AWAY), "left_on": f"20{rng.randrange(10, 25)}-0{rng.randrange(1, 9)}-15",
                 "employer": "某某建筑工程有限公司第三项目部", "contact_frequency": "每月",
                 "phone": f"13{rng.randrange(10**8, 10**9)}"} for _ in range(rng.randrange(1, 4))]
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128))), "form": "registration", "version": 3,
        "created": "2026-11-30T12:00:00+08:00", "updated": "2026-11-30T12:00:00+08:00",
        "operator": "张三", "partition": village,
        "data": {
            "file_no": f"{village}-{n:05d}", "name": name, "sex": rng.choice("男女"),
            "id_number": f"120116{rng.randrange(1930, 1966)}0101{rng.randrange(1000, 9999)}",
            "phone": f"139{rng.randrange(10**7, 10**8)}", "town": village[:9], "village": village,
            "address": f"天津市滨海新区某某镇某某村{rng.randrange(1, 300)}号，靠近村委会东侧第二排平房",
            "ethnicity": "汉族", "education": "小学", "marital_status": "丧偶",
            "health": rng.choice(HEALTH), "diseases": rng.sample(DISEASES, 2), "self_care": "自理",
            "income_sources": ["城乡居民养老保险金", "子女赡养费"], "annual_income": rng.randrange(3000, 30000),
            "economy": "一般", "living": "独居", "children": children,
            "notes": "老人身体状况尚可，子女每月电话联系一次，村委会定期上门探访，冬季取暖需关注。" * 6,
            "risk_level": rng.choice(["高", "中", "低"]), "status": "在册",
        },
        "meta": {"reasons": {"risk_level": "独居且患慢性病"}, "overrides": {}, "warnings_accepted": []},
    }


def visit(rng: random.Random, who: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(uuid.UUID(int=rng.getrandbits(128))), "form": "visit", "version": 1,
            "partition": who["partition"], "operator": "李四",
            "data": {"person": who["id"], "date": f"2026-{rng.randrange(1, 12):02d}-10", "visitor": "村委会",
                     "findings": "身体状况良好，生活正常，已提醒注意防寒保暖。", "needs": [], "follow_up": False}}


def row(rec: dict[str, Any]) -> dict[str, Any]:
    d = rec["data"]
    keys = ("name", "id_number", "phone", "town", "village", "risk_level", "status", "person", "date")
    return {k: d[k] for k in keys if k in d}


def timed(fn: Callable[[], Any], times: int, cpu: list[float] | None = None) -> list[float]:
    """Wall ms per call; `cpu` also gets CPU ms (all threads), which other jobs on a shared
    machine inflate far less than wall time (they still slow the disk)."""
    out = []
    for _ in range(times):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - start) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - start_cpu) * 1000)
    return out


def open_twice(opener: Callable[[], Any], close: Callable[[Any], None]) -> tuple[float, float]:
    """Open time (s), then peak Python memory of a second open (MB): tracemalloc slows opening."""
    start = time.perf_counter()
    close(opener())
    seconds = time.perf_counter() - start
    tracemalloc.start()
    try:
        close(opener())
        return seconds, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files) / 2**20


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(len(xs) * 0.95) - 1)]


def run_stock(folder: Path, persons: list[dict], rng: random.Random, saves: int) -> dict[str, float]:
    path = folder / "stock.json"
    start = time.perf_counter()
    with TinyDB(path) as db:
        db.insert_multiple(persons)
    load = time.perf_counter() - start
    def open_stock() -> TinyDB:
        db = TinyDB(path)
        len(db)  # TinyDB parses on first use
        return db

    opened, peak = open_twice(open_stock, TinyDB.close)
    db = open_stock()
    n = len(persons)
    cpu: list[float] = []
    times = timed(lambda: db.insert(person(rng, n)), saves, cpu)

    def get_save() -> None:
        doc_id = rng.randrange(1, n + 1)
        doc = db.get(doc_id=doc_id)
        db.update({"data": {**doc["data"], "notes": "探访后更新。"}}, doc_ids=[doc_id])

    got = timed(get_save, saves)
    db.close()
    median = statistics.median(times)
    return {"load": load, "open": opened, "median": median, "p95": p95(times), "cpu": statistics.median(cpu),
            "get_median": statistics.median(got), "get_p95": p95(got),
            "local_median": median, "local_p95": p95(times),
            "size": size_mb(path), "peak": peak, "peak_saves": peak, "saves": saves}


def run_store(folder: Path, persons: list[dict], visits: int, rng: random.Random, saves: int) -> dict[str, float]:
    root = folder / "store"
    start = time.perf_counter()
    with Store(root, backup_every_hours=None) as store:
        store.put_many("registration", ((p, row(p), {"who": "导入"}) for p in persons))
        for chunk in range(0, visits, 50_000):
            batch = [visit(rng, rng.choice(persons)) for _ in range(min(50_000, visits - chunk))]
            store.put_many("visit", ((v, row(v), None) for v in batch))
    load = time.perf_counter() - start

    def open_store() -> Store:
        s = Store(root, backup_every_hours=None)
        s.index("registration")
        s.index("visit")
        return s

    opened, peak = open_twice(open_store, Store.close)
    store = open_store()

    by_village: dict[str, list[dict]] = {}
    for p in persons:
        by_village.setdefault(p["partition"], []).append(p)
    order = sorted(by_village)
    rng.shuffle(order)

    def cold_pool() -> Callable[[], list[dict]]:
        # Villages in turn: with more villages than the store caches, each save finds its
        # village's file not in memory (a cold save), as when staff move on to the next village.
        turn = iter(range(10**9))
        return lambda: by_village[order[next(turn) % len(order)]]

    def save(pick: Callable[[], list[dict]], get_first: bool = False) -> Callable[[], None]:
        def one() -> None:
            rec = rng.choice(pick())
            if get_first:
                rec = store.get("registration", rec["id"])
            rec = {**rec, "data": {**rec["data"], "notes": f"第{rng.randrange(100)}次探访后更新。"}}
            store.put("registration", rec, row(rec), {"who": "张三", "diff": {"notes": ["…", "…"]}})
        return one

    cpu: list[float] = []
    times = timed(save(cold_pool()), saves, cpu)
    got = timed(save(cold_pool(), get_first=True), saves)
    village = by_village[VILLAGES[0]]
    local = timed(save(lambda: village), saves)  # how staff work: one village at a time
    store.close()
    tracemalloc.start()  # the village cache after a working session: open, then cold saves
    try:
        store = open_store()
        work = save(cold_pool(), get_first=True)
        for _ in range(min(saves, len(order))):
            work()
        peak_saves = tracemalloc.get_traced_memory()[1] / 2**20
        store.close()
    finally:
        tracemalloc.stop()
    return {"load": load, "open": opened, "median": statistics.median(times), "p95": p95(times),
            "cpu": statistics.median(cpu), "get_median": statistics.median(got), "get_p95": p95(got),
            "local_median": statistics.median(local), "local_p95": p95(local),
            "size": size_mb(root / "records" / "registration"), "peak": peak, "peak_saves": peak_saves,
            "saves": saves}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="10,000 people")
    parser.add_argument("--visits", type=int, default=None, help="visit records (default 4 per person)")
    parser.add_argument("--saves", type=int, default=200, help="timed carebook saves")
    parser.add_argument("--stock-saves", type=int, default=15, help="timed stock TinyDB inserts")
    args = parser.parse_args(argv)
    n = 10_000 if args.quick else args.persons
    visits = 4 * n if args.visits is None else args.visits
    rng = random.Random(20261130)
    persons = [person(rng, i) for i in range(n)]
    avg = size_mb_of(persons[:200]) * 2**20 / 200
    print(f"{n} people (~{avg / 1024:.1f} KB each, {len(VILLAGES)} villages), {visits} visits in carebook; "
          f"load {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="carebook-bench-") as tmp:
        stock = run_stock(Path(tmp), persons, rng, args.stock_saves)
        ours = run_store(Path(tmp), persons, visits, rng, args.saves)
    rows = [("bulk load (s)", "load", "{:.2f}"), ("open (s)", "open", "{:.3f}"),
            ("save, cold village, median (ms)", "median", "{:.1f}"), ("save, cold village, p95 (ms)", "p95", "{:.1f}"),
            ("save, cold village, CPU median (ms)", "cpu", "{:.1f}"),
            ("get+save, cold village, median (ms)", "get_median", "{:.1f}"),
            ("get+save, cold village, p95 (ms)", "get_p95", "{:.1f}"),
            ("save, same village, median (ms)", "local_median", "{:.1f}"),
            ("save, same village, p95 (ms)", "local_p95", "{:.1f}"),
            ("people's files (MB)", "size", "{:.1f}"), ("peak Python memory at open (MB)", "peak", "{:.1f}"),
            ("peak Python memory, open + saves (MB)", "peak_saves", "{:.1f}"),
            ("saves timed", "saves", "{:.0f}")]
    print(f"{'':40}{'stock TinyDB':>14}{'carebook':>12}{'stock/carebook':>16}")
    for label, key, fmt in rows:
        ratio = stock[key] / ours[key] if ours[key] else float("nan")
        print(f"{label:40}{fmt.format(stock[key]):>14}{fmt.format(ours[key]):>12}{ratio:>16.1f}")
    print(f"load {os.getloadavg()[0]:.1f} at end (the machine may be shared: figures are wall time)")
    print("(carebook open reads the index files of people and visits; stock TinyDB writes \\u escapes;")
    print(" stock saves insert new people, its get+save updates one; stock has one file, no villages,")
    print(" so its cold and same-village rows are the same inserts)")


def size_mb_of(records: list[dict]) -> float:
    from core.storage.atomic import dumps
    return sum(len(dumps(r)) for r in records) / 2**20


if __name__ == "__main__":
    main()
