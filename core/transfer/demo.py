"""A synthetic but realistic Binhai ledger, for trying the program and for tests at scale.

Nothing here is a real person: names come from `core.transfer.names`, ID numbers are made up with
correct check characters. The mixes (ages skewed to the 60s, most children working in other
provinces, a few 特困/低保, ~5 % 退出, visits mostly on time) follow the domain notes, so the
roster, the summary and the due list look like an office's, and every record passes the same
validation staff input does: the demo goes through `Engine.bulk_save`, never around it.

Visit history: town visits for the last four quarters (one a quarter, about one in twelve
missed) and village visits at each person's cadence (高 weekly, 中 fortnightly, 低 monthly) for
the last `village_days` days, with realistic gaps: most visits a little early, about one in
twelve late, and now and then a month or so with none (in hospital, staying with a child).
By default that window is a full year for ledgers of up to `FULL_YEAR_UP_TO` people (the
default 2,000 people make about 68,000 visits, some two minutes) and the last 30 days above
that: a year of weekly and fortnightly visits for 50,000 people would be well over a million
records, hours of validated saving, while 30 days keeps 50,000 people near 300,000 visits, and
the recent visits are what the due list reads.
"""
from __future__ import annotations

import datetime as dt
import marshal
import random
from typing import Any, Iterator

from core.dates import add_months, quarter_end, quarter_start, today
from core.checkdigit import check_char
from core.steadyfiles import steady

from core.transfer import names

OPERATOR = "演示数据"
# Where elders' ID numbers were first issued: the three former districts, Binhai itself, and a
# few neighbouring prefectures people married in from.
ID_REGIONS = (("120107", 40), ("120108", 22), ("120109", 25), ("120116", 5), ("130925", 3),
              ("130984", 2), ("371425", 2), ("120221", 1))
WHEREABOUTS = ("北京市朝阳区", "北京市大兴区", "河北省廊坊市", "河北省沧州市", "河北省唐山市",
               "山东省济南市", "山东省青岛市", "上海市浦东新区", "江苏省苏州市", "浙江省杭州市",
               "广东省深圳市", "广东省东莞市", "辽宁省大连市", "内蒙古自治区鄂尔多斯市",
               "河南省郑州市", "山西省太原市", "湖北省武汉市", "四川省成都市")
EMPLOYERS = ("个体经营", "建筑工地", "物流公司", "电子厂", "餐饮店", "外贸公司", "家政服务",
             "运输公司", "机械厂", "超市", "学校", "医院", "自由职业")


def pick(rng: random.Random, weighted: dict[str, float]) -> str:
    """One key drawn by its weight (as `rng.choices`; the table's totals are kept per table)."""
    key = tuple(weighted.items())
    table = _PICK_TABLES.get(key)
    if table is None:
        table = _PICK_TABLES[key] = names.draw_table(list(weighted), list(weighted.values()))
    return names.draw(rng, table)


_PICK_TABLES: dict[tuple, tuple] = {}


def some(rng: random.Random, items: tuple | list, lo: int, hi: int) -> list[str]:
    """`lo`..`hi` distinct items, kept in list order (as a multi field stores them)."""
    k = rng.randint(lo, min(hi, len(items)))
    chosen = set(rng.sample(list(items), k))
    return [i for i in items if i in chosen]


DISEASES = {"高血压": 45, "糖尿病": 20, "冠心病": 15, "脑卒中": 8, "慢性阻塞性肺疾病": 7, "恶性肿瘤": 2,
            "其他": 10}


def _table(weighted: dict[str, float]) -> tuple:
    """The draw table `pick` makes of `weighted`, made once at import for a fixed mix."""
    return names.draw_table(list(weighted), list(weighted.values()))


