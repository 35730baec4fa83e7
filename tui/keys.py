"""How keys and Textual's own key descriptions read on screen: one table for the footer, F1 and
every hint, so a key is written the same way everywhere (Ctrl+S, F1, Esc, 回车 — as printed on
Chinese office keyboards and in Chinese manuals), never Textual's `^s`, `escape` or `insert`.

Textual's built-in widgets bring bindings described in English (the Select list's `Dismiss
menu`, the command palette's `Exit the command palette`); the footer and F1 show those through
`describe`, so the English never reaches the screen and Textual's files stay untouched.
"""
from __future__ import annotations

NAMES = {
    "escape": "Esc", "enter": "回车", "tab": "Tab", "space": "空格", "backspace": "退格",
    "insert": "Insert", "delete": "Delete", "home": "Home", "end": "End",
    "pageup": "PageUp", "pagedown": "PageDown", "up": "上键", "down": "下键", "left": "左键",
    "right": "右键", "plus": "+", "minus": "-",
}
MODIFIERS = {"ctrl": "Ctrl", "shift": "Shift", "alt": "Alt"}

# Textual's own binding descriptions, as a clerk reads them.
TEXTUAL_WORDS = {
    "Dismiss menu": "收起列表",
    "Exit the command palette": "关闭命令面板",
    "Show menu": "展开列表",
    "Select": "选择",
    "Toggle": "勾选",
    "Submit": "确定",
    "Quit": "退出",
    "Palette": "命令",
    "palette": "命令",
    "Show keys": "按键",
    "Hide keys": "隐藏按键",
    "Next command": "下一条",
    "Previous command": "上一条",
    "Next page": "下一页",
    "Previous page": "上一页",
    "Go to top": "到顶部",
    "Go to bottom": "到底部",
    "Cursor up": "上移",
    "Cursor down": "下移",
    "Paste": "粘贴",
    "Copy": "复制",
    "Cut": "剪切",
}


def key_name(key: str) -> str:
    """`ctrl+s` -> `Ctrl+S`, `escape` -> `Esc`, `f1` -> `F1`, `v` -> `V`, `ctrl+pagedown` ->
    `Ctrl+PageDown`; several keys for one action (`insert,a`) are joined with ` / `."""
    if "," in key:
        return " / ".join(key_name(k.strip()) for k in key.split(","))
    *mods, last = key.split("+") if key != "+" else ["+"]
    name = NAMES.get(last) or (last.upper() if len(last) == 1 or (last[0] == "f" and last[1:].isdigit())
                               else last.capitalize())
    return "+".join([MODIFIERS.get(m, m.capitalize()) for m in mods] + [name])


def describe(description: str) -> str:
    """A binding's description in Chinese: ours already are, Textual's are looked up."""
    return TEXTUAL_WORDS.get(description, description)
