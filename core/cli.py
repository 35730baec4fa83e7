"""The `carebook` command: the terminal UI by default, headless subcommands for admins and scripts.

Every subcommand prints Chinese messages and exits 0 on success, 1 when the input was refused
(a form that does not check, a record that breaks a rule) and 2 when it could not run at all
(a locked or unreadable data folder). No traceback reaches the user: `main` turns every
`CarebookError` into a message.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import unicodedata
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable

from core import dates
from core import clihelp as H
from core import paths
from core.divisionargs import UnknownDivision
from core.privatefiles import private_umask
from core.problems import CarebookError, ValidationFailed
from core.textsafety import printable

EXIT_OK, EXIT_REFUSED, EXIT_BROKEN = 0, 1, 2
DEMO_FIRST_RUN = 500   # people in the demo ledger `carebook --demo` makes on first use (~30 s)


def _out(text: str = "") -> None:
    """Print one line; stored text cannot drive the terminal (see `core.textsafety.printable`)."""
    sys.stdout.write(printable(text) + "\n")


def _err(text: str) -> None:
    sys.stderr.write(printable(text) + "\n")


def _json(obj) -> None:
    _out(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _date(s: str | None) -> dt.date | None:
    if not s:
        return None
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise CarebookError(f"日期格式不对：{s}（应为 YYYY-MM-DD）") from None


def _data_dir(args) -> Path:
    if args.data:
        return args.data if paths.is_server(args.data) else Path(args.data)   # a server URL stays a string
    return paths.demo_data_dir() if getattr(args, "demo", False) else paths.default_data_dir()


_OPENED: list = []     # engines this command opened: their storage problems are told at the end


def _engine(args, readonly: bool = False):
    """The open engine, with --town/--village (names or codes) turned into codes."""
    from core.divisionargs import resolve_args
    from core.engine import Engine

    eng = Engine.open(_data_dir(args), args.forms, operator=getattr(args, "operator", None), readonly=readonly)
    try:
        resolve_args(eng.divisions, args)
    except CarebookError:
        eng.close()
        raise
    _OPENED.append(eng)
    return eng


def _tell_storage_problems() -> None:
    """Every command says what the storage set aside or rebuilt and where a good copy is."""
    while _OPENED:
        for p in _OPENED.pop(0).store.problems:
            try:
                _err(f"注意：{p}")
            except (OSError, ValueError):     # stderr already closed (`carebook ... | head`)
                return


# ------------------------------------------------------------------ forms
def cmd_forms_check(args) -> int:
    from core import hookcalls
    from core.formlang.formload import _form_dir_of, check_paths, load_form_dir
    from core.plugins import FormsHost, build_registry, load_plugins

    targets = [Path(p) for p in args.paths] or [Path(args.forms) if args.forms else paths.default_forms_dir()]
    folder = targets[0] if targets[0].is_dir() else _form_dir_of(targets[0])
    plugin_set = load_plugins()
    registry = build_registry(plugin_set, engine=FormsHost(folder))   # its own division list
    problems = check_paths(targets, registry)
    for p in problems:
        _out(str(p))
    # What plugins add through extend_form is checked as a save of each town's records would.
    try:
        towns = [t.code for t in registry.data["divisions"]().towns()] if "divisions" in registry.data else []
    except CarebookError:
        towns = []                  # the division file's own problems are reported above
    extension_errors = hookcalls.check_extensions(plugin_set, load_form_dir(folder, registry), towns)
    for msg in extension_errors:
        _out(msg)
    for msg in registry.problems:
        _err(msg)
    errors = [p for p in problems if p.is_error]
    if errors or extension_errors:
        _err(f"发现 {len(errors) + len(extension_errors)} 个问题。")
        return EXIT_REFUSED
    _out("表单文件检查通过。")
    return EXIT_OK


def cmd_forms_schema(args) -> int:
    from core.formlang.compile import compile_form

    with _engine(args, readonly=True) as eng:
        _json(compile_form(eng.form(args.form), eng.registry))
    return EXIT_OK


def cmd_forms_list(args) -> int:
    with _engine(args, readonly=True) as eng:
        for form in eng.record_forms():
            _out(f"{form.id}\t第{form.version}版\t{form.title}")
        for p in eng.forms.problems:
            _err(str(p))
    return EXIT_OK


# ------------------------------------------------------------------ records
def _parse_accept(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items or []:
        rule, sep, reason = item.partition("=")
        if not sep or not reason.strip():
            raise CarebookError(f"--accept 应写成 规则=理由：{item}")
        out[rule.strip()] = reason.strip()
    return out


def _load_json_file(path: str) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CarebookError(f"无法读取文件 {path}：{exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CarebookError(f"{path}:{exc.lineno}:{exc.colno}: 不是有效的 JSON（{exc.msg}）") from None
    except ValueError:       # an integer of thousands of digits
        raise CarebookError(f"{path}: 文件中有位数过多的数字") from None
    except RecursionError:
        raise CarebookError(f"{path}: 文件嵌套层次太深") from None
    if not isinstance(data, dict):
        raise CarebookError(f"{path}: 记录应是一个 JSON 对象（{{...}}）")
    return data


def cmd_records_add(args) -> int:
    data = _load_json_file(args.file)
    with _engine(args) as eng:
        res = eng.save(args.form, data, operator=args.operator, reasons=_parse_accept(args.accept))
    _out(res.id)
    return _after_save_errors(res)


def _after_save_errors(res) -> int:
    """The record is saved; a plugin's after_save that failed is said plainly, exit non-zero."""
    for msg in res.plugin_errors:
        _err(msg)
    return EXIT_BROKEN if res.plugin_errors else EXIT_OK


