"""Plugin discovery from all three sources, and how it copes with bad plugins.

Every case runs ``load_plugins()`` in a fresh interpreter (``python -c``) so environment
switches, ``sys.path`` and entry-point metadata are exactly what a user's process would see,
and no test's plugins leak into another's. The plugins are real files: modules in a temporary
folder, and for the entry-point source a real ``*.dist-info`` that ``importlib.metadata``
reads from ``sys.path``.
"""
from __future__ import annotations

import importlib.metadata as md
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from core.plugins import BUILTIN_PLUGINS

ROOT = Path(__file__).resolve().parents[1]
TAIPING_DIR = ROOT / "examples" / "town-taiping"
TAIPING = "120116156000"

# Loads plugins the way the engine does and reports what happened as JSON on stdout.
PROBE = textwrap.dedent(
    """
    import json, sys
    from dataclasses import asdict
    from pathlib import Path
    from core.plugins import build_registry, load_plugins
    form_id, town, data_plugins = sys.argv[1], sys.argv[2], sys.argv[3]
    ps = load_plugins(local_dir=Path(data_plugins) if data_plugins else None)   # as Engine passes it
    reg = build_registry(ps)
    seen = len(ps.problems)     # build_registry already copied these into reg.problems
    extended = ps.call_each("extend_form", form_id=form_id, town=town)
    print(json.dumps({
        "infos": {n: asdict(i) for n, i in ps.infos.items()},
        "problems": reg.problems + ps.problems[seen:],
        "exporters": {n: reg.provided_by["exporter:" + n] for n in reg.exporters},
        "field_types": sorted(reg.field_types),
        "provided_by": reg.provided_by,
        "notes": reg.notes,
        "extend_form": extended,
    }, ensure_ascii=False))
    """
)


def plugin_source(exporter: str, hook: str = "register_exporters", body: str = "register(E())") -> str:
    """A small but complete plugin module that registers one exporter."""
    return textwrap.dedent(
        f"""
        from core import hookimpl

        class E:
            name = {exporter!r}
            label = "测试导出"
            extension = ".txt"
            supports = {{"roster"}}

            def export(self, job):
                return []

        @hookimpl
        def {hook}(register):
            {body}
        """
    )


