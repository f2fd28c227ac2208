"""The intent log end to end: an order logged and sent, whose journal entry never committed (the process
died in between), is recovered at the next start and reconciled with the exchange: never an orphan."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec

from actors.gateway.binance.rest import BinanceRest, OrderRequest
from actors.gateway.events import Side
from actors.oms.intents import IntentLog
from actors.oms.order import Order, Status
from actors.settings import credentials
from actors.store.store import JournalOrder, Store

from .harness import Live, wait_until


def test_an_intent_sent_but_never_journaled_is_recovered_and_reconciled(tmp_path: Path) -> None:
    with Live(tmp_path) as live:
        assert wait_until(live.quoting, 20), live.tree()
        live.stop_engine()
        eng = live.engine
        assert eng is not None
        ins = eng.trees["ETHUSDC"].ctx.instrument
        creds = credentials(live.settings)
        rest = BinanceRest(live.sx.rest_url, creds.api_key, creds.api_secret)  # the engine's own is closed
        book = rest.depth("ETHUSDC", 5)
        price = Decimal(book.bids[0][0]) - 30 * ins.tick_size
        cid = "mmETHUSDC.000000001.0000000001"  # an older run id: the OMS's own ids stay ahead
        # what the OMS does before a send, then the send itself; then "the process dies": no journal entry
        o = Order(cid, Side.BUY, ins.price_to_ticks(price), ins.qty_to_lots(Decimal("0.01")), Status.PENDING_NEW,
                  created_ns=eng.clock.time_ns(), sent_ns=eng.clock.time_ns())
        log = IntentLog(tmp_path / "locks" / "intents-binance-usdm-ETHUSDC.log")
        log.append([JournalOrder(cid, "BUY", price, Decimal("0.01"), "GTX", False, o.created_ns, "INTENT", None,
                                 Decimal(0), False, msgspec.json.encode(o).decode())])
        log.close()
        rest.place_order(OrderRequest("ETHUSDC", Side.BUY, Decimal("0.01"), cid, price=price,
                                          time_in_force="GTX"))
        rest.close()
        assert cid in live.exchange_open_orders()
        with Store.open_readonly(tmp_path / "mm.db") as st:
            assert st.order(cid) is None  # the journal never heard of it

        live.start_engine()  # the OMS reads the log into the journal, then reconciles it like any order in doubt
        assert wait_until(live.quoting, 20), live.tree()

        def acknowledged() -> bool:
            with Store.open_readonly(tmp_path / "mm.db") as st:
                return any(e.status == "NEW" for e in st.order_events(cid))

        assert wait_until(acknowledged, 20)  # reconciliation found it on the exchange: known, acknowledged
        with Store.open_readonly(tmp_path / "mm.db") as st:
            row = st.order(cid)
            # ours from the intent (without the log it would be an orphan found on the exchange: origin 'exchange')
            assert row is not None and row.origin == "intent" and row.exchange_order_id
        assert (tmp_path / "locks" / "intents-binance-usdm-ETHUSDC.log").stat().st_size == 0
        summary = live.stop_engine()
        assert cid not in live.exchange_open_orders()
    assert summary["symbols"]["ETHUSDC"]["open_orders"] == 0
    with Store.open_readonly(tmp_path / "mm.db") as st:
        assert st.order(cid).status == "CANCELED"  # type: ignore[union-attr]
        assert not st.open_orders("ETHUSDC")
