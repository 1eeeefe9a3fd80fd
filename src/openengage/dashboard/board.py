"""The dashboard's routes: sign-in, sign-out, one-time links, and every registered page behind its checks.

`Dashboard(settings)` is built by app.py, which mounts `routes()` and calls `start(store)` in its lifespan
(stop() at shutdown). Every response carries the security headers of render.py.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from openengage import accounts as rules
from openengage.dashboard import auth, views
from openengage.dashboard.pages import NAV_ORDER, PAGES, Context, Page, account_url
from openengage.dashboard.render import html, secure
from openengage.errors import StoreUnavailable
from openengage.rules.dates import now_ms
from openengage.settings import Settings
from openengage.store.base import Membership, Session, Store

log = logging.getLogger("openengage.dashboard")
MAX_FORM_BYTES = 65_536
CSRF_FIELD = "csrf_token"
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
Endpoint = Callable[[Request], Awaitable[Response]]
views.load()  # registers every page module's pages


class Dashboard:
    def __init__(self, settings: Settings, extras: Mapping[str, Any] | None = None) -> None:
        self.settings = settings
        self.extras = dict(extras or {})  # see Context.extras
        self._store: Store | None = None
        self._signer: auth.Signer | None = None

    async def start(self, store: Store) -> None:
        self._store = store
        with contextlib.suppress(StoreUnavailable):  # made on first use if the store is down now
            await self._get_signer()

    async def stop(self) -> None:
        self._store = None

    @property
    def store(self) -> Store:
        if self._store is None:
            raise StoreUnavailable("the dashboard is not started")
        return self._store

    async def _get_signer(self) -> auth.Signer:
        if self._signer is None:
            self._signer = auth.Signer(await self.store.dashboard_secret())
        return self._signer

    # ------------------------------------------------------------ routes

    def routes(self) -> list[BaseRoute]:
        static = StaticFiles(packages=[("openengage.dashboard", "static")])
        every = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
        routes: list[BaseRoute] = [
            Route("/", self.root, methods=["GET", "HEAD"]),
            Route("/dashboard", self.root, methods=["GET", "HEAD"]),
            Route("/dashboard/", self._wrap(self.home), methods=["GET", "HEAD"]),
            Route("/dashboard/login", self._wrap(self.login), methods=["GET", "HEAD", "POST"]),
            Route("/dashboard/login/{token}", self._wrap(self.login_link), methods=["GET", "HEAD", "POST"]),
            Route("/dashboard/logout", self._wrap(self.logout), methods=["POST"]),
            Mount("/dashboard/static", app=static, name="dashboard_static"),
        ]
        # Longer paths first, so `users/{user_id:path}` never swallows `users/x/events`-like pages declared later.
        for p in sorted(PAGES, key=lambda p: -len(p.path)):
            endpoint = self._wrap(functools.partial(self._serve, p), p.handler.__name__)
            routes.append(Route("/dashboard/accounts/{license_code}/" + p.path, endpoint, methods=list(p.methods)))
        routes.append(Route("/dashboard/{rest:path}", self._wrap(self.not_found), methods=every))
        return routes

    # ------------------------------------------------------------ plumbing

    @staticmethod
    def _wrap(fn: Callable[[Request], Awaitable[Response]], name: str | None = None) -> Endpoint:
        """An endpoint answering an HTML 503 page (not the API's JSON) while the store is unavailable."""

        async def endpoint(request: Request) -> Response:
            try:
                return await fn(request)
            except StoreUnavailable as exc:
                log.warning("dashboard: store unavailable: %s", exc, extra={"action": "dashboard"})
                response = html("error.html", 503, title="Unavailable", message=_UNAVAILABLE, signed_in=None)
                response.headers["Retry-After"] = "5"
                return response

        endpoint.__name__ = str(name or getattr(fn, "__name__", "dashboard"))
        return endpoint

    async def _session(self, request: Request) -> tuple[Session, str] | None:
        """The signed-in session and its token's hash, or None."""
        signer = await self._get_signer()
        token = signer.token(request.cookies.get(auth.SESSION_COOKIE))
        if token is None:
            return None
        digest = auth.token_hash(token)
        found = await self.store.session(digest, now_ms())
        if found is None or not found.memberships:  # ended, expired, or every membership gone: sign in again
            return None
        return found, digest

    @staticmethod
    def _to_login(request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return secure(RedirectResponse(f"/dashboard/login?next={quote(target, safe='/~')}", status_code=303))

    @staticmethod
    async def _form(request: Request) -> dict[str, list[str]] | None:
        """The url-encoded form of a POST (None when it is not one, or too large)."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            return None
        declared = request.headers.get("content-length", "")
        if declared and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
            return None
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return None
        try:
            text = body.decode("utf-8")
            return parse_qs(text, keep_blank_values=True, max_num_fields=500)
        except (UnicodeDecodeError, ValueError):
            return None

    def _cookie(self, response: Response, request: Request, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=auth.COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    @staticmethod
    def _forbidden_csrf() -> Response:
        return html("error.html", 403, title="Forbidden", message=_CSRF, signed_in=None)

    async def _serve(self, p: Page, request: Request) -> Response:
        found = await self._session(request)
        if found is None:
            return self._to_login(request)
        session, digest = found
        lc = request.path_params["license_code"]
        membership = next((m for m in session.memberships if m.license_code == lc), None)
        if membership is None:  # not a member (or no such account): the same 404 for both
            return _not_found(session)
        signer = await self._get_signer()
        form: dict[str, list[str]] = {}
        if request.method in STATE_CHANGING:
            parsed = await self._form(request)
            sent = (parsed or {}).get(CSRF_FIELD, [None])[0]
            if parsed is None or not signer.csrf_ok(digest, sent):
                return self._forbidden_csrf()
            form = parsed
        ctx = Context(request, self.store, session, membership, signer.csrf(digest), form, self.extras)
        if not ctx.can(p.permission):
            label = rules.PERMISSION_LABELS[p.permission]
            return ctx.render("error.html", 403, title="Forbidden", message=f"This page needs the {label} permission.")
        return secure(await p.handler(ctx))

    # ------------------------------------------------------------ root, home, 404

    async def root(self, request: Request) -> Response:
        return secure(RedirectResponse("/dashboard/", status_code=302))

    async def home(self, request: Request) -> Response:
        """The first page the signed-in member may open in their first account."""
        found = await self._session(request)
        if found is None:
            return self._to_login(request)
        session, _ = found
        for m in session.memberships:
            target = first_page(m)
            if target is not None:
                return secure(RedirectResponse(target, status_code=303))
        return html("error.html", 403, title="Forbidden", message=_NO_PAGES, signed_in=session.email)

    async def not_found(self, request: Request) -> Response:
        found = await self._session(request)
        if found is None:
            return self._to_login(request)
        return _not_found(found[0])

    # ------------------------------------------------------------ sign-in and sign-out

    async def _sign_in_form(self, request: Request, template: str, status: int = 200, **values: Any) -> Response:
        """The sign-in page (or a link's confirmation) with a fresh nonce cookie binding its CSRF token."""
        signer = await self._get_signer()
        nonce = auth.new_token()
        response = html(template, status, title="Sign in", csrf_token=signer.csrf(nonce), **values)
        self._cookie(response, request, auth.SIGN_IN_COOKIE, signer.cookie(nonce), 3600)
        return response

    async def _sign_in_csrf(self, request: Request) -> dict[str, list[str]] | None:
        signer = await self._get_signer()
        nonce = signer.token(request.cookies.get(auth.SIGN_IN_COOKIE), max_age=3600)
        form = await self._form(request)
        if form is None or not signer.csrf_ok(nonce, form.get(CSRF_FIELD, [None])[0]):
            return None
        return form

    async def _start(self, request: Request, email: str, member_ids: list[int], to: str | None) -> Response:
        """Rotate: a new session token at every sign-in, the session the browser had ends."""
        signer = await self._get_signer()
        token = auth.new_token()
        old = signer.token(request.cookies.get(auth.SESSION_COOKIE))
        expires = now_ms() + auth.SESSION_SECONDS * 1000
        replaces = auth.token_hash(old) if old else None
        await self.store.start_session(auth.token_hash(token), email, member_ids, expires, replaces)
        response = secure(RedirectResponse(to or "/dashboard/", status_code=303))
        self._cookie(response, request, auth.SESSION_COOKIE, signer.cookie(token), auth.SESSION_SECONDS)
        response.delete_cookie(auth.SIGN_IN_COOKIE, path=auth.COOKIE_PATH)
        return response

    async def login(self, request: Request) -> Response:
        to = auth.safe_next(request.query_params.get("next"))
        if request.method != "POST":
            signed_out = request.query_params.get("signed_out") == "1"
            return await self._sign_in_form(request, "login.html", next=to, email="", signed_out=signed_out)
        form = await self._sign_in_csrf(request)
        if form is None:
            return self._forbidden_csrf()
        email = form.get("email", [""])[0].strip()
        password = form.get("password", [""])[0]
        client = request.client.host if request.client else "unknown"
        subjects = auth.throttle_subjects(email, client)
        now = now_ms()
        failures = await self.store.sign_in_failures(subjects, now - auth.THROTTLE_WINDOW_MS)
        if auth.throttled(failures, *subjects):
            response = await self._sign_in_form(request, "login.html", 429, next=to, email=email, error=_THROTTLED)
            response.headers["Retry-After"] = str(auth.THROTTLE_WINDOW_MS // 1000)
            return response
        logins = await self.store.logins(email) if email else []
        matched = await auth.matching([(login.member_id, login.password_hash) for login in logins], password)
        if not matched:
            await self.store.record_sign_in_failure(subjects, now)
            return await self._sign_in_form(request, "login.html", 401, next=to, email=email, error=_WRONG)
        await self.store.clear_sign_in_failures(subjects[0])
        return await self._start(request, email, matched, to)

    async def login_link(self, request: Request) -> Response:
        token = request.path_params["token"]
        if request.method != "POST":  # a GET never uses the link up (mail scanners and previews follow links)
            return await self._sign_in_form(request, "login_link.html", action=request.url.path)
        if await self._sign_in_csrf(request) is None:
            return self._forbidden_csrf()
        client = request.client.host if request.client else "unknown"
        subjects = ("", f"client:{client}")
        now = now_ms()
        failures = await self.store.sign_in_failures(subjects[1:], now - auth.THROTTLE_WINDOW_MS)
        if auth.throttled(failures, *subjects):
            return await self._sign_in_form(request, "login.html", 429, next=None, email="", error=_THROTTLED)
        used = await self.store.use_login_link(auth.token_hash(token), now) if len(token) < 200 else None
        if used is None:
            await self.store.record_sign_in_failure(subjects[1:], now)
            return html("error.html", 410, title="Link not valid", message=_LINK_USED, signed_in=None)
        member_id, email = used
        return await self._start(request, email, [member_id], None)

    async def logout(self, request: Request) -> Response:
        found = await self._session(request)
        if found is None:
            return self._to_login(request)
        form = await self._form(request)
        signer = await self._get_signer()
        if form is None or not signer.csrf_ok(found[1], form.get(CSRF_FIELD, [None])[0]):
            return self._forbidden_csrf()
        await self.store.end_session(found[1])
        response = secure(RedirectResponse("/dashboard/login?signed_out=1", status_code=303))
        response.delete_cookie(auth.SESSION_COOKIE, path=auth.COOKIE_PATH)
        return response


def first_page(m: Membership) -> str | None:
    """The URL of the first page (in navigation order) that this member may open, if any."""
    for path in NAV_ORDER:
        for p in PAGES:
            if p.path == path and p.nav and p.permission in m.member.permissions:
                return account_url(m.license_code, path)
    return None


def _not_found(session: Session) -> Response:
    return html("error.html", 404, title="Not found", message=_NOT_FOUND, signed_in=session.email)


_UNAVAILABLE = "The store cannot be reached right now. Try again in a few seconds."
_CSRF = "This form was not sent by this dashboard (its security token is missing or stale). Reload the page."
_THROTTLED = "Too many failed sign-ins. Try again later."
_WRONG = "The email or password is wrong."
_LINK_USED = "This sign-in link is not valid: it was used already, it expired, or it never existed. Ask for a new one."
_NOT_FOUND = "There is no such page, or it belongs to an account you are not a member of."
_NO_PAGES = "Your role gives you no dashboard page in any of your accounts. Ask an admin for a permission."
