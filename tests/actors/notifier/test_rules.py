"""The P1 rules, worked by hand (times in seconds from an epoch-based start, as the engine's events carry)."""

from __future__ import annotations

from decimal import Decimal

from actors.gateway.events import StreamConnected, StreamDisconnected, StreamStalled
from actors.notifier.rules import DAY_NS, AlertRules
from actors.notifier.settings import AlertSettings
from actors.oms.messages import OrderRejected
from actors.risk.messages import Notify, RiskState, TradingState
from actors.supervisor.messages import ChildRestarted

S = 1_000_000_000
T0 = 1_700_000_000 * S  # 2023-11-14 22:13:20 UTC


def rules(**kw: object) -> AlertRules:
    return AlertRules(AlertSettings(**kw))  # type: ignore[arg-type]


def at(s: float) -> int:
    return T0 + int(s * S)


# ---------------------------------------------------------------------------------------------- WS down


def test_a_stream_down_longer_than_the_limit_raises_one_p1_and_its_return_another() -> None:
    r = rules(ws_down_alert_s=30)
    assert r.on_stream("ETHUSDC", StreamDisconnected("user", "connection reset", at(0))) == []
    assert r.tick(at(29.9)) == []
    assert r.on_stream("ETHUSDC", StreamDisconnected("user", "refused", at(10))) == []  # a retry: same outage
    assert r.tick(at(30)) == [Notify("P1", "ETHUSDC: user stream down",
                                     "down for 30 s (since 22:13:20 UTC): connection reset; quotes stay pulled "
                                     "until it is back", at(30))]
    assert r.tick(at(300)) == []  # once per outage
    assert r.on_stream("ETHUSDC", StreamConnected("user", "", at(345))) == [
        Notify("P1", "ETHUSDC: user stream back", "reconnected after 345 s down", at(345))]
    assert r.tick(at(1000)) == []


def test_a_short_outage_raises_nothing_not_even_its_return() -> None:
    r = rules(ws_down_alert_s=30)
    assert r.on_stream("ETHUSDC", StreamStalled("market", 3000, at(0))) == []
    assert r.on_stream("ETHUSDC", StreamDisconnected("market", "stalled", at(0.01))) == []
    assert r.on_stream("ETHUSDC", StreamConnected("market", "", at(2))) == []
    assert r.tick(at(60)) == []


def test_a_stall_is_the_start_of_the_outage_and_streams_and_symbols_are_separate() -> None:
    r = rules(ws_down_alert_s=30)
    r.on_stream("ETHUSDC", StreamStalled("market", 3000, at(0)))
    r.on_stream("ETHUSDC", StreamDisconnected("market", "stalled", at(1)))
    r.on_stream("BTCUSDC", StreamDisconnected("market", "reset", at(5)))
    r.on_stream("ETHUSDC", StreamDisconnected("user", "reset", at(20)))
    out = r.tick(at(30))
    assert [(n.title, n.body.split(" (")[0]) for n in out] == [("ETHUSDC: market stream down", "down for 30 s")]
    assert "stalled: nothing for 3000 ms" in out[0].body
    assert [n.title for n in r.tick(at(35))] == ["BTCUSDC: market stream down"]
    # a down event after the limit is reported at once (no tick needed)
    assert [n.title for n in r.on_stream("ETHUSDC", StreamDisconnected("user", "again", at(50)))] == [
        "ETHUSDC: user stream down"]


def test_an_orderly_stop_is_not_an_outage() -> None:
    r = rules(ws_down_alert_s=30)
    r.on_stream("ETHUSDC", StreamDisconnected("user", "reset", at(0)))
    r.on_stream("ETHUSDC", StreamDisconnected("user", "stopped", at(1)))  # the gateway was stopped
    assert r.tick(at(100)) == []
    r.on_stream("ETHUSDC", StreamDisconnected("user", "reset", at(200)))
    r.forget("ETHUSDC")  # its tree is gone for good
    assert r.tick(at(400)) == []


# ---------------------------------------------------------------------------------------------- rejects


def reject(code: int = -5022, reason: str = "post only would take") -> OrderRejected:
    return OrderRejected("mmETHUSDC.r1.1", code, reason, "rejected")


