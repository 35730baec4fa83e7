"""太平镇 (120116156000): records whether an elder takes part in 互助养老 (mutual-aid elder care).

A town-specific field that the district form does not carry. As a local-folder plugin it needs
no packaging: copy this file into the folder ``CAREBOOK_PLUGINS_DIR`` names (or point it at
this folder). ``extend_form`` answers only for 太平镇's own registration records and returns
``None`` for every other town and form, so no other town sees the field.

For a field like this alone, an overlay file (``forms/overlays/*.yaml``, ``kind: overlay``)
does the same without code; a plugin is worth it when the answer needs logic.
"""
from __future__ import annotations

import copy

from carebook import FormAdditions, hookimpl

TOWN = "120116156000"           # 太平镇, 统计用区划代码
FORM = "registration"
SECTION = "care"                # 照料情况 (Care and needs) in forms/registration.yaml

ADDITIONS: FormAdditions = {
    "sections": {
        SECTION: {
            "fields": [
                {
                    "id": "taiping_mutual_aid",
                    "label": "是否参加互助养老",
                    "type": "choice",
                    "choices": ["是", "否"],
                    "help": "太平镇自设项目：老人是否参加村内互助养老（如邻里结对、互助幸福院）",
                }
            ]
        }
    }
}


@hookimpl
def extend_form(form_id: str, town: str | None) -> FormAdditions | None:
    """太平镇's registration records get the extra field; everyone else gets nothing."""
    if form_id == FORM and town == TOWN:
        return copy.deepcopy(ADDITIONS)   # the engine may merge into what it gets
    return None
