"""carebook's engine: form files in, validated and safely stored records out.

Internal: plugins import the public package ``carebook`` (``from carebook import hookimpl``);
``core.hookimpl`` stays for plugins written before it existed. The UI and scripts use
``core.engine.Engine``.
"""
from core.hookspecs import hookimpl

__all__ = ["hookimpl"]
