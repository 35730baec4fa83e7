"""Operator accounts of a server ledger: one PostgreSQL login role per person, with a scope.

Why database roles and not a users table checked by carebook: the scope must hold for anything
that connects with the clerk's password — psql included. So `add_operator` creates a login role
(SCRAM password), makes it a member of `carebook_staff` (the grants), and writes its row in
`operators`, whose read/write patterns the row-level security policies of `pgschema` compare
with each record's village code.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from core.storage import pgschema
from core.storage.errors import StorageError

SCOPE_RE = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Operator:
    login: str
    display: str
    role: str
    scope: str
    password: str | None = None      # only right after `add_operator`, to hand over once


def login_for(display: str) -> str:
    """An ASCII login from the name (pinyin: 张三 → zhangsan), so it types anywhere."""
    from pypinyin import lazy_pinyin

    base = re.sub(r"[^a-z0-9]", "", "".join(lazy_pinyin(display)).lower())
    return base if base and base[0].isalpha() else f"op{base}"


def add_operator(store, display: str, role: str, scope: str = "", *, login: str | None = None,
                 password: str | None = None) -> Operator:
    """Create the login role and its operator row; raises `StorageError` in Chinese."""
    from psycopg import sql

    display = (display or "").strip()
    if not display:
        raise StorageError("请填写操作员姓名")
    if role not in pgschema.ROLES:
        raise StorageError(f"角色 “{role}” 不存在；可选：" +
                           "、".join(f"{k}（{v}）" for k, v in pgschema.ROLE_NAMES.items()))
    if role in ("village", "town") and not SCOPE_RE.match(scope or ""):
        raise StorageError(f"角色 {role} 需要 --scope：12 位{'村' if role == 'village' else '街镇'}代码，"
                           f"如 120116156201（收到 “{scope}”）")
    if role == "town" and not scope.endswith("000"):
        raise StorageError(f"街镇代码应以 000 结尾（收到 {scope}），村代码请用 --role village")
    if role == "village" and scope.endswith("000"):
        raise StorageError(f"{scope} 是街镇代码；村级经办人的 --scope 是 12 位村代码")
    if getattr(store, "role", None) != "owner":
        raise StorageError("只有台账所有者（建立台账的数据库账号）可以添加操作员")
    read, write = pgschema.ROLES[role]
    password = password or secrets.token_urlsafe(12)
    with store.session() as conn:
        taken = {r for (r,) in conn.execute("SELECT rolname FROM pg_roles")}
        if login is None:
            base = login_for(display)
            login, n = base, 1
            while login in taken:
                n += 1
                login = f"{base}{n}"
        elif login in taken:
            raise StorageError(f"登录名 {login} 已被占用")
        if not re.match(r"^[a-z][a-z0-9_]{0,62}$", login):
            raise StorageError(f"登录名只能用小写字母、数字和下划线，且以字母开头（收到 {login}）")
        with conn.transaction():
            conn.execute("SET LOCAL password_encryption = 'scram-sha-256'")
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                sql.Identifier(login), sql.Literal(password), sql.Identifier(pgschema.STAFF)))
            conn.execute("INSERT INTO operators (login, display, role, scope, read_pattern, write_pattern) "
                         "VALUES (%s, %s, %s, %s, %s, %s)",
                         (login, display, role, scope or "", read(scope or ""), write(scope or "")))
    return Operator(login, display, role, scope or "", password)


def list_operators(store) -> list[Operator]:
    with store.session() as conn:
        cur = conn.execute("SELECT login, display, role, scope FROM operators ORDER BY role, scope, login")
        return [Operator(*row) for row in cur]
