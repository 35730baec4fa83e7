"""Admin commands for changing forms safely: check against the data, migrate, publish, diff,
preview, form tests, re-evaluation and the division import (the logic is in `core.lifecycle`).

`carebook forms check` keeps its file checks and adds the division file and, when the ledger
has records, the check against them; every admin command works on the *working* forms folder
(`--forms`, `CAREBOOK_FORMS`, else the shipped `forms/`), never on the published copy.
"""
from __future__ import annotations

from pathlib import Path

from core import clihelp as H
from core import paths
from core.problems import CarebookError


def _working_dir(args) -> Path:
    return Path(args.forms) if getattr(args, "forms", None) else paths.default_forms_dir()


def _working_engine(args, readonly: bool = False):
    from core.cli import _data_dir
    from core.engine import Engine

    return Engine.open(_data_dir(args), _working_dir(args), operator=getattr(args, "operator", None),
                       readonly=readonly)


def _has_records(args) -> bool:
    """Whether there is a ledger to check the forms against: a data folder holding records,
    or a server ledger (its records are checked on the server)."""
    from core.cli import _data_dir
    from core.paths import is_server

    data = _data_dir(args)
    return is_server(data) or (Path(data) / "records").is_dir()


# ------------------------------------------------------------------ forms check
def cmd_forms_check(args) -> int:
    from core.cli import EXIT_OK, EXIT_REFUSED, _err, _out, cmd_forms_check as file_check
    from core.lifecycle.divisioncheck import division_problems

    code = file_check(args) if args.paths else None
    problems = []
    if code is None:
        import io
        import contextlib

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = file_check(args)
        text = buf.getvalue().replace("表单文件检查通过。\n", "")
        if text:
            _out(text.rstrip("\n"))
        problems += division_problems(_working_dir(args))
        if code == EXIT_OK:
            problems += _literal_problems(args)
        if not args.no_data and _has_records(args) and code == EXIT_OK:
            from core.lifecycle import datacheck

            with _working_engine(args, readonly=True) as eng:
                problems += datacheck.check(eng)
        for p in problems:
            _out(("" if p.is_error else "提醒：") + str(p))
    errors = [p for p in problems if p.is_error]
    if errors:
        _err(f"发现 {len(errors)} 个问题。")
        return EXIT_REFUSED
    if code == EXIT_OK and not args.paths:
        _out("表单文件检查通过。" + ("" if args.no_data or not _has_records(args) else "已核对台账中的记录。"))
    return code


def _literal_problems(args) -> list:
    from core.formlang.formload import load_form_dir
    from core.lifecycle.literals import literal_problems
    from core.plugins import build_registry, load_plugins

    return literal_problems(load_form_dir(_working_dir(args), build_registry(load_plugins())))


# ------------------------------------------------------------------ forms migrate
def cmd_forms_migrate(args) -> int:
    from core.cli import EXIT_OK, EXIT_REFUSED, _err, _out
    from core.lifecycle import migrationlog, migrations

    folder = _working_dir(args)
    if args.files:
        found, problems = [], []
        for f in args.files:
            mig, probs = migrations.load(Path(f))
            problems += probs
            found += [mig] if mig else []
    else:
        found, problems = migrations.load_folder(folder)
    for p in problems:
        _out(str(p))
    if problems:
        _err(f"迁移文件有 {len(problems)} 个问题，未执行。")
        return EXIT_REFUSED
    with _working_engine(args, readonly=args.dry_run) as eng:
        done = migrationlog.applied(eng)
        todo = [m for m in found if m.id not in done]
        for m in found:
            if m.id in done:
                _err(f"迁移 {m.id} 已于 {done[m.id].get('at', '')} 执行过，跳过。")
        if not todo:
            _out("没有待执行的迁移。")
            return EXIT_OK
        if not args.dry_run and not (args.operator or eng.operator):
            raise CarebookError("执行迁移要写明操作员：--operator 姓名")
        for m in todo:
            plan = migrations.run(eng, m, apply=not args.dry_run, operator=args.operator or "")
            _out(f"迁移 {m.id}（表单 {m.form}）：{m.reason}")
            for r in plan.results:
                line = f"  {r.step}：{r.moved} 条记录" + (f"，{r.conflicts} 条有冲突未改" if r.conflicts else "")
                _out(line)
                if r.samples:
                    _out(f"    如：{'、'.join(r.samples)}")
                if r.conflict_samples:
                    _out(f"    冲突（目标字段已有不同的值）：{'、'.join(r.conflict_samples)}")
            verb = "将修改" if args.dry_run else "已修改"
            _out(f"  共 {plan.records} 条记录，{verb} {plan.changed} 条。"
                 + (f"执行前已备份：{_backup_place(plan.backup)}" if plan.backup else ""))
        if args.dry_run:
            _err("以上为预演（--dry-run），没有保存。去掉 --dry-run 执行。")
    return EXIT_OK


