"""What pyproject.toml cannot say: the shipped ``forms/`` folder packed as package data.

The client fixed ``forms/`` at the top of the repository, where admins and the README find it.
A wheel has no top-level data folder, so the folder (and its sub-folders) is mapped onto the
package ``carebook.forms_default``; ``core.paths`` copies it to the user's own forms folder on
first run, so admins edit their copy and an upgrade never overwrites it. Everything else is in
pyproject.toml.
"""
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
FORMS_PACKAGE = "carebook.forms_default"
DATA = ["*.yaml", "*.yml", "*.json", "*.md"]


def forms_packages() -> dict[str, str]:
    """``{"carebook.forms_default.lists": "forms/lists", ...}`` for every folder under forms/."""
    root = ROOT / "forms"
    folders = [root, *sorted(p for p in root.rglob("*") if p.is_dir() and p.name != "__pycache__")]
    return {".".join((FORMS_PACKAGE, *d.relative_to(root).parts)): d.relative_to(ROOT).as_posix()
            for d in folders}


FORMS = forms_packages()

setup(
    packages=find_packages(include=["carebook", "carebook.*", "core", "core.*", "plugins", "plugins.*",
                                    "tui", "tui.*"]) + list(FORMS),
    package_dir=FORMS,
    package_data={**{name: DATA for name in FORMS}, "core.schemas": ["*.json"], "carebook": ["py.typed"],
                  "tui": ["*.tcss"]},
)
