"""Form entry: any form file, filled in, checked live, saved through the engine.

Staff must never lose what they typed: every change is kept as a draft through the engine
(`save_draft`) a moment after typing stops, a draft left by a crash is offered back when the
form is opened again, and leaving with unsaved changes asks first. Errors are shown at the
field when focus leaves it and all together when saving; warnings are saved only with a typed
reason; a duplicate ID number is caught at the field with a key to open the existing file.

The form shown is the one the record's town sees: a town's overlay or plugin fields appear once
the town is picked and go when another town is picked — the view is redrawn with every value
kept, and a value in a field the new town lacks is set aside and comes back with that town.
"""
from __future__ import annotations

from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from core.engine import CarebookError, Problem, ValidationFailed
from core.engine import clerk_problem, plain

from .. import roles
from ..form_renderer import TOWN_FIELD, FormView, normalize_value, relevance, town_form
from ..keymap import bind
from ..widgets.followups import followups_note
from ..widgets.fields import FieldRow, show_text
from ..widgets.problems import ProblemsPanel
from .base import KeptScreen, after_backup, mount_unseen
from .confirm import ConfirmScreen
from .prompt import Ask, PromptScreen

COMPUTE_DELAY = 0.25     # seconds after the last keystroke before live values are recomputed
DRAFT_DELAY = 1.0        # ... and before the draft is written
REFUSED_NOTICE_SECONDS = 6.0   # the "有错误，未保存" notice; the problem list below stays until fixed