def probe(env: dict[str, str] | None = None, pythonpath: Path | None = None,
          form_id: str = "registration", town: str = TAIPING,
          data_plugins: Path | None = None) -> tuple[dict, str]:
    """Run PROBE in a clean interpreter; return its JSON report and its stderr."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAREBOOK_")}
    clean.update(env or {})
    if pythonpath:
        clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), clean.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-c", PROBE, form_id, town, str(data_plugins or "")], env=clean, cwd=ROOT,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def problems_about(report: dict, name: str) -> list[str]:
    return [p for p in report["problems"] if name in p]


@pytest.fixture
def local_dir(tmp_path: Path) -> Path:
    """A local plugins folder holding one good plugin."""
    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "good.py").write_text(plugin_source("good_fmt"), encoding="utf-8")
    return folder


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    """A sys.path entry with an 'installed' distribution declaring a ``carebook`` entry point."""
    site = tmp_path / "site"
    site.mkdir()
    install(site, "demo_ep", "cb_demo_ep", plugin_source("demo_fmt"))
    return site


def install(site: Path, ep_name: str, module: str, source: str, version: str = "1.2") -> None:
    """Write a module plus the dist-info an installer would have written for it."""
    (site / f"{module}.py").write_text(source, encoding="utf-8")
    dist = site / f"{module}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: {version}\n",
                                   encoding="utf-8")
    (dist / "entry_points.txt").write_text(f"[carebook]\n{ep_name} = {module}\n", encoding="utf-8")


# --- the three sources -------------------------------------------------------------------


def test_builtins_that_exist_are_loaded():
    present = [m for m in BUILTIN_PLUGINS if importlib.util.find_spec(m) is not None]
    if not present:
        pytest.skip("还没有内置插件模块")
    report, _ = probe()
    for mod in present:
        assert report["infos"][mod]["source"] == "内置", mod
        assert not problems_about(report, mod)
    if "plugins.basic_types" in present:
        assert {"text", "integer", "date", "choice"} <= set(report["field_types"])


def test_entry_point_plugin_is_loaded(site_dir):
    report, _ = probe(pythonpath=site_dir)
    info = report["infos"]["demo_ep"]
    assert info["source"] == "已安装包"
    assert info["version"] == "1.2"
    assert info["hooks"] == ["register_exporters"]
    assert info["location"] == "cb_demo_ep"
    assert report["exporters"]["demo_fmt"] == "demo_ep"


def test_installed_example_package_is_found():
    try:
        md.distribution("carebook-export-markdown")
    except md.PackageNotFoundError:
        pytest.skip("pip install -e examples/carebook-export-markdown 后再测")
    report, _ = probe()
    assert report["infos"]["export_markdown"]["source"] == "已安装包"
    assert report["exporters"]["markdown"] == "export_markdown"


def test_local_folder_plugin_is_loaded(local_dir):
    report, _ = probe({"CAREBOOK_PLUGINS_DIR": str(local_dir)})
    info = report["infos"]["good"]
    assert info["source"] == "本地目录"
    assert info["location"] == str(local_dir / "good.py")
    assert report["exporters"]["good_fmt"] == "good"


def test_configured_folder_is_read_instead_of_the_env_folder(local_dir):
    """One local folder: the one the engine is given, else CAREBOOK_PLUGINS_DIR."""
    report, _ = probe({"CAREBOOK_PLUGINS_DIR": str(TAIPING_DIR)}, data_plugins=local_dir)
    assert report["infos"]["good"]["source"] == "本地目录"
    assert "taiping_mutual_aid" not in report["infos"]


def test_plugins_in_the_data_folder_never_run(tmp_path):
    """Security (issue 14): a file dropped into <data>/plugins must not run on every command."""
    from core.engine import Engine

    marker = tmp_path / "ran.txt"
    (tmp_path / "data" / "plugins").mkdir(parents=True)
    (tmp_path / "data" / "plugins" / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n", encoding="utf-8")
    with Engine(tmp_path / "data", ROOT / "forms") as eng:
        assert "evil" not in {i.name for i in eng.plugins()}
        [msg] = [m for m in eng.problems if "不会被加载" in m]
        assert "CAREBOOK_PLUGINS_DIR" in msg
    assert not marker.exists()


# --- the 太平镇 example town plugin -------------------------------------------------------


def taiping_additions(form_id: str, town: str) -> list:
    report, _ = probe({"CAREBOOK_PLUGINS_DIR": str(TAIPING_DIR)}, form_id=form_id, town=town)
    assert report["infos"]["taiping_mutual_aid"]["hooks"] == ["extend_form"]
    return [res for name, res in report["extend_form"] if name == "taiping_mutual_aid"]


def test_taiping_adds_its_field_to_its_own_registration_records():
    [additions] = taiping_additions("registration", TAIPING)
    [(section, body)] = additions["sections"].items()
    [field] = body["fields"]
    assert field["label"] == "是否参加互助养老"
    assert field["type"] == "choice"
    assert field["choices"] == ["是", "否"]


@pytest.mark.parametrize("form_id, town", [("registration", "120116157000"), ("visit", TAIPING)])
def test_taiping_leaves_other_towns_and_forms_alone(form_id, town):
    assert taiping_additions(form_id, town) == [None]


def test_taiping_section_exists_in_the_registration_form():
    form_file = ROOT / "forms" / "registration.yaml"
    if not form_file.exists():
        pytest.skip("forms/registration.yaml 还没有")
    spec = importlib.util.spec_from_file_location("taiping_example", TAIPING_DIR / "taiping_mutual_aid.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    form = yaml.safe_load(form_file.read_text(encoding="utf-8"))
    sections = {s["id"]: s for s in form["sections"]}
    assert mod.SECTION in sections, f"登记表没有 {mod.SECTION} 分节：{sorted(sections)}"
    ids = {f["id"] for s in sections.values() for f in s.get("fields", [])}
    assert "taiping_mutual_aid" not in ids


# --- bad plugins are reported by name, the rest still load -------------------------------


def test_plugin_that_fails_to_import_is_skipped(local_dir, site_dir):
    (local_dir / "broken.py").write_text("raise RuntimeError('导入时出错')\n", encoding="utf-8")
    install(site_dir, "broken_ep", "cb_broken_ep", "import no_such_module_for_carebook\n")
    report, _ = probe({"CAREBOOK_PLUGINS_DIR": str(local_dir)}, pythonpath=site_dir)
    [local] = problems_about(report, "broken.py")
    assert "RuntimeError" in local and "已跳过" in local
    [ep] = problems_about(report, "broken_ep")
    assert "ModuleNotFoundError" in ep
    assert "broken" not in report["infos"] and "broken_ep" not in report["infos"]
    assert report["exporters"]["good_fmt"] == "good"
    assert report["exporters"]["demo_fmt"] == "demo_ep"


def test_blocked_plugins_are_not_loaded(local_dir, site_dir):
    (local_dir / "other.py").write_text(plugin_source("other_fmt"), encoding="utf-8")
    report, _ = probe({"CAREBOOK_PLUGINS_DIR": str(local_dir),
                       "CAREBOOK_PLUGINS_BLOCK": "good, demo_ep"}, pythonpath=site_dir)
    assert "good_fmt" not in report["exporters"]
    assert "demo_fmt" not in report["exporters"]
    assert "已屏蔽" in report["infos"]["good"]["source"]
    assert "未启用" in report["infos"]["demo_ep"]["source"]
    assert report["exporters"]["other_fmt"] == "other"


def test_blocked_local_file_is_never_executed(local_dir):
    """Blocking is how staff silence a broken plugin until it is fixed."""
    (local_dir / "broken.py").write_text("raise RuntimeError('导入时出错')\n", encoding="utf-8")
    report, _ = probe({"CAREBOOK_PLUGINS_DIR": str(local_dir), "CAREBOOK_PLUGINS_BLOCK": "broken"})
    assert not problems_about(report, "broken")
    assert "已屏蔽" in report["infos"]["broken"]["source"]
    assert report["exporters"]["good_fmt"] == "good"


def test_misspelled_hook_is_reported(local_dir):
    (local_dir / "typo.py").write_text(plugin_source("typo_fmt", hook="register_exporter"),
                                       encoding="utf-8")
    report, _ = probe({"CAREBOOK_PLUGINS_DIR": str(local_dir)})
    [problem] = problems_about(report, "register_exporter")
    assert "拼写错误" in problem and "typo" in problem
    assert "typo_fmt" not in report["exporters"]
    assert report["exporters"]["good_fmt"] == "good"


def test_plugin_raising_inside_a_hook_is_reported(local_dir):
    source = plugin_source("raiser_fmt", body="raise ValueError('钩子里出错')") + textwrap.dedent(
        """
        @hookimpl
        def extend_form(form_id, town):
            raise KeyError(town)
        """
    )
    (local_dir / "raiser.py").write_text(source, encoding="utf-8")
    report, _ = probe({"CAREBOOK_PLUGINS_DIR": str(local_dir)})
    [in_register] = problems_about(report, "register_exporters")
    assert "raiser" in in_register and "ValueError" in in_register
    [in_extend] = problems_about(report, "extend_form")
    assert "raiser" in in_extend and "KeyError" in in_extend
    assert report["exporters"]["good_fmt"] == "good"


# --- environment switches ----------------------------------------------------------------


def test_allow_list_loads_only_the_named_plugins(local_dir, site_dir):
    (local_dir / "other.py").write_text(plugin_source("other_fmt"), encoding="utf-8")
    report, _ = probe({"CAREBOOK_PLUGINS_DIR": str(local_dir), "CAREBOOK_PLUGINS_ALLOW": "good"},
                      pythonpath=site_dir)
    assert report["exporters"]["good_fmt"] == "good"
    assert "other" not in report["infos"] and "other_fmt" not in report["exporters"]
    assert "未启用" in report["infos"]["demo_ep"]["source"]
    assert "demo_fmt" not in report["exporters"]
    builtins = [m for m in BUILTIN_PLUGINS if importlib.util.find_spec(m) is not None]
    assert all(report["infos"][m]["source"] == "内置" for m in builtins)   # always loaded


def test_trace_writes_hook_calls_to_stderr(local_dir):
    _, quiet = probe({"CAREBOOK_PLUGINS_DIR": str(local_dir)})
    assert "[hook]" not in quiet
    _, traced = probe({"CAREBOOK_PLUGINS_DIR": str(local_dir), "CAREBOOK_PLUGINS_TRACE": "1"})
    assert "register_exporters → good [hook]" in traced
