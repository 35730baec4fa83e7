"""Setting aside files that fail to parse.

A damaged file is never overwritten or repaired in place: the writer moves it into
`quarantine/` (same relative path, timestamp suffix, never replacing an earlier one) so that
nothing is lost, and tells staff in Chinese which backup holds a good copy and how to put it
back. A read-only store cannot move files, so it only reports.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from core.problems import Problem
from core.storage import atomic, backups

QUARANTINE = "quarantine"


def _free_name(folder: Path, name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = folder / f"{name}.{stamp}"
    n = 0
    while candidate.exists():
        n += 1
        candidate = folder / f"{name}.{stamp}-{n}"
    return candidate


def set_aside(root: Path, path: Path, reason: str, *, move: bool, rebuilt: bool) -> Problem:
    """Move `path` to quarantine (when `move`) and describe what happened and what to do.

    `rebuilt` is for derived files (indexes, rollups): nothing needs restoring, they are rebuilt.
    """
    rel = path.relative_to(root)
    where = ""
    if move:
        dest = _free_name(root / QUARANTINE / rel.parent, rel.name)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
            atomic.fsync_dir(path.parent)
            where = f"已移至 {dest.relative_to(root).as_posix()}；"
        except OSError as exc:
            where = f"未能移到 quarantine 文件夹（{exc.strerror or exc}），请勿删除该文件；"
    head = f"文件 {rel.as_posix()} 已损坏，无法读取（{reason}）。{where}"
    if rebuilt:
        return Problem(head + "这是派生文件（索引或汇总），已根据数据文件重建，无需处理",
                       file=rel.as_posix(), severity="warning", rule="storage.index_rebuilt")
    if not move:
        tail = "该村的记录暂不可见；以可写方式打开时会把它移到 quarantine 文件夹。"
    else:
        tail = "该村的记录暂不可见。"
    good = backups.find_good_copy(root, rel)
    if good is not None:
        tail += (f"恢复方法：关闭所有 carebook 窗口，把备份 {good.name} 中的 "
                 f"backups/{good.name}/{rel.as_posix()} 复制回 {rel.as_posix()}"
                 f"（或运行 carebook backups restore {good.name} 恢复整个备份），然后重新打开。")
    else:
        tail += "没有找到含有此文件完好副本的备份，请联系技术支持。"
    return Problem(head + tail + " (file quarantined)", file=rel.as_posix(), severity="error",
                   rule="storage.quarantined")


def keep_copy(root: Path, path: Path, reason: str) -> Problem:
    """Copy a damaged journal to quarantine (its good lines are still replayed) and say so."""
    import shutil

    rel = path.relative_to(root)
    dest = _free_name(root / QUARANTINE / rel.parent, rel.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, dest)
    return Problem(f"文件 {rel.as_posix()} 有损坏的行（{reason}），这些行中的保存无法恢复，其余已恢复；"
                   f"原文件副本在 {dest.relative_to(root).as_posix()}。请运行 carebook verify 并核对最近的修改",
                   file=rel.as_posix(), severity="error", rule="storage.journal_damaged")
