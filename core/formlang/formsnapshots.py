"""Every form version a record was saved under, kept inside the data folder.

Admins change form files in place; a record saved under version 2 must still open and
validate after the file says version 3. So when a form version is first seen, it is written to
`<data>/forms/<form id>/v<version>.json` with every shared choice list it uses inlined
(`Form.snapshot_text`): a list renamed later in `lists/` must not change how an old version
reads. Ledgers from before this kept the raw file text (`v<version>.yaml`); those still load.
"""
from __future__ import annotations

from pathlib import Path

from core.problems import FormError


class FormSnapshots:
    def __init__(self, folder: Path, forms_dir: Path, registry):
        self.folder = Path(folder)
        self.forms_dir = Path(forms_dir)
        self.registry = registry
        self._cache: dict[tuple[str, int], object] = {}

    def _path(self, form_id: str, version: int, suffix: str = ".yaml") -> Path:
        return self.folder / form_id / f"v{version}{suffix}"

    def keep(self, formset) -> None:
        from core.storage.atomic import write_bytes

        for form in formset.forms.values():
            src = Path(form.source) if getattr(form, "source", None) else None
            if not src or not src.exists():
                continue
            if any(self._path(form.id, form.version, sfx).exists() for sfx in (".json", ".yaml", ".yml")):
                continue
            dest = self._path(form.id, form.version, ".json")
            dest.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(dest, form.snapshot_text().encode("utf-8"))

    def versions(self, form_id: str) -> list[int]:
        """Versions kept for `form_id`, oldest first."""
        folder = self.folder / form_id
        if not folder.is_dir():
            return []
        return sorted({int(p.stem[1:]) for p in folder.iterdir()
                       if p.stem[:1] == "v" and p.stem[1:].isdigit() and p.suffix in (".json", ".yaml", ".yml")})

    def get(self, form_id: str, version: int):
        key = (form_id, version)
        if key in self._cache:
            return self._cache[key]
        from core.formlang.formload import compile_form_text

        for suffix in (".json", ".yaml", ".yml"):
            path = self._path(form_id, version, suffix)
            if path.exists():
                try:
                    text = path.read_text(encoding="utf-8")
                except UnicodeDecodeError:
                    raise FormError(f"表单 “{form_id}” 第 {version} 版的存档 {path} 已损坏（不是 UTF-8 文字），"
                                    "请从备份恢复这个文件") from None
                form = compile_form_text(text, self.registry, str(path), base_dir=self.forms_dir)
                self._cache[key] = form
                return form
        return None