class FormEntryScreen(KeptScreen):
    BINDINGS = [
        bind("save", "save"),
        bind("back", "back"),
        bind("section_prev", "section(-1)"),
        bind("section_next", "section(1)"),
        bind("override", "override"),
        bind("open_file", "open_duplicate", "打开重复档案", show=False),
        bind("problems", "problems", show=False),
    ]
    HELP_TEXT = ("Tab / Shift+Tab 在字段间移动，F3/F4 跳到上一节/下一节，Ctrl+S 保存。"
                 "带 * 的字段必填；灰色字段由系统计算。离开字段时检查该字段，保存时检查全部。"
                 "提醒（警告）需要填写理由才能保存。风险等级等自动评定的结果可按 Ctrl+R 填写理由后改判。"
                 "输入的内容会自动保存为草稿，程序意外关闭后再次打开会提示恢复。")
    holds_typing = True     # a new day's recompute waits until it is closed (`CarebookApp.check_new_day`)

    def __init__(self, form_id: str, record_id: str | None = None, context: dict | None = None) -> None:
        super().__init__()
        self.form_id = form_id
        self.engine = self.app.engine         # the ledger this screen's widgets were built for
        self._compute_timer = None
        self._draft_timer = None
        self._prepare(record_id, context)
        self.form = town_form(self.eng, form_id, self.version, self.start)

    def _prepare(self, record_id: str | None, context: dict | None) -> None:
        """Everything one opening of the form knows: the record (or a new one's defaults), its
        overrides and accepted warnings. Called again when the kept screen is reused
        (`opened`), so nothing of the previous person survives in the screen's state."""
        eng = self.app.engine
        record = eng.get(record_id, self.form_id) if record_id else None
        if record_id and record is None:
            raise CarebookError("没有找到这份档案")
        self.record_id = record_id
        self.record = record
        self.version = record["version"] if record else None
        self.start = dict(record["data"]) if record else eng.new_record(self.form_id, **(context or {}))
        self.set_aside: dict[str, Any] = {}   # values of fields the current town's form lacks
        meta = (record or {}).get("meta", {})
        self.overrides: dict[str, dict] = dict(meta.get("overrides") or {})
        self.accepted: dict[str, str] = {w["rule"]: w["reason"] for w in meta.get("warnings_accepted", [])}
        self.baseline: dict | None = None     # what the form showed when opened: "unsaved" is a difference
        self.duplicate_of: str | None = None
        self._fresh = True                    # filled in when next shown (`_begin`)

    @classmethod
    def opened(cls, app: Any, form_id: str, record_id: str | None = None,
               context: dict | None = None) -> "FormEntryScreen":
        """The form entry screen for this opening: the kept one of this form and version when it
        is free, else a new one, which is kept for the next opening.

        Building the screen (a hundred field rows, ~500 widgets styled and laid out) took 1-4 s
        on the office PCs, every time 新建登记 was pressed; filling the kept one's fields takes a
        few milliseconds. Reuse never carries anything over: `_prepare` starts the state afresh
        and `_begin` writes every field, error line and panel from the new record. A screen is
        kept per form id and version, and only while it shows the form the new record's town
        sees (a town with overlay fields gets its own screen)."""
        engine = app.engine
        record = engine.get(record_id, form_id) if record_id else None
        name = _kept_name(engine, form_id, record["version"] if record else None)
        kept = app.get_screen(name) if app.is_screen_installed(name) else None
        if kept is not None and kept not in app.screen_stack and kept.engine is engine:
            kept._prepare(record_id, context)
            if kept.form is town_form(engine, form_id, kept.version, kept.start):
                return kept
        screen = cls(form_id, record_id, context)
        if kept is None or kept not in app.screen_stack:
            if kept is not None:            # another town's form, or another ledger (demo switch)
                app.uninstall_screen(name)
                kept.remove()
            app.install_screen(screen, name)
        return screen

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        title = ("修改：" if self.record else "新建：") + self.form.title
        # titles, section names and help come from the admins' form files: shown as written
        yield Static(title, id="form-title", markup=False)
        with Horizontal(id="form-body"):
            yield OptionList(*[Option(s.title, id=s.id) for s in self.form.sections], id="form-sections",
                             markup=False)
            yield FormView(self.form, self.eng, id="form-view")
        yield ProblemsPanel(id="form-problems")
        yield Static("", id="form-live")
        yield Static("", id="form-help", markup=False)
        yield from self.compose_footer()

    @property
    def view(self) -> FormView:
        return self.query_one(FormView)

    def on_mount(self) -> None:      # KeptScreen.on_mount runs too (Textual calls each class's)
        stack = self.app.screen_stack
        if stack and stack[-1] is self:  # not when built ahead, unseen (`build_ahead`)
            self._begin()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        self.skip_restyle(event)             # see KeptScreen
        if self._fresh and self.is_mounted:    # the kept screen shown for another opening
            self._begin()

    def _begin(self) -> None:
        """Show the prepared record: every field, error line, panel and live value written
        afresh (the kept screen still holds the previous person's), focus where typing
        starts, and offer a draft left by a crash."""
        if not self._fresh:
            return
        self._fresh = False
        for timer in (self._compute_timer, self._draft_timer):
            if timer is not None:
                timer.stop()
        self._compute_timer = self._draft_timer = None
        self.sub_title = self.app.sub_title
        show_text(self.query_one("#form-title", Static), ("修改：" if self.record else "新建：") + self.form.title)
        view = self.view
        view.set_data(self.start, self._ref_labels(self.start))
        view.show_problems([])
        panel = self.problems_panel
        panel.clear_options()
        panel.active = panel.display = False
        show_text(self.query_one("#form-live", Static), "")
        show_text(self.query_one("#form-help", Static), "")
        view.scroll_home(animate=False)
        self.recompute()
        self.call_after_refresh(self._take_baseline)
        self.focus_first_empty()
        draft = self.attempt(self.eng.load_draft, self.form_id, self.record_id)
        if draft and draft != self.start:
            self.app.push_screen(
                ConfirmScreen("发现上次未保存的草稿，是否恢复？",
                              [("restore", "恢复草稿"), ("drop", "不恢复，删除草稿")], title="草稿"),
                lambda answer: self._draft_answer(answer, draft))

    def focus_first_empty(self) -> None:
        """Focus where typing starts: on a new record the first shown required field still empty
        (a visit opened with person, date, level and visitor filled starts at 是否见到本人), else
        the first empty one; on a record being corrected, the first field."""
        rows = [r for r in self.view.rows.values() if not r.computed and r.display
                and r.hint not in ("reference", "repeat")]
        empty = [r for r in rows if r.get_value() in (None, "", [])] if self.record is None else []
        first = next((r for r in empty if r.field.required is True), empty[0] if empty else rows[0] if rows else None)
        if first is not None:
            first.editor.focus()

    def _take_baseline(self) -> None:
        self.baseline = (self.current_data(), dict(self.overrides))

    @property
    def dirty(self) -> bool:
        return self.baseline is not None and (self.current_data(), self.overrides) != self.baseline

    async def _draft_answer(self, answer: str | None, draft: dict) -> None:
        if answer == "restore":
            if not await self.follow_town(draft):
                self.view.set_data(draft, self._ref_labels(draft))
            self.recompute()
        elif answer == "drop":
            self.attempt(self.eng.drop_draft, self.form_id, self.record_id)

    def _ref_labels(self, data: dict) -> dict[str, str]:
        """What a record reference shows: the referenced person's name and file number."""
        labels = {}
        for fid, row in self.view.rows.items():
            if row.hint == "reference" and data.get(fid):
                labels[fid] = person_label(self.eng, row.field, data[fid])
        return labels

    # ------------------------------------------------------------------ the town's form
    async def follow_town(self, data: dict | None = None) -> bool:
        """Draw the form of the town in `data` (default: what is on screen) if it is not the
        one shown; True when the view was redrawn. Called when staff pick a town and when a
        draft is restored, so overlay fields show exactly for the towns that validate them."""
        data = self.current_data(hidden=True) if data is None else data
        form = self.attempt(town_form, self.eng, self.form_id, self.version, data)
        if form is None or form is self.form:
            return False
        await self._redraw(form, data)
        return True

    async def _redraw(self, form, data: dict) -> None:
        """Replace the view with one of `form`, carrying every value over: nothing typed is
        lost, and a value whose field the new form lacks waits in `set_aside` (another town
        would refuse it on saving) until a form with that field is drawn again."""
        kept = {**self.set_aside, **data}
        self.set_aside = {k: v for k, v in kept.items() if form.field(k) is None}
        values = {k: v for k, v in kept.items() if form.field(k) is not None}
        focused = next((a.field.id for a in (self.focused.ancestors_with_self if self.focused else [])
                        if isinstance(a, FieldRow)), None)
        await self.view.remove()
        self.form = form
        view = FormView(form, self.eng, id="form-view")
        await self.query_one("#form-body", Horizontal).mount(view)
        view.set_data(values, self._ref_labels(values))
        row = view.rows.get(focused) if focused else None
        if row is not None and not row.computed:
            row.editor.focus()
        self.recompute()     # skip logic and computed values at once, not after the typing pause

    def _current_row(self, row: FieldRow) -> bool:
        """Whether a message comes from a row of the view on screen, not one just redrawn away."""
        return self.view.rows.get(row.field.id) is row

    # ------------------------------------------------------------------ live values
    def current_data(self, hidden: bool = False) -> dict:
        data = self.view.get_data(hidden)
        for fid, row in self.view.rows.items():   # references and read-only carried values
            if (row.computed or row.hint == "reference") and row.get_value() not in (None, "") \
                    and not self.form.field(fid).computed:
                data[fid] = row.get_value()
        return data

    def recompute(self) -> None:
        data = self.current_data()
        result = self.attempt(self.eng.compute, self.form_id, data, self.overrides or None)
        if result is None:
            return
        computed, reasons = result
        self.view.show_computed(computed)
        shown = self.attempt(relevance, self.eng, self.form, computed)
        if shown:
            self.view.apply_relevance(shown)
        self.show_live(computed, reasons)

    def show_live(self, data: dict, reasons: dict) -> None:
        parts = []
        for f in self.form.fields_flat():
            if f.cases:
                value = roles.display(self.form, f.id, data.get(f.id)) or "-"
                why, typed = reasons.get(f.id) or "", None
                if f.id in self.overrides:
                    why, typed = "已改判：", str(self.overrides[f.id].get("reason") or "")
                parts.append((f.label.split("（")[0], value, why, typed))
        live = self.query_one("#form-live", Static)
        show_text(live, live_line(parts, (live.size.width or self.app.size.width) - 2))

    @on(FieldRow.Changed)
    async def field_changed(self, event: FieldRow.Changed) -> None:
        if not self._current_row(event.row):
            return
        if event.row.hint == "division":
            self.view.follow_parent(event.row.field.id, event.row.get_value())
            if event.row.field.id == TOWN_FIELD:
                await self.follow_town()
        for timer in (self._compute_timer, self._draft_timer):
            if timer is not None:
                timer.stop()
        self._compute_timer = self.set_timer(COMPUTE_DELAY, self.recompute)
        self._draft_timer = self.set_timer(DRAFT_DELAY, self.keep_draft)

    def keep_draft(self) -> None:
        if self.dirty:
            self.attempt(self.eng.save_draft, self.form_id, self.record_id, self.current_data())

    # ------------------------------------------------------------------ checks at the field
    def on_descendant_focus(self, event) -> None:
        row = next((a for a in event.widget.ancestors_with_self if isinstance(a, FieldRow)), None)
        if row is None:
            return
        help_text = row.field.help or ""
        show_text(self.query_one("#form-help", Static), f"{row.field.label}：{help_text}" if help_text else "")
        section = self.view.section_of_row(row)
        options = self.query_one("#form-sections", OptionList)
        if section:
            index = next(i for i, s in enumerate(self.form.sections) if s.id == section)
            options.highlighted = index

    @on(FieldRow.Left)
    def field_left(self, event: FieldRow.Left) -> None:
        row = event.row
        if row.computed or row.hint == "repeat" or not self._current_row(row):
            return
        value, message = normalize_value(self.eng, row.field, row.get_value())
        if value != row.get_value() and row.hint == "text" and not message:
            row.set_value(value)       # e.g. an ID number upgraded from 15 to 18 digits
        problems = self.attempt(self.eng.validate, self.form_id, self.current_data(), self.record_id,
                                accepted=self.accepted) or []
        self.refresh_problems(problems)
        if message:
            row.show_error(plain(message, row.field.label))
            return
        self.view.show_problems(problems, only={row.field.id})
        if row.field.unique and value:
            self._check_duplicate(row, value)

    @property
    def problems_panel(self) -> ProblemsPanel:
        return self.query_one(ProblemsPanel)

    def refresh_problems(self, problems: list[Problem]) -> None:
        """Once a save was refused, the panel follows every correction until nothing is left."""
        panel = self.problems_panel
        if panel.active:
            shown = {fid for fid, r in self.view.rows.items() if r.display}
            if not panel.show(self.form, problems, shown):
                self.app.notify("问题已全部改正，可以按 Ctrl+S 保存", timeout=4)

    def action_problems(self) -> None:
        panel = self.problems_panel
        if panel.display:
            panel.focus()

    @on(ProblemsPanel.Jump)
    def jump_to_field(self, event: ProblemsPanel.Jump) -> None:
        row = self.view.rows.get(event.field_id)
        if row is None:
            return
        if not row.display:
            self.app.notify(f"{row.field.label}现在不用填写")
            return
        self.view.scroll_to_widget(row, animate=False)
        target = row.editor
        if row.hint == "repeat":
            target = row.editor.query_one("RepeatTable")
        elif row.hint == "reference":
            target = row.query_one("Button")
        target.focus(scroll_visible=False)

    def _check_duplicate(self, row: FieldRow, value: Any) -> None:
        other = self.attempt(self.eng.find_unique, self.form_id, row.field.id, value, self.record_id)
        self.duplicate_of = other
        if other:
            row.show_error(f"已登记：{person_label(self.eng, row.field, other)}，按 Ctrl+G 打开该档案")

    def action_open_duplicate(self) -> None:
        if self.duplicate_of:
            self.app.open_person(self.duplicate_of)

    # ------------------------------------------------------------------ saving
    @after_backup
    def action_save(self, reasons: dict[str, str] | None = None) -> None:
        if reasons:
            self.accepted.update(reasons)
        if self._compute_timer is not None:   # typed faster than the live values: show what follows first
            self._compute_timer.stop()
            self._compute_timer = None
            self.recompute()
        data = self.current_data()
        try:
            result = self.eng.save(self.form_id, data, self.record_id, operator=self.app.operator or None,
                                   reasons=self.accepted or None, overrides=self.overrides or None,
                                   base=self.record)
        except ValidationFailed as exc:
            self._refused(exc.problems)
            return
        except CarebookError as exc:     # a conflict, a server away: the form and a draft keep the input
            self.app.show_error(exc)
            self.keep_draft()
            return
        except OSError as exc:
            self.app.show_error(f"保存失败，文件无法写入：{exc.strerror or exc}。已输入的内容保留在草稿中。")
            self.keep_draft()
            return
        self.baseline = None
        self.app.ledger_changed()
        self.attempt(self.eng.drop_draft, self.form_id, self.record_id)
        self.app.notify(f"已保存：{self.form.title}" + followups_note(result), timeout=4)
        for msg in result.plugin_errors:      # saved; a plugin's after_save did not finish
            self.app.show_error(msg)
        saved_id = result.id
        self.app.pop_screen()
        if self.form_id == roles.PERSON_FORM and self.record_id is None:
            self.app.open_person(saved_id)

    def _refused(self, problems: list[Problem]) -> None:
        errors = [p for p in problems if p.is_error]
        first = self.view.show_problems(problems)
        if errors:
            shown = {fid for fid, r in self.view.rows.items() if r.display}
            count = self.problems_panel.show(self.form, problems, shown)
            if first is not None:
                self.jump_to_field(ProblemsPanel.Jump(first.field.id))
            if count:
                self.app.notify(f"共 {count} 处需要改正，已列在下方；改正一处少一处。",
                                title="有错误，未保存", severity="error", timeout=REFUSED_NOTICE_SECONDS)
            else:       # every error is on a field this form does not show: say what they are
                self.app.notify("\n".join(self._problem_line(p) for p in errors),
                                title="有错误，未保存", severity="error", timeout=10)
            return
        warnings = {p.rule: p for p in problems if not p.is_error and p.rule}   # one ask per rule
        asks = [Ask(rule, self._problem_line(p)) for rule, p in warnings.items()]
        if not asks:
            self.app.notify("\n".join(self._problem_line(p) for p in problems), title="未保存", severity="error")
            return
        self.app.push_screen(
            PromptScreen("需要说明理由", asks, note="以下提醒需要填写理由才能保存（理由会记入修改历史）："),
            lambda answers: answers and self.action_save(answers))

    def _problem_line(self, p: Problem) -> str:
        target, text = clerk_problem(self.form, p)
        f = self.form.field(target) if target else None
        return f"{f.label}：{text}" if f else text

    def action_override(self) -> None:
        fields = [f for f in self.form.fields_flat() if f.override]
        if not fields:
            self.app.notify("本表没有可以改判的字段")
            return
        f = fields[0]
        current = self.overrides.get(f.id, {})

        def done(answer: dict | None) -> None:
            if answer:
                self.overrides[f.id] = {"value": answer["value"], "reason": answer["reason"]}
                self.recompute()

        self.app.push_screen(PromptScreen(f"改判{f.label}", [
            Ask("value", f.label, current.get("value", ""), choices=self.form.choices_for(f)),
            Ask("reason", "改判理由", current.get("reason", "")),
        ], note="自动评定的结果与实际情况不符时，填写理由后改判。"), done)

    # ------------------------------------------------------------------ moving around
    def action_section(self, step: int) -> None:
        options = self.query_one("#form-sections", OptionList)
        visible = [i for i, s in enumerate(self.form.sections) if self.query_one(f"#sec-{s.id}").display]
        current = options.highlighted or 0
        later = [i for i in visible if (i - current) * step > 0]
        if later:
            self.jump_to(later[0] if step > 0 else later[-1])

    def jump_to(self, index: int) -> None:
        section = self.form.sections[index]
        self.query_one("#form-sections", OptionList).highlighted = index
        self.view.scroll_to_widget(self.query_one(f"#sec-{section.id}"), top=True, animate=False)
        row = next((self.view.rows[f.id] for f in section.fields
                    if not self.view.rows[f.id].computed and self.view.rows[f.id].display), None)
        if row:
            row.editor.focus(scroll_visible=False)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.jump_to(event.option_index)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id and event.button.id.startswith("pick-"):
            self._pick(event.button.id.removeprefix("pick-"))

    def _pick(self, fid: str) -> None:
        from .picker import PickRecordScreen

        row = self.view.rows[fid]
        target = row.field.options.get("form", roles.PERSON_FORM)

        def done(record_id: str | None) -> None:
            if record_id:
                row.set_value(record_id, person_label(self.eng, row.field, record_id))
                for carried, value in roles.carried_values(self.eng, self.form, record_id).items():
                    if carried in self.view.rows:
                        self.view.rows[carried].set_value(value)
                self.recompute()

        self.app.push_screen(PickRecordScreen(target), done)

    def action_back(self) -> None:
        if not self.dirty:
            self.app.pop_screen()
            return
        self.keep_draft()

        def done(answer: str | None) -> None:
            if answer == "save":
                self.action_save()
            elif answer == "discard":
                self.attempt(self.eng.drop_draft, self.form_id, self.record_id)
                self.baseline = None
                self.app.pop_screen()

        self.app.push_screen(ConfirmScreen(
            "有未保存的修改。草稿已自动保留，下次打开时可恢复。",
            [("save", "保存"), ("discard", "放弃修改"), ("stay", "继续填写")], title="离开前确认"), done)


