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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from core.problems import Problem

Path_ = tuple  # a path into the document: ("sections", 0, "fields", 2, "type")


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


def load_text(text: str, file: str = "<text>") -> YamlDoc:
    """Load one YAML/JSON document from text; problems (never exceptions) say what went wrong.

    PyYAML is imported here, not with this module: form files come from the cache on almost
    every start, and importing PyYAML cost ~16 ms of the app's start-up."""
    from core.formlang.yamlparse import parse

    return parse(text, file)


def load_file(path: Path, display: str | None = None) -> YamlDoc:
    """Read a file as UTF-8 (a BOM is fine) and load it; unreadable files become one problem."""
    name = display or str(path)
    try:
        if Path(path).stat().st_size > 4 * 128 * 1024:      # never read a huge file into memory
            return YamlDoc(None, name, problems=[Problem(
                "文件太大，不像是表单文件 (size)", "", name, 1, 1, "error", "size")])
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


_CACHE_VERSION = 3   # bump when YamlDoc or the loader's output changes
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
