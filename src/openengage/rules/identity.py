"""Identity rules: which profile a record lands on, and how an anonymous profile merges into a known one.

From the users seed: when a user is identified (a `/users` call carrying both ids), their anonymous
profile merges into the known profile, events included. Choices where the seed is silent (see
docs/identity.md): on a conflict the known profile's values win and the anonymous one fills gaps; an
anonymous id that already belongs to another known user is not moved.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any


@dataclasses.dataclass
class ProfileData:
    """The mutable content of one profile."""

    user_id: str | None
    system: dict[str, Any] = dataclasses.field(default_factory=dict)
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)
    first_seen: int | None = None
    last_seen: int | None = None

    def seen(self, at_ms: int) -> None:
        self.first_seen = at_ms if self.first_seen is None else min(self.first_seen, at_ms)
        self.last_seen = at_ms if self.last_seen is None else max(self.last_seen, at_ms)


def merge_into(known: ProfileData, other: ProfileData) -> None:
    """Fold `other` into `known`: known values win, the other profile fills the gaps."""
    for key, value in other.system.items():
        known.system.setdefault(key, value)
    for key, value in other.attributes.items():
        known.attributes.setdefault(key, value)
    for moment in (other.first_seen, other.last_seen):
        if moment is not None:
            known.seen(moment)


class Identify(enum.Enum):
    """What a `/users` record with both ids does to the anonymous profile."""

    LINK = "link"  # no anonymous profile yet: just remember the anonymous id on the known profile
    PROMOTE = "promote"  # no known profile yet: the anonymous profile becomes the known one
    MERGE = "merge"  # both exist: the anonymous profile merges into the known one
    ALREADY = "already"  # the anonymous id already points at this known profile
    CONFLICT = "conflict"  # the anonymous id belongs to another known user: left alone


def identify_action(known_profile: int | None, anon_profile: int | None, anon_profile_user: str | None) -> Identify:
    if anon_profile is None:
        return Identify.LINK
    if anon_profile == known_profile:
        return Identify.ALREADY
    if anon_profile_user is not None:
        return Identify.CONFLICT
    if known_profile is None:
        return Identify.PROMOTE
    return Identify.MERGE
