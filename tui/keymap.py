"""The keymap: which key does what, one table for every screen.

A clerk learns a key once: F6 must not sort the roster on one screen and start an import check
on another. So every binding in `tui/` is made here (`bind`), from one entry of `KEYMAP` — the
key, what it means, and the words the footer may show for it. An entry may be worded for its
screen (Ctrl+S 保存 on a form, 确定 in a dialog, 开始导出 on the export screen) but it keeps one
meaning: "do what this screen is for". A key belongs to one entry only, and
`tests/test_tui_keymap.py` reads the real `BINDINGS` of every screen and widget class and fails
on a key bound outside this table or to two meanings. The staff table in `docs/staff-ui.md` is
`staff_table()`, and a test keeps the two the same.

Letters work where nothing is being typed (lists, a person's file, home); keys that must work
inside a form or a text box are F-keys or Ctrl+letters that Textual's text boxes leave alone
(not Ctrl+A/E/K/U/W/D, which edit text, nor Ctrl+B, tmux's prefix).
"""
from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

from .keys import key_name


@dataclass(frozen=True)
class Key:
    id: str
    keys: str             # Textual key names, several joined with "," (one meaning, two keys)
    label: str            # what the footer shows
    meaning: str          # what it does, for F1-style tables and the staff manual
    group: str            # where it applies, as the manual groups it
    also: tuple[str, ...] = ()     # the same meaning worded for its screen

    @property
    def labels(self) -> tuple[str, ...]:
        return (self.label, *self.also)

    @property
    def key_list(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.keys.split(","))

    @property
    def shown(self) -> str:
        """How the key is written on screen and in help texts: `F6`, `Ctrl+S`, `+` (the first
        of its keys: the short one, where 80 columns are counted)."""
        return key_name(self.key_list[0])

    @property
    def all_shown(self) -> str:
        """Every key of the entry, as the manual lists them: `+ / Insert`."""
        return key_name(self.keys)


EVERYWHERE, MOVE, LISTS, FORMS, PERSON, FOLLOWUPS, ADMIN = (
    "每个界面", "去往（首页和列表中）", "列表", "填表", "人员档案", "跟进事项", "管理和导入")

