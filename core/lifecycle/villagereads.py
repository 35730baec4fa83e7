"""How a whole-ledger pass (re-evaluation, migration) reads one village's records.

Both passes read up to 50,000 records and change none of them in place: they read the records
as the store holds them (`Store.iter_shared`, not copied; copying each record was a sixth of
their time) and copy only what they change. A store without that (the server) gives copies.
"""
from __future__ import annotations

from typing import Any, Collection, Iterator


def village_records(engine: Any, form_id: str, part: str, wanted: Collection[str] | None = None, *,
                    one_by_one: bool = False, keep: bool = False, seen: list | None = None) -> Iterator[dict]:
    """The records of village `part`, or only those whose id is in `wanted`. `one_by_one`: fetch
    the wanted records singly (a few birthdays in a village of hundreds) instead of reading the
    village; `keep`: the parsed village file stays cached for a write that follows; `seen`: gets
    (save time, record) of every record of the village read whole (`Store.iter_stamped`), for
    values kept from it without parsing it again (`core.lifecycle.keptfiles.keep_read`)."""
    if wanted is not None and one_by_one:
        for rid in sorted(wanted):
            rec = engine.store.get(form_id, rid)
            if rec is not None:
                yield rec
        return
    if wanted is not None and not wanted:
        return
    stamped = getattr(engine.store, "iter_stamped", None) if seen is not None else None
    if stamped is not None:
        for t, rec in stamped(form_id, [part], keep=keep):
            seen.append((t, rec))
            if wanted is None or rec["id"] in wanted:
                yield rec
        return
    shared = getattr(engine.store, "iter_shared", None)
    for rec in shared(form_id, [part], keep=keep) if shared else engine.iter_records(form_id, [part]):
        if wanted is None or rec["id"] in wanted:
            yield rec
