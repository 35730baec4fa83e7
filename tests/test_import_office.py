"""Spreadsheets as offices really keep them, made here in their shapes and imported for real.

A village roster (title row naming town and village; 身份证号码, 家庭住址, the children as
columns of the person's row), a town roster (merged title rows; a 村 column; 子女1 … 子女2), a
CSV saved by WPS in GBK with a 合计 row at the bottom. Each imports with the mapping an admin
would expect, the people who lack answers saved as 待补全, and every row of the file accounted
for: saved, 待补全, refused with a reason, or skipped as the 合计 row it is.
"""
from __future__ import annotations

import csv
import datetime as dt

import openpyxl
import pytest
from binhai_support import TODAY, id_for, open_engine, person, years_before

from core.cli import main
from core.engine import Engine
from core.problems import CarebookError
from core.transfer.importing import import_records
from core.transfer.importmap import norm

TAIPING, ZHAI = "120116156000", "120116156209"         # 太平镇 翟庄子村
FILED = (TODAY - dt.timedelta(days=5)).isoformat()


def an_id(age: int, sex: str) -> str:
    return id_for(years_before(TODAY, age) - dt.timedelta(days=40), sex)


VILLAGE_HEADER = ["序号", "姓名", "性别", "身份证号码", "年龄", "联系电话", "家庭住址", "子女姓名", "子女联系电话",
                  "子女务工地点", "健康状况", "是否独居", "备注"]


def village_roster(path, people=None):
    """翟庄子村's own roster: a merged title naming town and village, then the columns it keeps."""
    people = people or [
        ["王秀英", "女", an_id(78, "女"), 78, "13612345678", "翟庄子村东街3号", "张伟、张丽",
         "13900001111、13800002222", "北京市、河北省廊坊市", "健康", "是", ""],
        ["李德福", "男", an_id(82, "男"), 82, "", "翟庄子村西街12号", "李强", "13700003333", "上海市",
         "患病", "是", "高血压"],
        ["赵桂兰", "女", an_id(69, "女"), 69, "13512340000", "翟庄子村南街7号", "", "", "", "良好", "否", "无子女"],
        ["孙长海", "男", an_id(74, "男"), 74, "022-63201234", "翟庄子村北街1号", "孙杰", "13600004444",
         "广东省深圳市", "残疾", "是", ""],
        ["周凤琴", "女", an_id(66, "女"), 66, "15822223333", "翟庄子村东街9号", "周明", "13300005555",
         "河北省沧州市", "健康", "与配偶同住", ""],
    ]
    return workbook(path, "花名册", [(["太平镇翟庄子村农村留守老年人花名册"], len(VILLAGE_HEADER))],
                    VILLAGE_HEADER, people), people


def town_roster(path):
    """太平镇's roster: two merged title rows, a 村 column, children as 子女1/子女1电话/子女2/子女2电话,
    header cells with line breaks and full-width brackets; one person without an ID number."""
    header = ["序号", "村", "姓名", "身份证号", "性别", "年龄", "联系\n电话", "住　址", "子女1", "子女1电话",
              "子女2", "子女2电话", "备注"]
    rows = [
        ["翟庄子村", "刘玉珍", an_id(81, "女"), "女", 81, "13611112222", "翟庄子村1号", "刘刚", "13911112222",
         "刘红", "13811112222", ""],
        ["翟庄子村", "陈国栋", an_id(72, "男"), "男", 72, "", "翟庄子村2号", "陈亮", "13922223333", "", "", ""],
        ["太平村", "何淑芬", an_id(65, "女"), "女", 65, "13633334444", "太平村5号", "", "", "", "", "子女在本地"],
        ["太平村", "郭老汉", "", "男", 77, "", "太平村8号", "郭平", "13944445555", "", "", "身份证号待核实"],
    ]
    titles = [(["太平镇农村留守老年人花名册"], len(header)),
              (["填报单位：太平镇人民政府（盖章）", *[None] * 8, "填报时间：2026年11月"], 9)]
    return workbook(path, "Sheet1", titles, header, rows), rows


