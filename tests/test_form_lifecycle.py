"""Form edits never lose, hide or stale a stored value: check against the data, migrate,
keep deleted fields' values, re-evaluate, publish and fall back to the last good set.

Each test works like an admin: a copy of the shipped forms edited as text, a real ledger in a
tmp folder, the `carebook` command run in-process and its printed text read back.
"""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from binhai_support import TODAY, copy_forms, edit, open_engine, person, set_setting, years_before

from core.cli import main
from rich.cells import cell_len
from tui_support import drive
from core.engine import Engine

MIGRATION = """kind: migration
id: economy_rename
form: registration
reason: 经济状况“一般”改称“非困难”
changes:
  - {map_choices: economic_status, map: {一般: 非困难}}
"""


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _ledger(tmp_path, n: int = 3, **over) -> tuple[Path, Path, list[str]]:
    forms = copy_forms(tmp_path)
    with open_engine(tmp_path, forms) as eng:
        ids = [eng.save("registration", person(**over)).id for _ in range(n)]
    return forms, tmp_path / "data", ids


def _line_of(path: Path, text: str) -> int:
    """1-based line of the one line of `path` holding `text` (form files change under the tests)."""
    [n] = [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line]
    return n


def _rename_choice(forms: Path, summary: bool = False) -> None:
    edit(forms / "lists" / "economy.yaml", "低收入, 一般]", "低收入, 非困难]")
    edit(forms / "registration.yaml", "version: 1\ntitle:", "version: 2\ntitle:")
    if summary:
        edit(forms / "summary.yaml", "label: 一般, count: \"economic_status == '一般'\"",
             "label: 非困难, count: \"economic_status == '非困难'\"")


def test_renamed_choice_in_use_is_an_error_naming_the_migration(tmp_path, capsys):
    forms, data, _ = _ledger(tmp_path)
    _rename_choice(forms)
    code, out, err = run(capsys, "forms", "check", "--forms", forms, "--data", data)
    assert code == 1, out + err
    assert "economic_status 的选项 “一般” 已删除或改名，但 3 条记录在用" in out
    assert "{map_choices: economic_status, map: {一般: 非困难}}" in out
    assert "registration.yaml:" in out
    # The summary's column 13 still counts the old value: named, not left to break the identity.
    line = _line_of(forms / "summary.yaml", "count: \"economic_status == '一般'\"")
    assert f"summary.yaml:{line}:64: columns.12.count: 表达式把 economic_status 与 “一般” 比较" in out


def test_migration_dry_run_then_apply_with_history_and_backup(tmp_path, capsys):
    forms, data, ids = _ledger(tmp_path)
    _rename_choice(forms, summary=True)
    (forms / "migrations").mkdir()
    (forms / "migrations" / "economy.yaml").write_text(MIGRATION, encoding="utf-8")
    code, out, _ = run(capsys, "forms", "check", "--forms", forms, "--data", data)
    assert code == 0 and "待执行的迁移 economy_rename" in out

    code, out, err = run(capsys, "forms", "migrate", "--dry-run", "--forms", forms, "--data", data)
    assert code == 0 and "map_choices economic_status：一般→非困难：3 条记录" in out and "预演" in err
    with Engine.open(data, forms, readonly=True) as eng:
        assert eng.get(ids[0])["data"]["economic_status"] == "一般"

    code, out, err = run(capsys, "forms", "migrate", "--forms", forms, "--data", data, "--operator", "区民政局张三")
    assert code == 0 and "已修改 3 条" in out and "执行前已备份：backups/" in out, out + err
    with Engine.open(data, forms, readonly=True) as eng:
        rec = eng.get(ids[0])
        assert rec["data"]["economic_status"] == "非困难" and rec["version"] == 2
        last = eng.history(ids[0])[-1]
        assert last["action"] == "迁移" and last["operator"] == "区民政局张三"
        assert "经济状况“一般”改称“非困难”" in last["note"]
        assert {"path": "economic_status", "old": "一般", "new": "非困难"} in last["changes"]
        assert eng.validate_stored(ids[0]) == []
    assert list((data / "backups").iterdir())
    # Applied once: a second run changes nothing, and the check passes.
    code, out, err = run(capsys, "forms", "migrate", "--forms", forms, "--data", data, "--operator", "张三")
    assert "已于" in err and "没有待执行的迁移" in out
    code, out, _ = run(capsys, "forms", "check", "--forms", forms, "--data", data)
    assert code == 0 and "已核对台账中的记录" in out


