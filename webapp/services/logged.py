"""Records kept in a log of their own and folded from it: one way to handle a run of them.

A transfer slip's and an inspection's events are each written to their log (`transfer_log`,
`inspection_log`: the event's order keys and the proven person), then every slip or inspection
the run touched is folded from its whole log and written, so a late event re-judges the ones after
it. The fold's flags go to the events of this run (the sync engine writes them); `refold` brings
those of earlier events in line itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, insert

from sync.registry import HandlerContext, RuleBroken


def handle_run(session, ctxs: list[HandlerContext], table: Table, key: str,
               log: Callable[[Any, HandlerContext], tuple[list[RuleBroken], dict[str, Any]]],
               refold: Callable[[Any, list[str], set[str], HandlerContext], dict[str, Any]]
               ) -> list[list[RuleBroken]]:
    """Log each event of a run (`log` returns its own flags and its log row), fold every record the run
    names by `key` (`refold` returns the folds, each with `flags`: event id -> [(code, detail)]), and
    return each event's flags."""
    own: dict[str, list[RuleBroken]] = {}
    rows = []
    for ctx in ctxs:
        own[ctx.envelope.id], row = log(session, ctx)
        rows.append(row)
    session.execute(insert(table), rows)
    folds = refold(session, list(dict.fromkeys(ctx.payload[key] for ctx in ctxs)), set(own), ctxs[-1])
    flags = {event_id: found for fold in folds.values() for event_id, found in fold.flags.items()}
    return [own[c.envelope.id] + [RuleBroken(code, detail) for code, detail in flags.get(c.envelope.id, [])]
            for c in ctxs]
