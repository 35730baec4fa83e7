"""The tables, row-level security and triggers of a carebook ledger on PostgreSQL.

Why the database enforces scopes and not carebook: a village clerk logs in with their own
PostgreSQL role, and psql, a spreadsheet's ODBC link or a modified carebook use that same login.
So every rule that protects records is a policy or a trigger here:

- ``records`` and ``history`` rows carry the village code (``partition``); a policy lets a
  login read the rows whose village matches its ``read_pattern`` and write those matching its
  ``write_pattern`` (village: its code; town: its 9-digit prefix + ``%``; district: read
  ``%``, write nothing; admin: both ``%``). The pattern is read once per statement (a scalar
  sub-select, planned as an InitPlan), not once per row.
- ``history`` and ``audit`` are granted INSERT and SELECT only: no UPDATE or DELETE for anyone
  but the owner role (the login that created the schema; it bypasses row security).
- Triggers stamp who saved from ``current_user`` (and the operator's name from ``operators``),
  so history cannot be written in someone else's name.
"""
from __future__ import annotations

from core.storage import pgbackup, pgunique

SCHEMA = "carebook"
STAFF = "carebook_staff"          # group role every operator login is a member of
SCHEMA_VERSION = "4"          # 2, 4: unique fields across the ledger (pgunique); 3: row backups (pgbackup)

ROLES = {
    # role: (read pattern, write pattern) from the scope code; None = may not write
    "village": (lambda s: s, lambda s: s),
    "town": (lambda s: s[:9] + "%", lambda s: s[:9] + "%"),
    "district": (lambda s: "%", lambda s: None),
    "admin": (lambda s: "%", lambda s: "%"),
}
ROLE_NAMES = {"village": "村级经办人", "town": "街镇经办人", "district": "区级（只读、报表）", "admin": "管理员"}

def _scope(pattern: str) -> str:
    """The row's village matches the login's read or write pattern (read once per statement)."""
    return f"partition LIKE (SELECT o.{pattern}_pattern FROM {SCHEMA}.operators o WHERE o.login = current_user)"


def _policy(name: str, table: str, command: str, using: str | None = None, check: str | None = None) -> str:
    clauses = (f" USING ({using})" if using else "") + (f" WITH CHECK ({check})" if check else "")
    return f"DROP POLICY IF EXISTS {name} ON {table};\nCREATE POLICY {name} ON {table} FOR {command}{clauses};"


READ, WRITE = _scope("read"), _scope("write")
SCOPE_POLICIES = "\n".join([
    _policy("scope_read", "records", "SELECT", using=READ),
    _policy("scope_insert", "records", "INSERT", check=WRITE),
    _policy("scope_update", "records", "UPDATE", using=WRITE, check=WRITE),
    _policy("scope_read", "history", "SELECT", using=READ),
    _policy("scope_insert", "history", "INSERT", check=WRITE),
    "ALTER TABLE counters ENABLE ROW LEVEL SECURITY;",
    _policy("scope_all", "counters", "ALL", using=WRITE, check=WRITE),
])

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
SET search_path = {SCHEMA};

CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL);

CREATE TABLE IF NOT EXISTS operators (
    login name PRIMARY KEY,
    display text NOT NULL,
    role text NOT NULL CHECK (role IN ('village', 'town', 'district', 'admin')),
    scope text NOT NULL DEFAULT '',
    read_pattern text NOT NULL,
    write_pattern text,
    created timestamptz NOT NULL DEFAULT now());

CREATE TABLE IF NOT EXISTS records (
    tbl text NOT NULL,
    id text NOT NULL,
    partition text NOT NULL,
    doc jsonb NOT NULL,
    row jsonb NOT NULL,
    rev bigint NOT NULL DEFAULT 1,
    saved_by name NOT NULL DEFAULT current_user,
    saved_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tbl, id));
CREATE INDEX IF NOT EXISTS records_partition ON records (tbl, partition);
CREATE INDEX IF NOT EXISTS records_saved ON records (tbl, saved_at);