def test_rename_and_retire_fields_by_migration(tmp_path):
    from core.lifecycle import migrations

    forms, data, ids = _ledger(tmp_path, n=2, reviewer="刘敏", head="陈刚")
    edit(forms / "registration.yaml", "      - {id: reviewer, label: 复核人,", "      - {id: checker, label: 复核人,")
    edit(forms / "registration.yaml", "      - {id: head, label: 单位负责人, type: text, max_length: 20}\n", "")
    edit(forms / "registration.yaml", "version: 1\ntitle:", "version: 2\ntitle:")
    path = tmp_path / "m.yaml"
    path.write_text("kind: migration\nid: m1\nform: registration\nreason: 改名和停用\nchanges:\n"
                    "  - {rename_field: reviewer, to: checker}\n  - {retire_field: head}\n", encoding="utf-8")
    mig, problems = migrations.load(path)
    assert problems == []
    with Engine.open(data, forms, operator="张三") as eng:
        plan = migrations.run(eng, mig, apply=True)
        assert [r.moved for r in plan.results] == [2, 2]
        rec = eng.get(ids[1])
        assert rec["data"]["checker"] == "刘敏" and "reviewer" not in rec["data"]
        assert rec["retired"]["head"]["value"] == "陈刚" and "head" not in rec["data"]
        assert eng.validate_stored(ids[1]) == []


def test_saving_after_a_field_was_deleted_keeps_its_value(tmp_path):
    forms, data, ids = _ledger(tmp_path, n=1, head="陈刚")
    edit(forms / "registration.yaml", "      - {id: head, label: 单位负责人, type: text, max_length: 20}\n", "")
    edit(forms / "registration.yaml", "version: 1\ntitle:", "version: 2\ntitle:")
    with Engine.open(data, forms, operator="李芳") as eng:
        old = eng.get(ids[0])
        # What a form screen sends back: only the fields the current form has.
        shown = {k: v for k, v in old["data"].items() if eng.form("registration").field(k)}
        eng.save("registration", {**shown, "filler": "王丽"}, record_id=ids[0])
        rec = eng.get(ids[0])
        assert rec["data"]["filler"] == "王丽" and "head" not in rec["data"]
        assert rec["retired"]["head"]["value"] == "陈刚" and rec["retired"]["head"]["version"] == 1
        eng.save("registration", {**shown, "filler": "赵敏"}, record_id=ids[0])
        assert eng.get(ids[0])["retired"]["head"]["value"] == "陈刚"


def test_changed_form_without_version_bump_is_an_error(tmp_path, capsys):
    forms, data, _ = _ledger(tmp_path, n=1)
    edit(forms / "registration.yaml", "      - {id: assistance,",
         "      - {id: pension_amount, label: 月养老金（元）, type: decimal, min: 0}\n      - {id: assistance,")
    code, out, _ = run(capsys, "forms", "check", "--forms", forms, "--data", data)
    assert code == 1
    assert "新增字段 pension_amount" in out and "version 没有加 1" in out and "请把 version 改为 2" in out


def test_calculation_cycles_of_any_length_are_refused(tmp_path, capsys):
    forms = copy_forms(tmp_path)
    edit(forms / "registration.yaml", 'calculate: "age_on(id_birth_date(id_number), today)"', 'calculate: "age + 1"')
    code, out, _ = run(capsys, "forms", "check", "--forms", forms, "--no-data")
    line = _line_of(forms / "registration.yaml", 'calculate: "age + 1"')
    assert code == 1 and "计算字段 age 的表达式用到了它自己" in out and f"registration.yaml:{line}:20:" in out
    forms = copy_forms(tmp_path / "b")
    edit(forms / "registration.yaml", 'calculate: "months_between(last_left_date, filing_date)"',
         'calculate: "months_between(last_left_date, filing_date) if birth_date else age"')
    edit(forms / "registration.yaml", 'calculate: "age_on(id_birth_date(id_number), today)"',
         'calculate: "months_away"')
    edit(forms / "registration.yaml", 'calculate: "id_birth_date(id_number)"', 'calculate: "id_birth_date(id_number) if age else None"')
    code, out, _ = run(capsys, "forms", "check", "--forms", forms, "--no-data")
    assert code == 1 and "形成循环：age → months_away → age" in out


