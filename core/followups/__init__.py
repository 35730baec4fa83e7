"""Follow-ups: what a visit finds is tracked until it is handled (issue 16).

The Binhai plan does not stop at the visit: a village committee that finds an elder in trouble
must notify and urge the children, report to the town, and the town must respond quickly. Here
that becomes records of an ordinary form (`forms/followup.yaml`), so follow-ups get the same
storage, validation and history as every other record:

- `rules` reads the `followups:` section a form declares (`forms/visit.yaml`) and plans the
  items one saved visit calls for, risk-level proposals included;
- `tracking` creates them, lists them with their state on a given day (open, due soon, overdue,
  closed), and records progress, contacts with a child, the close-out and an accepted or
  refused risk proposal — each a normal save, so each is a line in the history.

The engine offers thin methods over these (`Engine.followups`, `Engine.followup_close`, ...);
the key-case report is a report file (`forms/keycases.yaml`) built like the summary.
"""
from core.followups.rules import Planned, plan_for, rules_of
from core.followups.tracking import (CLOSED, EMERGENCY, Item, IN_PROGRESS, OPEN, accept_risk, advance,
                                     close, contact, create_for, emergencies, items, refuse_risk, sync)

__all__ = ["Planned", "plan_for", "rules_of", "Item", "items", "emergencies", "create_for", "sync",
           "close", "advance", "contact", "accept_risk", "refuse_risk", "OPEN", "IN_PROGRESS", "CLOSED",
           "EMERGENCY"]
