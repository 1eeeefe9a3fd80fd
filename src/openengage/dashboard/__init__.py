"""The dashboard: server-rendered pages under `/dashboard/`, served by `serve` on the API's port.

Layout (layer 2, like `api`: it may import the leaves, `openengage.store` and `openengage.store.base`,
never `api`, `processor` or a store internal; tests/test_layers.py checks it):

    dashboard/
      board.py     Dashboard: the routes (sign-in, sign-out, one-time links, static files, every page
                   behind its checks); app.py mounts `Dashboard(settings).routes()` and starts it
      pages.py     `@page(path, permission)`, `Context` (what a page function gets), NAV_ORDER
      auth.py      passwords (Argon2id), tokens, cookie signing, CSRF tokens, sign-in throttling rules
      render.py    the Jinja2 environment (autoescape on), filters, security headers (CSP)
      charts.py    per-minute charts as numbers for an SVG template
      views/       one module per page group; each registers its pages when imported
      templates/   base.html (layout: navigation, account switcher, Sign out), _macros.html, one
                   template per page
      static/      dashboard.css, dashboard.js: our own files, no build step, no CDN

How to add a page
-----------------
1. Write `views/<name>.py` and add "<name>" to `views.MODULES`::

       from starlette.responses import Response
       from openengage.accounts import VIEW_PROFILES
       from openengage.dashboard.pages import Context, page

       @page("users", VIEW_PROFILES, nav="Users")          # GET /dashboard/accounts/{lc}/users
       async def users(ctx: Context) -> Response:
           q = ctx.request.query_params.get("q", "")
           found = await ctx.store.some_read(ctx.account_id, q)   # reads: store/reads.py, always scoped
           return ctx.render("users.html", title="Users", found=found, q=q)

   `path` is relative to the account (Starlette syntax: "users/{user_id:path}" for ids that may hold
   "/"; read it from `ctx.request.path_params`). `nav` (only for paths listed in `pages.NAV_ORDER`)
   puts the page in the navigation, shown to members holding `permission`. Before your function runs
   the dashboard has redirected visitors without a session to the sign-in page, answered 404 for an
   account the person is not a member of, and 403 without `permission`.
2. A form action is a page with `methods=("POST",)`: its CSRF token has been checked (403 otherwise)
   and its fields are in `ctx.form` (`ctx.field("email")`). Every form needs `{{ m.csrf_field() }}`.
   Administrative store calls take `actor=ctx.actor` (the signed-in member and the client's address:
   the audit log records both). After a change answer `ctx.redirect("path", done="...")` or re-render.
3. Write `templates/<name>.html`: `{% extends "base.html" %}` and `{% block content %}`. Autoescape is
   on: show a value a client sent with `{{ m.value(x) }}` (escaped, `<bdi>`-isolated, shortened), times
   with `{{ m.time(ms) }}`, never `|safe`. No inline `<script>`, `on...=` handler or `style=`: the CSP
   refuses them; put JavaScript in `static/<name>.js` and load it in `{% block head %}`.
4. Tests: `tests/dashboard/` has `signed_in(preset)` in-process clients (see its conftest.py) and, for
   the browser, `signed_in_page` (Playwright over Debian's chromium against a real `openengage serve`).
   Add your page to the permission table in tests/dashboard/test_permissions.py.
"""

from __future__ import annotations

from openengage.dashboard.board import Dashboard

__all__ = ["Dashboard"]
