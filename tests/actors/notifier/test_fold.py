"""Folding and rate limits, worked by hand on a clock in seconds."""

from __future__ import annotations

import pytest

from actors.notifier.fold import Delivery, Folder

S = 1_000_000_000


def folder(p0: int = 20, p1: int = 10, p2: int = 5, fold_s: int = 60, rate_s: int = 60) -> Folder:
    return Folder(fold_s * S, rate_s * S, {"P0": p0, "P1": p1, "P2": p2})


def test_duplicates_within_the_window_become_one_delivery_and_the_next_one_counts_them() -> None:
    f = folder()
    assert f.offer("P1", "ETHUSDC: order reject spike", "21 rejects", 0) == [
        Delivery("P1", "ETHUSDC: order reject spike", "21 rejects")]
    assert f.offer("P1", "ETHUSDC: order reject spike", "25 rejects", 10 * S) == []
    assert f.offer("P1", "ETHUSDC: order reject spike", "30 rejects", 59 * S) == []
    assert f.folded["P1"] == 2
    assert f.pending() == {"P0": 0, "P1": 2, "P2": 0}
    assert f.tick(59 * S) == []  # the window (0 + 60 s) is not over yet
    # at 60 s: one delivery with the latest body and the count; it opens the next window
    assert f.tick(60 * S) == [Delivery("P1", "ETHUSDC: order reject spike",
                                       "30 rejects\n(+2 similar in the last 60 s)")]
    assert f.pending()["P1"] == 0
    assert f.offer("P1", "ETHUSDC: order reject spike", "31 rejects", 100 * S) == []  # within 60..120 s
    assert f.tick(119 * S) == []
    assert f.tick(120 * S) == [Delivery("P1", "ETHUSDC: order reject spike",
                                        "31 rejects\n(+1 similar in the last 60 s)")]
    # a quiet window forgets the title: the next one is delivered at once, with no note
    assert f.tick(180 * S) == []
    assert f.offer("P1", "ETHUSDC: order reject spike", "22 rejects", 181 * S) == [
        Delivery("P1", "ETHUSDC: order reject spike", "22 rejects")]
    assert f.folded["P1"] == 3 and f.suppressed["P1"] == 0


def test_the_first_after_the_window_carries_the_count_when_no_tick_came_between() -> None:
    f = folder()
    f.offer("P0", "ETHUSDC panicstop", "risk: loss", 0)
    f.offer("P0", "ETHUSDC panicstop", "risk: loss again", 5 * S)
    assert f.offer("P0", "ETHUSDC panicstop", "supervisor", 75 * S) == [
        Delivery("P0", "ETHUSDC panicstop", "supervisor\n(+1 similar in the last 75 s)")]
    assert f.tick(80 * S) == []  # nothing left to say about it


def test_only_the_same_level_and_title_fold() -> None:
    f = folder()
    assert len(f.offer("P1", "ETHUSDC: user stream down", "a", 0)) == 1
    assert len(f.offer("P1", "BTCUSDC: user stream down", "a", 1)) == 1
    assert len(f.offer("P0", "ETHUSDC: user stream down", "a", 2)) == 1
    assert f.offer("P1", "ETHUSDC: user stream down", "b", 3) == []
    assert f.folded == {"P1": 1}


def test_past_the_budget_alerts_are_held_and_summarised_never_lost() -> None:
    f = folder(p1=2)
    assert len(f.offer("P1", "a", "x", 0)) == 1
    assert len(f.offer("P1", "b", "x", 1 * S)) == 1
    assert f.offer("P1", "c", "x", 2 * S) == []  # budget: 2 per 60 s
    assert f.offer("P1", "d", "x", 3 * S) == []
    assert f.offer("P1", "c", "x again", 4 * S) == []  # folded into the held "c" (its window opened at 2 s)
    assert f.suppressed["P1"] == 2 and f.folded["P1"] == 1
    assert f.tick(59 * S) == []  # "a" at 0 s still counts until 60 s
    # at 62 s "c" (held at 2 s, one folded since) is due: that release fits the budget again and carries
    # the held-back summary
    assert f.tick(62 * S) == [
        Delivery("P1", "c", "x again\n(+1 similar in the last 60 s)\n(+2 more P1 alerts held back by the rate "
                             "limit: c ×1, d ×1)")]
    assert f.pending()["P1"] == 0


