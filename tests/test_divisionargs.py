"""Divisions named on the command line (issue 9, item 7): a name or a code wherever the CLI takes
--town/--village, an unknown one refused (exit 1) with close matches; --demo before or after."""
from __future__ import annotations

import sys
from pathlib import Path

from core.cli import build_parser, main

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
from tui_support import open_engine  # noqa: E402


def ledger(tmp_path) -> Path:
    folder = tmp_path / "data"
    open_engine(folder, persons=60).close()
    return folder


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_town_by_name_gives_what_its_code_gives(tmp_path, capsys):
    folder = ledger(tmp_path)
    from core.engine import Engine

    with Engine.open(folder) as eng:
        town = next(t for t in eng.divisions.towns() if eng.count("registration", {"town": t.code}))
    by_code = run(capsys, "--data", folder, "visits", "due", "--as-of", "2026-11-30", "--town", town.code)
    by_name = run(capsys, "--data", folder, "visits", "due", "--as-of", "2026-11-30", "--town", town.name)
    assert by_code == by_name and by_name[0] == 0
    code, out, _ = run(capsys, "--data", folder, "report", "summary", "--town", town.name, "--json")
    assert code in (0, 1) and "未知区划" not in out and town.name in out
    people = run(capsys, "--data", folder, "records", "list", "registration", "--town", town.name, "--json")[1]
    assert people.count('"id"') == run(capsys, "--data", folder, "records", "list", "registration",
                                       "--town", town.code, "--json")[1].count('"id"') > 0


def test_unknown_town_is_refused_with_close_matches(tmp_path, capsys):
    folder = ledger(tmp_path)
    code, out, err = run(capsys, "--data", folder, "visits", "due", "--town", "太平")
    assert code == 1 and "没有找到街镇“太平”" in err and "太平镇" in err and not out
    code, _, err = run(capsys, "--data", folder, "export", "roster", "--format", "xlsx",
                       "--output", tmp_path / "r.xlsx", "--town", "太平")
    assert code == 1 and "太平镇" in err and not (tmp_path / "r.xlsx").exists()


def test_village_by_short_name_needs_its_town_when_several_share_it(tmp_path, capsys):
    from collections import Counter

    from core.engine import Engine
    from tui.roles import short_village

    folder = ledger(tmp_path)
    with Engine.open(folder) as eng:
        divisions = eng.divisions
        shorts = Counter(short_village(divisions, v.code) for v in divisions.all_villages())
        shared = next(name for name, n in shorts.items() if n > 1)
        town = next(divisions.name(v.parent) for v in divisions.all_villages()
                    if short_village(divisions, v.code) == shared)
    code, _, err = run(capsys, "--data", folder, "visits", "due", "--village", shared)
    assert code == 1 and f"有几个村（居）委会叫“{shared}”" in err
    code, _, err = run(capsys, "--data", folder, "visits", "due", "--town", town, "--village", shared)
    assert code == 0, err


def test_demo_option_before_or_after_the_subcommand():
    parser = build_parser()
    assert parser.parse_args(["--demo", "visits", "due"]).demo is True
    assert parser.parse_args(["visits", "due", "--demo"]).demo is True
    assert parser.parse_args(["report", "roster", "--demo"]).demo is True
    assert not parser.parse_args(["visits", "due"]).demo
