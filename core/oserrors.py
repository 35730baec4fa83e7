"""Errors of the machine, not of the program, said in Chinese: a read-only or full disk, a
folder without permission, a path that is a file. Before this, each of them reached staff as
程序内部错误 with a file to send to the maintainers, though nothing was wrong with carebook and
the fix (another folder, free space, the right account) was theirs to make."""
from __future__ import annotations

import errno

_REASONS = {
    errno.EACCES: "没有权限（请换一个文件夹，或请管理员给当前用户读写权限）",
    errno.EPERM: "不允许这个操作（没有权限）",
    errno.EROFS: "磁盘或文件夹是只读的",
    errno.ENOSPC: "磁盘已满，请清理出空间后重试",
    errno.EDQUOT: "超出了磁盘配额，请清理出空间后重试",
    errno.ENOENT: "找不到这个文件或文件夹",
    errno.ENOTDIR: "路径中的某一段是文件而不是文件夹",
    errno.EISDIR: "这是一个文件夹，不是文件",
    errno.EEXIST: "已经有同名的文件",
    errno.ENAMETOOLONG: "路径太长",
    errno.EMFILE: "打开的文件太多",
    errno.EIO: "磁盘读写出错（可能是磁盘或 U 盘损坏）",
    errno.EBUSY: "文件正被其他程序使用",
}


def describe_os_error(exc: OSError) -> str:
    """`无法访问 <path>：<reason>` for any OSError, with its errno's reason in Chinese."""
    reason = _REASONS.get(exc.errno) or f"系统错误（{exc.strerror or type(exc).__name__}）"
    where = exc.filename if exc.filename is not None else ""
    if exc.filename2:
        where = f"{where} → {exc.filename2}"
    return f"无法访问 {where}：{reason}" if where else f"文件操作失败：{reason}"


def describe_error(exc: BaseException) -> str:
    """A failure in words staff may read: an OSError in Chinese (`describe_os_error`), the
    program's own errors by their (Chinese) message, anything else — a fault in the program —
    as such, its type named for whoever reports it."""
    from core.problems import CarebookError

    if isinstance(exc, OSError):
        return describe_os_error(exc)
    if isinstance(exc, CarebookError):
        return str(exc)
    return f"程序内部错误（{type(exc).__name__}: {exc}）"
