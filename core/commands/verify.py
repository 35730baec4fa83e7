"""`carebook verify`: check the whole ledger and exit non-zero on any finding.

Data files against their checksums, indexes against data, history and audit against their hash
chains, records against their history, rollups against the visits (`core.storage.verify`,
`Engine.verify_rollups`). Read-only: it never moves, rebuilds or backs up anything, so it can
run beside a working carebook and before a restore.
"""
from __future__ import annotations


def cmd_verify(args) -> int:
    from core.cli import EXIT_OK, EXIT_REFUSED, _data_dir, _engine, _err, _out
    from core.storage.verify import verify_ledger

    root = _data_dir(args)
    findings = verify_ledger(root)
    with _engine(args, readonly=True) as eng:
        findings += eng.verify_rollups()
    for f in findings:
        _out(f)
    if findings:
        _err(f"台账检查发现 {len(findings)} 个问题（{root}）。")
        return EXIT_REFUSED
    _out(f"台账检查通过：数据、索引、汇总、修改历史和操作日志一致（{root}）。")
    return EXIT_OK


def register(target) -> None:
    c = target.root.add_parser("verify", parents=[target.common], help="检查整个台账是否完整一致")
    c.set_defaults(func=cmd_verify)
