"""Two engines in one process on two forms folders share nothing a plugin read from files.

The division list used to be a module global of the Chinese plugin: the second engine opened
pointed it at its own folder, and the first engine then answered with the second's village
names and accepted the second's codes. Now every engine's registry is built with that engine
(``register_data``, ``register_field_types(register, engine)``) and reads its own file.
"""
from __future__ import annotations

from binhai_support import TOWN, VILLAGE, copy_forms, edit, person
from core.engine import Engine

RENAMED = "测试改名村"


def two_engines(tmp_path):
    forms_a = copy_forms(tmp_path / "a")
    forms_b = copy_forms(tmp_path / "b")
    edit(forms_b / "data" / "divisions.yaml", "渡口村", RENAMED)
    a = Engine.open(tmp_path / "a" / "data", forms_a, operator="甲")
    b = Engine.open(tmp_path / "b" / "data", forms_b, operator="乙")
    return a, b


def test_each_engine_answers_with_its_own_village_names(tmp_path):
    a, b = two_engines(tmp_path)
    with a, b:
        assert a.divisions.name(VILLAGE) == "渡口村"
        assert b.divisions.name(VILLAGE) == RENAMED
        assert a.divisions is not b.divisions
        # the expression functions and the field types each engine uses read its own file too
        assert a.registry.functions["division_name"](VILLAGE) == "渡口村"
        assert b.registry.functions["division_name"](VILLAGE) == RENAMED


def test_a_code_only_one_folder_has_is_accepted_only_by_that_engine(tmp_path):
    forms_a = copy_forms(tmp_path / "a")
    forms_b = copy_forms(tmp_path / "b")
    edit(forms_b / "data" / "divisions.yaml",
         '      - {code: "120116157201", name: 渡口村, confirmed: true, valid_from: null, valid_to: null}\n', "")
    with Engine.open(tmp_path / "a" / "data", forms_a, operator="甲") as a, \
            Engine.open(tmp_path / "b" / "data", forms_b, operator="乙") as b:
        assert b.divisions.get(VILLAGE) is None
        assert a.save("registration", person(town=TOWN, village=VILLAGE)).id
        problems = b.validate("registration", person(town=TOWN, village=VILLAGE))
        assert any(p.path == "village" for p in problems)
        assert a.validate("registration", person(town=TOWN, village=VILLAGE)) == []
