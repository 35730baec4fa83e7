"""Bounds on what one form expression may cost: refused when the form is checked, or guarded
while it runs.

An expression is evaluated for every record of a roster, so one that runs for minutes or
allocates gigabytes stops every office using the form. A time budget cannot do the job in
Python: the costly steps (`4000000**4000000`, a 999,999,999-wide format, `str` of a huge
list) are single C calls that no signal interrupts. So the language is bounded instead:

- `check_static` (run by `forms check` through `Evaluator.parse`, so the admin gets
  FILE:LINE:COL): at most `MAX_SOURCE` characters; a comprehension has one `for` and holds no
  other comprehension (the `sum(1 for a in s for b in s)` of 10^10 steps); no `<<`, `>>`, `@`;
  f-string format specs are constant and at most three digits wide; constant powers and
  repetitions that would be huge are refused at once;
- the runtime guards below replace `*`, `**`, `+`, `%`, f-string values and the `str`, `sum`,
  `round` functions: results stay under `MAX_LENGTH` items and `MAX_BITS` bits, so with one
  loop per comprehension over at most `MAX_LENGTH` items, one evaluation is bounded to a few
  hundred million C steps at the very worst, and memory to a few megabytes.
"""
from __future__ import annotations

import ast
import math
from typing import Any

from simpleeval import FeatureNotAvailable, IterableTooLong, NumberTooHigh

MAX_SOURCE = 2_000       # characters in one expression (the shipped forms' longest is ~300)
MAX_LENGTH = 10_000      # items/characters a repetition, sum or conversion may produce
MAX_BITS = 4_096         # bits in an integer a power may produce (1.3 × 10^1233)
MAX_WIDTH_DIGITS = 3     # f"{x:>999}" at most
_REFUSED_OPS = (ast.LShift, ast.RShift, ast.MatMult)
_COMPS = (ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.SetComp)


class TooCostly(ValueError):
    """An expression whose cost is unbounded; the message is Chinese."""


def check_static(node: ast.AST, source: str) -> None:
    """Raise `TooCostly` for an expression whose cost the runtime guards could not bound."""
    if len(source) > MAX_SOURCE:
        raise TooCostly(f"表达式太长（{len(source)} 个字符，最多 {MAX_SOURCE}）")
    for sub in ast.walk(node):
        if isinstance(sub, _COMPS):
            if len(sub.generators) > 1:
                raise TooCostly("推导式只能有一个 for（多个 for 相乘，可能要算上亿次）")
            inner = [n for n in ast.walk(sub) if n is not sub and isinstance(n, _COMPS)]
            if inner:
                raise TooCostly("推导式里不能再套推导式（循环相乘，可能要算上亿次）")
        elif isinstance(sub, ast.BinOp):
            if isinstance(sub.op, _REFUSED_OPS):
                raise TooCostly(f"表达式里不能用运算符 {type(sub.op).__name__}")
            if isinstance(sub.left, ast.Constant) and isinstance(sub.right, ast.Constant):
                try:
                    _GUARDS[type(sub.op)](sub.left.value, sub.right.value) if type(sub.op) in _GUARDS else None
                except (TooCostly, NumberTooHigh, IterableTooLong, FeatureNotAvailable) as exc:
                    raise TooCostly(str(exc)) from None
                except Exception:  # noqa: BLE001 - other errors show when the expression runs
                    pass
        elif isinstance(sub, ast.FormattedValue) and sub.format_spec is not None:
            parts = sub.format_spec.values if isinstance(sub.format_spec, ast.JoinedStr) else [sub.format_spec]
            if not all(isinstance(p, ast.Constant) for p in parts):
                raise TooCostly("f-字符串的格式说明只能是固定文字")
            spec = "".join(str(p.value) for p in parts)
            if any(len(run) > MAX_WIDTH_DIGITS for run in _digit_runs(spec)):
                raise TooCostly(f"f-字符串的宽度或精度太大：{spec}")
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and len(sub.value) > MAX_LENGTH:
            raise TooCostly("表达式里的文字太长")


