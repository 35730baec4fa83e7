"""`carebook … -h` in Chinese: every subcommand, option and argument says what it takes.

Walks the real parser tree (as `core.cli.main` builds it, argparse's own words replaced) and
fails on any subcommand, option or positional without help, and on help that is English.
"""
from __future__ import annotations

import argparse
import re

import pytest

from core import cli

CJK = re.compile(r"[\u4e00-\u9fff]")
# Three English words in a row is a phrase ("show this help"); a command name or a format
# ("forms list", "xlsx、csv") inside Chinese help is not.
ENGLISH_PHRASE = re.compile(r"\b[A-Za-z]{2,}(?:[ ,]+[A-Za-z]{2,}){2,}\b")


def parser() -> argparse.ArgumentParser:
    p = cli.build_parser()
    cli._in_chinese(p)          # what main() does before parsing: argparse's own words in Chinese
    return p


def every_help(p: argparse.ArgumentParser, path: str = "carebook"):
    """(where, help) for every subcommand, option and positional under `p`."""
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{path} {name}", helps.get(name)
                yield from every_help(sub, f"{path} {name}")
        elif action.help is not argparse.SUPPRESS:
            yield f"{path} {'/'.join(action.option_strings) or action.dest}", action.help


def wrong(help_text: str | None) -> str | None:
    if not help_text:
        return "no help"
    if not CJK.search(help_text):
        return "not Chinese"
    if ENGLISH_PHRASE.search(help_text):
        return f"English: {ENGLISH_PHRASE.search(help_text).group()!r}"
    return None


def test_every_option_and_argument_has_chinese_help():
    found = list(every_help(parser()))
    assert len(found) > 150, len(found)          # the whole tree was walked, commands/ included
    bad = [f"{where}: {why}" for where, text in found if (why := wrong(text))]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("text, why", [
    (None, "no help"), ("", "no help"), ("show this help message and exit", "not Chinese"),
    ("the town code 街镇", "English"), ("街镇：名称或 12 位代码", None), ("导出格式，如 xlsx、csv", None),
    ("表单编号，如 registration（登记表）；forms list 列出全部", None),
])
def test_the_check_itself(text, why):
    got = wrong(text)
    assert (got is None) if why is None else (got is not None and got.startswith(why)), got


def test_help_is_printed_in_chinese(capsys):
    with pytest.raises(SystemExit):
        cli.main(["records", "list", "-h"])
    out = capsys.readouterr().out
    assert "用法：" in out and "街镇：名称" in out and "显示本帮助并退出" in out
    assert "show this help" not in out and "usage:" not in out


def every_parser(p: argparse.ArgumentParser):
    yield p
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from every_parser(sub)


def test_help_fits_an_80_column_terminal_and_names_values_in_chinese(monkeypatch):
    """`-h` on an 80-column terminal (Windows' console, an SSH session): no line wider than the
    screen counting a Chinese character as two columns, help beside its option in one column,
    and the usage naming what an option takes in Chinese (`--town 街镇`), not `--town TOWN`."""
    monkeypatch.setenv("COLUMNS", "80")
    helps = [sub.format_help() for sub in every_parser(parser())]
    assert len(helps) > 40
    for text in helps:
        usage = text.split("\n\n")[0]
        assert not re.search(r"\b[A-Z][A-Z_]{2,}\b", usage), usage
        for line in text.splitlines():
            assert cli._cells(line) <= 80, line
            assert not line.lstrip().startswith(("，", "。", "、", "）")), line
    listing = next(t for t in helps if t.startswith("用法：carebook records list"))
    starts = set()
    for line in listing.splitlines():
        if line.startswith(("  --town", "  --limit", "  --data", "  --json")):
            m = re.match(r"(\s+\S+(?: \S+)?\s{2,})\S", line)
            starts.add(cli._cells(m.group(1)))
    assert len(starts) == 1, listing          # --data 文件夹或网址 lines up with --json
