"""A record never saves without all its checks: a failing plugin stops the save.

Each case is a real engine over a copy of the shipped forms with a plugin whose hook raises or
answers with the wrong type; the save must be refused with a Chinese message naming the
action, the plugin, the hook and how to block it — and nothing may be stored. ``after_save``
runs once the record is stored: its failure is told with the record, never hidden and never
carried into the next, unrelated check.
"""
from __future__ import annotations

import textwrap

import pytest

from binhai_support import TOWN, TOWN2, VILLAGE2, copy_forms, person
from core.cli import main
from core.engine import Engine
from core.problems import Problem, ValidationFailed


class Plug:
    """A plugin object with one hook implementation, named like a plugin file would be."""

    def __init__(self, name: str, hook: str, fn):
        from carebook import hookimpl

        self.__name__ = name
        setattr(self, hook, hookimpl(fn))


def engine(tmp_path, *plugins) -> Engine:
    return Engine.open(tmp_path / "data", copy_forms(tmp_path), operator="测试员", extra_plugins=list(plugins))


def refused(eng: Engine, data: dict) -> str:
    with pytest.raises(ValidationFailed) as err:
        eng.save("registration", data)
    assert eng.count("registration") == 0
    return "\n".join(str(p) for p in err.value.problems)


def assert_names(message: str, plugin: str, hook: str, action: str) -> None:
    assert f"插件 {plugin} 的 {hook} 出错" in message
    assert action in message
    assert f"CAREBOOK_PLUGINS_BLOCK={plugin}" in message


def boom(*args, **kwargs):
    raise RuntimeError("插件内部故障")


def test_raising_validate_record_stops_the_save(tmp_path):
    def validate_record(form_id, data, record_id):
        raise RuntimeError("插件内部故障")
    with engine(tmp_path, Plug("bad_check", "validate_record", validate_record)) as eng:
        msg = refused(eng, person())
    assert_names(msg, "bad_check", "validate_record", "检查记录")
    assert "RuntimeError: 插件内部故障" in msg


@pytest.mark.parametrize("answer, said", [("不是列表", "str"), ([{"message": "x"}], "dict"), (42, "int")])
def test_wrong_return_type_of_validate_record_names_the_plugin(tmp_path, answer, said):
    def validate_record(form_id, data, record_id):
        return answer
    with engine(tmp_path, Plug("odd_check", "validate_record", validate_record)) as eng:
        msg = refused(eng, person())
    assert "插件 odd_check 的 validate_record" in msg and "应返回 Problem 列表或 None" in msg and said in msg


def test_a_problem_from_validate_record_blocks_and_names_its_rule(tmp_path):
    def validate_record(form_id, data, record_id):
        return [Problem("请核实", path="name", severity="warning", rule="check_name")]
    with engine(tmp_path, Plug("warns", "validate_record", validate_record)) as eng:
        refused(eng, person())
        assert eng.save("registration", person(), reasons={"check_name": "已核实"}).id


def test_raising_extend_form_stops_the_save(tmp_path):
    def extend_form(form_id, town):
        raise KeyError(town)
    with engine(tmp_path, Plug("bad_extend", "extend_form", extend_form)) as eng:
        msg = refused(eng, person())
    assert_names(msg, "bad_extend", "extend_form", "打开表单")


def test_extend_form_answering_a_list_stops_the_save(tmp_path):
    def extend_form(form_id, town):
        return [{"id": "x"}]
    with engine(tmp_path, Plug("list_extend", "extend_form", extend_form)) as eng:
        msg = refused(eng, person())
    assert "插件 list_extend 的 extend_form" in msg and "应返回字典或 None" in msg and "list" in msg


BAD_ADDITIONS = {
    "unknown section": ({"sections": {"nosuch": {"fields": [{"id": "t_x", "label": "甲", "type": "text"}]}}},
                        "没有分节 “nosuch”"),
    "unknown type": ({"sections": {"care": {"fields": [{"id": "t_x", "label": "甲", "type": "txet"}]}}},
                     "txet"),
    "bad expression": ({"rules": [{"id": "t_rule", "check": "no_such_field > 1", "message": "甲"}]},
                       "no_such_field"),
}


@pytest.mark.parametrize("case", sorted(BAD_ADDITIONS))
def test_extend_form_additions_that_do_not_check_stop_that_towns_saves(tmp_path, case):
    additions, said = BAD_ADDITIONS[case]

    def extend_form(form_id, town):
        return additions if form_id == "registration" and town == TOWN2 else None
    with engine(tmp_path, Plug("town_extra", "extend_form", extend_form)) as eng:
        msg = refused(eng, person(town=TOWN2, village=VILLAGE2))
        assert "插件 town_extra 的 extend_form" in msg and said in msg
        assert eng.save("registration", person(town=TOWN)).id       # other towns unaffected


def test_raising_before_save_stops_the_save(tmp_path):
    def before_save(form_id, data, record_id):
        raise ValueError("改不了")
    with engine(tmp_path, Plug("bad_before", "before_save", before_save)) as eng:
        msg = refused(eng, person())
    assert_names(msg, "bad_before", "before_save", "保存记录")


def test_before_save_answering_a_list_stops_the_save(tmp_path):
    def before_save(form_id, data, record_id):
        return ["x"]
    with engine(tmp_path, Plug("odd_before", "before_save", before_save)) as eng:
        msg = refused(eng, person())
    assert "插件 odd_before 的 before_save" in msg and "list" in msg


