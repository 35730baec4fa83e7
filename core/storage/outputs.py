"""Where outputs may go: never inside the data folder.

Why: `export ... --output <data>/records/registration/<village>.json` once overwrote a live
village file, which was then set aside as damaged and that day's saves of the village were lost.
Exports, reports and copies are written by exporters (plugins too), so the engine checks the
path before any exporter runs. Links are resolved first, so a link into the data folder is
refused as well.
"""
from __future__ import annotations

import os
from pathlib import Path

from core.storage.errors import StorageError


def check_output(data_dir: Path, output: Path | str) -> Path:
    """`output` when it lies outside `data_dir`; `StorageError` (in Chinese) when inside."""
    data = Path(os.path.realpath(data_dir))
    target = Path(os.path.realpath(Path(output).expanduser()))
    if target == data or data in target.parents:
        raise StorageError(f"不能把导出文件写到数据文件夹 {data_dir} 里面（{output}），"
                           "那会覆盖或混入台账文件；请换一个文件夹")
    return Path(output)
