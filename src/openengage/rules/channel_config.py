"""Channel settings (pure): SMTP URLs, email addresses, webhook URLs; checked before they are stored.

Email: `smtp://[USER[:PASSWORD]@]HOST[:PORT]` upgrades to TLS with STARTTLS when the server offers it
(port 25 by default), `smtp+starttls://` requires STARTTLS (587), `smtps://` is TLS from the first byte
(465); `?cafile=PATH` trusts a private CA. The URL is stored as given and never shown back: `redact()`
replaces the password with `***`. A leaf so that the CLI, the dashboard and the sender check alike.
"""

from __future__ import annotations

import dataclasses
from email.headerregistry import Address
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from openengage.errors import ConfigError

_SCHEMES = {"smtp": ("auto", 25), "smtp+starttls": ("starttls", 587), "smtps": ("implicit", 465)}


@dataclasses.dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    tls: str  # auto | starttls | implicit
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    cafile: str | None = None


def parse_smtp_url(url: str) -> SmtpTarget:
    """ConfigError for a URL that cannot name an SMTP server (the message never repeats a password)."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ConfigError(f"--smtp-url must start with smtp://, smtp+starttls:// or smtps://, not '{parts.scheme}:'")
    tls, default_port = _SCHEMES[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise ConfigError("--smtp-url has a port that is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ConfigError("--smtp-url names no host (smtp://HOST:PORT)")
    if parts.path not in ("", "/"):
        raise ConfigError("--smtp-url takes no path (smtp://HOST:PORT)")
    query = parse_qs(parts.query)
    unknown = set(query) - {"cafile"}
    if unknown:
        raise ConfigError(f"--smtp-url has unknown parameters: {', '.join(sorted(unknown))} (only cafile)")
    cafile = query.get("cafile", [None])[-1]
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and username is None:
        raise ConfigError("--smtp-url has a password without a user name")
    return SmtpTarget(parts.hostname, port, tls, username, password, cafile)


def redact(url: str) -> str:
    """The SMTP URL as it may be shown: the password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()


def check_address(address: str) -> str:
    """An email address we can put in a header: NAME@DOMAIN, no spaces or line breaks."""
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, TypeError):
        raise ConfigError(f"'{address}' is not an email address (NAME@DOMAIN)") from None
    if not parsed.username or not parsed.domain or any(c.isspace() or not c.isprintable() for c in address):
        raise ConfigError(f"'{address}' is not an email address (NAME@DOMAIN)")
    return address


def email_config(smtp_url: str, sender: str) -> dict[str, Any]:
    """A checked email channel's config (what the store keeps)."""
    parse_smtp_url(smtp_url)
    check_address(sender)
    return {"smtp_url": smtp_url, "smtp_display": redact(smtp_url), "from": sender}


def webhook_config(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("--url must be an http:// or https:// URL with a host")
    if parts.password is not None or parts.username is not None:
        raise ConfigError("--url cannot carry a user or password: receivers verify the signature instead")
    return {"url": url}