CREATE TABLE IF NOT EXISTS history (
    seq bigserial PRIMARY KEY,
    tbl text NOT NULL,
    rid text NOT NULL,
    partition text NOT NULL,
    entry jsonb NOT NULL,
    login name NOT NULL DEFAULT current_user,
    at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS history_record ON history (tbl, rid);

CREATE TABLE IF NOT EXISTS counters (
    tbl text NOT NULL,
    partition text NOT NULL,
    key text NOT NULL,
    value bigint NOT NULL,
    PRIMARY KEY (tbl, partition, key));

CREATE TABLE IF NOT EXISTS forms (
    form_id text NOT NULL,
    version integer NOT NULL,
    suffix text NOT NULL,
    source text NOT NULL,
    published_by name NOT NULL DEFAULT current_user,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (form_id, version));

CREATE TABLE IF NOT EXISTS audit (
    seq bigserial PRIMARY KEY,
    entry jsonb NOT NULL,
    login name NOT NULL DEFAULT current_user,
    at timestamptz NOT NULL DEFAULT now());

-- Who saved: the login, never what the client claims.
CREATE OR REPLACE FUNCTION stamp_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE who text;
BEGIN
    NEW.saved_by := current_user;
    NEW.saved_at := now();
    SELECT display INTO who FROM {SCHEMA}.operators WHERE login = current_user;
    IF who IS NOT NULL AND NEW.doc ? 'operator' THEN
        NEW.doc := jsonb_set(NEW.doc, '{{operator}}', to_jsonb(who));
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.rev := OLD.rev + 1;
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS stamp_record ON records;
CREATE TRIGGER stamp_record BEFORE INSERT OR UPDATE ON records
    FOR EACH ROW EXECUTE FUNCTION stamp_record();

CREATE OR REPLACE FUNCTION stamp_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE who text;
BEGIN
    NEW.login := current_user;
    NEW.at := now();
    SELECT display INTO who FROM {SCHEMA}.operators WHERE login = current_user;
    IF who IS NOT NULL THEN
        NEW.entry := jsonb_set(NEW.entry, '{{operator}}', to_jsonb(who));
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS stamp_entry ON history;
CREATE TRIGGER stamp_entry BEFORE INSERT ON history FOR EACH ROW EXECUTE FUNCTION stamp_entry();
DROP TRIGGER IF EXISTS stamp_entry ON audit;
CREATE TRIGGER stamp_entry BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION stamp_entry();

-- For SECURITY DEFINER functions (they run as the owner): is the login that called them the
-- ledger's owner or one of its admins?
CREATE OR REPLACE FUNCTION owner_or_admin() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT session_user::text = (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = '{SCHEMA}')
        OR EXISTS (SELECT 1 FROM {SCHEMA}.operators WHERE login = session_user AND role = 'admin')
$$;

ALTER TABLE records ENABLE ROW LEVEL SECURITY;
ALTER TABLE history ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE operators ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS own_row ON operators;
CREATE POLICY own_row ON operators FOR SELECT USING (login = current_user);

{SCOPE_POLICIES}
ALTER TABLE forms ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS everyone_reads ON forms;
CREATE POLICY everyone_reads ON forms FOR SELECT USING (true);
DROP POLICY IF EXISTS admin_publishes ON forms;
CREATE POLICY admin_publishes ON forms FOR INSERT
    WITH CHECK ((SELECT o.role FROM {SCHEMA}.operators o WHERE o.login = current_user) = 'admin');

DROP POLICY IF EXISTS own_or_all ON audit;
CREATE POLICY own_or_all ON audit FOR SELECT
    USING (login = current_user OR (SELECT o.read_pattern FROM {SCHEMA}.operators o
                                    WHERE o.login = current_user) = '%');
DROP POLICY IF EXISTS own_insert ON audit;
CREATE POLICY own_insert ON audit FOR INSERT WITH CHECK (login = current_user);

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{STAFF}') THEN
        CREATE ROLE {STAFF} NOLOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA {SCHEMA} TO {STAFF};
GRANT SELECT ON meta, operators TO {STAFF};
GRANT SELECT, INSERT, UPDATE ON records TO {STAFF};
GRANT SELECT, INSERT ON history, audit TO {STAFF};
GRANT SELECT, INSERT, UPDATE ON counters TO {STAFF};
GRANT SELECT, INSERT ON forms TO {STAFF};
GRANT USAGE ON SEQUENCE history_seq_seq, audit_seq_seq TO {STAFF};

INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
""" + pgunique.DDL.format(schema=SCHEMA, staff=STAFF) + pgbackup.DDL.format(
    schema=SCHEMA, staff=STAFF, backup=pgbackup.BACKUP_SCHEMA)
