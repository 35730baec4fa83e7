"""Reading a folder of form files into a `FormSet`, checking every file on the way.

The admin edits these files by hand while the office keeps working, so one broken file must
never stop the others: each file is loaded and checked on its own (YAML syntax and pitfalls,
meta-schema, cross-references, expressions), a broken one is skipped with its located Chinese
problems, and the rest load. Shared choice lists load first because forms refer to them; then
forms, then what refers to forms — record-refs across forms, views/reports/schedules (their
columns and counts name the forms' fields) and overlays.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from core.formlang.expressions import Evaluator
from core.formlang.formcheck import FormChecker, Scope
from core.formlang.formmodel import Choices, Form, choice_items
from core.formlang.metaschema import MetaCheck
from core.formlang.overlay import Overlay, TownForms
from core.problems import FormError, Problem
from core.formlang.viewcheck import FileChecker
from core.registry import Registry
from core.formlang.yamlload import YamlDoc, load_file, load_text

SUFFIXES = (".yaml", ".yml", ".json")
SUBFOLDERS = ("lists", "overlays")


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def _errors(problems: Iterable[Problem]) -> bool:
    return any(p.is_error for p in problems)


class FormSet:
    """Every form, list, overlay and view/report/schedule file of one forms folder."""

    def __init__(self, root: Path, registry: Registry):
        self.root = Path(root)
        self.registry = registry
        self.evaluator = Evaluator(registry.functions)
        self.reload()

    # --- loading --------------------------------------------------------------------------

    def reload(self) -> "FormSet":
        """Read the folder again (after an admin edited a file)."""
        self.forms: dict[str, Form] = {}
        self.files: dict[str, dict] = {}          # views/reports/schedules: id -> raw dict
        self.docs: dict[str, YamlDoc] = {}        # view/report/schedule id -> loaded document (positions)
        self.form_docs: dict[str, YamlDoc] = {}   # form id -> loaded document
        self.lists: dict[str, Choices] = {}
        self.overlays: list[Overlay] = []
        self.problems: list[Problem] = []
        self.broken: dict[str, list[Problem]] = {}   # file -> its problems, for files skipped
        self._meta = MetaCheck(self.registry)
        self._broken_forms: set[str] = set()     # ids of form files skipped for their errors
        self._town_forms = TownForms(self.overlays)
        if not self.root.is_dir():
            self.problems.append(Problem(f"表单目录不存在：{self.root}", rule="io"))
            return self
        docs = [self._load(p) for p in _files(self.root)]
        lists_docs = [self._load(p) for p in _files(self.root / "lists")] + [d for d in docs if _kind(d) == "list"]
        for doc in lists_docs:
            self._add_list(doc)
        checker = FormChecker(self.registry, self.evaluator, self.lists)
        for doc in docs:
            if _kind(doc) == "form":
                self._add_form(doc, checker)
        files = FileChecker(checker, self.forms, self._broken_forms)   # views/reports/schedules read the forms' fields
        for form_id in list(self.forms):
            self._check_references(form_id, files)
        for doc in docs:
            kind = _kind(doc)
            if kind in ("view", "report", "schedule"):
                self._add_file(doc, files)
            elif kind not in ("form", "list", "overlay"):
                self._keep(doc)          # unreadable, or no usable kind: report and skip
        for doc in [self._load(p) for p in _files(self.root / "overlays")] + [d for d in docs if _kind(d) == "overlay"]:
            self._add_overlay(doc, checker)
        return self

    def _name(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def _load(self, path: Path) -> YamlDoc:
        doc = load_file(path, self._name(path))
        if doc.data is not None and not isinstance(doc.data, dict):
            doc.problems.append(doc.problem((), "文件顶层应是“键: 值”的映射，以 kind: 开头 (kind)", rule="kind"))
        if doc.data is not None and not doc.problems:
            doc.problems += self._meta(doc)
        return doc

    def _keep(self, doc: YamlDoc, extra: list[Problem] = ()) -> bool:
        """Record a file's problems; True when it has no errors and can be used."""
        problems = list(doc.problems) + list(extra)
        self.problems += problems
        if _errors(problems) or doc.data is None:
            self.broken[doc.file] = problems
            return False
        return True

    def _taken(self, doc: YamlDoc, table: dict, key: str, path: tuple = ("id",)) -> list[Problem]:
        if key in table:
            where = getattr(table[key], "source", None) or self.docs[key].file
            return [doc.problem(path, f"id “{key}” 已在 {where} 中使用，一个 id 只能有一个文件 (duplicate id)",
                                rule="duplicate-id")]
        return []

    def _add_list(self, doc: YamlDoc) -> None:
        if not self._keep(doc) or _kind(doc) != "list":
            if doc.data is not None and _kind(doc) not in ("list", None) and not _errors(doc.problems):
                self.problems.append(doc.problem(("kind",), "lists/ 目录里只能放 kind: list 的文件 (kind)", rule="kind"))
            return
        named = dict(doc.data.get("lists") or {})
        if "items" in doc.data:
            named[doc.data["id"]] = doc.data["items"]
        if not named:
            self.problems.append(doc.problem((), "选项表文件要写 items: 或 lists: (items)", rule="items"))
        for name, items in named.items():
            if name in self.lists:
                self.problems.append(doc.problem(("lists", name) if name in (doc.data.get("lists") or {}) else ("id",),
                                                 f"选项表 “{name}” 重复定义 (duplicate id)", key=True, rule="duplicate-id"))
                continue
            self.lists[name] = choice_items(items)

    def _add_form(self, doc: YamlDoc, checker: FormChecker) -> None:
        extra = checker.form(doc) if doc.data is not None and not _errors(doc.problems) else []
        if doc.data is not None and not _errors(doc.problems) and not _errors(extra):
            extra += self._taken(doc, self.forms, doc.data["id"])
            extra += self._shared_case_values(doc)
        if self._keep(doc, extra):
            form = Form.from_raw(doc.data, shared_lists=self.lists, source=str(doc.path or doc.file))
            self.forms[form.id] = form
            self.form_docs[form.id] = doc
        elif isinstance(doc.data, dict) and isinstance(doc.data.get("id"), str):
            self._broken_forms.add(doc.data["id"])

    def _check_references(self, form_id: str, checker: FileChecker) -> None:
        """Record-refs point at other forms, so they are checked once every form has loaded; a form
        whose references are broken is set aside like any other broken file."""
        doc = self.form_docs[form_id]
        extra = checker.references(doc, self.forms[form_id])
        self.problems += extra
        if _errors(extra):
            del self.forms[form_id], self.form_docs[form_id]
            self.broken[doc.file] = list(doc.problems) + extra

    def _shared_case_values(self, doc: YamlDoc) -> list[Problem]:
        """`cases` values of fields whose choices come from a shared list (local ones are checked earlier)."""
        form = Form.from_raw(doc.data, shared_lists=self.lists, source=doc.file)
        out = []
        for f in form.fields_flat():
            if isinstance(f.choices, str) and f.choices not in (doc.data.get("lists") or {}):
                values = [v for v, _ in form.choices_for(f)]
                for i, case in enumerate(f.cases):
                    if str(case.value) not in values:
                        out.append(doc.problem(f.source + ("cases", i, "value"),
                                               f"“{case.value}” 不在 {f.id} 的选项中（{'、'.join(values)}）(cases)",
                                               rule="cases"))
        return out

    def _add_file(self, doc: YamlDoc, checker: FileChecker) -> None:
        extra: list[Problem] = []
        if doc.data is not None and not _errors(doc.problems):
            extra = checker.check(doc) + self._taken(doc, self.files, doc.data["id"])
        if self._keep(doc, extra):
            self.files[doc.data["id"]] = doc.data
            self.docs[doc.data["id"]] = doc

    def _add_overlay(self, doc: YamlDoc, checker: FormChecker) -> None:
        extra: list[Problem] = []
        if doc.data is not None and not _errors(doc.problems):
            if _kind(doc) != "overlay":
                extra.append(doc.problem(("kind",), "overlays/ 目录里只能放 kind: overlay 的文件 (kind)", rule="kind"))
            else:
                extra = self._check_overlay(doc, checker)
        if self._keep(doc, extra):
            stem = Path(doc.file).stem
            self.overlays.append(Overlay.from_raw(doc.data, doc.file, default_id=stem))

    def _check_overlay(self, doc: YamlDoc, checker: FormChecker) -> list[Problem]:
        raw = doc.data
        form = self.forms.get(raw["form"])
        if form is None:
            return [doc.problem(("form",), f"表单 “{raw['form']}” 不存在或未能加载 (form)", rule="form")]
        sections = raw.get("sections") or {}
        added = [f["id"] for body in sections.values() for f in body.get("fields", [])]
        scope = Scope({f.id for f in form.top_fields()} | set(added),
                      set(form.lists) | set(raw.get("lists") or {}), form.settings,
                      {f.id: f"表单 {form.id} " for f in form.fields_flat()})
        section_ids = [s.id for s in form.sections]
        out = checker.duplicate_ids(doc, [(body.get("fields"), ("sections", sid, "fields")) for sid, body in sections.items()],
                                    scope)
        for sid, body in sections.items():
            if sid not in section_ids:
                out.append(doc.problem(("sections", sid), f"表单 {form.id} 没有分节 “{sid}”（有：{'、'.join(section_ids)}）(sections)",
                                       key=True, rule="sections"))
            out += checker.fields(doc, body.get("fields"), ("sections", sid, "fields"), scope, local_lists=raw.get("lists") or {})
        for name in raw.get("lists") or {}:
            if name not in form.lists:
                out.append(doc.problem(("lists", name), f"表单 {form.id} 没有选项表 “{name}”，无法追加 (lists)", key=True,
                                       rule="lists"))
        out += checker._rules(doc, raw.get("rules"), ("rules",), scope, False, set(scope.seen))
        taken = {r.id for r in form.rules} | {r.id for f in form.fields_flat() for r in f.rules}
        out += checker.duplicate_rule_ids(doc, {"rules": raw.get("rules") or []}, taken)
        return out

    def check_additions(self, form_id: str, additions: Any, source: str) -> list[Problem]:
        """A plugin's `extend_form` answer checked as an overlay file would be: the meta-schema
        (unknown keys, unknown field types), sections and lists the form has, duplicate ids,
        expressions. `source` names the plugin and call in every message."""
        raw = {"kind": "overlay", "form": form_id, "towns": ["000000000"], "version": 1, **additions}
        doc = YamlDoc(raw, source)
        problems = self._meta(doc)
        if not _errors(problems):
            problems += self._check_overlay(doc, FormChecker(self.registry, self.evaluator, self.lists))
        return problems

    # --- using --------------------------------------------------------------------------

    def get(self, form_id: str) -> Form | None:
        """The current version of a form, or None when there is none (or its file is broken)."""
        return self.forms.get(form_id)

    def require(self, form_id: str) -> Form:
        """Like `get`, but a missing or broken form raises FormError naming the problems."""
        form = self.forms.get(form_id)
        if form is not None:
            return form
        why = [str(p) for f, ps in self.broken.items() for p in ps if p.is_error and _file_id(f) == form_id]
        detail = ("\n" + "\n".join(why)) if why else ""
        raise FormError(f"表单 “{form_id}” 不存在或未通过检查{detail}")

    def form_for_town(self, form_id: str | Form, town: str | None, plugin_additions: Iterable[dict] = ()) -> Form:
        """The form as the records of `town` see it (overlay files, then plugin additions)."""
        form = form_id if isinstance(form_id, Form) else self.require(form_id)
        return self._town_forms.get(form, town, plugin_additions)

    def overlays_for(self, form_id: str) -> list[Overlay]:
        """The overlay files that extend `form_id` (for any town)."""
        return [o for o in self.overlays if o.form == form_id]

    def locate(self, file_id: str, path: tuple) -> tuple[str, int, int] | None:
        """(file, line, col) of a path inside a loaded file, for messages about views/reports."""
        doc = self.docs.get(file_id)
        if doc is None:
            return None
        return (doc.file, *doc.where(path))