def _digit_runs(text: str) -> list[str]:
    runs, cur = [], ""
    for ch in text:
        if ch.isdigit():
            cur += ch
        else:
            if cur:
                runs.append(cur)
            cur = ""
    return runs + ([cur] if cur else [])


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)) else None


def bounded_mult(a: Any, b: Any) -> Any:
    """`*`: text repeated to at most `MAX_LENGTH` characters; lists are not repeated at all
    (`[[1]*9999]*9999` is small, its text is not)."""
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, (list, tuple)) and isinstance(n, int) and not isinstance(n, bool):
            raise FeatureNotAvailable("表达式里不能重复列表（[...] * n）")
        if isinstance(seq, str) and isinstance(n, int) and not isinstance(n, bool) and len(seq) * n > MAX_LENGTH:
            raise IterableTooLong(f"重复后的文字太长（超过 {MAX_LENGTH} 个字符）")
    return a * b


def bounded_pow(a: Any, b: Any) -> Any:
    """`**`: an integer result of at most `MAX_BITS` bits; floats overflow on their own."""
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        if b * math.log2(abs(a)) > MAX_BITS:
            raise NumberTooHigh(f"乘方的结果太大（超过 {MAX_BITS} 位二进制）")
    if isinstance(b, (int, float)) and abs(b) > 10 ** 6:
        raise NumberTooHigh("指数太大")
    return a ** b


def bounded_add(a: Any, b: Any) -> Any:
    la, lb = _length(a), _length(b)
    if la is not None and lb is not None and la + lb > MAX_LENGTH * 10:
        raise IterableTooLong("相加后的内容太长")
    return a + b


def bounded_mod(a: Any, b: Any) -> Any:
    """`%`: numbers only; `'%999999999s' % x` would allocate a gigabyte of spaces."""
    if isinstance(a, (str, bytes)):
        raise FeatureNotAvailable("表达式里不能用 % 格式化文字，请用 f-字符串")
    return a % b


def bounded_value(value: Any) -> Any:
    """`value` if turning it into text stays small: `str` and f-strings of a list of 10,000
    copies of a 10,000-character text would be 100 MB."""
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        total, stack = 0, [value]
        while stack:
            item = stack.pop()
            n = _length(item)
            if n is None:
                total += 1
            else:
                total += n
                if isinstance(item, dict):
                    stack.extend(item.values())
                    stack.extend(item.keys())
                elif not isinstance(item, (str, bytes)):
                    stack.extend(item)
            if total > MAX_LENGTH * 10:
                raise IterableTooLong("内容太多，不能整个转成文字")
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_BITS:
        raise NumberTooHigh("数字太大，不能转成文字")
    return value


def bounded_str(value: Any = "") -> str:
    return str(bounded_value(value))


def bounded_sum(items: Any, start: Any = 0) -> Any:
    """`sum` of numbers: with a list as `start` it would build lists quadratically."""
    if not isinstance(start, (int, float)) or isinstance(start, bool):
        raise FeatureNotAvailable("sum 只能对数字求和")
    return sum(items, start)


def bounded_round(number: Any, ndigits: Any = None) -> Any:
    if ndigits is not None and (not isinstance(ndigits, int) or abs(ndigits) > 20):
        raise NumberTooHigh("round 的位数应在 -20 到 20 之间")
    return round(number) if ndigits is None else round(number, ndigits)


_GUARDS = {ast.Mult: bounded_mult, ast.Pow: bounded_pow, ast.Add: bounded_add, ast.Mod: bounded_mod}
GUARD_NAMES = {ast.Mult: "_cb_mult", ast.Pow: "_cb_pow", ast.Add: "_cb_add", ast.Mod: "_cb_mod"}
GUARD_GLOBALS = {name: _GUARDS[op] for op, name in GUARD_NAMES.items()} | {"_cb_value": bounded_value}
BOUNDED_FUNCTIONS = {"str": bounded_str, "sum": bounded_sum, "round": bounded_round}
