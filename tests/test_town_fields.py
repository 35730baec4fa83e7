"""Town-specific fields end to end: the 太平镇 overlay example and the 太平镇 plugin example.

Real engines over copied forms folders and real files: the example overlay
`examples/overlays/taiping-mutual-aid.yaml` copied into `forms/overlays/` as the admin guide says
(checked with `carebook forms check`), records saved through the engine, the roster built, the
records exported as XLSX, CSV and JSON and read back. Then the plugin route once:
`examples/town-taiping/taiping_mutual_aid.py` passed to `Engine.open(extra_plugins=...)`.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import openpyxl
import pytest

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from binhai_support import TOWN, TOWN2 as TAIPING, VILLAGE2 as TAIPING_VILLAGE, copy_forms, person  # noqa: E402

from core.cli import main as carebook  # noqa: E402
from core.engine import Engine  # noqa: E402
from core.problems import ValidationFailed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OVERLAY = ROOT / "examples" / "overlays" / "taiping-mutual-aid.yaml"
PLUGIN = ROOT / "examples" / "town-taiping" / "taiping_mutual_aid.py"
FIELD, LABEL = "taiping_mutual_aid", "是否参加互助养老"
HEADER = f"{LABEL}（太平镇）"


def taiping(**over) -> dict:
    return person(town=TAIPING, village=TAIPING_VILLAGE, name="孙玉珍",
                  address="天津市滨海新区太平镇太平村2号", **over)


def messages(problems) -> dict[str, str]:
    return {p.path: p.message for p in problems}


@pytest.fixture
def forms(tmp_path) -> Path:
    """A forms folder after the admin activated the example overlay (guide section 9)."""
    folder = copy_forms(tmp_path)
    shutil.copy(OVERLAY, folder / "overlays")
    return folder


@pytest.fixture
def eng(tmp_path, forms):
    with Engine.open(tmp_path / "data", forms_dir=forms, operator="测试员") as engine:
        yield engine


@pytest.fixture
def ledger(eng):
    """One 太平镇 elder who takes part in mutual aid, one elder of 小王庄镇."""
    eng.save("registration", taiping(**{FIELD: "是"}))
    eng.save("registration", person(name="周凤兰"))
    return eng


def test_the_activated_example_passes_forms_check(forms, capsys):
    assert carebook(["forms", "check", "--forms", str(forms), str(forms / "overlays" / OVERLAY.name)]) == 0
    assert "检查通过" in capsys.readouterr().out
    assert carebook(["forms", "check", "--forms", str(forms), str(forms)]) == 0


def test_the_example_changes_nothing_until_copied(tmp_path):
    with Engine.open(tmp_path / "data", forms_dir=copy_forms(tmp_path)) as plain:
        assert plain.form("registration", town=TAIPING).field(FIELD) is None
        assert plain.check("registration", taiping())[1] == []


def test_taiping_record_requires_and_keeps_the_field(eng):
    town_form = eng.form("registration", town=TAIPING)
    assert town_form.section_of(FIELD).id == "care" and town_form.field(FIELD).label == LABEL
    assert messages(eng.validate("registration", taiping())) == {FIELD: f"{LABEL} 必须填写 (required)"}
    with pytest.raises(ValidationFailed):
        eng.save("registration", taiping())
    assert FIELD in messages(eng.validate("registration", taiping(**{FIELD: "不清楚"})))   # not a choice
    saved = eng.save("registration", taiping(**{FIELD: "否"}))
    assert eng.get(saved.id)["data"][FIELD] == "否"
    assert eng.validate_stored(saved.id) == []


def test_other_towns_never_see_or_accept_the_field(eng):
    assert eng.form("registration", town=TOWN).field(FIELD) is None
    assert eng.form("registration").field(FIELD) is None
    assert eng.validate("registration", person()) == []                   # not required elsewhere
    assert messages(eng.validate("registration", person(**{FIELD: "是"}))) == {
        "": f"表单（第 {eng.form('registration').version} 版）没有字段 {FIELD} (additionalProperties)"}
    with pytest.raises(ValidationFailed):
        eng.save("registration", person(**{FIELD: "是"}))


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {r["姓名"]: r for r in rows}


def test_records_csv_and_xlsx_have_the_column_filled_for_taiping_only(ledger, tmp_path):
    csv_path = ledger.export("records", "csv", tmp_path / "csv")[0]
    rows = by_name(read_csv(csv_path))
    header = list(read_csv(csv_path)[0])
    assert header[-5:] == [HEADER, "记录ID", "表单版本", "更新时间", "停用字段的值"]   # after every declared column
    assert rows["孙玉珍"][HEADER] == "是" and rows["周凤兰"][HEADER] == ""

    [xlsx] = ledger.export("records", "xlsx", tmp_path / "xlsx")
    wb = openpyxl.load_workbook(xlsx)
    sheet = wb.worksheets[0]
    head = [c.value for c in sheet[1]]
    cells = {r[head.index("姓名")]: r[head.index(HEADER)] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert cells == {"孙玉珍": "是", "周凤兰": None}
    book = {r[1]: r for r in wb["字段说明"].iter_rows(min_row=5, values_only=True)}
    assert book[FIELD][2] == HEADER and book[FIELD][4] == "是；否"
    assert book[FIELD][6] == f"仅太平镇（{TAIPING}）的记录，其他街镇为空"
    assert book["name"][6] in (None, "")                                  # declared: the whole district

    [js] = ledger.export("records", "json", tmp_path / "json")
    data = {r["data"]["name"]: r["data"] for r in json.loads(js.read_text(encoding="utf-8"))}
    assert data["孙玉珍"][FIELD] == "是" and FIELD not in data["周凤兰"]


def test_taiping_roster_has_the_column_and_the_district_roster_not(ledger, tmp_path):
    town_roster = ledger.report("roster", town=TAIPING)
    labels = [c.label for c in town_roster.columns]
    assert labels[-1] == LABEL and labels[:-1] == [c.label for c in ledger.report("roster").columns]
    assert [(r["name"], r[FIELD]) for r in town_roster.rows] == [("孙玉珍", "是")]
    village_roster = ledger.report("roster", village=TAIPING_VILLAGE)     # a village of 太平镇 too
    assert [c.label for c in village_roster.columns][-1] == LABEL
    district = ledger.report("roster")
    assert LABEL not in [c.label for c in district.columns]
    assert all(FIELD not in r for r in district.rows)
    assert LABEL not in [c.label for c in ledger.report("roster", town=TOWN).columns]

    [path] = ledger.export("roster", "csv", tmp_path / "太平镇花名册", town=TAIPING)
    rows = read_csv(path)
    assert rows[0][LABEL] == "是"
    [path] = ledger.export("roster", "csv", tmp_path / "全区花名册")
    assert LABEL not in read_csv(path)[0]


def load_example_plugin():
    spec = importlib.util.spec_from_file_location("taiping_mutual_aid", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_plugin_route_validates_and_exports(tmp_path):
    with Engine.open(tmp_path / "data", forms_dir=copy_forms(tmp_path), operator="测试员",
                     extra_plugins=[load_example_plugin()]) as eng:
        assert eng.form("registration", town=TAIPING).field(FIELD).label == LABEL
        assert eng.validate("registration", taiping()) == []                  # optional in the plugin
        assert FIELD in messages(eng.validate("registration", taiping(**{FIELD: "也许"})))
        assert "没有字段" in messages(eng.validate("registration", person(**{FIELD: "是"})))[""]
        eng.save("registration", taiping(**{FIELD: "否"}))
        eng.save("registration", person(name="周凤兰"))
        rows = by_name(read_csv(eng.export("records", "csv", tmp_path / "out")[0]))
        assert rows["孙玉珍"][HEADER] == "否" and rows["周凤兰"][HEADER] == ""
        assert [c.label for c in eng.report("roster", town=TAIPING).columns][-1] == LABEL


def test_printed_form_is_the_one_the_persons_town_sees(ledger, tmp_path):
    ids = {r["name"]: r["id"] for r in ledger.query("registration").rows}
    [mine] = ledger.export("form", "print", tmp_path / "p1", record_id=ids["孙玉珍"])
    [other] = ledger.export("form", "print", tmp_path / "p2", record_id=ids["周凤兰"])
    assert LABEL in mine.read_text(encoding="utf-8")
    assert LABEL not in other.read_text(encoding="utf-8")
    [blank_taiping] = ledger.export("form", "print", tmp_path / "p3", town=TAIPING)
    [blank_district] = ledger.export("form", "print", tmp_path / "p4")
    assert LABEL in blank_taiping.read_text(encoding="utf-8")
    assert LABEL not in blank_district.read_text(encoding="utf-8")
