"""The admin-maintained division list (forms/data/divisions.yaml): towns and villages.

Official village names are incomplete and villages merge or split, so the list is a data file an
admin edits, with each code valid from/to a date. A bad edit must say exactly where it is: the
file is read with a loader that remembers line numbers, and every problem found is reported at
once (`divisions.yaml:42:9: ...`) instead of stopping at the first.

Dates: ``valid_from`` is the first day a code is in use, ``valid_to`` the last day (inclusive);
null means unbounded. Query methods take ``on=None`` to mean "any time" (every code the file
lists) and a date to mean "in use on that day".
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path


from core.problems import CarebookError, Problem
from core.steadyfiles import token as steady_token

from .text import fold

LEVELS = ("county", "town", "village")
_CODE = re.compile(r"\d{12}")
_TOWN_KEYS = {"code", "name", "valid_from", "valid_to", "villages"}
_VILLAGE_KEYS = {"code", "name", "valid_from", "valid_to", "confirmed"}


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: str                  # county | town | village
    parent: str | None          # town code of a village, county code of a town
    valid_from: date | None = None
    valid_to: date | None = None
    confirmed: bool = True      # false: the name still needs checking by an admin

    def in_use(self, on: date | None) -> bool:
        if on is None:
            return True
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on <= self.valid_to)


class DivisionsError(CarebookError):
    """The division file is missing or does not check; ``problems`` are located."""

    HEADER = "区划文件（街镇、村）有错误，无法使用，请改正后运行 carebook forms check："

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join([self.HEADER, *(str(p) for p in problems)]))


class Divisions:
    """Lookups over one loaded division file."""

    def __init__(self, county: Division, towns: list[Division], villages: list[Division]):
        self.county = county
        self._by_code = {d.code: d for d in [county, *towns, *villages]}
        self._towns = towns
        self._villages: dict[str, list[Division]] = {t.code: [] for t in towns}
        for v in villages:
            self._villages[v.parent].append(v)

    def get(self, code: object) -> Division | None:
        if code is None:
            return None
        found = self._by_code.get(code) if isinstance(code, str) else None   # stored codes are clean
        return found or self._by_code.get(fold(code))

    def towns(self, on: date | None = None) -> list[Division]:
        return [t for t in self._towns if t.in_use(on)]

    def villages(self, town_code: object, on: date | None = None) -> list[Division]:
        town = self.get(town_code)
        if town is None or town.level != "town":
            return []
        return [v for v in self._villages[town.code] if v.in_use(on)]

    def all_villages(self, on: date | None = None) -> list[Division]:
        return [v for t in self._towns for v in self._villages[t.code] if v.in_use(on)]

    def name(self, code: object) -> str | None:
        d = self.get(code)
        return d.name if d else None

    def town_of(self, village_code: object) -> str | None:
        d = self.get(village_code)
        return d.parent if d and d.level == "village" else None

    def is_valid(self, code: object, level: str | None = None, on: date | None = None) -> bool:
        d = self.get(code)
        return bool(d and (level is None or d.level == level) and d.in_use(on))


# ---- reading with line numbers -------------------------------------------------------------

class _Map(dict):
    """A mapping that remembers where it and each of its keys stood in the file."""

    line: int = 0
    key_lines: dict


@functools.cache
def _line_loader():
    """A SafeLoader whose mappings remember their lines, made on the first read: PyYAML is
    imported then, not when the plugin loads at start-up (~16 ms of the app's start)."""
    import yaml

    class _LineLoader(yaml.SafeLoader):
        pass

    def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
        loader.flatten_mapping(node)
        result = _Map()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in result:
                loader.duplicate_keys.append((key, key_node.start_mark.line + 1))
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    _LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
    return _LineLoader


class _Checker:
    """Collects located problems while turning the loaded YAML into ``Division`` objects."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[Problem] = []

    def err(self, line: int, message: str, where: str = "") -> None:
        self.problems.append(Problem(message, path=where, file=str(self.path), line=line, col=1))

    def mapping(self, value: object, line: int, where: str, allowed: set[str]) -> _Map | None:
        if not isinstance(value, _Map):
            self.err(line, "应为键值映射（如 {code: \"…\", name: …}）", where)
            return None
        for key in value:
            if key not in allowed:
                self.err(value.key_lines[key], f"未知的键“{key}”，可用的键：{'、'.join(sorted(allowed))}", where)
        return value

    def code(self, m: _Map, where: str) -> str | None:
        raw = m.get("code")
        line = m.key_lines.get("code", m.line)
        if raw is None:
            self.err(line, "缺少代码 code", where)
        elif not isinstance(raw, str):
            self.err(line, f"代码必须写成带引号的字符串，例如 \"{raw}\"", where)
        elif not _CODE.fullmatch(raw):
            self.err(line, "代码必须是12位数字（统计用区划代码）", where)
        else:
            return raw
        return None

    def name(self, m: _Map, where: str) -> str:
        raw = m.get("name")
        if not isinstance(raw, str) or not raw.strip():
            self.err(m.key_lines.get("name", m.line), "缺少名称 name，或名称不是文字", where)
            return ""
        return raw.strip()

    def day(self, m: _Map, key: str, where: str) -> date | None:
        raw = m.get(key)
        if raw is None or isinstance(raw, date):
            return raw
        if isinstance(raw, str):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                pass
        self.err(m.key_lines.get(key, m.line), f"{key} 应为 \"YYYY-MM-DD\" 格式的日期或 null", where)
        return None

    def span(self, m: _Map, where: str) -> tuple[date | None, date | None]:
        start, end = self.day(m, "valid_from", where), self.day(m, "valid_to", where)
        if start and end and end < start:
            self.err(m.key_lines.get("valid_to", m.line), "停用日期 valid_to 早于启用日期 valid_from", where)
        return start, end


def _read(path: Path) -> tuple[object, list[tuple[str, int]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DivisionsError([Problem(f"无法读取区划数据文件：{exc.strerror or exc}", file=str(path))]) from None
    except UnicodeDecodeError:
        raise DivisionsError([Problem("区划数据文件不是 UTF-8 编码", file=str(path))]) from None
    import yaml

    loader = _line_loader()(text)
    loader.duplicate_keys = []
    try:
        return loader.get_single_data(), loader.duplicate_keys
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DivisionsError([Problem(
            f"YAML 语法错误：{getattr(exc, 'problem', None) or exc}", file=str(path),
            line=mark.line + 1 if mark else None, col=mark.column + 1 if mark else None)]) from None
    finally:
        loader.dispose()


def load_divisions(path: str | os.PathLike) -> Divisions:
    """Read and check a division file; raise ``DivisionsError`` listing every problem."""
    path = Path(path)
    data, duplicates = _read(path)
    ck = _Checker(path)
    for key, line in duplicates:
        ck.err(line, f"重复的键“{key}”")
    root = ck.mapping(data, 1, "", {"version", "county", "towns"})
    if root is None:
        raise DivisionsError(ck.problems)

    county_map = ck.mapping(root.get("county"), root.key_lines.get("county", 1), "county", {"code", "name"})
    county_code = ck.code(county_map, "county") if county_map else None
    if county_code and not county_code.endswith("000000"):
        ck.err(county_map.line, "区县代码应以 000000 结尾（如 \"120116000000\"）", "county")
    county = Division(county_code or "", ck.name(county_map, "county") if county_map else "", "county", None)

    towns_raw = root.get("towns")
    if not isinstance(towns_raw, list) or not towns_raw:
        ck.err(root.key_lines.get("towns", 1), "缺少街镇列表 towns")
        towns_raw = []
    seen: dict[str, int] = {}
    towns: list[Division] = []
    villages: list[Division] = []
    for i, t in enumerate(towns_raw):
        where = f"towns.{i}"
        tm = ck.mapping(t, root.key_lines.get("towns", 1), where, _TOWN_KEYS)
        if tm is None:
            continue
        town = _town(ck, tm, where, county_code, seen)
        if town is None:
            continue
        towns.append(town)
        vs = tm.get("villages") or []
        if not isinstance(vs, list):
            ck.err(tm.key_lines.get("villages", tm.line), "villages 应为列表", where)
            continue
        for j, v in enumerate(vs):
            village = _village(ck, v, tm, f"{where}.villages.{j}", town, seen)
            if village:
                villages.append(village)
    if ck.problems:
        raise DivisionsError(ck.problems)
    return Divisions(county, towns, villages)


def _unique(ck: _Checker, code: str, m: _Map, where: str, seen: dict[str, int]) -> bool:
    if code in seen:
        ck.err(m.line, f"代码 {code} 重复（第 {seen[code]} 行已出现）", where)
        return False
    seen[code] = m.line
    return True


def _town(ck: _Checker, tm: _Map, where: str, county_code: str | None, seen: dict) -> Division | None:
    code, name = ck.code(tm, where), ck.name(tm, where)
    start, end = ck.span(tm, where)
    if code is None or not _unique(ck, code, tm, where, seen):
        return None
    if not code.endswith("000"):
        ck.err(tm.line, "街镇代码的后3位应为 000", where)
    if county_code and code[:6] != county_code[:6]:
        ck.err(tm.line, f"街镇代码应以区县代码 {county_code[:6]} 开头", where)
    return Division(code, name, "town", county_code, start, end)


def _village(ck: _Checker, v: object, tm: _Map, where: str, town: Division, seen: dict) -> Division | None:
    vm = ck.mapping(v, tm.key_lines.get("villages", tm.line), where, _VILLAGE_KEYS)
    if vm is None:
        return None
    code, name = ck.code(vm, where), ck.name(vm, where)
    start, end = ck.span(vm, where)
    confirmed = vm.get("confirmed", True)
    if not isinstance(confirmed, bool):
        ck.err(vm.key_lines.get("confirmed", vm.line), "confirmed 应为 true 或 false", where)
    if code is None or not _unique(ck, code, vm, where, seen):
        return None
    if code[:9] != town.code[:9]:
        ck.err(vm.line, f"村代码的前9位应与所属街镇 {town.name} 的代码前9位 {town.code[:9]} 相同", where)
    elif code.endswith("000"):
        ck.err(vm.line, "村代码的后3位不能是 000", where)
    return Division(code, name, "village", town.code, start, end, confirmed is not False)


# ---- the division file of one forms folder ------------------------------------------------

# Parsed files by resolved path and (mtime, size): a cache of file contents, not a "current"
# folder — every engine asks through its own `DivisionFile`, so two engines on two forms
# folders never see each other's villages.
_cache: dict[Path, tuple[tuple[int, int], Divisions | DivisionsError]] = {}


def default_forms_dir() -> Path:
    """Where a division file is looked for when no engine names a forms folder."""
    from core.paths import default_forms_dir

    return default_forms_dir()


class DivisionFile:
    """The division list of one forms folder, re-read when the file changes."""

    def __init__(self, forms_dir: str | os.PathLike[str] | None = None):
        self.forms_dir = Path(forms_dir) if forms_dir is not None else default_forms_dir()
        self.path = self.forms_dir / "data" / "divisions.yaml"
        self._resolved: Path | None = None     # resolving walks every folder of the path: once
        self._name = ""
        self._last: tuple | None = None
        self._steady: object | None = None    # the steady block the file was last looked at in

    @classmethod
    def of(cls, engine: object) -> "DivisionFile":
        """The file of an engine's forms folder (``None``: the default folder)."""
        return cls(getattr(engine, "forms_dir", None))

    def current(self) -> Divisions:
        """Raises ``DivisionsError`` (located, Chinese) when the file is missing or bad.

        Looks at the file (`os.stat`) on every call, except inside `core.steadyfiles.steady()`
        (an import check): there once per block, the file then taken as it was."""
        hit = self._last
        if hit is not None and self._steady is not None and self._steady is steady_token():
            if isinstance(hit[1], DivisionsError):
                raise hit[1]
            return hit[1]
        if self._resolved is None:
            self._resolved = self.path.resolve()
            self._name = str(self._resolved)
        path = self._resolved
        self._steady = None
        try:
            st = os.stat(self._name)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            raise DivisionsError([Problem("找不到区划数据文件", file=str(path))]) from None
        # the file as this object last saw it: a bulk save asks four times a record, and
        # hashing the Path for the shared cache cost more than the stat
        hit = self._last
        if hit is None or hit[0] != stamp:
            hit = _cache.get(path)
            if hit is None or hit[0] != stamp:
                try:
                    hit = (stamp, _load_cached(path))
                except DivisionsError as exc:
                    hit = (stamp, exc)
                _cache[path] = hit
            self._last = hit
        self._steady = steady_token()
        if isinstance(hit[1], DivisionsError):
            raise hit[1]
        return hit[1]

    def current_or_none(self) -> Divisions | None:
        """``current()`` for callers that must not raise (expression functions, format checks)."""
        try:
            return self.current()
        except DivisionsError:
            return None

    def problems(self) -> list[Problem]:
        """What is wrong with the division file (empty when it loads)."""
        try:
            self.current()
        except DivisionsError as exc:
            return list(exc.problems)
        return []


def _load_cached(path: Path) -> Divisions:
    """`load_divisions`, remembered between runs by the file's content (the form files' cache):
    a start then neither imports PyYAML nor parses 150 villages."""
    import hashlib

    from core.formlang.yamlload import cache_get, cache_put

    try:
        key = "divisions-" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return load_divisions(path)          # reports the unreadable file in its own words
    found = cache_get(key)
    if isinstance(found, Divisions):
        return found
    loaded = load_divisions(path)
    cache_put(key, loaded)
    return loaded
