"""`openengage serve` plus the benchmark's baseline route, `POST /_bench/noop` (same stack: the app,
its middleware, uvicorn and the protocol; reads the body, stores nothing). The product does not carry
the route: this wraps the product's app factory and hands it to `serve`.

Usage: python bench/bench_server.py --port PORT [--workers N] [--processor | --no-processor]
(the store and everything else from OPENENGAGE_* variables, as for `openengage serve`).
"""

from __future__ import annotations

import argparse
import sys

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openengage.api.webengage_responses import QUEUED_JSON
from openengage.app import create_app
from openengage.serve import serve
from openengage.settings import Settings

NOOP_PATH = "/_bench/noop"


async def noop(request: Request) -> Response:
    await request.body()
    return Response(QUEUED_JSON, 201, media_type="application/json")


def create_bench_app(settings: Settings | None = None) -> Starlette:
    app = create_app(settings)
    app.router.routes.insert(0, Route(NOOP_PATH, noop, methods=["POST"]))
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--processor", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    settings = Settings.from_env(port=args.port, workers=args.workers, processor=args.processor)
    # The workers import this module by name: bench/ is on their sys.path as it is on ours.
    return serve(settings, app_factory="bench_server:create_bench_app")


if __name__ == "__main__":
    sys.exit(main())
