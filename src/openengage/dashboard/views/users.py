"""Users: search (user id, anonymous id, email, phone, any attribute value) and the profile page.

Search matches (store/browse.py, rules/search.py): a user id or anonymous id exactly as typed, then every
profile with a searchable value (user id, text system attributes, text and whole-number custom
attributes, array elements) equal to the query or beginning with it, ignoring surrounding spaces and
the case of A-Z. Without a query the page lists known users by user id.

The profile page (`users/{userId}`, and `anonymous-users/{anonymousId}` for a profile without a user id)
shows the system and custom attributes with their types, anonymous ids, merges, devices, channel
reachability, the events timeline (newest first) and the data dropped for this person, with reasons.
Both need View Profiles (DESIGN: "user list, profiles").
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.responses import Response

from openengage.accounts import VIEW_PROFILES
from openengage.dashboard import links
from openengage.dashboard.pages import Context, page
from openengage.rules.attributes import value_type
from openengage.rules.channels import reachability
from openengage.rules.search import CUSTOM_PREFIX, MAX_ARRAY_ITEMS, MAX_TERM
from openengage.store.base import InvalidCursor, Profile, UserHit

PAGE_SIZE = 50
EVENTS_PAGE = 50
DROPPED_PAGE = 25
MERGES_SHOWN = 50
ANONYMOUS_SHOWN = 100
MAX_QUERY = 1000  # characters of a query looked at (ids are at most 100; terms keep 100)
DEVICE_FIELDS = ("platform", "push_id", "model", "brand", "os_version", "app_version", "moe_push_opted", "active")


@dataclasses.dataclass(frozen=True)
class Row:
    """A row of the users table."""

    hit: UserHit
    url: str | None
    label: str  # what the row's link says: the user id, else the anonymous id
    anonymous: bool
    matched: str  # "email: ann@example.com"; "" in a listing
    name: str


def _row(ctx: Context, hit: UserHit) -> Row:
    path = links.profile_path(hit.user_id, hit.anonymous_id)
    label = hit.user_id if hit.user_id is not None else hit.anonymous_id or f"profile {hit.profile_id}"
    s = hit.system
    name = " ".join(str(s[k]) for k in ("firstName", "lastName") if isinstance(s.get(k), str)) or str(s.get("name", ""))
    matched = f"{hit.field}: {_matched_value(hit)}" if hit.field else ""
    return Row(hit, None if path is None else ctx.url(path), label, hit.user_id is None, matched, name)


def _matched_value(hit: UserHit) -> str:
    """The value that matched as stored (the term is its normalized form); an array's element: the term."""
    if hit.field == "userId":
        return hit.user_id if hit.user_id is not None else hit.term
    if hit.field == "anonymousId":
        return hit.term
    if hit.field.startswith(CUSTOM_PREFIX):
        value = hit.attributes.get(hit.field.removeprefix(CUSTOM_PREFIX))
    else:
        value = hit.system.get(hit.field)
    return value if isinstance(value, str) else hit.term


def _bad_page(ctx: Context) -> Response:
    return ctx.render("error.html", 400, title="Bad request", message="That page link is not valid.")


@page("users", VIEW_PROFILES, nav="Users")
async def users(ctx: Context) -> Response:
    q = ctx.request.query_params.get("q", "")[:MAX_QUERY]
    cursor = ctx.request.query_params.get("cursor") or None
    try:
        if q.strip(" "):
            found = await ctx.store.search_users(ctx.account_id, q, PAGE_SIZE, cursor)
        else:
            found = await ctx.store.list_users(ctx.account_id, PAGE_SIZE, cursor)
    except InvalidCursor:
        return _bad_page(ctx)
    more = ctx.url("users", q=q, cursor=found.next) if found.next and q else None
    if found.next and not q:
        more = ctx.url("users", cursor=found.next)
    return ctx.render(
        "users.html",
        title="Users",
        q=q,
        rows=[_row(ctx, h) for h in found.items],
        more=more,
        first_page=cursor is None,
        max_term=MAX_TERM,
        max_items=MAX_ARRAY_ITEMS,
    )


