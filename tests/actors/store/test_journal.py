"""The OMS journal: one transaction per OMS step, readable back exactly, idempotent, and visible in the
human-facing orders/order_events/fills tables."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from actors.gateway.events import Fill, Side
from actors.store.store import JournalOrder, Store

V, S = "binance-usdm", "ETHUSDC"


def jo(cid: str, status: str, executed: str = "0", terminal: bool = False, state: str = "{}") -> JournalOrder:
    return JournalOrder(cid, "BUY", Decimal("2500.10"), Decimal("0.010"), "GTX", False, 1_000, status, 77,
                        Decimal(executed), terminal, state)


def test_journal_round_trip_and_idempotence(tmp_path: Path) -> None:
    with Store.open(tmp_path / "mm.db") as st:
        st.start_run("r1", symbols=[S], at_ns=1)
        st.journal(venue=V, symbol=S, run_id="r1", at_ns=10, orders=[jo("c1", "INTENT", state='{"s":1}')])
        assert st.order("c1").status == "INTENT"
        fill = Fill(V, S, 5, 77, "c1", Side.BUY, Decimal("2500.10"), Decimal("0.004"), Decimal("0.002"), "USDC",
                    True, Decimal(0), 123)
        for _ in range(2):  # the same step twice changes nothing
            st.journal(venue=V, symbol=S, run_id="r1", at_ns=20,
                       orders=[jo("c1", "PARTIALLY_FILLED", "0.004", state='{"s":2}')], fills=[fill],
                       position='{"lots":4}', ledger='{"cursor":0}')
        assert st.order("c1").status == "PARTIALLY_FILLED" and st.order("c1").executed_qty == Decimal("0.004")
        assert [e.status for e in st.order_events("c1")] == ["PARTIALLY_FILLED"]
        assert len(st.fills(symbol=S)) == 1
        assert st.load_journal(V, S) == (['{"s":2}'], '{"lots":4}', '{"cursor":0}')
        st.journal(venue=V, symbol=S, run_id="r1", at_ns=30,
                   orders=[jo("c1", "FILLED", "0.010", terminal=True, state='{"s":3}')], ledger='{"cursor":5}')
        assert st.load_journal(V, S) == ([], '{"lots":4}', '{"cursor":5}')  # terminal orders are not reloaded
        assert st.order("c1").status == "FILLED"
