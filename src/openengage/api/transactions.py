"""WebEngage's Transactional Campaign API: trigger campaigns for a user; read a transaction back.

- `POST /v2/accounts/{lc}/experiments/{campaignId}/transaction` (one campaign) answers 200
  `{"response":{"data":{"txnId","experimentId","userId","ttl"}}}`;
- `POST /v2/accounts/{lc}/transaction?campaignIds=A&campaignIds=B&mode=all|fallback_on_attempt_failure|
  fallback_on_delivery_failure` answers 200 `{"response":{"data":{"txnId","userId","ttl","mode","campaigns":
  [{"experimentId","status","reason"?}]}}}`;
- `GET /v2/accounts/{lc}/transactions/{txnId}`: its status, messages and attempts.

Order of checks: format, license code (404), Bearer key (401), Content-Type (415), size (413), body
(400, the message names the field), campaigns (404: unknown or not running), user (404 unless
`trackConfig.updateUser` creates it), GDPR (412: processing restricted, or an erasure of the user is due),
reachability (412: no address, opted out, no channel set up), then
the outbox commit decides the rate limit (429, `transactions`: 100 per minute by default) and the dedupe
window atomically with the durable write. A 200 is sent only once the transaction is committed (fsynced).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from openengage.accounts import Account
from openengage.api import shapes
from openengage.api import transaction_schema as schema
from openengage.api import webengage_responses as we
from openengage.api.body import TooLarge, header, is_json, read_body
from openengage.api.read import READ_REPLIES, read_route
from openengage.api.services import Services, services
from openengage.api.webengage import (
    FORMAT,
    LICENSE_CODE,
    Refused,
    authenticate,
    known_headers,
    outcome_headers,
    response_format,
)
from openengage.api.webengage_schema import Invalid
from openengage.operations import BEARER, ApiRoute, Operation, Param, Reply, described
from openengage.records import Record, encode_records
from openengage.rules import gdpr
from openengage.rules.dates import now_ms
from openengage.rules.system_events import delivery_event
from openengage.store.base import Campaign, MessageDraft, Outcome, Profile, TxnSubmission

BUCKET = "transactions"
PREFIX = "/v2/accounts/{license_code}"


def _reach(campaign: Campaign, req: schema.TxnRequest, profile: Profile | None, channels: set[str]) -> str:
    """Why the user cannot be reached by this campaign ("" when they can)."""
    if campaign.channel not in channels:
        return f"the account has no {campaign.channel} channel set up"
    if campaign.channel == "email":
        system = dict(profile.data.system) if profile is not None else {}
        if req.update_user is not None:
            system.update(req.update_user.system)
        if system.get("emailOptIn") is False:
            return "the user opted out of email (emailOptIn is false)"
        if not (req.email or system.get("email")):
            return "the user has no email address (set it on the profile or send overrideData.email)"
    return ""


class _Config:
    """Campaigns and channel kinds per account, cached until the store's config version moves (every
    campaign or channel change bumps it; AuthCache polls it twice a second): two reads a request saved."""

    def __init__(self, version: int | None) -> None:
        self.version = version
        self.campaigns: dict[tuple[int, str], Campaign | None] = {}
        self.channels: dict[int, set[str]] = {}

    @staticmethod
    def fresh(svc: Services) -> _Config:
        config = svc.messaging_config.get("config")
        if not isinstance(config, _Config) or config.version != svc.auth.version or len(config.campaigns) > 10_000:
            config = svc.messaging_config["config"] = _Config(svc.auth.version)
        return config


async def _campaign(svc: Services, account: Account, code: str, fmt: str) -> Campaign:
    cache = _Config.fresh(svc).campaigns
    if (account.id, code) not in cache and "\x00" not in code:
        cache[(account.id, code)] = await svc.store.campaign(account.id, code)
    campaign = cache.get((account.id, code))
    if campaign is None:
        raise Refused(we.error(404, f"Error: no campaign '{code}' in this account.", fmt))
    if campaign.status != "running":
        raise Refused(we.error(404, f"Error: campaign '{code}' is not running (it is {campaign.status}).", fmt))
    return campaign


def _records(req: schema.TxnRequest, queued: list[MessageDraft], txn_id: str) -> list[Record]:
    records: list[Record] = []
    if req.update_user is not None:
        records.append(req.update_user)
    if req.event is not None:
        records.append(req.event)
    for m in queued:
        records.append(
            delivery_event(f"{m.channel}_queued", req.user_id, {"txnId": txn_id, "experimentId": m.experiment_id})
        )
    return records


async def _trigger(request: Request, codes: list[str] | None, mode: str) -> Response:
    """Both forms: `codes` None means the single campaign of the path."""
    svc = services(request)
    fmt = "json"
    try:
        fmt = response_format(request)
        account = await authenticate(request, fmt, svc)
        headers = known_headers(svc, account, BUCKET)
        if not is_json(header(request, b"content-type")):
            return we.error(415, "Error: Content-Type must be application/json.", fmt, headers)
        try:
            raw = await read_body(request, svc.settings.max_body_bytes)
        except TooLarge:
            return we.error(413, f"Error: request body exceeds {svc.settings.max_body_bytes} bytes.", fmt, headers)
        try:
            if codes is None:
                codes = [request.path_params["campaign_id"]]
            else:
                codes = schema.parse_campaign_ids(codes)
                mode = schema.parse_mode(mode)
            req = schema.parse(raw)
        except Invalid as exc:
            return we.error(400, exc.message, fmt, headers, exc.errors)
        campaigns = [await _campaign(svc, account, code, fmt) for code in codes]
        profile = await svc.store.profile(account.id, "u", req.user_id)
        if profile is None and req.update_user is None:
            return we.error(404, f"Error: no user '{req.user_id}' in this account.", fmt, headers)
        block = await svc.store.gdpr_block(account.id, req.user_id, now_ms())
        if block is not None:
            message = f"Error: the user '{req.user_id}' cannot be reached ({gdpr.block_reason(block)})."
            return we.error(412, message, fmt, headers)
        config = _Config.fresh(svc)
        if account.id not in config.channels:
            config.channels[account.id] = {c.kind for c in await svc.store.channels(account.id)}
        channels = config.channels[account.id]
        drafts = _drafts(campaigns, req, profile, channels, mode)
        if not any(d.status == "queued" for d in drafts):
            reasons = "; ".join(f"{d.experiment_id}: {d.detail}" for d in drafts)
            return we.error(412, f"Error: the user '{req.user_id}' cannot be reached ({reasons}).", fmt, headers)
    except Refused as refused:
        return refused.response
    return await _commit(svc, account, req, drafts, mode, fmt)


def _drafts(
    campaigns: list[Campaign], req: schema.TxnRequest, profile: Profile | None, channels: set[str], mode: str
) -> list[MessageDraft]:
    """One message per campaign: queued (all; the first reachable of a fallback chain), standby (the rest of
    a chain) or skipped (unreachable)."""
    drafts: list[MessageDraft] = []
    head = False
    for c in campaigns:
        why = _reach(c, req, profile, channels)
        if why:
            drafts.append(MessageDraft(c.id, c.code, c.channel, "skipped", why))
        elif mode.startswith("fallback") and head:
            drafts.append(MessageDraft(c.id, c.code, c.channel, "standby"))
        else:
            drafts.append(MessageDraft(c.id, c.code, c.channel, "queued"))
            head = True
    return drafts


async def _commit(
    svc: Services, account: Account, req: schema.TxnRequest, drafts: list[MessageDraft], mode: str, fmt: str
) -> Response:
    doc: dict[str, Any] = {"txnId": req.txn_id}
    if mode == "single":
        doc.update(experimentId=drafts[0].experiment_id, userId=req.user_id, ttl=req.ttl)
    else:
        doc.update(userId=req.user_id, ttl=req.ttl, mode=mode)
        doc["campaigns"] = [
            {"experimentId": d.experiment_id, "status": d.status, **({"reason": d.detail} if d.detail else {})}
            for d in drafts
        ]
    response = msgspec.json.encode(doc)
    records = _records(req, [d for d in drafts if d.status == "queued"], req.txn_id)
    data = msgspec.json.encode({"token": req.token, "email": req.email, "phone": req.phone})
    assert svc.transactions is not None
    submission = TxnSubmission(
        account.id, req.txn_id, req.user_id, mode, req.ttl * 1000, req.dedupe * 1000, account.limit(BUCKET), data,
        tuple(drafts), encode_records(records), len(records), response,
    )  # fmt: skip
    outcome = await svc.transactions.submit(submission)
    headers = outcome_headers(svc, account.id, Outcome(outcome.status, outcome.limit, outcome.remaining,
                                                       outcome.reset_seconds, BUCKET))  # fmt: skip
    if outcome.status == "limited":
        message = (
            f"Error: rate limit of {outcome.limit} transactions per minute exceeded; "
            f"retry after {outcome.reset_seconds} seconds."
        )
        return we.error(429, message, fmt, headers)
    answered = msgspec.json.decode(outcome.response) if outcome.response is not None else doc
    return we.container({"data": answered}, 200, fmt, headers)


async def single(request: Request) -> Response:
    return await _trigger(request, None, "single")


async def multi(request: Request) -> Response:
    return await _trigger(request, request.query_params.getlist("campaignIds"), request.query_params.get("mode", ""))


async def status(request: Request, account: Account, fmt: str) -> Response:
    txn_id = request.path_params["txn_id"]
    found = await services(request).store.transaction(account.id, txn_id)
    if found is None:
        return we.error(404, f"Error: no transaction '{txn_id}' in this account.", fmt)
    return we.success(shapes.transaction_doc(found), fmt)


# ---------------------------------------------------------------- routes and their documentation
# The body types admit at least every body `transaction_schema.parse` accepts (it checks more: an email's form,
# NUL, trackConfig's user), so a body outside them is refused, as the document says.

_TEXT_ID = Annotated[
    str,
    msgspec.Meta(description="At most 200 characters; generated (a time-ordered UUIDv7) when absent.", max_length=200),
]


class TxnDedupeIn(msgspec.Struct):
    ttl: Annotated[
        float, msgspec.Meta(description="Seconds: a repeat txnId within them sends nothing again.", ge=5, le=1800)
    ]


class TxnContextIn(msgspec.Struct):
    token: (
        Annotated[dict[str, Any], msgspec.Meta(description="Values for `{{ token.x }}` in the campaign's templates.")]
        | None
    ) = None


class TxnOverrideIn(msgspec.Struct):
    email: (
        Annotated[str, msgspec.Meta(description="Send to this address instead of the profile's.", max_length=254)]
        | None
    ) = None
    phone: (
        Annotated[str, msgspec.Meta(description="Send to this number instead of the profile's.", max_length=32)] | None
    ) = None
    context: TxnContextIn | None = None


class TxnTrackIn(msgspec.Struct):
    eventName: (
        Annotated[str, msgspec.Meta(description="An event recorded for the user with the transaction.")] | None
    ) = None
    updateUser: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(description="A `/users` body applied to the transaction's user (created if new)."),
    ] = None


class TransactionIn(msgspec.Struct, kw_only=True):
    """WebEngage's transaction body (docs.webengage.com, Transactional Campaign API)."""

    userId: Annotated[str, msgspec.Meta(description="The user to send to.", min_length=1, max_length=100)]
    ttl: (
        Annotated[
            float, msgspec.Meta(description="Seconds the send may be retried (default 120).", ge=1, le=schema.MAX_TTL)
        ]
        | None
    ) = None
    txnId: _TEXT_ID | None = None
    dedupe: TxnDedupeIn | None = None
    overrideData: TxnOverrideIn | None = None
    trackConfig: TxnTrackIn | None = None


