"""A key written with the full-width colon `：` (Chinese input left on) named as such.

`label： 填表人` is not a key to YAML: the scanner carries on and fails on the *next* line with
"could not find expected ':'", so the admin is sent one line too low to look for a missing
colon they can see. When a YAML syntax error comes after such a line, the message points at
the full-width colon itself and says to type `:` with the input method off.
"""
from __future__ import annotations

import re

from core.problems import Problem

_KEY_FW = re.compile(r"(?:^\s*(?:-\s+)?|[{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*(：)")


def fullwidth_colon(text: str, problem: Problem) -> Problem:
    """`problem` moved to, and reworded for, a `key：` at or above its line (else unchanged)."""
    lines = text.splitlines()
    last = min(problem.line or len(lines), len(lines))
    for i in range(last - 1, max(last - 4, 0) - 1, -1):
        line = lines[i].split("#", 1)[0]
        m = _KEY_FW.search(line)
        if m:
            return Problem(f"“{m.group(1)}” 后面是全角冒号“：”（中文输入法），YAML 只认半角冒号“:”，"
                           f"请改为 {m.group(1)}: (full-width colon)", problem.path, problem.file, i + 1,
                           m.start(2) + 1, "error", "syntax")
    return problem
