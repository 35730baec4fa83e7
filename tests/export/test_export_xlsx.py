"""XLSX exports read back with openpyxl: annex layout, merges, panes, print setup, masking."""
from __future__ import annotations

import shutil
import subprocess

import openpyxl
import pytest

from core.transfer.exportform import form_info
from core.transfer.exporting import mask_value, text_width
from core.reporting.reportmodel import Column, Report
from plugins.xlsx_records import write_records_xlsx
from plugins.xlsx_report import header_cells, write_report_xlsx


ID_1 = "120107193801010032"
VILLAGE = "120116009201"


def full(kind, value):
    return value


def merged(ws) -> set[str]:
    return {str(r) for r in ws.merged_cells.ranges}


def widths(ws) -> dict[int, float]:
    """Column widths by 1-based index: openpyxl files equal neighbours under one letter."""
    out = {}
    for dim in ws.column_dimensions.values():
        for i in range(dim.min or 1, (dim.max or dim.min or 1) + 1):
            out[i] = dim.width
    return out


def test_header_cells_merge_groups_and_span_labels_down():
    cols = [Column("a", "序号"), Column("b", "子1", groups=("甲", "乙")), Column("c", "子2", groups=("甲", "乙")),
            Column("d", "子3", groups=("甲",)), Column("e", "备注")]
    depth, blocks = header_cells(cols)
    assert depth == 3
    assert (0, 1, 0, 3, "甲") in blocks        # 甲 over 子1, 子2, 子3
    assert (1, 1, 1, 2, "乙") in blocks        # 乙 over 子1, 子2
    assert (0, 0, 2, 0, "序号") in blocks      # no group: spans all three header rows
    assert (1, 3, 2, 3, "子3") in blocks       # one group: spans the lower two


def test_roster_layout_masking_and_print_setup(tmp_path, roster):
    path = tmp_path / "花名册.xlsx"
    assert write_report_xlsx(roster(30), path, mask_value) == 30
    ws = openpyxl.load_workbook(path).active
    assert ws["A1"].value == "天津市滨海新区农村留守老年人花名册"
    assert ws["A2"].value.startswith("填报单位（盖章）：滨海新区民政局")
    assert "填报日期：2026年11月30日" in [c.value for c in ws[2]]
    assert "A1:S1" in merged(ws)
    # two header rows: 身体状况 over 健康状况/自理能力; ungrouped labels span both rows
    assert ws["J3"].value == "身体状况" and "J3:K3" in merged(ws)
    assert ws["J4"].value == "健康状况" and ws["K4"].value == "自理能力"
    assert ws["D3"].value == "姓名" and "D3:D4" in merged(ws)
    assert ws.freeze_panes == "A5"
    first = [c.value for c in ws[5]]
    assert first[0] == 1 and first[4] in ("男", "女")
    assert first[5].startswith("12010") and "********" in first[5]          # 公民身份号码 masked
    assert "****" in first[8]                                                 # 联系电话 masked
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1)  # 1 is the default
    assert ws.page_setup.fitToHeight == 0
    assert ws.print_title_rows == "$3:$4"
    assert ws["H5"].value.endswith("…")                                      # 家庭住址 cut
    last = ws.max_row
    assert ws.cell(last - 2, 1).value == "合计：30 人"                        # a roster's total: its head count
    assert ws.cell(last, 1).value.startswith("单位负责人：") and "联系电话：" in ws.cell(last, 1).value
    assert "填报日期" not in ws.cell(last, 1).value                          # printed once, under the title


def test_roster_full_shows_personal_data(tmp_path, roster):
    path = tmp_path / "full.xlsx"
    report = roster(3)
    rows = list(report.rows)
    report.rows = iter(rows)
    write_report_xlsx(report, path, full)
    ws = openpyxl.load_workbook(path).active
    assert ws["F5"].value == rows[0]["id_number"]
    assert ws["I5"].value == rows[0]["phone"]
    # a full address (~16 Chinese characters + digits) is wider than the column's cap (its
    # width hint, 24): the column stops there and the text wraps onto a taller row
    longest = max(len(r["address"]) + sum(1 for ch in r["address"] if ord(ch) > 0x2E80) for r in rows)
    assert longest > 30 and 24 + 1 <= ws.column_dimensions["H"].width < 24 + 2
    assert ws["H5"].alignment.wrap_text
    assert ws.row_dimensions[5].height >= 2 * 13.5


def test_summary_numbers_total_and_checks(tmp_path, summary):
    path = tmp_path / "汇总表.xlsx"
    write_report_xlsx(summary, path, mask_value)
    ws = openpyxl.load_workbook(path).active
    assert ws["C3"].value == "性别" and "C3:D3" in merged(ws)
    assert ws["H3"].value == "本季度探访人次" and "H3:I3" in merged(ws)
    assert ws["B3"].value == "留守老年人总数" and "B3:B4" in merged(ws)
    assert [ws.cell(5, c).value for c in range(1, 10)] == ["", "1", "2", "3", "4", "5", "6", "28", "29"] or \
        [ws.cell(5, c).value for c in range(2, 10)] == ["1", "2", "3", "4", "5", "6", "28", "29"]
    assert ws.print_title_rows == "$3:$5"
    assert ws.freeze_panes == "A6"
    assert [ws.cell(6, c).value for c in range(1, 4)] == ["北塘街道", 12, 5]
    assert [ws.cell(8, c).value for c in range(1, 4)] == ["合计", 21, 9]
    assert ws.cell(8, 1).font.b
    notes = [ws.cell(r, 1).value for r in range(9, ws.max_row + 1) if ws.cell(r, 1).value]
    assert any("勾稽关系检查" in n and "新城镇" in n for n in notes)
    assert "统计期：2026年第四季度" in ws["A2"].value
    assert ws["A5"].value == "甲"                           # the label column's number, as in 统计表


