"""The data folder readable by its owner only (POSIX): folders 0700, files 0600.

The ledger holds ID numbers, phones and addresses of thousands of elderly people; on a shared
office PC or server every other account could read a 0644 file. Rather than give each of the
many places that write a file its own `chmod`, the process's umask is set once, when carebook
starts (`core.cli.main`) and when an engine opens a data folder, so every file and folder
created afterwards — records, indexes, history, backups, drafts, exports' temp files — is
private; the data folder itself is chmod-ed 0700, which also closes a ledger made by an older
version (its 0644 files sit inside a folder nobody else can enter). Windows keeps its own
per-user folder ACLs and is left alone.
"""
from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """New files 0600 and folders 0700 from here on (no-op on Windows)."""
    if os.name == "posix":
        os.umask(PRIVATE_UMASK)


def private_folder(root: Path) -> None:
    """Create `root` if needed and make it 0700; a folder we may not chmod (not ours, a
    read-only mount) is left as it is — opening it will say what is wrong."""
    private_umask()
    root.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        try:
            if root.stat().st_mode & 0o077:
                root.chmod(0o700)
        except OSError:
            pass
