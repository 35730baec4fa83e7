"""Bulk work before and after, in one run: the demo ledger, the import check, the records export.

    .venv/bin/python -m bench.bench_bulk --persons 5000 --compare          # ~15 min on a quiet machine
    .venv/bin/python -m bench.bench_bulk --persons 50000 --skip-before     # the issue's figure
    .venv/bin/python -m bench.bench_bulk --persons 50000 --before 5d14eaa --demo-only   # the demo alone
    .venv/bin/python -m bench.bench_bulk --import-file X.xlsx --data COPY  # import check / export only
    .venv/bin/python -m bench.bench_bulk --validator --data LEDGER --no-demo   # validation alone, ~1 min

"Before" is the code of a git revision (`--before`, default `2c43149`, where this work
started) unpacked with `git archive`; "after" is this checkout. Each command runs as its own
child process (`python -m core.cli ...`, the code chosen by PYTHONPATH, started outside the
checkout), measured with `os.wait4`: wall time, CPU (user + system) and peak RSS of that child
alone. The machine is shared: the load average is printed with every figure, and CPU seconds
are the steadier figure when it is high.

`--compare` checks that the result is the same: the roster, the summary of five quarters (by
village and as JSON) and the due list are compared byte for byte between the two ledgers, and
so is every record's content (record ids and time stamps are random and are left out; a
visit's person is named by file number); the two records workbooks part by part, and the two
import checks' reports. Both demos run on the same day, so the seeded demo
must give the same ledger.

`--validator` times `Validator.check` alone over the records of a ledger (`--data`, opened
read-only), per record and form, each code in its own process, best of three passes: the
part of the demo and of an import check that is validation, steadier under load than a
whole demo, and the same records for both codes (which give the same problems: compared).

Targets (issue 13, at 50,000 people): demo ≤ 60 s and ≤ 500 MB; the import check of 50,000
rows ≤ 20 s; the records export to XLSX ≤ 15 s.
"""
from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
QUARTERS = 5


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def measure(code: Path, args: list[str], cwd: Path, out: Path | None = None) -> dict:
    """Run `python -m core.cli ARGS` with `code` first on the path; wall, CPU, peak RSS (of
    the child and what it waited for; it starts from this process's own peak, kept small),
    and the peak of the whole process tree's RSS added up (`TreePeak`: the demo checks its
    records in a forked copy, and the two together must stay within the target)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    t = time.perf_counter()
    with open(out or os.devnull, "wb") as fh:
        proc = subprocess.Popen([PY, "-m", "core.cli", *args], cwd=cwd, env=env, stdout=fh,
                                stderr=subprocess.PIPE if out is None else subprocess.STDOUT)
        with TreePeak(proc.pid) as tree:
            _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode("utf-8", "replace")[-2000:] if proc.stderr else ""
    code_ = os.waitstatus_to_exitcode(status)
    return {"seconds": time.perf_counter() - t, "cpu": usage.ru_utime + usage.ru_stime,
            "rss_mb": usage.ru_maxrss / 1024, "tree_mb": tree.peak_kb / 1024,
            "tree_pss_mb": tree.peak_pss_kb / 1024, "exit": code_, "err": err,
            "load": load()}


class TreePeak:
    """The highest sums over a process and its descendants, sampled every `every` seconds from
    /proc (Linux; elsewhere 0): of RSS, where a page a fork shares counts in each process
    mapping it (an upper bound), and of PSS, where it counts once, shared out (what the tree
    holds of the machine's memory)."""

    def __init__(self, pid: int, every: float = 0.1):
        import threading

        self.pid, self.every, self.peak_kb, self.peak_pss_kb = pid, every, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "TreePeak":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            rss, pss = tree_memory_kb(self.pid)
            self.peak_kb, self.peak_pss_kb = max(self.peak_kb, rss), max(self.peak_pss_kb, pss)


def tree_memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of `pid` and its descendants added up, in KB."""
    pids, rss, pss = [pid], 0, 0
    for p in pids:                     # grows as children are found
        try:
            with open(f"/proc/{p}/task/{p}/children", encoding="ascii") as fh:
                pids += [int(c) for c in fh.read().split()]
            with open(f"/proc/{p}/smaps_rollup", encoding="ascii") as fh:
                got = {k: int(v.split()[0]) for k, _, v in (line.partition(":") for line in fh) if k in ("Rss", "Pss")}
            rss, pss = rss + got.get("Rss", 0), pss + got.get("Pss", 0)
        except (OSError, ValueError):
            continue
    return rss, pss


def show(what: str, label: str, r: dict, target: str = "") -> None:
    state = "" if r["exit"] in (0, 1) else f"  退出码 {r['exit']}：{r['err'][-300:]}"
    print(f"{what:<16} {label:<6} {r['seconds']:8.1f} s  CPU {r['cpu']:7.1f} s  峰值 {r['rss_mb']:6.0f} MB"
          f"（进程树合计 RSS {r['tree_mb']:4.0f} / PSS {r['tree_pss_mb']:4.0f} MB）"
          f"  load {r['load']}{('  目标 ' + target) if target else ''}{state}", flush=True)


def unpack(rev: str, into: Path, repo: Path = ROOT) -> Path:
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(repo), "archive", rev], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


DUMP = r"""
import json, sys
from core.engine import Engine
eng = Engine.open(sys.argv[1], readonly=True)
people = {rid: row.get("file_no") for rid, row in eng.index("registration").rows.items()}
out = open(sys.argv[2], "w", encoding="utf-8")
for form in ("registration", "visit"):
    lines = []
    for rec in eng.store.iter_records(form):
        d = dict(rec["data"])
        if "person" in d:
            d["person"] = people.get(d["person"], "?")
        lines.append(json.dumps({"form": rec["form"], "version": rec["version"], "partition": rec["partition"],
                                 "operator": rec["operator"], "meta": rec["meta"], "data": d},
                                ensure_ascii=False, sort_keys=True))
    out.write("\n".join(sorted(lines)) + "\n")
for rid, row in sorted(eng.store.index("rollup_visit").items(), key=lambda kv: people.get(kv[0]) or ""):
    out.write(json.dumps({"rollup": people.get(rid), **{k: v for k, v in row.items() if k not in ("_t", "_p")}},
                         ensure_ascii=False, sort_keys=True) + "\n")
"""


def outputs(code: Path, data: Path, folder: Path, cwd: Path) -> list[Path]:
    """The reports staff read, and every record's content, written by `code` from `data`."""
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": str(code)}
    today = time.localtime()
    year, q = today.tm_year, (today.tm_mon - 1) // 3 + 1
    quarters = []
    for _ in range(QUARTERS):
        quarters.append(f"{year}Q{q}")
        year, q = (year, q - 1) if q > 1 else (year - 1, 4)
    runs = {"roster.txt": ["report", "roster"], "roster.json": ["report", "roster", "--json"],
            "due.txt": ["visits", "due"], "summary.json": ["report", "summary", "--quarter", quarters[0], "--json"]}
    runs |= {f"summary-{x}.txt": ["report", "summary", "--quarter", x, "--by-village"] for x in quarters}
    for name, args in runs.items():
        with open(folder / name, "wb") as fh:
            subprocess.run([PY, "-m", "core.cli", *args, "--data", str(data)], cwd=cwd, env=env, stdout=fh,
                           stderr=subprocess.STDOUT, check=False)
    subprocess.run([PY, "-c", DUMP, str(data), str(folder / "records.txt")], cwd=cwd, env=env, check=True)
    return sorted(folder.iterdir())


CHECK = r"""
import hashlib, itertools, json, sys, time
from core.engine import Engine
eng = Engine.open(sys.argv[1], readonly=True)
limit, out = int(sys.argv[2]), {}
for form in ("registration", "visit"):
    datas = [rec["data"] for rec in itertools.islice(eng.store.iter_records(form), limit)]
    v = eng.validator(form)
    best, found = float("inf"), None
    for _ in range(3):
        t = time.process_time()
        found = [v.check(d, unique_lookup=lambda f, x: None) for d in datas]
        best = min(best, time.process_time() - t)
    out[form] = {"n": len(datas), "us": best / max(1, len(datas)) * 1e6,
                 "problems": sum(len(p) for _, p in found),
                 "digest": hashlib.sha1(repr([(c, [(p.message, p.path) for p in ps]) for c, ps in found]).encode()).hexdigest()}
print(json.dumps(out))
"""


def validator(args, codes: dict[str, Path], tmp: Path) -> None:
    """`Validator.check` per record over the ledger's records, with each code."""
    import json

    results = {}
    for label, code in codes.items():
        env = {**os.environ, "PYTHONPATH": str(code)}
        run = subprocess.run([PY, "-c", CHECK, str(args.data), str(args.records)], cwd=tmp, env=env,
                             capture_output=True, text=True, check=False)
        if run.returncode:
            print(f"validator        {label:<6} 失败：{run.stderr[-300:]}", flush=True)
            continue
        results[label] = json.loads(run.stdout)
        for form, r in results[label].items():
            print(f"validator {form:<12} {label:<6} {r['us']:8.0f} µs/条  CPU（{r['n']} 条，问题 {r['problems']} 个）"
                  f"  load {load()}", flush=True)
    if len(results) == 2:
        same = all(results["before"][f]["digest"] == results["after"][f]["digest"] for f in results["after"])
        print("校验结果（清理后的数据与问题）：" + ("前后相同" if same else "前后不同！"), flush=True)


def demo(args, codes: dict[str, Path], tmp: Path) -> dict[str, Path]:
    ledgers = {}
    for label, code in codes.items():
        data = tmp / f"demo-{label}"
        r = measure(code, ["demo", "--persons", str(args.persons), "--data", str(data)], tmp)
        show(f"demo {args.persons}", label, r, "≤ 60 s, ≤ 500 MB（50,000 人）")
        ledgers[label] = data
    if args.compare and len(ledgers) == 2:
        made = {label: outputs(codes[label], ledgers[label], tmp / f"out-{label}", tmp) for label in ledgers}
        # compared in chunks: a child's peak RSS counts this process's (Linux keeps the high
        # water mark across fork and exec), so this process must stay small
        same = [a.name for a, b in zip(made["before"], made["after"]) if filecmp.cmp(a, b, shallow=False)]
        differ = [a.name for a in made["before"] if a.name not in same]
        sizes = sum(p.stat().st_size for p in made["after"]) / 1e6
        print(f"结果比较（前后两个台账，{len(made['after'])} 个文件，{sizes:.1f} MB）："
              + ("全部逐字节相同" if not differ else f"不同：{'、'.join(differ)}") + f"（相同：{'、'.join(same)}）",
              flush=True)
    return ledgers


def import_check(args, codes: dict[str, Path], tmp: Path, data: Path | None) -> None:
    """Export the registration records (the after code), then check them as an import
    (`records import --dry-run`) into an empty ledger with each code."""
    book = Path(args.import_file) if args.import_file else None
    if data is not None:
        for label, code in codes.items():
            target = tmp / f"records-{label}.xlsx"
            copy = tmp / f"export-{label}"            # each its own copy: an open writes (backup, audit)
            subprocess.run(["cp", "-a", str(data), str(copy)], check=True)
            r = measure(code, ["export", "records", "--data", str(copy), "--format", "xlsx", "--output", str(target),
                               "--full", "--operator", "基准测试"], tmp)
            show("export records", label, r, "≤ 15 s（50,000 人）")
            book = book or target
        if args.compare and len(codes) == 2:
            print(f"{'':16} 导出的工作簿：" + same_workbook(tmp / "records-before.xlsx", tmp / "records-after.xlsx"), flush=True)
    if book is None or args.export_only:
        return
    for label, code in codes.items():
        empty = tmp / f"empty-{label}"
        r = measure(code, ["records", "import", "registration", str(book), "--dry-run", "--data", str(empty),
                           "--operator", "基准测试"], tmp, out=tmp / f"import-{label}.log")
        show("import check", label, r, "≤ 20 s（50,000 行）")
        tail = (tmp / f"import-{label}.log").read_text("utf-8", "replace").strip().splitlines()[-1:]
        print(f"{'':16} {label:<6} {tail[0] if tail else ''}", flush=True)
    if args.compare and len(codes) == 2:
        same = filecmp.cmp(tmp / "import-before.log", tmp / "import-after.log", shallow=False)
        print(f"{'':16} 导入检查的报告（问题、提示、待补全）：" + ("前后逐字节相同" if same else "不同"), flush=True)


def same_workbook(a: Path, b: Path) -> str:
    """Whether two XLSX files hold the same parts byte for byte (`docProps/core.xml` aside: it
    holds the time the file was written). Read a megabyte at a time: this process must stay
    small (a child's peak RSS starts from it), and a 50,000-person sheet is 300 MB unzipped."""
    import zipfile

    def same(x, y) -> bool:
        while True:
            p, q = x.read(1 << 20), y.read(1 << 20)
            if p != q:
                return False
            if not p:
                return True

    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        names = za.namelist()
        if names != zb.namelist():
            return "不同（部件不同）"
        differ = []
        for n in names:
            with za.open(n) as x, zb.open(n) as y:
                if n != "docProps/core.xml" and not same(x, y):
                    differ.append(n)
    return f"不同：{'、'.join(differ)}" if differ else f"前后逐字节相同（{len(names)} 个部件，创建时间除外）"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=5000)
    ap.add_argument("--before", default="2c43149", help="git revision measured as “before”")
    ap.add_argument("--repo", default=str(ROOT), help="the git checkout holding --before (when run from a copy)")
    ap.add_argument("--skip-before", action="store_true", help="measure this checkout only")
    ap.add_argument("--compare", action="store_true", help="compare reports and records of the two demo ledgers")
    ap.add_argument("--no-demo", action="store_true")
    ap.add_argument("--demo-only", action="store_true", help="the demo (and --compare) only: no export, no import check")
    ap.add_argument("--data", help="a ledger to export records from (a copy: opening it writes)")
    ap.add_argument("--import-file", help="an XLSX of registration records to check as an import")
    ap.add_argument("--export-only", action="store_true", help="with --data: the records export only, no import check")
    ap.add_argument("--validator", action="store_true", help="time Validator.check alone over --data's records")
    ap.add_argument("--records", type=int, default=5000, help="records per form for --validator")
    args = ap.parse_args(argv)
    print(f"cpu {cpu_model()}, {os.cpu_count()} cores (shared with other jobs); load {load()} at start", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-bulk-") as name:
        tmp = Path(name)
        codes = {} if args.skip_before else {"before": unpack(args.before, tmp / "before-code", Path(args.repo))}
        codes["after"] = ROOT
        if args.validator:
            if not args.data:
                ap.error("--validator 需要 --data（一个台账，只读打开）")
            validator(args, codes, tmp)
            return 0
        ledgers = {} if args.no_demo else demo(args, codes, tmp)
        data = Path(args.data) if args.data else ledgers.get("after")
        if (args.data or args.import_file or not args.no_demo) and not args.demo_only:
            import_check(args, codes, tmp, data)
    print(f"load {load()} at end", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
