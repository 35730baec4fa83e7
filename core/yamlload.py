"""Loading form files safely, keeping where every key and value came from.

Admins write the form files by hand, so every message about them must point at a line and a
column, and YAML 1.1's surprises must not slip through silently: PyYAML reads ``no`` as False,
``010020`` as the octal number 4112 and lets a duplicated key win without a word. Here a node
tree is composed with a SafeLoader subclass whose resolver knows only YAML 1.2-style scalars
(``true``/``false``, plain decimal numbers, ``null``), plain dicts/lists are built by hand, and a
side map ``path tuple -> (line, col)`` remembers positions. Scalars that YAML 1.1 would have
turned into a boolean or a number are kept as the text the admin typed, and noted in
``coerced`` so the form checker can say “YAML 会把 no 读成布尔值，请加引号” where a string is wanted.
JSON is YAML, so ``*.json`` form files load the same way, with positions.
"""
from __future__ import annotations

import os

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .problems import Problem

Path_ = tuple  # a path into the document: ("sections", 0, "fields", 2, "type")


class _Resolver(yaml.resolver.BaseResolver):
    """Implicit tags for plain scalars: only what YAML 1.2 (core schema) would infer."""


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:(?:0|[1-9][0-9]*)\.[0-9]*(?:[eE][-+]?[0-9]+)?|(?:0|[1-9][0-9]*)[eE][-+]?[0-9]+"
               r"|\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


class _Loader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
              yaml.composer.Composer, yaml.constructor.SafeConstructor, _Resolver):
    """Composes nodes only; construction happens in `_Builder` so positions can be kept."""

    def __init__(self, stream):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _Resolver.__init__(self)


# What YAML 1.1 (PyYAML's default) would make of a plain scalar: used only to warn.
_YAML11 = yaml.resolver.Resolver()
_YAML11_SHORT_BOOLS = frozenset("yYnN")
_YAML11_KIND = {
    "tag:yaml.org,2002:bool": "布尔值",
    "tag:yaml.org,2002:int": "数字",
    "tag:yaml.org,2002:float": "数字",
    "tag:yaml.org,2002:null": "空值",
}


@dataclass(frozen=True)
class Coerced:
    """A plain scalar kept as text although YAML 1.1 reads it as something else."""

    text: str
    yaml11_value: Any
    kind: str            # 布尔值 / 数字 / 空值

    def hint(self) -> str:
        shown = {True: "true", False: "false", None: "null"}.get(self.yaml11_value, self.yaml11_value) \
            if isinstance(self.yaml11_value, bool) or self.yaml11_value is None else self.yaml11_value
        return f"YAML 会把 {self.text} 读成{self.kind} {shown}，请加引号：\"{self.text}\""


@dataclass
class YamlDoc:
    """A loaded document: plain data plus where each part of it was written."""

    data: Any
    file: str
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)   # path -> value position
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)     # path -> its key's position
    coerced: dict[Path_, Coerced] = field(default_factory=dict)
    plain: set[Path_] = field(default_factory=set)                       # unquoted scalars
    problems: list[Problem] = field(default_factory=list)
    path: Path | None = None                                             # the file on disk, if any
    digest: str | None = None       # hash of the text it came from (keys caches of checks on it)

    def where(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """Position of `path` (its key when `key`), else of the nearest ancestor that has one."""
        p = tuple(path)
        if key and p in self.keys:
            return self.keys[p]
        while p:
            if p in self.values:
                return self.values[p]
            p = p[:-1]
        return self.values.get((), (1, 1))

    def problem(self, path: Path_, message: str, *, key: bool = False, severity: str = "error",
                rule: str | None = None) -> Problem:
        line, col = self.where(path, key=key)
        return Problem(message, dotted(path), self.file, line, col, severity, rule)

    def yaml11_view(self) -> Any:
        """The data as PyYAML's YAML 1.1 rules would have read it (for checking against the meta-schema)."""
        def walk(node, path):
            if path in self.coerced:
                return self.coerced[path].yaml11_value
            if isinstance(node, dict):
                return {k: walk(v, path + (k,)) for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v, path + (i,)) for i, v in enumerate(node)]
            return node
        return walk(self.data, ())


def dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def _pos(node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns composed nodes into dicts/lists/scalars, filling the position maps of a YamlDoc."""

    def __init__(self, loader: _Loader, doc: YamlDoc):
        self.loader = loader
        self.doc = doc

    def build(self, node, path: Path_, depth: int = 0) -> Any:
        if depth > 200:
            raise _Fatal(node, "嵌套层次过深（可能是循环引用的锚点）")
        self.doc.values[path] = _pos(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node, path: Path_, depth: int) -> dict:
        out: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Fatal(key_node, "键必须是简单的文字，不能是列表或映射 (key)")
            key = key_node.value
            if key in out:
                first = self.doc.keys[path + (key,)]
                line, col = _pos(key_node)
                self.doc.problems.append(Problem(
                    f"键 “{key}” 重复（第 {first[0]} 行已出现）；YAML 会让后一个悄悄覆盖前一个，请删去或改名 (duplicate key)",
                    dotted(path + (key,)), self.doc.file, line, col, "error", "duplicate-key"))
                continue
            self.doc.keys[path + (key,)] = _pos(key_node)
            out[key] = self.build(value_node, path + (key,), depth + 1)
        return out

    def _scalar(self, node, path: Path_) -> Any:
        if node.tag in _CONSTRUCTED:
            value = self.loader.construct_object(node, deep=True)
        else:
            value = node.value  # strings, and explicit tags such as !!timestamp kept as typed
        if node.style is None:
            self.doc.plain.add(path)
            if isinstance(value, str):
                if node.value in _YAML11_SHORT_BOOLS:  # in the YAML 1.1 spec, though PyYAML skips them
                    self.doc.coerced[path] = Coerced(node.value, node.value in "yY", "布尔值")
                    return value
                tag11 = _YAML11.resolve(yaml.ScalarNode, node.value, (True, False))
                if tag11 in _YAML11_KIND:
                    v11 = yaml.SafeLoader("").construct_object(yaml.ScalarNode(tag11, node.value))
                    self.doc.coerced[path] = Coerced(node.value, v11, _YAML11_KIND[tag11])
        return value


_CONSTRUCTED = frozenset(f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float", "null"))


class _Fatal(Exception):
    def __init__(self, node, message):
        super().__init__(message)
        self.node = node
        self.message = message


_SYNTAX_HINTS = (
    ("mapping values are not allowed here", "此处不能出现“键: 值”：常见原因是冒号后缺空格、缩进不对，或文字里含冒号却没加引号"),
    ("found character '\\t'", "不能用 Tab 缩进，请改用空格"),
    ("could not find expected ':'", "缺少冒号“:”，或上一行的引号没有闭合"),
    ("did not find expected key", "缩进不一致：同一层的键要对齐，列表项以“- ”开头"),
    ("did not find expected '-' indicator", "缩进不一致：列表项要对齐并以“- ”开头"),
    ("found undefined alias", "引用了未定义的锚点（*名字）"),
    ("found unexpected end of stream", "文件意外结束：引号或括号没有闭合"),
    ("while scanning a quoted scalar", "引号没有闭合"),
    ("expected <block end>, but found", "缩进不一致，或某行多了/少了空格"),
    ("expected ',' or '}'", "花括号 { } 没有闭合，或元素之间缺逗号"),
    ("expected ',' or ']'", "方括号 [ ] 没有闭合，或元素之间缺逗号"),
    ("found unhashable key", "键必须是简单的文字"),
    ("but found another document", "一个文件只能有一个文档（不要用 ---）"),
)


def _syntax_problem(exc: yaml.YAMLError, file: str) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    english = " ".join(str(x) for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x) \
        or str(exc).splitlines()[0]
    hint = next((zh for en, zh in _SYNTAX_HINTS if en in english), "无法解析")
    return Problem(f"YAML 语法错误：{hint} ({english})", "", file, line, col, "error", "syntax")


def load_text(text: str, file: str = "<text>") -> YamlDoc:
    """Load one YAML/JSON document from text; problems (never exceptions) say what went wrong."""
    doc = YamlDoc(None, file)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            doc.problems.append(Problem("文件是空的", "", file, 1, 1, "error", "empty"))
            return doc
        doc.data = _Builder(loader, doc).build(node, ())
    except yaml.YAMLError as exc:
        doc.data = None
        doc.problems.append(_syntax_problem(exc, file))
    except _Fatal as exc:
        line, col = _pos(exc.node)
        doc.data = None
        doc.problems.append(Problem(exc.message, "", file, line, col, "error", "syntax"))
    finally:
        loader.dispose()
    return doc


def load_file(path: Path, display: str | None = None) -> YamlDoc:
    """Read a file as UTF-8 (a BOM is fine) and load it; unreadable files become one problem."""
    name = display or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        return YamlDoc(None, name, problems=[Problem(
            f"文件不是 UTF-8 编码（第 {exc.start} 个字节），请用 UTF-8 另存", "", name, 1, 1, "error", "encoding")])
    except OSError as exc:
        return YamlDoc(None, name, problems=[Problem(
            f"无法读取文件：{exc.strerror or exc}", "", name, None, None, "error", "io")])
    doc = _cached(text, name)
    doc.path = Path(path)
    return doc


_CACHE_VERSION = 2   # bump when YamlDoc or the loader's output changes
_CACHE_KEEP = 100


def _cache_dir() -> Path | None:
    """Where parsed form files are kept between runs (`CAREBOOK_CACHE=off` disables it)."""
    import os

    if os.environ.get("CAREBOOK_CACHE", "").lower() in ("off", "0", "no"):
        return None
    from platformdirs import user_cache_dir

    return Path(os.environ.get("CAREBOOK_CACHE") or user_cache_dir("carebook", appauthor=False)) / "yaml"


def cache_get(name: str):
    """A value another check stored under `name` (see `cache_put`), or None."""
    import pickle

    folder = _cache_dir()
    if folder is None:
        return None
    try:
        with open(folder / f"{name}.pickle", "rb") as fh:
            return pickle.load(fh)
    except (OSError, pickle.PickleError, EOFError, AttributeError, ValueError, TypeError, ImportError):
        return None


def cache_put(name: str, value) -> None:
    """Keep `value` for later runs; a cache that cannot be written only costs speed."""
    import pickle

    folder = _cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{name}.{os.getpid()}.tmp"
        tmp.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, folder / f"{name}.pickle")
    except OSError:
        pass


def _cached(text: str, name: str) -> YamlDoc:
    """`load_text`, remembered by content: PyYAML's pure-Python composer (needed for positions)
    takes ~0.25 s for the shipped forms, half of the app's start on a slow PC. The key is a hash
    of the text and the file name, so an edited file is simply parsed again."""
    import hashlib
    import pickle

    folder = _cache_dir()
    key = hashlib.sha256(f"{_CACHE_VERSION}\0{name}\0{text}".encode("utf-8")).hexdigest()
    if folder is None:
        doc = load_text(text, name)
        doc.digest = key
        return doc
    path = folder / f"{key}.pickle"
    try:
        with open(path, "rb") as fh:
            doc = pickle.load(fh)
        if isinstance(doc, YamlDoc):
            return doc
    except (OSError, pickle.PickleError, EOFError, AttributeError, ValueError, TypeError, ImportError):
        pass
    doc = load_text(text, name)
    doc.digest = key
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, path)
        kept = sorted(folder.glob("*.pickle"), key=lambda f: f.stat().st_mtime)
        for old in kept[:-_CACHE_KEEP]:    # versions of files long since edited
            old.unlink(missing_ok=True)
    except OSError:
        pass   # a read-only or full disk only costs speed
    return doc
