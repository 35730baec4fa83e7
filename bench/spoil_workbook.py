"""A spoiled copy of a registration records workbook (`export records --full`), for comparing
the import reports of two codes.

    .venv/bin/python -m bench.spoil_workbook records.xlsx spoiled.xlsx
    .venv/bin/python -m bench.bench_bulk --no-demo --import-file spoiled.xlsx --before REV --compare

Every 7th person row gets one of nine faults in turn — a masked ID number, an impossible
filing date, an answer the form does not offer (健康状况, 民族), an unknown village, a
zero-width character in the name, a wrong check character, a bad phone, an unknown 档案状态 —
and every 11th child row an unknown relation or (every 22nd) a 档案编号 nobody has. The columns
are those `export records` writes for the shipped registration form. Cells are rewritten in
the sheets' XML as it streams past (a 50,000-person sheet is never held whole), so every other
byte stays as the export wrote it.
"""
from __future__ import annotations

import re
import sys
import zipfile

PERSON_FAULTS = [("I", "120107********0032"), ("D", "2026-02-30"), ("Y", "良好"), ("C", "不存在村"),
                 ("H", "王\u200b秀英"), ("M", "火星族"), ("I", None), ("S", "12345"), ("BI", "不知道")]
_ROW = re.compile(rb'<row r="(\d+)"')


def spoil(row: bytes, line: int, sheet: int) -> bytes:
    """One row's XML with its fault, if it has one (None: the ID number's last digit changed)."""
    if sheet == 1 and line >= 2 and line % 7 == 0:
        column, text = PERSON_FAULTS[(line // 7) % len(PERSON_FAULTS)]
    elif sheet == 2 and line >= 2 and line % 11 == 0:
        column, text = ("D", "外星人") if line % 22 else ("A", "没有这个编号")
    else:
        return row
    cell = re.compile(rb'(<c r="' + f"{column}{line}".encode() + rb'"[^>]*><is><t[^>]*>)([^<]*)(</t></is></c>)')

    def fault(m: re.Match) -> bytes:
        old = m.group(2)
        new = text.encode() if text is not None else old[:-1] + (b"2" if old.endswith(b"1") else b"1")
        return m.group(1) + new + m.group(3)
    return cell.sub(fault, row, count=1)


def main(src: str, dst: str) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            sheet = {"xl/worksheets/sheet1.xml": 1, "xl/worksheets/sheet2.xml": 2}.get(info.filename)
            if sheet is None:
                zout.writestr(info, zin.read(info.filename))
                continue
            with zin.open(info) as fin, zout.open(info.filename, "w", force_zip64=True) as fout:
                held = b""
                while True:
                    more = fin.read(1 << 20)
                    parts = (held + more).split(b"</row>")
                    held = parts.pop()                  # after the last </row>: more to come, or the end
                    for part in parts:
                        m = _ROW.search(part)
                        fout.write((spoil(part, int(m.group(1)), sheet) if m else part) + b"</row>")
                    if not more:
                        fout.write(held)
                        break


if __name__ == "__main__":
    main(*sys.argv[1:3])