def test_before_save_chain_each_sees_the_previous_result(tmp_path):
    first = Plug("first", "before_save", lambda form_id, data, record_id: {**data, "address": data["address"] + "甲"})
    second = Plug("second", "before_save", lambda form_id, data, record_id: {**data, "address": data["address"] + "乙"})
    with engine(tmp_path, first, second) as eng:     # second registered later: called first
        rec = eng.get(eng.save("registration", person(address="某村1号")).id)
    assert rec["data"]["address"] == "某村1号乙甲"


def test_raising_after_save_is_told_with_the_saved_record_and_not_carried_on(tmp_path):
    with engine(tmp_path, Plug("bad_after", "after_save", boom)) as eng:
        res = eng.save("registration", person())
        assert eng.get(res.id) is not None                    # stored durably before the hook ran
        [msg] = res.plugin_errors
        assert_names(msg, "bad_after", "after_save", f"记录 {res.id} 已保存")
        assert eng.validate("registration", person()) == []   # nothing surfaces on the next check


# --- the command line ---------------------------------------------------------------------


def local_plugin(tmp_path, name: str, body: str):
    folder = tmp_path / "plugins"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text("from carebook import hookimpl, Problem\n" + textwrap.dedent(body),
                                       encoding="utf-8")
    return folder


def cli(tmp_path, monkeypatch, *argv) -> int:
    monkeypatch.setenv("CAREBOOK_PLUGINS_DIR", str(tmp_path / "plugins"))
    return main([*argv, "--data", str(tmp_path / "data"), "--forms", str(tmp_path / "forms")])


@pytest.fixture
def record_file(tmp_path):
    import json

    copy_forms(tmp_path)
    path = tmp_path / "rec.json"
    path.write_text(json.dumps(person(), ensure_ascii=False), encoding="utf-8")
    return path


def test_cli_warning_shows_the_rule_id_accept_needs(tmp_path, monkeypatch, capsys, record_file):
    local_plugin(tmp_path, "warn_all", """
        @hookimpl
        def validate_record(form_id, data, record_id):
            return [Problem("请核实姓名", path="name", severity="warning", rule="name_checked")]
        """)
    assert cli(tmp_path, monkeypatch, "records", "add", "registration", str(record_file),
               "--operator", "测试员") == 1
    assert "--accept name_checked=理由" in capsys.readouterr().out
    assert cli(tmp_path, monkeypatch, "records", "add", "registration", str(record_file),
               "--operator", "测试员", "--accept", "name_checked=已核实") == 0


def test_cli_after_save_failure_exits_non_zero_and_says_the_record_is_saved(tmp_path, monkeypatch, capsys,
                                                                            record_file):
    local_plugin(tmp_path, "notify", """
        @hookimpl
        def after_save(form_id, record):
            raise OSError("通知服务不可用")
        """)
    assert cli(tmp_path, monkeypatch, "records", "add", "registration", str(record_file),
               "--operator", "测试员") == 2
    out = capsys.readouterr()
    assert "已保存" in out.err and "插件 notify 的 after_save" in out.err and "CAREBOOK_PLUGINS_BLOCK=notify" in out.err


def test_plugins_list_exits_non_zero_and_shows_failures(tmp_path, monkeypatch, capsys):
    copy_forms(tmp_path)
    local_plugin(tmp_path, "good", """
        @hookimpl
        def register_functions(register):
            register("double", lambda x: 2 * x)
        """)
    assert cli(tmp_path, monkeypatch, "plugins", "list") == 0
    local_plugin(tmp_path, "broken", "raise ImportError('缺少依赖')\n")
    local_plugin(tmp_path, "typo", """
        @hookimpl
        def register_exporter(register):
            pass
        """)
    capsys.readouterr()
    assert cli(tmp_path, monkeypatch, "plugins", "list") == 2
    out = capsys.readouterr()
    assert "good" in out.out
    assert "broken.py 加载失败" in out.err and "register_exporter" in out.err


def test_forms_check_reports_bad_extend_form_additions(tmp_path, monkeypatch, capsys):
    copy_forms(tmp_path)
    local_plugin(tmp_path, "town_extra", f"""
        @hookimpl
        def extend_form(form_id, town):
            if form_id == "registration" and town == "{TOWN2}":
                return {{"sections": {{"care": {{"fields": [{{"id": "t_x", "label": "甲", "type": "txet"}}]}}}}}}
        """)
    assert cli(tmp_path, monkeypatch, "forms", "check") == 1
    out = capsys.readouterr().out
    assert "插件 town_extra 的 extend_form" in out and "txet" in out and "检查表单" in out


def test_admin_corner_shows_plugin_failures(tmp_path, monkeypatch):
    """The TUI's 已安装插件 tab says what is broken, rendered on the 80x24 screen."""
    from textual.widgets import TabbedContent

    from tui_support import SIZE, drive, make_app

    local_plugin(tmp_path, "broken", "raise ImportError('缺少依赖')\n")
    monkeypatch.setenv("CAREBOOK_PLUGINS_DIR", str(tmp_path / "plugins"))

    @drive
    async def scenario():
        app = make_app(tmp_path / "data")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("a")
            await pilot.pause()
            app.screen.query_one(TabbedContent).active = "plugins"
            await pilot.pause()
            screen = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
            assert "插件问题 1 个" in screen
            assert "broken.py" in screen
    scenario()