_DISEASES = _table(DISEASES)
# The fixed mixes a person is drawn from (those that depend on age are `pick`ed).
_ETHNICITY = _table({"汉族": 96, "回族": 2, "满族": 1.5, "蒙古族": 0.5})
_EXIT_REASON = _table({"死亡": 40, "子女返乡": 25, "入住养老机构": 15, "户籍迁出": 5, "不再符合条件": 10, "其他": 5})
_MARITAL_ALONE = _table({"丧偶": 80, "离婚": 8, "未婚": 4, "已婚": 8})
_MARITAL_WITH_OTHERS = _table({"丧偶": 70, "已婚": 30})
_HOUSING = _table({"自有": 90, "借住": 7, "租住": 3})
_CHILD_CONTACT = _table({"每周": 45, "每月": 35, "每季度": 12, "很少": 6, "失联": 2})
_DISABILITY_TYPE = _table({"肢体": 50, "视力": 20, "听力": 20, "言语": 3, "智力": 3, "精神": 4})
_DISABILITY_GRADE = _table({"一级": 10, "二级": 20, "三级": 35, "四级": 35})
_ECONOMIC_STATUS = _table({"特困供养": 3, "低保": 8, "低收入": 12, "一般": 77})
_CAREGIVER_RELATION = _table({"其他亲属": 50, "邻居": 30, "村干部": 10, "女": 5, "子": 5})
_CAREGIVER_ASSESSMENT = _table({"较好": 70, "一般": 25, "差": 5})

_HOW_MANY_ILL = {flag: names.draw_table([0, 1, 2, 3], [0 if flag else 30, 50, 25, 8]) for flag in (False, True)}


def diseases(rng: random.Random, at_least: int) -> list[str]:
    """Chronic illnesses by rough prevalence among rural elders (hypertension first)."""
    k = names.draw(rng, _HOW_MANY_ILL[bool(at_least)])
    chosen = {names.draw(rng, _DISEASES) for _ in range(k)}
    return [x for x in DISEASES if x in chosen]


_REGIONS = names.draw_table([r for r, _ in ID_REGIONS], [w for _, w in ID_REGIONS])


def iso(d: dt.date) -> str:
    return d.isoformat()


def make_id(rng: random.Random, birth: dt.date, sex: str, seen: set[str]) -> str:
    """A fresh valid 18-character number: odd sequence for men, even for women."""
    while True:
        region = names.draw(rng, _REGIONS)
        seq = rng.randrange(0, 500) * 2 + (1 if sex == "男" else 0)
        first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
        number = first17 + check_char(first17)
        if number not in seen:
            seen.add(number)
            return number


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('35789')}{rng.randrange(10**9):09d}"


def landline(rng: random.Random) -> str:
    return f"022{rng.choice('2567')}{rng.randrange(10**7):07d}"


_CHILDREN = names.draw_table([1, 2, 3, 4, 5], [22, 38, 25, 10, 5])


