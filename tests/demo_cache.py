"""Demo ledgers built once per test run and copied into each test that wants one.

Generating demo people goes through the real engine (validation, numbering, history, rollups),
so 40 people cost a second or two of CPU and 300 people ten. Many tests start from the same
demo (the TUI tests from 20, 30 or 40 people of seed 7; a module from its own 300), and under
`pytest -n 2` a module's tests are split between the two workers, each of which used to build
the module's ledger again. Here the first test that asks builds the ledger in a folder shared
by the run's workers (under a lock, so the other worker waits and then copies), closes it, and
every test gets its own full copy (`shutil.copytree`): what one test writes no other sees.

The key is everything the ledger depends on: persons, seed, as-of day, generator options,
operator and the bytes of every form file, so a test with an edited forms folder gets a ledger
of its own forms. The cache lives in the run's temporary folder and goes with it.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

#: The run's shared cache folder, set by the session fixture in conftest.py; None outside pytest
#: (then every ledger is built where it is asked for, as before).
ROOT: Path | None = None


def shared_root(basetemp: Path) -> Path:
    """The folder every xdist worker of this run can see: workers get `<run>/popen-gwN` as
    their own basetemp, the run's folder is its parent."""
    return (basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp) / "demo-cache"


def _forms_digest(forms: Path | None) -> str:
    from core.paths import shipped_forms_dir

    folder = Path(forms) if forms is not None else shipped_forms_dir()
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f.relative_to(folder).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:              # pragma: no cover - Windows: one worker builds at a time anyway
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build(data: Path, forms: Path | None, persons: int, seed: int, as_of: dt.date | None,
           operator: str | None, today: dt.date | None, options: dict[str, Any]) -> dict[str, int]:
    from core.engine import Engine
    from core.transfer import demo

    kw = {"today": (lambda: today)} if today is not None else {}
    eng = Engine.open(data, forms, operator=operator, **kw)
    try:
        args = {"as_of": as_of} if as_of is not None else {}
        return dict(demo.generate(eng, persons=persons, seed=seed, **args, **options))
    finally:
        eng.close()


def demo_copy(dest: Path, *, persons: int, seed: int, as_of: dt.date | None = None, forms: Path | None = None,
              operator: str | None = None, today: dt.date | None = None, **options: Any) -> dict[str, int]:
    """A closed demo ledger at `dest` (a data folder that must not exist yet), as
    `demo.generate(Engine.open(dest, forms, operator=..., today=...), persons=, seed=, as_of=, **options)`
    would leave it; returns generate's counts. Built once per run, copied after that."""
    dest = Path(dest)
    if dest.is_dir() and not any(dest.iterdir()):
        dest.rmdir()                     # an empty folder made beforehand: the copy makes it
    if ROOT is None or dest.exists():
        return _build(dest, forms, persons, seed, as_of, operator, today, options)
    key = hashlib.sha256(json.dumps(
        [persons, seed, str(as_of), str(today), operator, sorted((k, str(v)) for k, v in options.items()),
         _forms_digest(forms)]).encode()).hexdigest()[:20]
    ROOT.mkdir(parents=True, exist_ok=True)
    cached, counts_file = ROOT / key, ROOT / f"{key}.json"
    with _locked(ROOT / f"{key}.lock"):
        if not counts_file.exists():
            shutil.rmtree(cached, ignore_errors=True)           # a build that failed half-way
            counts = _build(cached, forms, persons, seed, as_of, operator, today, options)
            counts_file.write_text(json.dumps(counts), encoding="utf-8")
    shutil.copytree(cached, dest)
    return json.loads(counts_file.read_text(encoding="utf-8"))


def binhai_demo(root: Path, **kw: Any) -> tuple[Path, dict[str, int]]:
    """`root/forms` (a copy of the shipped forms) and beside it `root/data`, a demo ledger made
    as the Binhai tests' `open_engine` makes one (operator 测试员); returns the forms folder and
    generate's counts. `kw`: persons, seed, as_of and generator options, as for `demo_copy`."""
    from binhai_support import copy_forms

    forms = copy_forms(root)
    return forms, demo_copy(root / "data", forms=forms, operator="测试员", **kw)