def person_label(engine: Any, field: Any, record_id: str) -> str:
    """`张桂兰（120116157201-0001）`, name and file number, for a reference or a duplicate notice."""
    target = field.options.get("form", roles.PERSON_FORM) if field.type == "record-ref" else roles.PERSON_FORM
    form = roles.form_or_none(engine, target)
    rec = engine.get(record_id, target)
    if rec is None or form is None:
        return "（档案不存在）"
    title = rec["data"].get(form.title_field or "name") or ""
    unique = next((f.id for f in form.top_fields() if f.unique and f.type == "text"), None)
    extra = f"（{rec['data'].get(unique)}）" if unique and rec["data"].get(unique) else ""
    return f"{title}{extra}"


def build_ahead(app: Any, form_id: str) -> None:
    """Build and style the kept entry screen of `form_id` before it is first opened, while
    staff read the home screen, so that the first 新建登记 of the day is as quick as the
    next ones. It is mounted unseen: nothing is focused or offered until it is opened."""
    try:
        if app.is_screen_installed(_kept_name(app.engine, form_id, None)):
            return
        screen = FormEntryScreen.opened(app, form_id)
    except CarebookError:                        # a broken form: reported when opened
        return
    mount_unseen(app, screen)


def _kept_name(engine: Any, form_id: str, version: int | None) -> str:
    """The name the kept entry screen of a form version is installed under."""
    return f"form-entry:{form_id}:{version or engine.form(form_id).version}"


