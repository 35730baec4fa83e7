"""CSV (UTF-8 with BOM), JSON and JSON Lines: real bytes read back."""
from __future__ import annotations

import csv

from core.transfer.exportform import form_info
from core.transfer.exporting import mask_value
from plugins.export_tabular import write_records_csv, write_report_csv

ID_1 = "120107193801010032"


def full(kind, value):
    return value


def read_csv(path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def test_report_csv_has_bom_flat_headers_masking_and_total(tmp_path, summary, roster):
    path = tmp_path / "汇总表.csv"
    write_report_csv(summary, path, mask_value)
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    rows = read_csv(path)
    assert rows[0][:4] == ["单位", "留守老年人总数", "性别/男", "性别/女"]
    assert rows[1][:3] == ["北塘街道", "12", "5"]
    assert rows[-1][:2] == ["合计", "21"]

    path = tmp_path / "花名册.csv"
    write_report_csv(roster(5), path, mask_value)
    rows = read_csv(path)
    assert rows[0][5] == "公民身份号码" and "********" in rows[1][5]
    assert len(rows) == 6


def test_records_csv_one_file_per_table(reg_form, records, tmp_path):
    paths = write_records_csv(form_info(reg_form), iter(records), tmp_path / "登记.csv", mask_value)
    assert [p.name for p in paths] == ["登记.csv", "登记-children.csv"]
    parent, kids = (read_csv(p) for p in paths)
    assert all(p.read_bytes()[:3] == b"\xef\xbb\xbf" for p in paths)
    row = dict(zip(parent[0], parent[1]))
    assert row["姓名"] == "王秀兰" and row["公民身份号码"] == "120107********0032"
    assert row["主要疾病"] == "高血压、糖尿病"
    assert kids[0][:3] == ["档案编号", "序号", "姓名"]
    assert [k[2] for k in kids[1:]] == ["王强", "王丽"]


def test_records_csv_full(reg_form, records, tmp_path):
    paths = write_records_csv(form_info(reg_form), iter(records), tmp_path / "full.csv", full)
    parent = read_csv(paths[0])
    assert dict(zip(parent[0], parent[1]))["公民身份号码"] == ID_1
