"""公民身份号码: the GB 11643 vectors, normalisation, reasons, derived facts and masking."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from plugins.cn.ids import age_on, birth_date, check_char, check_id, mask, normalize_id, sex
from plugins.cn_types import ResidentIdType, is_resident_id

FIXTURE = Path(__file__).parent / "fixtures" / "id-vectors.yaml"
SHARED = Path("/work/shared/domain/id-vectors.yaml")


def _vectors(path: Path, group: str):
    if not path.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{path} 不存在"))]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [pytest.param(v, id=f"{path.parent.name}-{group}-{i}") for i, v in enumerate(data[group])]


def vectors(group: str):
    return _vectors(FIXTURE, group) + _vectors(SHARED, group)


def test_fixture_matches_shared_copy():
    if not SHARED.exists():
        pytest.skip("共享领域资料不存在")
    assert yaml.safe_load(FIXTURE.read_text("utf-8")) == yaml.safe_load(SHARED.read_text("utf-8"))


@pytest.mark.parametrize("v", vectors("valid"))
def test_valid_vectors(v):
    assert check_id(v["id"]) is None
    assert birth_date(v["id"]) == v["birth"]
    assert sex(v["id"]) == v["sex"]
    assert normalize_id(v["id"]) == v["id"]


@pytest.mark.parametrize("v", vectors("invalid"))
def test_invalid_vectors(v):
    reason = check_id(normalize_id(v["id"]))
    assert reason
    with pytest.raises(ValueError):
        birth_date(v["id"])


@pytest.mark.parametrize("v", vectors("normalise") + vectors("legacy_15"))
def test_normalise_vectors(v):
    assert normalize_id(v["input"]) == v["output"]
    assert check_id(v["output"]) is None


def test_reasons_name_the_fault():
    assert check_id("1101051949123100").startswith("长度不对")
    assert check_id("11010519491331002X") == "出生日期无效"
    assert check_id("11010519490230002X") == "出生日期无效"   # 30 February
    assert check_id("110105194912310021").startswith("校验码不符")
    assert check_id("11010519491231002Y").startswith("含有无效字符")
    assert check_id("") == "身份证号码为空"
    assert check_id(None) == "身份证号码为空"


def test_future_birth_date_is_refused():
    first17 = "12011620300101001"
    number = first17 + check_char(first17)
    assert check_id(number, today=date(2026, 11, 30)).startswith("出生日期无效")
    assert check_id(number, today=date(2031, 1, 1)) is None


def test_reasons_never_repeat_the_number():
    for bad in ("110105194912310021", "11010519491331002X", "1101051949123100"):
        assert bad not in check_id(bad)


def test_check_id_does_not_normalise():
    assert check_id("11010519491231002x")          # lower-case x is not canonical
    assert check_id(" 11010519491231002X")


def test_normalise_tolerates_spaces_and_dashes():
    assert normalize_id(" 110105 19491231 002x\u3000") == "11010519491231002X"
    assert normalize_id("110105-19491231-002X") == "11010519491231002X"


def test_legacy_upgrade_can_be_switched_off():
    assert normalize_id("110105491231002", upgrade_15=False) == "110105491231002"
    assert check_id("110105491231002").startswith("长度不对")


def test_legacy_number_gives_birth_and_sex():
    assert birth_date("110105491231002") == date(1949, 12, 31)
    assert sex("110105491231002") == "女"


@pytest.mark.parametrize("birth,on,age", [
    (date(1966, 12, 1), date(2026, 11, 30), 59),
    (date(1966, 12, 1), date(2026, 12, 1), 60),
    (date(1966, 12, 1), date(1966, 12, 1), 0),
    (date(1964, 2, 29), date(2024, 2, 28), 59),
    (date(1964, 2, 29), date(2024, 2, 29), 60),   # leap year: the birthday itself
    (date(1964, 2, 29), date(2023, 2, 28), 58),   # common year: not yet
    (date(1964, 2, 29), date(2023, 3, 1), 59),    # common year: from 1 March
    (date(1946, 12, 31), date(2026, 12, 31), 80),
    (date(1946, 12, 31), date(2026, 12, 30), 79),
])
def test_age_on(birth, on, age):
    assert age_on(birth, on) == age


def test_age_before_birth_is_an_error():
    with pytest.raises(ValueError):
        age_on(date(2000, 1, 2), date(2000, 1, 1))


def test_mask():
    assert mask("120107193801010032") == "120107********0032"
    assert mask("110105491231002") == "110105*****1002"
    assert mask("1234567890") == "**********"
    assert mask("") == ""
    assert mask(None) == ""


def test_field_type_normalises_and_refuses_with_chinese_reason():
    ft = ResidentIdType()
    assert ft.normalize("１１０１０５１９４９１２３１００２ｘ", {}) == "11010519491231002X"
    assert ft.normalize("110105491231002", {}) == "11010519491231002X"
    with pytest.raises(ValueError, match="长度不对"):
        ft.normalize("110105491231002", {"upgrade_15": False})
    with pytest.raises(ValueError, match="校验码不符"):
        ft.normalize("110105194912310021", None)
    assert ft.json_schema({}) == {"type": "string", "format": "cn-resident-id"}


def test_format_check():
    assert is_resident_id("11010519491231002X")
    assert not is_resident_id("11010519491231002x")
    assert is_resident_id(None)   # type errors are the schema's job, not the format's
