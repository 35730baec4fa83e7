"""Benchmark: a 50,000-row roster to XLSX, streamed vs. a naive all-in-memory baseline.

Run: `.venv/bin/python -m bench.bench_export [--rows N] [--data COPY_OF_A_LEDGER] [--before REV]`. The
roster is the largest thing an office exports (the whole district), so this is where memory
matters: the streamed writer (xlsxwriter `constant_memory`, rows from a generator) should stay
flat while openpyxl in normal mode holds every cell. Each variant runs in its own child process
so their peak RSS figures do not mix. Rows are synthetic Chinese roster rows (`roster_report`),
also used by the tests as realistic input. `--before REV` (a git revision of this checkout) runs
that revision's streamed writer in the same run and compares the two files byte for byte (all
but the time written in docProps/core.xml).

With `--data` (a copy of a ledger, e.g. `carebook demo --persons 50000`), the whole
`Engine.export("roster", "xlsx")` is measured too — reading every record, the roster's
expressions, the pinyin sort and the writer — once with the writer in a second process
(`core.transfer.exportpipe`, the default) and once all in one process (`CAREBOOK_EXPORT_PROCESS=off`,
the baseline), in the same run. Peak memory there is the exporting process's plus the writing
process's peaks (an upper bound: the two peaks need not coincide).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from core.reporting.reportmodel import Column, Report

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "秀兰桂英玉珍淑芬凤英建国国华志强德福永利春生金山宝林文清"
TOWNS = ["新城镇", "杨家泊镇", "太平镇", "小王庄镇", "中塘镇", "大港街道"]
PLACES = ["广东省深圳市", "北京市朝阳区", "江苏省苏州市", "上海市浦东新区", "浙江省杭州市"]

ROSTER_COLUMNS = [
    Column("seq", "序号", kind="int"),
    Column("town", "街镇", width=8),
    Column("village", "村（居）委会", width=10),
    Column("name", "姓名", pii="name"),
    Column("sex", "性别"),
    Column("id_number", "公民身份号码", pii="id", width=20),
    Column("age", "年龄", kind="int"),
    Column("address", "家庭住址", pii="address", width=24),
    Column("phone", "联系电话", pii="phone", width=13),
    Column("health", "健康状况", groups=("身体状况",)),
    Column("self_care", "自理能力", groups=("身体状况",)),
    Column("economy", "经济状况"),
    Column("living", "居住情况"),
    Column("supporter", "姓名及电话", groups=("主要赡养人",), pii="phone"),
    Column("whereabouts", "去向", groups=("主要赡养人",)),
    Column("caregiver", "委托照顾人及电话", pii="phone"),
    Column("risk", "风险等级"),
    Column("liaison", "包联干部"),
    Column("note", "备注"),
]


def _id_number(rng: random.Random) -> str:
    body = f"12010{rng.choice('789')}{rng.randint(1930, 1965)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]


def roster_rows(n: int, seed: int = 7) -> Iterator[dict]:
    """`n` synthetic roster rows, generated lazily (never a list)."""
    rng = random.Random(seed)
    for i in range(1, n + 1):
        town = rng.choice(TOWNS)
        name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2))
        yield {
            "seq": i, "town": town, "village": f"{town[:2]}第{rng.randint(1, 40)}村",
            "name": name, "sex": rng.choice("男女"), "id_number": _id_number(rng),
            "age": rng.randint(60, 98), "address": f"天津市滨海新区{town}幸福路{rng.randint(1, 300)}号",
            "phone": f"13{rng.randint(100000000, 999999999)}",
            "health": rng.choice(["健康", "患病", "残疾"]), "self_care": rng.choice(["自理", "半失能", "失能"]),
            "economy": rng.choice(["特困供养", "低保", "低收入", "一般"]),
            "living": rng.choice(["独居", "与配偶同住", "与孙辈同住"]),
            "supporter": f"{name[0]}{rng.choice(GIVEN)}强 13{rng.randint(100000000, 999999999)}",
            "whereabouts": rng.choice(PLACES), "caregiver": rng.choice(["", f"邻居张大姐 1580000{rng.randint(1000, 9999)}"]),
            "risk": rng.choice("高中低"), "liaison": "刘干部", "note": "",
        }


def roster_report(n: int, seed: int = 7) -> Report:
    return Report(name="roster", title="天津市滨海新区农村留守老年人花名册", columns=ROSTER_COLUMNS,
                  rows=roster_rows(n, seed), unit="滨海新区民政局", date="2026-11-30", row_count=n)


def _cpu() -> float:
    t = resource.getrusage(resource.RUSAGE_SELF)
    return t.ru_utime + t.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux: kB


def run_streamed(rows: int, out: Path) -> dict:
    from core.transfer.exporting import mask_value
    from plugins.xlsx_report import write_report_xlsx

    t, cpu = time.perf_counter(), _cpu()
    write_report_xlsx(roster_report(rows), out, mask_value)
    return _result(t, cpu, out)


def _result(t: float, cpu: float, out: Path) -> dict:
    return {"seconds": time.perf_counter() - t, "cpu": _cpu() - cpu, "peak_mb": _peak_mb(),
            "bytes": out.stat().st_size}


def run_naive(rows: int, out: Path) -> dict:
    """The baseline: openpyxl in normal mode, every row held as cells until save."""
    from openpyxl import Workbook

    from core.transfer.exporting import mask_value

    t, cpu = time.perf_counter(), _cpu()
    wb = Workbook()
    ws = wb.active
    ws.append([c.label for c in ROSTER_COLUMNS])
    for r in roster_rows(rows):
        ws.append([mask_value(c.pii, r.get(c.key)) if c.pii else r.get(c.key) for c in ROSTER_COLUMNS])
    wb.save(out)
    return _result(t, cpu, out)


def run_ledger(data: str, out: Path) -> dict:
    """`Engine.export("roster", "xlsx")` on a real ledger, as `carebook export roster` runs it."""
    from core.engine import Engine

    t0 = time.perf_counter()
    eng = Engine.open(data, operator="基准测试")
    opened = time.perf_counter() - t0
    peaks = _watch_writers()
    t, cpu = time.perf_counter(), _cpu()
    [path] = eng.export("roster", "xlsx", out)
    result = _result(t, cpu, path)
    writer = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.update(open=opened, rows=eng.report("roster").row_count,
                  writer_cpu=writer.ru_utime + writer.ru_stime, writer_peak_mb=max(peaks, default=0))
    eng.close()
    return result


def _watch_writers() -> list[float]:
    """Peak RSS (VmHWM, MB) of each writing process, read from /proc while it runs.

    Not `RUSAGE_CHILDREN`: Linux counts a child's memory from before its exec, so there a
    writer started by a 200 MB process shows 200 MB whatever it uses itself."""
    import threading

    from core.transfer import exportpipe

    peaks: list[float] = []
    real = exportpipe.subprocess.Popen

    def watch(proc) -> None:
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                hwm = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM"))
                peaks[-1] = max(peaks[-1], int(hwm.split()[1]) / 1024)
            except (OSError, StopIteration, ValueError):
                pass
            time.sleep(0.02)

    def popen(*args, **kwargs):
        proc = real(*args, **kwargs)
        peaks.append(0.0)
        threading.Thread(target=watch, args=(proc,), daemon=True).start()
        return proc
    exportpipe.subprocess.Popen = popen
    return peaks


def _child(variant: str, arg, out: Path, env: dict | None = None, code_dir: Path | None = None) -> dict:
    """Run one variant in a fresh interpreter so its peak RSS is its own; `code_dir`: another
    tree of the code to run (`--before`), started inside it so it comes first on the path."""
    code = f"import json,pathlib; from bench.bench_export import run_{variant} as f; print(json.dumps(f({arg!r}, pathlib.Path({str(out)!r}))))"
    extra = {"PYTHONPATH": str(code_dir)} if code_dir else {}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, **(env or {}), **extra}, cwd=code_dir)
    return json.loads(done.stdout.strip().splitlines()[-1])


def ledger(data: str, tmp: str) -> bool:
    """End to end from the ledger: writer in a second process vs. all in one process."""
    piped = _child("ledger", data, Path(tmp) / "piped.xlsx")
    inline = _child("ledger", data, Path(tmp) / "inline.xlsx", {"CAREBOOK_EXPORT_PROCESS": "off"})
    for label, r in (("两个进程（默认）", piped), ("一个进程（基线）", inline)):
        peak = r["peak_mb"] + r["writer_peak_mb"]
        print(f"台账导出 {label}：{r['rows']} 行，{r['seconds']:.2f} 秒（本进程 CPU {r['cpu']:.2f} 秒，"
              f"写文件进程 CPU {r['writer_cpu']:.2f} 秒），峰值内存 {peak:.0f} MB，文件 {r['bytes'] / 1e6:.1f} MB"
              f"（打开台账 {r['open']:.2f} 秒，不计入）")
    print(f"比值（一个进程 / 两个进程）：时间 {inline['seconds'] / piped['seconds']:.2f} 倍")
    return piped["seconds"] <= 10 and piped["peak_mb"] + piped["writer_peak_mb"] <= 300


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="花名册 XLSX 导出基准：流式写出 vs. 全部驻留内存")
    ap.add_argument("--rows", type=int, default=50000)
    ap.add_argument("--no-baseline", action="store_true", help="只测流式写出")
    ap.add_argument("--data", help="台账数据目录（请用副本），测从台账到文件的整个导出")
    ap.add_argument("--before", help="同一次运行里也测这个 git 版本的流式写出（如 3bf5aef）")
    args = ap.parse_args(argv)
    from bench.bench_bulk import cpu_model, load, unpack

    print(f"cpu {cpu_model()}, {os.cpu_count()} cores (shared with other jobs); load {load()} at start", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        ledger_ok = ledger(args.data, tmp) if args.data else True
        if args.before:
            old = _child("streamed", args.rows, Path(tmp) / "before.xlsx",
                         code_dir=unpack(args.before, Path(tmp) / "before-code"))
            print(f"流式，{args.before} 的代码：{args.rows} 行，{old['seconds']:.2f} 秒（CPU {old['cpu']:.2f} 秒），"
                  f"峰值内存 {old['peak_mb']:.0f} MB，文件 {old['bytes'] / 1e6:.1f} MB；load {load()}", flush=True)
        streamed = _child("streamed", args.rows, Path(tmp) / "streamed.xlsx")
        print(f"流式（xlsxwriter constant_memory）：{args.rows} 行，{streamed['seconds']:.2f} 秒（CPU {streamed['cpu']:.2f} 秒），"
              f"峰值内存 {streamed['peak_mb']:.0f} MB，文件 {streamed['bytes'] / 1e6:.1f} MB；load {load()}", flush=True)
        if args.before:
            import zipfile

            def parts(name: str) -> dict[str, bytes]:
                with zipfile.ZipFile(Path(tmp) / name) as z:
                    return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}   # the time written
            print("与旧版本写出的文件比较：" + ("逐字节相同（docProps/core.xml 的写出时间除外）"
                                               if parts("before.xlsx") == parts("streamed.xlsx") else "不同"))
        if not args.no_baseline:
            naive = _child("naive", args.rows, Path(tmp) / "naive.xlsx")
            print(f"基线（openpyxl 普通模式）：{args.rows} 行，{naive['seconds']:.2f} 秒（CPU {naive['cpu']:.2f} 秒），"
                  f"峰值内存 {naive['peak_mb']:.0f} MB，文件 {naive['bytes'] / 1e6:.1f} MB")
            print(f"比值（基线 / 流式）：时间 {naive['seconds'] / streamed['seconds']:.2f} 倍，"
                  f"内存 {naive['peak_mb'] / streamed['peak_mb']:.2f} 倍")
    ok = streamed["seconds"] <= 10 and streamed["peak_mb"] <= 300 and ledger_ok
    load = os.getloadavg()[0]
    print("目标（≤ 10 秒，≤ 300 MB）：" + ("达到" if ok else "未达到")
          + f"（本机 {os.cpu_count()} 核，1 分钟平均负载 {load:.1f}；负载高时墙钟时间偏长，参看 CPU 秒）")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
