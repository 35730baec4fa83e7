"""Unique fields (公民身份号码) across the whole server ledger, not just what one desk can see.

On a folder a duplicate ID number is found in the desk's list rows. On a server a village
clerk's connection sees only their own village (row-level security), so two villages could
register the same person. Two things close that:

- a unique index per declared `unique: true` field over every record of the form
  (``records_unique_<form>_<field>``), made by `ensure` when the owner's or an admin's desk
  opens the ledger; the server refuses a second record with the value whatever connects — two
  clerks saving at the same moment, psql, a modified carebook;
- `holder` asks the server, through a SECURITY DEFINER function, which record holds a value
  and in which village — so the form says so before saving, even when the other record is
  outside the clerk's scope (only its id and village are told, nothing else of it).

Values compare as stored in the list row (the field type's clean form: an ID number with a
capital X), as the folder's check does.
"""
from __future__ import annotations

from typing import Any

from core.problems import Problem
from core.storage.errors import StorageError

# Owned by the ledger's owner: reading across villages only to answer "who holds this value",
# creating the unique indexes only for the owner or an admin (their login is `session_user`).
DDL = """
CREATE OR REPLACE FUNCTION unique_holder(t text, f text, v text, exclude text)
    RETURNS TABLE (rid text, village text) LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = {schema}, pg_temp AS $$
BEGIN
    RETURN QUERY EXECUTE format('SELECT id, partition FROM {schema}.records WHERE tbl = %L AND (row ->> %L) = %L '
                                'AND (row ->> %L) <> '''' AND id IS DISTINCT FROM %L ORDER BY id LIMIT 1',
                                t, f, v, f, exclude);
END $$;

CREATE OR REPLACE FUNCTION ensure_unique(t text, f text) RETURNS text LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = {schema}, pg_temp AS $$
DECLARE idx text := left('records_unique_' || regexp_replace(t || '_' || f, '[^a-z0-9_]', '', 'g'), 50)
                    || '_' || left(md5(t || '/' || f), 8);
        dup text;
BEGIN
    IF NOT {schema}.owner_or_admin() THEN
        RAISE EXCEPTION 'only the owner or an admin sets unique fields' USING ERRCODE = '42501';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('carebook.ensure_unique'));    -- desks opening at once
    IF to_regclass('{schema}.' || idx) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT string_agg(v, '', '') FROM (SELECT row ->> %L AS v FROM {schema}.records WHERE tbl = %L '
                   'AND (row ->> %L) <> '''' GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 5) d', f, t, f) INTO dup;
    IF dup IS NOT NULL THEN
        RETURN dup;
    END IF;
    EXECUTE format('CREATE UNIQUE INDEX %I ON {schema}.records ((row ->> %L)) WHERE tbl = %L AND (row ->> %L) <> ''''',
                   idx, f, t, f);
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION unique_holder(text, text, text, text), ensure_unique(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION unique_holder(text, text, text, text), ensure_unique(text, text) TO {staff};
"""


def index_name(table: str, field: str) -> str:
    """The unique index's name as `ensure_unique` makes it."""
    import hashlib
    import re

    return (f"records_unique_{re.sub(r'[^a-z0-9_]', '', f'{table}_{field}')}"[:50]
            + "_" + hashlib.md5(f"{table}/{field}".encode()).hexdigest()[:8])


def indexed(store) -> set[str]:
    """Names of the unique indexes the ledger has (the catalog is readable by every login)."""
    return {name for (name,) in store.sql_rows("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                                               "AND indexname LIKE 'records\\_unique\\_%'")}


def unique_fields(form) -> list[str]:
    return [f.id for f in form.top_fields() if getattr(f, "unique", False)]


def ensure(engine) -> list[Problem]:
    """Unique indexes for every declared unique field (owner or admin desks; others skip).
    A field already holding duplicates gets none; the Problem names the values (masked)."""
    store = engine.store
    if store.role not in ("owner", "admin") or store.readonly:
        return []
    from core.records.masking import mask_field

    out = []
    with store.session() as conn:
        if conn.execute("SELECT to_regproc('ensure_unique')").fetchone()[0] is None:
            return []                         # a ledger made before this: the owner's next open adds it
        for form in engine.forms.forms.values():
            for field in unique_fields(form):
                dup = conn.execute("SELECT ensure_unique(%s, %s)", (form.id, field)).fetchone()[0]
                if dup:
                    shown = "、".join(str(mask_field(form.field(field), v.strip())) for v in dup.split(","))
                    out.append(Problem(f"{form.id} 的 {form.field(field).label} 在台账中已有重复值（{shown}），"
                                       "服务器无法建立唯一约束；请先合并或更正这些记录 (unique index)",
                                       field, rule="unique", severity="warning"))
    return out


def find_unique(engine, form_id: str, field: str, value: Any, exclude: str | None) -> str | None:
    """`Engine.find_unique` on a server: the holder anywhere in the ledger, told as its id and,
    when it is outside this desk's scope, its village's name."""
    if not engine.store.has_unique_holder:          # a ledger made before this: own scope only
        return engine.index(form_id).find(field, value, exclude=exclude)
    if exclude is not None and index_name(form_id, field) in engine.store.unique_indexed:
        own = engine.index(form_id).rows.get(exclude)
        if own is not None and own.get(field) == value:
            return None          # an edit keeping its own number: the server's index allows it once
    found = engine.store.unique_holder(form_id, field, value, exclude)
    if found is None:
        return None
    rid, village = found
    if rid in engine.index(form_id).rows:
        return rid
    return f"{rid}，{engine.divisions.name(village) or village}"


class DuplicateValue(StorageError):
    """The server's unique index refused a save (two desks registering one person at once)."""
