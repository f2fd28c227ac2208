"""A small trading history with known totals, written through the Store's own API (shared with the
query-tool tests). Two UTC days of ETHUSDC; every number below is checked by hand in EXPECTED."""

from __future__ import annotations

from decimal import Decimal as D

from actors.gateway.events import Fill, OrderReport, OrderStatus, Side
from actors.store import LocalStatus, Store

VENUE = "binance-usdm"
SYM = "ETHUSDC"
DAY1_NS = 1_723_075_200 * 10**9  # 2024-08-08T00:00:00Z
DAY2_NS = DAY1_NS + 86_400 * 10**9
H = 3600 * 10**9


def ns_to_ms(ns: int) -> int:
    return ns // 1_000_000


def fill(trade_id: int, order_id: int, cid: str, side: Side, price: str, qty: str, fee: str, asset: str,
         maker: bool, realized: str, at_ns: int) -> Fill:
    return Fill(VENUE, SYM, trade_id, order_id, cid, side, D(price), D(qty), D(fee), asset, maker, D(realized),
                ns_to_ms(at_ns))


def intent(store: Store, cid: str, side: Side, price: str, qty: str, at_ns: int, *, tif: str = "GTX") -> bool:
    return store.record_order_intent(cid, venue=VENUE, symbol=SYM, side=side, price=D(price), qty=D(qty), tif=tif,
                                     reduce_only=False, created_ns=at_ns, run_id="r1", tag="quote")


