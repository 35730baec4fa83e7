"""A real PostgreSQL server for the tests: initdb + pg_ctl in a temp folder, a Unix socket, a free port.

Never a mock and never SQLite: the row-level security, the SCRAM logins and the one-commit
save are the database's own behaviour, so only the database can prove them. The server is
started once per test session (~1.5 s) and each test gets a fresh database in it.

The binaries come from Debian's `postgresql` package (`/usr/lib/postgresql/<n>/bin`, or on
PATH). PostgreSQL refuses to run as root; under root (CI) the server runs as the `postgres`
user the package creates. Without initdb the server tests are skipped with the reason.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

OWNER = "carebook_owner"     # the superuser initdb makes; trusted on the socket, others use SCRAM


def pg_bin() -> Path | None:
    """The folder holding initdb, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int
    run_as: str | None

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    def url(self, db: str = "postgres", user: str = OWNER, password: str | None = None) -> str:
        auth = f"{quote(user)}:{quote(password)}@" if password else f"{quote(user)}@"
        return f"postgresql://{auth}/{db}?host={quote(str(self.socket_dir))}&port={self.port}"

    def psql(self, db: str, sql: str, user: str = OWNER, password: str | None = None) -> subprocess.CompletedProcess:
        """psql as `user`, exactly as a clerk would use it from a shell."""
        env = {**os.environ, "PGPASSWORD": password or "", "PGHOST": str(self.socket_dir), "PGPORT": str(self.port)}
        return subprocess.run([str(self.bindir / "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-At", "-U", user,
                               "-d", db, "-c", sql], capture_output=True, text=True, env=env, timeout=60)

    def create_db(self) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        self.psql("postgres", f"CREATE DATABASE {name}").check_returncode()
        return name

    def _ctl(self, *args: str) -> subprocess.CompletedProcess:
        return _run([str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), *args], self.run_as)

    def start(self) -> None:
        done = self._ctl("-w", "-t", "60", "-l", str(self.root / "server.log"), "-o",
                         f"-p {self.port} -k {self.socket_dir} -c listen_addresses='' -c fsync=on "
                         f"-c max_connections=60 -c shared_buffers=64MB", "start")
        if done.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace") if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}{log[-2000:]}")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-w", "-m", mode, "stop")


def _run(cmd: list[str], run_as: str | None) -> subprocess.CompletedProcess:
    if run_as:
        cmd = ["runuser", "-u", run_as, "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def start_server() -> PgServer:
    """initdb a cluster in a new temp folder and start it; the caller stops it."""
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("initdb not found")
    run_as = None
    root = Path(tempfile.mkdtemp(prefix="carebook-pg-"))
    if os.geteuid() == 0:
        run_as = "postgres"
        user = pwd.getpwnam(run_as)
        os.chown(root, user.pw_uid, user.pw_gid)
    server = PgServer(bindir, root, _free_port(), run_as)
    (root / "sock").mkdir()
    if run_as:
        os.chown(root / "sock", pwd.getpwnam(run_as).pw_uid, pwd.getpwnam(run_as).pw_gid)
    done = _run([str(bindir / "initdb"), "-D", str(root / "data"), "-U", OWNER, "-E", "UTF8",
                 "--locale=C", "--auth=trust", "-N"], run_as)
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed: {done.stdout}{done.stderr}")
    # The owner (the admin's own account on the server machine) is trusted on the socket;
    # every operator login needs its SCRAM password.
    hba = root / "data" / "pg_hba.conf"
    hba.write_text(f"local all {OWNER} trust\nlocal all all scram-sha-256\n"
                   "host all all 127.0.0.1/32 scram-sha-256\n", encoding="utf-8")
    server.start()
    return server


def remove_server(server: PgServer) -> None:
    server.stop("immediate")
    shutil.rmtree(server.root, ignore_errors=True)
