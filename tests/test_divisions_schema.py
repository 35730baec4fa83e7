"""`forms/data/divisions.yaml` against its own meta-schema (core/schemas/divisions.schema.json):
`carebook forms check` names file, line and column of each key or value the schema refuses, in
Chinese, and a refused file never reaches staff (the load falls back to the published copy)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from binhai_support import copy_forms, edit  # noqa: E402

from core.cli import main  # noqa: E402
from core.formlang.divisionschema import SCHEMA_PATH, check_divisions_file  # noqa: E402

SHIPPED = Path(__file__).resolve().parent.parent / "forms" / "data" / "divisions.yaml"
LINE = '      - {code: "120116157201", name: 渡口村, confirmed: true, valid_from: null, valid_to: null}'


def _where(path: Path, text: str, inside: str) -> tuple[int, int]:
    """1-based line of the line holding `text`, and column of `inside` on it."""
    [(n, line)] = [(i, s) for i, s in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in s]
    return n, line.index(inside) + 1


def test_the_shipped_file_conforms_and_the_schema_is_a_json_schema():
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert check_divisions_file(SHIPPED) == []


@pytest.mark.parametrize("new, inside, message", [
    ('{code: 120116157201, name: 渡口村, confirmed: true,', "120116157201",
     "towns.10.villages.0.code: 应为文字，实际是数字 120116157201；如果这是文字，请加引号。村代码必须写成带引号的字符串"),
    ('{code: "120116157201", nmae: 渡口村, confirmed: true,', "nmae", "towns.10.villages.0.nmae: 未知的键 “nmae”，是不是 name？"),
    ('{code: "120116157201", name: 渡口村, confirmed: 是,', "是", "confirmed: 应为true/false，实际是文字 “是”"),
    ('{code: "120116157000", name: 渡口村, confirmed: true,', '"120116157000"', "村代码必须写成带引号的字符串（12位数字，后3位不是 000）"),
    ('{code: "12011615720", name: 渡口村, confirmed: true,', '"12011615720"', "“12011615720” 写法不对"),
])
def test_forms_check_locates_what_the_schema_refuses(tmp_path, capsys, new, inside, message):
    forms = copy_forms(tmp_path)
    path = forms / "data" / "divisions.yaml"
    edit(path, '{code: "120116157201", name: 渡口村, confirmed: true,', new)
    line, col = _where(path, new, inside)
    code = main(["forms", "check", "--forms", str(forms), "--no-data"])
    out = capsys.readouterr().out
    assert code == 1
    hit = [s for s in out.splitlines() if s.startswith(f"forms/data/divisions.yaml:{line}:{col}: ")]
    assert hit and message in hit[0], out


def test_a_bad_date_and_a_wrong_town_code_are_located_at_their_values(tmp_path, capsys):
    forms = copy_forms(tmp_path)
    path = forms / "data" / "divisions.yaml"
    edit(path, LINE, LINE.replace("valid_to: null}", 'valid_to: "2025-13-01"}'))
    edit(path, 'code: "120116157000"', 'code: "120116157001"')
    assert main(["forms", "check", "--forms", str(forms), "--no-data"]) == 1
    out = capsys.readouterr().out
    line, col = _where(path, '"2025-13-01"', '"2025-13-01"')
    assert f"divisions.yaml:{line}:{col}: towns.10.villages.0.valid_to: “2025-13-01” 写法不对：日期写成 \"YYYY-MM-DD\"" in out
    line, col = _where(path, 'code: "120116157001"', '"120116157001"')
    assert f"divisions.yaml:{line}:{col}: towns.10.code: “120116157001” 写法不对：街镇代码必须写成带引号的字符串" in out


def test_what_the_schema_cannot_say_is_still_reported_once(tmp_path, capsys):
    """A village under another town's prefix passes the schema; the plugin's check reports it."""
    forms = copy_forms(tmp_path)
    path = forms / "data" / "divisions.yaml"
    edit(path, LINE, LINE.replace('"120116157201"', '"120116158299"'))
    assert main(["forms", "check", "--forms", str(forms), "--no-data"]) == 1
    out = capsys.readouterr().out
    line, _ = _where(path, '"120116158299"', '"120116158299"')
    hits = [s for s in out.splitlines() if s.startswith(f"forms/data/divisions.yaml:{line}:")]
    assert len(hits) == 1 and "前9位" in hits[0], out
