"""Position from fills (exact PnL and fees from the exchange's figures) and the ledger that counts each once."""

from __future__ import annotations

from decimal import Decimal

from actors.gateway.events import Side
from actors.oms.position import FillLedger, Position
from tests.actors.oms.helpers import fill


def f(side, lots, price, trade_id=1, commission="0.01", rp="0", asset="USDC", ms=1):
    fl = fill(trade_id=trade_id, lots=lots, side=side, price=price, commission=commission, rp=rp, ms=ms)
    return fl if asset == "USDC" else fl.__class__(**{**{k: getattr(fl, k) for k in fl.__slots__},
                                                      "commission_asset": asset})


def test_open_add_reduce_flip_close():
    p = Position()
    p = p.apply(f(Side.BUY, 10, 300_000), 10)
    assert p.lots == 10 and p.avg_entry == Decimal("3000.00")
    p = p.apply(f(Side.BUY, 10, 300_100), 10)
    assert p.lots == 20 and p.avg_entry == Decimal("3000.50")
    p = p.apply(f(Side.SELL, 5, 301_000, rp="0.0525"), 5)
    assert p.lots == 15 and p.avg_entry == Decimal("3000.50")  # reducing keeps the entry
    p = p.apply(f(Side.SELL, 25, 299_000, rp="-0.225"), 25)
    assert p.lots == -10 and p.avg_entry == Decimal("2990.00")  # flipped: the rest opened here
    p = p.apply(f(Side.BUY, 10, 298_000, rp="0.1"), 10)
    assert p.lots == 0 and p.avg_entry == 0
    assert p.realized_pnl == Decimal("-0.0725")  # exactly the exchange's figures summed
    assert p.fee("USDC") == Decimal("0.05")


def test_fees_per_asset_and_rebates():
    p = Position().apply(f(Side.BUY, 1, 300_000, commission="-0.002"), 1)
    p = p.apply(f(Side.BUY, 1, 300_000, commission="0.0001", asset="BNB"), 1)
    assert p.fee("USDC") == Decimal("-0.002") and p.fee("BNB") == Decimal("0.0001")
    assert p.fees == (("BNB", Decimal("0.0001")), ("USDC", Decimal("-0.002")))


def test_with_lots_adopts_the_exchange_figure():
    p = Position(5, Decimal("3000"), Decimal("1.5")).with_lots(7)
    assert p.lots == 7 and p.realized_pnl == Decimal("1.5")
    assert Position(5, Decimal("3000")).with_lots(0).avg_entry == 0


def test_ledger_counts_once_across_paths_and_cursor():
    lg = FillLedger(cursor=100)
    assert lg.seen(100) and lg.seen(7) and not lg.seen(101)
    lg = lg.add(f(Side.BUY, 2, 300_000, trade_id=110, ms=50), 2).add(f(Side.SELL, 1, 300_000, trade_id=104, ms=60), 1)
    assert lg.seen(110) and lg.seen(104) and not lg.seen(105)
    assert lg.fetch_from == 101
    assert lg.lots_after(55) == -1 and lg.lots_after(0) == 1
    lg2 = lg.advance(105)
    assert lg2.cursor == 105 and [r.trade_id for r in lg2.recent] == [110] and lg2.seen(104)
    assert lg2.advance(90) is lg2  # never backwards
    assert FillLedger().fetch_from == 0  # no cursor: the latest page
