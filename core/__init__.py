"""carebook's engine: form files in, validated and safely stored records out.

Plugin authors need only ``hookimpl`` from here; the UI and scripts use ``Engine``.
"""
from core.hookspecs import hookimpl

__all__ = ["hookimpl"]
