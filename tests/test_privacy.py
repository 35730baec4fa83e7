"""Personal data guarded (issue 14): masking at every level and in history, searches that cannot
spell out a masked number, audited `--full` reads with an operator, CSV/XLSX cells Excel never
evaluates, invisible characters refused, private files. Real CLI processes and data folders."""
from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from binhai_support import copy_forms, open_engine, person
from core.engine import Engine
from core.problems import CarebookError, ValidationFailed

CHILD_ID = "120107198003158676"


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "core.cli", *map(str, args)], capture_output=True, text=True,
                          encoding="utf-8", env={**os.environ, **(env or {})}, timeout=120)


@pytest.fixture
def ledger(tmp_path):
    """A ledger with one person whose child has an ID number and a phone, then edited once."""
    eng = open_engine(tmp_path)
    kid = {"child_name": "张伟", "child_relation": "子", "child_id_number": CHILD_ID,
           "child_whereabouts": "北京市朝阳区", "child_phone": "13900001111", "child_contact": "每周"}
    p = person(name="张桂兰", phone="23456789", children=[kid])
    rid = eng.save("registration", p).id
    kid2 = {**kid, "child_name": "张强", "child_phone": "13911112222", "child_id_number": "130984198203159719"}
    eng.save("registration", {**p, "phone": "22334455", "children_count": 2, "children": [kid, kid2]}, rid)
    eng.close()
    return tmp_path / "data", tmp_path / "forms", rid, p


def cli(ledger, *args):
    data, forms, _, _ = ledger
    return run(*args, "--data", data, "--forms", forms)


SECRETS = (CHILD_ID, "13900001111", "13911112222", "130984198203159719", "23456789", "22334455")


def test_show_and_history_mask_every_level_and_landlines_keep_only_four(ledger):
    _, _, rid, p = ledger
    for args in (("records", "show", rid), ("records", "show", rid, "--json"),
                 ("records", "history", rid), ("records", "history", rid, "--json")):
        res = cli(ledger, *args)
        assert res.returncode == 0, res.stderr
        for secret in SECRETS + (p["id_number"],):
            assert secret not in res.stdout, (args, secret)
    shown = json.loads(cli(ledger, "records", "show", rid, "--json").stdout)["data"]
    assert shown["children"][0]["child_id_number"] == "120107********8676"
    assert shown["children"][0]["child_phone"] == "139****1111"
    assert shown["phone"] == "****4455"                   # a landline: its last four only
    hist = cli(ledger, "records", "history", rid).stdout
    assert "****6789" in hist and "****4455" in hist and "139****2222" in hist


def test_search_finds_whole_numbers_and_name_plus_last_four_but_no_prefix(ledger):
    _, _, rid, p = ledger
    id_no = p["id_number"]
    # The attack of the issue: grow a prefix one digit at a time while the count says "found".
    data, forms, _, _ = ledger
    with Engine.open(data, forms, readonly=True) as eng:
        assert [eng.query("registration", text=id_no[:n]).total for n in range(1, 18)] == [0] * 17
        assert [eng.query("registration", text=id_no[-n:]).total for n in range(1, 18)] == [0] * 17
    for n in (6, 10, 17):
        res = cli(ledger, "records", "list", "registration", "--text", id_no[:n], "--json")
        assert json.loads(res.stdout)["total"] == 0
    for needle in ("4455", "2233", "23456789"[:6], id_no[-4:]):      # parts, or four digits alone
        assert json.loads(cli(ledger, "records", "list", "registration", "--text", needle, "--json").stdout)["total"] == 0
    for needle in (id_no, "22334455", "张桂兰" + id_no[-4:], "zgl 4455", "张桂兰 4455"):
        res = json.loads(cli(ledger, "records", "list", "registration", "--text", needle, "--json").stdout)
        assert [r["id"] for r in res["rows"]] == [rid], needle


