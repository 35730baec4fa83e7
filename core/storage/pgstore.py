"""`PgStore`: the storage contract (`core.storage.contract`) on a PostgreSQL server.

Why a server: a town with three clerks, or the district summing 139 villages, cannot share one
data folder (one writer at a time, no scopes). Here every desk connects with its operator's
own login; the database keeps the scopes (row-level security, `pgstore`'s schema in
`pgschema`), the history and the one-commit save. The shape mirrors the folder store: one row
per record with its list row beside it (``records``), history rows appended (``history``).

Each method is one statement or one transaction on a single connection (guarded by a lock:
the TUI saves from worker threads). A lost connection is dropped and opened again on the next
call; while the server is unreachable every call raises `StorageError` with a Chinese message,
and the engine's drafts stay on the desk.

Edits never silently overwrite: `get` remembers the revision it read; a `put` of that record
updates only that revision, else `EditConflict` says who saved it meanwhile and when.
"""
from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

from core.problems import Problem
from core.storage.contract import EditConflict
from core.storage.errors import StorageError
from core.storage import pgbackup, pgschema
from core.storage.pgunique import DuplicateValue

try:                                   # the [server] extra
    import psycopg
    from psycopg import errors as pgerrors
except ImportError:                    # pragma: no cover - checked at open with a message
    psycopg = None                     # type: ignore[assignment]

Item = tuple[dict[str, Any], dict[str, Any], "dict[str, Any] | None"]
NO_PARTITION = "_none"
ROW_META = ("_p", "_t", "_h")          # keys a store adds to list rows; not saved as row data
CONNECT_TIMEOUT = 5
CHANGE_MARGIN = "60 seconds"            # overlap when asking for changes (see `changes`)
IDLE_CHECK = 2.0                       # seconds unused after which the connection is tried first


def describe(url: str) -> str:
    """The server and database of a URL for messages, without the password."""
    parts = urlsplit(url)
    host = parts.hostname or "本机"
    if "host=" in (parts.query or ""):
        host = "本机"
    return f"{host}{':' + str(parts.port) if parts.port else ''}/{parts.path.lstrip('/') or '默认数据库'}"


def _when(ts: Any) -> str:
    return ts.astimezone().strftime("%Y-%m-%d %H:%M:%S") if ts is not None else "不详"


def _guarded(method):
    """One lock per store; driver errors become `StorageError` in Chinese (`PgStore.errors`)."""
    @functools.wraps(method)
    def run(self: "PgStore", *args: Any, **kwargs: Any) -> Any:
        with self._mutex, self.errors():
            return method(self, *args, **kwargs)
    return run


def _pipeline(conn: Any) -> Any:
    """Statements sent together, results read when needed (libpq 14+), else one by one."""
    return conn.pipeline() if psycopg.Pipeline.is_supported() else contextlib.nullcontext()


