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


def default_forms_dir() -> Path:
    """`CAREBOOK_FORMS`, else the forms shipped beside the packages (the repo's `forms/`)."""
    env = os.environ.get("CAREBOOK_FORMS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "forms"


def default_data_dir() -> Path:
    env = os.environ.get("CAREBOOK_DATA")
    return Path(env) if env else Path(user_data_dir(APP, appauthor=False)) / "ledger"


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
