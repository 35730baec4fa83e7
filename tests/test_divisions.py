"""The division list: the shipped file, its checks with located errors, dates, the field type."""
from __future__ import annotations

import os
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from plugins.cn import divisions
from plugins.cn.divisions import DivisionsError, load_divisions
from plugins.cn.divisions import DivisionFile
from plugins.cn_types import DivisionType, division_check

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "forms" / "data" / "divisions.yaml"
SHARED_VILLAGES = Path(__file__).parent / "fixtures" / "binhai-villages-2023.csv"   # from ../shared/domain/
SOURCE_FIXTURE = Path(__file__).parent / "fixtures" / "binhai-divisions.yaml"
SOURCE_SHARED = Path("/work/shared/domain/binhai-divisions.yaml")


def _expand(ranges: str) -> list[int]:
    out = []
    for part in ranges.split(","):
        a, _, b = part.partition("-")
        out += range(int(a), int(b or a) + 1)
    return out


@pytest.fixture(params=[SOURCE_FIXTURE, SOURCE_SHARED], ids=["fixture", "shared"])
def source(request):
    if not request.param.exists():
        pytest.skip(f"{request.param} 不存在")
    return yaml.safe_load(request.param.read_text(encoding="utf-8"))


@pytest.fixture
def shipped():
    return load_divisions(SHIPPED)


def test_shipped_file_matches_the_domain_source(source, shipped):
    assert shipped.county.code == source["county"]["code"] + "000000"
    assert [(t.code, t.name) for t in shipped.towns()] == [
        (t["code"], t["name"]) for t in source["towns_with_villages"]]
    total = 0
    for t in source["towns_with_villages"]:
        codes = [v.code for v in shipped.villages(t["code"])]
        assert codes == [t["code"][:9] + f"{n:03d}" for n in _expand(t["codes"])]
        assert len(codes) == t["villages"]
        total += len(codes)
    assert total == source["total_villages"] == len(shipped.all_villages()) == 139
    for code, name in source["known_village_names"].items():
        assert shipped.name(code) == name
        assert shipped.get(code).confirmed


