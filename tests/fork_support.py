"""Helpers for tests of work handed to forked copies (`core.lifecycle.keptahead`, `dayapart`).

The `carebook` process forks only when it holds one thread (`core.forksafe`). A test process
holds the background keeping threads of the engines earlier tests opened (`keep_after_open`
waits 3 s before it works), and pytest-xdist's; the tests say yes to forking where they mean
to test it, end those threads first, and count the forks made.
"""
from __future__ import annotations

import os
import threading

from core.lifecycle import reevaluate


def settle_keeping() -> None:
    """End every engine's background keeping thread now."""
    for _, now in list(reevaluate._KEEPING.values()):
        now.set()
    for thread in threading.enumerate():     # one an engine started before its last (3 s at most)
        if thread.name == "carebook-keep-values":
            thread.join(timeout=30)


def count_forks(monkeypatch) -> list[int]:
    """The pids of the copies `os.fork` makes from now on (in this process: a copy's own forks
    are in its own list)."""
    forks: list[int] = []
    real_fork = os.fork

    def counting():
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid
    monkeypatch.setattr(os, "fork", counting)
    return forks