def cmd_records_import(args) -> int:
    from core.transfer.importing import mapping_path
    from core.transfer.importmap import parse_fixed

    fixed = parse_fixed(args.set or [])
    with _engine(args, readonly=args.dry_run or args.map is not None) as eng:
        if args.map is not None:
            cmap = eng.import_mapping(args.form, args.file, fixed=fixed, mapping=args.mapping)
            for line in cmap.describe():
                _out(line)
            written = cmap.save(args.map or mapping_path(args.file[0]))
            _err(f"列对应已写入 {written}：核对后用 --mapping {written} 导入。")
            return EXIT_OK
        res = eng.import_records(args.form, args.file, operator=args.operator, dry_run=args.dry_run,
                                 skip_bad=args.skip_bad, mapping=args.mapping, fixed=fixed, strict=args.strict)
    for note in res.notes:
        _err(f"提示：{note}")
    for p in res.problems:
        _out(str(p))
    later = f"（其中 {len(res.incomplete)} 人待补全）" if res.incomplete else ""
    if args.dry_run:
        _err(f"检查完毕：共 {res.rows} 人，{res.rows - res.refused} 人可以导入{later}，{res.refused} 行有问题（未保存）。")
    elif res.problems and not args.skip_bad:
        _err(f"共 {res.rows} 人，{res.refused} 行有问题，全部未导入。请改正后重新导入，"
             "或加 --skip-bad 只导入没有问题的行。")
    else:
        _err(f"已导入 {res.saved} 人{later}" + (f"，{res.refused} 行有问题未导入" if res.problems else "") + "。")
    if res.incomplete and (args.dry_run or res.saved):
        _out(f"待补全 {len(res.incomplete)} 人（状态“待补全”，不计入汇总表；请在登记表中补全后改为“在册”）：")
        for item in res.incomplete:
            _out(f"  {item}")
    return EXIT_REFUSED if res.problems else EXIT_OK


def cmd_records_template(args) -> int:
    with _engine(args) as eng:
        written = eng.export("records", args.format, Path(args.output), form=args.form, blank=True)
    for p in written:
        _out(str(p))
    return EXIT_OK


def cmd_records_update(args) -> int:
    data = _load_json_file(args.file)
    with _engine(args) as eng:
        res = eng.save(args.form, data, record_id=args.id, operator=args.operator,
                       reasons=_parse_accept(args.accept))
    _out(res.id)
    return _after_save_errors(res)


def _full_engine(args, what: str):
    """The engine for a command that may show personal data in full: with `--full` it opens the
    ledger for writing (the audit log is written, with the operator, before anything is shown);
    without, read-only."""
    eng = _engine(args, readonly=not args.full)
    if args.full:
        try:
            eng.audit_full_read(what, params={k: getattr(args, k, None) for k in ("form", "id", "town", "village", "text")})
        except BaseException:
            eng.close()
            raise
    return eng


def _mask_row(eng, form_id: str, row: dict) -> dict:
    """Personal fields masked by the same rule the lists and exports use."""
    from core.transfer.exporting import mask_value
    from core.transfer.exportform import pii_kind

    form = eng.form(form_id)
    out = dict(row)
    for f in form.fields_flat():
        if f.id in out and (kind := pii_kind(f)):
            out[f.id] = mask_value(kind, out[f.id])
    return out