def _answers(conn: Any, idle: float) -> bool:
    """False for an open connection unused longer than `IDLE_CHECK` that no longer answers (the
    server restarted meanwhile); True otherwise (a missing or closed one is opened anew)."""
    if conn is None or conn.closed or idle <= IDLE_CHECK:
        return True
    try:
        conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def _close(conn: Any) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - already broken; closing is best effort
            pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _encode(value: Any, what: str = "记录") -> str:
    """JSON text checked here, before the transaction: a bad value fails the save in Chinese."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StorageError(f"{what}中有无法保存的值（{exc}）(not JSON-serialisable)") from None


def _row_data(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ROW_META}


def _partition(record: dict[str, Any]) -> str:
    p = record.get("partition")
    return str(p) if p not in (None, "") else NO_PARTITION


class PgStore:
    """Records of every table in one PostgreSQL database; see the module docstring."""

    def __init__(self, url: str, readonly: bool = False, *, create: bool = True):
        if psycopg is None:
            raise StorageError("连接数据库服务器需要安装 psycopg：pip install -e \".[server]\"")
        self.url = url
        self.readonly = readonly
        self.problems: list[Problem] = []
        self._mutex = threading.RLock()
        self._conn: Any = None
        self._side: Any = None                  # a second connection for reports (`sql_rows_aside`)
        self._side_mutex = threading.Lock()
        self._used = 0.0
        self._side_used = 0.0
        self._looked: dict[str, Any] = {}      # table -> server time its rows were last read
        self._revs: dict[tuple[str, str], int] = {}
        self._closed = False
        self.login = "?"
        self._open(create)

    # ----------------------------------------------------------------- connection
    @_guarded
    def _open(self, create: bool) -> None:
        conn = self._connection()
        self.login = conn.execute("SELECT current_user").fetchone()[0]
        have = conn.execute("SELECT to_regclass(%s)", (f"{pgschema.SCHEMA}.records",)).fetchone()[0]
        if have is None:
            if not create or self.readonly:
                raise StorageError(f"数据库 {describe(self.url)} 还不是 carebook 台账；请由管理员先用本账号建立")
            with conn.transaction():
                conn.execute(pgschema.DDL)
        elif not self.readonly:
            self._upgrade(conn)
        self.unique_indexed: set[str] = set()       # filled by `pgunique.ensure` / `indexed`
        self.has_unique_holder = conn.execute("SELECT to_regproc(%s)", (f"{pgschema.SCHEMA}.unique_holder",)
                                              ).fetchone()[0] is not None
        found = conn.execute(f"SELECT display, role, scope FROM {pgschema.SCHEMA}.operators WHERE login = current_user"
                             ).fetchone()
        if found is None:
            # Only the ledger's owner (who created its schema) or a superuser may work without an
            # operator entry; any other login of the cluster is refused, never taken for the owner.
            ok = conn.execute("SELECT n.nspowner = r.oid OR r.rolsuper FROM pg_namespace n, pg_roles r "
                              "WHERE n.nspname = %s AND r.rolname = current_user", (pgschema.SCHEMA,)).fetchone()
            if not ok or not ok[0]:
                raise StorageError(f"账号 {self.login} 不是这本台账的操作员；请台账管理员用 carebook users add 添加"
                                   " (not an operator of this ledger)")
        self.operator_name, self.role, self.scope = found if found else (self.login, "owner", "")

    def _upgrade(self, conn: Any) -> None:
        """A ledger made by an older carebook gets this version's functions and policies when
        its owner opens it (the DDL is idempotent; only the schema's owner may run it)."""
        owner = conn.execute("SELECT n.nspowner = r.oid FROM pg_namespace n, pg_roles r "
                             "WHERE n.nspname = %s AND r.rolname = current_user", (pgschema.SCHEMA,)).fetchone()
        version = conn.execute(f"SELECT value FROM {pgschema.SCHEMA}.meta WHERE key = 'schema_version'").fetchone()
        if owner and owner[0] and (version is None or version[0] != pgschema.SCHEMA_VERSION):
            with conn.transaction():
                conn.execute(pgschema.DDL)

    def _connection(self) -> Any:
        """The connection; after `IDLE_CHECK` seconds unused it is tried first and opened
        again if the server restarted meanwhile, so a clerk back from a break saves at once
        instead of meeting the dead socket's error."""
        if self._closed:
            raise StorageError("数据存储已关闭")
        now = time.monotonic()
        if not _answers(self._conn, now - self._used):
            self._drop()
        self._used = now
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> Any:
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                               application_name="carebook")
        conn.execute(f"SET search_path = {pgschema.SCHEMA}")
        # JIT compiling a report's expressions cost more than running them (1.3 s of a
        # summary over 50,000 people); the statements here are short or one GROUP BY.
        conn.execute("SET jit = off")
        # a report's materialized steps over 50,000 rows fit in memory instead of temp files
        conn.execute("SET work_mem = '32MB'")
        if self.readonly:
            conn.execute("SET default_transaction_read_only = on")
        return conn

    def _drop(self, aside: bool = False) -> None:
        """Forget a broken connection (`aside`: the reports' second one only)."""
        if not aside:
            conn, self._conn = self._conn, None
            _close(conn)
        side, self._side = self._side, None
        _close(side)

    @contextlib.contextmanager
    def errors(self, aside: bool = False) -> Iterator[None]:
        """Driver errors as `StorageError` in Chinese; a lost connection is dropped so the
        next call connects again."""
        try:
            yield
        except StorageError:
            raise
        except pgerrors.InsufficientPrivilege as exc:
            raise StorageError(f"没有权限：本账号（{self.login}）只能查看和修改自己范围内的记录（{_first_line(exc)}）"
                               " (permission denied)") from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self._drop(aside)
            if "password authentication failed" in str(exc):
                raise StorageError(f"无法登录数据库服务器 {describe(self.url)}：登录名或密码不对"
                                   " (password authentication failed)") from None
            # libpq's own words (socket paths, errno) are for the administrator, not the clerk
            raise StorageError(f"无法连接数据库服务器 {describe(self.url)}（服务器没有运行或网络不通）。"
                               "表单里输入的内容保留在本机草稿中，服务器恢复后再保存") from None
        except pgerrors.UniqueViolation as exc:
            name = getattr(exc.diag, "constraint_name", None) or ""
            if not name.startswith("records_unique_"):
                raise StorageError(f"数据库服务器拒绝了这次操作：{_first_line(exc)}") from None
            raise DuplicateValue("这条记录的唯一字段（如公民身份号码）与台账中另一条记录相同（可能是另一个村刚刚登记的），"
                                 "未保存。请核对后再保存") from None
        except psycopg.Error as exc:
            raise StorageError(f"数据库服务器拒绝了这次操作：{_first_line(exc)}") from None

    @contextlib.contextmanager
    def session(self) -> Iterator[Any]:
        """The connection under the store's lock, errors translated (operator accounts, copies)."""
        with self._mutex, self.errors():
            yield self._connection()

    def _check_writable(self) -> None:
        if self.readonly:
            raise StorageError("台账以只读方式打开，不能保存")

    # ----------------------------------------------------------------- writing
    @_guarded
    def put(self, table: str, record: dict[str, Any], index_row: dict[str, Any],
            history_entry: dict[str, Any] | None = None, *,
            derived: tuple[str, list[Item]] | None = None, new: bool = False) -> None:
        self._check_writable()
        rid = self._checked_id(record)
        p = _partition(record)
        doc, row = _encode(record), _encode(_row_data(index_row))
        conn = self._connection()
        # One round trip for the whole commit (psycopg's pipeline): with ten desks on two cores
        # every extra wait for the server is a wait for the scheduler too. The revision is read
        # last; an update that matched no row raises there and the transaction rolls back.
        with _pipeline(conn), conn.transaction():
            seen = self._revs.get((table, rid))
            if new:
                cur = conn.execute("INSERT INTO records (tbl, id, partition, doc, row) VALUES (%s, %s, %s, %s::jsonb, %s::jsonb) "
                                   "RETURNING rev", (table, rid, p, doc, row))
            elif seen is not None:
                cur = conn.execute("UPDATE records SET partition = %s, doc = %s::jsonb, row = %s::jsonb "
                                   "WHERE tbl = %s AND id = %s AND rev = %s RETURNING rev",
                                   (p, doc, row, table, rid, seen))
            else:
                cur = self._upsert(conn, table, rid, p, doc, row)
            if history_entry is not None:
                self._append_history(conn, table, [(rid, p, history_entry)])
            if derived is not None and derived[1]:
                self._put_items(conn, derived[0], derived[1])
            found = cur.fetchone()
            if found is None:
                self._conflict(conn, table, rid, seen)
            self._revs[(table, rid)] = found[0]

    def _checked_id(self, record: Any) -> str:
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
            raise StorageError("记录缺少编号 id，无法保存")
        return record["id"]

    def _upsert(self, conn: Any, table: str, rid: str, p: str, doc: Any, row: Any) -> Any:
        return conn.execute("INSERT INTO records (tbl, id, partition, doc, row) VALUES (%s, %s, %s, %s::jsonb, %s::jsonb) "
                            "ON CONFLICT (tbl, id) DO UPDATE SET partition = EXCLUDED.partition, "
                            "doc = EXCLUDED.doc, row = EXCLUDED.row RETURNING rev", (table, rid, p, doc, row))

    def _conflict(self, conn: Any, table: str, rid: str, seen: int) -> None:
        """Why an update of revision `seen` changed no row: someone saved since, or (same
        revision, still readable) the row security refused this login the write."""
        found = conn.execute("SELECT saved_by, saved_at, doc->>'operator', rev FROM records "
                             "WHERE tbl = %s AND id = %s", (table, rid)).fetchone()
        self._revs.pop((table, rid), None)
        if found is None:
            raise EditConflict("这条记录已不在您的范围内或已被移走，未保存。请返回重新打开。")
        login, at, display, rev = found
        if rev == seen:
            raise StorageError(f"没有权限：本账号（{self.login}）不能修改这条记录（不在可修改的范围内）"
                               " (row-level security)")
        raise EditConflict(f"这条记录在您打开之后已被 {display or login} 于 {_when(at)} 修改，"
                           "您的修改未保存（输入的内容仍在表单和草稿中）。请返回重新打开后再改。")

    def _append_history(self, conn: Any, table: str, entries: list[tuple[str, str, dict[str, Any]]]) -> None:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO history (tbl, rid, partition, entry) VALUES (%s, %s, %s, %s::jsonb)",
                            [(table, rid, p, _encode(e, "修改历史")) for rid, p, e in entries])

    def _encoded(self, items: Iterable[Item]) -> tuple[dict[str, tuple[str, str, str]], list[tuple[str, str, dict]]]:
        """{id: (partition, document, list row)} as JSON text — the last item of each id — and
        the history entries (id, partition, entry), checked before any statement is sent."""
        last: dict[str, tuple[str, str, str]] = {}
        entries: list[tuple[str, str, dict[str, Any]]] = []
        for record, index_row, entry in items:
            rid = self._checked_id(record)
            if not isinstance(index_row, dict) or not (entry is None or isinstance(entry, dict)):
                raise StorageError("列表行和历史条目必须是字典 (index_row/history_entry must be dicts)")
            p = _partition(record)
            last[rid] = (p, _encode(record), _encode(_row_data(index_row)))
            if entry is not None:
                entries.append((rid, p, entry))
        return last, entries

    def _put_items(self, conn: Any, table: str, items: Iterable[Item]) -> int:
        last, entries = self._encoded(items)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO records (tbl, id, partition, doc, row) VALUES (%s, %s, %s, %s::jsonb, %s::jsonb) "
                            "ON CONFLICT (tbl, id) DO UPDATE SET partition = EXCLUDED.partition, "
                            "doc = EXCLUDED.doc, row = EXCLUDED.row",
                            [(table, rid, p, doc, row) for rid, (p, doc, row) in last.items()])
        for rid in last:
            self._revs.pop((table, rid), None)
        self._append_history(conn, table, entries)
        return len(last)

    @_guarded
    def put_many(self, table: str, items: Iterable[Item], *,
                 derived: tuple[str, list[Item]] | None = None, new: bool = False) -> int:
        """All items, and the rows `derived` from them, in one transaction."""
        self._check_writable()
        conn = self._connection()
        with conn.transaction():
            n = self._put_items(conn, table, list(items))
            if derived is not None and derived[1]:
                self._put_items(conn, derived[0], derived[1])
            return n

    @_guarded
    def put_many_unchanged(self, table: str, items: Iterable[Item], seen: dict[str, Any]) -> set[str]:
        """`put_many` of records read earlier without `get` (a whole village at a time): each
        is written only if the server still holds the very document read (`seen[id]`, compared
        whole: a save within the same second changes it too), with its history entry; the ids
        written. A record another desk saved meanwhile is left as that desk saved it, never
        overwritten (a re-evaluation skips it: that save computed its values under today's
        forms and date anyway). One statement for all."""
        self._check_writable()
        last, entries = self._encoded(items)
        if not last:
            return set()
        ids = list(last)
        conn = self._connection()
        with conn.transaction():
            cur = conn.execute(
                "UPDATE records AS r SET partition = v.p, doc = v.doc::jsonb, row = v.row::jsonb "
                "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) AS v(id, p, doc, row, was) "
                "WHERE r.tbl = %s AND r.id = v.id AND r.doc = v.was::jsonb RETURNING r.id",
                (ids, *map(list, zip(*last.values())), [_encode(seen.get(rid)) for rid in ids], table))
            written = {rid for (rid,) in cur}
            self._append_history(conn, table, [e for e in entries if e[0] in written])
        for rid in written:
            self._revs.pop((table, rid), None)
        return written

    @_guarded
    def next_number(self, table: str, partition: str, key: str, *, seed: Callable[[], int],
                    taken: Callable[[int], bool] = lambda n: False) -> int:
        """Taken at once on the server (one statement, row-locked), so two desks saving into
        one village never get the same number; a refused save leaves a gap."""
        self._check_writable()
        conn = self._connection()
        held = conn.execute("SELECT 1 FROM counters WHERE tbl = %s AND partition = %s AND key = %s",
                            (table, partition, key)).fetchone()
        start = 0 if held else seed()
        while True:
            n = conn.execute("INSERT INTO counters (tbl, partition, key, value) VALUES (%s, %s, %s, %s) "
                             "ON CONFLICT (tbl, partition, key) DO UPDATE "
                             "SET value = greatest(counters.value + 1, EXCLUDED.value) RETURNING value",
                             (table, partition, key, start + 1)).fetchone()[0]
            if not taken(n):
                return n
            start = n

    # ----------------------------------------------------------------- reading
    @_guarded
    def get(self, table: str, rid: str) -> dict[str, Any] | None:
        if not isinstance(rid, str):
            return None
        found = self._connection().execute("SELECT doc, rev FROM records WHERE tbl = %s AND id = %s",
                                           (table, rid)).fetchone()
        if found is None:
            return None
        self._revs[(table, rid)] = found[1]
        return found[0]

    @_guarded
    def index(self, table: str) -> dict[str, dict[str, Any]]:
        conn = self._connection()
        self._looked[table] = conn.execute("SELECT now()").fetchone()[0]
        cur = conn.execute("SELECT id, partition, row FROM records WHERE tbl = %s", (table,))
        return {rid: {**row, "_p": p} for rid, p, row in cur}

    @_guarded
    def changes(self, table: str) -> dict[str, dict[str, Any]]:
        """List rows saved (by any desk) since this store last read the table's rows or its
        changes — with `CHANGE_MARGIN` of overlap, since a save's stamp is its transaction's
        start and it may commit later. Callers apply them idempotently."""
        conn = self._connection()
        now = conn.execute("SELECT now()").fetchone()[0]
        since = self._looked.get(table)
        self._looked[table] = now
        if since is None:
            return {}
        cur = conn.execute("SELECT id, partition, row FROM records WHERE tbl = %s AND saved_at >= %s - %s::interval",
                           (table, since, CHANGE_MARGIN))
        return {rid: {**row, "_p": p} for rid, p, row in cur}

    @_guarded
    def rows(self, table: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = [i for i in ids if isinstance(i, str)]
        if not wanted:
            return {}
        cur = self._connection().execute("SELECT id, partition, row FROM records WHERE tbl = %s AND id = ANY(%s)",
                                         (table, wanted))
        return {rid: {**row, "_p": p} for rid, p, row in cur}

    @_guarded
    def count(self, table: str) -> int:
        return self._connection().execute("SELECT count(*) FROM records WHERE tbl = %s", (table,)).fetchone()[0]

    @_guarded
    def select(self, table: str, partition: str, test: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        conn = self._connection()
        cur = conn.execute("SELECT id, row FROM records WHERE tbl = %s AND partition = %s ORDER BY id",
                           (table, partition))
        chosen = [rid for rid, row in cur if test({**row, "_p": partition})]
        if not chosen:
            return []
        cur = conn.execute("SELECT doc FROM records WHERE tbl = %s AND id = ANY(%s) ORDER BY id", (table, chosen))
        return [doc for (doc,) in cur]

    @_guarded
    def scan_rows(self, table: str, fields: Iterable[str],
                  where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, dict[str, Any]]:
        fields = tuple(fields)
        cur = self._connection().execute("SELECT id, partition, row FROM records WHERE tbl = %s", (table,))
        out = {}
        for rid, p, row in cur:
            row["_p"] = p
            if where is None or where(row):
                out[rid] = {**{f: row.get(f) for f in fields}, "_p": p}
        return out

    def iter_records(self, table: str, partitions: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """One query per partition, so a district's 300,000 visits are never held at once."""
        chosen = self.partitions(table) if partitions is None else list(partitions)
        for p in chosen:
            yield from self._partition_docs(table, p)

    @_guarded
    def partitions(self, table: str) -> list[str]:
        cur = self._connection().execute("SELECT DISTINCT partition FROM records WHERE tbl = %s ORDER BY 1", (table,))
        return [p for (p,) in cur]

    @_guarded
    def _partition_docs(self, table: str, p: str) -> list[dict[str, Any]]:
        cur = self._connection().execute("SELECT doc FROM records WHERE tbl = %s AND partition = %s ORDER BY id",
                                         (table, p))
        return [doc for (doc,) in cur]

    @_guarded
    def history(self, table: str, rid: str) -> list[dict[str, Any]]:
        cur = self._connection().execute("SELECT entry FROM history WHERE tbl = %s AND rid = %s ORDER BY seq",
                                         (table, rid))
        return [entry for (entry,) in cur]

    # ----------------------------------------------------------------- beyond the contract
    @_guarded
    def histories(self, table: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(record id, entry) of the whole table in save order (`carebook ledger copy`)."""
        cur = self._connection().execute("SELECT rid, entry FROM history WHERE tbl = %s ORDER BY seq", (table,))
        return iter(cur.fetchall())

    @_guarded
    def sql_rows(self, query: str, params: Any = None) -> list[tuple]:
        """Rows of a read-only query over this login's scope (the SQL reports,
        `core.reporting.sqlreports`): the row security applies as to every other read."""
        return self._connection().execute(query, params).fetchall()

    def sql_rows_aside(self, query: str, params: Any = None) -> list[tuple]:
        """As `sql_rows`, on a second connection of the same login, so a report can have the
        server count two things at once (the summary's people and its visits: each query runs
        in one server process, and a server has more than one core). Same scope, same
        read-only setting; opened on first use and kept."""
        with self._side_mutex, self.errors(aside=True):
            if self._closed:
                raise StorageError("数据存储已关闭")
            now = time.monotonic()
            if not _answers(self._side, now - self._side_used):   # idle, as `_connection` checks
                self._drop(aside=True)
            self._side_used = now
            if self._side is None or self._side.closed:
                self._side = self._connect()
            return self._side.execute(query, params).fetchall()

    @_guarded
    def unique_holder(self, table: str, field: str, value: Any, exclude: str | None) -> tuple[str, str] | None:
        """(id, village) of a record anywhere in the ledger holding `value` in `field`, other
        than `exclude` (`core.storage.pgunique`: seen past this login's scope, nothing more)."""
        return self._connection().execute("SELECT rid, village FROM unique_holder(%s, %s, %s, %s)",
                                          (table, field, str(value), exclude)).fetchone()

    @_guarded
    def backup_rows(self, table: str, why: str) -> str:
        """Every record of `table` copied into a server-side table before a migration rewrites
        them (`core.storage.pgbackup`); returns its name, ``carebook_backup.<name>``."""
        self._check_writable()
        name = self._connection().execute("SELECT backup_rows(%s, %s)", (table, why)).fetchone()[0]
        return f"{pgbackup.BACKUP_SCHEMA}.{name}"

    @_guarded
    def restore_backup(self, name: str) -> int:
        """The records of a `backup_rows` snapshot put back (the table's current rows replaced)."""
        self._check_writable()
        self._revs.clear()
        name = name.split(".", 1)[1] if name.startswith(pgbackup.BACKUP_SCHEMA + ".") else name
        return self._connection().execute("SELECT restore_backup(%s)", (name,)).fetchone()[0]

    @_guarded
    def tables(self) -> list[str]:
        return [t for (t,) in self._connection().execute("SELECT DISTINCT tbl FROM records ORDER BY 1")]

    @_guarded
    def append_audit(self, entry: dict[str, Any]) -> None:
        if not self.readonly:
            self._connection().execute("INSERT INTO audit (entry) VALUES (%s::jsonb)", (_encode(entry, "操作日志"),))

    @_guarded
    def audit_log(self) -> list[dict[str, Any]]:
        return [e for (e,) in self._connection().execute("SELECT entry FROM audit ORDER BY seq")]

    # ----------------------------------------------------------------- lifetime
    def close(self) -> None:
        with self._mutex:
            self._closed = True
            self._drop()

    def __enter__(self) -> "PgStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
