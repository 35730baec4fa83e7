"""The printable registration form: real HTML from the shipped form file."""
from __future__ import annotations

from html.parser import HTMLParser

from core.transfer.exportform import form_info
from core.transfer.exporting import mask_value
from plugins.export_print import FormPrinter
from plugins.print_hints import Speaker, field_hint, section_hint


class Text(HTMLParser):
    """The visible text of a page plus its section headings, as a reader would see them."""

    def __init__(self):
        super().__init__()
        self.text, self.h2, self._in_h2, self._skip = [], [], False, False

    def handle_starttag(self, tag, attrs):
        self._in_h2 = tag == "h2"
        self._skip = tag in ("style", "title")

    def handle_endtag(self, tag):
        self._in_h2 = self._skip = False

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        if self._in_h2:
            self.h2.append(data)


def parse(html: str) -> Text:
    t = Text()
    t.feed(html)
    return t


def test_blank_form_sections_in_order_with_skip_hints(reg_form):
    info = form_info(reg_form)
    page = parse(FormPrinter(info, None, mask_value).html("档案编号："))
    assert page.h2 == [f"{n}、{s.title}" for n, s in zip("一二三四五六七八九十", info.sections)]
    text = "".join(page.text)
    assert "若“是否有委托照顾人”为“否”，跳过本节。" in text
    assert "仅当“档案状态”为“退出”时填写" in text
    assert "□\xa0男" in text and "□\xa0女" in text and "■" not in text
    assert "（可多选）" in text
    assert "由系统根据已填内容计算" in text             # age is computed
    assert "单位负责人" in text and "复核人" in text


def test_print_css_is_a4(reg_form):
    html = FormPrinter(form_info(reg_form), None, mask_value).html()
    assert "@page { size: A4" in html and 'lang="zh-CN"' in html


def test_filled_form_marks_choices_and_masks(reg_form, records):
    html = FormPrinter(form_info(reg_form), records[0]["data"], mask_value).html("档案编号：x")
    text = "".join(parse(html).text)
    assert "■\xa0男" in text and "□\xa0女" in text
    assert "王秀兰" in text and "120107********0032" in text and "120107193801010032" not in text
    assert "王强" in text and "广东省深圳市" in text and "139****1111" in text


def test_filled_form_full_shows_id(reg_form, records):
    html = FormPrinter(form_info(reg_form), records[0]["data"], lambda k, v: v).html()
    assert "120107193801010032" in html


def test_hints_from_expressions(reg_form):
    sp = Speaker(form_info(reg_form).field)
    assert field_hint(sp, "health_status != '健康'") == "仅当“健康状况”不为“健康”时填写"
    assert section_hint(sp, "has_caregiver == '是' and age >= 80") == "若“是否有委托照顾人”为“否”或“年龄”小于80，跳过本节。"
    assert field_hint(sp, "has(diseases, '其他')") == "仅当“主要疾病”含“其他”时填写"
    assert field_hint(sp, "not empty(phone)") == "仅当“联系电话”已填时填写"
    assert field_hint(sp, "status in ['退出']") == "仅当“档案状态”为“退出”时填写"
    assert field_hint(sp, "x ** 2 > 1").startswith("仅当满足条件 x ** 2 > 1")   # unreadable: shown as is
    assert section_hint(sp, "", "若无委托照顾人，跳过本节") == "若无委托照顾人，跳过本节"


def test_header_and_signature_fields_filled_once_not_in_body(reg_form, records):
    """档案编号 and 填报日期 stand under the title, 填表人/复核人/单位负责人 at the foot, filled
    from the record — and are not asked a second time in section 一."""
    data = {**records[0]["data"], "filing_date": "2024-05-01", "filler": "田晓红", "reviewer": "江鑫", "head": "孙鑫"}
    html = FormPrinter(form_info(reg_form), data, mask_value).html()
    meta = html[html.index('<div class="meta">'):html.index("</div>", html.index('<div class="meta">'))]
    assert "档案编号：<u>120116009201-0001</u>" in meta and "填报日期：<u>2024年5月1日</u>" in meta
    sign = html[html.index('<div class="sign">'):]
    assert "填表人：<u>田晓红</u>" in sign and "复核人：<u>江鑫</u>" in sign and "单位负责人：<u>孙鑫</u>" in sign
    text = "".join(parse(html).text)
    assert text.count("填报日期") == 1 and text.count("填表人") == 1 and text.count("档案编号") == 1


def test_blank_form_header_has_lines_to_write_on(reg_form):
    html = FormPrinter(form_info(reg_form), None, mask_value).html()
    meta = html[html.index('<div class="meta">'):]
    assert meta.index("档案编号：<span class=\"line\"") < meta.index("填报日期：　　　　年　　月　　日")


def test_filled_form_skipped_section_says_not_applicable(reg_form, records):
    """王秀兰 has no entrusted carer: section 八 says it does not apply instead of blank lines;
    李桂英 has one, so her 八 has the table."""
    info = form_info(reg_form)

    def section(html, sid):
        start = html.index(f'<section id="{sid}">')
        return html[start:html.index("</section>", start)]

    skipped = section(FormPrinter(info, records[0]["data"], mask_value).html(), "caregiver")
    assert "本节不适用" in skipped and "<table>" not in skipped and "跳过本节" in skipped
    filled = section(FormPrinter(info, records[1]["data"], mask_value).html(), "caregiver")
    assert "本节不适用" not in filled and "张大姐" in filled
    assert "本节不适用" not in FormPrinter(info, None, mask_value).html()          # blank: all sections to fill


def test_repeat_group_takes_the_full_width(reg_form):
    """The children table spans both columns of the section table; the ID column has room."""
    html = FormPrinter(form_info(reg_form), None, mask_value).html()
    start = html.index('<section id="supporters">')
    part = html[start:html.index("</section>", start)]
    assert '<th class="group" colspan="2">子女及其他赡养人' in part and '<td colspan="2"><table class="rows">' in part
    assert '<th class="w-id">公民身份号码</th>' in part and '<th class="label">子女及其他赡养人' not in part