def _division_names(eng, form_id: str, rows: list[dict]) -> list[dict]:
    """Towns and villages as staff know them: the name, and for a village its code beside it
    (village names repeat across towns; the code is what `--village` and the files use)."""
    try:
        divisions = eng.divisions
    except CarebookError:
        return rows                 # a broken division file: the codes still identify the place
    fields = [f.id for f in eng.form(form_id).fields_flat() if f.type == "division"]
    for row in rows:
        for fid in fields:
            d = divisions.get(row.get(fid)) if row.get(fid) else None
            if d is not None:
                row[fid] = d.name if d.level != "village" else f"{d.name}（{d.code}）"
    return rows


def cmd_records_list(args) -> int:
    with _full_engine(args, "记录列表") as eng:
        filters = {k: v for k, v in (("town", args.town), ("village", args.village)) if v}
        page = eng.query(args.form, text=args.text, filters=filters, sort=args.sort, offset=args.offset,
                         limit=args.limit)
        rows = [{k: v for k, v in r.items() if not k.startswith("_")} for r in page.rows]
        rows = rows if args.full else [_mask_row(eng, args.form, r) for r in rows]
        if args.json:
            _json({"total": page.total, "offset": page.offset, "rows": rows})
        else:
            for r in _division_names(eng, args.form, rows):
                _out("\t".join(str(v if v is not None else "") for v in r.values()))
            _err(f"共 {page.total} 条，显示第 {page.offset + 1}–{page.offset + len(rows)} 条")
    return EXIT_OK


def cmd_records_show(args) -> int:
    with _full_engine(args, "记录") as eng:
        rec = eng.get(args.id)
        if rec is None:
            raise CarebookError(f"没有找到记录 {args.id}")
        from core.transfer.exportform import masked_retired

        if not args.full:
            rec = {**eng.masked(rec), **masked_retired(rec)}
        if args.json:
            _json(rec)
        else:
            form = eng.form(rec["form"], rec["version"])
            _out(f"{form.title}（第{rec['version']}版）  记录 {rec['id']}")
            _out(f"创建 {rec['created']}  更新 {rec['updated']}  操作员 {rec['operator']}")
            for f in form.fields_flat():
                if f.id in rec["data"]:
                    _out(f"  {f.label}: {rec['data'][f.id]}")
            for key, item in (rec.get("retired") or {}).items():   # fields the form no longer has
                _out(f"  （已停用）{item.get('label') or key}: {item.get('value')}")
    return EXIT_OK


def cmd_records_history(args) -> int:
    with _full_engine(args, "修改历史") as eng:
        hist = eng.history(args.id) if args.full else eng.masked_history(args.id)
        if not hist:
            raise CarebookError(f"没有找到记录 {args.id} 的修改历史")
        if args.json:
            _json(hist)
            return EXIT_OK
        for h in hist:
            _out(f"{h['at']}  {h.get('operator') or '（未署名）'}  {h.get('action', '')}  表单第{h.get('version')}版"
                 + (f"  备注：{h['note']}" if h.get("note") else ""))
            for c in h.get("changes", []):
                _out(f"    {c['path']}: {c.get('old')!r} → {c.get('new')!r}")
            for r in h.get("reasons", []):
                _out(f"    接受警告 {r['rule']}：{r['reason']}")
            for fid, ov in (h.get("overrides") or {}).items():
                _out(f"    人工调整 {fid}：{ov.get('value')}（理由：{ov.get('reason')}）")
    return EXIT_OK


def cmd_records_outdated(args) -> int:
    with _engine(args, readonly=True) as eng:
        ids = eng.outdated(args.form)
        for rid in ids:
            _out(rid)
        _err(f"按旧版本表单保存的记录：{len(ids)} 条（当前第 {eng.form(args.form).version} 版）")
    return EXIT_OK


# ------------------------------------------------------------------ visits, reports, export, demo
def cmd_visits_due(args) -> int:
    with _engine(args, readonly=True) as eng:
        items = eng.visits_due(as_of=_date(args.as_of), town=args.town, village=args.village)
        rows = [getattr(i, "__dict__", i) for i in items]
        if args.json:
            _json(rows)
        else:       # one write for the whole list (24,000 lines at 50,000 people), each line made safe
            sys.stdout.write("".join(
                printable(f"{'逾期' if r.get('status') == 'overdue' else '待访'}\t{r.get('level')}\t{r.get('name')}"
                          f"\t{r.get('village_name') or r.get('village')}\t应访日期 {r.get('due_date')}"
                          f"\t上次 {r.get('last_visit') or '无'}") + "\n" for r in rows))
            _err(f"共 {len(rows)} 人次待访或逾期")
    return EXIT_OK