def populate(store: Store) -> None:
    """7 orders (3 open), 4 fills, a day of funding; see EXPECTED."""
    store.start_run("r1", symbols=["ETHUSDC"], pid=100, host="mm1", code_version="abc123", at_ns=DAY1_NS)
    store.record_config_version(1, {"risk.max_inventory": [None, "0.16"]}, "operator:alice",
                                config={"risk": {"max_inventory": "0.16"}}, comment="first", at_ns=DAY1_NS)
    t = DAY1_NS + 10 * H
    # c1: bought 0.010 at 2500.00, maker
    intent(store, "c1", Side.BUY, "2500.00", "0.010", t)
    store.record_order_event("c1", OrderStatus.NEW, exchange_order_id=1001, executed_qty=0, source="rest", at_ns=t + 1)
    store.record_fill(fill(5001, 1001, "c1", Side.BUY, "2500.00", "0.010", "0.0050", "USDC", True, "0", t + 2),
                      run_id="r1", at_ns=t + 2)
    store.record_order_event("c1", OrderStatus.FILLED, exchange_order_id=1001, executed_qty="0.010",
                             avg_price="2500.00", source="ws", at_ns=t + 3)
    # c2: sell 0.010 at 2501.00, 0.004 filled, the rest still resting
    intent(store, "c2", Side.SELL, "2501.00", "0.010", t + 4)
    store.record_order_event("c2", OrderStatus.NEW, exchange_order_id=1002, executed_qty=0, source="rest",
                             at_ns=t + 5)
    store.record_fill(fill(5002, 1002, "c2", Side.SELL, "2501.00", "0.004", "0.0020008", "USDC", True, "0.004",
                           t + 6), run_id="r1", at_ns=t + 6)
    store.record_order_event("c2", OrderStatus.PARTIALLY_FILLED, exchange_order_id=1002, executed_qty="0.004",
                             avg_price="2501.00", source="ws", at_ns=t + 7)
    # c3: resting bid
    intent(store, "c3", Side.BUY, "2499.00", "0.010", t + 8)
    store.record_order_event("c3", OrderStatus.NEW, exchange_order_id=1003, executed_qty=0, source="rest",
                             at_ns=t + 9)
    # c4: post-only would have taken: rejected
    intent(store, "c4", Side.BUY, "2498.00", "0.010", t + 10)
    store.record_order_event("c4", OrderStatus.REJECTED, code=-5022, reason="post only would take", source="rest",
                             at_ns=t + 11)
    store.record_inventory(VENUE, SYM, position="0.006", open_buy_qty="0.010", open_sell_qty="0.006",
                           entry_price="2500.00", source="exchange", at_ns=t + 12, run_id="r1")
    store.record_risk_event("inventory_soft_limit", venue=VENUE, symbol=SYM, severity="P2", state="SKEW",
                            detail={"worst_long": "0.016", "limit": "0.16"}, at_ns=t + 13, run_id="r1")
    store.record_pnl_snapshot(VENUE, SYM, position="0.006", realized_pnl="0.004", unrealized_pnl="0.003",
                              fees="0.0070008", mark_price="2500.50", at_ns=t + 14, run_id="r1")

    t2 = DAY2_NS + 2 * H
    # c5: sold 0.006 at 2503.00, maker
    intent(store, "c5", Side.SELL, "2503.00", "0.006", t2)
    store.record_order_event("c5", OrderStatus.NEW, exchange_order_id=1005, executed_qty=0, source="rest",
                             at_ns=t2 + 1)
    store.record_fill(fill(5003, 1005, "c5", Side.SELL, "2503.00", "0.006", "0.0030036", "USDC", True, "0.018",
                           t2 + 2), run_id="r1", at_ns=t2 + 2)
    store.record_order_event("c5", OrderStatus.FILLED, exchange_order_id=1005, executed_qty="0.006",
                             avg_price="2503.00", source="ws", at_ns=t2 + 3)
    # c6: an order we never persisted, found on the exchange after a restart (filled, fee paid in BNB)
    store.record_order_report(OrderReport(VENUE, SYM, "c6", 1006, Side.BUY, "LIMIT", "GTC", D("2502.00"),
                                          D("0.002"), D("0.002"), D("2502.00"), OrderStatus.FILLED, False,
                                          ns_to_ms(t2 + 4)), source="reconcile", at_ns=t2 + 4, run_id="r1")
    store.record_fill(fill(5004, 1006, "", Side.BUY, "2502.00", "0.002", "0.00001", "BNB", False, "0", t2 + 5),
                      run_id="r1", at_ns=t2 + 5)
    # c7: persisted, sent, never answered: open until reconciled
    intent(store, "c7", Side.BUY, "2497.00", "0.010", t2 + 6)
    store.record_order_event("c7", LocalStatus.UNKNOWN, reason="timeout", source="oms", at_ns=t2 + 7)
    store.record_income(VENUE, "tran-1", symbol=SYM, asset="USDC", amount="-0.0125", kind="FUNDING_FEE",
                        at_ms=ns_to_ms(DAY2_NS + 8 * H), run_id="r1")
    store.record_inventory(VENUE, SYM, position="0.002", open_buy_qty="0.016", open_sell_qty="0.006",
                           entry_price="2502.00", source="exchange", at_ns=t2 + 8, run_id="r1")
    store.record_audit("operator:alice", "pause", {"symbol": SYM, "api_secret": "hunter2"}, at_ns=t2 + 9,
                       run_id="r1")
    store.record_config_version(2, {"risk.max_inventory": ["0.16", "0.12"]}, "operator:alice",
                                config={"risk": {"max_inventory": "0.12"}}, comment="tighter", at_ns=t2 + 10)
    store.end_run("r1", reason="stopped", at_ns=t2 + 11)


EXPECTED_SUMMARY = {
    "orders": 7,
    "fills": 4,
    "open_orders": 3,  # c2 (partially filled), c3 (new), c7 (unknown)
    "position": "0.002",  # the latest inventory row; fills agree: +0.010 -0.004 -0.006 +0.002
    "realized_pnl": "0.022",  # 0 + 0.004 + 0.018 + 0
    "fees": "0.0100044",  # USDC: 0.0050 + 0.0020008 + 0.0030036 (the BNB fee is listed, not netted)
    "funding": "-0.0125",
    "net_pnl": "-0.0005044",  # 0.022 - 0.0100044 - 0.0125
    "fees_by_asset": {"BNB": "0.00001", "USDC": "0.0100044"},
    "pnl_assets": ["USDC"],
    "runs": 1,
    "risk_events": 1,
    "config_version": 2,
}