# ---------------------------------------------------------------- the profile page


@dataclasses.dataclass(frozen=True)
class Attribute:
    name: str
    value: str
    type: str
    note: str = ""


def _attributes(profile: Profile, schema: dict[str, str]) -> tuple[list[Attribute], list[Attribute]]:
    system = [
        Attribute(k, links.display(v), value_type(v) or "null", "system")
        for k, v in sorted(profile.data.system.items())
    ]
    custom = []
    for k, v in sorted(profile.data.attributes.items()):
        locked = schema.get(k)
        actual = value_type(v) or "null"
        note = "" if locked in (None, actual) else f"value is {actual}"
        custom.append(Attribute(k, links.display(v), locked or actual, note))
    return system, custom


def _device(device: dict[str, Any]) -> dict[str, str]:
    shown = {k: links.display(device[k]) for k in DEVICE_FIELDS if k in device}
    rest = {k: v for k, v in device.items() if k not in DEVICE_FIELDS and k != "device_id"}
    if rest:
        shown["other"] = links.display(rest)
    return shown


async def _profile_page(ctx: Context, kind: str, value: str) -> Response:
    store, account_id = ctx.store, ctx.account_id
    profile = await store.profile(account_id, kind, value)
    if profile is None:
        label = "user" if kind == "u" else "anonymous user"
        return ctx.render("profile_missing.html", 404, title="No such user", label=label, value=value)
    params = ctx.request.query_params
    try:
        events = await store.events(account_id, profile.id, EVENTS_PAGE, params.get("events") or None)
        dropped = await store.profile_rejections(
            account_id, profile.data.user_id, profile.anonymous_ids, DROPPED_PAGE, params.get("dropped") or None
        )
    except InvalidCursor:
        return _bad_page(ctx)
    system, custom = _attributes(profile, await store.user_schema(account_id))
    merges = await store.profile_merges(account_id, profile.id, MERGES_SHOWN)
    here = links.profile_path(profile.data.user_id, None if profile.data.user_id else value)
    assert here is not None

    def more(name: str, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        return ctx.url(here, **{name: cursor}) if "?" not in here else ctx.url(here) + f"&{name}={cursor}"

    user_filter = profile.data.user_id if profile.data.user_id is not None else value
    title = profile.data.user_id if profile.data.user_id is not None else "Anonymous user"
    return ctx.render(
        "profile.html",
        title="User profile",
        heading=title,
        profile=profile,
        anonymous=profile.data.user_id is None,
        lookup=value,
        system=system,
        custom=custom,
        channels=reachability(profile.data.system, profile.devices),
        devices=[(links.display(d.get("device_id", "")), _device(d)) for d in profile.devices],
        anonymous_ids=profile.anonymous_ids[:ANONYMOUS_SHOWN],
        anonymous_more=max(0, len(profile.anonymous_ids) - ANONYMOUS_SHOWN),
        merges=merges,
        events=[(e, links.display(e.data), links.trace_path(e)) for e in events.items],
        events_more=more("events", events.next),
        first_events=params.get("events") is None,
        dropped=[(r, links.display(r.value)) for r in dropped.items],
        dropped_more=more("dropped", dropped.next),
        tail_url=ctx.url("events", user=user_filter),
        display=links.display,
    )


@page("users/{value:anytext}", VIEW_PROFILES)
async def user_profile(ctx: Context) -> Response:
    return await _profile_page(ctx, "u", links.raw_id(ctx.request, "users"))


@page("anonymous-users/{value:anytext}", VIEW_PROFILES)
async def anonymous_profile(ctx: Context) -> Response:
    return await _profile_page(ctx, "a", links.raw_id(ctx.request, "anonymous-users"))