def _print_report(rep, as_json: bool) -> None:
    rows = list(rep.rows)
    if as_json:
        _json({"name": rep.name, "title": rep.title, "unit": rep.unit, "date": rep.date,
               "period": rep.period, "due": rep.due, "late": rep.late,
               "columns": [{"key": c.key, "label": c.label, "groups": list(c.groups), "number": c.number}
                           for c in rep.columns],
               "rows": rows, "total": rep.total, "checks": [str(p) for p in rep.checks]})
        return
    _out(rep.title)
    meta = [x for x in (rep.unit and f"填报单位：{rep.unit}", rep.period and f"期间：{rep.period}",
                        rep.date and f"日期：{rep.date}", rep.due and f"截止：{rep.due}" + ("（已逾期）" if rep.late else ""))
            if x]
    if meta:
        _out("  ".join(meta))
    _out("\t".join(("/".join((*c.groups, c.label))) for c in rep.columns))
    for r in rows + ([rep.total] if rep.total else []):
        _out("\t".join("" if r.get(c.key) is None else str(r.get(c.key)) for c in rep.columns))
    for p in rep.checks:
        _err(f"勾稽关系不符：{p}")


def cmd_report(args) -> int:
    with _full_engine(args, f"报表 {args.name}") as eng:
        params = {k: v for k, v in (("town", args.town), ("village", getattr(args, "village", None))) if v}
        if args.name == "summary":
            params["quarter"] = args.quarter or _current_quarter()
            if args.by_village:
                params["by_village"] = True
        if args.as_of:
            params["as_of"] = _date(args.as_of)
        rep = eng.report(args.name, **params)
        if args.name == "roster" and not args.full:
            from core.transfer.exporting import mask_value

            rep.rows = ({k: (mask_value(c.pii, r.get(k)) if (c := _col(rep, k)) and c.pii else v)
                         for k, v in r.items()} for r in rep.rows)
        _print_report(rep, args.json)
        return EXIT_REFUSED if rep.checks else EXIT_OK


def _col(rep, key):
    for c in rep.columns:
        if c.key == key:
            return c
    return None


def _current_quarter(today: dt.date | None = None) -> str:
    d = today or dates.today()
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


def cmd_export(args) -> int:
    with _engine(args) as eng:
        params = {k: v for k, v in (("town", args.town), ("village", args.village), ("quarter", args.quarter),
                                    ("record_id", args.record), ("form", args.form)) if v}
        if args.what == "summary" and "quarter" not in params:
            params["quarter"] = _current_quarter()
        written = eng.export(args.what, args.format, Path(args.output), full=args.full, **params)
        for p in written:
            _out(str(p))
        if args.full:
            _err("注意：本次导出包含完整的个人信息（身份证号、电话、住址），已记入操作日志。")
    return EXIT_OK


def cmd_demo(args) -> int:
    from core.transfer.demo import generate

    data_dir = Path(args.data) if args.data else paths.demo_data_dir()
    paths.mark_demo(data_dir)
    from core.engine import Engine

    with Engine.open(data_dir, args.forms, operator="演示数据") as eng:
        result = generate(eng, persons=args.persons, seed=args.seed,
                          progress=lambda step, n: _err(f"  {step}：已生成 {n} 条"))
    _out(f"演示台账已生成：{data_dir}")
    _out(f"登记表 {result.get('registration', 0)} 份，探访记录 {result.get('visit', 0)} 条。")
    return EXIT_OK


def cmd_plugins_list(args) -> int:
    with _engine(args, readonly=True) as eng:
        infos = eng.plugins()
        if args.json:
            _json([i.__dict__ for i in infos])
        else:
            for i in infos:
                _out(f"{i.name}\t{i.source}\t{i.version or '-'}\t{', '.join(i.hooks)}")
        for msg in eng.registry.notes:
            _err(f"说明：{msg}")
        problems = eng.plugin_problems()
        for msg in problems:
            _err(f"插件问题：{msg}")
        if problems:
            _err(f"有 {len(problems)} 个插件问题，见上。")
            return EXIT_BROKEN
    return EXIT_OK


def cmd_backups(args) -> int:
    from core.storage import list_backups, restore_backup

    root = _data_dir(args)
    if paths.is_server(root):
        raise CarebookError("服务器上的台账由服务器备份（pg_dump 或基础备份），见 docs/scale.md")
    if args.action == "list":
        for b in list_backups(root):
            _out(str(b))
        return EXIT_OK
    operator = args.operator or paths.SettingsFile(root / "settings.json").get("operator") or ""
    aside = restore_backup(root, args.name, operator=operator)
    _out(f"已从备份 {args.name} 恢复；原来的文件移到了 {aside}。")
    return EXIT_OK


