"""Shared inputs for the exporter tests, and tests of what all exporters share.

The inputs are real: the shipped registration form loaded by the engine, records in the
stored-record shape of docs/design.md, and `Report` objects as the report builders make them.
Other test_export_* modules import the helpers from here.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from core.engine import Engine
from core.exportform import file_no, flat_record, form_info, masked_record, parent_headers
from core.exporting import ExportJob, mask_value, output_file, sibling, text_width
from core.problems import Problem
from core.reportmodel import Column, Report

ID_1 = "120107193801010032"
ID_2 = "12010819451120004X"
VILLAGE = "120116009201"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    eng = Engine.open(tmp_path_factory.mktemp("data"), operator="测试员")
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def reg_form(engine):
    return engine.form("registration")


def sample_records() -> list[dict]:
    """Two people in the stored-record shape; one has two children, one an entrusted carer."""
    base = {"form": "registration", "version": 1, "created": "2026-11-01T09:00:00+08:00",
            "updated": "2026-11-02T10:00:00+08:00", "operator": "张三", "partition": VILLAGE, "meta": {}}
    return [
        {**base, "id": "6f1c2a40-0000-4000-8000-000000000001", "data": {
            "file_no": f"{VILLAGE}-0001", "town": "120116009000", "village": VILLAGE, "name": "王秀兰",
            "id_number": ID_1, "sex": "男", "age": 88, "address": "天津市滨海新区北塘街道幸福路8号",
            "phone": "13812345678", "lives_alone": "是", "diseases": ["高血压", "糖尿病"],
            "health_status": "患病", "risk_level": "高", "has_caregiver": "否", "status": "在册",
            "children": [
                {"child_name": "王强", "child_relation": "子", "child_whereabouts": "广东省深圳市",
                 "child_phone": "13900001111", "child_id_number": "120107196501010012"},
                {"child_name": "王丽", "child_relation": "女", "child_whereabouts": "北京市朝阳区",
                 "child_phone": "13700002222"},
            ]}},
        {**base, "id": "6f1c2a40-0000-4000-8000-000000000002", "data": {
            "file_no": f"{VILLAGE}-0002", "town": "120116009000", "village": VILLAGE, "name": "李桂英",
            "id_number": ID_2, "sex": "女", "age": 81, "address": "天津市滨海新区北塘街道和平里3号",
            "phone": "", "has_caregiver": "是", "caregiver_name": "张大姐", "caregiver_phone": "15800001234",
            "risk_level": "中", "status": "在册", "children": []}},
    ]


def summary_report() -> Report:
    """A town summary in the annex-3 shape: grouped, numbered columns, a total and a failed check."""
    cols = [Column("unit", "单位", width=10), Column("total", "留守老年人总数", number="1", kind="int"),
            Column("male", "男", groups=("性别",), number="2", kind="int"),
            Column("female", "女", groups=("性别",), number="3", kind="int"),
            Column("a60", "60–69岁", groups=("年龄",), number="4", kind="int"),
            Column("a70", "70–79岁", groups=("年龄",), number="5", kind="int"),
            Column("a80", "80岁及以上", groups=("年龄",), number="6", kind="int"),
            Column("v_village", "村委会", groups=("本季度探访人次",), number="28", kind="int"),
            Column("v_town", "街镇", groups=("本季度探访人次",), number="29", kind="int")]
    rows = [{"unit": "北塘街道", "total": 12, "male": 5, "female": 7, "a60": 3, "a70": 4, "a80": 5, "v_village": 36, "v_town": 12},
            {"unit": "新城镇", "total": 9, "male": 4, "female": 5, "a60": 2, "a70": 3, "a80": 4, "v_village": 27, "v_town": 9}]
    total = {"unit": "合计", "total": 21, "male": 9, "female": 12, "a60": 5, "a70": 7, "a80": 9, "v_village": 63, "v_town": 21}
    return Report(name="summary", title="天津市滨海新区农村留守老年人基本情况排查汇总表", columns=cols,
                  rows=iter(rows), total=total, unit="滨海新区民政局", date="2026-12-10", period="2026Q4",
                  due="2026-12-15", checks=[Problem("新城镇：第1栏不等于第4至6栏之和", severity="warning")])


def two_level_columns() -> list[Column]:
    return [Column("a", "序号"), Column("b", "子1", groups=("甲", "乙")), Column("c", "子2", groups=("甲", "乙")),
            Column("d", "子3", groups=("甲",)), Column("e", "备注")]


# --- tests of the shared helpers ---------------------------------------------------------------

def test_text_width_counts_cjk_double():
    assert text_width("abc") == 3
    assert text_width("王秀兰") == 6
    assert text_width("北塘街道8号") == 11
    assert text_width(None) == 0 and text_width(88) == 2


def test_output_file_folder_base_name_and_exact(tmp_path):
    assert output_file(tmp_path, ".csv", "roster") == tmp_path / "roster.csv"
    assert output_file(tmp_path / "花名册", ".csv", "x") == tmp_path / "花名册.csv"
    assert output_file(tmp_path / "sub" / "a.csv", ".csv", "x") == tmp_path / "sub" / "a.csv"
    assert (tmp_path / "sub").is_dir()
    assert sibling(tmp_path / "a.csv", "children") == tmp_path / "a-children.csv"


def test_job_masks_unless_full(tmp_path):
    job = ExportJob("records", tmp_path, engine=None)
    assert job.mask("id", ID_1) == "120107********0032"
    assert job.mask("phone", "13812345678") == "138****5678"
    assert ExportJob("records", tmp_path, engine=None, full=True).mask("id", ID_1) == ID_1


def test_flat_record_uses_labels_and_masks(reg_form):
    info = form_info(reg_form)
    rec = sample_records()[0]
    parent, groups = flat_record(info, rec, mask_value)
    row = dict(zip(parent_headers(info), parent))
    assert row["档案编号"] == f"{VILLAGE}-0001"
    assert row["公民身份号码"] == "120107********0032"
    assert row["联系电话"] == "138****5678"
    assert row["主要疾病"] == "高血压、糖尿病"
    assert row["风险等级"] == "高风险"                 # choice label, not the code
    assert [r[:3] for r in groups["children"]] == [[f"{VILLAGE}-0001", 1, "王强"], [f"{VILLAGE}-0001", 2, "王丽"]]
    assert "139****1111" in groups["children"][0]


def test_id_and_phone_masked_by_type_even_without_pii_flag():
    form = {"id": "t", "version": 1, "title": "测试", "sections": [{"id": "s", "title": "节", "fields": [
        {"id": "idno", "label": "证件号", "type": "cn-resident-id"}, {"id": "tel", "label": "电话", "type": "phone"}]}]}
    info = form_info(form)
    parent, _ = flat_record(info, {"id": "abcdef123456", "data": {"idno": ID_1, "tel": "13812345678"}}, mask_value)
    assert parent[:3] == ["abcdef12", "120107********0032", "138****5678"]


def test_masked_record_keeps_codes_and_masks_children(reg_form):
    info = form_info(reg_form)
    out = masked_record(info, sample_records()[0], mask_value)
    assert out["data"]["risk_level"] == "高"
    assert out["data"]["id_number"] == "120107********0032"
    assert out["data"]["children"][0]["child_phone"] == "139****1111"
    assert file_no(out) == f"{VILLAGE}-0001"
