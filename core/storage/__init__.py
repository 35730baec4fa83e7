"""carebook's record storage: a journal and TinyDB files per table and village, crash-safe.

Public names: `Store`, `StorageError`, `StoreLocked`, `list_backups`, `restore_backup`,
`Backup`, `check_output`. Everything else in this package is internal.
"""
from core.storage.backups import Backup, list_backups, restore_backup
from core.storage.errors import StorageError, StoreLocked
from core.storage.outputs import check_output
from core.storage.store import Store

__all__ = ["Backup", "Store", "StorageError", "StoreLocked", "check_output", "list_backups", "restore_backup"]