def _backup_place(name: str) -> str:
    """Where a migration's backup is: the folder's backups/, or a table on the server."""
    from core.storage.pgbackup import BACKUP_SCHEMA

    if name.startswith(BACKUP_SCHEMA + "."):
        return f"服务器表 {name}（恢复：SELECT carebook.restore_backup('{name.split('.', 1)[1]}')，见 docs/scale.md）"
    return f"backups/{name}"


# ------------------------------------------------------------------ forms publish
def cmd_forms_publish(args) -> int:
    from core.cli import EXIT_OK, EXIT_REFUSED, _err, _out
    from core.lifecycle.publish import publish

    with _working_engine(args) as eng:
        if eng.forms_dir != eng._working_forms_dir:
            for p in eng.forms.problems:
                _out(str(p))
            _err("工作中的表单文件有错误，未发布；工作人员继续使用上次发布的表单。")
            return EXIT_REFUSED
        folder, problems = publish(eng, operator=args.operator or "")
        for p in problems:
            _out(("" if p.is_error else "提醒：") + str(p))
        if folder is None:
            _err(f"发现 {sum(p.is_error for p in problems)} 个问题，未发布；工作人员继续使用上次发布的表单。")
            return EXIT_REFUSED
        names = "、".join(f"{f.id} 第{f.version}版" for f in eng.record_forms())
        _out(f"已发布：{names}。工作人员下次打开或按 F5 重新加载表单时生效。")
    return EXIT_OK


# ------------------------------------------------------------------ records reevaluate
def cmd_records_reevaluate(args) -> int:
    from core.cli import EXIT_OK, _err, _out
    from core.lifecycle import reevaluate

    with _working_engine(args, readonly=args.dry_run) as eng:
        if not args.dry_run and not (args.operator or eng.operator):
            raise CarebookError("保存重新计算的结果要写明操作员：--operator 姓名")
        res = reevaluate.run(eng, args.form, apply=not args.dry_run, operator=args.operator or "")
    for line in res.table():
        _out(line)
    for (form_id, rule, message), n in sorted(res.rule_failures.items(), key=lambda kv: -kv[1]):
        _out(f"规则 {rule} 不通过：{n} 人（{message}）")
    if res.kept_theirs:
        _err(f"{res.kept_theirs} 条记录在计算期间被他人保存，保留了他人保存的内容（其中的值已按今天计算）。")
    verb = "将改变" if args.dry_run else "已更新"
    _err(f"共 {res.records} 条记录，{verb} {res.changed - res.kept_theirs} 条" + ("（预演，未保存）" if args.dry_run else "，每条都记入修改历史") + "。")
    return EXIT_OK


# ------------------------------------------------------------------ forms diff / preview
def cmd_forms_diff(args) -> int:
    from core.cli import EXIT_OK, _err, _out
    from core.lifecycle import formdiff
    from core.lifecycle.publish import baseline, is_complete, published_dir

    with _working_engine(args, readonly=True) as eng:
        pub = published_dir(eng.data_dir)
        if not is_complete(pub):
            _err("台账还没有发布过表单：与台账里保存的最新版本比较。")
        total = 0
        for form in sorted(eng.record_forms(), key=lambda f: f.id):
            if args.form and form.id != args.form:
                continue
            old = baseline(eng, form.id)
            if old is None:
                _out(f"{form.id}：新表单（第{form.version}版）")
                continue
            changes = formdiff.diff_forms(old, form)
            total += len(changes)
            head = f"{form.id}：已发布第{old.version}版 → 工作副本第{form.version}版"
            _out(head + ("" if changes else "，没有改动"))
            for c in changes:
                _out(f"  {'' if c.structural else '（仅显示）'}{c}")
        if is_complete(pub) and not args.form:
            from core.formlang.formload import load_form_dir

            published = load_form_dir(pub, eng.registry)
            for fid in sorted(set(eng.forms.files) | set(published.files)):
                changes = formdiff.diff_columns(published.files.get(fid), eng.forms.files.get(fid))
                total += len(changes)
                if changes:
                    _out(f"{fid}：")
                    for c in changes:
                        _out(f"  {c}")
        _err(f"共 {total} 处改动。")
    return EXIT_OK


