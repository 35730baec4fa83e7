"""Benchmark: `records reevaluate --dry-run` and a choice-rename migration, before and after, in
one run, beside a plain loop of stock jsonschema validation of the same records.

Run: `nice -n 10 .venv/bin/python -m bench.bench_lifecycle --data /work/bench-data/d50k`
(the ledger is copied first: the runs write a marker and migrate). Without `--data` a demo
ledger of `--persons` people is built. Targets (issue 10): re-evaluation of 50,000 people
≤ 3 s and ≤ 300 MB; the migration ≤ 10 s.

"Before" is the code of commit `--before` (default 3bf5aef: after a form change re-evaluation
read every record and ran every computed field and rule; the migration read a copy of each
record and wrote each village in its own commit), loaded from git into the same interpreter
setup; "after" is this tree. Each variant runs in a fresh interpreter so its peak RSS is its
own; times exclude opening the ledger, except the row of the whole command (`run_cli`). Re-evaluation is measured the day after an applied run
(the daily case: birthdays moved ages), 30 days after, and the day after a threshold change (高龄
from 80 to 75): every person must be judged again, but only 高龄 and 风险等级 read the threshold
(`core.lifecycle.fielddeps`), and for most people both are decided from the list row alone
(`core.lifecycle.rowonly`); the rest — the birthdays, anyone the row cannot decide — are
decided with the values their rows lack, read from the records once and kept beside the ledger
(`core.lifecycle.keptvalues`), or read and evaluated. Raising 高龄 to 85 is measured in the
order an admin meets it, on a ledger without kept values yet: the ledger opened on a new day
(the day's applied run, which keeps nothing itself: every village's values are kept after it
in the background — `reevaluate.keep_after_open`, timed on its own by `wait_kept`; the run is timed against the code before, as it is time staff wait at the
TUI's start), then the first dry run after the threshold edit, the runs after it, the whole
command; then the truly cold run (no kept values at all: the villages read by a forked copy while
the rows are walked, `core.lifecycle.keptahead`; "before" runs `--before`'s reevaluate.py, which
reads them after the walk, in one process), and the first dry run after
two new days' opens. The migration is timed with the day's backup already made (as on a ledger
opened that day); the first backup of a ledger without any is shown on its own. `--part`
runs one half. The machine's load average and CPU model are printed with every figure: it is
shared, so read CPU seconds beside wall time.
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

ROOT = Path(__file__).resolve().parent.parent
FORMS = ROOT / "forms"
BEFORE = "3bf5aef"


def cpu_model() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown CPU"


def machine() -> str:
    one, five, _ = os.getloadavg()
    return f"{cpu_model()}，{os.cpu_count()} 核，平均负载 {one:.1f}（1 分钟）/ {five:.1f}（5 分钟）"


def _measure(fn) -> dict:
    """Wall and CPU seconds of `fn()` and the peak memory; CPU and peak include any copy it
    forked (a cold dry run's village reads, `core.lifecycle.keptahead`): the larger process."""
    import resource
    import time

    def children() -> float:
        use = resource.getrusage(resource.RUSAGE_CHILDREN)
        return use.ru_utime + use.ru_stime

    load = os.getloadavg()[0]
    t, c, k = time.perf_counter(), time.process_time(), children()
    extra = fn()
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return {"seconds": time.perf_counter() - t, "cpu": time.process_time() - c + children() - k, "load": load,
            "peak_mb": peak / 1024, **(extra or {})}


def _old(name: str, commit: str):
    """`core.lifecycle.<name>` as it was at `commit` (from git), or None."""
    import importlib.util

    try:
        text = subprocess.run(["git", "show", f"{commit}:core/lifecycle/{name}.py"], capture_output=True,
                              text=True, check=True, cwd=ROOT).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / f"old_{name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"old_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # dataclasses look their module up while it loads
    spec.loader.exec_module(mod)
    return mod


def _day(days: int):
    import datetime as dt

    return dt.date.today() + dt.timedelta(days=days)


def _clock(days: int):
    """The engine's `today`, `days` from now (worked out once: it is called for every record)."""
    day = _day(days)
    return lambda: day


def _result(r) -> dict:
    return {"records": r.records, "changed": r.changed, "table": r.table()[:3],
            "rules": sum(r.rule_failures.values())}


def run_mark(data: str, forms: str, days: int = 0, commit: str = "") -> dict:
    """The applied run of the first open of a day (`refresh_for_today`): leaves the marker."""
    from core.engine import Engine
    from core.lifecycle import reevaluate

    eng = Engine.open(data, forms, operator="基准测试", today=_clock(days))
    out = _measure(lambda: _result(reevaluate.run(eng, apply=True, operator="基准测试")))
    eng.close()
    return out


def run_newday(data: str, forms: str, days: int = 1, commit: str = "") -> dict:
    """The first open of a new day as the TUI makes it before its first screen
    (`refresh_for_today`: applied, with history) — what staff wait for; then, as while the
    screen is up, the values kept in the background (`wait_kept`, timed on its own) and the
    ledger's close (its last village files written); and how many villages were kept."""

    from core.engine import Engine
    from core.lifecycle import reevaluate

    mod = _old("reevaluate", commit) if commit else reevaluate
    eng = Engine.open(data, forms, operator="基准测试", today=_clock(days))
    out = _measure(lambda: _result(mod.refresh_for_today(eng)))
    kept = _measure(lambda: mod.wait_kept(eng) if hasattr(mod, "wait_kept") else None)
    closed = _measure(eng.close)
    return {**out, "background": (kept["seconds"], kept["cpu"]), "close": (closed["seconds"], closed["cpu"]),
            "kept": _kept_count(Path(data))}


def _kept_count(data: Path) -> int:
    folder = columncache_path(data)
    return len(list(folder.glob("[!.]*.bin"))) if folder.is_dir() else 0


def run_reevaluate(data: str, forms: str, days: int = 1, commit: str = "") -> dict:
    from core.engine import Engine
    from core.lifecycle import reevaluate

    mod = _old("reevaluate", commit) if commit else reevaluate
    eng = Engine.open(data, forms, readonly=True, today=_clock(days))
    kept = _kept_count(Path(data))
    return {**_measure(lambda: _result(mod.run(eng, "registration", apply=False))), "kept_before": kept}


def run_cli(data: str, forms: str, days: int = 0, commit: str = "") -> dict:
    """The whole command as staff type it — `carebook records reevaluate --dry-run` in a fresh
    process: start-up, imports, opening the ledger and the forms included (today's date)."""
    import resource
    import time

    from core.dates import TODAY_ENV

    env = {**os.environ, TODAY_ENV: _day(days).isoformat()} if days else None
    load = os.getloadavg()[0]
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tui.launch", "records", "reevaluate", "--dry-run", "--form",
                           "registration", "--data", data, "--forms", forms], capture_output=True, text=True, cwd=ROOT,
                          env=env)
    seconds = time.perf_counter() - t
    if done.returncode:
        raise SystemExit(f"命令失败：\n{done.stderr[-2000:]}")
    import re

    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = re.search(r"共 (\d+) 条记录，将改变 (\d+) 条", done.stdout + done.stderr)   # the total goes to stderr
    return {"seconds": seconds, "cpu": use.ru_utime + use.ru_stime, "load": load, "peak_mb": use.ru_maxrss / 1024,
            "records": int(total[1]) if total else "?", "changed": int(total[2]) if total else "?",
            "table": [line for line in done.stdout.splitlines() if "→" in line][:3]}