def cmd_ui(args, open_ui=None) -> int:
    """Plain `carebook`: the terminal UI, handed in by `tui.launch` so core never imports it."""
    if open_ui is None:
        raise CarebookError("这里只有命令行，没有终端界面；请用 carebook 命令打开界面，或用 carebook --help 查看子命令")
    data_dir = _data_dir(args)
    if args.demo and not args.data:
        if not (data_dir / "records").exists():
            _err("首次打开演示台账，正在生成演示数据（约半分钟）……")
            cmd_demo(argparse.Namespace(data=str(data_dir), forms=args.forms, persons=DEMO_FIRST_RUN, seed=1))
    return open_ui(data_dir, demo=args.demo or paths.is_demo(data_dir),
                   forms_dir=Path(args.forms) if args.forms else None, low_spec=args.low_spec) or EXIT_OK


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    # --data/--forms work before or after the subcommand; the subcommand's copy must not
    # reset a value given before it, hence SUPPRESS there.
    def common_options(default):
        parser = argparse.ArgumentParser(add_help=False)
        parser.add_argument("--data", default=default, help="数据文件夹（默认：CAREBOOK_DATA 或用户数据目录）")
        parser.add_argument("--forms", default=default, help="表单文件夹（默认：CAREBOOK_FORMS 或随程序的 forms/）")
        parser.add_argument("--demo", action="store_true", default=default or False,
                            help="使用演示台账（单独的数据文件夹，首次使用时生成）")
        return parser

    common = common_options(argparse.SUPPRESS)
    p = argparse.ArgumentParser(prog="carebook", parents=[common_options(None)],
                                description="农村留守老年人信息台账。不带子命令时打开终端界面。")
    p.add_argument("--low-spec", action="store_true", help="低配置模式：关闭动画")
    sub = p.add_subparsers(dest="command", metavar="命令")

    forms = sub.add_parser("forms", help="检查和查看表单文件").add_subparsers(dest="sub", required=True)
    c = forms.add_parser("check", parents=[common], help="检查表单文件")
    c.add_argument("paths", nargs="*", help="只检查这些表单文件（默认：表单文件夹中的全部）")
    c.set_defaults(func=cmd_forms_check)
    c = forms.add_parser("schema", parents=[common], help="打印表单编译出的 JSON Schema")
    c.add_argument("form", help=H.FORM)
    c.set_defaults(func=cmd_forms_schema)
    forms.add_parser("list", parents=[common], help="列出表单").set_defaults(func=cmd_forms_list)

    rec = sub.add_parser("records", help="记录").add_subparsers(dest="sub", required=True)
    c = rec.add_parser("add", parents=[common], help="从 JSON 文件新增一条记录")
    c.add_argument("form", help=H.FORM)
    c.add_argument("file", help=H.JSON_FILE)
    c.add_argument("--operator", help=H.OPERATOR)
    c.add_argument("--accept", action="append", metavar="规则=理由", help=H.ACCEPT)
    c.set_defaults(func=cmd_records_add)
    c = rec.add_parser("import", parents=[common], help="从 Excel（.xlsx）或 CSV 文件批量导入记录")
    c.add_argument("form", help=H.FORM)
    c.add_argument("file", nargs="+", help="一个 .xlsx；或几个 .csv（主表和子表，如 registration.csv registration-children.csv）")
    c.add_argument("--operator", help=H.OPERATOR)
    c.add_argument("--dry-run", action="store_true", help="只检查，不保存")
    c.add_argument("--skip-bad", action="store_true", help="有问题的行不导入，其余照常导入")
    c.add_argument("--map", nargs="?", const="", metavar="输出文件",
                   help="只显示列对应（文件中的列 → 字段）并写成 YAML 文件，不导入；默认写在表格旁")
    c.add_argument("--mapping", metavar="文件", help="用核对过的列对应文件（--map 生成）")
    c.add_argument("--set", action="append", metavar="字段=值",
                   help="全表统一的值，如 --set town=太平镇 --set village=翟庄子村 --set filing_date=2026-12-01")
    c.add_argument("--strict", action="store_true", help="缺必填项的行也算有问题（不作为“待补全”导入）")
    c.set_defaults(func=cmd_records_import)
    c = rec.add_parser("template", parents=[common], help="生成导入用的空白表格（表头即字段）")
    c.add_argument("form", help=H.FORM)
    c.add_argument("--output", required=True, help=H.OUTPUT)
    c.add_argument("--format", default="xlsx", choices=["xlsx", "csv"], help="表格格式（默认 xlsx）")
    c.set_defaults(func=cmd_records_template)
    c = rec.add_parser("update", parents=[common], help="用 JSON 文件修改一条记录")
    c.add_argument("form", help=H.FORM)
    c.add_argument("id", help=H.RECORD_ID)
    c.add_argument("file", help=H.JSON_FILE)
    c.add_argument("--operator", help=H.OPERATOR)
    c.add_argument("--accept", action="append", metavar="规则=理由", help=H.ACCEPT)
    c.set_defaults(func=cmd_records_update)
    c = rec.add_parser("list", parents=[common], help="列出记录")
    c.add_argument("form", help=H.FORM)
    c.add_argument("--town", help=H.TOWN)
    c.add_argument("--village", help=H.VILLAGE)
    c.add_argument("--text", help="查找：姓名或其拼音（全拼或首字母）、完整身份证号或电话，或姓名加号码后四位")
    c.add_argument("--sort", help="按哪个字段排序（字段编号，如 name）")
    c.add_argument("--offset", type=int, default=0, help="跳过前几条（分页用，默认 0）")
    c.add_argument("--limit", type=int, default=10_000_000, help="最多列出几条")
    c.add_argument("--json", action="store_true", help=H.JSON)
    _full_options(c)
    c.set_defaults(func=cmd_records_list)
    c = rec.add_parser("show", parents=[common], help="显示一条记录")
    c.add_argument("id", help=H.RECORD_ID)
    c.add_argument("--json", action="store_true", help=H.JSON)
    _full_options(c)
    c.set_defaults(func=cmd_records_show)
    c = rec.add_parser("history", parents=[common], help="显示一条记录的修改历史")
    c.add_argument("id", help=H.RECORD_ID)
    c.add_argument("--json", action="store_true", help=H.JSON)
    _full_options(c)
    c.set_defaults(func=cmd_records_history)
    c = rec.add_parser("outdated", parents=[common], help="列出按旧版本表单保存的记录")
    c.add_argument("form", help=H.FORM)
    c.set_defaults(func=cmd_records_outdated)

    vis = sub.add_parser("visits", help="探访").add_subparsers(dest="sub", required=True)
    c = vis.add_parser("due", parents=[common], help="待访和逾期名单")
    c.add_argument("--as-of", help=H.AS_OF)
    c.add_argument("--town", help=H.TOWN)
    c.add_argument("--village", help=H.VILLAGE)
    c.add_argument("--json", action="store_true", help=H.JSON)
    c.set_defaults(func=cmd_visits_due)

    rep = sub.add_parser("report", help="花名册和汇总表").add_subparsers(dest="name", required=True)
    c = rep.add_parser("roster", parents=[common], help="花名册（附件2）")
    c.add_argument("--town", help=H.TOWN)
    c.add_argument("--village", help=H.VILLAGE)
    c.add_argument("--as-of", help=H.AS_OF)
    c.add_argument("--json", action="store_true", help=H.JSON)
    _full_options(c)
    c.set_defaults(func=cmd_report, quarter=None, by_village=False)
    c = rep.add_parser("summary", parents=[common], help="排查汇总表（附件3）")
    c.add_argument("--quarter", help=H.QUARTER)
    c.add_argument("--town", help=H.TOWN)
    c.add_argument("--by-village", action="store_true", help=H.BY_VILLAGE)
    c.add_argument("--as-of", help=H.AS_OF)
    c.add_argument("--json", action="store_true", help=H.JSON)
    c.set_defaults(func=cmd_report, full=False)

    c = sub.add_parser("export", parents=[common], help="导出花名册、汇总表或记录")
    c.add_argument("what", choices=["roster", "summary", "records", "form"],
                   help="导出什么：roster 花名册、summary 汇总表、records 记录、form 一个人的登记表")
    c.add_argument("--format", required=True, help=H.FORMAT)
    c.add_argument("--output", required=True, help=H.OUTPUT)
    c.add_argument("--quarter", help=H.QUARTER)
    c.add_argument("--town", help=H.TOWN)
    c.add_argument("--village", help=H.VILLAGE)
    c.add_argument("--record", help="导出一个人的登记表（form）")
    c.add_argument("--form", help="导出哪个表单的记录（records，默认 registration）")
    c.add_argument("--full", action="store_true", help="导出完整的个人信息（记入操作日志）")
    c.add_argument("--operator", help="操作员姓名（--full 时必填，记入操作日志）")
    c.set_defaults(func=cmd_export)

    c = sub.add_parser("demo", parents=[common], help="生成演示台账")
    c.add_argument("--persons", type=int, default=2000, help="虚构多少人（默认 2000）")
    c.add_argument("--seed", type=int, default=1, help="随机种子：同一个数生成同样的人（默认 1）")
    c.set_defaults(func=cmd_demo)

    plug = sub.add_parser("plugins", help="插件").add_subparsers(dest="sub", required=True)
    c = plug.add_parser("list", parents=[common], help="列出已安装的插件")
    c.add_argument("--json", action="store_true", help=H.JSON)
    c.set_defaults(func=cmd_plugins_list)

    bk = sub.add_parser("backups", help="备份").add_subparsers(dest="action", required=True)
    bk.add_parser("list", parents=[common], help="列出备份").set_defaults(func=cmd_backups)
    c = bk.add_parser("restore", parents=[common], help="从备份恢复")
    c.add_argument("name", help="备份名称（backups list 列出）")
    c.add_argument("--operator", help="操作员（记入操作日志）")
    c.set_defaults(func=cmd_backups)
    _register_command_modules(CommandGroups(sub, {"forms": forms, "records": rec, "visits": vis,
                                                  "report": rep, "plugins": plug, "backups": bk},
                                            common))
    return p


