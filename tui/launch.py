"""The `carebook` command: the engine's command line, plus the terminal UI for plain `carebook`.

It lives on the UI side so that `core` never imports Textual: `core.cli` runs every headless
command and is handed the UI as a function. The UI is imported only when it is opened, so
`carebook forms check` and the other scripts start without loading Textual.
"""
from __future__ import annotations

import sys
from pathlib import Path


def open_ui(data_dir: Path, **options) -> int:
    from .app import run

    return run(data_dir, **options)


def main(argv: list[str] | None = None) -> int:
    from core.cli import main as cli_main

    return cli_main(argv, open_ui=open_ui)


if __name__ == "__main__":
    sys.exit(main())
