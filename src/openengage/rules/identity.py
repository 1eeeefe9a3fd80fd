"""Identity rules: which profile a record lands on, and how an anonymous profile merges into a known one.

From the users seed: when a user is identified (a `/users` call carrying both ids), their anonymous
profile merges into the known profile, events included. Choices where the seed is silent (see
docs/identity.md): on a conflict the known profile's values win and the anonymous one fills gaps; an
anonymous id that already belongs to another known user is not moved.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

_decode = msgspec.json.Decoder(dict[str, Any]).decode


class ProfileData:
    """The mutable content of one profile.

    Profiles loaded from the store keep their system and custom attributes as raw JSON until first
    used: most profiles a batch touches only get an event, which changes nothing but first/last seen.
    `loaded` keeps what was loaded (user id and the raw JSON), whatever the batch changes afterwards: the
    store diffs the profile's search terms against it (store/derived.py) without reading them back.
    """

    __slots__ = ("_attributes", "_raw", "_system", "first_seen", "last_seen", "loaded", "user_id")

    def __init__(
        self,
        user_id: str | None,
        system: dict[str, Any] | None = None,
        attributes: dict[str, Any] | None = None,
        first_seen: int | None = None,
        last_seen: int | None = None,
    ) -> None:
        self.user_id = user_id
        self._system = {} if system is None else system
        self._attributes = {} if attributes is None else attributes
        self._raw: tuple[bytes | str, bytes | str] | None = None
        self.loaded: tuple[str | None, bytes | str, bytes | str] | None = None  # as stored: see above
        self.first_seen = first_seen
        self.last_seen = last_seen

    @classmethod
    def stored(
        cls,
        user_id: str | None,
        system: bytes | str,
        attributes: bytes | str,
        first_seen: int | None,
        last_seen: int | None,
    ) -> ProfileData:
        data = cls(user_id, None, None, first_seen, last_seen)
        data._raw = (system, attributes)
        data.loaded = (user_id, system, attributes)
        return data

    def _decode(self) -> None:
        if self._raw is not None:
            self._system, self._attributes = _decode(self._raw[0]), _decode(self._raw[1])
            self._raw = None

    @property
    def system(self) -> dict[str, Any]:
        self._decode()
        return self._system

    @property
    def attributes(self) -> dict[str, Any]:
        self._decode()
        return self._attributes

    def seen(self, at_ms: int) -> None:
        self.first_seen = at_ms if self.first_seen is None else min(self.first_seen, at_ms)
        self.last_seen = at_ms if self.last_seen is None else max(self.last_seen, at_ms)

    def __repr__(self) -> str:
        return (
            f"ProfileData({self.user_id!r}, {self.system!r}, {self.attributes!r}, {self.first_seen}, {self.last_seen})"
        )


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