def _full_options(c) -> None:
    c.add_argument("--full", action="store_true", help="显示完整的个人信息（记入操作日志，需写明操作员）")
    c.add_argument("--operator", help="操作员姓名（--full 时必填）")


@dataclass
class CommandGroups:
    """What a command module in `core/commands/` adds its subcommands to.

    `root` takes new top-level commands (`carebook followups ...`); `groups[name]` the
    existing ones (`forms`, `records`, `visits`, `report`, `plugins`, `backups`); `common` is the
    parent parser that gives each subcommand `--data`/`--forms`."""

    root: Any
    groups: dict[str, Any]
    common: argparse.ArgumentParser


def _register_command_modules(target: CommandGroups) -> None:
    """Each module of `core.commands` with a `register(target)` adds its own subcommands.

    Modules are found by name, in sorted order, so a new command family is one new file and
    no shared list to edit."""
    import importlib
    import pkgutil

    from core import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"core.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(target)


class _ChineseHelp(argparse.HelpFormatter):
    """argparse's own words (usage, options) in Chinese, like everything else staff read."""

    def add_usage(self, usage, actions, groups, prefix=None):
        return super().add_usage(usage, actions, groups, prefix or "用法：")

    def _format_usage(self, usage, actions, groups, prefix):
        """The usage wrapped by terminal columns: argparse counts characters, and a line of
        Chinese value names would run past the edge. Made on one line, then wrapped by the same
        parts argparse wraps by, each further line under the first option."""
        width, self._width = self._width, 1 << 20
        try:
            text = super()._format_usage(usage, actions, groups, prefix).strip("\n")
        finally:
            self._width = width
        room = self._width - self._current_indent
        if _cells(text) <= room:
            return text + "\n\n"
        lead = (prefix or "") + self._prog + " "
        indent = " " * _cells(lead)
        lines, line = [], lead.rstrip(" ")
        for part in _USAGE_PART.findall(text[len(lead):]):
            if _cells(line) + 1 + _cells(part) > room and line.strip():
                lines.append(line)
                line = indent + part
            else:
                line += " " + part
        return "\n".join(lines + [line]) + "\n\n"

    def _split_lines(self, text, width):
        """Help text wrapped by terminal columns (two a Chinese character), breaking between
        Chinese characters or at spaces, never inside a Latin word or a number, and no line
        starting with a comma or a closing bracket (it stays at the end of the line before)."""
        lines, line = [], ""
        for token in _HELP_TOKEN.findall(" ".join(text.split())):
            if _cells(line) + _cells(token) > width and line.strip() and token not in _NO_LINE_START:
                lines.append(line.rstrip())
                line = "" if token.isspace() else token
            else:
                line += token
        return lines + [line.rstrip()] if line.strip() else lines

    def add_argument(self, action):
        """The help column placed after the widest option as the terminal shows it."""
        super().add_argument(action)
        if action.help is not argparse.SUPPRESS:
            width = _cells(self._format_action_invocation(action)) + self._current_indent
            self._action_max_length = max(self._action_max_length, width)

    def _format_action(self, action):
        """The help column lined up on a terminal: argparse pads by characters, and a Chinese
        value name (`--town 街镇`) is two columns a character, so its help would start further
        right than the others'. The padding is taken back by the extra width, or the help moved
        under the option when it no longer fits beside it."""
        text = super()._format_action(action)
        invocation = self._format_action_invocation(action)
        extra = _cells(invocation) - len(invocation)
        head = " " * self._current_indent + invocation
        first, newline, rest = text.partition("\n")
        if not extra or not action.help or not first.startswith(head) or first == head:
            return text
        body = first[len(head):]
        spaces = len(body) - len(body.lstrip(" "))
        if spaces - extra >= 2:
            return head + body[extra:] + newline + rest
        help_at = min(self._action_max_length + 2, self._max_help_position)
        return head + "\n" + " " * help_at + body.lstrip(" ") + newline + rest