LIVE_LINES = 2      # the live line's height at most (`#form-live`, app.tcss)


def live_line(parts: list[tuple[str, str, str, str | None]], width: int) -> Text:
    """The live line: each (label, value, why, reason typed by staff) as 「**label** value（why
    reason）」, as text (a typed `[` is shown, never read as markup). When it would take more
    than its `LIVE_LINES` rows of `width` cells, the typed reasons are cut to the most cells
    that fit, ending in 「…」, so the line's end stays on screen however long a reason is (the
    parts themselves — a few labels and values — fit two rows); the whole reason is in the
    person file's 修改历史 once saved."""
    def build(most: int | None) -> Text:
        out = Text()
        for i, (label, value, why, typed) in enumerate(parts):
            out.append("  " if i else "")
            out.append(label, "bold")
            out.append(f" {value}")
            if typed and most is not None and cell_len(typed) > most:
                typed = set_cell_size(typed, most).rstrip() + "…"
            if why or typed:
                out.append(f"（{why}{typed or ''}）")
        return out

    def fits(line: Text) -> bool:
        return len(line.wrap(_MEASURE, max(1, width))) <= LIVE_LINES

    line = build(None)
    longest = max((cell_len(typed or "") for *_, typed in parts), default=0)
    if fits(line) or not longest:
        return line
    low, high = 0, longest - 1            # the most cells of each reason that fit: low fits
    while low < high:
        mid = (low + high + 1) // 2
        if fits(build(mid)):
            low = mid
        else:
            high = mid - 1
    return build(low)


_MEASURE = Console(width=200, legacy_windows=False, color_system=None)   # wraps text, prints nothing