KEYMAP: tuple[Key, ...] = (
    # Every screen.
    Key("help", "f1", "帮助", "本界面的按键和说明；在帮助中再按一次关闭", EVERYWHERE, ("关闭帮助",)),
    Key("back", "escape", "返回", "返回上一界面；对话框中为取消、关闭", EVERYWHERE, ("取消", "关闭")),
    Key("save", "ctrl+s", "保存", "完成本界面的事：保存、确定、开始导出或导入", EVERYWHERE,
        ("确定", "开始导出", "开始导入")),
    Key("palette", "ctrl+p", "命令", "命令面板：输入中文或拼音首字母查找功能和人员", EVERYWHERE),
    Key("quit", "ctrl+q", "退出", "退出程序（正在填的表留作草稿）", EVERYWHERE),
    Key("refresh", "f5", "刷新", "重新读取、重新统计", EVERYWHERE, ("重新统计", "重新加载表单")),
    Key("open", "enter", "打开", "打开、选定列表中的一行", EVERYWHERE, ("修改该行", "到该项")),
    # Going places: letters, on screens where nothing is being typed.
    Key("roster", "r", "花名册", "花名册：查找人员", MOVE),
    Key("register", "n", "新建登记", "登记一位留守老年人", MOVE),
    Key("visit", "v", "登记探访", "为选中的人登记一次例行探访", MOVE),
    Key("rounds", "w", "巡访本村", "逐一登记该村应探访的人", MOVE),
    Key("summary", "s", "汇总表", "本季度排查汇总表", MOVE),
    Key("export", "e", "导出", "导出花名册、汇总表或记录", MOVE),
    Key("followups", "f", "跟进事项", "跟进事项清单", MOVE),
    Key("referrals", "t", "街镇转介", "街镇转介清单", MOVE),
    Key("admin", "a", "管理", "管理：表单检查、插件、导入", MOVE),
    Key("operator", "o", "操作员", "更换操作员", MOVE),
    Key("import", "i", "导入台账", "从 Excel 或 CSV 导入原有台账", MOVE, ("从 Excel 导入",)),
    Key("new_ledger", "k", "新建空台账", "首次使用：新建空台账", MOVE),
    Key("demo", "d", "打开演示数据", "首次使用：打开演示数据（虚构人员）", MOVE),
    # Lists.
    Key("find", "ctrl+f", "查找", "到查找框", LISTS),
    Key("page_next", "pagedown,ctrl+pagedown", "下一页", "列表下一页", LISTS),
    Key("page_prev", "pageup,ctrl+pageup", "上一页", "列表上一页", LISTS),
    Key("sort_column", "f6", "排序列", "换一列排序", LISTS),
    Key("sort_order", "f7", "升/降序", "升序、降序切换", LISTS),
    # Forms.
    Key("edit", "f2", "修改", "打开完整的表来修改或填写", FORMS, ("完整探访表",)),
    Key("section_prev", "f3", "上一节", "表的上一节", FORMS),
    Key("section_next", "f4", "下一节", "表的下一节", FORMS),
    Key("problems", "f8", "问题列表", "到保存未通过时列出的问题", FORMS),
    Key("skip", "f9", "跳过此人", "巡访中跳过此人，登记下一位", FORMS),
    Key("override", "ctrl+r", "改判", "填写理由后改判自动评定的结果", FORMS),
    Key("open_file", "ctrl+g", "打开档案", "打开相关老人的档案（如身份证号重复的那份）", FORMS,
        ("打开重复档案", "老人档案")),
    Key("row_add", "plus,insert", "添加一行", "子女等表格中添加一行", FORMS),
    Key("row_remove", "minus,delete", "删除该行", "子女等表格中删除该行", FORMS),
    # A person's file.
    Key("tab_info", "1", "基本信息", "档案第 1 页：基本信息", PERSON),
    Key("tab_supporters", "2", "赡养人", "档案第 2 页：子女及赡养人", PERSON),
    Key("tab_visits", "3", "探访", "档案第 3 页：探访记录", PERSON),
    Key("tab_history", "4", "历史", "档案第 4 页：修改历史", PERSON),
    Key("tab_followups", "5", "跟进", "档案第 5 页：跟进事项", PERSON),
    Key("leave_ledger", "x", "退出台账", "退出台账（填写原因和日期，不删除）", PERSON),
    Key("restore", "u", "恢复在册", "已退出的人员恢复在册", PERSON),
    # Follow-ups.
    Key("level", "l", "切换层级", "负责层级：村委会、街镇、全部", FOLLOWUPS),
    Key("overdue", "g", "仅逾期", "只看逾期的事项", FOLLOWUPS),
    Key("with_closed", "h", "含已办结", "连同已办结的事项", FOLLOWUPS),
    Key("step", "p", "办理经过", "记一次办理经过", FOLLOWUPS),
    Key("contact", "c", "联系子女", "记一次联系子女", FOLLOWUPS),
    Key("close", "j", "办结", "办结（写明办理结果）", FOLLOWUPS),
    Key("accept", "y", "采纳风险", "采纳建议的风险等级", FOLLOWUPS),
    Key("refuse", "b", "不采纳", "不采纳建议的风险等级（写理由）", FOLLOWUPS),
    # Admin and import.
    Key("mapping", "ctrl+l", "列对应", "导入：查看并保存列对应", ADMIN),
    Key("check", "ctrl+t", "检查", "只检查、不保存：导入前检查文件，或用当前表单核对已存记录", ADMIN,
        ("核对记录",)),
)

BY_ID = {k.id: k for k in KEYMAP}


def bind(name: str, action: str, label: str | None = None, *, keys: str | None = None,
         show: bool = True, priority: bool = False, tooltip: str = "") -> Binding:
    """A binding for the keymap entry `name`, doing `action` on this screen. `label` picks one
    of the entry's wordings; `keys` one of its keys (the roster pages with Ctrl+PageDown from
    the search box). Anything outside the entry is a programming error, raised at import."""
    entry = BY_ID[name]
    label = entry.label if label is None else label
    keys = entry.keys if keys is None else keys
    if label not in entry.labels:
        raise ValueError(f"按键 {entry.shown}（{name}）没有“{label}”这个说法：在 tui/keymap.py 中补上")
    if not set(k.strip() for k in keys.split(",")) <= set(entry.key_list):
        raise ValueError(f"{keys} 不是 {name} 的按键：在 tui/keymap.py 中改")
    return Binding(keys, action, label, show=show, priority=priority, tooltip=tooltip, id=name,
                   key_display=key_name(keys.split(",")[0].strip()))


def key_of(name: str) -> str:
    """The key of entry `name` as help texts and buttons write it (`F6`, `Ctrl+L`)."""
    return BY_ID[name].shown


def staff_table() -> str:
    """The keymap as the staff manual prints it (docs/staff-ui.md, kept equal by a test)."""
    lines = ["| 按键 | 屏幕上写作 | 作用 |", "|---|---|---|"]
    group = None
    for k in KEYMAP:
        if k.group != group:
            group = k.group
            lines.append(f"| **{group}** | | |")
        lines.append(f"| {k.all_shown} | {'、'.join(k.labels)} | {k.meaning} |")
    return "\n".join(lines)
