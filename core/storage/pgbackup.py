"""Snapshots of a form's records on a server ledger, taken before a migration rewrites them.

On a data folder `forms migrate` copies the folder into ``backups/`` first. On a server the
desk folder holds no records, so the server keeps the copy: `backup_rows` (a SECURITY DEFINER
function, for the owner or an admin) copies every record of the form — all villages, whatever
the caller's scope — into a table of the ``carebook_backup`` schema and lists it in
``carebook.backups``. `restore_backup(name)` puts those rows back in one transaction:

    psql -d <台账数据库> -c "SELECT carebook.restore_backup('<name>')"

(or `PgStore.restore_backup`). History entries are insert-only and stay: the migration's
entries remain as a record of what was done and undone. docs/scale.md describes the drill.
"""
from __future__ import annotations

BACKUP_SCHEMA = "carebook_backup"

DDL = """
CREATE SCHEMA IF NOT EXISTS {backup};
CREATE TABLE IF NOT EXISTS backups (
    name text PRIMARY KEY,
    tbl text NOT NULL,
    rows bigint NOT NULL,
    reason text,
    taken_by name NOT NULL DEFAULT session_user,
    taken_at timestamptz NOT NULL DEFAULT now());
GRANT SELECT ON backups TO {staff};

CREATE OR REPLACE FUNCTION backup_rows(t text, why text) RETURNS text LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = {schema}, pg_temp AS $$
DECLARE snap text := 'bk_' || left(regexp_replace(t, '[^a-z0-9_]', '', 'g'), 30) || '_'
                     || to_char(clock_timestamp(), 'YYYYMMDD_HH24MISS_US');
        n bigint;
BEGIN
    IF NOT {schema}.owner_or_admin() THEN
        RAISE EXCEPTION 'only the owner or an admin takes backups' USING ERRCODE = '42501';
    END IF;
    EXECUTE format('CREATE TABLE {backup}.%I AS SELECT * FROM {schema}.records WHERE tbl = %L', snap, t);
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO {schema}.backups (name, tbl, rows, reason) VALUES (snap, t, n, why);
    RETURN snap;
END $$;

CREATE OR REPLACE FUNCTION restore_backup(snap text) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = {schema}, pg_temp AS $$
DECLARE t text;
        n bigint;
BEGIN
    IF NOT {schema}.owner_or_admin() THEN
        RAISE EXCEPTION 'only the owner or an admin restores backups' USING ERRCODE = '42501';
    END IF;
    SELECT b.tbl INTO t FROM {schema}.backups b WHERE b.name = snap;
    IF t IS NULL THEN
        RAISE EXCEPTION 'no backup named %', snap;
    END IF;
    DELETE FROM {schema}.records WHERE tbl = t;
    EXECUTE format('INSERT INTO {schema}.records SELECT * FROM {backup}.%I', snap);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION backup_rows(text, text), restore_backup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION backup_rows(text, text), restore_backup(text) TO {staff};
"""
