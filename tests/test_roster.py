"""The roster (annex 2): who is on it, in which order, with which columns, streamed."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers under --import-mode=importlib
import types

from binhai_support import TODAY, TOWN, TOWN2, VILLAGE, VILLAGE2, open_engine, person
from core.reporting.reports import pinyin_key


def test_roster_rows_order_and_columns(tmp_path):
    eng = open_engine(tmp_path)
    for name, town, village in [("张三", TOWN, VILLAGE), ("安宁", TOWN, VILLAGE), ("李四", TOWN2, VILLAGE2),
                                ("白云", TOWN, "120116157202")]:
        eng.save("registration", person(name=name, town=town, village=village, file_no=f"{village}-{name}"))
    eng.save("registration", person(name="退出者", status="退出", exit_reason="死亡",
                                    exit_date=TODAY.isoformat()))
    eng.save("registration", person(name="不符合", hukou_type="非农业"))
    rep = eng.report("roster", as_of=TODAY)
    assert isinstance(rep.rows, types.GeneratorType) and rep.row_count == 4
    rows = list(rep.rows)
    # 太平镇 (…156) before 小王庄镇 (…157); inside 渡口村 by pinyin: 安宁 before 张三.
    assert [(r["seq"], r["town"], r["village"], r["name"]) for r in rows] == [
        (1, "太平镇", "太平村", "李四"), (2, "小王庄镇", "渡口村", "安宁"),
        (3, "小王庄镇", "渡口村", "张三"), (4, "小王庄镇", "小王庄村", "白云")]
    first = rows[1]
    assert first["age"] == 65 and first["supporter_name"] == "张伟" and first["supporter_phone"] == "13900001111"
    assert first["supporter_where"] == "北京市朝阳区" and first["caregiver_name"] == "王海"
    assert first["remark"] == "" and first["risk_level"] == "低"
    cols = {c.key: c for c in rep.columns}
    assert cols["id_number"].pii == "id" and cols["phone"].pii == "phone" and cols["address"].pii == "address"
    assert cols["supporter_phone"].groups == ("主要赡养人",)


def test_roster_for_one_town_or_village(tmp_path):
    eng = open_engine(tmp_path)
    eng.save("registration", person(name="甲", town=TOWN2, village=VILLAGE2, file_no=f"{VILLAGE2}-1"))
    eng.save("registration", person(name="乙"))
    only = eng.report("roster", town=TOWN2)
    assert [r["name"] for r in only.rows] == ["甲"] and only.row_count == 1 and only.unit == "太平镇"
    assert [r["name"] for r in eng.report("roster", village=VILLAGE).rows] == ["乙"]


def test_pinyin_key_orders_like_a_register():
    names = ["张三", "安宁", "白云", "曾明"]
    assert sorted(names, key=pinyin_key) == ["安宁", "白云", "曾明", "张三"]


def test_pinyin_key_reads_as_pypinyin_does_without_loading_it():
    """The register order is pypinyin's reading of each character (`lazy_pinyin`), taken from its
    character table: sorting a roster must not load the package's 40 MB of phrase tables."""
    import subprocess
    import sys
    from pathlib import Path

    from pypinyin import lazy_pinyin

    from core.transfer.names import FEMALE_GIVEN, MALE_GIVEN, SURNAMES

    names = [s + g for s, _ in SURNAMES for g in MALE_GIVEN + FEMALE_GIVEN] + ["王1", "Ａ李", "欧阳·娜"]
    assert [pinyin_key(n) for n in names] == [
        (" ".join("".join(lazy_pinyin(ch)) or ch for ch in n), n) for n in names]
    code = ("import sys; from core.reporting.reports import pinyin_key; "
            "assert pinyin_key('吕长林') == ('lv zhang lin', '吕长林'); "
            "assert 'pypinyin' not in sys.modules, 'pypinyin imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
