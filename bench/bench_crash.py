"""Random kill -9: a writer saving every kind of record is killed again and again.

    .venv/bin/python -m bench.bench_crash [--runs 500] [--keep DIR]

Each run starts `tests/crash_scenario.py` in loop mode on the same ledger (new people numbered
from the village counter, edits that move people between villages, visits with their rollup
rows, bulk imports), kills it with SIGKILL after a random 0-1.2 s of saving, then opens the
ledger as the next writer would and counts acknowledged saves that are missing and `verify`
findings (`crash_scenario.check`: `carebook verify`'s checks plus the rollups). Target: 0 and 0.
Prints the load average and CPU with the figures (the machine may be shared). POSIX only.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from crash_scenario import acks_of, check  # noqa: E402

SCENARIO = ROOT / "tests" / "crash_scenario.py"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--keep", type=Path, help="keep the ledger in this folder (default: a temp folder)")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    work = args.keep or Path(tempfile.mkdtemp(prefix="carebook-crash-"))
    data, forms = work / "data", work / "forms"
    if not forms.exists():
        shutil.copytree(ROOT / "forms", forms)
    acks: list[dict] = []
    lost: list[str] = []
    findings: list[str] = []
    started = time.perf_counter()
    print(f"cpu {cpu_model()}, load {os.getloadavg()[0]:.1f} at start; ledger {data}", flush=True)
    try:
        for run in range(args.runs):
            child = subprocess.Popen([sys.executable, str(SCENARIO), str(data), str(forms), "loop", str(run)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            first = child.stdout.readline()             # it is saving
            time.sleep(rng.uniform(0.0, 1.2))
            child.send_signal(signal.SIGKILL)
            rest, err = child.communicate()
            found = []
            if child.returncode != -signal.SIGKILL:
                found.append(f"run {run}: writer ended by itself ({child.returncode}): {err.decode()[-300:]}")
            acks += acks_of(first + rest)
            found += [f"run {run}: {f}" for f in check(data, forms, acks)]
            for line in found:          # told at once: a long run stopped early still says what it met
                print("  " + line, flush=True)
                (lost if line.split(": ", 1)[1].startswith("lost") else findings).append(line)
            if (run + 1) % 50 == 0:
                print(f"  {run + 1} runs, {len(acks)} saves acknowledged, {len(lost)} lost, "
                      f"{len(findings)} findings, load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    minutes = (time.perf_counter() - started) / 60
    print(f"kill -9 runs: {args.runs}; acknowledged saves: {len(acks)}; lost: {len(lost)}; "
          f"verify findings: {len(findings)}; {minutes:.1f} min; load {os.getloadavg()[0]:.1f} at end; "
          f"cpu {cpu_model()}")
    for line in (lost + findings)[:20]:
        print("  " + line)
    return 1 if lost or findings else 0


if __name__ == "__main__":
    sys.exit(main())