def test_reevaluate_shows_a_change_table_and_applies_with_history(tmp_path, capsys):
    forms, data, ids = _ledger(tmp_path, n=2, age=77)
    with Engine.open(data, forms, readonly=True) as eng:
        assert eng.get(ids[0])["data"]["risk_level"] == "中"
    set_setting(forms, "advanced_age", "75")
    code, out, err = run(capsys, "records", "reevaluate", "--dry-run", "--forms", forms, "--data", data)
    assert code == 0 and "风险等级 中→高：2 人" in out and "预演" in err
    with Engine.open(data, forms, readonly=True) as eng:
        assert eng.get(ids[0])["data"]["risk_level"] == "中"
    code, out, err = run(capsys, "records", "reevaluate", "--forms", forms, "--data", data, "--operator", "张三")
    assert code == 0 and "风险等级 中→高：2 人" in out
    with Engine.open(data, forms, readonly=True) as eng:
        rec = eng.get(ids[0])
        assert rec["data"]["risk_level"] == "高" and rec["data"]["advanced_age"] == "是"
        last = eng.history(ids[0])[-1]
        assert last["action"] == "重新计算" and last["operator"] == "张三"
        assert {"path": "risk_level", "old": "中", "new": "高"} in last["changes"]


def test_turning_80_is_not_stale_on_a_new_day(tmp_path):
    from core.lifecycle.reevaluate import refresh_for_today

    forms = copy_forms(tmp_path)
    day = dt.date(2026, 3, 10)
    data = person(filing=day - dt.timedelta(days=30), age=79)
    birth = years_before(day + dt.timedelta(days=1), 80)
    from binhai_support import id_for

    data["id_number"] = id_for(birth)
    with Engine.open(tmp_path / "data", forms, operator="李芳", today=lambda: day) as eng:
        rid = eng.save("registration", data).id
        assert eng.get(rid)["data"]["risk_level"] == "中"
        assert refresh_for_today(eng) is not None and refresh_for_today(eng) is None   # once a day
    with Engine.open(tmp_path / "data", forms, today=lambda: day + dt.timedelta(days=1)) as eng:
        res = refresh_for_today(eng)
        assert res.table() == ["年龄 79→80：1 人", "风险等级 中→高：1 人", "高龄（80周岁及以上） 否→是：1 人"]
        assert eng.get(rid)["data"]["risk_level"] == "高"


@pytest.mark.parametrize("forked", [False, True], ids=["here", "forked"])
def test_the_first_open_of_a_day_says_it_recomputes_and_clears_the_line_before_the_ui(tmp_path, capsys, monkeypatch,
                                                                                     forked):
    """`carebook` on a new day recomputes before its first screen (seconds at district size):
    the terminal says so meanwhile, and the line is blanked before the UI starts; a second
    open the same day has nothing to recompute and says nothing. Made by a forked copy where
    forking is safe (`Engine.recompute_day_apart`; this test process may hold other threads,
    so it is told so): the UI then gets the ledger opened again, open, with the day done."""
    from core import forksafe
    from fork_support import count_forks, settle_keeping
    from tui import app as tui_app

    settle_keeping()                    # earlier tests' keeping threads: `carebook` has none
    monkeypatch.setattr(forksafe, "fork_safe", lambda store, wait=1.0: forked)
    forks = count_forks(monkeypatch)

    forms = copy_forms(tmp_path)
    with Engine.open(tmp_path / "data", forms, operator="李芳") as eng:
        eng.save("registration", person(filing=TODAY - dt.timedelta(days=30)))
    shown: list[str] = []

    def ui(self, *a, **k):              # the terminal as the UI finds it; closing, the UI closes the ledger
        shown.append(capsys.readouterr().err)
        assert self.engine.count("registration") == 1 and not self.engine.refresh_due()
        self.engine.close()

    monkeypatch.setattr(tui_app.CarebookApp, "run", ui)
    assert tui_app.run(tmp_path / "data", demo=False, forms_dir=forms) == 0
    first = shown[0]
    assert tui_app.RECOMPUTING in first
    assert len(forks) == (2 if forked else 0)            # the day's copy and its keeper
    said = first[:first.index("\r")]
    assert first.endswith("\r" + " " * cell_len(said) + "\r")       # blanked, not left behind
    with Engine.open(tmp_path / "data", forms, readonly=True) as eng:
        assert not eng.refresh_due()
    assert tui_app.run(tmp_path / "data", demo=False, forms_dir=forms) == 0
    assert tui_app.RECOMPUTING not in shown[1]