_USAGE_PART = re.compile(r"\(.*?\)+(?=\s|$)|\[.*?\]+(?=\s|$)|\S+")
_NO_LINE_START = set("，。、；：？！）》」』”’")
_HELP_TOKEN = re.compile(r"[^\s\u2e80-\uffef]+|\s+|.")


def _cells(text: str) -> int:
    """Terminal columns of `text`: wide (Chinese) characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


_ARGPARSE_ZH = (
    ("the following arguments are required", "缺少参数"),
    ("unrecognized arguments", "无法识别的参数"),
    ("invalid choice", "无效的选择"),
    ("expected one argument", "这个选项后面要跟一个值"),
    ("invalid int value", "应为整数"),
    ("choose from", "可选"),
    ("argument ", "参数 "),
)


def _chinese_error(parser: argparse.ArgumentParser):
    """argparse's complaints in Chinese (usage line, then the message), exit code 2."""
    def error(message: str):
        for en, zh in _ARGPARSE_ZH:
            message = message.replace(en, zh)
        parser.print_usage(sys.stderr)
        parser.exit(EXIT_BROKEN, f"{parser.prog}：{message}\n")
    return error


def _in_chinese(parser: argparse.ArgumentParser) -> None:
    parser.error = _chinese_error(parser)
    parser.formatter_class = _ChineseHelp
    parser._positionals.title = "参数"
    parser._optionals.title = "选项"
    for action in parser._actions:
        if action.nargs != 0 and action.metavar is None and action.choices is None and action.dest in H.METAVARS:
            action.metavar = H.METAVARS[action.dest]
        if isinstance(action, argparse._HelpAction):
            action.help = "显示本帮助并退出"
        if isinstance(action, argparse._SubParsersAction):
            action.metavar = action.metavar or "命令"     # not {add,import,…}: listed below anyway
            for sub in action.choices.values():
                _in_chinese(sub)


