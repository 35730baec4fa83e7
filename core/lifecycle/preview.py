"""`carebook forms preview FORM`: the working forms on a scratch ledger, never the real one.

An admin wants to see a changed form as staff will — sections, skip logic, computed risk —
before publishing it. The preview opens a new folder under the system's temp directory, marked
as demo data (every screen says 演示数据), filled with a few fictional people made under the
*working* forms, so nothing typed in the preview can reach the office's ledger.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from core import dates
from core.problems import CarebookError

OPERATOR = "表单预览"


def scratch_ledger(forms_dir: Path, persons: int = 12, today: dt.date | None = None) -> tuple[Path, list[str]]:
    """(new scratch data folder, notes): test people made under the working forms."""
    from core import paths
    from core.engine import Engine
    from core.transfer import demo

    folder = Path(tempfile.mkdtemp(prefix="carebook-preview-"))
    paths.mark_demo(folder)
    notes = []
    with Engine.open(folder, forms_dir, operator=OPERATOR) as eng:
        if eng.forms_dir != eng._working_forms_dir or any(p.is_error for p in eng.forms.problems):
            raise CarebookError("表单文件有错误，无法预览；先运行 carebook forms check 改正")
        eng.settings.set("operator", OPERATOR)
        eng.settings.set("ledger_created", (today or dates.today()).isoformat())
        try:
            demo.generate(eng, persons=persons, seed=3, as_of=today, village_days=30, town_quarters=1)
        except CarebookError as exc:     # a changed form the demo generator does not know yet
            notes.append(f"未能生成测试记录（{exc}），预览台账是空的")
    return folder, notes