def test_a_broken_draft_never_locks_staff_out(tmp_path):
    forms = copy_forms(tmp_path)
    with open_engine(tmp_path, forms) as eng:
        eng.save("registration", person())
    edit(forms / "registration.yaml", "version: 1\ntitle:", "version: 1\ntitle:\n  - oops")
    with Engine.open(tmp_path / "data", forms) as eng:
        assert eng.form("registration").version == 1
        assert eng.report("roster", as_of=TODAY).rows
        first = eng.forms.problems[0]
        assert "继续使用上次检查通过的表单" in first.message and "registration.yaml" in first.message
        # Reload keeps the last good set and says why.
        problems = eng.reload_forms()
        assert "继续使用上次检查通过的表单" in problems[0].message
        assert eng.form("registration") and eng.visits_due(as_of=TODAY) is not None


def test_staff_run_the_published_set_until_a_new_one_is_published(tmp_path, capsys, monkeypatch):
    forms = copy_forms(tmp_path)
    data = tmp_path / "data"
    monkeypatch.delenv("CAREBOOK_FORMS", raising=False)
    code, out, err = run(capsys, "forms", "publish", "--forms", forms, "--data", data, "--operator", "张三")
    assert code == 0 and "已发布" in out, out + err
    edit(forms / "lists" / "health.yaml", "精神疾病, 其他]", "精神疾病, 帕金森病, 其他]")
    edit(forms / "registration.yaml", "version: 1\ntitle:", "version: 2\ntitle:")
    with Engine.open(data) as eng:            # staff: no folder named
        assert "帕金森病" not in [v for v, _ in eng.form("registration").choices_for("diseases")]
    code, out, err = run(capsys, "forms", "publish", "--forms", forms, "--data", data, "--operator", "张三")
    assert code == 0, out + err
    with Engine.open(data) as eng:
        assert "帕金森病" in [v for v, _ in eng.form("registration").choices_for("diseases")]
    edit(forms / "registration.yaml", "version: 2\ntitle:", "version: 2\ntitle:\n  - oops")
    code, out, err = run(capsys, "forms", "publish", "--forms", forms, "--data", data, "--operator", "张三")
    assert code == 1 and "未发布" in err


def test_full_width_colon_is_named_on_its_own_line(tmp_path, capsys):
    forms = copy_forms(tmp_path)
    edit(forms / "registration.yaml", "      - {id: filler, label: 填表人,", "      - id: filler\n        label： 填表人\n        x: {")
    line = (forms / "registration.yaml").read_text(encoding="utf-8").splitlines().index("        label： 填表人") + 1
    code, out, _ = run(capsys, "forms", "check", "--forms", forms, "--no-data")
    assert code == 1
    assert f"registration.yaml:{line}:14: “label” 后面是全角冒号“：”（中文输入法）" in out


def test_a_bad_divisions_file_is_reported_by_check_and_never_reaches_staff(tmp_path, capsys):
    forms = copy_forms(tmp_path)
    with open_engine(tmp_path, forms) as eng:
        eng.save("registration", person())
    edit(forms / "data" / "divisions.yaml", 'code: "120116157201"', "code: 120116157201")
    code, out, _ = run(capsys, "forms", "check", "--forms", forms, "--no-data")
    assert code == 1 and "divisions.yaml:" in out and "代码必须写成带引号的字符串" in out
    with Engine.open(tmp_path / "data", forms) as eng:
        assert "继续使用上次检查通过的表单" in eng.forms.problems[0].message
        assert eng.divisions.name("120116157201") == "渡口村"
        assert eng.report("roster", as_of=TODAY).rows


