"""`carebook users add|list`: operator accounts of a ledger on a PostgreSQL server.

Run by the ledger's owner (the database account that created it) with ``--data
postgresql://owner@server/ledger``. Each operator gets their own login with a SCRAM password,
printed once to hand over; the scope is enforced by the database (see `core.storage.pgschema`).
"""
from __future__ import annotations

from core.problems import CarebookError


def _server_store(args):
    from core import paths
    from core.cli import _data_dir
    from core.storage.pgstore import PgStore

    target = _data_dir(args)
    if not paths.is_server(target):
        raise CarebookError("操作员账号只用于服务器上的台账：请用 --data postgresql://… 指定服务器")
    return PgStore(str(target))


def cmd_users_add(args) -> int:
    from core.cli import EXIT_OK, _out
    from core.storage.pgschema import ROLE_NAMES
    from core.storage.pgusers import add_operator

    with _server_store(args) as store:
        op = add_operator(store, args.name, args.role, args.scope or "", login=args.login, password=args.password)
    _out(f"已添加操作员 {op.display}：{ROLE_NAMES[op.role]}" + (f"，范围 {op.scope}" if op.scope else ""))
    _out(f"登录名：{op.login}")
    if not args.password:
        _out(f"初始密码：{op.password}（只显示这一次，请当面交给本人）")
    return EXIT_OK


def cmd_users_list(args) -> int:
    from core.cli import EXIT_OK, _out
    from core.storage.pgschema import ROLE_NAMES
    from core.storage.pgusers import list_operators

    with _server_store(args) as store:
        for op in list_operators(store):
            _out(f"{op.login}\t{op.display}\t{ROLE_NAMES.get(op.role, op.role)}\t{op.scope or '-'}")
    return EXIT_OK


def register(target) -> None:
    users = target.root.add_parser("users", help="操作员账号（服务器台账）").add_subparsers(dest="sub", required=True)
    c = users.add_parser("add", parents=[target.common], help="添加操作员：一个数据库登录账号及其范围")
    c.add_argument("name", help="姓名")
    c.add_argument("--role", required=True, choices=["village", "town", "district", "admin"],
                   help="village 村级经办人（本村）；town 街镇（所辖各村）；district 区级（全部，只读）；admin 管理员")
    c.add_argument("--scope", help="village：12 位村代码；town：12 位街镇代码")
    c.add_argument("--login", help="登录名（默认：姓名的拼音）")
    c.add_argument("--password", help="密码（默认：随机生成并显示一次）")
    c.set_defaults(func=cmd_users_add)
    users.add_parser("list", parents=[target.common], help="列出操作员").set_defaults(func=cmd_users_list)
