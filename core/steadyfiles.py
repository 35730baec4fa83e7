"""A bulk job's "the data files stay as they are until I am done" (an import check).

Plugins re-read their data files when they change: the division list is looked at
(`os.stat`) each time a division code is cleaned or format-checked, four times a record — some
200,000 stats in a 50,000-row import, for a file nobody edits during it. Inside `steady()`
such a file is looked at once (the first time it is asked for) and taken as it was then until
the block ends; outside it, every call looks again, as before.

Per thread: an import running in one thread does not stop the UI's thread from seeing an
edited file. Core owns the scope (it is core that runs the bulk job) and plugins only read
`token()`, so core imports no plugin.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

_local = threading.local()


def token() -> object | None:
    """The current steady block of this thread (one object per outermost block), else None.
    A file reader that remembers which token it last looked under need not look again."""
    return getattr(_local, "token", None)


@contextmanager
def steady() -> Iterator[None]:
    """Files read inside the block are looked at once, not once per call; nested blocks are
    part of the outermost one."""
    if token() is not None:
        yield
        return
    _local.token = object()
    try:
        yield
    finally:
        _local.token = None
