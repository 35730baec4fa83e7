"""Small builders shared by the storage tests: one record, its list row and history entry."""
from __future__ import annotations

TABLE = "registration"
V1, V2 = "120116157201", "120116157202"


def item(rid: str, village: str, name: str = "张三", **data) -> tuple[dict, dict, dict]:
    return ({"id": rid, "partition": village, "data": {"name": name, **data}}, {"name": name},
            {"who": "王五", "diff": {"name": [None, name]}})


def data_file(root, village=V1):
    return root / f"records/{TABLE}/{village}.json"
