"""carebook's staff terminal UI (Textual).

Everything here talks to one object, `core.engine.Engine`; no storage or schema library is
imported, so a screen can never bypass validation, history or the storage lock.
"""
