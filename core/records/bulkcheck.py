"""Many checks in a row (an import check) asking the plugins' per-record hooks once.

`Engine.bulk_save` asks once which per-record hooks any plugin implements and skips the others
for every record (`Engine._hook_in_use`); an import check calls `Engine.check` 50,000 times
outside a bulk save, and asking pluggy each time for implementations that do not exist cost
about 2 % of it. `hooks_once` sets the same answers for a block of checks.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator


@contextlib.contextmanager
def hooks_once(eng: Any, names: tuple[str, ...]) -> Iterator[None]:
    """Inside: `eng._hook_in_use(name)` answers from one look at the plugins. Nested in a bulk
    save (or another block), the outer answers stand."""
    if eng._bulk_hooks is not None:
        yield
        return
    eng._bulk_hooks = {name: bool(eng.plugin_set.impls(name)) for name in names}
    try:
        yield
    finally:
        eng._bulk_hooks = None
