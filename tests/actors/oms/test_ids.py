"""Client order ids: valid for Binance, unique across restarts, sortable."""

from __future__ import annotations

import pytest

from actors.oms.ids import CLIENT_ID_RE, ClientIds, next_run_id, parse_client_id
from tests.actors.oms.helpers import T0


def test_ids_are_valid_sorted_and_unique_within_a_run():
    g = ClientIds("mmETHUSDC", next_run_id(T0))
    ids, g = g.take(1000)
    more, _ = g.take(5)
    all_ids = list(ids + more)
    assert all(CLIENT_ID_RE.match(i) and len(i) <= 36 for i in all_ids)
    assert all_ids == sorted(all_ids) and len(set(all_ids)) == len(all_ids)


def test_run_ids_grow_even_when_the_clock_does_not():
    r1 = next_run_id(T0)
    r2 = next_run_id(T0, r1)  # restarted within the same millisecond
    r3 = next_run_id(T0 - 10**12, r2)  # the clock stepped back
    assert r1 < r2 < r3
    a, _ = ClientIds("mm", r1).take(3)
    b, _ = ClientIds("mm", r2).take(1)
    assert max(a) < min(b) and not set(a) & set(b)


def test_longest_tag_fits_36_chars():
    (cid,), _ = ClientIds("A" * 14, next_run_id(T0)).take(1)
    assert len(cid) <= 36 and CLIENT_ID_RE.match(cid)


@pytest.mark.parametrize("tag", ["", "has.dot", "A" * 15, "sp ace"])
def test_bad_tags_are_refused(tag):
    with pytest.raises(ValueError):
        ClientIds(tag, next_run_id(T0))


def test_parse_recognises_our_ids_only():
    (cid,), _ = ClientIds("mm", next_run_id(T0)).take(1)
    assert parse_client_id(cid) == ("mm", next_run_id(T0), 1)
    assert parse_client_id("autoclose-1234567890") is None and parse_client_id("web_xyz") is None
