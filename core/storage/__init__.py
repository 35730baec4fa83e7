"""carebook's record storage: TinyDB files per table and village, written crash-safely.

Public names: `Store`, `StorageError`, `StoreLocked`, `list_backups`, `restore_backup`,
`Backup`. Everything else in this package is internal.
"""
from core.storage.backups import Backup, list_backups, restore_backup
from core.storage.errors import StorageError, StoreLocked
from core.storage.store import Store

__all__ = ["Backup", "Store", "StorageError", "StoreLocked", "list_backups", "restore_backup"]
