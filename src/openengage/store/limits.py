"""Per-minute limits of the calls that are not ingest-log appends (GDPR requests, business events).

Ingest appends decide their limits inside the append transaction (common.Admission, ingest log file).
These calls write to the store file instead, so their one-minute windows live there too (`limit_windows`)
and are charged inside the call's own transaction: the window row is locked (PostgreSQL: FOR UPDATE;
SQLite's write transactions are serial), so a limit of N per minute admits exactly N across every node,
and a call refused for any reason rolls its charge back with everything else.
"""

from __future__ import annotations

from openengage.rules.windows import reset_seconds, window_of
from openengage.store.base import Charge, Limited, Outcome, Tx


async def charge(tx: Tx, account_id: int, cost: Charge, now: int) -> Outcome:
    """Charge `cost` in the transaction `tx`; Limited (the caller's transaction then rolls back) when the
    current window has no room for it."""
    reset = reset_seconds(now)
    if cost.limit <= 0 or cost.cost <= 0:
        return Outcome("accepted", 0, 0, reset, cost.bucket)
    window = window_of(now)
    await tx.run("limit_window_init", account_id, cost.bucket)
    row = await tx.one("limit_window_lock", account_id, cost.bucket)
    used = int(row[1]) if row is not None and int(row[0]) == window else 0
    if used + cost.cost > cost.limit:
        raise Limited(Outcome("limited", cost.limit, max(0, cost.limit - used), reset, cost.bucket))
    await tx.run("limit_window_put", window, used + cost.cost, account_id, cost.bucket)
    return Outcome("accepted", cost.limit, cost.limit - used - cost.cost, reset, cost.bucket)