class TransactionQueued(msgspec.Struct):
    txnId: str
    experimentId: str
    userId: str
    ttl: int


class TxnCampaignDoc(msgspec.Struct, kw_only=True):
    experimentId: str
    status: Annotated[
        str, msgspec.Meta(description="queued, standby (a later link of a fallback chain) or skipped (unreachable).")
    ]
    reason: str | msgspec.UnsetType = msgspec.UNSET


class TransactionsQueued(msgspec.Struct):
    txnId: str
    userId: str
    ttl: int
    mode: str
    campaigns: list[TxnCampaignDoc]


class TxnAttemptDoc(msgspec.Struct):
    at: str
    outcome: str
    error: str | None


class TxnMessageDoc(msgspec.Struct, kw_only=True):
    experimentId: str
    channel: str
    status: Annotated[str, msgspec.Meta(description="queued, standby, skipped, sent, failed or expired.")]
    reason: str | msgspec.UnsetType = msgspec.UNSET
    attempts: list[TxnAttemptDoc]


class TransactionDoc(msgspec.Struct):
    """A transaction: its status and each campaign's message with its delivery attempts."""

    txnId: str
    userId: str
    mode: str
    status: Annotated[str, msgspec.Meta(description="sent, queued, failed or expired.")]
    receivedAt: str
    expiresAt: str
    messages: list[TxnMessageDoc]