def test_full_reads_need_an_operator_and_are_audited_before_the_data_is_shown(ledger):
    data, _, rid, p = ledger
    (data / "settings.json").write_text("{}", encoding="utf-8")     # no operator remembered
    for args in (("records", "show", rid, "--full"), ("records", "list", "registration", "--full"),
                 ("report", "roster", "--full"), ("records", "history", rid, "--full")):
        res = cli(ledger, *args)
        assert res.returncode == 2 and "操作员" in res.stderr and p["id_number"] not in res.stdout, args
    before = (data / "history" / "audit.jsonl").read_text(encoding="utf-8") if (data / "history" / "audit.jsonl").exists() else ""
    assert "完整查看" not in before
    for args in (("records", "show", rid, "--full"), ("records", "list", "registration", "--full"),
                 ("report", "roster", "--full")):
        res = cli(ledger, *args, "--operator", "刘敏")
        assert res.returncode == 0 and p["id_number"] in res.stdout, (args, res.stderr)
    log = [json.loads(line) for line in (data / "history" / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    reads = [e for e in log if e["action"] == "完整查看"]
    assert [(e["operator"], e["what"]) for e in reads] == [("刘敏", "记录"), ("刘敏", "记录列表"), ("刘敏", "报表 roster")]
    assert reads[0]["params"]["id"] == rid
    # The audit line comes first: when it cannot be written, nothing is shown.
    log_file = data / "history" / "audit.jsonl"
    log_file.unlink()
    log_file.mkdir()
    res = cli(ledger, "records", "show", rid, "--full", "--operator", "刘敏")
    assert res.returncode != 0 and p["id_number"] not in res.stdout and "Traceback" not in res.stderr


def test_full_export_audit_names_the_operator_and_precedes_the_file(ledger, tmp_path):
    data, _, _, _ = ledger
    out = tmp_path / "out.csv"
    res = cli(ledger, "export", "records", "--format", "csv", "--output", out, "--full")
    assert res.returncode == 2 and "操作员" in res.stderr and not out.exists()
    res = cli(ledger, "export", "records", "--format", "csv", "--output", out, "--full", "--operator", "刘敏")
    assert res.returncode == 0, res.stderr
    log = [json.loads(line) for line in (data / "history" / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    first = next(e for e in log if e.get("full"))
    assert first["operator"] == "刘敏" and first["action"].startswith("完整导出")


def test_writes_need_an_operator(ledger, tmp_path):
    data, _, _, _ = ledger
    (data / "settings.json").write_text("{}", encoding="utf-8")
    f = tmp_path / "p.json"
    f.write_text(json.dumps(person(name="李明"), ensure_ascii=False), encoding="utf-8")
    res = cli(ledger, "records", "add", "registration", f)
    assert res.returncode == 2 and "操作员" in res.stderr
    assert cli(ledger, "records", "add", "registration", f, "--operator", "刘敏").returncode == 0


FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_csv_and_xlsx_cells_are_never_formulas(tmp_path):
    eng = open_engine(tmp_path)
    ids = [eng.save("registration", person(name="王秀英", address=text)).id
           for text in FORMULAS[:4]]
    assert len(ids) == 4
    [parent, _children] = eng.export("records", "csv", tmp_path / "r.csv")
    with open(parent, encoding="utf-8-sig", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not [c for c in cells if c and c[0] in "=+-@\t\r"]
    [xlsx] = eng.export("records", "xlsx", tmp_path / "r.xlsx", full=True)
    ws = openpyxl.load_workbook(xlsx).worksheets[0]
    values = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "'=cmd|' /C calc'!A0" in values and not [v for v in values if v[0] in "=+-@"]
    [roster] = eng.export("roster", "csv", tmp_path / "roster.csv")
    with open(roster, encoding="utf-8-sig", newline="") as fh:
        assert not [c for row in csv.reader(fh) for c in row if c and c[0] in "=+-@\t\r"]
    # A full export still imports into another ledger as it was typed.
    full = eng.export("records", "csv", tmp_path / "full.csv", full=True)
    eng.close()
    other = Engine.open(tmp_path / "other", tmp_path / "forms", operator="测试员")
    res = other.import_records("registration", full)
    assert res.saved == 4, [str(p) for p in res.problems]
    assert sorted(r["data"]["address"] for r in other.iter_records("registration")) == sorted(FORMULAS[:4])
    other.close()


@pytest.mark.parametrize("bad", ["王\x1b[2J秀英", "王\u202e英秀", "王\u200b秀英", "王\x00秀英", "王\u2066秀英"])
def test_invisible_and_control_characters_are_refused_with_a_message(tmp_path, bad):
    eng = open_engine(tmp_path)
    with pytest.raises(ValidationFailed) as exc:
        eng.save("registration", person(name=bad))
    [problem] = [p for p in exc.value.problems if p.path == "name"]
    assert "看不见的" in problem.message and "U+" in problem.message
    eng.close()


def test_a_name_of_only_zero_width_characters_is_not_filled(tmp_path):
    eng = open_engine(tmp_path)
    with pytest.raises(ValidationFailed) as exc:
        eng.save("registration", person(name="\u200b\u200b"))
    assert any(p.path == "name" and p.rule == "required" for p in exc.value.problems)
    eng.close()


def test_terminal_output_never_carries_raw_escape_codes(ledger):
    """A record stored by an older version (before the check) still cannot drive the terminal."""
    data, forms, rid, _ = ledger
    with Engine.open(data, forms, operator="测试员") as eng:
        rec = eng.get(rid)
        rec = {**rec, "data": {**rec["data"], "name": "坏\x1b]0;pwned\x07\x1b[2J\u202e名"}}
        eng._write("registration", rec, eng.get(rid))
    for args in (("records", "list", "registration"), ("records", "show", rid), ("records", "history", rid)):
        res = cli(ledger, *args)
        assert res.returncode == 0
        assert "\x1b" not in res.stdout and "\x07" not in res.stdout and "\u202e" not in res.stdout, args
        assert "\\x1b" in res.stdout


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_data_folder_files_are_private(tmp_path):
    old = os.umask(0o022)
    try:
        eng = open_engine(tmp_path)
        eng.save("registration", person())
        eng.save_draft("registration", None, {"name": "王"})
        written = eng.export("records", "csv", tmp_path / "exports", full=False)   # never inside the data folder
        eng.close()
    finally:
        os.umask(old)
    root = tmp_path / "data"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(Path(p).stat().st_mode) == 0o600 for p in written)   # exports hold personal data too
    seen = 0
    for path in root.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
        seen += 1
    assert seen > 5
    # The CLI too, from a shell whose umask is 022.
    res = subprocess.run(["sh", "-c", f'umask 022 && "{sys.executable}" -m core.cli records list registration '
                                      f'--data "{tmp_path / "cli"}" --forms "{copy_forms(tmp_path / "f")}"'],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert stat.S_IMODE((tmp_path / "cli").stat().st_mode) == 0o700


@pytest.mark.parametrize("form_id,record_id", [("registration", "../../escape"), ("../x", None),
                                                ("registration", "a/b"), ("registration", "..")])
def test_draft_ids_cannot_leave_the_drafts_folder(tmp_path, form_id, record_id):
    eng = open_engine(tmp_path)
    with pytest.raises(CarebookError):
        eng.save_draft(form_id, record_id, {"name": "王"})
    assert not list(tmp_path.glob("**/escape*")) and not (tmp_path / "data" / "x--new.json").exists()
    eng.close()
