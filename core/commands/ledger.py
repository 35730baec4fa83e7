"""`carebook ledger copy --from … --to …`: a data folder to a PostgreSQL server, or back.

Prints one line per village (records, history entries, checksum) and exits 1 when any village's
copy differs from its source (`core.transfer.ledgercopy`).
"""
from __future__ import annotations


def cmd_ledger_copy(args) -> int:
    from core.cli import EXIT_OK, EXIT_REFUSED, _err, _out
    from core.paths import is_server
    from core.transfer.ledgercopy import copy_ledger

    checks = copy_ledger(args.source, args.dest, progress=(lambda _: None) if not args.verbose else _err)
    bad = [c for c in checks if not c.ok]
    for c in checks:
        _out(f"{c.table}\t{c.partition}\t{c.records} 条记录\t{c.history} 条历史\t"
             f"{c.source_sum[:12]}\t{'一致' if c.ok else '不一致！'}")
    total = sum(c.records for c in checks if not c.table.startswith("rollup_"))
    if bad:
        _err(f"复制后核对：{len(bad)} 个村的数据与来源不一致，请勿使用目标台账，并联系维护人员。")
        return EXIT_REFUSED
    _out(f"已复制并核对：{len({c.partition for c in checks})} 个村，{total} 条记录，数量和校验和均一致。")
    if is_server(args.dest):
        server_ready(args.dest, _out)
    return EXIT_OK


def server_ready(url: str, say) -> None:
    """The copied server ledger opened once as its owner: this desk's form versions published
    and the ledger-wide unique indexes made (`core.storage.pgunique`), so the first clerk's
    save neither waits for them nor runs without them."""
    from core.engine import Engine

    with Engine.open(url, operator="台账复制") as eng:
        for problem in eng.store.problems:
            say(str(problem))
        say(f"唯一约束（如公民身份号码全台账不重复）：已建立 {len(eng.store.unique_indexed)} 项。")


def register(target) -> None:
    ledger = target.root.add_parser("ledger", help="整本台账：在数据文件夹和数据库服务器之间复制") \
        .add_subparsers(dest="sub", required=True)
    c = ledger.add_parser("copy", help="复制台账并逐村核对数量和校验和")
    c.add_argument("--from", dest="source", required=True, help="来源：数据文件夹或 postgresql://…")
    c.add_argument("--to", dest="dest", required=True, help="目标：postgresql://…（台账所有者账号）或数据文件夹")
    c.add_argument("--verbose", action="store_true", help="逐村显示进度")
    c.set_defaults(func=cmd_ledger_copy)
