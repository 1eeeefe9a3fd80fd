"""What every route needs, built once per process by the app's lifespan."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request

from openengage.api.auth import AuthCache
from openengage.api.refusals import RefusalLog
from openengage.settings import Settings
from openengage.store.base import Committer, Store, TxnCommitter


@dataclasses.dataclass
class Services:
    settings: Settings
    store: Store
    committer: Committer  # store/groupcommit.GroupCommitter, built by app.py
    auth: AuthCache
    transactions: TxnCommitter | None = None  # store/txncommit.TransactionCommitter, built by app.py (#10)
    # campaigns and channel kinds by account, valid while the config version stays (api/transactions.py)
    messaging_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    # last remaining count seen per (account, bucket, window), for headers on refused requests
    remaining: dict[tuple[int, str], tuple[int, int]] = dataclasses.field(default_factory=dict)
    refusals: RefusalLog | None = None  # the debugger's refused requests (api/refusals.py), built by app.py


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc
