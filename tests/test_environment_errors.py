"""The machine's trouble said in Chinese, never 程序内部错误 (issue 14): damaged settings, form
snapshots and drafts, no permission, a full or read-only disk, huge or deep input files.

Real processes on real folders; the full and read-only disks are small tmpfs mounts (skipped
where the tests may not mount), the other account is `nobody` via setpriv (skipped without it).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from binhai_support import copy_forms, edit, open_engine, person

INTERNAL = "程序内部错误"


def run(*args, prefix=(), env=None):
    return subprocess.run([*prefix, sys.executable, "-m", "core.cli", *map(str, args)], capture_output=True,
                          text=True, encoding="utf-8", env={**os.environ, **(env or {})}, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)


@pytest.fixture
def ledger(tmp_path):
    eng = open_engine(tmp_path)
    rid = eng.save("registration", person(name="王秀英")).id
    eng.close()
    f = tmp_path / "p.json"
    f.write_text(json.dumps(person(name="李明"), ensure_ascii=False), encoding="utf-8")
    return tmp_path / "data", tmp_path / "forms", rid, f


def cli(ledger, *args, **kw):
    data, forms, _, _ = ledger
    return run(*args, "--data", data, "--forms", forms, **kw)


def calm(res) -> str:
    """The command's words: no traceback, no internal error."""
    text = res.stdout + res.stderr
    assert INTERNAL not in text and "Traceback" not in text, text
    return text


@pytest.mark.parametrize("content", ["[1, 2]", '{"operator": 5}', "{bad", '"text"', "[" * 100_000],
                         ids=["list", "int-operator", "not-json", "string", "deep"])
def test_damaged_settings_are_ignored_and_writes_ask_for_an_operator(ledger, content):
    data = ledger[0]
    (data / "settings.json").write_text(content, encoding="utf-8")
    assert cli(ledger, "records", "list", "registration").returncode == 0
    res = cli(ledger, "records", "add", "registration", ledger[3])
    assert res.returncode == 2 and "操作员" in calm(res)


def test_damaged_form_snapshot_is_named(ledger):
    data, forms, rid, _ = ledger
    edit(forms / "registration.yaml", "\nversion: 1\n", "\nversion: 2\n")
    for damage in (b"\xff\xfe\x00\x01", b"garbage: [", b"a\x07b"):
        (data / "forms" / "registration" / "v1.yaml").write_bytes(damage)
        res = cli(ledger, "records", "show", rid)
        assert res.returncode == 2 and "v1.yaml" in calm(res), damage


def test_damaged_draft_is_no_draft(tmp_path):
    eng = open_engine(tmp_path)
    eng.save_draft("registration", None, {"name": "王"})
    [draft] = (tmp_path / "data" / "drafts").iterdir()
    for damage in ("[1]", "{", '{"data": [1]}', "null", '"x"', "[" * 100_000):
        draft.write_text(damage, encoding="utf-8")
        assert eng.load_draft("registration", None) is None, damage
    eng.close()


@pytest.mark.parametrize("content", ['{"name": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                     '{"children_count": ' + "9" * 5000 + "}",
                                     '{"town": ["120116157000"], "name": "王"}',
                                     '{"children": [{"child_name": {"a": {"b": {"c": [[[[1]]]]}}}}]}'],
                         ids=["deep-json", "huge-int", "town-list", "nested-child"])
def test_records_of_wrong_shape_deep_or_huge_are_refused_with_a_message(ledger, tmp_path, content):
    f = tmp_path / "bad.json"
    f.write_text(content, encoding="utf-8")
    res = cli(ledger, "records", "add", "registration", f, "--operator", "刘敏")
    assert res.returncode in (1, 2) and calm(res).strip()


def test_engine_refuses_shapes_it_cannot_read(tmp_path):
    from core.problems import ValidationFailed

    eng = open_engine(tmp_path)
    deep: object = "x"
    for _ in range(5000):
        deep = [deep]
    for bad, path in (({"town": ["120116157000"]}, "town"), ({"extra": deep}, "extra"),
                      ({"children": "张伟"}, "children"), ({"children": [{"child_phone": ["1"]}]}, "children.0.child_phone"),
                      ({"annual_income": float("nan")}, "annual_income"), ({"name": "王" * 30_000}, "name")):
        with pytest.raises(ValidationFailed) as exc:
            eng.save("registration", person(**bad))
        assert any(p.path == path and p.rule == "shape" for p in exc.value.problems), (path, exc.value.problems)
        assert eng.validate("registration", person(**bad))              # the check screen says so too
    eng.close()


def _mount(where: Path, *options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=256k",) + options), "tmpfs", str(where)],
                         capture_output=True)
    return res.returncode == 0


@pytest.fixture
def tiny_disk(tmp_path):
    where = tmp_path / "tiny"
    if os.name != "posix" or not shutil.which("mount") or not _mount(where):
        pytest.skip("cannot mount a small tmpfs here")
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_full_disk_is_a_message(ledger, tiny_disk):
    (tiny_disk / "filler").write_bytes(b"\0" * 250_000)
    with pytest.raises(OSError):
        (tiny_disk / "more").write_bytes(b"\0" * 100_000)
    res = cli(ledger, "export", "records", "--format", "csv", "--output", tiny_disk / "out.csv")
    text = calm(res)
    assert res.returncode == 2 and "磁盘已满" in text, text
    data = tiny_disk / "ledger"
    res = run("records", "add", "registration", ledger[3], "--operator", "刘敏", "--data", data, "--forms", ledger[1])
    assert res.returncode == 2 and "磁盘" in calm(res)


def test_a_read_only_disk_is_a_message(ledger, tmp_path):
    where = tmp_path / "ro"
    if os.name != "posix" or not shutil.which("mount") or not _mount(where, "ro"):
        pytest.skip("cannot mount a read-only tmpfs here")
    try:
        res = run("records", "add", "registration", ledger[3], "--operator", "刘敏", "--data", where / "ledger",
                  "--forms", ledger[1])
        assert res.returncode == 2 and "只读" in calm(res)
        res = cli(ledger, "export", "records", "--format", "csv", "--output", where / "out.csv")
        assert res.returncode == 2 and "只读" in calm(res)
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_another_account_is_refused_with_a_message(ledger):
    """The ledger is 0700: another account (nobody) can neither read nor write it, and is told."""
    setpriv = shutil.which("setpriv")
    if os.name != "posix" or os.geteuid() != 0 or not setpriv:
        pytest.skip("needs root and setpriv to act as another account")
    as_nobody = (setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all")
    data, forms, rid, _ = ledger
    os.chmod(data.parent, 0o755)
    for p in (forms, *forms.rglob("*")):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    res = run("records", "show", rid, "--data", data, "--forms", forms, prefix=as_nobody,
              env={"CAREBOOK_CACHE": "off", "HOME": "/tmp"})
    assert res.returncode == 2 and "没有权限" in calm(res), res.stderr
