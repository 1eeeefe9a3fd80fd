"""Log lines: JSON objects with the `extra` fields the code passes, and never a secret, in either format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from openengage.lifecycle import JsonFormatter, TextFormatter, setup_logging


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("openengage.test")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_a_line_with_extra_fields(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("processor stopped after %d records", 12, extra={"action": "processor_stop", "request_id": "kX"})
    [doc] = lines(stream)
    assert doc["level"] == "info" and doc["logger"] == "openengage.test"
    assert doc["message"] == "processor stopped after 12 records"
    assert doc["action"] == "processor_stop" and doc["request_id"] == "kX"
    assert str(doc["time"]).endswith("+00:00") and "T" in str(doc["time"])


def test_tracebacks_stay_on_one_line(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logger.exception("unhandled error", extra={"action": "server_error"})
    assert len(stream.getvalue().splitlines()) == 1
    [doc] = lines(stream)
    assert "ValueError: boom" in str(doc["exception"]) and doc["level"] == "error"


def test_secrets_never_reach_the_log(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.warning(
        "request with Authorization: Bearer 5d8c1e2f-key and Basic QVBQOnNlY3JldA== to postgresql://bob:s3cret@db/x",
        extra={"api_key": "5d8c1e2f-key", "password": "hunter2", "Authorization": "Bearer abc", "ok": "visible"},
    )
    text = stream.getvalue()
    for secret in ("5d8c1e2f-key", "QVBQOnNlY3JldA==", "s3cret", "hunter2", "abc"):
        assert secret not in text
    [doc] = lines(stream)
    assert doc["ok"] == "visible" and doc["api_key"] == "***" and "bob:***@db" in str(doc["message"])


def test_text_format_masks_secrets_too() -> None:
    record = logging.makeLogRecord({"msg": "header Authorization: Bearer sekrit-token", "levelname": "INFO"})
    assert "sekrit-token" not in TextFormatter().format(record)


def test_setup_logging_picks_the_format(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        setup_logging("info", "json")
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
        err = capsys.readouterr().err.strip().splitlines()
        assert json.loads(err[-1])["message"] == "Started server process [42]"
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