def cmd_forms_preview(args) -> int:
    from core.cli import EXIT_OK, _err, _out
    from core.lifecycle.preview import scratch_ledger

    folder = _working_dir(args)
    with _working_engine(args, readonly=True) as eng:
        eng.form(args.form)           # an unknown form is a message before anything is made
    scratch, notes = scratch_ledger(folder, persons=args.persons)
    for note in notes:
        _err(f"提示：{note}")
    _out(f"预览台账（测试数据，与正式台账无关）：{scratch}")
    if args.no_ui or args.open_ui is None:
        return EXIT_OK
    return args.open_ui(scratch, demo=True, forms_dir=folder, low_spec=False, start_form=args.form) or EXIT_OK


# ------------------------------------------------------------------ forms test
def cmd_forms_test(args) -> int:
    from core.cli import EXIT_OK, EXIT_REFUSED, _err, _out
    from core.lifecycle.formtests import run

    results, problems = run(_working_dir(args), [Path(p) for p in args.files] or None)
    for p in problems:
        _out(str(p))
    failed = [r for r in results if not r.ok]
    for r in results:
        if not r.ok or args.verbose:
            _out(f"{'通过' if r.ok else '不通过'}  {r.file}：{r.name}")
        for f in r.failures:
            _out(f"    {f}")
    if not results and not problems:
        _err("没有表单测试（forms/tests/*.yaml）。")
    _err(f"表单测试：{len(results) - len(failed)} 个通过，{len(failed)} 个不通过。")
    return EXIT_REFUSED if failed or problems else EXIT_OK


# ------------------------------------------------------------------ forms schema
def cmd_forms_schema(args) -> int:
    """The compiled schema with conditional required/relevant as `if`/`then` (for other tools)."""
    from core.cli import EXIT_OK, _engine, _json
    from core.formlang.compile import compile_form
    from core.formlang.schemaconditions import with_conditions

    with _engine(args, readonly=True) as eng:
        form = eng.form(args.form)
        _json(with_conditions(compile_form(form, eng.registry), form))
    return EXIT_OK


def register(target) -> None:
    forms = target.groups["forms"]
    check = forms.choices["check"]
    check.add_argument("--no-data", action="store_true", help="只检查文件，不核对台账中的记录")
    check.set_defaults(func=cmd_forms_check)

    forms.choices["schema"].set_defaults(func=cmd_forms_schema)

    c = forms.add_parser("migrate", parents=[target.common], help="按 forms/migrations/ 中的迁移文件修改已保存的记录")
    c.add_argument("files", nargs="*", help="只执行这些迁移文件（默认：forms/migrations/ 下全部未执行的）")
    c.add_argument("--dry-run", action="store_true", help="只统计将修改多少条记录，不保存")
    c.add_argument("--operator", help=H.OPERATOR)
    c.set_defaults(func=cmd_forms_migrate)

    c = forms.add_parser("publish", parents=[target.common], help="检查后发布表单：工作人员从此使用这一版")
    c.add_argument("--operator", help=H.OPERATOR)
    c.set_defaults(func=cmd_forms_publish)

    c = forms.add_parser("diff", parents=[target.common], help="已发布的表单与工作副本的区别：字段、选项、规则、栏目")
    c.add_argument("form", nargs="?", help="只看这个表单")
    c.set_defaults(func=cmd_forms_diff)

    c = forms.add_parser("preview", parents=[target.common], help="在临时的测试台账上打开表单（不碰正式台账）")
    c.add_argument("form", help=H.FORM)
    c.add_argument("--persons", type=int, default=12, help="测试台账里的虚构人数")
    c.add_argument("--no-ui", action="store_true", help="只生成测试台账，不打开界面")
    c.set_defaults(func=cmd_forms_preview)

    c = forms.add_parser("test", parents=[target.common], help="运行表单测试（forms/tests/*.yaml：给定填写内容，应得的结果）")
    c.add_argument("files", nargs="*", help=H.FORM_TEST_FILES)
    c.add_argument("-v", "--verbose", action="store_true", help="也列出通过的情形")
    c.set_defaults(func=cmd_forms_test)

    c = target.groups["records"].add_parser("reevaluate", parents=[target.common],
                                            help="按当前表单和今天的日期重新计算自动计算的字段（年龄、认定结果、风险等级）")
    c.add_argument("--form", help="只计算这个表单（默认：全部）")
    c.add_argument("--dry-run", action="store_true", help="只列出将改变的值，不保存")
    c.add_argument("--operator", help=H.OPERATOR)
    c.set_defaults(func=cmd_records_reevaluate)
