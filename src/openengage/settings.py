"""Settings: one registry of (name, default, help), read from OPENENGAGE_* variables.

CLI flags override the environment; the environment overrides the defaults.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from openengage.errors import ConfigError

ENV_PREFIX = "OPENENGAGE_"


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("database_url", "sqlite:///openengage.db", "Store URL: sqlite:///PATH or postgresql://..."),
    Setting("host", "127.0.0.1", "Interface the HTTP server binds to."),
    Setting("port", 8000, "TCP port of the HTTP server."),
    Setting("workers", 1, "Number of API processes `serve` runs."),
    Setting("processor", True, "Whether `serve` runs the processor next to the API."),
    Setting("migrate", True, "Whether `serve` applies pending migrations on start."),
    Setting("sync", "full", "SQLite durability: full (fsync before every ack) or normal (no fsync)."),
    Setting("max_body_bytes", 1_048_576, "Largest WebEngage request body accepted (413 above)."),
    Setting("batch_records", 2000, "Most records the processor applies in one transaction."),
    Setting("group_commit_records", 2000, "Most records one ingest-log commit carries."),
    Setting("poll_interval", 0.05, "Seconds the idle processor waits before looking for new work."),
    Setting("linger", 0.025, "Seconds the processor waits after a claim of under half a batch, to gather more."),
    Setting("pool_min", 2, "PostgreSQL: connections each process keeps open."),
    Setting("pool_max", 10, "PostgreSQL: most connections each process opens."),
    Setting("log_level", "info", "Log level: debug, info, warning or error."),
    Setting("log_format", "text", "Log lines as text, or json (one JSON object a line)."),
    # limits a public server needs (docs/operations.md "Limits")
    Setting("max_header_bytes", 32_768, "Largest request head (request line and headers); 431 above."),
    Setting("max_connections", 1000, "Most open connections per API process; idle ones are closed first."),
    Setting("keep_alive_timeout", 5, "Seconds an idle connection (before or between requests) stays open."),
    Setting("read_timeout", 30.0, "Seconds a request's head and body may take to arrive, and a stalled write."),
    Setting("shutdown_timeout", 6, "Seconds SIGTERM waits for requests in flight before cancelling them."),
    # store outages (docs/operations.md "Store outages")
    Setting("store_wait", 2.0, "PostgreSQL: seconds a request waits for a pooled connection before 503."),
    Setting("store_timeout", 10.0, "PostgreSQL: seconds one store operation may take before 503."),
    Setting("retry_after", 5, "Retry-After seconds on a 503 while the store is unavailable."),
    Setting("min_free_mb", 256, "SQLite: ingest answers 503 when the disk has less free space (MiB) than this."),
    # GDPR (docs/privacy.md)
    Setting("gdpr_pending_days", 7, "Days a GDPR erasure request stays pending (cancellable) before it runs."),
    # messaging (docs/messaging.md "Outbox and sender")
    Setting("sender", True, "Whether `serve` runs the message sender (transactional email and webhooks)."),
    Setting("sender_lease", 60.0, "Seconds a sender holds a message it is delivering before another may retry it."),
    Setting("sender_concurrency", 16, "Most messages one sender delivers at once."),
    Setting("outbox_retention_days", 30, "Days a finished transaction is kept after its ttl ends."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _cast(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"Setting '{ENV_PREFIX}{name.upper()}' has value '{raw}'. Not a valid bool.")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"Setting '{ENV_PREFIX}{name.upper()}' has value '{raw}'. Not a valid integer.") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"Setting '{ENV_PREFIX}{name.upper()}' has value '{raw}'. Not a valid number.") from None
    return raw


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///openengage.db"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    processor: bool = True
    migrate: bool = True
    sync: str = "full"
    max_body_bytes: int = 1_048_576
    batch_records: int = 2000
    group_commit_records: int = 2000
    poll_interval: float = 0.05
    linger: float = 0.025
    pool_min: int = 2
    pool_max: int = 10
    log_level: str = "info"
    log_format: str = "text"
    max_header_bytes: int = 32_768
    max_connections: int = 1000
    keep_alive_timeout: int = 5
    read_timeout: float = 30.0
    shutdown_timeout: int = 6
    store_wait: float = 2.0
    store_timeout: float = 10.0
    retry_after: int = 5
    min_free_mb: int = 256
    gdpr_pending_days: int = 7
    sender: bool = True
    sender_lease: float = 60.0
    sender_concurrency: int = 16
    outbox_retention_days: int = 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then OPENENGAGE_* variables, then explicit overrides (None means 'not given')."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for s in SETTINGS:
            raw = env.get(ENV_PREFIX + s.name.upper())
            values[s.name] = s.default if raw is None or raw == "" else _cast(s.name, raw, s.default)
        for key, value in overrides.items():
            if key not in _BY_NAME:
                raise ConfigError(f"Unknown setting '{key}'.")
            if value is not None:
                values[key] = value
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"Setting 'port' has value '{self.port}'. Use a TCP port from 1 to 65535.")
        if self.log_format not in ("text", "json"):
            raise ConfigError(f"Setting 'log_format' has value '{self.log_format}'. Use 'text' or 'json'.")
        positive = ("max_header_bytes", "max_connections", "keep_alive_timeout", "read_timeout", "store_wait")
        for name in (*positive, "store_timeout", "retry_after"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"Setting '{name}' must be greater than 0.")
        if self.shutdown_timeout < 0 or self.min_free_mb < 0:
            raise ConfigError("Settings 'shutdown_timeout' and 'min_free_mb' cannot be negative.")
        if not 0 <= self.gdpr_pending_days <= 3650:
            raise ConfigError("Setting 'gdpr_pending_days' must be a whole number of days from 0 to 3650.")
        if not 1 <= self.outbox_retention_days <= 3650:
            raise ConfigError("Setting 'outbox_retention_days' must be a whole number of days from 1 to 3650.")
        if self.sync not in ("full", "normal"):
            raise ConfigError(f"Setting 'sync' has value '{self.sync}'. Use 'full' or 'normal'.")
        if self.workers < 1:
            raise ConfigError("Setting 'workers' must be at least 1.")
        if self.sender_lease < 2 or self.sender_concurrency < 1:
            raise ConfigError("Setting 'sender_lease' must be at least 2 seconds and 'sender_concurrency' at least 1.")
        if self.batch_records < 1 or self.group_commit_records < 1:
            raise ConfigError("Batch sizes must be at least 1.")

    def to_env(self) -> dict[str, str]:
        """The settings as OPENENGAGE_* variables, for child processes."""
        out: dict[str, str] = {}
        for s in SETTINGS:
            value = getattr(self, s.name)
            if isinstance(value, bool):
                value = "true" if value else "false"
            out[ENV_PREFIX + s.name.upper()] = str(value)
        return out
