"""`--town 太平镇` or `--town 120116107000`: a division named on the command line, by name or code.

Filters compare stored codes, so a name used to match nothing and the command said nothing:
`visits due --town 太平镇` listed 0 people with exit 0, and a summary of zeros could be sent
upward. Here a name (or a code) is turned into the code the records hold, using the engine's
division list; an unknown one is an error that lists the close matches.
"""
from __future__ import annotations

import difflib
from typing import Any

from core.problems import CarebookError


class UnknownDivision(CarebookError):
    """A --town/--village the division list does not know (the CLI exits 1)."""


def _short(name: str, town_name: str | None) -> str:
    return name[len(town_name):] if town_name and name.startswith(town_name) and name != town_name else name


def resolve(divisions: Any, text: str, level: str, town: str | None = None) -> str:
    """The code of the town or village `text` names (its code, its full name, or for a village
    its name without the town's); `town` narrows a village to one town."""
    value = text.strip()
    found = divisions.get(value)
    if found is not None and found.level == level:
        return found.code
    if level == "town":
        candidates = {t.name: t.code for t in divisions.towns()}
        what = "街镇"
    else:
        pool = divisions.villages(town) if town else divisions.all_villages()
        candidates: dict[str, str] = {}
        for v in pool:
            candidates.setdefault(v.name, v.code)
        what = "村（居）委会"
        short: dict[str, list[str]] = {}
        for v in pool:
            short.setdefault(_short(v.name, divisions.name(v.parent)), []).append(v.code)
        if value not in candidates and len(short.get(value, [])) == 1:
            return short[value][0]
        if len(short.get(value, [])) > 1:
            names = "、".join(divisions.name(c) or c for c in short[value])
            raise UnknownDivision(f"有几个村（居）委会叫“{value}”：{names}。请同时给出 --town，或写全称或代码。")
    if value in candidates:
        return candidates[value]
    close = difflib.get_close_matches(value, list(candidates), n=5, cutoff=0.3)
    close += [n for n in candidates if value and value in n and n not in close][:5 - len(close)]
    hint = f"相近的有：{'、'.join(close)}。" if close else "区划名称见 forms/data/divisions.yaml。"
    raise UnknownDivision(f"没有找到{what}“{value}”。{hint}")


def resolve_args(divisions: Any, args: Any) -> None:
    """Replace `args.town` / `args.village` (where the command has them) by codes, in place."""
    town = getattr(args, "town", None)
    if town:
        args.town = resolve(divisions, town, "town")
    village = getattr(args, "village", None)
    if village:
        args.village = resolve(divisions, village, "village", getattr(args, "town", None) or None)
