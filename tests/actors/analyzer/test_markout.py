"""Markouts on a scripted mid path, and the fill statistics."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.analyzer.markout import MarkoutTracker
from actors.analyzer.stats import FillStats
from actors.gateway.events import Fill, Side

D = Decimal
S, MS = 1_000_000_000, 1_000_000
T0 = 1_700_000_000_000_000_000


def test_scripted_mid_path() -> None:
    m = MarkoutTracker()  # 1 s, 5 s, 30 s
    assert m.on_mid(D("100.00"), T0) == []
    m.on_fill(1, Side.BUY, D("99.99"), D("0.5"), True, T0 + 500 * MS)  # bought 1 bp under the mid
    assert m.on_mid(D("100.02"), T0 + 1000 * MS) == []
    m.on_fill(2, Side.SELL, D("100.03"), D("0.2"), True, T0 + 1000 * MS)
    assert m.on_mid(D("100.05"), T0 + 1400 * MS) == []
    # the next mid comes at 6 s: everything due by then is resolved with the mid in effect when it fell due
    out = m.on_mid(D("99.90"), T0 + 6 * S)
    got = {(o.trade_id, o.horizon_ms): (o.mid, round(o.bps, 4)) for o in out}
    assert got == {
        (1, 1000): (D("100.05"), 6.0006),  # due 1.5 s: (100.05 − 99.99) / 99.99
        (2, 1000): (D("100.05"), -1.9994),  # due 2.0 s: sold at 100.03, the mid went to 100.05: against us
        (1, 5000): (D("100.05"), 6.0006),  # due 5.5 s: still 100.05 (99.90 only from 6 s)
        (2, 5000): (D("99.90"), 12.9961),  # due 6.0 s exactly: the new mid
    }
    assert m.pending == 2
    assert m.on_mid(D("100.00"), T0 + 30 * S) == []
    out = m.on_mid(D("100.10"), T0 + 40 * S)
    got = {(o.trade_id, o.horizon_ms): (o.mid, round(o.bps, 4)) for o in out}
    assert got == {(1, 30000): (D("100.00"), 1.0001), (2, 30000): (D("100.00"), 2.9991)}
    s = m.summary(T0 + 40 * S)
    assert [h.count for h in s.horizons] == [2, 2, 2] and s.pending == 0 and s.fills == 2
    assert s.adverse_selection_rate == 0.0  # at 5 s both were good for us
    assert s.horizons[0].adverse_rate == 0.5
    assert s.edge_bps == pytest.approx(((100.00 - 99.99) / 99.99 * 1e4 + (100.03 - 100.02) / 100.03 * 1e4) / 2)


def test_a_mid_exactly_at_the_due_time_is_the_one_used() -> None:
    m = MarkoutTracker(horizons_ms=(1000,), adverse_horizon_ms=1000)
    m.on_mid(D("100"), T0)
    m.on_fill(7, Side.BUY, D("100"), D("1"), True, T0)
    assert m.on_mid(D("101"), T0 + S - 1) == []
    (o,) = m.on_mid(D("102"), T0 + S)
    assert o.mid == D("102") and o.bps == pytest.approx(200.0)
    m.on_fill(8, Side.SELL, D("102"), D("1"), True, T0 + S)
    (o,) = m.on_mid(D("103"), T0 + 2 * S + 1)  # 1 ns late: the mid in effect at the due time was 102
    assert o.mid == D("102") and o.bps == 0.0


def test_summary_adverse_rate_and_window() -> None:
    m = MarkoutTracker(horizons_ms=(1000, 5000), window_s=60.0, adverse_horizon_ms=1000)
    m.on_mid(D("100.00"), T0)
    # four buys at 100.00; after 1 s the mid is 100.01, 99.99, 99.98, 100.00 → +1, −1, −2, 0 bps
    for i, later in enumerate(("100.01", "99.99", "99.98", "100.00")):
        t = T0 + i * 10 * S
        m.on_mid(D("100.00"), t)
        m.on_fill(i, Side.BUY, D("100.00"), D(i + 1), True, t)
        m.on_mid(D(later), t + S)
        m.on_mid(D("100.00"), t + 2 * S)
    s = m.summary(T0 + 30 * S)
    h1 = s.horizons[0]
    assert (h1.horizon_ms, h1.count) == (1000, 4)
    assert h1.mean_bps == pytest.approx(-0.5) and h1.adverse_rate == 0.5 == s.adverse_selection_rate
    assert h1.qty_weighted_bps == pytest.approx((1 * 1 - 1 * 2 - 2 * 3 + 0 * 4) / 10)
    assert s.fills == 4 and s.edge_bps == 0.0 and s.pending == 1  # the last 5 s horizon is still open
    # 61 s after the first resolution it has left the window
    s = m.summary(T0 + S + 60 * S + 1)
    assert s.horizons[0].count == 3 and s.fills == 3


def test_fill_events_and_validation() -> None:
    m = MarkoutTracker()
    m.on_mid(D("2500.00"), T0)
    m.on_fill_event(Fill("binance-usdm", "ETHUSDT", 9, 1, "c", Side.SELL, D("2500.25"), D("0.1"), D("0.05"),
                         "USDT", True, D(0), 0), T0)
    assert m.summary(T0).edge_bps == pytest.approx(0.25 / 2500.25 * 1e4)
    with pytest.raises(ValueError, match="adverse_horizon_ms"):
        MarkoutTracker(horizons_ms=(1000,), adverse_horizon_ms=5000)


def test_fill_stats() -> None:
    st = FillStats(T0)
    st.on_quoting(True, True, T0)  # both sides quoted for 30 s: one side-minute
    for i in range(6):
        st.on_order_placed(f"q{i}", T0)
    st.on_fill("q0", D("0.01"), D("2500"), True, T0 + S)
    st.on_fill("q0", D("0.01"), D("2500"), True, T0 + 2 * S)  # the same order again
    st.on_fill("q1", D("0.02"), D("2501"), False, T0 + 3 * S)
    st.on_order_cancelled("q2", T0 + 4 * S)
    st.on_order_rejected("q3", T0 + 5 * S)
    st.on_quoting(True, False, T0 + 30 * S)  # one side for 60 s more: two side-minutes in all
    r = st.report(T0 + 90 * S)
    assert (r.orders, r.fills, r.maker_fills, r.taker_fills, r.orders_filled) == (6, 3, 2, 1, 2)
    assert (r.cancels, r.rejects) == (1, 1)
    assert r.quote_minutes == pytest.approx(2.0) and r.fills_per_quote_minute == pytest.approx(1.5)
    assert r.fill_ratio == pytest.approx(2 / 6) and r.maker_ratio == pytest.approx(2 / 3)
    assert r.maker_volume_ratio == pytest.approx(0.5) and r.volume == D("0.04") and r.turnover == D("100.02")
    assert r.cancels_per_fill == pytest.approx(1 / 3)


def test_markouts_per_side_and_regime() -> None:
    m = MarkoutTracker(horizons_ms=(1000,), adverse_horizon_ms=1000)
    m.on_mid(D("100.00"), T0)
    m.on_fill(1, Side.BUY, D("99.99"), D("1"), True, T0, "Calm")  # mid 100.02 after 1 s: +3.0003 bps
    m.on_fill(2, Side.SELL, D("100.01"), D("1"), True, T0, "HighVol")  # sold under the later mid: -0.9999 bps
    m.on_fill(3, Side.BUY, D("100.03"), D("1"), True, T0, "HighVol")  # bought over it: -0.9997 bps
    out = m.on_mid(D("100.02"), T0 + 1 * S)
    assert {o.trade_id: o.regime for o in out} == {1: "Calm", 2: "HighVol", 3: "HighVol"}
    s = m.summary(T0 + 1 * S)
    g = {(x.group, x.key): (x.count, round(x.mean_bps, 4), x.adverse_rate) for x in s.groups}
    assert g == {
        ("side", "BUY"): (2, round((3.0003 - 0.9997) / 2, 4), 0.5),
        ("side", "SELL"): (1, -0.9999, 1.0),
        ("regime", "Calm"): (1, 3.0003, 0.0),
        ("regime", "HighVol"): (2, round((-0.9999 - 0.9997) / 2, 4), 1.0),
    }
    assert s.adverse_selection_rate == pytest.approx(2 / 3) and s.adverse_fills == 3


def test_markouts_are_stored_once(tmp_path) -> None:
    from actors.store.store import Store

    m = MarkoutTracker(horizons_ms=(1000, 5000), adverse_horizon_ms=1000)
    m.on_mid(D("100.00"), T0)
    m.on_fill(7, Side.BUY, D("99.99"), D("0.5"), False, T0, "TrendUp")
    out = m.on_mid(D("100.01"), T0 + 6 * S)
    with Store.open(tmp_path / "mm.db") as st:
        st.start_run("r1", symbols=["ETHUSDC"], pid=1, host="h", code_version="x", at_ns=T0)
        assert st.record_markouts("sim", "ETHUSDC", out, run_id="r1") == 2
        assert st.record_markouts("sim", "ETHUSDC", out, run_id="r1") == 0  # idempotent
        rows = st.markouts(symbol="ETHUSDC")
    assert [(r["trade_id"], r["horizon_ms"], r["side"], r["regime"], r["maker"], r["mid"]) for r in rows] == [
        (7, 1000, "BUY", "TrendUp", 0, "100.00"), (7, 5000, "BUY", "TrendUp", 0, "100.00")]
    assert rows[0]["bps"] == pytest.approx(1.0001, abs=1e-4)
