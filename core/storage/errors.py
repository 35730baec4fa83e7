"""The two storage errors the UI shows as plain Chinese text.

They subclass `CarebookError` so the UI and CLI can catch one base class and print the
message instead of a traceback.
"""
from __future__ import annotations

from core.problems import CarebookError


class StorageError(CarebookError):
    """Reading or writing the data folder failed, or a write was tried on a read-only store."""


class StoreLocked(StorageError):
    """Another carebook program holds the data folder; two writers would lose each other's work."""
