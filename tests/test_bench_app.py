"""The benchmark's no-op baseline route lives in bench/, not in the product."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from openengage.app import create_app
from openengage.settings import Settings
from tests.support.harness import prepare_store

BENCH = Path(__file__).parents[1] / "bench"


def test_the_product_has_no_bench_route_and_the_bench_app_adds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    settings = Settings.from_env({}, database_url=f"sqlite:///{tmp_path / 'oe.db'}")
    asyncio.run(prepare_store(settings))
    with TestClient(create_app(settings)) as client:
        assert client.post("/_bench/noop", content=b"{}").status_code == 404
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_server

    with TestClient(bench_server.create_bench_app(settings)) as client:
        r = client.post("/_bench/noop", content=b'{"userId": "x"}')
        assert r.status_code == 201 and r.json() == {"response": {"status": "queued"}}
    sys.modules.pop("bench_server", None)