def test_a_held_back_summary_goes_out_on_its_own_when_nothing_else_does() -> None:
    f = folder(p2=1)
    f.offer("P2", "daily summary", "x", 0)
    f.offer("P2", "config applied v7", "y", 1 * S)
    f.offer("P2", "config applied v8", "z", 2 * S)
    assert f.tick(30 * S) == []
    assert f.tick(60 * S) == [Delivery("P2", "P2 alerts held back by the rate limit",
                                       "2 P2 alerts were not sent on their own: config applied v7 ×1, "
                                       "config applied v8 ×1")]
    assert f.tick(200 * S) == []


def test_the_next_allowed_delivery_carries_what_was_held_back() -> None:
    f = folder(p1=1)
    f.offer("P1", "a", "x", 0)
    f.offer("P1", "b", "y", 1 * S)
    f.offer("P1", "b", "y", 2 * S)  # folded into the held "b"
    assert f.offer("P1", "e", "z", 60 * S) == [
        Delivery("P1", "e", "z\n(+1 more P1 alerts held back by the rate limit: b ×1)")]
    # "b"'s one folded repeat is released when its window closes, within the budget of the next window
    assert f.tick(121 * S) == [Delivery("P1", "b", "y\n(+1 similar in the last 120 s)")]


def test_a_p1_and_p2_storm_never_delays_a_p0() -> None:
    f = folder(p0=3, p1=2, p2=2)
    for i in range(100):
        f.offer("P1", f"p1 {i}", "x", i)
        f.offer("P2", f"p2 {i}", "x", i)
    assert f.suppressed == {"P1": 98, "P2": 98}
    assert f.offer("P0", "ETHUSDC panicstop", "now", 200) == [Delivery("P0", "ETHUSDC panicstop", "now")]


def test_a_p0_storm_is_rate_limited_by_its_own_budget_and_summarised() -> None:
    f = folder(p0=2)
    out = [d for i in range(5) for d in f.offer("P0", f"{i} panicstop", "x", i * S)]
    assert [d.title for d in out] == ["0 panicstop", "1 panicstop"]
    (summary,) = f.tick(61 * S)
    assert summary.level == "P0" and summary.body.startswith("3 P0 alerts were not sent on their own: 2 panicstop ×1")


def test_a_summary_names_five_titles_and_counts_the_rest() -> None:
    f = folder(p1=1)
    f.offer("P1", "first", "x", 0)
    for i in range(8):
        for _ in range(8 - i):  # t0 held 8 times (1 + 7 folded), t1 7 times, ...
            f.offer("P1", f"t{i}", "x", 1)
    # just past 60 s: the budget allows one release: the first due fold (t0's 7 repeats), carrying the
    # summary; the other repeats are held again
    (d, *rest) = f.tick(60 * S + 1)
    assert rest == []
    assert d.title == "t0"
    assert "(+8 more P1 alerts held back by the rate limit: t0 ×1, t1 ×1, t2 ×1, t3 ×1, t4 ×1 and 3 more titles)" \
        in d.body


def test_final_tick_releases_everything_pending_whatever_the_windows_and_budget() -> None:
    f = folder(p1=1)
    f.offer("P1", "a", "x", 0)
    f.offer("P1", "a", "x2", 1)
    f.offer("P1", "b", "y", 2)
    out = f.tick(3, final=True)
    assert [d.title for d in out] == ["P1 alerts held back by the rate limit"]
    assert out[0].body == "2 P1 alerts were not sent on their own: b ×1, a ×1"
    assert f.pending() == {"P0": 0, "P1": 0, "P2": 0}


def test_attachments_travel_with_the_delivery_and_the_latest_folded_one_is_kept() -> None:
    f = folder()
    assert f.offer("P2", "daily report", "x", 0, ("/r/day1.md",)) == [
        Delivery("P2", "daily report", "x", ("/r/day1.md",))]
    f.offer("P2", "daily report", "y", 1, ("/r/day2.md", "/r/day2.png"))
    (d,) = f.tick(60 * S)
    assert d.attach == ("/r/day2.md", "/r/day2.png")


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="budget"):
        Folder(S, S, {"P0": 1, "P1": 1})
    with pytest.raises(ValueError, match="level"):
        folder().offer("P9", "t", "b", 0)
