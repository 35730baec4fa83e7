"""Help texts the `carebook` command repeats across its subcommands, written once.

Every option and argument of every subcommand says in Chinese what it takes (`carebook records
list -h` is read by office staff and admins, not only by programmers); the texts that several
subcommands share live here so they read the same everywhere. `tests/test_cli_help.py` walks the
whole parser and fails on an option without help or with English help.
"""
from __future__ import annotations

FORM = "表单编号，如 registration（登记表）、visit（探访表）；forms list 列出全部"
RECORD_ID = "记录编号（records list 或 records show 显示的编号）"
FOLLOWUP_ID = "跟进事项编号（followups list 显示的编号）"
OPERATOR = "操作员姓名（记入修改历史；默认：台账设置的操作员）"
JSON = "以 JSON 格式输出，供其他程序读取"
TOWN = "街镇：名称（如 太平镇）或 12 位代码"
VILLAGE = "村（居）委会：名称或 12 位代码"
AS_OF = "按哪一天计算（年-月-日，默认今天）"
QUARTER = "季度，如 2026Q4（默认本季度）"
BY_VILLAGE = "按村分行（默认按街镇）"
OUTPUT = "写到哪个文件"
FORMAT = "导出格式，如 xlsx、csv"
ACCEPT = "接受一条警告并说明理由（可写多次）"
JSON_FILE = "JSON 文件：字段编号和值"
FORM_TEST_FILES = "只运行这些表单测试文件（默认：forms/tests/ 下全部）"



# What each option's value is, as `-h` shows it in place of argparse's upper-cased names
# (`--town 街镇`, not `--town TOWN`): by the option's `dest`, for every subcommand at once.
# An option that names its own metavar keeps it; one with fixed choices shows them.
METAVARS = {
    "as_of": "日期", "channel": "方式", "data": "文件夹或网址", "dest": "目标", "file": "文件",
    "files": "文件", "form": "表单", "format": "格式", "forms": "表单文件夹", "id": "编号",
    "limit": "条数", "login": "登录名", "name": "名称", "note": "说明", "offset": "从第几条",
    "on": "日期", "operator": "姓名", "output": "文件", "password": "密码", "paths": "文件",
    "persons": "人数", "quarter": "季度", "reason": "理由", "record": "编号", "result": "结果",
    "row": "第几位", "scope": "代码", "seed": "数字", "sort": "字段", "source": "来源",
    "text": "文字", "town": "街镇", "valid_from": "日期", "village": "村",
}
