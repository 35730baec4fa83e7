"""PyYAML's part of loading form files: composing nodes with positions (see `core.formlang.yamlload`).

Kept apart so that PyYAML is imported only when a file is parsed, not on a start whose form
files all come from the cache.
"""
from __future__ import annotations

import re
from typing import Any

import yaml

from core.formlang.fullwidth import fullwidth_colon
from core.problems import Problem
from core.formlang.yamlload import Coerced, Path_, YamlDoc, dotted


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


def _pos(node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


MAX_TEXT = 128 * 1024     # characters in one form file (the largest shipped one, divisions: 22 KB)
MAX_NODES = 20_000        # values built from one file, aliases expanded (divisions: 1,672)
MAX_INDENT = 160          # columns of indentation (and "- - -" block nesting) on one line


class _Builder:
    """Turns composed nodes into dicts/lists/scalars, filling the position maps of a YamlDoc.

    Aliases (`*name`) are expanded as they are built, so nine nested lists of nine aliases
    each (a "billion laughs" of 400 bytes) would build 387 million values: the count of built
    values is bounded by `MAX_NODES`, which a real form file never comes near."""

    def __init__(self, loader: _Loader, doc: YamlDoc):
        self.loader = loader
        self.doc = doc
        self.built = 0

    def build(self, node, path: Path_, depth: int = 0) -> Any:
        if depth > 200:
            raise _Fatal(node, "嵌套层次过深（可能是循环引用的锚点）")
        self.built += 1
        if self.built > MAX_NODES:
            raise _Fatal(node, f"文件展开后的内容太多（超过 {MAX_NODES} 项）：锚点（&）和引用（*）层层相套会使文件"
                               "成倍膨胀，请直接写出内容 (alias bomb)")
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
            try:
                value = self.loader.construct_object(node, deep=True)
            except ValueError:          # an integer of more than 4,300 digits
                raise _Fatal(node, "数字太大（位数过多） (number)") from None
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


def _unreadable_char(text: str, file: str) -> Problem | None:
    """The first character YAML refuses (control characters; PyYAML would raise without a
    line), or an invisible one that would hide what a label or expression says."""
    from core.textsafety import text_problem

    for lineno, line in enumerate(text.split("\n"), 1):
        message = text_problem(line.rstrip("\r"))
        if message:
            col = next(i for i, ch in enumerate(line, 1) if text_problem(ch))
            return Problem(f"文件里{message.replace('，请删除后重新输入', '')}，请用编辑器删除 (character)",
                           "", file, lineno, col, "error", "character")
    return None


MAX_FLOW_DEPTH = 64      # nested [ ] / { }: PyYAML's scanner slows quadratically with depth


def _too_deep(text: str, file: str) -> Problem | None:
    """Nesting deeper than any form needs: brackets (`[[[[...` 5,000 deep took PyYAML 70 s) or
    indentation (700 nested keys took 18 s)."""
    for lineno, line in enumerate(text.split("\n"), 1):
        if len(line) - len(line.lstrip(" -")) > MAX_INDENT:
            return Problem(f"缩进太深（超过 {MAX_INDENT} 列） (depth)", "", file, lineno, 1, "error", "depth")
    depth = 0
    for i, ch in enumerate(text):
        if ch in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                line = text.count("\n", 0, i) + 1
                col = i - (text.rfind("\n", 0, i) + 1) + 1
                return Problem(f"括号嵌套太深（超过 {MAX_FLOW_DEPTH} 层） (depth)", "", file, line, col, "error", "depth")
        elif ch in "]}" and depth:
            depth -= 1
    return None


def _expanded_size(root) -> int:
    """How many values building `root` would make, aliases expanded: counted over the
    composed nodes (each distinct node once), so a billion laughs costs microseconds."""
    size: dict[int, int] = {}
    stack = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if id(node) in size:
            continue
        if isinstance(node, yaml.ScalarNode):
            size[id(node)] = 1
            continue
        kids = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
        if ready:
            size[id(node)] = min(1 + sum(size.get(id(k), 1) for k in kids), MAX_NODES + 1)
        else:
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in size)
    return size[id(root)]


def parse(text: str, file: str = "<text>") -> YamlDoc:
    """Load one YAML/JSON document from text; problems (never exceptions) say what went wrong."""
    doc = YamlDoc(None, file)
    if len(text) > MAX_TEXT:
        doc.problems.append(Problem(f"文件太大（{len(text)} 个字符，表单文件最多 {MAX_TEXT}） (size)",
                                    "", file, 1, 1, "error", "size"))
        return doc
    if bad := _unreadable_char(text, file) or _too_deep(text, file):
        doc.problems.append(bad)
        return doc
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            doc.problems.append(Problem("文件是空的", "", file, 1, 1, "error", "empty"))
            return doc
        if _expanded_size(node) > MAX_NODES:
            raise _Fatal(node, f"文件展开后的内容太多（超过 {MAX_NODES} 项）：锚点（&）和引用（*）层层相套会使文件"
                               "成倍膨胀，请直接写出内容 (alias bomb)")
        doc.data = _Builder(loader, doc).build(node, ())
    except yaml.YAMLError as exc:
        doc.data = None
        doc.problems.append(fullwidth_colon(text, _syntax_problem(exc, file)))
    except _Fatal as exc:
        line, col = _pos(exc.node)
        doc.data = None
        doc.problems.append(Problem(exc.message, "", file, line, col, "error", "syntax"))
    except RecursionError:
        doc.data = None
        doc.problems.append(Problem("嵌套层次过深，无法读取 (depth)", "", file, 1, 1, "error", "syntax"))
    finally:
        loader.dispose()
    return doc


