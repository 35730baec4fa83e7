"""`carebook followups ...` as a town office's script uses it: real processes, a real data folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from followup_support import REFERRAL_AND_RAISED, person_in, visit
from tui_support import open_engine


def run(*args):
    return subprocess.run([sys.executable, "-m", "core.cli", *map(str, args)], capture_output=True, text=True,
                          encoding="utf-8", env=dict(os.environ), timeout=120)


def test_list_filters_by_town_and_overdue_masks_and_close_records_who_and_what(tmp_path):
    data = tmp_path / "data"
    eng = open_engine(data)
    here = person_in(eng, 1, phone="13812345678")
    there = person_in(eng, 2, town="120116009000")
    visit(eng, here.id, "2026-11-10", **REFERRAL_AND_RAISED)                     # due 11-17
    visit(eng, there.id, "2026-11-28", physical="突发疾病")                        # 应急, due 11-28
    eng.close()

    listed = run("followups", "list", "--data", data, "--as-of", "2026-11-20", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["kind"] for r in rows][0] == "应急处置"                               # emergencies first
    assert "13812345678" not in listed.stdout and here.record["data"]["id_number"] not in listed.stdout

    town = run("followups", "list", "--data", data, "--town", "小王庄镇", "--overdue", "--as-of", "2026-11-20")
    lines = town.stdout.splitlines()
    assert town.returncode == 0 and sorted(line.split("\t")[1] for line in lines) == \
        ["上报街镇", "通知子女督促照顾", "风险等级复核"]
    assert all("逾期3天" in line for line in lines) and "共 3 件" in town.stderr
    assert run("followups", "list", "--data", data, "--town", "北塘", "--json", "--as-of", "2026-11-20").stdout \
        .count("应急处置") == 1

    report = next(line for line in lines if "\t上报街镇\t" in line).split("\t")[0]
    closed = run("followups", "close", report, "--result", "街镇已安排护理员上门", "--operator", "李娜",
                 "--data", data)
    assert closed.returncode == 0, closed.stderr
    assert "已办结" in closed.stdout and "李娜：街镇已安排护理员上门" in closed.stdout
    hist = run("records", "history", closed.stdout.split("\t")[0], "--data", data)
    assert "李娜" in hist.stdout and "办结：街镇已安排护理员上门" in hist.stdout
    after = run("followups", "list", "--data", data, "--town", "120116157", "--overdue", "--as-of", "2026-11-20")
    assert "上报街镇" not in after.stdout and "共 2 件" in after.stderr

    again = run("followups", "close", report, "--result", "x", "--operator", "李娜", "--data", data)
    assert again.returncode == 1 and "已于" in again.stderr and "Traceback" not in again.stderr
    missing = run("followups", "close", "nosuchid", "--result", "x", "--operator", "李娜", "--data", data)
    assert missing.returncode == 1 and "没有找到跟进事项 nosuchid" in missing.stderr


def test_keycase_report_prints_per_town(tmp_path):
    data = tmp_path / "data"
    eng = open_engine(data)
    visit(eng, person_in(eng, 1).id, "2026-11-10", **REFERRAL_AND_RAISED)
    eng.close()
    res = run("followups", "report", "--data", data, "--quarter", "2026Q4", "--as-of", "2026-12-01", "--json")
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    assert rep["title"] == "重点帮扶对象跟进情况表"
    row = next(r for r in rep["rows"] if r["unit_code"] == "120116157000")
    assert (row["c1"], row["c3"], row["c5"], row["c12"]) == (2, 1, 1, 2)


def test_keycase_report_exports_as_csv_by_village_for_a_town(tmp_path):
    import csv

    data = tmp_path / "data"
    eng = open_engine(data)
    visit(eng, person_in(eng, 1).id, "2026-11-10", **REFERRAL_AND_RAISED)
    eng.close()
    res = run("followups", "export", "--data", data, "--format", "csv", "--output", tmp_path / "跟进情况",
              "--quarter", "2026Q4", "--town", "小王庄镇")
    assert res.returncode == 0, res.stderr
    with open(res.stdout.strip(), encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:3] == ["村（居）委会", "本季度新增/合计", "本季度新增/应急处置"]
    assert rows[1][0] == "渡口村" and rows[1][1] == "2"
