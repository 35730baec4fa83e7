"""Where carebook keeps things on a user's machine.

Real records and the demo ledger live in separate folders so demo people can never mix with
real ones; both default to the per-user data folder of the platform (platformdirs), and
`--data` / `CAREBOOK_DATA` point elsewhere.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

APP = "carebook"


_ROOT = Path(__file__).resolve().parent.parent     # the checkout, or site-packages of a wheel


def shipped_forms_dir() -> Path:
    """The forms carebook ships: package data of an installed wheel (`carebook/forms_default`,
    see setup.py), else the repository's `forms/` (a checkout or an editable install)."""
    packaged = _ROOT / "carebook" / "forms_default"
    return packaged if packaged.is_dir() else _ROOT / "forms"


def user_forms_dir() -> Path:
    """The admin's own forms folder of an installed carebook (per user, beside the ledgers)."""
    return Path(user_data_dir(APP, appauthor=False)) / "forms"


def default_forms_dir() -> Path:
    """`CAREBOOK_FORMS`; in a checkout the repository's `forms/` (the admin's copy is the repo);
    in an installed wheel the user's forms folder, made from the shipped forms on first run so
    admins edit their own copy and an upgrade never overwrites it."""
    env = os.environ.get("CAREBOOK_FORMS")
    if env:
        return Path(env)
    shipped = shipped_forms_dir()
    if shipped == _ROOT / "forms":
        return shipped
    mine = user_forms_dir()
    if not mine.exists():
        import shutil

        tmp = mine.with_name(mine.name + ".new")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(shipped, tmp, ignore=shutil.ignore_patterns("__pycache__", "__init__.py"))
        os.replace(tmp, mine)                  # never a half-copied forms folder
    return mine


def default_data_dir() -> Path | str:
    """A data folder, or a server URL (`postgresql://…`) kept as the string it is."""
    env = os.environ.get("CAREBOOK_DATA")
    if is_server(env):
        return env
    return Path(env) if env else Path(user_data_dir(APP, appauthor=False)) / "ledger"


def is_server(target: object) -> bool:
    """`--data postgresql://…`: the ledger is on a PostgreSQL server, not in a folder."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def desk_dir(url: str) -> Path:
    """This desk's own folder for a server ledger: drafts, settings, local plugins and form
    snapshots stay here, so a draft survives the server being unreachable.
    `CAREBOOK_DESK` moves the parent folder (tests, shared machines)."""
    import hashlib
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    label = "-".join(x for x in (parts.username, parts.hostname, parts.path.strip("/")) if x)
    label = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:60] or "server"
    tag = hashlib.sha1(f"{parts.username}@{parts.hostname}:{parts.port}{parts.path}?{parts.query}".encode()).hexdigest()[:8]
    base = os.environ.get("CAREBOOK_DESK")
    return (Path(base) if base else Path(user_data_dir(APP, appauthor=False)) / "servers") / f"{label}-{tag}"


def demo_data_dir() -> Path:
    env = os.environ.get("CAREBOOK_DEMO_DATA")
    return Path(env) if env else Path(user_data_dir(APP, appauthor=False)) / "demo"


def is_demo(data_dir: Path) -> bool:
    return (Path(data_dir) / "DEMO").exists()


def mark_demo(data_dir: Path) -> None:
    """The marker the UI reads to show 演示数据 on every screen."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    (Path(data_dir) / "DEMO").write_text("本文件夹是演示台账，其中的人员均为虚构。\n", encoding="utf-8")


class SettingsFile:
    """Small per-ledger preferences (the operator's name), written atomically."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self._data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            self._data = {}
        if not isinstance(self._data, dict):     # damaged: `[1, 2]` is JSON but no settings
            self._data = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        from core.storage.atomic import dumps, write_bytes

        self._data[key] = value
        write_bytes(self.path, dumps(self._data))
