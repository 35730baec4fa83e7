"""Tests of what all exporters share: widths, output names, masking, records as rows."""
from __future__ import annotations

from core.transfer.exportform import file_no, flat_record, form_info, masked_record, parent_headers
from core.transfer.exporting import ExportJob, mask_value, output_file, sibling, text_width

ID_1 = "120107193801010032"
VILLAGE = "120116009201"


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


def test_flat_record_uses_labels_and_masks(reg_form, records):
    info = form_info(reg_form)
    rec = records[0]
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


def test_masked_record_keeps_codes_and_masks_children(reg_form, records):
    info = form_info(reg_form)
    out = masked_record(info, records[0], mask_value)
    assert out["data"]["risk_level"] == "高"
    assert out["data"]["id_number"] == "120107********0032"
    assert out["data"]["children"][0]["child_phone"] == "139****1111"
    assert file_no(out) == f"{VILLAGE}-0001"


def test_paper_dates_and_periods():
    from core.transfer.exporting import cn_date, cn_period

    assert cn_date("2026-11-30") == "2026年11月30日" and cn_date("2024-05-01") == "2024年5月1日"
    assert cn_date("") == "" and cn_date("2026年11月30日") == "2026年11月30日"
    assert cn_period("2026Q4") == "2026年第四季度" and cn_period("2026q1") == "2026年第一季度"
    assert cn_period("2026") == "2026"


def test_flat_record_whole_yuan_and_beijing_time(reg_form, records):
    """年收入 stored as 18900.0 reads 18900; 更新时间 stored in UTC reads in Beijing time."""
    info = form_info(reg_form)
    rec = {**records[0], "updated": "2026-11-30T13:02:05+00:00",
           "data": {**records[0]["data"], "annual_income": 18900.0}}
    row = dict(zip(parent_headers(info), flat_record(info, rec, mask_value)[0]))
    assert row["年收入（元）"] == 18900 and isinstance(row["年收入（元）"], int)
    assert row["更新时间"] == "2026-11-30 21:02:05"


def test_record_rows_are_flat_record_value_for_value(reg_form, records):
    """`RecordRows` (a records export's rows, each choice or place worked out once) gives what
    `flat_record` gives, masked and in full, for every kind of value a stored record holds —
    and twice over, so the second look-up of a value answers as the first."""
    from core.transfer.exportform import FieldInfo, RecordRows

    info = form_info(reg_form)
    info.town_fields = [FieldInfo("mutual_aid", "是否参加互助养老", "select", choices=[("是", "是"), ("否", "否")],
                                  towns=("120116009000",)),
                        FieldInfo("helper_phone", "互助联系电话", "text", pii="phone", towns=("120116009000",))]
    odd = []
    for n, value in enumerate([None, "", 0, 1, 18900.0, 2.5, True, False, "'=1+1", "=SUM(A1)", ["高血压", "糖尿病"],
                               [], ["未知病"], [{"x": 1}], {"a": 1}, "是", "否", "  ", "120116009000", 120116009000]):
        base = records[n % len(records)]
        data = {k: value for k in base["data"] if k not in ("children", "file_no")}
        data["children"] = [{c: value for c in ("name", "phone", "relation")}, None]
        data["mutual_aid"], data["helper_phone"] = value, value
        data["town"] = "120116009000" if n % 2 else "120116011000"
        odd.append({**base, "data": {**base["data"], **data}})
    def full(kind, value):
        return value
    for mask in (mask_value, full):
        rows = RecordRows(info, mask)
        for rec in [*records, *odd, *records, *odd]:
            assert rows(rec) == flat_record(info, rec, mask), rec["data"]
