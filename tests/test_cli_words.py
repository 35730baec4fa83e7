"""What the `carebook` command says to staff is Chinese and names places: no rule keys such as
`(required)`, no English tails on storage errors, towns and villages by name in `records list`."""
from __future__ import annotations

import json
import re

import pytest

from binhai_support import TOWN, VILLAGE, copy_forms, open_engine, person
from core.cli import main
from core.storage.errors import StorageError
from core.storage.names import check_partition, check_table

LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


@pytest.fixture
def ledger(tmp_path):
    forms = copy_forms(tmp_path)
    eng = open_engine(tmp_path, forms)
    eng.save("registration", eng.new_record("registration", **person(name="周玉兰", phone="13812345678")))
    eng.close()
    return ["--data", str(tmp_path / "data"), "--forms", str(forms)]


def test_records_list_names_the_town_and_the_village_and_still_masks(ledger, capsys):
    from core.engine import Engine

    eng = Engine.open(ledger[1], forms_dir=ledger[3])
    town, village = eng.divisions.name(TOWN), eng.divisions.name(VILLAGE)
    eng.close()
    assert main([*ledger, "records", "list", "registration"]) == 0
    line = capsys.readouterr().out.strip()
    cells = line.split("\t")
    assert f"{village}（{VILLAGE}）" in cells and town in cells, line
    assert TOWN not in line and VILLAGE not in cells                    # no bare codes left
    assert "138****5678" in cells and "13812345678" not in line        # masking as before
    assert main([*ledger, "records", "list", "registration", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert row["village"] == VILLAGE and row["town"] == TOWN            # scripts keep the codes


def test_a_refused_record_says_what_is_missing_without_the_rule_key(ledger, tmp_path, capsys):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(person(ethnicity=None), ensure_ascii=False), encoding="utf-8")
    assert main([*ledger, "records", "add", "registration", str(path), "--operator", "刘敏"]) == 1
    out = capsys.readouterr().out
    assert "民族 必须填写" in out and "(required)" not in out, out


@pytest.mark.parametrize("check, value", [(check_table, "Bad-Name"), (check_partition, "CON"),
                                          (check_partition, "a/b")])
def test_storage_name_errors_are_chinese(check, value):
    with pytest.raises(StorageError) as err:
        check(value)
    text = str(err.value).replace(repr(value), "")
    assert re.search(r"[\u4e00-\u9fff]", text) and not LATIN_WORD.findall(text.replace("CON", "").replace("NUL", "")), text
