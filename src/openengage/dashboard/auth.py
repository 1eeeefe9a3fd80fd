"""Sign-in, sessions and CSRF for the dashboard: the rules and the cryptography, without HTTP.

- Passwords: Argon2id (argon2-cffi's `PasswordHasher`, RFC 9106's low-memory profile: t=3, m=64 MiB,
  p=4), verified off the event loop. An email with no password still costs one verification (against
  a dummy hash), so the answer's timing does not say which emails exist.
- Tokens: 256 random bits, URL-safe. The store keeps only their SHA-256 (sessions, one-time links).
- The session cookie carries the token signed with itsdangerous (the signing key is the store's
  `dashboard_secret`, shared by every node) and a timestamp: a forged or expired cookie is refused
  before the store is asked. The store decides whether the session still exists: Sign out deletes it,
  so a copied cookie stops working everywhere at once.
- CSRF: every form carries an HMAC of what the request is bound to: the session token's hash once
  signed in, or the random nonce of the sign-in cookie before. A POST whose token does not match is
  refused (403) before anything runs.
- Throttling: failed sign-ins are counted in the store per email and per client address over
  `THROTTLE_WINDOW_MS`; past `MAX_FAILURES_PER_EMAIL` or `MAX_FAILURES_PER_CLIENT` every attempt is
  refused with 429 without checking the password, so the form is never an unlimited oracle.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from openengage.accounts import SYSTEM, Actor
from openengage.rules.dates import now_ms
from openengage.store.base import Store

SESSION_SECONDS = 12 * 3600  # absolute lifetime of a session: a working day; sign in again after
LINK_SECONDS = 24 * 3600  # one-time sign-in links
THROTTLE_WINDOW_MS = 15 * 60 * 1000
MAX_FAILURES_PER_EMAIL = 5  # then that email is refused for the rest of the window
MAX_FAILURES_PER_CLIENT = 20  # one address trying many emails
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024  # hashing is memory-hard, but a megabyte of password is still refused

SESSION_COOKIE = "openengage_session"
SIGN_IN_COOKIE = "openengage_signin"  # the nonce that binds the sign-in form's CSRF token
COOKIE_PATH = "/dashboard"

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


# ---------------------------------------------------------------- passwords


def check_password_rules(password: str) -> str:
    """ValueError unless the password is usable; the password otherwise."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(f"a password has at most {MAX_PASSWORD_CHARS} characters")
    return password


def hash_password(password: str) -> str:
    """An Argon2id hash (with its parameters and salt) of a password that passed `check_password_rules`."""
    return _hasher.hash(check_password_rules(password))


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def matching(hashes: list[tuple[int, str]], password: str) -> list[int]:
    """The ids whose hash `password` matches (verified on a thread: each check takes tens of ms)."""
    if len(password) > MAX_PASSWORD_CHARS:
        return []
    if not hashes:
        await asyncio.to_thread(_verify, _dummy_hash(), password)
        return []
    found = []
    for ident, stored in hashes:
        if await asyncio.to_thread(_verify, stored, password):
            found.append(ident)
    return found


# ---------------------------------------------------------------- tokens and cookies


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Signer:
    """Signs and checks cookie values and CSRF tokens with the store's shared secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._cookies = URLSafeTimedSerializer(secret, salt="openengage.dashboard.cookie")

    def cookie(self, token: str) -> str:
        return self._cookies.dumps(token)

    def token(self, cookie: str | None, max_age: int = SESSION_SECONDS) -> str | None:
        """The token inside a cookie this server signed within `max_age` seconds, else None."""
        if not cookie or len(cookie) > 512:
            return None
        try:
            value = self._cookies.loads(cookie, max_age=max_age)
        except BadSignature:  # includes SignatureExpired
            return None
        return value if isinstance(value, str) else None

    def csrf(self, binding: str) -> str:
        """The form token for a session (binding: its token's hash) or a sign-in nonce."""
        return hmac.new(self._secret, b"csrf|" + binding.encode("utf-8"), hashlib.sha256).hexdigest()

    def csrf_ok(self, binding: str | None, sent: str | None) -> bool:
        if not binding or not sent:
            return False
        return hmac.compare_digest(self.csrf(binding), sent)


# ---------------------------------------------------------------- throttling (pure)


def throttle_subjects(email: str, client: str) -> tuple[str, str]:
    """What failed sign-ins are counted against: the email (any case) and the client address."""
    return f"email:{email.strip().lower()}", f"client:{client}"


def throttled(failures: dict[str, int], email_subject: str, client_subject: str) -> bool:
    return (
        failures.get(email_subject, 0) >= MAX_FAILURES_PER_EMAIL
        or failures.get(client_subject, 0) >= MAX_FAILURES_PER_CLIENT
    )


def safe_next(target: str | None) -> str | None:
    """Where to go after signing in: only a dashboard path on this server (never `//host` or a URL)."""
    if not target or not target.startswith("/dashboard/") or "\\" in target or len(target) > 2000:
        return None
    if target.startswith("//") or any(ord(c) < 33 for c in target):
        return None
    return target


async def login_link(store: Store, account_id: int, email: str, base_url: str, actor: Actor = SYSTEM) -> str:
    """A one-time sign-in URL for a member (`members login-link`, the first run): 24 hours, single use."""
    token = new_token()
    await store.create_login_link(account_id, email, token_hash(token), now_ms() + LINK_SECONDS * 1000, actor=actor)
    return f"{base_url.rstrip('/')}/dashboard/login/{token}"
