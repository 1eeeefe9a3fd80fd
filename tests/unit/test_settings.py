"""Settings are checked once, with one-line messages that name the setting."""

from __future__ import annotations

import pytest

from openengage.errors import ConfigError
from openengage.settings import Settings


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OPENENGAGE_PORT": "70000"}, "Use a TCP port from 1 to 65535"),
        ({"OPENENGAGE_PORT": "0"}, "Use a TCP port from 1 to 65535"),
        ({"OPENENGAGE_LOG_FORMAT": "xml"}, "Use 'text' or 'json'"),
        ({"OPENENGAGE_MAX_HEADER_BYTES": "0"}, "'max_header_bytes' must be greater than 0"),
        ({"OPENENGAGE_READ_TIMEOUT": "-1"}, "'read_timeout' must be greater than 0"),
        ({"OPENENGAGE_STORE_WAIT": "0"}, "'store_wait' must be greater than 0"),
        ({"OPENENGAGE_MIN_FREE_MB": "-5"}, "cannot be negative"),
        ({"OPENENGAGE_KEEP_ALIVE_TIMEOUT": "1.5"}, "Not a valid integer"),
        ({"OPENENGAGE_OUTBOX_RETENTION_DAYS": "0"}, "'outbox_retention_days' must be a whole number of days"),
        ({"OPENENGAGE_OUTBOX_RETENTION_DAYS": "3651"}, "from 1 to 3650"),
    ],
)
def test_bad_values_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_limits_and_outage_settings_round_trip_to_children() -> None:
    settings = Settings.from_env({"OPENENGAGE_STORE_TIMEOUT": "2.5", "OPENENGAGE_LOG_FORMAT": "json"}, port=8080)
    again = Settings.from_env(settings.to_env())
    assert again == settings and again.store_timeout == 2.5 and again.port == 8080


def test_outbox_retention_is_30_days_unless_set() -> None:
    assert Settings.from_env({}).outbox_retention_days == 30
    assert Settings.from_env({"OPENENGAGE_OUTBOX_RETENTION_DAYS": "7"}).outbox_retention_days == 7
    assert (
        Settings.from_env({"OPENENGAGE_OUTBOX_RETENTION_DAYS": "7"}, outbox_retention_days=90).outbox_retention_days
        == 90
    )