def main(argv: list[str] | None = None, open_ui: Callable[..., int] | None = None) -> int:
    """Run one command; `open_ui(data_dir, demo=, forms_dir=, low_spec=)` opens the terminal UI."""
    private_umask()          # every file this run creates: owner only
    parser = build_parser()
    _in_chinese(parser)
    args = parser.parse_args(argv)
    args.open_ui = open_ui          # for commands that show the UI (forms preview)
    func = getattr(args, "func", None)
    try:
        return func(args) if func else cmd_ui(args, open_ui)
    except ValidationFailed as exc:
        for p in exc.problems:
            _out(_problem_line(p))
        return EXIT_REFUSED
    except UnknownDivision as exc:       # a --town/--village that names nothing: refused, not run
        _err(f"错误：{exc}")
        return EXIT_REFUSED
    except CarebookError as exc:
        _err(f"错误：{exc}")
        return EXIT_BROKEN
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:   # `carebook ... | head`: the reader left; not an error
        sys.stderr.close()
        return EXIT_OK
    except OSError as exc:   # the machine's trouble (read-only, full, no permission), not a bug
        from core.oserrors import describe_os_error

        _err(f"错误：{describe_os_error(exc)}")
        return EXIT_BROKEN
    except Exception:  # noqa: BLE001 - a bug must still reach the user as a sentence, not a traceback
        return _internal_error()
    finally:
        _tell_storage_problems()


def _problem_line(p) -> str:
    """A refused record's problem; a warning says the rule id `--accept` needs (once, in
    Chinese: not as the English key the message ends with)."""
    from core.records.wording import plain

    text = f"{p.path}: {plain(p.message)}" if p.path else plain(p.message)
    if not p.is_error and p.rule:
        text += f"（警告，规则 {p.rule}；核实无误可加 --accept {p.rule}=理由 保存）"
    return text


def _internal_error() -> int:
    """Keep the details for developers in a file; tell the user where it is, in Chinese."""
    import tempfile
    import traceback

    path = Path(tempfile.gettempdir()) / f"carebook-error-{dt.datetime.now():%Y%m%d-%H%M%S}.txt"
    try:
        path.write_text(traceback.format_exc(), encoding="utf-8")
        where = f"详细信息已写入 {path}，请发给维护人员。"
    except OSError:
        where = "请把出错前的操作告诉维护人员。"
    _err(f"程序内部错误，操作没有完成。{where}")
    return EXIT_BROKEN


if __name__ == "__main__":
    sys.exit(main())