def test_single_column_report_does_not_crash(tmp_path):
    rep = Report(name="x", title="测试", columns=[Column("a", "姓名")], rows=iter([{"a": "王"}]))
    write_report_xlsx(rep, tmp_path / "x.xlsx", mask_value)
    assert openpyxl.load_workbook(tmp_path / "x.xlsx").active["A4"].value == "王"


def test_records_workbook_sheets_children_and_codebook(reg_form, records, tmp_path):
    info = form_info(reg_form)
    path = tmp_path / "records.xlsx"
    assert write_records_xlsx(info, iter(records), path, mask_value) == 2
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["天津市滨海新区农村留守老年人基本情况登记表", "子女及其他赡养人", "字段说明"]
    parent = wb.worksheets[0]
    head = [c.value for c in parent[1]]
    row = dict(zip(head, [c.value for c in parent[2]]))
    assert row["档案编号"] == f"{VILLAGE}-0001" and row["姓名"] == "王秀兰"
    assert row["公民身份号码"] == "120107********0032"
    assert row["主要疾病"] == "高血压、糖尿病" and row["风险等级"] == "高风险"
    assert row["年龄"] == 88
    assert "委托照顾人-姓名" in head                      # duplicate label disambiguated
    assert parent.freeze_panes == "B2"
    kids = wb["子女及其他赡养人"]
    assert [c.value for c in kids[1]][:3] == ["档案编号", "序号", "姓名"]
    assert [[c.value for c in r][:3] for r in kids.iter_rows(min_row=2)] == [
        [f"{VILLAGE}-0001", 1, "王强"], [f"{VILLAGE}-0001", 2, "王丽"]]
    book = wb["字段说明"]
    assert [c.value for c in book[1]][:4] == ["表单", "registration", "版本", "1"]
    lines = {r[1].value: [c.value for c in r] for r in book.iter_rows(min_row=5)}
    assert lines["risk_level"][4].startswith("高=高风险")
    assert lines["id_number"][5] == "是"
    assert lines["child_relation"][0] == "子女及其他赡养人"


def test_records_workbook_full(reg_form, records, tmp_path):
    path = tmp_path / "records-full.xlsx"
    write_records_xlsx(form_info(reg_form), iter(records), path, full, full=True)
    wb = openpyxl.load_workbook(path)
    head = [c.value for c in wb.worksheets[0][1]]
    assert wb.worksheets[0].cell(2, head.index("公民身份号码") + 1).value == ID_1
    assert wb["字段说明"]["B2"].value == "完整（含个人信息）"


@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice 未安装")
def test_libreoffice_converts_summary_to_pdf(tmp_path, summary):
    path = tmp_path / "summary.xlsx"
    write_report_xlsx(summary, path, mask_value)
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(path)], check=True, capture_output=True, timeout=180)
    pdf = tmp_path / "summary.pdf"
    assert pdf.exists() and pdf.read_bytes()[:4] == b"%PDF"


def test_roster_columns_narrow_enough_to_read_when_fit_to_a4_width(tmp_path, roster):
    """Fit-to-width shrinks the whole sheet: the 19 roster columns together must stay near
    A4 landscape's ~150 characters, or the print comes out at 40 % and cannot be read.
    Long text wraps (taller rows) instead of widening its column; labels take two lines."""
    path = tmp_path / "花名册.xlsx"
    write_report_xlsx(roster(300), path, full)                  # full: addresses long enough to wrap
    ws = openpyxl.load_workbook(path).active
    w = widths(ws)
    assert sum(w[i] for i in range(1, 20)) < 240 and max(w.values()) < 27
    assert ws.row_dimensions[3].height == ws.row_dimensions[4].height == 27      # two-line header rows
    assert all(ws.cell(5, c).alignment.wrap_text for c in (2, 3, 15, 16))       # text cells wrap
    wraps = {r for r in range(5, 305) if text_width(ws.cell(r, 8).value) > 25}   # 家庭住址 over its 24 + 1
    tall = {r for r in range(5, 305) if (ws.row_dimensions[r].height or 0) > 15}
    assert wraps and tall == wraps                                               # only rows that wrap grow


def test_summary_header_columns_are_narrow_count_columns(tmp_path, summary):
    """Count columns are as wide as their two-line label needs, not as the label on one line."""
    path = tmp_path / "汇总表.xlsx"
    write_report_xlsx(summary, path, mask_value)
    ws = openpyxl.load_workbook(path).active
    assert ws["B3"].alignment.wrap_text
    assert widths(ws)[2] < 12                 # 留守老年人总数: 7 characters on two lines
