"""The public API of carebook for plugin authors.

Third-party packages depend on ``carebook`` by name and import only from here (and from
``carebook.testing``): ``@carebook.hookimpl`` marks a hook implementation, and the types a hook
receives or returns are re-exported below. Everything under ``core``, ``plugins`` and ``tui`` is
internal and free to change between versions; these names are not.
"""
from __future__ import annotations

from core.hookspecs import PROJECT, hookimpl
from core.problems import Problem
from core.reporting.reportmodel import Column, Report
from core.transfer.exporting import ExportJob, mask_value

__all__ = ["PROJECT", "Column", "ExportJob", "Problem", "Report", "hookimpl", "mask_value"]
