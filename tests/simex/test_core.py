"""The pure exchange core driven event by event with crafted feed data: queues, fees, PnL, STP, TIFs."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from simex.errors import ApiError
from simex.exchange import Exchange
from simex.market import DepthSet, TradePrint
from simex.orders import BUY, SELL, OrderRequest
from simex.symbols import DEFAULT_SPECS

SYM = "ETHUSDC"
BID, ASK = 0, 1
T0 = 1_700_000_000_000


def px(s: str) -> int:
    return int(Decimal(s) * 100)


def lots(s: str) -> int:
    return int(Decimal(s) * 1000)


def make(queue_model: str = "proportional") -> Exchange:
    return Exchange(
        {SYM: DEFAULT_SPECS[SYM]},
        ["a", "b"],
        wallet=Decimal(10000),
        leverage=20,
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0005"),
        queue_model=queue_model,
        seed=1,
    )


def depth(ex: Exchange, *levels: tuple[int, str, str], t: int = T0) -> None:
    ex.feed_step(SYM, [DepthSet(tuple((side, px(p), lots(q)) for side, p, q in levels))], t)


def trade(ex: Exchange, price: str, qty: str, taker: int, t: int = T0) -> None:
    ex.feed_step(SYM, [TradePrint(px(price), lots(qty), taker)], t)


def req(
    side: int,
    qty: str,
    price: str | None = None,
    tif: str = "GTC",
    *,
    reduce_only: bool = False,
    cid: str = "",
    stp: str = "EXPIRE_MAKER",
    resp: str = "RESULT",
) -> OrderRequest:
    return OrderRequest(
        SYM,
        side,
        "LIMIT" if price else "MARKET",
        tif if price else "GTC",
        lots(qty),
        px(price) if price else 0,
        reduce_only,
        cid or f"c{side}{qty}{price}{tif}",
        stp,
        resp,
    )


def user(ex: Exchange, account: str = "a", event: str = "ORDER_TRADE_UPDATE") -> list[dict]:
    return [p for a, p in ex.user_out if a == account and p["e"] == event]


def position(ex: Exchange, account: str = "a") -> dict:
    return ex.position_risk(account, SYM, 2)[0]


def test_resting_order_fills_only_after_the_queue_ahead_is_consumed() -> None:
    ex = make()
    depth(ex, (BID, "3000.00", "5"), (ASK, "3000.01", "4"))
    o = ex.place("a", req(BUY, "1", "3000.00"), T0)
    assert o["status"] == "NEW"
    trade(ex, "3000.00", "3", SELL)  # 3 of the 5 ahead
    depth(ex, (BID, "3000.00", "2"))  # the feed shows the trade: no double counting
    assert ex.query("a", SYM, o["orderId"], None)["executedQty"] == "0.000"
    assert ex.state()["accounts"]["a"]["open_orders"][0]["ahead"] == lots("2")
    trade(ex, "3000.00", "2.5", SELL)  # 2 finish the queue ahead, 0.5 reaches us
    got = ex.query("a", SYM, o["orderId"], None)
    assert (got["status"], got["executedQty"]) == ("PARTIALLY_FILLED", "0.500")
    fills = [u["o"] for u in user(ex) if u["o"]["x"] == "TRADE"]
    assert fills[-1]["m"] is True and fills[-1]["L"] == "3000.00" and fills[-1]["n"] == "0.30000000"
    trade(ex, "3000.00", "0.7", SELL)
    assert ex.query("a", SYM, o["orderId"], None)["status"] == "FILLED"
    rows = ex.user_trades("a", SYM)
    assert [r["qty"] for r in rows] == ["0.500", "0.500"] and all(r["maker"] for r in rows)
    assert rows[0]["commission"] == "0.30000000"  # maker fee 0.0002 x 1500


@pytest.mark.parametrize(
    ("model", "ahead", "after"), [("proportional", "3.750", "0.312"), ("front", "3.000", "0")]
)
def test_unexplained_level_decreases_shrink_the_queue_ahead(model: str, ahead: str, after: str) -> None:
    ex = make(model)
    depth(ex, (BID, "3000.00", "5"), (ASK, "3000.01", "4"))
    ex.place("a", req(BUY, "1", "3000.00"), T0)
    depth(ex, (BID, "3000.00", "8"))  # 3 joined behind us
    depth(ex, (BID, "3000.00", "6"))  # 2 cancelled somewhere in the queue
    assert ex.state()["accounts"]["a"]["open_orders"][0]["ahead"] == lots(ahead)
    depth(ex, (BID, "3000.00", "0.5"))  # never more than the level, never below zero
    assert ex.state()["accounts"]["a"]["open_orders"][0]["ahead"] == lots(after)
    depth(ex, (BID, "3000.00", "0"))
    assert ex.state()["accounts"]["a"]["open_orders"][0]["ahead"] == 0


def test_marketable_order_takes_as_taker_with_the_taker_fee() -> None:
    ex = make()
    depth(ex, (BID, "3000.00", "5"), (ASK, "3000.01", "4"), (ASK, "3000.02", "6"))
    r = ex.place("a", req(BUY, "5"), T0)
    assert (r["status"], r["executedQty"], r["avgPrice"]) == ("FILLED", "5.000", "3000.012")
    rows = ex.user_trades("a", SYM)
    assert [(x["price"], x["qty"], x["maker"]) for x in rows] == [
        ("3000.01", "4.000", False),
        ("3000.02", "1.000", False),
    ]
    assert rows[0]["commission"] == "6.00002000"  # 3000.01 x 4 x 0.0005
    assert ex.balances("a", T0)[0]["balance"] == "9992.49997000"  # fees 6.00002 + 1.50001
    snap = ex.snapshot(SYM, 5, T0)
    assert snap["asks"][0] == ["3000.02", "5.000"]  # what we took is gone from the book
    trades = [p for s, p in ex.market_out if s == "ethusdc@trade"]
    assert [(t["p"], t["q"], t["m"]) for t in trades] == [
        ("3000.01", "4.000", False),
        ("3000.02", "1.000", False),
    ]


def test_position_entry_realized_pnl_and_balance_across_partials_and_a_flip() -> None:
    ex = make()
    depth(ex, (BID, "2980.00", "10"), (ASK, "3000.00", "1"))
    ex.place("a", req(BUY, "1"), T0)  # +1 @ 3000
    depth(ex, (ASK, "3010.00", "1"))
    ex.place("a", req(BUY, "1"), T0)  # +1 @ 3010 -> +2 @ 3005
    assert (position(ex)["positionAmt"], position(ex)["entryPrice"]) == ("2.000", "3005.00")
    depth(ex, (BID, "3020.00", "0.5"))
    ex.place("a", req(SELL, "0.5"), T0)  # realize (3020 - 3005) x 0.5 = +7.5
    assert (position(ex)["positionAmt"], position(ex)["entryPrice"]) == ("1.500", "3005.00")
    depth(ex, (BID, "2990.00", "3"))
    ex.place("a", req(SELL, "2.5"), T0)  # close 1.5 @ 2990 (-22.5), open -1 @ 2990
    pos = position(ex)
    assert (pos["positionAmt"], pos["entryPrice"]) == ("-1.000", "2990.00")
    pnl = [r["realizedPnl"] for r in ex.user_trades("a", SYM)]
    assert pnl == ["0.00000000", "0.00000000", "7.50000000", "-22.50000000"]
    fees = (
        Decimal("3000") * Decimal("0.0005")
        + Decimal("3010") * Decimal("0.0005")
        + Decimal("3020") * Decimal("0.5") * Decimal("0.0005")
        + Decimal("2990") * Decimal("2.5") * Decimal("0.0005")
    )
    assert Decimal(ex.balances("a", T0)[0]["balance"]) == Decimal(10000) - 15 - fees
    acct = [p for p in user(ex, event="ACCOUNT_UPDATE")][-1]["a"]
    assert acct["P"][0]["pa"] == "-1.000" and acct["P"][0]["cr"] == "-15.00000000"
    assert acct["B"][0]["wb"] == ex.balances("a", T0)[0]["balance"]


def test_self_trade_prevention_modes() -> None:
    ex = make()
    depth(ex, (BID, "2999.00", "5"), (ASK, "3001.00", "5"))
    maker = ex.place("a", req(SELL, "1", "3000.00", cid="mk1"), T0)
    t = ex.place("a", req(BUY, "1", "3000.00", cid="tk1", stp="EXPIRE_TAKER"), T0)
    assert t["status"] == "EXPIRED_IN_MATCH"
    assert ex.query("a", SYM, maker["orderId"], None)["status"] == "NEW"
    t = ex.place("a", req(BUY, "1", "3000.00", cid="tk2", stp="EXPIRE_MAKER"), T0)
    assert t["status"] == "NEW"  # maker gone, taker rests at 3000.00
    assert ex.query("a", SYM, maker["orderId"], None)["status"] == "EXPIRED_IN_MATCH"
    ex.cancel("a", SYM, t["orderId"], None, T0)
    ex.place("a", req(SELL, "1", "3000.00", cid="mk2"), T0)
    t = ex.place("a", req(BUY, "1", "3000.00", cid="tk3", stp="NONE"), T0)
    assert t["status"] == "FILLED"  # a self-trade when STP is off
    assert position(ex)["positionAmt"] == "0.000"
    ex.place("b", req(SELL, "1", "3000.00", cid="mk3"), T0)
    t = ex.place("a", req(BUY, "1", "3000.00", cid="tk4", stp="EXPIRE_BOTH"), T0)
    assert t["status"] == "FILLED"  # other accounts trade normally
    assert position(ex, "b")["positionAmt"] == "-1.000" and position(ex)["positionAmt"] == "1.000"
    assert ex.user_trades("b", SYM)[0]["maker"] is True


def test_gtx_that_would_take_is_rejected_and_not_recorded() -> None:
    ex = make()
    depth(ex, (BID, "2999.00", "5"), (ASK, "3001.00", "5"))
    with pytest.raises(ApiError) as e:
        ex.place("a", req(BUY, "1", "3001.00", "GTX", cid="gtx1"), T0)
    assert e.value.code == -5022
    with pytest.raises(ApiError) as e:
        ex.query("a", SYM, None, "gtx1")
    assert e.value.code == -2013
    assert ex.place("a", req(BUY, "1", "3000.00", "GTX", cid="gtx2"), T0)["status"] == "NEW"


def test_reduce_only_rules() -> None:
    ex = make()
    depth(ex, (BID, "2999.00", "5"), (ASK, "3001.00", "5"))
    with pytest.raises(ApiError) as e:
        ex.place("a", req(SELL, "1", "3005.00", reduce_only=True), T0)
    assert e.value.code == -2022  # nothing to reduce
    ex.place("a", req(BUY, "1"), T0)
    with pytest.raises(ApiError) as e:
        ex.place("a", req(BUY, "0.1", "2990.00", reduce_only=True), T0)
    assert e.value.code == -2022  # would increase
    with pytest.raises(ApiError) as e:
        ex.place("a", req(SELL, "2", "3005.00", reduce_only=True), T0)
    assert e.value.code == -2022  # would exceed
    ro = ex.place("a", req(SELL, "0.001", "3005.00", reduce_only=True, cid="ro"), T0)
    assert ro["status"] == "NEW"  # reduce-only is exempt from min notional
    ex.place("a", req(SELL, "1"), T0)  # flat: the reduce-only order expires
    assert ex.query("a", SYM, ro["orderId"], None)["status"] == "EXPIRED"


def test_fok_ioc_and_market_expiry() -> None:
    ex = make()
    depth(ex, (BID, "2999.00", "5"), (ASK, "3001.00", "1"), (ASK, "3002.00", "1"))
    fok = ex.place("a", req(BUY, "3", "3002.00", "FOK"), T0)
    assert (fok["status"], fok["executedQty"]) == ("EXPIRED", "0.000")
    ioc = ex.place("a", req(BUY, "3", "3001.00", "IOC"), T0)
    assert (ioc["status"], ioc["executedQty"]) == ("EXPIRED", "1.000")
    xs = [u["o"]["x"] for u in user(ex) if u["o"]["i"] == ioc["orderId"]]
    assert xs == ["NEW", "TRADE", "EXPIRED"]
    fok = ex.place("a", req(BUY, "1", "3002.00", "FOK"), T0)
    assert fok["status"] == "FILLED"


def test_feed_crossing_or_trading_through_our_order_fills_it_as_maker() -> None:
    ex = make()
    depth(ex, (BID, "2999.00", "5"), (ASK, "3001.00", "5"))
    bid = ex.place("a", req(BUY, "1", "3000.00"), T0)
    depth(ex, (ASK, "2999.50", "0.3"))  # the feed's ask moves through our bid
    got = ex.query("a", SYM, bid["orderId"], None)
    assert (got["executedQty"], got["avgPrice"]) == ("0.300", "3000.00")
    assert ex.snapshot(SYM, 5, T0)["asks"][0][0] == "3001.00"  # never left crossed
    ask = ex.place("a", req(SELL, "0.2", "3000.50"), T0)
    trade(ex, "3000.80", "0.05", BUY)  # a buyer paid more than our ask: through us
    assert ex.query("a", SYM, ask["orderId"], None)["status"] == "FILLED"


def test_depth_events_chain_and_include_our_orders() -> None:
    ex = make()
    depth(ex, (BID, "2999.00", "5"), (ASK, "3001.00", "5"))
    snap = ex.snapshot(SYM, 100, T0)
    ex.place("a", req(BUY, "2", "3000.00"), T0)
    ex.place("a", req(SELL, "1", "3000.50"), T0)
    trade(ex, "3000.00", "0.5", SELL)
    evs = [p for s, p in ex.market_out if s == "ethusdc@depth@0ms"]
    first = next(e for e in evs if e["u"] >= snap["lastUpdateId"])
    assert first["U"] <= snap["lastUpdateId"] <= first["u"]
    for a, b in itertools.pairwise(evs):
        assert b["pu"] == a["u"] and b["U"] == a["u"] + 1
    assert ex.snapshot(SYM, 5, T0)["bids"][0] == ["3000.00", "1.500"]
    tickers = [p for s, p in ex.market_out if s == "ethusdc@bookTicker"]
    assert tickers[-1]["b"] == "3000.00" and tickers[-1]["B"] == "1.500" and tickers[-1]["a"] == "3000.50"


def test_margin_and_filters() -> None:
    ex = make()
    depth(ex, (BID, "2999.00", "500"), (ASK, "3001.00", "500"))
    with pytest.raises(ApiError) as e:
        ex.place("a", req(BUY, "0.001", "2999.00"), T0)
    assert e.value.code == -4164
    with pytest.raises(ApiError) as e:
        ex.place("a", req(BUY, "100", "2999.00"), T0)  # 300k notional / 20x > 10k wallet
    assert e.value.code == -2019
    with pytest.raises(ApiError) as e:
        ex.place("a", req(BUY, "1", "3200.00"), T0)  # above the PERCENT_PRICE cap
    assert e.value.code == -4016
    with pytest.raises(ApiError) as e:
        ex.place("a", req(SELL, "1", "2800.00"), T0)
    assert e.value.code == -4024
    ex.place("a", req(BUY, "1", "2990.00", cid="dup"), T0)
    with pytest.raises(ApiError) as e:
        ex.place("a", req(BUY, "1", "2990.00", cid="dup"), T0)
    assert e.value.code == -4116
    assert len(ex.open_orders("a", SYM)) == 1


def test_funding_fee_moves_the_wallet() -> None:
    ex = make()
    depth(ex, (BID, "2999.00", "5"), (ASK, "3001.00", "5"))
    ex.place("a", req(BUY, "1"), T0)
    before = Decimal(ex.balances("a", T0)[0]["balance"])
    ex.apply_funding(__import__("fractions").Fraction(1, 10000), T0)
    after = Decimal(ex.balances("a", T0)[0]["balance"])
    assert before - after == Decimal("0.30000000")  # 1 ETH x 3000 mark x 0.01%
    ev = user(ex, event="ACCOUNT_UPDATE")[-1]["a"]
    assert ev["m"] == "FUNDING_FEE" and "P" not in ev and ev["B"][0]["bc"] == "-0.30000000"


def test_taker_walks_each_level_in_queue_order() -> None:
    ex = make()
    depth(ex, (BID, "2999.00", "5"), (ASK, "3001.00", "2"))
    mk = ex.place("b", req(SELL, "1", "3001.00", cid="b-mk"), T0)   # 2 feed lots ahead of it
    depth(ex, (ASK, "3001.00", "5"))                                  # 3 more join behind
    ex.place("a", req(BUY, "2.5"), T0)                                # feed 2, then b's order 0.5
    got = ex.query("b", SYM, mk["orderId"], None)
    assert (got["status"], got["executedQty"]) == ("PARTIALLY_FILLED", "0.500")
    assert ex.snapshot(SYM, 1, T0)["asks"][0] == ["3001.00", "3.500"]  # 3 feed + 0.5 ours
    ex.place("a", req(BUY, "2"), T0)                                  # b's 0.5 is now first, then feed 1.5
    assert ex.query("b", SYM, mk["orderId"], None)["status"] == "FILLED"
    assert ex.snapshot(SYM, 1, T0)["asks"][0] == ["3001.00", "1.500"]
    assert [r["maker"] for r in ex.user_trades("b", SYM)] == [True, True]
    assert position(ex, "a")["positionAmt"] == "4.500" and position(ex, "b")["positionAmt"] == "-1.000"


def test_two_of_our_orders_share_a_level_fifo() -> None:
    ex = make()
    depth(ex, (BID, "3000.00", "1"), (ASK, "3001.00", "5"))
    first = ex.place("a", req(BUY, "1", "3000.00", cid="f1"), T0)
    second = ex.place("b", req(BUY, "1", "3000.00", cid="f2"), T0)
    trade(ex, "3000.00", "1.5", SELL)        # 1 ahead of both, then 0.5 to the first
    assert ex.query("a", SYM, first["orderId"], None)["executedQty"] == "0.500"
    assert ex.query("b", SYM, second["orderId"], None)["executedQty"] == "0.000"
    trade(ex, "3000.00", "1", SELL)          # 0.5 finishes the first, 0.5 to the second
    assert ex.query("a", SYM, first["orderId"], None)["status"] == "FILLED"
    assert ex.query("b", SYM, second["orderId"], None)["executedQty"] == "0.500"


def test_finished_orders_without_fills_are_pruned_after_retention() -> None:
    ex = make()
    depth(ex, (BID, "2999.00", "5"), (ASK, "3001.00", "5"))
    c = ex.place("a", req(BUY, "1", "2990.00", cid="old"), T0)
    ex.cancel("a", SYM, c["orderId"], None, T0)
    f = ex.place("a", req(BUY, "1", cid="filled"), T0)
    assert ex.prune(T0 + 1000, 5000) == 0
    assert ex.prune(T0 + 6000, 5000) == 1
    with pytest.raises(ApiError):
        ex.query("a", SYM, None, "old")
    assert ex.query("a", SYM, f["orderId"], None)["status"] == "FILLED"