def _kind(doc: YamlDoc) -> str | None:
    return doc.data.get("kind") if isinstance(doc.data, dict) else None


def _file_id(file: str) -> str:
    return Path(file).stem


def load_form_dir(path: Path | str, registry: Registry) -> FormSet:
    """Load and check every form-language file of a forms folder."""
    return FormSet(Path(path), registry)


def _form_dir_of(path: Path) -> Path:
    return path.parent.parent if path.parent.name in SUBFOLDERS else path.parent


def check_paths(paths: Iterable[Path | str], registry: Registry) -> list[Problem]:
    """Problems of the given files or folders (for `carebook forms check`); empty when all is well.

    A single file is checked in the context of its forms folder, so shared lists and the form an
    overlay extends are found; only problems in the named file are returned for it.
    """
    out: list[Problem] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += load_form_dir(p, registry).problems
        elif p.is_file():
            fs = load_form_dir(_form_dir_of(p), registry)
            name = fs._name(p)
            out += [prob for prob in fs.problems if prob.file == name]
        else:
            out.append(Problem(f"找不到文件或目录：{p}", file=str(p), rule="io"))
    return out


def compile_form_text(text: str, registry: Registry, filename: str = "<snapshot>",
                      shared_lists: dict[str, Choices] | None = None, base_dir: Path | str | None = None) -> Form:
    """Rebuild a Form from stored text; FormError when it does not check.

    Best fed `Form.snapshot_text()` (shared lists inlined). Raw form-file text works too: its shared
    lists then come from `shared_lists` or, failing that, the `lists/` of `base_dir`.
    """
    if shared_lists is None and base_dir is not None:
        shared_lists = load_form_dir(base_dir, registry).lists
    doc = load_text(text, filename)
    if doc.data is not None and not doc.problems:
        doc.problems += MetaCheck(registry)(doc)
    problems = list(doc.problems)
    if doc.data is not None and not _errors(problems):
        if _kind(doc) != "form":
            problems.append(doc.problem(("kind",), "这不是表单文件（kind 应为 form）(kind)", rule="kind"))
        else:
            checker = FormChecker(registry, Evaluator(registry.functions), shared_lists or {})
            problems += checker.form(doc)
    if _errors(problems) or doc.data is None:
        raise FormError("表单无法使用：\n" + "\n".join(str(p) for p in problems if p.is_error))
    return Form.from_raw(doc.data, shared_lists=shared_lists, source=filename)

