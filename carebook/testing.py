"""Helpers for testing a carebook plugin against a real, small ledger.

Everything here uses the real engine, the shipped forms and real files in a folder the test
owns — no stubs — so a plugin that passes these tests works the same way once installed::

    from carebook.testing import make_ledger, run_export

    def test_roster_as_markdown(tmp_path):
        with make_ledger(tmp_path, persons=20, plugins=[my_plugin]) as ledger:
            [path] = run_export(ledger, "markdown", "roster", tmp_path / "out")
        assert "120107********" in path.read_text(encoding="utf-8")

With pytest, ``pytest_plugins = ["carebook.testing"]`` in a ``conftest.py`` adds the fixtures
``carebook_ledger`` (20 demo people) and ``carebook_progress`` (a progress callback that keeps
what it was told).
"""
from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.paths import shipped_forms_dir
from core.problems import Problem
from core.reporting.reportmodel import Column, Report

if TYPE_CHECKING:
    from core.engine import Engine

__all__ = ["AS_OF", "ProgressLog", "make_ledger", "run_export", "sample_report", "shipped_forms"]

#: The day demo ledgers are made "as of": a fixed date keeps ages and due visits reproducible.
AS_OF = dt.date(2026, 11, 30)


def shipped_forms() -> Path:
    """The forms carebook ships (read-only: copy before editing; `make_ledger` does)."""
    return shipped_forms_dir()


def make_ledger(folder: Path, *, persons: int = 20, seed: int = 7, as_of: dt.date = AS_OF,
                plugins: Iterable[object] = (), forms_dir: Path | None = None,
                operator: str = "测试员") -> Engine:
    """An engine on ``folder/data`` over a copy of the shipped forms (``folder/forms``), with
    ``persons`` demo people and their visits, and ``plugins`` registered after every other
    plugin (so they win a name they share with a built-in). Use it as a context manager."""
    from core.engine import Engine
    from core.transfer import demo

    folder = Path(folder)
    forms = folder / "forms"
    if not forms.exists():
        shutil.copytree(forms_dir or shipped_forms(), forms)
    engine = Engine.open(folder / "data", forms, operator=operator, extra_plugins=list(plugins),
                         today=lambda: as_of)
    if persons:
        demo.generate(engine, persons=persons, seed=seed, as_of=as_of, village_days=60, town_quarters=1)
    return engine


def run_export(ledger: Engine, fmt: str, what: str = "roster", output: Path | None = None, *,
               full: bool = False, progress: Any = None, **params: Any) -> list[Path]:
    """Export as staff would (``Engine.export``): the paths written. ``output`` defaults to an
    ``export`` folder beside the ledger's data folder (never inside it: the engine refuses that)."""
    out = Path(output) if output is not None else Path(ledger.data_dir).parent / "export"
    out.mkdir(parents=True, exist_ok=True)
    return ledger.export(what, fmt, out, full=full, progress=progress, **params)


def sample_report(rows: int = 3) -> Report:
    """A small roster-shaped `Report` with personal columns, for testing a writer alone."""
    def people() -> Iterator[dict[str, Any]]:
        for i in range(rows):
            yield {"seq": i + 1, "name": f"测试{i + 1}", "id_number": "120107194803150032",
                   "phone": "13812345678", "village": "渡口村"}
    return Report(name="roster", title="天津市滨海新区农村留守老年人花名册",
                  columns=[Column("seq", "序号", kind="int"), Column("name", "姓名", pii="name"),
                           Column("id_number", "公民身份号码", pii="id"), Column("phone", "联系电话", pii="phone"),
                           Column("village", "村（居）委会")],
                  rows=people(), unit="小王庄镇", date=AS_OF.isoformat(), row_count=rows,
                  checks=[Problem("示例核查提示")], total={"seq": rows})


class ProgressLog:
    """A ``progress(done, total)`` callback that keeps every call, for asserting on."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    def __call__(self, done: int, total: int | None = None) -> None:
        self.calls.append((done, total))


try:                                    # fixtures, when pytest is there to use them
    import pytest
except ImportError:                     # pragma: no cover - carebook runs without pytest
    pass
else:
    @pytest.fixture
    def carebook_ledger(tmp_path: Path) -> Iterator[Engine]:
        """A real ledger of 20 demo people in the test's own folder."""
        with make_ledger(tmp_path) as ledger:
            yield ledger

    @pytest.fixture
    def carebook_progress() -> ProgressLog:
        return ProgressLog()
