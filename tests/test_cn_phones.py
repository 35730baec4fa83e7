"""Phones: mobile and Tianjin landline, cleaning, reasons and masking."""
from __future__ import annotations

import pytest

from plugins.cn.phones import check_phone, mask_phone, normalize_phone, phone_kind
from plugins.cn_types import PhoneType, is_phone


@pytest.mark.parametrize("typed,clean", [
    ("022-2345 6789", "02223456789"),
    ("(022)23456789", "02223456789"),
    ("１３８ ００１３ ５６７８", "13800135678"),
    ("138-0013-5678", "13800135678"),
    ("+86 138 0013 5678", "13800135678"),
    ("8613800135678", "13800135678"),
    ("2345 6789", "23456789"),
])
def test_normalize(typed, clean):
    assert normalize_phone(typed) == clean
    assert check_phone(clean) is None


@pytest.mark.parametrize("number,kind", [
    ("13800135678", "mobile"),
    ("19912345678", "mobile"),
    ("02223456789", "landline"),
    ("23456789", "landline"),
    ("12345678901", None),      # 12x is not a mobile prefix
    ("02123456789", None),      # Shanghai
    ("0222345678", None),       # 022 + 7 digits
    ("03456789", None),         # landlines do not start with 0
    ("1380013567", None),
    ("138001356789", None),
])
def test_kinds(number, kind):
    assert phone_kind(number) == kind
    assert (check_phone(number) is None) == (kind is not None)


def test_reasons_are_chinese_and_specific():
    assert check_phone("12345678901").startswith("手机号码应为11位")
    assert check_phone("1380013567").startswith("手机号码应为11位")
    assert check_phone("02123456789").startswith("只接受天津固定电话")
    assert check_phone("2345678").startswith("固定电话应为8位")
    assert check_phone("138a0135678") == "电话号码只能包含数字"
    assert check_phone("") == "电话号码为空"
    for bad in ("12345678901", "02123456789"):
        assert bad not in check_phone(bad)


def test_mask_phone():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("02223456789") == "*******6789"
    assert mask_phone("23456789") == "****6789"
    assert mask_phone("1234") == "****"
    assert mask_phone(None) == ""


def test_field_type():
    ft = PhoneType()
    assert ft.normalize("022-2345 6789", {}) == "02223456789"
    with pytest.raises(ValueError, match="^电话号码无效：手机号码"):
        ft.normalize("1234567890", {})
    assert ft.json_schema({}) == {"type": "string", "format": "cn-phone"}
    assert ft.widget == "text"


def test_format_check():
    assert is_phone("13800135678")
    assert not is_phone("138-0013-5678")   # stored values are the normalised form
    assert is_phone(12)                    # not a string: the schema's type check reports it
