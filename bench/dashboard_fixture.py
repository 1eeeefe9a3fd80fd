"""A big store for the dashboard benchmarks: 100,000 users and 1,000,000 events (with `--scale 1`).

Everything goes through the store's own ingest log and the real processor (Store.append, then
`drain`), so every table the pages read (profiles, identities, events, merges, rejections, the
attribute schema, search terms, data and rejection counters) is exactly what production writes.
Generation is seeded: the same scale gives the same data.

The mix:
- 100,000 known users with system attributes (first and last name, email, phone, city, country,
  gender) and custom ones (Plan, LTV, Orders, Verified, SignupDate, Tags, Company, LoyaltyId);
- 20% of them were anonymous first (an anonymous profile with a referrer and events) and are identified
  later (anonymous -> known merges); 5,000 more visitors stay anonymous;
- 1,000,000 events over 25 event names with 1 to 5 attributes each, spread over the users (a few hot
  ones), event times over the last 90 days;
- about 1% of events and 2% of user updates carry data the processor drops (a type conflict, a `we_`
  attribute, a name of 50+ characters), so data quality and profiles have rejections.

On PostgreSQL the build ends with VACUUM ANALYZE, what autovacuum does after a bulk load (the ingest
log's acknowledged rows are deleted, and the overview's pending count reads that table).

Phases (each drained before the next, so merges happen as they would in real life even on PostgreSQL,
whose partitions apply in parallel): anonymous visitors and their events; known users (identifying
the visitors); the remaining events and some user updates.

Usage: python bench/dashboard_fixture.py --database-url URL [--scale 1.0] [--out FIXTURE.json]
Writes FIXTURE.json (default bench/results/dashboard-fixture-<backend>.json): the account's keys and
sample values for the page benchmark (bench/dashboard_pages.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from openengage.processor.worker import drain
from openengage.records import EventRecord, Record, UserRecord, encode_records
from openengage.settings import Settings
from openengage.store import open_store
from openengage.store.base import Store, Submission

HERE = Path(__file__).resolve().parent
OWNER = "owner@bench.test"
DAY_MS = 86_400_000
PER_ENTRY = 25  # records per log entry (a bulk request)
APPEND_ENTRIES = 200  # entries per append transaction

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Linus", "Radia",
         "Tim", "Shafi", "Leslie", "Niklaus", "Katherine", "John", "Sophie", "Dennis", "Hedy"]  # fmt: skip
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton",
        "Torvalds", "Perlman", "Berners-Lee", "Goldwasser", "Lamport", "Wirth", "Johnson", "McCarthy", "Wilson",
        "Ritchie"]  # fmt: skip
CITIES = ["Berlin", "Mumbai", "São Paulo", "Lagos", "Osaka", "Toronto", "Paris", "Nairobi", "Austin", "Seoul"]
COUNTRIES = ["DE", "IN", "BR", "NG", "JP", "CA", "FR", "KE", "US", "KR"]
PLANS = ["Free", "Basic", "Pro", "Gold", "Enterprise"]
TAGS = [f"tag-{t}" for t in ("alpha", "beta", "vip", "churn-risk", "newsletter", "beta-tester", "mobile",
        "web", "b2b", "b2c", "promo", "loyal", "trial", "annual", "monthly", "gift", "student", "ngo", "partner",
        "staff")]  # fmt: skip
DOMAINS = ["example.com", "mail.example", "corp.example", "inbox.example"]
EVENTS: dict[str, tuple[str, ...]] = {
    "Viewed Product": ("Product", "Category"),
    "Added To Cart": ("Product", "Price", "Quantity", "Category"),
    "Removed From Cart": ("Product", "Quantity"),
    "Checked Out": ("Total", "Items", "Coupon"),
    "Order Placed": ("OrderId", "Total", "Currency", "Items", "Express"),
    "Searched": ("Query", "Results"),
    "Signed In": ("Method",),
    "Signed Out": ("Reason",),
    "Opened App": ("Version", "Platform"),
    "Viewed Page": ("Path", "Referrer"),
    "Shared": ("Channel", "Product"),
    "Rated": ("Product", "Stars"),
    "Subscribed": ("Plan", "Price"),
    "Unsubscribed": ("Plan", "Reason"),
    "Clicked Banner": ("Banner", "Position"),
    "Played Video": ("Video", "Seconds"),
    "Downloaded": ("File", "Bytes"),
    "Invited Friend": ("Channel",),
    "Updated Profile": ("Field",),
    "Contacted Support": ("Topic", "Priority"),
    "Applied Coupon": ("Coupon", "Discount"),
    "Wishlisted": ("Product",),
    "Compared": ("ProductA", "ProductB"),
    "Left Review": ("Product", "Stars", "Words"),
    "Completed Onboarding": ("Steps", "Seconds"),
}
NAMES = list(EVENTS)
WEIGHTS = [1.0 / (i + 1) for i in range(len(NAMES))]  # Zipf-like: a few events are most of the traffic


def attr_value(rng: random.Random, name: str, n: int) -> Any:
    if name in ("Price", "Total", "Discount"):
        return round(rng.uniform(1, 500), 2)
    if name in ("Quantity", "Items", "Results", "Stars", "Seconds", "Bytes", "Position", "Steps", "Words"):
        return rng.randint(0, 1000)
    if name == "Express":
        return rng.random() < 0.3
    if name == "OrderId":
        return f"ord-{n:08d}"
    if name == "Plan":
        return rng.choice(PLANS)
    if name == "Query":
        return rng.choice(["shoes", "red dress", "laptop", "coffee", "gift card", "headphones", "tent"])
    return f"{name.lower()}-{rng.randint(1, 300)}"


def known_user(rng: random.Random, n: int, anonymous_id: str | None = None) -> UserRecord:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    city = rng.randrange(len(CITIES))
    system = {
        "firstName": first,
        "lastName": last,
        "email": f"{first.lower()}.{last.lower()}{n}@{rng.choice(DOMAINS)}",
        "phone": f"+1{2_000_000_000 + n * 7919 % 7_999_999_999}",
        "city": CITIES[city],
        "country": COUNTRIES[city],
        "gender": rng.choice(["male", "female", "other"]),
        "emailOptIn": rng.random() < 0.9,
        "smsOptIn": rng.random() < 0.6,
    }
    attributes: dict[str, Any] = {
        "Plan": rng.choice(PLANS),
        "LTV": round(rng.uniform(0, 5000), 2),
        "Orders": rng.randint(0, 200),
        "Verified": rng.random() < 0.7,
        "SignupDate": f"20{rng.randint(18, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00+0000",
        "Tags": rng.sample(TAGS, rng.randint(1, 3)),
        "Company": f"Company {rng.randint(1, 5000)}",
        "LoyaltyId": 10_000_000 + n,
    }
    return UserRecord(user_id=user_id(n), anonymous_id=anonymous_id, system=system, attributes=attributes)


def user_id(n: int) -> str:
    return f"cust-{n:06d}"


def anonymous_id(n: int) -> str:
    return f"anon-{n * 2654435761 % 2**32:08x}-{n}"


def an_event(rng: random.Random, n: int, uid: str | None, aid: str | None, now: int) -> EventRecord:
    name = rng.choices(NAMES, WEIGHTS)[0]
    data = {a: attr_value(rng, a, n) for a in EVENTS[name]}
    roll = rng.random()
    if roll < 0.004 and "Price" in data:
        data["Price"] = "free"  # type conflict: Price is a Number
    elif roll < 0.007:
        data["we_debug"] = 1  # reserved prefix
    elif roll < 0.010:
        data["x" * 60] = "too long a name"
    return EventRecord(name=name, user_id=uid, anonymous_id=aid, time_ms=now - rng.randrange(90 * DAY_MS), data=data)


async def append(store: Store, account_id: int, records: list[Record]) -> None:
    subs = []
    for i in range(0, len(records), PER_ENTRY):
        chunk = records[i : i + PER_ENTRY]
        subs.append(Submission(account_id, "bulk", 1, 0, encode_records(chunk), len(chunk)))
    for i in range(0, len(subs), APPEND_ENTRIES):
        await store.append(subs[i : i + APPEND_ENTRIES])


async def build(url: str, scale: float, log: Any = print) -> dict[str, Any]:
    rng = random.Random(8)
    users = int(100_000 * scale)
    events = int(1_000_000 * scale)
    identified = users // 5  # anonymous first, then known
    visitors = max(1, int(5_000 * scale))  # anonymous for good
    now = int(time.time() * 1000)
    store = open_store(Settings.from_env({}, database_url=url, batch_records=5000))
    await store.migrate()
    await store.open()
    t0 = time.perf_counter()
    try:
        limits = {name: 0 for name in ("users", "events", "bulk", "moengage-users", "moengage-events")}
        creds = await store.create_account("bench", OWNER, limits)
        acc = creds.account_id

        async def phase(name: str, records: list[Record]) -> None:
            t = time.perf_counter()
            await append(store, acc, records)
            applied = await drain(store, 5000)
            took = time.perf_counter() - t
            log(f"{name}: {len(records):,} records appended and applied ({applied:,}) in {took:.1f} s")

        # 1. anonymous visitors (those identified later, and those who never are) and their events
        first: list[Record] = []
        anon_numbers = list(range(identified)) + list(range(users, users + visitors))
        for n in anon_numbers:
            aid = anonymous_id(n)
            first.append(UserRecord(anonymous_id=aid, attributes={"Referrer": rng.choice(["ads", "seo", "friend"])}))
            first += [an_event(rng, n, None, aid, now) for _ in range(3)]
        await phase("anonymous visitors", first)
        # 2. known users; the first `identified` of them identify their anonymous profile (a merge)
        second: list[Record] = [known_user(rng, n, anonymous_id(n) if n < identified else None) for n in range(users)]
        sample = second[users // 3]
        assert isinstance(sample, UserRecord)
        await phase("known users", second)
        # 3. the remaining events (hot users get more), and user updates, some with a type conflict
        left = events - 3 * len(anon_numbers)
        hot = max(1, users // 100)
        third: list[Record] = []
        for i in range(left):
            n = rng.randrange(hot) if rng.random() < 0.2 else rng.randrange(users)
            third.append(an_event(rng, i, user_id(n), None, now))
            if i % 50 == 0:
                n = rng.randrange(users)
                update: dict[str, Any] = {"Orders": rng.randint(0, 300), "Plan": rng.choice(PLANS)}
                if rng.random() < 0.02 * 50 / 2:  # about 1 in 100 updates: a type conflict
                    update["Orders"] = "many"
                third.append(UserRecord(user_id=user_id(n), attributes=update))
        await phase("events and updates", third)
        stats = await store.stats(acc)
        if url.startswith(("postgresql:", "postgres:")):
            # What autovacuum does after a bulk load, at once: fresh statistics, no dead log rows.
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
        built = time.perf_counter() - t0
        log(f"built in {built:.0f} s: {stats}")
        return {
            "database_url": url,
            "license_code": creds.license_code,
            "api_key": creds.api_key,
            "app_id": creds.app_id,
            "owner": OWNER,
            "scale": scale,
            "build_seconds": round(built, 1),
            "stats": {"users": stats.users, "anonymous_users": stats.anonymous_users, "events": stats.events},
            "samples": {
                "user_id": user_id(users // 2),
                "hot_user_id": user_id(0),
                "identified_user_id": user_id(1),
                "anonymous_id": anonymous_id(users + 1),
                "merged_anonymous_id": anonymous_id(2),
                "email": sample.system["email"],
                "email_prefix": sample.system["email"].split("@")[0],
                "phone": sample.system["phone"],
                "company": "Company 4321",
                "loyalty_id": str(10_000_000 + users // 5),
                "prefix": "cust-0123",
                "plan": "Gold",
                "event_name": "Added To Cart",
                "rare_event_name": "Completed Onboarding",
            },
        }
    finally:
        await store.close()


def default_out(url: str) -> Path:
    backend = "sqlite" if url.startswith("sqlite") else "postgres"
    return HERE / "results" / f"dashboard-fixture-{backend}.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="sqlite:///PATH or postgresql://... (a new database)")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100,000 users and 1,000,000 events")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    info = asyncio.run(build(args.database_url, args.scale))
    out = args.out or default_out(args.database_url)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(info, indent=2))
    print(f"fixture: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