def _two_fields_deleted_then_saved(tmp_path) -> tuple[Path, Path, str]:
    """A person with 单位负责人 and 包联干部电话, both fields then deleted and the record saved
    the way a form screen saves it (only the fields the form still has)."""
    forms, data, ids = _ledger(tmp_path, n=1, head="陈刚", liaison_phone="13812345678")
    edit(forms / "registration.yaml", "      - {id: head, label: 单位负责人, type: text, max_length: 20}\n", "")
    edit(forms / "registration.yaml", "      - {id: liaison_phone, label: 包联干部电话, type: phone, required: true}\n", "")
    edit(forms / "registration.yaml", "version: 1\ntitle:", "version: 2\ntitle:")
    with Engine.open(data, forms, operator="李芳") as eng:
        assert eng.forms_dir == eng._working_forms_dir, eng.forms.problems
        old = eng.get(ids[0])
        eng.save("registration", {k: v for k, v in old["data"].items() if eng.form("registration").field(k)},
                 record_id=ids[0])
    return forms, data, ids[0]


def test_retired_values_are_exported_and_personal_ones_masked(tmp_path):
    import csv
    import json

    import openpyxl

    forms, data, rid = _two_fields_deleted_then_saved(tmp_path)
    ids = [rid]
    with Engine.open(data, forms, operator="李芳") as eng:
        assert eng.get(ids[0])["retired"]["liaison_phone"]["pii"] == "phone"
        [x] = eng.export("records", "xlsx", tmp_path / "out")
        ws = openpyxl.load_workbook(x, read_only=True).worksheets[0]
        rows = [[c for c in r] for r in ws.iter_rows(values_only=True)]
        col = next(r for r in rows if r and "停用字段的值" in r).index("停用字段的值")
        cells = [r[col] for r in rows if r and len(r) > col and r[col] and r[col] != "停用字段的值"]
        assert cells == ["单位负责人=陈刚；包联干部电话=138****5678"]
        [js] = eng.export("records", "json", tmp_path / "j")
        rec = json.loads(js.read_text(encoding="utf-8"))[0]
        assert rec["retired"]["head"]["value"] == "陈刚" and rec["retired"]["liaison_phone"]["value"] == "138****5678"
        paths = eng.export("records", "csv", tmp_path / "c", full=True)
        with open(paths[0], encoding="utf-8-sig") as fh:
            table = list(csv.reader(fh))
        assert table[1][table[0].index("停用字段的值")] == "单位负责人=陈刚；包联干部电话=13812345678"


def test_records_show_lists_retired_values_masked(tmp_path, capsys):
    forms, data, rid = _two_fields_deleted_then_saved(tmp_path)
    ids = [rid]
    code, out, _ = run(capsys, "records", "show", ids[0], "--forms", forms, "--data", data)
    assert code == 0 and "（已停用）单位负责人: 陈刚" in out and "（已停用）包联干部电话: 138****5678" in out
    code, out, _ = run(capsys, "records", "show", ids[0], "--json", "--forms", forms, "--data", data)
    assert "13812345678" not in out and "138****5678" in out


