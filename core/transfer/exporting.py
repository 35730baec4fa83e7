"""What an exporter is handed, and the masking rule every exporter shares.

Personal fields (`pii`) are masked unless the user asked for `full`; the engine records a full
export in the history. Masking lives here, not in each exporter, so no exporter can forget it.

The helpers below are shared by every built-in exporter (and open to third-party ones):
where output files go, how wide Chinese text is, and how a form and its records become flat
tables of labelled text (`core.transfer.exportform`). Keeping them here means CSV, XLSX and the printed
form agree on what a record looks like on paper.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator


def mask_value(kind: str | None, value: Any) -> Any:
    """Mask one personal value: ID 120107********0032, phone 138****5678, address cut."""
    if value in (None, "") or not kind:
        return value
    s = str(value)
    if kind == "id":
        return s[:6] + "*" * max(len(s) - 10, 0) + s[-4:] if len(s) > 10 else "*" * len(s)
    if kind == "phone":
        # A mobile keeps its carrier prefix (138****5678); a landline only its last four
        # (*******6789): its first digits are the exchange, which with four more is the line.
        if len(s) == 11 and s[0] == "1":
            return s[:3] + "****" + s[-4:]
        return "*" * (len(s) - 4) + s[-4:] if len(s) > 4 else "*" * len(s)
    if kind == "address":
        return s[:6] + "…" if len(s) > 6 else s
    if kind == "name":
        return s
    return "***"


@dataclass
class ExportJob:
    what: str                      # "roster" | "summary" | "records" | "form"
    output: Path                   # a file, or a folder for exporters that write several files
    engine: Any                    # core.engine.Engine
    full: bool = False             # personal fields in full (recorded in the history)
    params: dict[str, Any] = field(default_factory=dict)   # quarter, town, village, record_id, form
    progress: Callable[[int, int | None], None] | None = None   # rows done, rows total

    def mask(self, kind: str | None, value: Any) -> Any:
        return value if self.full else mask_value(kind, value)

    # The engine calls below are the only ones exporters make, so the contract with
    # core.engine stays visible in one place.
    @property
    def form_id(self) -> str:
        return self.params.get("form") or "registration"

    def report(self):
        """The roster/summary `Report` for this job (report params only, not exporter ones).

        A town's own summary breaks down by village unless told otherwise: one row that only
        repeats the total is no use to the town, and the summary screen of the terminal UI
        already shows a town by village — the exported sheet must match what was on screen."""
        params = {k: v for k, v in self.params.items() if k not in EXPORTER_PARAMS}
        if self.what == "summary" and params.get("town") and "by_village" not in params:
            params["by_village"] = True
        return self.engine.report(self.what, **params)

    def form(self, form_id: str | None = None, version: int | None = None, town: str | None = None):
        """The exporters' view of a form (`core.transfer.exportform.FormInfo`), division names included.

        A records export covers every town, so it also carries the fields town overlays and
        plugins add (as extra columns, blank for the other towns): done here, not in each
        exporter, so no records exporter — nor the masking of a town field marked `pii` —
        can miss them. A printed form is the one its town sees: one person's form carries
        their town's fields, and a blank form for `--town` that town's."""
        from core.transfer.exportform import form_info, town_forms, with_town_fields

        form_id = form_id or self.form_id
        info = form_info(self.engine.form(form_id, version=version, town=town), names=self.division_name)
        if self.what == "records":
            info = with_town_fields(info, town_forms(self.engine, form_id, version), names=self.division_name)
        return info

    def division_name(self, code: Any) -> str | None:
        """A town or village name for its code. The division list is fetched once per job:
        `engine.divisions` checks its file, and a records export asks for the two names of
        every one of 50,000 people."""
        try:
            if "_divisions" not in self.__dict__:
                self.__dict__["_divisions"] = getattr(self.engine, "divisions", None)
            divisions = self.__dict__["_divisions"]
            return divisions.name(code) if divisions is not None else None
        except Exception:  # noqa: BLE001 - a name is a nicety; the code still identifies the place
            return None

    def records(self, shared: bool = False) -> Iterator[Any]:
        """The form's records; none for a blank job (the import template: headers only).

        `shared`: the records as the store holds them, not copied (`Store.iter_shared`), for
        an exporter that only reads them and never keeps or changes one: copying each of
        50,000 records was a sixth of a records export. A store without shared reads (the
        server) gives copies."""
        if self.params.get("blank"):
            return iter(())
        store = getattr(self.engine, "store", None)
        if shared and hasattr(store, "iter_shared"):
            return store.iter_shared(self.form_id, store.partitions(self.form_id))
        return self.engine.iter_records(self.form_id)

    def record_count(self) -> int | None:
        """How many records `records()` gives, when the store says so cheaply (its list rows,
        read anyway to find the villages); None when it cannot."""
        if self.params.get("blank"):
            return 0
        store = getattr(self.engine, "store", None)
        return store.count(self.form_id) if hasattr(store, "count") else None

    def write_report(self, writer: Callable[..., int], report, path: Path) -> int:
        """`writer(report, path, mask, progress)` for this job, in a second process when the
        report is long (see `core.transfer.exportpipe`): a module-level writer function gets that for free."""
        from core.transfer.exportpipe import write_report

        return write_report(writer, report, path, full=self.full,
                            progress=lambda n: self.tick(n, report.row_count))

    def tick(self, done: int, total: int | None = None) -> None:
        if self.progress and done % 1000 == 0:
            self.progress(done, total)


# Params that steer an exporter and are not passed on to report builders.
EXPORTER_PARAMS = frozenset({"form", "record_id", "blank", "sheet", "copies"})


def text_width(value: Any) -> int:
    """Display width in 'characters' as Excel and printers see it: CJK counts double.

    UTF-8 length is used as a fast proxy (CJK is 3 bytes, ASCII 1), because this runs on every
    cell of a 50,000-row roster.
    """
    s = value if isinstance(value, str) else ("" if value is None else str(value))
    if s.isascii():
        return len(s)
    return len(s) + (len(s.encode("utf-8")) - len(s)) // 2


def cn_date(iso: Any) -> str:
    """`2026-11-30` -> `2026年11月30日`, the way a date is written on a paper form; anything
    that is not an ISO date (blank, already Chinese) is returned as it came."""
    s = "" if iso is None else str(iso).strip()
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", s[:10]) if len(s) >= 10 else None
    return f"{m[1]}年{int(m[2])}月{int(m[3])}日" if m else s


def cn_period(period: Any) -> str:
    """`2026Q4` -> `2026年第四季度` (the statistics period as offices write it)."""
    s = "" if period is None else str(period).strip()
    m = re.fullmatch(r"(\d{4})\s*[Qq]([1-4])", s)
    return f"{m[1]}年第{'一二三四'[int(m[2]) - 1]}季度" if m else s


def output_file(output: Path, extension: str, stem: str) -> Path:
    """The single file an exporter writes: an existing folder gets `stem + extension` inside
    it, any other name without that extension gets it appended; parent folders are created."""
    output = Path(output)
    if output.is_dir():
        path = output / f"{stem}{extension}"
    elif output.suffix.lower() == extension.lower():
        path = output
    else:
        path = output.with_name(output.name + extension)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def sibling(path: Path, part: str) -> Path:
    """`名册.csv` + `children` -> `名册-children.csv`: the extra tables of one export."""
    return path.with_name(f"{path.stem}-{part}{path.suffix}")


def safe_name(text: str, limit: int = 31) -> str:
    """A sheet or file name part: Excel forbids []:*?/\\ and caps sheet names at 31."""
    cleaned = "".join("_" if c in '[]:*?/\\' else c for c in str(text)).strip() or "表"
    return cleaned[:limit]