class Ledger:
    """The people and staff of one demo run; split out so `generate` reads as the steps."""

    def __init__(self, eng, rng: random.Random, as_of: dt.date):
        self.eng, self.rng, self.as_of = eng, rng, as_of
        divs = eng.divisions
        self.villages = [(v.parent, v.code) for v in divs.all_villages(as_of)]
        if not self.villages:
            raise ValueError("区划数据中没有在用的村（居）委会，无法生成演示数据")
        self.name_of = divs.name
        self.seq: dict[str, int] = {}
        self.staff: dict[str, dict[str, str]] = {}
        self.ids: set[str] = set()

    def village_staff(self, town: str, village: str) -> dict[str, str]:
        """The village's filler, reviewer, head and liaison cadre (the same people every time)."""
        s = self.staff.get(village)
        if s is None:
            rng = self.rng
            s = self.staff[village] = {
                "filler": names.child_name(rng, "女"),
                "reviewer": names.child_name(rng, "男"),
                "head": names.child_name(rng, "男"),
                "liaison_name": names.child_name(rng, rng.choice("男女")),
                "liaison_phone": mobile(rng),
                "town_visitor": names.child_name(rng, rng.choice("男女")),
                "town_phone": landline(rng),
            }
        return s

    # ---------------------------------------------------------------- one person
    def person(self) -> dict[str, Any]:
        rng, as_of = self.rng, self.as_of
        town, village = rng.choice(self.villages)
        staff = self.village_staff(town, village)
        sex = "女" if rng.random() < 0.54 else "男"
        age = min(100, 60 + int(rng.expovariate(1 / 8.5)))
        birth = as_of - dt.timedelta(days=age * 365 + rng.randrange(365) + age // 4)
        sixty = dt.date(birth.year + 60, birth.month, min(birth.day, 28))
        filing = as_of - dt.timedelta(days=int(rng.triangular(20, 1100, 700)))
        if filing < sixty:
            filing = min(as_of, sixty + dt.timedelta(days=rng.randrange(1, 90)))
        self.seq[village] = self.seq.get(village, 0) + 1
        data: dict[str, Any] = {
            "file_no": f"{village}-{self.seq[village]:04d}",
            "town": town, "village": village, "filing_date": iso(filing),
            "filler": staff["filler"], "reviewer": staff["reviewer"], "head": staff["head"],
            "name": names.elder_name(rng, sex),
            "id_number": make_id(rng, birth, sex, self.ids),
            "ethnicity": names.draw(rng, _ETHNICITY),
            "education": pick(rng, {"文盲": 18 + age // 4, "小学": 40, "初中": 28, "高中及以上": 8}),
            "hukou_place": f"天津市滨海新区{self.name_of(town)}{self.name_of(village)}",
            "hukou_type": "农业(农村)" if rng.random() < 0.99 else "非农业",
            "address": f"天津市滨海新区{self.name_of(town)}{self.name_of(village)}{rng.randint(1, 300)}号",
            "liaison_name": staff["liaison_name"], "liaison_phone": staff["liaison_phone"],
            "status": "在册",
        }
        r = rng.random()
        if r < 0.70:
            data["phone"] = mobile(rng)
        elif r < 0.85:
            data["phone"] = landline(rng)
        self.living(data)
        self.supporters(data, filing, sex)
        self.health(data, age)
        self.economy(data)
        self.caregiver(data)
        data["assessed_on"], data["assessor"] = iso(filing), staff["filler"]
        if rng.random() < 0.05:
            exit_day = filing + dt.timedelta(days=rng.randint(1, max(1, (as_of - filing).days)))
            data.update(status="退出", exit_date=iso(min(exit_day, as_of)),
                        exit_reason=names.draw(rng, _EXIT_REASON))
        return data

    def living(self, d: dict) -> None:
        rng = self.rng
        r = rng.random()
        if r < 0.9:
            d.update(lives_alone="是", living_arrangement="独居",
                     marital=names.draw(rng, _MARITAL_ALONE))
        elif r < 0.97:
            d.update(lives_alone="与配偶同住", living_arrangement="与配偶同住", marital="已婚")
        else:
            d.update(lives_alone="否", marital=names.draw(rng, _MARITAL_WITH_OTHERS),
                     living_arrangement=rng.choice(["与孙辈同住", "与其他亲属同住"]))
        d["housing"] = names.draw(rng, _HOUSING)
        d["housing_hazard"] = "是" if rng.random() < 0.03 else "否"
        if d["housing_hazard"] == "是":
            d["hazard_detail"] = rng.choice(["房屋墙体开裂", "冬季燃煤取暖，无烟雾报警器", "电线老化"])

    def supporters(self, d: dict, filing: dt.date, sex: str) -> None:
        rng = self.rng
        family = d["name"][0]
        n = names.draw(rng, _CHILDREN)
        all_away = rng.random() < 0.93
        last_left = add_months(filing, -rng.choices([rng.randint(6, 120), rng.randint(1, 5)],
                                                    weights=[96, 4], k=1)[0])
        rows = []
        for i in range(n):
            son = rng.random() < 0.5
            left = last_left if i == 0 else add_months(last_left, -rng.randint(0, 60))
            row = {
                "child_name": names.child_name(rng, "男" if son else "女", family if son else None),
                "child_relation": "子" if son else "女",
                "child_whereabouts": rng.choice(WHEREABOUTS),
                "child_left_date": iso(left),
                "child_employer": rng.choice(EMPLOYERS),
                "child_phone": mobile(rng),
                "child_contact": names.draw(rng, _CHILD_CONTACT),
            }
            if rng.random() < 0.3:
                born = dt.date(rng.randint(1960, 1995), rng.randint(1, 12), rng.randint(1, 28))
                row["child_id_number"] = make_id(rng, born, "男" if son else "女", self.ids)
            rows.append(row)
        if not all_away:
            stay = rows[-1]
            stay.update(child_whereabouts="天津市滨海新区", child_employer=rng.choice(EMPLOYERS))
            stay.pop("child_left_date", None)
        d.update(children=rows, children_count=n, all_supporters_away="是" if all_away else "否")
        if all_away:
            d["last_left_date"] = iso(last_left)

    def health(self, d: dict, age: int) -> None:
        rng = self.rng
        status = pick(rng, {"健康": 38 - age // 5, "患病": 52, "残疾": 9})
        d["health_status"] = status
        frail = 0.12 + max(0, age - 75) * 0.012
        r = rng.random()
        d["self_care"] = "失能" if r < frail * 0.35 else "半失能" if r < frail else "自理"
        if status != "健康":
            d["diseases"] = diseases(rng, 1 if status == "患病" else 0)
            d["serious_illness"] = "是" if "恶性肿瘤" in d["diseases"] and rng.random() < 0.6 else "否"
        if status == "残疾":
            d["disability_type"] = names.draw(rng, _DISABILITY_TYPE)
            d["disability_grade"] = names.draw(rng, _DISABILITY_GRADE)
        d["family_doctor"] = "是" if rng.random() < 0.72 else "否"
        if d["family_doctor"] == "是":
            signed = self.as_of - dt.timedelta(days=rng.randint(30, 900))
            d["family_doctor_date"] = iso(signed)
            d["family_doctor_team"] = f"{self.name_of(d['town'])}社区卫生服务中心家庭医生团队"

    def economy(self, d: dict) -> None:
        rng = self.rng
        status = names.draw(rng, _ECONOMIC_STATUS)
        d["economic_status"] = status
        sources = ["城乡居民养老保险金"] + some(rng, ("子女赡养费", "种养殖或土地收入", "务工收入",
                                                     "高龄等补贴", "亲友接济"), 0, 2)
        assistance: list[str] = []
        if status in ("特困供养", "低保"):
            sources.append("政府救助")
            assistance.append(status)
            if rng.random() < 0.3:
                assistance.append("医疗救助")
        if d["health_status"] == "残疾" and rng.random() < 0.6:
            assistance.append("残疾人两项补贴")
        order = ("城乡居民养老保险金", "退休金", "子女赡养费", "种养殖或土地收入", "务工收入", "政府救助",
                 "高龄等补贴", "亲友接济", "其他")
        d["income_sources"] = [s for s in order if s in sources]
        d["assistance"] = [a for a in ("低保", "特困供养", "医疗救助", "临时救助", "高龄津贴",
                                       "残疾人两项补贴", "其他") if a in assistance]
        base = {"特困供养": 9000, "低保": 11000, "低收入": 15000, "一般": 24000}[status]
        d["annual_income"] = round(base * rng.uniform(0.7, 1.5), -2)
        tags = ["空巢"] if rng.random() < 0.8 else []
        tags += {"特困供养": ["分散供养特困"], "低保": ["低保"]}.get(status, [])
        if d["health_status"] == "残疾":
            tags.append("残疾")
        d["tags"] = [t for t in ("分散供养特困", "低保", "失独", "残疾", "空巢") if t in tags]

    def caregiver(self, d: dict) -> None:
        rng = self.rng
        has = rng.random() < 0.6 or d["self_care"] == "失能"
        d["has_caregiver"] = "是" if has else "否"
        carers = ["自己"] if d["self_care"] == "自理" else []
        if d["living_arrangement"] == "与配偶同住":
            carers.insert(0, "配偶")
        if has:
            rel = names.draw(rng, _CAREGIVER_RELATION)
            agreed = dt.date.fromisoformat(d["filing_date"]) - dt.timedelta(days=rng.randint(0, 400))
            d.update(caregiver_name=names.elder_name(rng, rng.choice("男女")) if rel == "邻居"
                     else names.child_name(rng, rng.choice("男女")),
                     caregiver_relation=rel, caregiver_phone=mobile(rng),
                     caregiver_address=d["address"].rsplit("村", 1)[0] + f"村{rng.randint(1, 300)}号",
                     caregiver_agreement_date=iso(agreed),
                     caregiver_assessment=names.draw(rng, _CAREGIVER_ASSESSMENT))
            carers.append("近亲属" if rel in ("其他亲属", "子", "女") else "邻里")
        if d["self_care"] == "失能" and rng.random() < 0.4:
            carers.append("雇人")
        if not carers:
            carers = ["邻里"]
        d["daily_carers"] = [c for c in ("配偶", "近亲属", "邻里", "雇人", "社区居家养老", "自己", "无人照顾")
                             if c in carers]
        d["service_needs"] = some(rng, ("生活照料", "精神慰藉", "医疗保健", "安全服务", "文化娱乐",
                                        "紧急救助"), 0, 3)


# ---------------------------------------------------------------------------- visits
# The draws of a visit, their tables made once (`pick` would key its cache by the items of a
# new dict on every call: 300,000 visits draw four times each).
_METHOD = names.draw_table(["入户", "电话", "视频"], [70, 25, 5])
_PHYSICAL = names.draw_table(["良好", "一般", "较差", "突发疾病"], [50, 40, 9, 1])
_MENTAL = names.draw_table(["良好", "一般", "低落孤独", "异常"], [55, 35, 9, 1])
_CONTACT = names.draw_table(["经常", "偶尔", "很少", "失联"], [55, 32, 10, 3])
_START_MINUTES = ["00", "15", "30", "45"]
_END_MINUTES = ["00", "10", "20", "30"]
_HAZARDS = ("燃气", "用电", "取暖(煤烟)", "防诈骗")
_PROBLEMS = ("生活", "健康", "心理", "经济", "安全")
_SERVICES = ["协助购买药品", "联系子女", "帮助打扫卫生", "讲解防诈骗知识", "协助就医"]


def _visitor(led: Ledger, rid: str, row: dict) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a village and a town visit of person `rid` (list row `row`) always carry (the
    visitor, the unit, the person), worked out once per person rather than once per visit."""
    staff = led.village_staff(row["town"], row["village"])
    person = {"person": rid, "person_name": row["name"], "file_no": row["file_no"],
              "town": row["town"], "village": row["village"]}
    village = {"visitor": staff["liaison_name"], "visitor_unit": led.name_of(row["village"]) + "村民委员会",
               "visitor_phone": staff["liaison_phone"]}
    town = {"visitor": staff["town_visitor"], "visitor_unit": led.name_of(row["town"]) + "社会事务办",
            "visitor_phone": staff["town_phone"]}
    return person, {"村委会": village, "街镇": town, "signed": {"signed_by": row["name"],
                                                               "visitor_signed": staff["liaison_name"]}}


def _visit(led: Ledger, who: tuple, day: dt.date, level: str) -> dict[str, Any]:
    """One visit; `who` is `_visitor(led, rid, row)` of its person. The random draws are made
    in the same order as ever: a seeded demo repeats exactly."""
    rng = led.rng
    person, by_level = who
    start = rng.randint(8, 16)
    village = level == "村委会"
    v = {
        **person, "visit_date": day.isoformat(),
        "start_time": f"{start:02d}:{rng.choice(_START_MINUTES)}",
        "end_time": f"{start + 1:02d}:{rng.choice(_END_MINUTES)}",
        "visit_level": level,
        "visit_method": names.draw(rng, _METHOD) if village else "入户",
        **by_level[level],
        "saw_person": "是" if rng.random() < 0.95 else "否",
        "physical": names.draw(rng, _PHYSICAL),
        "mental": names.draw(rng, _MENTAL),
        "daily_care": "正常" if rng.random() < 0.9 else "需帮助",
        "hazards": ["无"] if rng.random() < 0.9 else some(rng, _HAZARDS, 1, 2),
        "children_contact": names.draw(rng, _CONTACT),
        "referral": "否", "risk_change": "无",
        **by_level["signed"],
    }
    if rng.random() < 0.15:
        v["problems"] = some(rng, _PROBLEMS, 1, 2)
        v["problems_detail"] = "已记录，转村委会跟进"
        v["services"] = rng.choice(_SERVICES)
    if rng.random() < 0.02:
        v.update(referral="是", referral_detail="报街镇社会事务办协调救助")
    return v


FULL_YEAR_UP_TO = 5000        # people; larger demo ledgers get RECENT_DAYS of village visits
RECENT_DAYS = 30


def default_village_days(persons: int) -> int:
    """A year of village visits where that stays quick to generate, the last month above it."""
    return 365 if persons <= FULL_YEAR_UP_TO else RECENT_DAYS


def _cadence_days(risk: str | None) -> int:
    return {"高": 7, "中": 15}.get(risk or "", 30)


def _next_gap(rng: random.Random, step: int) -> int:
    """Days until the next village visit: usually a little early, sometimes late, rarely a long gap."""
    r = rng.random()
    if r < 0.02:                                   # in hospital, or staying with a child for a while
        return step + rng.randint(21, 45)
    if r < 0.10:
        return max(1, int(step * rng.uniform(1.2, 1.8)))
    return max(1, int(step * rng.uniform(0.6, 1.0)))


def _visits(led: Ledger, people: list[tuple[str, dict]], village_days: int, town_quarters: int = 4) -> Iterator[dict]:
    """Town visits once a quarter for `town_quarters` quarters, village visits at the person's
    cadence; `people` are (id, list row) in file number order (the rows are the index's own,
    read and never copied: 50,000 copies held for the whole visit phase were ~20 MB)."""
    rng, as_of = led.rng, led.as_of
    real_today = today()
    last = min(as_of, real_today)          # a visit can never be in the future
    q_ends = []
    d = as_of
    for _ in range(town_quarters):
        q_ends.append((quarter_start(d.year, (d.month - 1) // 3 + 1), quarter_end(d.year, (d.month - 1) // 3 + 1)))
        d = quarter_start(d.year, (d.month - 1) // 3 + 1) - dt.timedelta(days=1)
    for rid, row in people:
        who = _visitor(led, rid, row)
        filing = dt.date.fromisoformat(row["filing_date"])
        stop = min(last, dt.date.fromisoformat(row["exit_date"])) if row.get("exit_date") else last
        for qs, qe in q_ends:
            lo, hi = max(qs, filing), min(qe, stop)
            if lo <= hi and rng.random() < 0.92:
                yield _visit(led, who, lo + dt.timedelta(days=rng.randint(0, (hi - lo).days)), "街镇")
        step = _cadence_days(row.get("risk_level"))
        window = max(village_days, step)     # at least one cadence, or everyone looks overdue
        day = max(filing, as_of - dt.timedelta(days=window)) + dt.timedelta(days=rng.randint(0, step - 1))
        while day <= stop:
            yield _visit(led, who, day, "村委会")
            day += dt.timedelta(days=_next_gap(rng, step))


@steady()      # the division list looked at once per demo, not four times a record (core.steadyfiles)
def generate(eng, persons: int = 1000, seed: int = 1, as_of: dt.date | None = None,
             village_days: int | None = None, town_quarters: int = 4, progress=None,
             fork: bool | None = None) -> dict[str, int]:
    """Fill the ledger with `persons` demo people and their visits; returns the counts saved.

    `village_days`: how far back village visits go; None is `default_village_days(persons)` (a
    year up to 5,000 people, 30 days above, see the module docstring); `town_quarters`: how many
    quarters, this one included, have town visits. Tests that need many people but not the visit
    history pass small numbers to stay quick. The same seed and as_of give the same ledger.
    `progress(step, done)` is called with "登记表" / "探访记录" so a CLI or the TUI can show
    what is happening.

    Bounded memory: people are drawn in the seed's order (so a seed repeats exactly) but kept
    only as compact bytes per village until saved, and saved village by village, so each village
    file is written once and a batch holds about `BULK_BATCH` records (whole villages); visits are
    drawn while they are saved, never held as a list (50,000 people make ~310,000 visits).

    `fork`: check the records in a forked copy of the engine while this process draws and
    stores them (`core.transfer.bulkfork`: the same records, in about half the time on two
    cores); None is yes from `FORK_FROM` people where forking is safe (`bulkfork.usable`).
    """
    as_of = as_of or today()
    with _checker(eng, persons >= FORK_FROM if fork is None else fork) as check:
        return _generate(eng, persons, seed, as_of, village_days, town_quarters, progress, check)


FORK_FROM = 2000     # people: below, the copy's start (~0.1 s) is not worth it, and tests stay in one process


def _checker(eng, wanted: bool):
    """A `bulkfork.ForkedChecker` when `wanted` and safe, else nothing (checks in this process)."""
    import contextlib

    from core.transfer import bulkfork

    if wanted and bulkfork.usable(eng):
        return bulkfork.ForkedChecker(eng)
    return contextlib.nullcontext(None)


def _generate(eng, persons: int, seed: int, as_of: dt.date, village_days: int | None, town_quarters: int,
              progress, check) -> dict[str, int]:
    rng = random.Random(seed)
    led = Ledger(eng, rng, as_of)
    packed: dict[str, list[bytes]] = {}
    mine: set[str] = set()
    for _ in range(persons):
        data = led.person()
        mine.add(data["id_number"])
        packed.setdefault(data["village"], []).append(marshal.dumps(data))
    led.ids.clear()             # only drawing a person needs the numbers already drawn
    tick = (lambda step: (lambda n: progress(step, n))) if progress else (lambda step: None)
    saved = eng.bulk_save("registration", _unpacked(packed), operator=OPERATOR, progress=tick("登记表"),
                          checker=check)
    if progress:
        progress("登记表", saved)
    people = [(rid, row) for rid, row in eng.index("registration").rows.items() if row.get("id_number") in mine]
    del mine
    people.sort(key=lambda p: p[1]["file_no"])        # stable order, so a seed repeats exactly
    days = default_village_days(persons) if village_days is None else village_days
    visits = eng.bulk_save("visit", _visits(led, people, days, town_quarters), operator=OPERATOR,
                           progress=tick("探访记录"), checker=check)
    if progress:
        progress("探访记录", visits)
    return {"registration": saved, "visit": visits}



def _unpacked(packed: dict[str, list[bytes]]) -> Iterator[dict[str, Any]]:
    """The people village by village (code order), each village's in the order drawn; a
    village's bytes are let go once it is handed out."""
    for village in sorted(packed):
        for blob in packed.pop(village):
            yield marshal.loads(blob)
