"""The NOTIFY payloads telling other processes about notices: every notice once, in
order, in texts PostgreSQL accepts (under its 8,000-byte limit)."""

import json

from leadgate.services.notify import MAX_PAYLOAD, Hub, Notice


def _notices(n: int, size: int = 40) -> list[Notice]:
    return [Notice("lead.assigned", k, {"lead_id": k, "note": "é" * size}, (k, k + 1))
            for k in range(n)]


def test_small_batch_is_one_payload_with_every_notice() -> None:
    hub = Hub()
    notices = _notices(3)
    (text,) = hub._payloads(notices)
    msg = json.loads(text)
    assert msg["origin"] == hub._origin
    assert [Notice.from_json(d) for d in msg["notices"]] == notices


def test_big_batch_is_split_under_the_limit_in_bytes_and_keeps_order() -> None:
    hub = Hub()
    notices = _notices(400, size=60)  # non-ASCII: 2 bytes per character in UTF-8
    texts = hub._payloads(notices)
    assert len(texts) > 1
    assert all(len(t.encode()) <= MAX_PAYLOAD for t in texts)
    back = [Notice.from_json(d) for t in texts for d in json.loads(t)["notices"]]
    assert back == notices


def test_a_notice_bigger_than_the_limit_goes_alone() -> None:
    hub = Hub()
    big = Notice("lead.assigned", 1, {"blob": "x" * (MAX_PAYLOAD + 10)})
    small = _notices(2)
    texts = hub._payloads([small[0], big, small[1]])
    assert [len(json.loads(t)["notices"]) for t in texts] == [1, 1, 1]
    assert json.loads(texts[1])["notices"][0]["data"]["blob"] == "x" * (MAX_PAYLOAD + 10)
