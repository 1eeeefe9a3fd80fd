"""WebEngage system events (backend names, docs.webengage.com/docs/events, 2026-06-02).

"You cannot create System Events using the WebEngage API": these names are refused on ingest (both
dialects), and so are the events MoEngage adds on a merge.
"""

from __future__ import annotations

from typing import Any

from openengage.records import EventRecord

MOE_USER_MERGED = "MOE_USER_MERGED"
MOE_USER_MERGE_EVENT = "MOE_USER_MERGE_EVENT"

SYSTEM_EVENTS: frozenset[str] = frozenset(
    (
        "app_installed",
        "app_upgraded",
        "app_crashed",
        "app_uninstalled",
        "user_logged_in",
        "user_logged_out",
        "user_session_started",
        "goal_accomplish",
        "gcm_registered",
        "apns_registration_failed",
        "gcm_notification_response",
        "push_notification_queued",
        "push_notification_accepted",
        "push_notification_rejected",
        "push_notification_received",
        "push_notification_close",
        "push_notification_view",
        "push_notification_click",
        "push_notification_rating_submitted",
        "push_notification_item_view",
        "notification_view",
        "notification_close",
        "notification_click",
        "feedback_view",
        "feedback_close",
        "feedback_submit",
        "survey_view",
        "survey_close",
        "survey_complete",
        "survey_submit",
        "sms_queued",
        "sms_accepted",
        "sms_rejected",
        "sms_sent",
        "sms_failed",
        "sms_click",
        "email_queued",
        "email_accepted",
        "email_attempted",
        "email_rejected",
        "email_processed",
        "email_sent",
        "email_bounce",
        "email_delivered",
        "email_complaint",
        "email_abusereport",
        "email_resubscribe",
        "email_unsubscribe",
        "email_spam",
        "email_open",
        "email_click",
        "push_notification_registered",
        "push_notification_unregistered",
        "push_notification_window_view",
        "push_notification_window_denied",
        "push_notification_subscribe_notification_allowed",
        "push_notification_prompt_view",
        "push_notification_prompt_denied",
        "push_notification_prompt_allowed",
        "whatsapp_sent",
        "whatsapp_accepted",
        "whatsapp_rejected",
        "whatsapp_failed",
        "whatsapp_read",
        "whatsapp_click",
        "whatsapp_queued",
        "rcs_accepted",
        "rcs_rejected",
        "rcs_delivered",
        "rcs_failed",
        "rcs_queued",
        "rcs_control_attempted",
        "rcs_click",
        "rcs_read",
        # MoEngage's merge events (Merge Users: the merged user gets MOE_USER_MERGE_EVENT, the retained
        # user MOE_USER_MERGED): the processor writes them on a merge; clients cannot send them.
        MOE_USER_MERGED,
        MOE_USER_MERGE_EVENT,
    )
)

# OpenEngage's own delivery events (issue #10), system events too: no client can forge them.
DELIVERY_EVENTS: frozenset[str] = frozenset(
    ("email_queued", "email_sent", "email_failed", "webhook_queued", "webhook_sent", "webhook_failed")
)
SYSTEM_EVENTS = SYSTEM_EVENTS | DELIVERY_EVENTS


def is_system_event(name: str) -> bool:
    return name in SYSTEM_EVENTS


def delivery_event(name: str, user_id: str, data: dict[str, Any]) -> EventRecord:
    """A system event of a message's life (issue #10), as a record for the ingest log: the processor applies
    it like any event, so it lands on the user's timeline in order. `<channel>_queued` is written by the
    transaction API with the transaction; `<channel>_sent` and `<channel>_failed` by the sender with the
    outcome. `system=True` is what lets a system event name through the processor's rules."""
    return EventRecord(name=name, user_id=user_id, data=data, system=True)
