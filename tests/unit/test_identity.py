from __future__ import annotations

from openengage.rules.identity import Identify, ProfileData, identify_action, merge_into


def test_identify_actions() -> None:
    assert identify_action(known_profile=5, anon_profile=None, anon_profile_user=None) is Identify.LINK
    assert identify_action(None, None, None) is Identify.LINK
    assert identify_action(None, 7, None) is Identify.PROMOTE
    assert identify_action(5, 7, None) is Identify.MERGE
    assert identify_action(5, 5, "u") is Identify.ALREADY
    assert identify_action(5, 7, "someone-else") is Identify.CONFLICT


def test_merge_keeps_known_values_and_fills_gaps() -> None:
    known = ProfileData("u1", {"firstName": "Known"}, {"plan": "gold"}, first_seen=200, last_seen=300)
    anon = ProfileData(None, {"firstName": "Anon", "city": "Pune"}, {"plan": "free", "visits": 3}, 100, 400)
    merge_into(known, anon)
    assert known.system == {"firstName": "Known", "city": "Pune"}
    assert known.attributes == {"plan": "gold", "visits": 3}
    assert (known.first_seen, known.last_seen) == (100, 400)
    assert known.user_id == "u1"


def test_seen_tracks_min_and_max() -> None:
    data = ProfileData(None)
    data.seen(50)
    data.seen(10)
    data.seen(30)
    assert (data.first_seen, data.last_seen) == (10, 50)
