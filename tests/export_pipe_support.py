"""Writers for the export-pipe tests. They live in a module of their own because the writing
process imports a writer by module and name, as it does the built-in XLSX writer."""
from __future__ import annotations

import os


def counting_writer(report, path, mask, progress):
    """Writes one line per row (the masked 公民身份号码 and the title), to compare with in-process."""
    n = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(report.title + "\n")
        for row in report.rows:
            out.write(f"{row.get('seq')}\t{mask('id', row.get('id_number'))}\n")
            n += 1
        out.write(f"合计 {n}; notes {len(report.notes)}\n")
    return n


def failing_writer(report, path, mask, progress):
    for i, _row in enumerate(report.rows):
        if i == 3:
            raise ValueError("第 4 行写不下去")
    return 0


def dying_writer(report, path, mask, progress):
    next(iter(report.rows))
    os._exit(3)


def row_writer(head, rows, path, progress):
    """`write_rows`' kind of writer: the head, then one line per finished row."""
    n = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(f"{head}\n")
        for row in rows:
            out.write("\t".join(row) + "\n")
            n += 1
    return n