def _answer(name: str, data: Any) -> Any:
    body = msgspec.defstruct(f"{name}Body", [("data", data)], module=__name__)
    return msgspec.defstruct(name, [("response", body)], module=__name__)


_RATE = we.RATE_LIMIT
_TRIGGER_REPLIES = (
    Reply(400, "Bad input (the message names the field); nothing was queued.", we.WebEngageError, we.BOTH, _RATE),
    *we.AUTH_REPLIES[:1],
    Reply(
        404,
        "No account has this license code; or an unknown campaign, one not running, or an unknown user.",
        we.WebEngageError,
        we.BOTH,
        _RATE,
    ),
    Reply(
        412,
        "The user cannot be reached (no address, opted out, no channel, processing restricted or an erasure due).",
        we.WebEngageError,
        we.BOTH,
        _RATE,
    ),
    Reply(413, "The body is over the size limit.", we.WebEngageError, we.BOTH, _RATE),
    Reply(415, "The Content-Type is not JSON.", we.WebEngageError, we.BOTH, _RATE),
    Reply(429, "Over the account's 100 transactions per minute.", we.WebEngageError, we.BOTH, we.LIMITED),
    *we.FAILURE_REPLIES,
)
_EXAMPLE = {"userId": "johndoe21#", "txnId": "order-2", "overrideData": {"context": {"token": {"orderId": "A-1"}}}}
_TAG = "Messaging"