def test_village_names_are_the_2023_official_list(shipped):
    """Imported with `carebook divisions import` from the 2023 统计用区划代码 list (no placeholders left)."""
    import csv

    path = SHARED_VILLAGES if SHARED_VILLAGES.exists() else None
    for v in shipped.all_villages():
        assert v.confirmed and not re.search(r"第\d+村$", v.name), v.code
    assert shipped.name("120116157208") == "王房子村"
    if path is not None:
        rows = csv.DictReader(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
        assert {r["code"]: r["village"] for r in rows} == {v.code: v.name for v in shipped.all_villages()}


def test_every_code_in_the_shipped_file_is_quoted():
    text = SHIPPED.read_text(encoding="utf-8")
    assert not re.search(r"code:\s*\d", text)
    assert len(re.findall(r'code:\s*"\d{12}"', text)) == 1 + 12 + 139


def test_placeholders_carry_a_comment_for_the_admin():
    entries = [ln for ln in SHIPPED.read_text(encoding="utf-8").splitlines()
               if ln.strip().startswith("- {code:")]
    assert len(entries) == 139
    for line in entries:
        if re.search(r"name: \S+第\d{3}村", line):
            assert "confirmed: false" in line and "# 待填写" in line
        elif "confirmed: false" in line:
            assert "# 村名有公开资料，代码对应待核实" in line


def test_lookups(shipped):
    assert shipped.name("120116157000") == "小王庄镇"
    assert shipped.town_of("120116157201") == "120116157000"
    assert shipped.town_of("120116157000") is None
    assert shipped.is_valid("120116157201", "village")
    assert not shipped.is_valid("120116157201", "town")
    assert not shipped.is_valid("120116157299")
    assert shipped.villages("120116157201") == []
    assert shipped.name("１２０１１６１５７２０１") == "渡口村"   # full-width typing


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "divisions.yaml"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = '''\
county: {code: "120116000000", name: 滨海新区}
towns:
  - code: "120116157000"
    name: 小王庄镇
    villages:
      - {code: "120116157201", name: 渡口村}
      - {code: "120116157202", name: 小王庄村, valid_to: "2025-12-31"}
      - {code: "120116157221", name: 新村, valid_from: "2026-01-01", confirmed: false}
  - code: "120116158000"
    name: 中塘镇
    valid_from: "2026-07-01"
    villages: []
'''


def test_validity_dates(tmp_path):
    d = load_divisions(_write(tmp_path, GOOD))
    town = "120116157000"
    assert [v.code for v in d.villages(town)] == ["120116157201", "120116157202", "120116157221"]
    assert [v.code for v in d.villages(town, on=date(2025, 12, 31))] == ["120116157201", "120116157202"]
    assert [v.code for v in d.villages(town, on=date(2026, 1, 1))] == ["120116157201", "120116157221"]
    assert [t.code for t in d.towns(on=date(2026, 6, 30))] == [town]
    assert len(d.towns(on=date(2026, 7, 1))) == 2
    assert d.is_valid("120116157202", "village", on=date(2025, 12, 31))
    assert not d.is_valid("120116157202", "village", on=date(2026, 1, 1))
    assert d.is_valid("120116157202", "village")    # no date: any time
    assert not d.get("120116157221").confirmed


@pytest.mark.parametrize("old,new,line,message", [
    ('"120116157201"', "120116157201", 6, "带引号的字符串"),
    ('"120116157201"', '"12011615720"', 6, "12位数字"),
    ('"120116157201"', '"120116158201"', 6, "前9位"),
    ('"120116157202"', '"120116157201"', 7, "重复"),
    ('valid_to: "2025-12-31"', 'valid_to: "2025-13-01"', 7, "YYYY-MM-DD"),
    ('valid_to: "2025-12-31"', 'valid_to: "2020-01-01", valid_from: "2021-01-01"', 7, "早于"),
    ("confirmed: false", "confirmed: 否", 8, "true 或 false"),
    ("name: 渡口村", "nmae: 渡口村", 6, "未知的键"),
    ('    name: 中塘镇', '    name: 中塘镇\n    name: 中塘', 11, "重复的键"),
    ('"120116158000"', '"120116158001"', 9, "后3位应为 000"),
])
def test_bad_file_is_located(tmp_path, old, new, line, message):
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(DivisionsError) as err:
        load_divisions(path)
    hits = [p for p in err.value.problems if message in p.message]
    assert hits, err.value.problems
    assert hits[0].line == line and hits[0].file == str(path)
    assert f"{path}:{line}:" in str(err.value)


def test_all_problems_reported_together(tmp_path):
    body = GOOD.replace('"120116157201"', "120116157201").replace('"2025-12-31"', '"去年"')
    with pytest.raises(DivisionsError) as err:
        load_divisions(_write(tmp_path, body))
    assert len(err.value.problems) == 2


def test_yaml_syntax_error_is_located(tmp_path):
    with pytest.raises(DivisionsError) as err:
        load_divisions(_write(tmp_path, GOOD.replace("name: 渡口村}", "name: 渡口村")))
    assert err.value.problems[0].line is not None
    assert "YAML 语法错误" in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(DivisionsError, match="无法读取"):
        load_divisions(tmp_path / "nope.yaml")


@pytest.fixture
def forms_copy(tmp_path):
    """A copy of forms/ with its own division file, as an engine on that folder sees it."""
    target = tmp_path / "forms"
    shutil.copytree(ROOT / "forms", target)
    return target


def test_division_file_follows_edits(forms_copy):
    source = DivisionFile(forms_copy)
    data_file = forms_copy / "data" / "divisions.yaml"
    assert source.current().name("120116157208") == "王房子村"
    text = data_file.read_text(encoding="utf-8").replace("王房子村", "测试村")
    data_file.write_text(text, encoding="utf-8")
    os.utime(data_file, ns=(1, 10**18))     # a new mtime, as an editor would leave
    assert source.current().name("120116157208") == "测试村"
    assert DivisionFile(ROOT / "forms").current().name("120116157208") == "王房子村"


def test_env_var_when_no_forms_dir_is_given(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    _write(tmp_path / "data", GOOD)
    monkeypatch.setenv("CAREBOOK_FORMS", str(tmp_path))
    assert DivisionFile().current().name("120116157221") == "新村"
    monkeypatch.delenv("CAREBOOK_FORMS")
    assert DivisionFile().path == SHIPPED


def test_division_field_type(forms_copy):
    ft = DivisionType(DivisionFile(forms_copy))
    assert ft.json_schema({}) == {"type": "string", "pattern": r"^\d{12}$", "format": "cn-division"}
    assert ft.normalize(" 120116157201 ", {"level": "village"}) == "120116157201"
    assert ft.normalize("120116157000", {"level": "town"}) == "120116157000"
    with pytest.raises(ValueError, match="应选择街镇"):
        ft.normalize("120116157201", {"level": "town"})
    with pytest.raises(ValueError, match="不在区划数据中"):
        ft.normalize("120116157299", {"level": "village"})
    with pytest.raises(ValueError, match="12位数字"):
        ft.normalize("1201", {})


def test_division_field_type_honours_dates(tmp_path):
    (tmp_path / "data").mkdir()
    _write(tmp_path / "data", GOOD)
    source = DivisionFile(tmp_path)
    ft = DivisionType(source)
    is_division = division_check(source)
    assert ft.normalize("120116157202", {}, today=date(2025, 12, 31)) == "120116157202"
    with pytest.raises(ValueError, match="已停用"):
        ft.normalize("120116157202", {}, today=date(2026, 1, 1))
    assert is_division("120116157202")      # old records keep old codes
    assert not is_division("120116157299")


def test_broken_file_makes_checks_fail_safely(tmp_path):
    (tmp_path / "data").mkdir()
    _write(tmp_path / "data", GOOD.replace('"120116157201"', "120116157201"))
    source = DivisionFile(tmp_path)
    assert not division_check(source)("120116157202")
    assert source.problems() and "带引号" in source.problems()[0].message
    with pytest.raises(ValueError, match="区划数据文件有误"):
        DivisionType(source).normalize("120116157202", {})


def test_divisions_import_plans_and_applies_with_valid_dates(tmp_path, capsys):
    """A new edition: one village renamed, one new, one gone — applied with valid_from/valid_to."""
    from core.cli import main

    forms = tmp_path / "forms"
    shutil.copytree(ROOT / "forms", forms)
    lines = SHARED_VILLAGES.read_text(encoding="utf-8").splitlines()
    edition = [ln for ln in lines if not ln.startswith("120116157211")]             # 小苏庄村 gone
    edition = [ln.replace("120116157208,王房子村", "120116157208,王房村") for ln in edition]
    edition.append("120116157299,新建村,新建村村委会,120116157000,小王庄镇")
    csv_file = tmp_path / "villages-2025.csv"
    csv_file.write_text("\n".join(edition) + "\n", encoding="utf-8")
    args = ["divisions", "import", str(csv_file), "--forms", str(forms), "--valid-from", "2025-01-01"]
    assert main(args + ["--dry-run"]) == 0
    out = capsys.readouterr()
    assert "新增  120116157299  新建村" in out.out and "改名  120116157208  王房子村 → 王房村" in out.out
    assert "停用  120116157211  小苏庄村" in out.out and "新增 1，改名 1，核实 0，停用 1" in out.err
    assert main(args) == 0
    capsys.readouterr()
    new = load_divisions(forms / "data" / "divisions.yaml")
    assert new.name("120116157208") == "王房村" and new.get("120116157299").valid_from == date(2025, 1, 1)
    gone = new.get("120116157211")
    assert gone.name == "小苏庄村" and gone.valid_to == date(2024, 12, 31)
    assert not gone.in_use(date(2025, 1, 1)) and gone.in_use(date(2024, 12, 31))
    assert main(args) == 0 and "已与名单一致" in capsys.readouterr().out


def test_divisions_import_refuses_a_bad_list_with_its_line(tmp_path, capsys):
    from core.cli import main

    bad = tmp_path / "bad.csv"
    bad.write_text("code,village\n120116157201,渡口村\n12011615720,短代码村\n", encoding="utf-8")
    assert main(["divisions", "import", str(bad), "--forms", str(ROOT / "forms"), "--dry-run"]) == 2
    assert f"{bad}:3: 代码 “12011615720” 应是12位数字" in capsys.readouterr().err
