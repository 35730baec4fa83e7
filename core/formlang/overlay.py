"""Town overlays: extra fields, choices and rules for one town's records only.

A town may need to record something the district form does not (a local subsidy, a village
group). Rather than forking the form, an overlay file (`forms/overlays/*.yaml`, `kind: overlay`)
or a plugin's `extend_form(form_id, town)` hook adds to it; `form_for_town` merges those
additions into a copy of the form, so other towns' records neither show nor accept the fields.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from core.formlang.formmodel import Form, choice_items


@dataclass
class Overlay:
    """One overlay file (or a plugin's additions, which use the same shape)."""

    id: str
    form: str
    towns: list[str]
    version: int = 1
    sections: dict[str, dict] = field(default_factory=dict)   # section id -> {fields: [...]}
    lists: dict[str, list] = field(default_factory=dict)      # list name -> extra items
    rules: list[dict] = field(default_factory=list)
    source: str | None = None

    @classmethod
    def from_raw(cls, raw: dict, source: str | None = None, default_id: str = "overlay") -> "Overlay":
        return cls(raw.get("id", default_id), raw["form"], [str(t) for t in raw["towns"]],
                   raw.get("version", 1), dict(raw.get("sections") or {}), dict(raw.get("lists") or {}),
                   list(raw.get("rules") or []), source)

    def additions(self) -> dict[str, Any]:
        return {"sections": self.sections, "lists": self.lists, "rules": self.rules}

    def applies(self, form_id: str, town: str | None) -> bool:
        """Overlay files name towns by their 9-digit code (the meta-schema asks for it), while
        records store the 12-digit statistics code of the division list (`120116156000`): the
        town-level 12-digit code is the 9-digit one followed by `000`, so either spelling of the
        record's town matches, and a village code (`120116156201`) never does."""
        if self.form != form_id or town is None:
            return False
        code = str(town)
        return code in self.towns or (len(code) == 12 and code.endswith("000") and code[:9] in self.towns)


def merge_additions(form: Form, additions: Iterable[dict]) -> dict:
    """The form's raw dict with each addition's fields, list items and rules merged in, in order."""
    raw = copy.deepcopy(form.raw)
    sections = {s["id"]: s for s in raw.get("sections", [])}
    lists = raw.setdefault("lists", {})
    for add in additions:
        for section_id, body in (add.get("sections") or {}).items():
            if section_id in sections:
                sections[section_id].setdefault("fields", []).extend(copy.deepcopy(body.get("fields") or []))
        for name, extra in (add.get("lists") or {}).items():
            current = lists.get(name)
            if current is None:
                current = [{"value": v, "label": lab} for v, lab in form.lists.get(name, [])]
            have = {v for v, _ in choice_items(current)}
            current = list(current) + [i for i in extra if choice_items([i])[0][0] not in have]
            lists[name] = current
        raw.setdefault("rules", []).extend(copy.deepcopy(add.get("rules") or []))
    if not raw["lists"]:
        del raw["lists"]
    return raw


def form_for_town(form: Form, town: str | None, overlays: Iterable[Overlay],
                  plugin_additions: Iterable[dict] = ()) -> Form:
    """`form` as seen by records of `town`: overlay files for that town, then plugin additions."""
    mine = [o for o in overlays if o.applies(form.id, town)]
    extra = [a for a in plugin_additions if a]
    if not mine and not extra:
        return form
    raw = merge_additions(form, [o.additions() for o in mine] + extra)
    town_form = Form.from_raw(raw, shared_lists=form.lists, source=form.source)
    town_form.town = town
    town_form.overlays = [o.id for o in mine] + [f"插件{i + 1}" for i in range(len(extra))]
    return town_form


class TownForms:
    """Caches each town's merged form: the merge and its compiled schema are reused per record."""

    def __init__(self, overlays: list[Overlay]):
        self.overlays = overlays
        self._cache: dict[tuple, Form] = {}

    def get(self, form: Form, town: str | None, plugin_additions: Iterable[dict] = ()) -> Form:
        extra = [a for a in plugin_additions if a]
        key = (form.id, form.version, id(form), town, json.dumps(extra, ensure_ascii=False, sort_keys=True, default=str))
        if key not in self._cache:
            self._cache[key] = form_for_town(form, town, self.overlays, extra)
        return self._cache[key]

