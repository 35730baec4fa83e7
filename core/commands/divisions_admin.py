"""`carebook divisions import FILE.csv`: a new edition of the official 统计用区划代码 village list
applied to the working forms' `data/divisions.yaml` (logic: `core.lifecycle.divisionsimport`)."""
from __future__ import annotations

from pathlib import Path

from core import paths


def cmd_divisions_import(args) -> int:
    from core.cli import EXIT_OK, EXIT_REFUSED, _date, _err, _out
    from core.lifecycle import divisionsimport as imp
    from core.storage.atomic import write_bytes

    folder = Path(args.forms) if args.forms else paths.default_forms_dir()
    target = folder / "data" / "divisions.yaml"
    rows = imp.read_csv(Path(args.file))
    valid_from = _date(args.valid_from) if args.valid_from else None
    plan = imp.plan(folder, rows, valid_from)
    for r in plan.added:
        _out(f"新增  {r.code}  {r.name}")
    for r, old in plan.renamed:
        _out(f"改名  {r.code}  {old} → {r.name}" + ("（占位名换为正式名称）" if imp.PLACEHOLDER.search(old) else ""))
    for r in plan.confirmed:
        _out(f"核实  {r.code}  {r.name}")
    for code, name in plan.retired:
        _out(f"停用  {code}  {name}（不在新名单中：写上 valid_to，旧记录仍显示村名）")
    _err(f"名单 {len(rows)} 个村：新增 {len(plan.added)}，改名 {len(plan.renamed)}，核实 {len(plan.confirmed)}，"
         f"停用 {len(plan.retired)}，不变 {plan.unchanged}。")
    if plan.empty:
        _out("区划文件已与名单一致。")
        return EXIT_OK
    if args.dry_run:
        _err("以上为预演（--dry-run），区划文件未改。")
        return EXIT_OK
    text = imp.apply(folder, plan, source=Path(args.file).name)
    problems = imp.check_text(text)
    if problems:
        for p in problems:
            _out(str(p))
        _err("导入后的区划文件未通过检查，未写入。")
        return EXIT_REFUSED
    write_bytes(target, text.encode("utf-8"))
    _out(f"已更新 {target}。记录保存的是代码，不受影响；运行 carebook forms publish 让工作人员使用新名称。")
    return EXIT_OK


def register(target) -> None:
    group = target.root.add_parser("divisions", help="区划（街镇、村）").add_subparsers(dest="sub", required=True)
    c = group.add_parser("import", parents=[target.common], help="导入新版统计用区划代码（CSV：code、village 列）")
    c.add_argument("file", help="区划代码 CSV 文件")
    c.add_argument("--dry-run", action="store_true", help="只列出新增、改名、停用的村，不改文件")
    c.add_argument("--valid-from", help="新版名单的启用日期（新增的村 valid_from；停用的村 valid_to 为前一天）")
    c.set_defaults(func=cmd_divisions_import)