def test_history_masks_old_values_of_retired_personal_fields(tmp_path, capsys):
    """A deleted address field (saved over) and a retired one (migration) keep their old values in
    the history; `records history` masks them as it masks the current address, ID and phone."""
    address = "天津市滨海新区北塘街道东村282号"
    forms, data, ids = _ledger(tmp_path, n=2, address=address)
    edit(forms / "registration.yaml", "      - {id: address, label: 现居住地址, aliases: [家庭住址, 住址, 居住地址, 现住址, "
         "家庭地址], type: text, required: true, max_length: 100, pii: true}\n", "")
    edit(forms / "roster.yaml", "  - {key: address, label: 家庭住址, field: address, pii: address, width: 24}\n", "")
    edit(forms / "registration.yaml", "version: 1\ntitle:", "version: 2\ntitle:")
    (forms / "migrations").mkdir(exist_ok=True)
    (forms / "migrations" / "retire.yaml").write_text(
        "kind: migration\nid: retire_address\nform: registration\nreason: 地址改由户籍所在地表示\n"
        "changes:\n  - {retire_field: address}\n", encoding="utf-8")
    with Engine.open(data, forms, operator="李芳") as eng:
        assert eng.forms_dir == eng._working_forms_dir, eng.forms.problems
        old = eng.get(ids[0])
        eng.save("registration", {k: v for k, v in old["data"].items() if eng.form("registration").field(k)},
                 record_id=ids[0])
    code, out, err = run(capsys, "forms", "migrate", "--forms", forms, "--data", data, "--operator", "李芳")
    assert code == 0, out + err
    for rid in ids:
        code, out, _ = run(capsys, "records", "history", rid, "--forms", forms, "--data", data)
        assert code == 0 and "天津市滨海新…" in out, out
        assert address not in out, out
        code, out, _ = run(capsys, "records", "history", rid, "--json", "--forms", forms, "--data", data)
        assert code == 0 and address not in out and "天津市滨海新…" in out, out
    code, out, _ = run(capsys, "records", "history", ids[1], "--forms", forms, "--data", data)
    assert "retired.address: None → '天津市滨海新…'" in out, out


def _bad_divisions_first_open(tmp_path) -> tuple[Path, Path]:
    """A forms copy whose division file has one unquoted village code, never published."""
    forms = copy_forms(tmp_path)
    edit(forms / "data" / "divisions.yaml", 'code: "120116157201"', "code: 120116157201")
    return forms, tmp_path / "data"


def test_a_bad_divisions_file_on_first_open_is_a_message_in_the_cli(tmp_path, capsys):
    forms, data = _bad_divisions_first_open(tmp_path)
    line = _line_of(forms / "data" / "divisions.yaml", "code: 120116157201")
    code, out, err = run(capsys, "report", "roster", "--forms", forms, "--data", data)
    assert code == 2 and "Traceback" not in out + err
    assert "区划文件（街镇、村）有错误" in err and f"divisions.yaml:{line}:1:" in err
    assert "代码必须写成带引号的字符串" in err
    code, out, _ = run(capsys, "forms", "check", "--forms", forms, "--data", data)
    assert code == 1 and f"divisions.yaml:{line}:16: towns.10.villages.0.code: 应为文字，实际是数字 120116157201" in out


def test_a_bad_divisions_file_on_first_open_is_refused_with_a_message_not_a_traceback(tmp_path, capsys, monkeypatch):
    """`carebook` does not start the UI on a ledger it cannot show; it says which file, line and what."""
    from tui import app as tui_app

    forms, data = _bad_divisions_first_open(tmp_path)
    line = _line_of(forms / "data" / "divisions.yaml", "code: 120116157201")

    def must_not_run(self, *a, **k):
        raise AssertionError("the UI was started on a ledger it cannot show")

    monkeypatch.setattr(tui_app.CarebookApp, "run", must_not_run)
    assert tui_app.run(data, demo=False, forms_dir=forms) == 2
    err = capsys.readouterr().err
    assert err.startswith("无法打开台账：区划文件 ") and f"divisions.yaml:{line}:16:" in err
    assert "村代码必须写成带引号的字符串" in err and "carebook forms check" in err


@drive
async def test_the_home_screen_shows_a_bad_divisions_file_instead_of_failing(tmp_path):
    """The home screen, given such an engine anyway, shows the message where the due list goes."""
    from tui_support import SIZE, make_app, screen_text, until

    forms, _ = _bad_divisions_first_open(tmp_path)
    line = _line_of(forms / "data" / "divisions.yaml", "code: 120116157201")
    app = make_app(tmp_path / "data", forms_dir=forms)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "无法计算应探访人员" in screen_text(app))
        screen = screen_text(app)
        assert "无法计算应探访人员" in screen and "区划文件 forms/data/divisions.yaml 有 1" in screen, screen
        assert f"divisions.yaml:{line}:16:" in screen and "应为文字，实际是数字" in screen, screen
    assert app.return_code in (None, 0)
