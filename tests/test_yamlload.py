"""The safe YAML loader: positions, YAML 1.1 pitfalls kept visible, duplicate keys and syntax errors located."""
from core.formlang.yamlload import load_file, load_text


def test_positions_of_keys_and_values():
    doc = load_text("kind: form\nsections:\n  - id: s\n    title: 分节\n", "f.yaml")
    assert doc.data == {"kind": "form", "sections": [{"id": "s", "title": "分节"}]}
    assert doc.keys[("sections", 0, "title")] == (4, 5)
    assert doc.values[("sections", 0, "title")] == (4, 12)
    assert doc.where(("sections", 0, "nothing", 3)) == (3, 5)


def test_yaml11_booleans_and_octals_stay_text_but_are_noted():
    doc = load_text("a: no\nb: 010020\nc: 0755\nd: [yes, on, y, N, 1:20]\ne: true\nf: 12\ng: 1.5\nh: ~\n")
    assert doc.data == {"a": "no", "b": "010020", "c": "0755", "d": ["yes", "on", "y", "N", "1:20"],
                        "e": True, "f": 12, "g": 1.5, "h": None}
    assert doc.coerced[("a",)].hint() == 'YAML 会把 no 读成布尔值 false，请加引号："no"'
    assert doc.coerced[("b",)].hint() == 'YAML 会把 010020 读成数字 4112，请加引号："010020"'
    assert doc.coerced[("d", 4)].yaml11_value == 80
    assert doc.coerced[("d", 2)].yaml11_value is True
    assert ("e",) not in doc.coerced and ("f",) not in doc.coerced
    assert doc.yaml11_view()["a"] is False


def test_quoted_scalars_are_not_coerced_and_dates_stay_text():
    doc = load_text('a: "no"\nb: \'010020\'\nc: 2026-01-05\n')
    assert doc.data == {"a": "no", "b": "010020", "c": "2026-01-05"}
    assert ("a",) not in doc.coerced and ("b",) not in doc.coerced


def test_duplicate_key_is_located():
    doc = load_text("id: a\nlabel: 甲\nlabel: 乙\n", "f.yaml")
    assert [str(p) for p in doc.problems] == [
        "f.yaml:3:1: label: 键 “label” 重复（第 2 行已出现）；YAML 会让后一个悄悄覆盖前一个，请删去或改名 (duplicate key)"]


def test_syntax_error_is_located_in_chinese():
    doc = load_text("title: 分节: 二\n", "f.yaml")
    assert doc.data is None
    assert str(doc.problems[0]) == ("f.yaml:1:10: YAML 语法错误：此处不能出现“键: 值”：常见原因是冒号后缺空格、缩进不对，"
                                    "或文字里含冒号却没加引号 (mapping values are not allowed here)")
    tab = load_text("a:\n\t- 1\n", "t.yaml").problems[0]
    assert (tab.line, tab.col) == (2, 1) and "不能用 Tab 缩进" in tab.message


def test_json_is_accepted_with_positions():
    doc = load_text('{\n  "kind": "list",\n  "items": ["no", 1]\n}', "x.json")
    assert doc.data == {"kind": "list", "items": ["no", 1]}
    assert doc.values[("items", 1)] == (3, 19)
    assert not doc.coerced


def test_empty_file_and_bad_encoding(tmp_path):
    assert load_text("", "e.yaml").problems[0].message == "文件是空的"
    bad = tmp_path / "gbk.yaml"
    bad.write_bytes("title: 登记表".encode("gbk"))
    prob = load_file(bad).problems[0]
    assert prob.message.startswith("文件不是 UTF-8 编码")


def test_parsed_files_are_cached_by_content_and_an_edit_is_seen(tmp_path, monkeypatch):
    from core.formlang.yamlload import load_file

    monkeypatch.setenv("CAREBOOK_CACHE", str(tmp_path / "cache"))
    f = tmp_path / "a.yaml"
    f.write_text("kind: list\nid: a\nitems: [是, 否]\n", encoding="utf-8")
    first = load_file(f)
    assert list((tmp_path / "cache" / "yaml").glob("*.pickle"))
    assert load_file(f).data == first.data == {"kind": "list", "id": "a", "items": ["是", "否"]}
    f.write_text("kind: list\nid: a\nitems: [是, no]\n", encoding="utf-8")
    edited = load_file(f)
    assert edited.data["items"] == ["是", "no"] and edited.coerced      # parsed again, pitfall kept
    for cached in (tmp_path / "cache" / "yaml").glob("*.pickle"):
        cached.write_bytes(b"not a pickle")
    assert load_file(f).data["items"] == ["是", "no"]                 # a damaged cache is ignored
