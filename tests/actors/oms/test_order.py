"""The order state machine: every row of the table, every impossible pair, the quantity rules, real fixtures."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from pathlib import Path

import pytest

from actors.gateway.binance.account_parse import parse_user_event
from actors.gateway.events import OrderStatus, OrderUpdate, Side
from actors.instrument import Instrument
from actors.oms.order import (
    TERMINAL,
    TRANSITIONS,
    Anomaly,
    Ev,
    IllegalTransition,
    NewFill,
    OrderEvent,
    Status,
    apply,
    from_fill,
    from_report,
    local,
    recovered,
)
from tests.actors.oms.helpers import INST, T0, fill, order, report

# The table written out independently of the code, as the one place a reader checks it against.
# Columns: the events; cells: the status after it. "." impossible (raises), "=" stays (quantities still
# advance), "live" back to OPEN/PARTIALLY_FILLED (UNKNOWN if never acknowledged).
ABBR = {"N": Status.NEW, "PN": Status.PENDING_NEW, "U": Status.UNKNOWN, "O": Status.OPEN,
        "PF": Status.PARTIALLY_FILLED, "PC": Status.PENDING_CANCEL, "F": Status.FILLED, "C": Status.CANCELED,
        "R": Status.REJECTED, "X": Status.EXPIRED}
COLUMNS = [Ev.SEND, Ev.SEND_UNKNOWN, Ev.REJECT, Ev.CANCEL, Ev.CANCEL_FAILED, Ev.CANCEL_UNKNOWN, Ev.ACK, Ev.PARTIAL,
           Ev.FILL, Ev.CANCELED, Ev.EXPIRED, Ev.NOT_FOUND]
GRID = """
#     SEND SEND_UNKNOWN REJECT CANCEL CANCEL_FAILED CANCEL_UNKNOWN ACK PARTIAL FILL CANCELED EXPIRED NOT_FOUND
N     PN   .            .      C      .             .              .   .       .    .        .       .
PN    .    U            R      .      .             .              O   PF      F    C        X       R
U     .    =            R      .      =             =              O   PF      F    C        X       R
O     .    =            .      PC     =             PC             =   PF      F    C        X       X
PF    .    =            .      PC     =             PC             =   =       F    C        X       X
PC    .    =            .      =      live          =              =   =       F    C        X       C
F     .    =            .      .      =             =              =   =       =    .        .       =
C     .    =            .      .      =             =              =   =       F    =        =       =
X     .    =            .      .      =             =              =   =       F    =        =       =
R     .    =            =      .      .             .              O   PF      F    C        X       =
"""
EXPECTED: dict[tuple[Status, Ev], str] = {}
for _line in GRID.strip().splitlines()[1:]:
    _name, *_cells = _line.split()
    for _ev, _cell in zip(COLUMNS, _cells, strict=True):
        EXPECTED[(ABBR[_name], _ev)] = _cell

QTY = 10
# Filled lots of the order used for each status (so PARTIAL/FILL events mean something).
FILLED_IN = {Status.PARTIALLY_FILLED: 3, Status.FILLED: QTY}
ANOMALY_ROWS = {
    (Status.OPEN, Ev.NOT_FOUND), (Status.PARTIALLY_FILLED, Ev.NOT_FOUND), (Status.FILLED, Ev.NOT_FOUND),
    (Status.CANCELED, Ev.FILL), (Status.EXPIRED, Ev.FILL),
    (Status.REJECTED, Ev.ACK), (Status.REJECTED, Ev.PARTIAL), (Status.REJECTED, Ev.FILL),
}


def _order_in(status: Status):
    return order(status=status, qty=QTY, filled_lots=FILLED_IN.get(status, 0),
                 fill_lots_seen=FILLED_IN.get(status, 0))


def _event(o, kind: Ev) -> OrderEvent:
    """A plausible event of this kind for this order."""
    at = T0 + 1000
    oid = o.exchange_id or 4242
    if kind is Ev.ACK:
        return OrderEvent(kind, at, exchange_id=oid, cum_filled_lots=o.filled_lots)
    if kind is Ev.PARTIAL:
        cum = min(o.filled_lots + 2, QTY - 1) if o.filled_lots < QTY - 1 else o.filled_lots
        return OrderEvent(kind, at, exchange_id=oid, cum_filled_lots=cum)
    if kind is Ev.FILL:
        return OrderEvent(kind, at, exchange_id=oid, cum_filled_lots=QTY)
    if kind in (Ev.CANCELED, Ev.EXPIRED):
        return OrderEvent(kind, at, exchange_id=oid, cum_filled_lots=o.filled_lots)
    return local(kind, at)


def test_grid_is_the_table():
    """The grid above and TRANSITIONS say the same thing, pair for pair."""
    for status, kind in itertools.product(Status, Ev):
        cell = EXPECTED[(status, kind)]
        row = TRANSITIONS.get((status, kind))
        if cell == ".":
            assert row is None, (status, kind)
        else:
            assert row is not None, (status, kind)
            want = {"=": "SAME", "live": "LIVE"}.get(cell, ABBR.get(cell))
            assert row[0] == want, (status, kind, row)


@pytest.mark.parametrize("status,kind", [k for k, v in EXPECTED.items() if v != "."],
                         ids=lambda x: x.value if hasattr(x, "value") else str(x))
def test_every_row(status, kind):
    o = _order_in(status)
    new, effects = apply(o, _event(o, kind))
    cell = EXPECTED[(status, kind)]
    want = status if cell == "=" else (Status.OPEN if cell == "live" else ABBR[cell])
    assert new.status is want
    assert new.filled_lots >= o.filled_lots and new.filled_lots <= new.qty_lots
    assert new.updated_ns == T0 + 1000
    has_anomaly = any(isinstance(e, Anomaly) for e in effects)
    assert has_anomaly == ((status, kind) in ANOMALY_ROWS), effects


@pytest.mark.parametrize("status,kind", [k for k, v in EXPECTED.items() if v == "."],
                         ids=lambda x: x.value if hasattr(x, "value") else str(x))
def test_every_impossible_pair_raises(status, kind):
    o = _order_in(status)
    with pytest.raises(IllegalTransition) as exc:
        apply(o, _event(o, kind))
    assert exc.value.status is status and exc.value.event is kind


def test_terminal_states_leave_only_by_documented_rows():
    left = {(s, k): v[0] for (s, k), v in TRANSITIONS.items() if s in TERMINAL and v[0] not in ("SAME", s)}
    assert left == {
        (Status.CANCELED, Ev.FILL): Status.FILLED,
        (Status.EXPIRED, Ev.FILL): Status.FILLED,
        (Status.REJECTED, Ev.ACK): Status.OPEN,
        (Status.REJECTED, Ev.PARTIAL): Status.PARTIALLY_FILLED,
        (Status.REJECTED, Ev.FILL): Status.FILLED,
        (Status.REJECTED, Ev.CANCELED): Status.CANCELED,
        (Status.REJECTED, Ev.EXPIRED): Status.EXPIRED,
    }


def test_pending_cancel_failed_goes_back_by_what_is_known():
    pc = order(status=Status.PENDING_CANCEL, filled_lots=4)
    assert apply(pc, local(Ev.CANCEL_FAILED, T0))[0].status is Status.PARTIALLY_FILLED
    never_acked = order(status=Status.PENDING_CANCEL, exchange_id=0)
    assert apply(never_acked, local(Ev.CANCEL_FAILED, T0))[0].status is Status.UNKNOWN


# ---------------------------------------------------------------- quantities


def test_fills_count_once_per_trade_id():
    o = order(status=Status.OPEN)
    f = fill(o, trade_id=7, lots=3)
    ev = from_report(report(o, status=OrderStatus.PARTIALLY_FILLED, filled=3), INST, T0, f)
    o1, eff1 = apply(o, ev)
    o2, eff2 = apply(o1, ev)  # duplicated event
    assert [type(e) for e in eff1] == [NewFill] and eff1[0].lots == 3
    assert eff2 == ()
    assert o2.filled_lots == 3 and o2.trade_ids == (7,) and o2.status is Status.PARTIALLY_FILLED


def test_filled_never_decreases_on_stale_reports():
    o = order(status=Status.PARTIALLY_FILLED, filled_lots=6)
    stale = from_report(report(o, status=OrderStatus.PARTIALLY_FILLED, filled=2), INST, T0)
    new, _ = apply(o, stale)
    assert new.filled_lots == 6


def test_overfill_is_reported_and_capped():
    o = order(status=Status.OPEN, qty=10)
    ev = OrderEvent(Ev.PARTIAL, T0, exchange_id=o.exchange_id, cum_filled_lots=12)
    new, effects = apply(o, ev)
    assert new.filled_lots == 10 and new.status is Status.FILLED
    assert any(isinstance(e, Anomaly) and "12" in e.what for e in effects)


def test_fills_beyond_qty_by_trades_are_reported():
    o = order(status=Status.OPEN, qty=5)
    o, _ = apply(o, from_fill(fill(o, trade_id=1, lots=4), INST, T0))
    o, eff = apply(o, from_fill(fill(o, trade_id=2, lots=4), INST, T0))
    assert o.filled_lots == 5 and o.fill_lots_seen == 8 and o.status is Status.FILLED
    assert any(isinstance(e, Anomaly) for e in eff) and any(isinstance(e, NewFill) for e in eff)


def test_partial_status_with_full_quantity_is_filled():
    """A report saying PARTIALLY_FILLED with executed == orig (nautilus' order_update_trade.json does)."""
    o = order(status=Status.PENDING_CANCEL, qty=10)
    new, _ = apply(o, from_report(report(o, status=OrderStatus.PARTIALLY_FILLED, filled=10), INST, T0))
    assert new.status is Status.FILLED


def test_filled_status_with_short_quantity_is_an_anomaly():
    o = order(status=Status.OPEN, qty=10)
    new, eff = apply(o, from_report(report(o, status=OrderStatus.FILLED, filled=7), INST, T0))
    assert new.status is Status.FILLED and new.filled_lots == 10
    assert any(isinstance(e, Anomaly) for e in eff)


def test_late_fill_after_canceled_counts_but_status_stays():
    o = order(status=Status.CANCELED, filled_lots=3, fill_lots_seen=0)
    late = from_report(report(o, status=OrderStatus.PARTIALLY_FILLED, filled=3), INST, T0, fill(o, trade_id=9, lots=3))
    new, eff = apply(o, late)
    assert new.status is Status.CANCELED and new.filled_lots == 3 and new.trade_ids == (9,)
    assert [type(e) for e in eff] == [NewFill]


def test_exchange_id_learned_once_and_conflicts_reported():
    o = order(status=Status.PENDING_NEW)
    o, _ = apply(o, OrderEvent(Ev.ACK, T0, exchange_id=5, cum_filled_lots=0))
    assert o.exchange_id == 5
    o, eff = apply(o, OrderEvent(Ev.ACK, T0, exchange_id=6, cum_filled_lots=0))
    assert o.exchange_id == 5 and any(isinstance(e, Anomaly) for e in eff)


def test_avg_price_from_report_else_from_fills():
    o = order(status=Status.OPEN, qty=10)
    o1, _ = apply(o, from_fill(fill(o, trade_id=1, lots=2, price=300_000), INST, T0))
    o1, _ = apply(o1, from_fill(fill(o, trade_id=2, lots=2, price=300_010), INST, T0))
    assert o1.avg_price == Decimal("3000.05")
    o2, _ = apply(o1, from_report(report(o, status=OrderStatus.PARTIALLY_FILLED, filled=5, avg=Decimal("3000.06")),
                                  INST, T0))
    assert o2.avg_price == Decimal("3000.06") and o2.filled_lots == 5


def test_reasons_kept_on_terminal():
    o = order(status=Status.PENDING_NEW)
    new, _ = apply(o, local(Ev.REJECT, T0, "rejected -5022: post only"))
    assert new.reason == "rejected -5022: post only"
    assert apply(order(status=Status.NEW), local(Ev.CANCEL, T0, "withdrawn"))[0].reason == "withdrawn"


def test_send_and_cancel_times():
    o, _ = apply(order(status=Status.NEW), local(Ev.SEND, T0 + 5))
    assert o.sent_ns == T0 + 5
    o2, _ = apply(order(status=Status.OPEN), local(Ev.CANCEL, T0 + 9))
    assert o2.cancel_sent_ns == T0 + 9 and o2.status is Status.PENDING_CANCEL


def test_recovered_orders_that_may_have_been_sent_are_unknown():
    assert recovered(order(status=Status.NEW), T0).status is Status.UNKNOWN
    assert recovered(order(status=Status.PENDING_NEW), T0).status is Status.UNKNOWN
    o = order(status=Status.PENDING_CANCEL)
    assert recovered(o, T0) is o


def test_exposure_lots_by_status():
    for s in Status:
        o = order(status=s, qty=10, filled_lots=4 if s not in (Status.NEW, Status.PENDING_NEW) else 0)
        if s in TERMINAL:
            assert o.exposure_lots == 0
        else:
            assert o.exposure_lots == o.qty_lots - o.filled_lots


# ---------------------------------------------------------------- real fixtures

USER_DATA = Path("nautilus_trader/crates/adapters/binance/test_data/futures/user_data_json")
BTC = Instrument("BTCUSDT", "BTC", "USDT", Decimal("0.10"), Decimal("0.001"), Decimal("0.001"), Decimal("1000"),
                 Decimal("5"))


@pytest.fixture
def fixture(data_dir: Path):
    return lambda name: _fixture(data_dir / USER_DATA / name)


def _fixture(path: Path) -> OrderUpdate:
    ev = parse_user_event(json.loads(path.read_text()), 0)
    assert isinstance(ev, OrderUpdate)
    return ev


def test_fixture_trade_after_ack_tags_maker_and_fills(fixture):
    trade = fixture("order_update_trade_partial.json")
    rep = trade.report
    o = order(cid=rep.client_order_id, side=Side.BUY, price=BTC.price_to_ticks(rep.price), qty=2,
              status=Status.PENDING_NEW)
    o, eff = apply(o, from_report(rep, BTC, T0, trade.fill))
    assert o.status is Status.PARTIALLY_FILLED and o.filled_lots == 1 and o.exchange_id == rep.order_id
    (nf,) = [e for e in eff if isinstance(e, NewFill)]
    assert nf.fill.is_maker and nf.lots == 1 and nf.fill.trade_id == 12345678
    again, eff2 = apply(o, from_report(rep, BTC, T0, trade.fill))  # the same update twice
    assert again.filled_lots == 1 and not eff2


def test_fixture_partial_status_with_everything_executed(fixture):
    """order_update_trade.json: X=PARTIALLY_FILLED but z == q: the order is done."""
    trade = fixture("order_update_trade.json")
    o = order(cid=trade.report.client_order_id, qty=1, status=Status.OPEN, exchange_id=trade.report.order_id)
    o, _ = apply(o, from_report(trade.report, BTC, T0, trade.fill))
    assert o.status is Status.FILLED and o.remaining_lots == 0


def test_fixture_new_ack(fixture):
    ack = fixture("order_update_new.json")
    o = order(cid=ack.report.client_order_id, qty=1, status=Status.PENDING_NEW)
    o, eff = apply(o, from_report(ack.report, BTC, T0, ack.fill))
    assert o.status is Status.OPEN and o.exchange_id == ack.report.order_id and eff == ()