def test_more_than_x_rejects_in_the_window_is_one_alert_until_the_spike_is_over() -> None:
    r = rules(reject_spike_count=3, reject_window_s=60)
    assert [r.on_reject("ETHUSDC", reject(), at(t)) for t in (0, 10, 20)] == [[], [], []]
    (n,) = r.on_reject("ETHUSDC", reject(-2019, "margin is insufficient"), at(30))
    assert n == Notify("P1", "ETHUSDC: order reject spike", "4 orders rejected within 60 s (alert above 3); last: "
                       "rejected -2019 margin is insufficient", at(30))
    assert r.on_reject("ETHUSDC", reject(), at(40)) == []  # the same spike
    assert r.on_reject("BTCUSDC", reject(), at(40)) == []  # another symbol counts on its own
    # at 80 s the window (20, 80] holds 30 and 40: 2 > 3 // 2 = 1, still the same spike
    assert r.tick(at(80)) == []
    assert r.on_reject("ETHUSDC", reject(), at(81)) == []
    assert r.on_reject("ETHUSDC", reject(), at(82)) == []
    # by 142 s everything up to 82 s has left the window: re-armed; four more raise a new alert
    assert r.tick(at(142)) == []
    assert [len(r.on_reject("ETHUSDC", reject(), at(150 + t))) for t in range(4)] == [0, 0, 0, 1]


def test_a_reject_without_a_code_reads_plainly() -> None:
    r = rules(reject_spike_count=1, reject_window_s=60)
    r.on_reject("ETHUSDC", OrderRejected("x", None, "unreadable reply", "unknown_state"), at(0))
    (n,) = r.on_reject("ETHUSDC", OrderRejected("y", None, "unreadable reply", "unknown_state"), at(1))
    assert n.body.endswith("last: unknown_state - unreadable reply")


# ---------------------------------------------------------------------------------------------- daily loss


def state(symbol: str, pnl: str, t_ns: int) -> RiskState:
    return RiskState(symbol, TradingState.ACTIVE, True, False, (), (), "", Decimal(pnl), 0, False, 1, t_ns)


def test_the_daily_loss_warning_fires_once_per_symbol_and_day() -> None:
    r = rules(daily_loss_warn_ratio=0.7)
    limit = Decimal(50)  # warning at -35.0
    assert r.on_risk_state(state("ETHUSDC", "-34.99", at(0)), limit) == []
    (n,) = r.on_risk_state(state("ETHUSDC", "-35.00", at(1)), limit)
    assert n == Notify("P1", "ETHUSDC: daily loss warning", "daily PnL -35.00 is past the warning level -35.0 "
                       "(70% of the max daily loss 50); at -50 trading halts. Trading state: ACTIVE", at(1))
    assert r.on_risk_state(state("ETHUSDC", "-45", at(2)), limit) == []  # once a day
    assert r.on_risk_state(state("ETHUSDC", "-20", at(3)), limit) == []
    assert r.on_risk_state(state("ETHUSDC", "-40", at(4)), limit) == []  # recovered and fell again: same day
    assert len(r.on_risk_state(state("BTCUSDC", "-40", at(4)), limit)) == 1
    next_day = (at(0) // DAY_NS + 1) * DAY_NS
    assert r.on_risk_state(state("ETHUSDC", "-36", next_day - 1), limit) == []
    assert len(r.on_risk_state(state("ETHUSDC", "-36", next_day), limit)) == 1


def test_the_warning_follows_the_limit_in_force() -> None:
    r = rules(daily_loss_warn_ratio=0.5)
    assert r.on_risk_state(state("ETHUSDC", "-30", at(0)), Decimal(100)) == []  # warn at -50
    assert len(r.on_risk_state(state("ETHUSDC", "-30", at(1)), Decimal(60))) == 1  # reloaded: warn at -30
    assert r.on_risk_state(state("BTCUSDC", "-1000", at(1)), Decimal(0)) == []  # no limit, no warning


# ---------------------------------------------------------------------------------------------- restarts


def restarted(tree: str, t: float) -> ChildRestarted:
    return ChildRestarted(tree, ("oms", "strategy", "analyzer"), at(t))


def test_more_than_k_restarts_in_the_window_is_one_alert_per_episode() -> None:
    r = rules(restart_alert_count=2, restart_window_s=600)
    assert r.on_restart(restarted("ETHUSDC", 0)) == []
    assert r.on_restart(restarted("ETHUSDC", 100)) == []
    assert r.on_restart(restarted("BTCUSDC", 150)) == []
    (n,) = r.on_restart(restarted("ETHUSDC", 200))
    assert n == Notify("P1", "ETHUSDC: repeated restarts", "3 child restarts within 600 s (alert above 2); "
                       "last restarted: oms, strategy, analyzer", at(200))
    assert r.on_restart(restarted("ETHUSDC", 300)) == []
    # at 700 s the window (100, 700] holds 200 and 300: 2, not more than 2: re-armed
    assert r.tick(at(700)) == []
    assert len(r.on_restart(restarted("ETHUSDC", 710))) == 1
