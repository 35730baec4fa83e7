"""The `carebook` command as admins and scripts use it: real processes, real data folders."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from binhai_support import copy_forms, open_engine, person


def run(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "core.cli", *map(str, args)], capture_output=True,
                          text=True, encoding="utf-8", cwd=cwd, env={**os.environ, **(env or {})}, timeout=120)


@pytest.fixture
def folders(tmp_path):
    forms = copy_forms(tmp_path)
    return tmp_path / "data", forms


def write(tmp_path, name, obj):
    path = tmp_path / name
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def test_add_prints_the_new_id_and_list_show_history_find_it(folders, tmp_path):
    data, forms = folders
    p = person(name="周玉兰", phone="13812345678")
    res = run("records", "add", "registration", write(tmp_path, "p.json", p), "--operator", "刘敏",
              "--data", data, "--forms", forms)
    assert res.returncode == 0, res.stdout + res.stderr
    rid = res.stdout.strip()
    listed = json.loads(run("--data", data, "--forms", forms, "records", "list", "registration", "--json").stdout)
    assert listed["total"] == 1 and listed["rows"][0]["id"] == rid
    assert listed["rows"][0]["phone"] == "138****5678"          # masked unless --full
    shown = json.loads(run("records", "show", rid, "--json", "--full", "--operator", "刘敏", "--data", data, "--forms", forms).stdout)
    assert shown["data"]["phone"] == "13812345678"
    hist = run("records", "history", rid, "--data", data, "--forms", forms)
    assert hist.returncode == 0 and "刘敏" in hist.stdout and "新建" in hist.stdout


def test_refused_record_exits_1_with_field_path_and_message(folders, tmp_path):
    data, forms = folders
    p = person(id_number="110105194912310021")        # wrong check character
    res = run("records", "add", "registration", write(tmp_path, "bad.json", p), "--operator", "刘敏", "--data", data,
              "--forms", forms)
    assert res.returncode == 1
    assert any(line.startswith("id_number: ") and "校验码" in line for line in res.stdout.splitlines()), res.stdout
    assert "Traceback" not in res.stdout + res.stderr


def test_not_json_is_a_located_message_not_a_traceback(folders, tmp_path):
    data, forms = folders
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "王",\n  oops}', encoding="utf-8")
    res = run("records", "add", "registration", bad, "--data", data, "--forms", forms)
    assert res.returncode == 2
    assert f"{bad}:2:" in res.stderr and "JSON" in res.stderr
    assert "Traceback" not in res.stderr


def test_forms_check_locates_a_yaml_pitfall(folders):
    _, forms = folders
    reg = forms / "lists" / "common.yaml"
    text = reg.read_text(encoding="utf-8")
    reg.write_text(text.replace("  yes_no: [是, 否]", "  yes_no: [是, no]"), encoding="utf-8")
    res = run("forms", "check", forms)
    assert res.returncode == 1
    line = next(x for x in res.stdout.splitlines() if "common.yaml" in x)
    file, lineno, col = line.split(":")[:3]
    assert lineno.isdigit() and col.isdigit()
    assert "no" in line and "引号" in line
    from binhai_support import FORMS

    assert run("forms", "check", FORMS / "visit.yaml").returncode == 0   # one sound file alone


def test_forms_schema_prints_draft_2020_12(folders):
    _, forms = folders
    res = run("forms", "schema", "registration", "--forms", forms, "--data", forms.parent / "d")
    schema = json.loads(res.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["properties"]["id_number"]["format"] == "cn-resident-id"


def test_a_second_writer_is_refused_with_a_clear_message(folders, tmp_path):
    data, forms = folders
    eng = open_engine(tmp_path, forms)                  # this process holds the data folder
    try:
        res = run("records", "add", "registration", write(tmp_path, "p.json", person()), "--operator", "刘敏", "--data", data,
                  "--forms", forms)
        assert res.returncode == 2
        assert "错误" in res.stderr and str(data) in res.stderr
        listed = run("records", "list", "registration", "--data", data, "--forms", forms)
        assert listed.returncode == 0                   # readers still work beside the writer
    finally:
        eng.close()


def test_data_folder_option_works_before_or_after_the_subcommand(folders, tmp_path):
    data, forms = folders
    run("records", "add", "registration", write(tmp_path, "p.json", person()), "--operator", "刘敏", "--data", data, "--forms", forms)
    before = run("--data", data, "--forms", forms, "records", "list", "registration", "--json")
    after = run("records", "list", "registration", "--json", "--data", data, "--forms", forms)
    assert json.loads(before.stdout)["total"] == json.loads(after.stdout)["total"] == 1


def test_outdated_lists_records_of_an_older_form_version(folders, tmp_path):
    data, forms = folders
    rid = run("records", "add", "registration", write(tmp_path, "p.json", person()), "--operator", "刘敏", "--data", data,
              "--forms", forms).stdout.strip()
    reg = forms / "registration.yaml"
    text = reg.read_text(encoding="utf-8")
    import re

    version = int(re.search(r"^version: (\d+)", text, re.M).group(1))
    reg.write_text(text.replace(f"\nversion: {version}\n", f"\nversion: {version + 1}\n", 1), encoding="utf-8")
    res = run("records", "outdated", "registration", "--data", data, "--forms", forms)
    assert res.stdout.split() == [rid]


def test_core_command_line_never_opens_the_ui_itself(tmp_path):
    res = run("--data", tmp_path / "d")                  # core.cli alone: no UI was handed in
    assert res.returncode == 2 and "终端界面" in res.stderr
    assert "Traceback" not in res.stderr


def test_wrong_arguments_are_told_in_chinese():
    res = run("records", "add")
    assert res.returncode == 2 and "缺少参数" in res.stderr and "error" not in res.stderr


def test_listing_an_unknown_form_is_refused_not_an_empty_list(tmp_path, capsys):
    from core.cli import main

    assert main(["--data", str(tmp_path / "data"), "records", "list", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "表单 “nosuch” 不存在" in err