def run_jsonschema(data: str, forms: str, days: int = 0, commit: str = "") -> dict:
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


def run_migration(data: str, forms: str, days: int = 0, commit: str = "") -> dict:
    from core.engine import Engine
    from core.lifecycle import migrations

    mod = _old("migrations", commit) if commit else migrations
    mig, problems = mod.load(Path(forms) / "migrations" / "economy.yaml")
    assert not problems, problems
    eng = Engine.open(data, forms, operator="基准测试")
    eng.store.wait_for_backup()      # the day's backup, made at the day's first open (`_child` made it)
    os.sync()
    out = _measure(lambda: {"records": (p := mod.run(eng, mig, apply=True)).records, "changed": p.changed})
    eng.close()
    return out


def run_backup(data: str, forms: str = "", days: int = 0, commit: str = "") -> dict:
    """The day's backup of a ledger that has none yet: every file copied (~700 MB at 50,000
    people). A ledger in daily use has the day's backup from its first open, and a migration's
    own backup then links the files that did not change."""
    from core.storage.backups import make_backup

    return {"records": "-", **_measure(lambda: {"files": sum(1 for _ in make_backup(Path(data)).path.rglob("*"))})}


def _child(variant: str, data: Path, forms: Path, days: int = 0, commit: str = "") -> dict:
    # The disk first takes the last run's writes: a migration right after another one (700 MB
    # written) otherwise waited on their write-back, and whichever ran second was 15-50 % slower.
    os.sync()
    code = (f"import json; from bench.bench_lifecycle import run_{variant} as f; "
            f"print(json.dumps(f({str(data)!r}, {str(forms)!r}, {days}, {commit!r}), ensure_ascii=False))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"{variant} 失败：\n{done.stderr[-2000:]}")
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


def threshold_forms(tmp: Path, age: int = 75) -> Path:
    """A working copy where 高龄 starts at `age` instead of 80 (every person must be judged again)."""
    import re

    forms = tmp / f"forms-threshold-{age}"
    shutil.copytree(FORMS, forms)
    reg = forms / "registration.yaml"
    text, n = re.subn(r"(\n  advanced_age: )\S+", rf"\g<1>{age}", reg.read_text(encoding="utf-8"))
    assert n == 1
    reg.write_text(text, encoding="utf-8")
    return forms


def columncache_path(data: Path) -> Path:
    """The folder of values re-evaluation keeps beside the ledger (`core.lifecycle.keptfiles`)."""
    from core.reporting.columncache import FOLDER
    from core.lifecycle.keptfiles import RECORDS

    return data.joinpath(*FOLDER, f"registration{RECORDS}")


def _copy(src: Path, dest: Path) -> Path:
    subprocess.run(["cp", "-a", str(src), str(dest)], check=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="重新计算与迁移基准（改前 / 改后，同一次运行）")
    ap.add_argument("--persons", type=int, default=5000, help="没有 --data 时新建台账的人数")
    ap.add_argument("--data", help="已有台账（先复制一份，只在副本上写）")
    ap.add_argument("--before", default=BEFORE, help=f"“改前”代码所在的提交（默认 {BEFORE}）")
    ap.add_argument("--part", choices=("all", "reevaluate", "migration"), default="all", help="只测其中一部分")
    args = ap.parse_args(argv)
    print(f"开始：{machine()}", flush=True)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        tmp = Path(tmp)
        data = tmp / "ledger"
        if args.data:
            _copy(Path(args.data), data)
        else:
            print(f"生成 {args.persons} 人的演示台账……", flush=True)
            build(data, args.persons)
        mig_before = _copy(data, tmp / "mig-before")
        mig_after = _copy(data, tmp / "mig-after")
        rows = []

        def show(label, r):
            extra = f"；{r['table']}" if r.get("table") else ""
            if "background" in r:
                extra += "；之后后台留值 {:.2f} 秒（CPU {:.2f}），关闭 {:.2f} 秒（CPU {:.2f}）".format(*r["background"], *r["close"])
            if "kept" in r or "kept_before" in r:
                extra += f"；留下值的村：{r.get('kept', r.get('kept_before'))}" + ("（运行前）" if "kept_before" in r else "（之后）")
            line = (f"{label}：{r['records']} 人，{r['seconds']:.2f} 秒（CPU {r['cpu']:.2f} 秒），峰值内存 "
                    f"{r['peak_mb']:.0f} MB，改变 {r.get('changed', '-')} 人{extra}（负载 {r['load']:.1f}）")
            rows.append(line)
            print(line, flush=True)

        if args.part in ("all", "reevaluate"):
            show("基线：jsonschema 逐条校验", _child("jsonschema", data, FORMS))
            show("第一次打开（应用，写下标记）", _child("mark", data, FORMS, 0))
            for days in (1, 30):
                show(f"改前 records reevaluate --dry-run，{days} 天后", _child("reevaluate", data, FORMS, days, args.before))
                show(f"改后 records reevaluate --dry-run，{days} 天后", _child("reevaluate", data, FORMS, days))
            changed = threshold_forms(tmp)
            show("改前 高龄阈值改为 75 后 --dry-run", _child("reevaluate", data, changed, 1, args.before))
            show("改后 高龄阈值改为 75 后 --dry-run（每人重判，只算读阈值的字段）", _child("reevaluate", data, changed, 1))
            show("改后 整条命令 carebook records reevaluate --dry-run（阈值 75，当天；含启动和打开台账）",
                 _child("cli", data, changed))
            # 高龄 80→85：80–84 岁的人由后面的风险条件决定，列表行里没有那些值（重大疾病、住房隐患、
            # 子女联系……），留在台账旁（cache/columns/registration.records/）。实际的顺序：台账在新的
            # 一天打开（当天的应用重算，读生日的人所在的村；之后后台留下各村的值）→ 管理员改阈值 →
            # 第一次 --dry-run。台账起初没有留下的值（本轮之前的台账）。
            raised = threshold_forms(tmp, 85)
            shutil.rmtree(columncache_path(data), ignore_errors=True)
            day_before, day_after = _copy(data, tmp / "day-before"), _copy(data, tmp / "day-after")
            show("改前 新的一天第一次打开（应用重算，界面出现前）",
                 _child("newday", day_before, FORMS, 1, args.before))
            show("改后 新的一天第一次打开（应用重算，界面出现前）", _child("newday", day_after, FORMS, 1))
            show("改前 随后高龄阈值改为 85，--dry-run", _child("reevaluate", day_before, raised, 1, args.before))
            show("改后 随后高龄阈值改为 85，第一次 --dry-run（当天打开后已在后台留下各村的值）",
                 _child("reevaluate", day_after, raised, 1))
            show("改后 随后再一次 --dry-run", _child("reevaluate", day_after, raised, 1))
            show("改后 整条命令 carebook records reevaluate --dry-run（阈值 85，同一天；含启动和打开台账）",
                 _child("cli", day_after, raised, 1))
            shutil.rmtree(columncache_path(day_after))
            cold_before = _copy(day_after, tmp / "cold-before")
            show("改前 真正冷的第一次（没有任何留下的值：读全部记录并留下）",
                 _child("reevaluate", cold_before, raised, 1, args.before))
            shutil.rmtree(cold_before)
            show("改后 真正冷的第一次（没有任何留下的值：复制出的进程读各村，同时逐行判断）",
                 _child("reevaluate", day_after, raised, 1))
            shutil.rmtree(day_after)
            shutil.rmtree(day_before)
            # 用了这版代码两天之后（中间没有 --dry-run）：第二天的重算读到另一些生日的人所在的村
            two_days = _copy(data, tmp / "two-days")
            show("改后 新的一天打开（第 1 天）", _child("newday", two_days, FORMS, 1))
            show("改后 又一个新的一天打开（第 2 天）", _child("newday", two_days, FORMS, 2))
            show("改后 随后高龄阈值改为 85，第一次 --dry-run（连续两天打开之后）", _child("reevaluate", two_days, raised, 2))
            shutil.rmtree(two_days)
        if args.part in ("all", "migration"):
            # the day's backup is made when the ledger is first opened that day; the migration's
            # own backup then links every unchanged file. Without any backup it copies them all:
            # shown on its own (the same copy the first open of a day makes on a fresh ledger)
            show("当天第一次打开时的备份（台账还没有任何备份：整份复制）", _child("backup", mig_before, FORMS))
            _child("backup", mig_after, FORMS)
            renamed = renamed_forms(tmp)
            show("改前 迁移 一般→非困难（含迁移前的备份、写入、历史；当天的备份已有）",
                 _child("migration", mig_before, renamed, 0, args.before))
            show("改后 迁移 一般→非困难（含迁移前的备份、写入、历史；当天的备份已有）", _child("migration", mig_after, renamed))
    print(f"结束：{machine()}。机器由多人共用、负载高，墙钟时间偏长，请同时看 CPU 秒。")
    return 0


if __name__ == "__main__":
    sys.exit(main())