routes = [
    ApiRoute(
        f"{PREFIX}/experiments/{{campaign_id}}/transaction",
        single,
        methods=["POST"],
        operations=Operation(
            id="transactionSend",
            summary="Trigger a transactional campaign for a user",
            tag=_TAG,
            description="200 only once the send is committed to the outbox (fsynced); the sender delivers it.",
            security=BEARER,
            params=(LICENSE_CODE, Param("campaign_id", "path", "The campaign's id (`~` and hex)."), FORMAT),
            body=TransactionIn,
            examples={"transaction": _EXAMPLE},
            replies=(
                Reply(200, "Queued.", _answer("TransactionQueuedResponse", TransactionQueued), we.BOTH, _RATE),
                *_TRIGGER_REPLIES,
            ),
        ),
    ),
    ApiRoute(
        f"{PREFIX}/transaction",
        multi,
        methods=["POST"],
        operations=Operation(
            id="transactionSendMulti",
            summary="Trigger several campaigns for a user, all or as a fallback chain",
            tag=_TAG,
            security=BEARER,
            params=(
                LICENSE_CODE,
                Param(
                    "campaignIds",
                    "query",
                    "The campaigns, in fallback order (repeat the parameter).",
                    described(list[str], "1 to 10 campaign ids.", min_length=1, max_length=schema.MAX_CAMPAIGNS),
                    required=True,
                ),
                Param(
                    "mode",
                    "query",
                    "all, fallback_on_attempt_failure or fallback_on_delivery_failure.",
                    described(str, "The mode.", pattern="^(" + "|".join(schema.MODES) + ")$"),
                    required=True,
                ),
                FORMAT,
            ),
            body=TransactionIn,
            examples={"transaction": {**_EXAMPLE, "txnId": "order-3"}},
            replies=(
                Reply(200, "Queued.", _answer("TransactionsQueuedResponse", TransactionsQueued), we.BOTH, _RATE),
                *_TRIGGER_REPLIES,
            ),
        ),
    ),
    ApiRoute(
        f"{PREFIX}/transactions/{{txn_id:anypath}}",
        read_route(status),
        methods=["GET"],
        operations=Operation(
            id="transactionStatus",
            summary="A transaction's status and delivery attempts",
            tag=_TAG,
            security=BEARER,
            params=(LICENSE_CODE, Param("txn_id", "path", "The txnId (URL-encoded).", example="order-1"), FORMAT),
            replies=(
                Reply(
                    200, "Found.", we.success_type("TransactionResponse", TransactionDoc, "The transaction."), we.BOTH
                ),
                Reply(404, "No account has this license code, or no such transaction.", we.WebEngageError, we.BOTH),
                *(r for r in READ_REPLIES if r.status != 404),
            ),
            method="GET",
        ),
    ),
]
