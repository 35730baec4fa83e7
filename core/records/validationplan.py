"""The per-field work of `Validator.check`, made once per form field instead of per value.

A bulk save (the 50,000-person demo, an import check) cleans about sixty values and evaluates
a few dozen conditions for every record. Each went through several generic layers — look up
the field type, call its `normalize`, which checks for blank and invisible text before its own
cleaning; ask the evaluator, which looks the compiled expression up, runs it and turns a
failure into `ExpressionError` for `relevant` to turn into False. Here each field gets one
function that does what those layers did, with the lookups done once:

- `normalizer`: a field type's `normalize`, a failure reported with the Chinese text staff
  see (`cleaner`: the same raising `CleanError`, for computed values). Field types that declare `pure = True` (their cleaning depends only on the value and the
  field: the basic types of `plugins/basic_types.py`, phones; not ID numbers, whose check
  reads today's date) have their answers remembered per field —
  a choice field of 50,000 records holds a handful of distinct values, a date field a few
  hundred — so cleaning most values is one dictionary look-up. A bounded number of values
  is remembered per field (`MEMO_LIMIT`); a field whose memory grows faster than it answers
  (names, phone numbers, all different) lets it go and is cleaned afresh.
  A type whose cleaning also reads something else (division codes: the division list and
  today's date) can offer `memo_scope()`, a token of that state (None: do not remember now);
  its answers are remembered while the token stays equal, forgotten when it changes.
- `condition`: an expression as `Evaluator.relevant` reads it (no expression: true; one that
  fails: false), `value`: as `Evaluator.calculate` reads it (one that fails: None).

Results are those of the generic path, value for value and message for message
(`tests/test_validationplan.py` compares both on demo records and broken ones).
"""
from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any, Callable

from core.formlang.exprcompile import Compiled, first_true
from core.formlang.expressions import Evaluator, ExpressionError
from core.problems import Problem

MEMO_LIMIT = 4096      # distinct values remembered per field


