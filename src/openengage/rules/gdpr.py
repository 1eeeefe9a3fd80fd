"""GDPR requests (WebEngage `opengdpr_requests`), as pure rules: types, statuses, the pending period.

- erasure waits for the pending period (`gdpr_pending_days`, default 7), may be cancelled until then,
  and runs once it is due: PENDING until `due_at`, PROCESSING from then until it has run, DONE after;
- restriction, re-enable and portability take effect when they are registered: DONE at once.
The subject of an erased request is kept only as a salted hash (`subject_hash`), so the audit log and
the request can say whom an erasure concerned to someone who already knows the user id, and to nobody
else.
"""

from __future__ import annotations

import hashlib
import secrets

ERASURE = "erasure"
RESTRICTION = "restriction"
RE_ENABLE = "re-enable"
PORTABILITY = "portability"
TYPES: tuple[str, ...] = (ERASURE, RESTRICTION, RE_ENABLE, PORTABILITY)

# Stored statuses. The client sees PENDING, PROCESSING, DONE or CANCELLED (public_status).
PENDING = "pending"
DONE = "done"
CANCELLED = "cancelled"

IDENTITY_TYPE = "cuid"  # a known user's id: the only identity type the API takes
DAY_MS = 86_400_000
DEFAULT_PENDING_DAYS = 7

# An erasure runs no earlier than this after it fell due, and only once everything the account sent
# before it fell due has been applied: an append stamped just before the due time commits within
# this margin, so nothing accepted before the due time can re-create the user after the erasure.
GRACE_MS = 10_000

# Audit log actions (never the user id: the target is the request id).
AUDIT_REGISTER = "gdpr.register"
AUDIT_CANCEL = "gdpr.cancel"
AUDIT_ERASE = "gdpr.erase"


def due_at(kind: str, now: int, pending_days: int) -> int | None:
    """When an erasure registered at `now` runs; None for the types that take effect at once."""
    return now + pending_days * DAY_MS if kind == ERASURE else None


def public_status(status: str, due: int | None, now: int) -> str:
    """The vendor's status: PENDING while an erasure can still be cancelled, PROCESSING once it is due
    and has not run yet, DONE, CANCELLED."""
    if status == PENDING:
        return "PENDING" if due is not None and now < due else "PROCESSING"
    return "CANCELLED" if status == CANCELLED else "DONE"


def cancellable(status: str, due: int | None, now: int) -> bool:
    return public_status(status, due, now) == "PENDING"


def ripe(due: int, now: int) -> bool:
    """Whether an erasure due at `due` may run at `now` (see GRACE_MS)."""
    return now >= due + GRACE_MS


def new_salt() -> str:
    return secrets.token_hex(16)


def subject_hash(salt: str, user_id: str) -> str:
    """sha256(salt, NUL, user id) in hex: whom an erased request concerned, for someone who knows the id."""
    return hashlib.sha256(f"{salt}\x00{user_id}".encode()).hexdigest()


def registered_message(kind: str) -> str:
    return f"{kind} request registered"


# Why a user may not be messaged (Store.gdpr_block): the transaction API answers 412 with it, and the
# sender withholds a queued message with it (docs/messaging.md "GDPR").
BLOCK_RESTRICTED = "restricted"
BLOCK_ERASURE = "erasure"
BLOCK_REASONS = {
    BLOCK_RESTRICTED: "processing restricted (GDPR restriction request)",
    BLOCK_ERASURE: "a GDPR erasure of the user is due",
}


def block_reason(block: str) -> str:
    return BLOCK_REASONS.get(block, block)
