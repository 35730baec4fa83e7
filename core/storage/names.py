"""Which table and partition names may become file names.

Table names are form ids; partitions are usually 12-digit village codes but come from record
data, so they are checked before they reach the file system: no path separators, nothing
Windows refuses (`CON`, `a:b`, trailing dots), and nothing that could be mistaken for an index
file.
"""
from __future__ import annotations

import re

from core.storage.errors import StorageError

NO_PARTITION = "_none"
_TABLE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def check_table(table: object) -> str:
    if not isinstance(table, str) or not _TABLE.fullmatch(table):
        raise StorageError(f"表名（表单编号）{table!r} 无效：应以小写英文字母开头，只用小写字母、数字和下划线，最多 64 个字符")
    return table


def check_partition(partition: object) -> str:
    """The file-name-safe partition; a record without one goes to `_none`."""
    if partition is None or partition == "":
        return NO_PARTITION
    if not (
        isinstance(partition, str)
        and len(partition) <= 100
        and not _BAD_CHARS.search(partition)
        and not partition.startswith(".")
        and not partition.endswith((".", " ", ".index"))
        and partition.split(".")[0].upper() not in _RESERVED
    ):
        raise StorageError(f"分区名（村代码）{partition!r} 不能用作文件名：含有文件名不允许的字符、以点开头或结尾，或是系统保留名")
    return partition
