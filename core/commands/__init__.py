"""Subcommand families of the `carebook` command, one module each.

A module here defines ``register(target: core.cli.CommandGroups) -> None`` and adds its
subcommands with ``target.root.add_parser(...)`` (a new family) or
``target.groups["records"].add_parser(...)`` (into an existing one), passing
``parents=[target.common]`` so `--data`/`--forms` work. `core.cli.build_parser` finds the modules
by name; helpers such as ``core.cli._engine`` and ``_out`` are imported from `core.cli` inside
the handlers.
"""
