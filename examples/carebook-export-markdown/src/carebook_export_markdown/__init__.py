"""carebook plugin: roster and summary as Markdown tables.

This module is what the ``carebook`` entry point names, so it is the plugin object pluggy
registers: the hook implementations must live here (or be imported here). The writing itself
sits in ``markdown.py`` so it can be tested without any plugin machinery.
"""
from __future__ import annotations

from carebook import RegisterExporter, hookimpl

from .markdown import MarkdownExporter, render

__all__ = ["MarkdownExporter", "render", "register_exporters"]
__version__ = "0.1.0"


@hookimpl
def register_exporters(register: RegisterExporter) -> None:
    """One exporter; carebook checks it and notes that this plugin provided it."""
    register(MarkdownExporter())
