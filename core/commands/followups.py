"""`carebook followups ...`: the follow-up items a visit created, for scripts and town offices.

    carebook followups list [--town T] [--village V] [--level 街镇] [--overdue] [--all] [--json]
    carebook followups close ID --result TEXT [--operator NAME] [--on DATE]
    carebook followups step ID --text TEXT        (处理中: what was done)
    carebook followups contact ID --row N --outcome 已联系 [--channel 电话]
    carebook followups accept-risk ID | refuse-risk ID --reason TEXT
    carebook followups sync                       (create what imported visits call for)
    carebook followups report [--quarter 2026Q4] [--town T] [--by-village] [--json]
    carebook followups export --format xlsx --output FILE [--quarter 2026Q4] [--town T]

IDs may be shortened to their first 8 characters, as `list` prints them. Personal fields are
masked as in the roster and `records list` (`--full` shows them and is the caller's choice).
"""
from __future__ import annotations

from core import clihelp as H
from core.problems import CarebookError

LEVELS = ("村委会", "街镇")


def register(target) -> None:
    common = target.common
    fu = target.root.add_parser("followups", help="跟进事项：探访发现的问题、上报转介、风险变化")
    sub = fu.add_subparsers(dest="action", required=True)

    c = sub.add_parser("list", parents=[common], help="列出未办结的跟进事项（最紧急的在前）")
    c.add_argument("--town", help=H.TOWN)
    c.add_argument("--village", help=H.VILLAGE)
    c.add_argument("--level", choices=LEVELS, help="负责层级")
    c.add_argument("--overdue", action="store_true", help="只列已逾期的")
    c.add_argument("--all", action="store_true", help="连同已办结的")
    c.add_argument("--as-of", help="按哪天计算逾期（默认今天）")
    c.add_argument("--json", action="store_true", help=H.JSON)
    c.add_argument("--full", action="store_true", help="显示完整的个人信息")
    c.set_defaults(func=cmd_list)

    c = sub.add_parser("close", parents=[common], help="办结：写明办理结果")
    c.add_argument("id", help=H.FOLLOWUP_ID)
    c.add_argument("--result", required=True, help="办理结果")
    _who_when(c)
    c.set_defaults(func=cmd_close)

    c = sub.add_parser("step", parents=[common], help="记一次办理经过（状态改为处理中）")
    c.add_argument("id", help=H.FOLLOWUP_ID)
    c.add_argument("--text", required=True, help="做了什么")
    _who_when(c)
    c.set_defaults(func=cmd_step)

    c = sub.add_parser("contact", parents=[common], help="记一次联系子女或其他赡养人")
    c.add_argument("id", help=H.FOLLOWUP_ID)
    c.add_argument("--row", type=int, required=True, help="老人档案中第几位赡养人（从 1 数）")
    c.add_argument("--outcome", required=True, choices=("已联系", "未接通", "拒绝"), help="联系结果")
    c.add_argument("--channel", default="电话", help="联系方式（默认 电话）")
    c.add_argument("--note", default="", help="说明（可不填）")
    _who_when(c)
    c.set_defaults(func=cmd_contact)

    c = sub.add_parser("accept-risk", parents=[common], help="采纳探访建议的风险等级（记入档案历史）")
    c.add_argument("id", help=H.FOLLOWUP_ID)
    _who_when(c)
    c.set_defaults(func=cmd_accept)

    c = sub.add_parser("refuse-risk", parents=[common], help="不采纳探访建议的风险等级")
    c.add_argument("id", help=H.FOLLOWUP_ID)
    c.add_argument("--reason", required=True, help="不采纳的理由")
    _who_when(c)
    c.set_defaults(func=cmd_refuse)

    c = sub.add_parser("sync", parents=[common], help="为已有探访记录（如导入的）补生成跟进事项")
    c.add_argument("--operator", help=H.OPERATOR)
    c.set_defaults(func=cmd_sync)

    c = sub.add_parser("report", parents=[common], help="重点帮扶对象跟进情况表（按季度）")
    c.add_argument("--quarter", help=H.QUARTER)
    c.add_argument("--town", help=H.TOWN)
    c.add_argument("--by-village", action="store_true", help=H.BY_VILLAGE)
    c.add_argument("--as-of", help=H.AS_OF)
    c.add_argument("--json", action="store_true", help=H.JSON)
    c.set_defaults(func=cmd_report)

    c = sub.add_parser("export", parents=[common], help="导出重点帮扶对象跟进情况表（同汇总表的格式）")
    c.add_argument("--format", required=True, help=H.FORMAT)
    c.add_argument("--output", required=True, help=H.OUTPUT)
    c.add_argument("--quarter", help=H.QUARTER)
    c.add_argument("--town", help=H.TOWN)
    c.set_defaults(func=cmd_export)


