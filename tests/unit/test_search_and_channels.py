"""Pure rules of the dashboard's data pages: searchable terms of a profile, channel reachability."""

from __future__ import annotations

from openengage.rules.channels import reachability
from openengage.rules.search import MAX_TERM, normalize, prefix_end, profile_terms, value_term


def test_normalize_trims_spaces_folds_ascii_and_cuts() -> None:
    assert normalize("  Ann.LEE@Example.COM ") == "ann.lee@example.com"
    assert normalize("ÉLODIE") == "Élodie"  # only A-Z fold (what both stores' SQL can repeat exactly)
    assert normalize("\tTab") == "\ttab"  # only spaces are trimmed
    assert normalize("x" * 500) == "x" * MAX_TERM


def test_value_terms() -> None:
    assert value_term("Gold") == "gold"
    assert value_term("   ") is None
    assert value_term(42) == "42" and value_term(-7) == "-7"
    assert value_term(2**63) is None  # past 64 bits: the stores cannot say the same
    for none in (True, False, 0.5, 3.0, None, {"a": 1}, ["a"]):
        assert value_term(none) is None


def test_profile_terms_first_field_wins_and_arrays_are_capped() -> None:
    terms = profile_terms(
        "Ann",
        {"firstName": "ann", "email": "a@x.io", "emailOptIn": True},
        {"Nick": "ANN", "Tags": [f"t{i}" for i in range(60)] + ["late"], "Obj": {"k": "v"}, "N": 5},
    )
    assert terms["ann"] == "userId"  # the user id, then system, then custom attributes
    assert terms["a@x.io"] == "email" and terms["5"] == "attributes.N"
    assert "t49" in terms and "t50" not in terms and "late" not in terms  # the first 50 elements
    assert "v" not in terms and "true" not in terms


def test_prefix_end_bounds_every_continuation() -> None:
    end = prefix_end("ann")
    assert "ann" < "ann@x" < "ann\U0010fffe" < end and end < "ano"


def test_reachability_needs_an_address_and_no_opt_out() -> None:
    channels = {c.name: c for c in reachability({"email": "a@x.io", "phone": "+14155550100"}, [])}
    assert channels["Email"].reachable and channels["SMS"].reachable
    assert not channels["WhatsApp"].reachable and "opted out" in channels["WhatsApp"].why  # needs an opt-in
    assert not channels["Push"].reachable and channels["Push"].why == "no device with a push token"
    opted = {c.name: c for c in reachability({"email": "a@x.io", "emailOptIn": False, "whatsappOptIn": True,
                                               "phone": "+1"}, [])}  # fmt: skip
    assert not opted["Email"].reachable and opted["WhatsApp"].reachable
    none = {c.name: c for c in reachability({"email": "  "}, [])}
    assert not none["Email"].reachable and none["Email"].address is None


def test_push_reachability_by_device() -> None:
    devices = [{"push_id": "tok-1", "moe_push_opted": False}, {"push_id": "", "platform": "ANDROID"}]
    push = reachability({}, devices)[3]
    assert not push.reachable and push.why == "every device opted out of push"
    push = reachability({}, [*devices, {"push_id": "tok-2"}])[3]
    assert push.reachable and push.address == "1 device(s)"