def workbook(path, sheet: str, titles: list[tuple[list, int]], header: list[str], rows: list[list]):
    """A roster as offices lay it out: title rows merged over `n` columns, the header, then the
    people numbered in a 序号 column."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for line, (cells, width) in enumerate(titles, 1):
        ws.append(cells)
        ws.merge_cells(start_row=line, start_column=1, end_row=line, end_column=width)
    ws.append(header)
    for n, row in enumerate(rows, 1):
        ws.append([n, *row])
    wb.save(path)
    return path


def wps_csv(path):
    """A CSV as WPS saves it on a Chinese Windows: GBK, CRLF, full-width header text, a 合计 row."""
    rows = [
        ["1", "马兰花", an_id(70, "女"), "13655556666", "翟庄子村3号", "健康", "2"],
        ["2", "高德顺", an_id(85, "男"), "", "翟庄子村4号", "患病", "1"],
        ["3", "黄秀珍", an_id(63, "女"), "13766667777", "翟庄子村6号", "健康", "3"],
    ]
    with open(path, "w", encoding="gbk", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(["序号", "姓　名", "身份证号码", "手机号", "家庭住址", "健康状况", "子女人数"])
        w.writerows(rows)
        w.writerows([[str(n), "", "", "", "", "", ""] for n in (4, 5)])    # numbered, never filled
        w.writerow(["合计", "共3人", "", "", "", "", "6"])
    return path, rows


@pytest.fixture
def eng(tmp_path):
    e = open_engine(tmp_path)
    yield e
    e.close()


def targets(cmap) -> dict[str, str | None]:
    return {c.header: c.target for c in cmap.columns}


def test_headers_compare_without_spaces_line_breaks_or_full_width():
    assert norm("联系\n电话") == norm(" 联系 电话 ") == "联系电话"
    assert norm("村（居）委会") == norm("村(居)委会") and norm("ＩＤ") == "ID" and norm("*姓名") == "姓名"


def test_village_roster_mapping_title_and_children_in_columns(eng, tmp_path):
    path, people = village_roster(tmp_path / "翟庄子村花名册.xlsx")
    cmap = eng.import_mapping("registration", path)
    assert cmap.header_line == 2 and cmap.from_title == {"town": "太平镇", "village": "翟庄子村"}
    assert targets(cmap) == {
        "序号": None, "姓名": "name", "性别": None, "身份证号码": "id_number", "年龄": None, "联系电话": "phone",
        "家庭住址": "address", "子女姓名": "children.child_name", "子女联系电话": "children.child_phone",
        "子女务工地点": "children.child_whereabouts", "健康状况": "health_status", "是否独居": "lives_alone",
        "备注": None}
    how = {c.header: c.how for c in cmap.columns}
    assert how["身份证号码"] == "同义词" and how["性别"] == "计算字段" and how["子女姓名"] == "子女列"
    assert cmap.unmatched == []

    res = import_records(eng, "registration", path, fixed={"filing_date": FILED})
    assert res.problems == [] and res.rows == 5 and res.saved == 5
    assert [i.name for i in res.incomplete] == [p[0] for p in people]
    assert eng.count("registration") == 5                     # no row lost
    by_name = {r["data"]["name"]: r["data"] for r in eng.iter_records("registration")}
    wang = by_name["王秀英"]
    assert (wang["status"], wang["town"], wang["village"], wang["filing_date"]) == ("待补全", TAIPING, ZHAI, FILED)
    assert wang["address"] == "翟庄子村东街3号" and wang["lives_alone"] == "是"
    assert [(c["child_name"], c["child_phone"], c["child_whereabouts"]) for c in wang["children"]] == [
        ("张伟", "13900001111", "北京市"), ("张丽", "13800002222", "河北省廊坊市")]
    assert "children" not in by_name["赵桂兰"] and "health_status" not in by_name["赵桂兰"]
    zhao = next(i for i in res.incomplete if i.name == "赵桂兰")
    assert any("健康状况" in m and "良好" in m for m in zhao.refused_cells)   # the cell it could not take, named
    assert "健康状况" in zhao.missing
    assert "民族" in zhao.missing and "婚姻状况" in zhao.missing
    assert not any("TypeError" in m or "无法" in m for i in res.incomplete for m in i.missing)


def test_strict_keeps_all_or_nothing(eng, tmp_path):
    path, _ = village_roster(tmp_path / "v.xlsx")
    res = import_records(eng, "registration", path, fixed={"filing_date": FILED}, strict=True)
    assert res.saved == 0 and res.refused == 5 and eng.count("registration") == 0
    messages = [p.message for p in res.problems]
    assert "民族 必须填写" in messages and "(required)" not in "\n".join(messages)
    assert not any("TypeError" in m or "无法计算" in m for m in messages)
    assert messages.count("警告（需在登记界面填写理由后保存）：子女数 未填写，无法核对子女及其他赡养人") == 4   # once a row


def test_town_roster_with_village_column_and_merged_titles(eng, tmp_path):
    path, rows = town_roster(tmp_path / "太平镇.xlsx")
    cmap = eng.import_mapping("registration", path, fixed={"filing_date": FILED})
    assert cmap.header_line == 3 and cmap.from_title == {"town": "太平镇"}
    t = targets(cmap)
    assert (t["村"], t["身份证号"], t["联系\n电话"], t["住　址"]) == ("village", "id_number", "phone", "address")
    assert (t["子女1"], t["子女1电话"], t["子女2"], t["子女2电话"]) == (
        "children.1.child_name", "children.1.child_phone", "children.2.child_name", "children.2.child_phone")
    res = import_records(eng, "registration", path, mapping=cmap)
    assert res.saved == 0 and [(p.line, p.message) for p in res.problems][:1] == [
        (7, "公民身份号码 缺失或有误，不能作为待补全导入")]
    res = import_records(eng, "registration", path, mapping=cmap, skip_bad=True)
    assert res.saved == 3 and len(res.incomplete) == 3 and res.refused == 1
    assert res.saved + res.refused == res.rows == len(rows)     # every row accounted for
    by_name = {r["data"]["name"]: r["data"] for r in eng.iter_records("registration")}
    assert by_name["刘玉珍"]["village"] == ZHAI and by_name["何淑芬"]["village"] == "120116156201"
    assert [c["child_name"] for c in by_name["刘玉珍"]["children"]] == ["刘刚", "刘红"]


def test_wps_gbk_csv_with_a_total_row(eng, tmp_path):
    path, _ = wps_csv(tmp_path / "名单.csv")
    fixed = {"town": "太平镇", "村（居）委会": "翟庄子村", "filing_date": FILED}
    cmap = eng.import_mapping("registration", path, fixed=fixed)
    assert targets(cmap) == {"序号": None, "姓　名": "name", "身份证号码": "id_number", "手机号": "phone",
                             "家庭住址": "address", "健康状况": "health_status", "子女人数": "children_count"}
    res = import_records(eng, "registration", path, fixed=fixed)
    assert res.problems == [] and res.rows == 3 and res.saved == 3 and len(res.incomplete) == 3
    assert any("第 7 行是合计" in n for n in res.notes)
    assert any("2 行只填了序号" in n for n in res.notes)
    stored = {r["data"]["name"]: r["data"] for r in eng.iter_records("registration")}
    assert stored["黄秀珍"]["children_count"] == 3 and stored["黄秀珍"]["village"] == ZHAI


def test_incomplete_people_are_listed_kept_out_of_the_summary_and_completed(eng, tmp_path):
    path, _ = village_roster(tmp_path / "v.xlsx")
    import_records(eng, "registration", path, fixed={"filing_date": FILED})
    later = eng.incomplete("registration")
    assert len(later) == 5 and all("民族" in r["missing"] for r in later)
    wang = next(r for r in later if r["data"]["name"] == "王秀英")
    done = person(town=TAIPING, village=ZHAI, filing_date=FILED, name="王秀英", id_number=wang["data"]["id_number"],
                  address="翟庄子村东街3号", file_no=wang["data"].get("file_no"), status="在册")
    eng.save("registration", done, wang["id"])
    assert len(eng.incomplete("registration")) == 4
    with pytest.raises(CarebookError):                # 在册 again means every required answer is there
        eng.save("registration", {**later[1]["data"], "status": "在册"}, later[1]["id"])


def test_the_summary_counts_a_person_only_once_completed(eng):
    whole = person(town=TAIPING, village=ZHAI, status="待补全")       # eligible, every answer given
    rid = eng.save("registration", whole).id
    assert eng.report("summary", town=TAIPING).total["c1"] == 0
    eng.save("registration", {**whole, "status": "在册"}, rid)
    assert eng.report("summary", town=TAIPING).total["c1"] == 1


def test_set_names_an_unknown_field_in_chinese(eng, tmp_path):
    path, _ = village_roster(tmp_path / "v.xlsx")
    with pytest.raises(CarebookError, match="不是表单 registration 可填写的字段"):
        import_records(eng, "registration", path, fixed={"乡长": "张三"})


def test_cli_map_then_import_with_the_reviewed_mapping(tmp_path, capsys):
    data = tmp_path / "data"
    path, people = village_roster(tmp_path / "翟庄子村花名册.xlsx")
    base = ["--data", str(data), "records", "import", "registration", str(path)]
    assert main(base + ["--map"]) == 0
    out, err = capsys.readouterr()
    saved = tmp_path / "翟庄子村花名册.列对应.yaml"
    assert saved.is_file() and str(saved) in err
    assert "身份证号码" in out and "公民身份号码" in out and "从标题读出：村（居）委会 = 翟庄子村" in out
    text = saved.read_text(encoding="utf-8")
    assert '- "子女联系电话": "children.child_phone"' in text
    (tmp_path / "mapping-output.txt").write_text(out, encoding="utf-8")
    assert main(base + ["--mapping", str(saved), "--set", f"filing_date={FILED}", "--operator", "李芳"]) == 0
    out, err = capsys.readouterr()
    assert "已导入 5 人（其中 5 人待补全）" in err
    assert "待补全 5 人" in out and out.count("缺 ") == 5 and "王秀英" in out
    assert people[0][2] not in out                    # ID numbers masked in what is printed
    with Engine.open(data) as eng:
        assert eng.count("registration") == 5
        assert sum(len(r["data"].get("children", [])) for r in eng.iter_records("registration")) == 5
    print(out)


def test_a_corrected_mapping_file_is_used_and_a_wrong_target_named(eng, tmp_path):
    path, _ = village_roster(tmp_path / "v.xlsx")
    saved = eng.import_mapping("registration", path).save(tmp_path / "v.列对应.yaml")
    text = saved.read_text(encoding="utf-8")
    # the admin decides 子女务工地点 is the child's employer, not where they went
    saved.write_text(text.replace('"子女务工地点": "children.child_whereabouts"',
                                  '"子女务工地点": "children.child_employer"'), encoding="utf-8")
    res = import_records(eng, "registration", path, mapping=saved, fixed={"filing_date": FILED})
    assert res.saved == 5
    wang = next(r["data"] for r in eng.iter_records("registration") if r["data"]["name"] == "王秀英")
    assert [c.get("child_employer") for c in wang["children"]] == ["北京市", "河北省廊坊市"]
    assert not any("child_whereabouts" in c for c in wang["children"])
    saved.write_text(text.replace('"家庭住址": "address"', '"家庭住址": "home"'), encoding="utf-8")
    with pytest.raises(CarebookError, match="columns 第 7 项：“家庭住址”对应的 home 不是表单 registration 的字段"):
        import_records(eng, "registration", path, mapping=saved)


def test_a_phone_column_right_after_the_childs_name_is_the_childs(eng, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["姓名", "身份证号码", "联系电话", "子女姓名", "联系电话", "村"])
    ws.append(["王秀英", an_id(70, "女"), "13612345678", "张伟", "13900001111", "翟庄子村"])
    wb.save(tmp_path / "p.xlsx")
    cmap = eng.import_mapping("registration", tmp_path / "p.xlsx")
    assert [c.target for c in cmap.columns] == ["name", "id_number", "phone", "children.child_name",
                                                 "children.child_phone", "village"]


def test_a_two_row_header_with_a_merged_children_group(eng, tmp_path):
    """子女情况 merged over three columns, their names in the row below; 序号/姓名 merged down."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["太平镇翟庄子村留守老人台账"])
    ws.append(["序号", "姓名", "身份证号码", "子女情况", None, None, "备注"])
    ws.append([None, None, None, "姓名", "联系电话", "务工地点", None])
    for row in (2, 3):
        ws.merge_cells(start_row=2, start_column=row - 1, end_row=3, end_column=row - 1)
    ws.merge_cells(start_row=2, start_column=4, end_row=2, end_column=6)
    ws.append([1, "王秀英", an_id(71, "女"), "张伟", "13900001111", "北京市"])
    ws.append([2, "李德福", an_id(80, "男"), "李强", "13700003333", "上海市"])
    wb.save(tmp_path / "two.xlsx")
    cmap = eng.import_mapping("registration", tmp_path / "two.xlsx")
    assert [(c.header, c.target) for c in cmap.columns if c.target] == [
        ("姓名", "name"), ("身份证号码", "id_number"), ("子女情况姓名", "children.child_name"),
        ("子女情况联系电话", "children.child_phone"), ("子女情况务工地点", "children.child_whereabouts")]
    res = import_records(eng, "registration", tmp_path / "two.xlsx", fixed={"filing_date": FILED})
    assert res.problems == [] and res.saved == 2 and [i.line for i in res.incomplete] == [4, 5]
    stored = {r["data"]["name"]: r["data"] for r in eng.iter_records("registration")}
    assert stored["李德福"]["children"] == [{"child_name": "李强", "child_phone": "13700003333",
                                          "child_whereabouts": "上海市"}]
