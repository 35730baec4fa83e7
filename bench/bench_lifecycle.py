"""Benchmark: `records reevaluate --dry-run` beside a plain loop of stock jsonschema validation of
the same records, and one choice-rename migration applied over the ledger.

Run: `.venv/bin/python -m bench.bench_lifecycle [--persons N] [--data LEDGER]`. Each variant runs
in a fresh interpreter so its peak RSS is its own; times exclude opening the ledger. Targets
(issue 10): re-evaluation of 50,000 people ≤ 3 s and ≤ 300 MB; the migration ≤ 10 s. A smaller
ledger is scaled linearly to 50,000 by CPU seconds (building 50,000 demo people takes many
minutes on a loaded machine); the load average and CPU model are printed with every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FORMS = Path(__file__).resolve().parent.parent / "forms"
TARGET_PEOPLE = 50_000


def cpu_model() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown CPU"


def machine() -> str:
    return f"{cpu_model()}，{os.cpu_count()} 核，1 分钟平均负载 {os.getloadavg()[0]:.1f}"


def _measure(fn) -> dict:
    import resource
    import time

    t, c = time.perf_counter(), time.process_time()
    extra = fn()
    return {"seconds": time.perf_counter() - t, "cpu": time.process_time() - c,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **(extra or {})}


def run_reevaluate(data: str, forms: str) -> dict:
    from core.engine import Engine
    from core.lifecycle import reevaluate

    eng = Engine.open(data, forms, readonly=True)
    return _measure(lambda: {"records": reevaluate.run(eng, "registration", apply=False).records})


def run_jsonschema(data: str, forms: str) -> dict:
    """The baseline: stock Draft 2020-12 validation of each record against the compiled schema."""
    from jsonschema import Draft202012Validator

    from core.engine import Engine
    from core.formlang.compile import compile_form

    eng = Engine.open(data, forms, readonly=True)
    check = Draft202012Validator(compile_form(eng.form("registration"), eng.registry))

    def loop():
        n = bad = 0
        for rec in eng.iter_records("registration"):
            n += 1
            bad += any(True for _ in check.iter_errors(rec["data"]))
        return {"records": n, "invalid": bad}
    return _measure(loop)


def run_migration(data: str, forms: str) -> dict:
    from core.engine import Engine
    from core.lifecycle import migrations

    path = Path(forms) / "migrations" / "economy.yaml"
    mig, problems = migrations.load(path)
    assert not problems, problems
    eng = Engine.open(data, forms, operator="基准测试")
    out = _measure(lambda: {"changed": migrations.run(eng, mig, apply=True).changed})
    eng.close()
    return out


def _child(variant: str, data: Path, forms: Path) -> dict:
    code = (f"import json; from bench.bench_lifecycle import run_{variant} as f; "
            f"print(json.dumps(f({str(data)!r}, {str(forms)!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parent.parent)
    return json.loads(done.stdout.strip().splitlines()[-1])


def build(data: Path, persons: int) -> None:
    from core.engine import Engine
    from core.transfer import demo

    with Engine.open(data, FORMS, operator="基准测试") as eng:
        demo.generate(eng, persons=persons, seed=5, village_days=0, town_quarters=0)


def renamed_forms(tmp: Path) -> Path:
    """A working copy where 经济状况 一般 became 非困难 (version 2), with its migration file."""
    forms = tmp / "forms"
    shutil.copytree(FORMS, forms)
    lists = forms / "lists" / "economy.yaml"
    lists.write_text(lists.read_text(encoding="utf-8").replace("低收入, 一般]", "低收入, 非困难]"), encoding="utf-8")
    reg = forms / "registration.yaml"
    reg.write_text(reg.read_text(encoding="utf-8").replace("version: 1\ntitle:", "version: 2\ntitle:"), encoding="utf-8")
    (forms / "migrations").mkdir(exist_ok=True)
    (forms / "migrations" / "economy.yaml").write_text(
        "kind: migration\nid: economy_bench\nform: registration\nreason: 经济状况“一般”改称“非困难”\n"
        "changes:\n  - {map_choices: economic_status, map: {一般: 非困难}}\n", encoding="utf-8")
    return forms


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="重新计算与迁移基准")
    ap.add_argument("--persons", type=int, default=5000, help="新建台账的人数（默认 5000，按 CPU 秒换算到 5 万人）")
    ap.add_argument("--data", help="已有台账（只读用于重新计算；迁移在它的副本上做）")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = Path(args.data) if args.data else tmp / "ledger"
        if not args.data:
            print(f"生成 {args.persons} 人的演示台账……（{machine()}）", flush=True)
            build(data, args.persons)
        re = _child("reevaluate", data, FORMS)
        js = _child("jsonschema", data, FORMS)
        copy = tmp / "copy"
        shutil.copytree(data, copy)
        mig = _child("migration", copy, renamed_forms(tmp))
    n = re["records"]
    scale = TARGET_PEOPLE / n

    def line(label, r):
        return (f"{label}：{n} 人 {r['seconds']:.2f} 秒（CPU {r['cpu']:.2f} 秒），峰值内存 {r['peak_mb']:.0f} MB；"
                f"按 CPU 秒换算 5 万人约 {r['cpu'] * scale:.1f} 秒")
    print(line("records reevaluate --dry-run", re))
    print(line("基线：jsonschema 逐条校验", js) + f"（无效 {js['invalid']} 条）")
    print(line("迁移 map_choices 一般→非困难（含备份、写入、历史）", mig) + f"（改了 {mig['changed']} 条）")
    print(f"比值（jsonschema / 重新计算，CPU）：{js['cpu'] / re['cpu']:.2f} 倍")
    print(f"本机：{machine()}。机器由多人共用、负载高，墙钟时间偏长，请看 CPU 秒。")
    return 0


if __name__ == "__main__":
    sys.exit(main())