def _who_when(parser) -> None:
    parser.add_argument("--operator", help="办理人（默认：台账设置的操作员）")
    parser.add_argument("--on", help="办理日期 YYYY-MM-DD（默认今天）")


def cmd_list(args) -> int:
    from core.cli import EXIT_OK, _date, _engine, _err, _json, _mask_row, _out

    with _engine(args, readonly=True) as eng:
        # --town / --village are codes by now: `core.cli._engine` resolves names (core.divisionargs)
        items = eng.followups(as_of=_date(args.as_of), town=args.town, village=args.village, level=args.level,
                              open_only=not args.all, overdue=args.overdue)
        rows = []
        for it in items:
            row = {**it.__dict__, "state_label": it.state_label}
            masked = row if args.full else _mask_row(eng, "followup", {**row, "person_name": row.pop("name")})
            rows.append(masked)
        if args.json:
            _json(rows)
        else:
            name = eng.divisions.name
            for r in rows:
                mark = "【应急】" if r["urgency"] == "应急" and r["state"] != "closed" else ""
                late = f"逾期{r['days_over']}天" if r["state"] == "overdue" else r["state_label"]
                _out(f"{r['id'][:8]}\t{mark}{r['kind']}\t{r['owner']}\t{r.get('person_name') or r.get('name')}\t"
                     f"{name(r['village']) or r['village']}\t时限 {r['due_date']}\t{r['status']}\t{late}")
            _err(f"共 {len(rows)} 件")
    return EXIT_OK


def _change(args, action) -> int:
    """Run one change on a follow-up; a refusal (no such item, already closed, no operator) is
    exit 1 with its sentence, as a refused record is — not 2, which means the ledger could not open."""
    from core.cli import EXIT_REFUSED, _engine, _err

    with _engine(args) as eng:
        try:
            rec = action(eng)
        except CarebookError as exc:
            _err(f"未办理：{exc}")
            return EXIT_REFUSED
    return _done(rec)


def _done(rec: dict) -> int:
    from core.cli import EXIT_OK, _out

    d = rec["data"]
    _out(f"{rec['id']}\t{d.get('kind')}\t{d.get('status')}"
         + (f"\t{d.get('closed_on')} {d.get('closed_by')}：{d.get('result')}" if d.get("closed_on") else ""))
    return EXIT_OK


def _when(args):
    from core.cli import _date

    return _date(args.on)


def cmd_close(args) -> int:
    return _change(args, lambda eng: eng.followup_close(args.id, args.result, operator=args.operator, on=_when(args)))


def cmd_step(args) -> int:
    return _change(args, lambda eng: eng.followup_advance(args.id, args.text, operator=args.operator, on=_when(args)))


def cmd_contact(args) -> int:
    return _change(args, lambda eng: eng.followup_contact(args.id, args.row, args.outcome, channel=args.channel,
                                                          note=args.note, operator=args.operator, on=_when(args)))


def cmd_accept(args) -> int:
    return _change(args, lambda eng: eng.followup_accept_risk(args.id, operator=args.operator, on=_when(args)))


def cmd_refuse(args) -> int:
    return _change(args, lambda eng: eng.followup_refuse_risk(args.id, args.reason, operator=args.operator,
                                                              on=_when(args)))


def cmd_sync(args) -> int:
    from core.cli import EXIT_OK, _engine, _err, _out

    with _engine(args) as eng:
        n, problems = eng.followups_sync()
    for p in problems:
        _err(p)
    _out(f"新生成跟进事项 {n} 件")
    return EXIT_OK


def _report_params(eng, args) -> dict:
    """The key-case report (`forms/keycases.yaml`) of a quarter, for one town if asked."""
    from core.cli import _current_quarter

    params = {"report": "keycases", "quarter": args.quarter or _current_quarter(eng.today())}
    if args.town:
        params["town"] = args.town          # a code: resolved by `core.cli._engine`
    return params


def cmd_report(args) -> int:
    from core.cli import EXIT_OK, EXIT_REFUSED, _date, _engine, _print_report

    with _engine(args, readonly=True) as eng:
        params = _report_params(eng, args)
        if args.by_village:
            params["by_village"] = True
        if args.as_of:
            params["as_of"] = _date(args.as_of)
        rep = eng.report("summary", **params)
        _print_report(rep, args.json)
        return EXIT_REFUSED if rep.checks else EXIT_OK


def cmd_export(args) -> int:
    """The key-case report through the same exporters as the summary (`what: summary` with this
    report file): the same sheet layout, the same audit log line."""
    from pathlib import Path

    from core.cli import EXIT_OK, _engine, _out

    with _engine(args) as eng:
        for path in eng.export("summary", args.format, Path(args.output), **_report_params(eng, args)):
            _out(str(path))
    return EXIT_OK