class CleanError(Exception):
    """A value its field type refused; `text` is the whole problem sentence (label included)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


class _Refused:
    """A remembered refusal (kept apart from values, which may be anything)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def memo_key(value: Any) -> Any:
    """A key that tells apart every value a type could clean (or a schema judge) differently,
    or None (not remembered). Text is its own key; numbers and lists carry their type (1, True
    and 1.0 are equal keys to a dict, and -0.0 equals 0.0, so floats are not remembered at all)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is int or kind is bool:
        return (kind, value)
    if kind is list and all(type(x) is str for x in value):
        return (list, tuple(value))
    return None


def cleaner(field_type: Any, field: Any) -> Callable[[Any], Any]:
    """`value -> clean value` of one field, raising `CleanError` with the sentence
    `Validator.normalize` reports (ValueError: the type's own words; anything else: "无法识别的值").
    Answers are remembered when the type is `pure` (see `normalizer`)."""
    clean = normalizer(field_type, field)
    held = remembered(clean)

    def checked(value: Any) -> Any:
        if held is not None:         # a remembered answer looked up here, as `Validator.normalize` does
            kind = value.__class__
            key = value if kind is str else (int, value) if kind is int else None    # `memo_key`'s keys
            if key is not None:
                found = held[1].get(key, held)
                if found is not held and found.__class__ in SHARED_ANSWERS:
                    held[2] += 1
                    return found
        problems: list = []
        value = clean(value, "", problems)
        if problems:
            raise CleanError(problems[0].message)
        return value
    return checked


def normalizer(field_type: Any, field: Any) -> Callable[[Any, str, list], Any]:
    """`(value, path, problems) -> clean value` of one field: None for "not filled" and for a
    value the type refused, which is then reported in `problems` at `path`."""
    normalize = field_type.normalize
    label = field.label

    def cleaned(value: Any) -> Any:
        """The clean value, or the refusal (no state shared between calls: threads may clean)."""
        try:
            return normalize(value, field)
        except ValueError as exc:
            return _Refused(f"{label}：{exc} (normalize)")
        except Exception as exc:  # noqa: BLE001 - a plugin type must not crash validation
            return _Refused(f"{label}：无法识别的值 ({type(exc).__name__}: {exc})")

    def fresh(value: Any, path: str, problems: list) -> Any:
        found = cleaned(value)
        if type(found) is _Refused:
            problems.append(Problem(found.text, path, rule="normalize"))
            return None
        return found

    scope = None if getattr(field_type, "pure", False) else getattr(field_type, "memo_scope", None)
    if field.fields or not (scope or getattr(field_type, "pure", False)):
        return fresh
    current: list = [[None, {}, 0, True]]   # the memory in use: [scope token, answers, values cleaned, still adding?]

    def scoped(value: Any, path: str, problems: list) -> Any:
        """`recall` while the type's scope (what else its cleaning reads) stays the same; a new
        scope starts a new memory, a new list, so a thread still cleaning against the old one
        keeps learning into the old one and never files an old answer under the new scope."""
        token = scope()
        if token is None:
            return fresh(value, path, problems)
        state = current[0]
        if token != state[0]:
            state = current[0] = [token, {}, 0, True]
        return recall(state, value, path, problems)

    def recall(state: list, value: Any, path: str, problems: list) -> Any:
        memo = state[1]
        state[2] += 1
        key = value if type(value) is str else memo_key(value)
        found = memo.get(key, state) if key is not None else state      # `state`: not remembered
        if found is state:
            found = cleaned(value)
            if key is not None and state[3]:
                learn(state, key, found)
        kind = type(found)
        if kind is _Refused:
            problems.append(Problem(found.text, path, rule="normalize"))
            return None
        return found.copy() if kind is list or kind is dict else found   # a caller may change it
    if scope is not None:
        return scoped
    pure = partial(recall, current[0])
    pure.held = current[0]      # read by `Validator.normalize` (`remembered`): one memory for good
    return pure


def remembered(clean: Callable) -> list | None:
    """The memory of a pure field's normalizer ([_, answers, values asked, still adding?]), for a
    caller that looks a text up itself before calling it; None for any other normalizer."""
    return getattr(clean, "held", None)


#: Answers a caller may take from a normalizer's memory as they are (a list is copied by the
#: normalizer, a refusal reported by it).
SHARED_ANSWERS = frozenset({str, int, bool, type(None)})


def learn(held: list, key: Any, found: Any) -> None:
    """Remember one answer in `held` ([scope, memory, values asked, still adding?]), up to
    `MEMO_LIMIT`. Each time the memory reaches a size in `_REVIEW`, and when full, it must
    have answered half the values asked so far, else it is let go for good (names, phone
    numbers: nearly all different — and each town's validator would hold its own)."""
    memo = held[1]
    memo[key] = found
    size = len(memo)
    if size in _REVIEW or size >= MEMO_LIMIT:
        if held[2] < 2 * size:
            held[3] = False
            memo.clear()
        elif size >= MEMO_LIMIT:
            held[3] = False                 # kept, no longer grown


_REVIEW = frozenset({256, 1024})


_SHAREABLE = (str, int, float, bool, dt.date, type(None))


def remembering(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`convert` of one value with its answers for text remembered, as cleaning remembers
    them: for a pure type's conversion of stored values for expressions. Only answers nobody
    can change are kept (text, numbers, dates)."""
    held: list = [None, {}, 0, True]

    def call(value: Any) -> Any:
        if type(value) is not str:
            return convert(value)
        held[2] += 1
        found = held[1].get(value, held)
        if found is held:
            found = convert(value)
            if held[3] and isinstance(found, _SHAREABLE):
                learn(held, value, found)
        return found
    call.held = held          # read by `Validator.names`, which looks a text up itself
    return call


def _plain(evaluator: Evaluator) -> bool:
    """Whether `evaluator` evaluates as `Evaluator` does (a subclass may not: then it is asked)."""
    kind = type(evaluator)
    return all(getattr(kind, name) is getattr(Evaluator, name) for name in ("eval", "relevant", "calculate"))


def condition(evaluator: Evaluator, expr: str | None) -> Callable[[dict], bool] | None:
    """`names -> bool` as `evaluator.relevant(expr, names)` (one that fails: False); None when
    there is no condition (always true, and the caller can skip the call)."""
    return _closure(evaluator, expr, truth=True) if expr else None


def value(evaluator: Evaluator, expr: str) -> Callable[[dict], Any]:
    """`names -> value` as `evaluator.calculate(expr, names)` (None when it cannot be worked out)."""
    return _closure(evaluator, expr, truth=False)


def first(evaluator: Evaluator, whens: list[str | None]) -> Callable[[dict], int]:
    """`names -> i`, the index of the first of `whens` that holds as `condition` reads each
    (no expression: true; one that fails: false), `len(whens)` when none does: which of a
    computed field's `cases` applies.

    The conditions run as one code object (`exprcompile.first_true`), in order, stopping at the
    first true one: the risk level's fourteen cases were fourteen calls and evaluations for a
    person at low risk. When any condition fails (an input still empty: `None >= 80`), the
    whole answer is worked out again one condition at a time (`one_by_one`), where a failing
    condition counts as false and the next is asked — the conditions only read the names, so
    asking again gives what the first pass would have. `tests/test_check_fastpaths.py` compares
    both over every combination of the risk table's inputs."""
    singles = [condition(evaluator, when) for when in whens]

    def one_by_one(names: dict) -> int:
        for i, when in enumerate(singles):
            if when is None or when(names):
                return i
        return len(singles)
    if len(whens) < 2 or not _plain(evaluator):
        return one_by_one
    try:
        chain = Compiled(first_true([evaluator.parse(w) if w else None for w in whens]), "cases")
    except (ExpressionError, ValueError, SyntaxError, RecursionError, MemoryError):
        return one_by_one
    code, env, scoped = chain.code, evaluator._globals, chain.scoped

    def at_once(names: dict) -> int:
        try:
            return eval(code, {**env, **names}) if scoped else eval(code, env, names)  # noqa: S307 - checked, rewritten, no built-ins
        except Exception:  # noqa: BLE001 - a condition failed: each asked alone, as `condition` does
            return one_by_one(names)
    return at_once


def _closure(evaluator: Evaluator, expr: str, truth: bool) -> Callable[[dict], Any]:
    """`condition` (`truth`) or `value` of one expression: its code run as `Compiled.run` runs
    it, without that call in between (a record's conditions and calculations are some forty
    calls) — with the names as locals, or merged into the globals when a comprehension reads
    them (`Compiled.scoped`). A single name is run as code too: it reads the names first, as
    `run`'s look-up does."""
    failed = False if truth else None
    if not _plain(evaluator):
        asked = evaluator.relevant if truth else evaluator.calculate
        return lambda names: asked(expr, names)
    try:
        compiled, env = evaluator.compiled(expr), evaluator._globals
    except ExpressionError:
        return lambda names: failed
    code, scoped = compiled.code, compiled.scoped
    if not truth:
        def calc(names: dict) -> Any:
            try:
                return eval(code, {**env, **names}) if scoped else eval(code, env, names)  # noqa: S307 - checked, rewritten, no built-ins
            except Exception:  # noqa: BLE001 - as `Evaluator.calculate`: not computable is None
                return None
        return calc

    def test(names: dict) -> bool:
        try:
            result = eval(code, {**env, **names}) if scoped else eval(code, env, names)  # noqa: S307 - checked, rewritten, no built-ins
        except Exception:  # noqa: BLE001 - as `Evaluator.relevant`: a failing condition hides
            return False
        return bool(result)
    return test
