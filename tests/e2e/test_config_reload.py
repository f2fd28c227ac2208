"""Hot reload end to end: the spread is changed in the settings file during a run; the quotes on the exchange
and the metric follow, the version is recorded with its diff and an audit row; a broken edit is rejected with
an alert and the running configuration kept."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from actors.store.store import Store

from .harness import KEY, Live, wait_until

SETTINGS = """
[store]
path = "{tmp}/mm.db"
[engine]
state_dir = "{tmp}/locks"
[fees]
maker = "0"
taker = "0.0005"
[strategy]
min_spread_bps = 2.0
fee_buffer_bps = 0.5
quote_interval_ms = 500
refresh_tolerance_bps = 1.0
base_size = "0.01"
inventory_threshold = "0.05"
[risk]
max_inventory = "0.1"
max_order_qty = "0.05"
stale_after_ms = 1500
[oms]
tick_s = 0.2
min_order_lifetime_ms = 300
cancels_per_min = 300
places_per_min = 300
[supervision]
heartbeat_s = 0.5
heartbeat_timeout_s = 2.0
[metrics]
enabled = true
port = 0
"""


def spread_on_exchange(live: Live) -> float | None:
    """The best ask minus the best bid of our resting quotes, in bps of their mid."""
    orders = [o for o in live.sx.state()["accounts"][KEY]["open_orders"] if o["symbol"] == "ETHUSDC"]
    bids = [float(o["price"]) for o in orders if o["side"] == "BUY"]
    asks = [float(o["price"]) for o in orders if o["side"] == "SELL"]
    if not bids or not asks:
        return None
    b, a = max(bids), min(asks)
    return 2e4 * (a - b) / (a + b)


def gauge(port: int, name: str) -> float | None:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and s.labels.get("symbol", "ETHUSDC") == "ETHUSDC":
                return s.value
    return None


def test_the_spread_changes_during_a_run_and_the_quotes_and_the_metric_follow(tmp_path: Path) -> None:
    cfg = tmp_path / "settings.toml"
    cfg.write_text(SETTINGS.format(tmp=tmp_path))
    with Live(tmp_path, config=cfg) as live:
        eng = live.engine
        assert eng is not None and eng.ops.exporter is not None
        port = eng.ops.exporter.port
        assert wait_until(live.quoting, 20), live.tree()
        assert wait_until(lambda: (spread_on_exchange(live) or 99) < 15, 10), spread_on_exchange(live)
        assert gauge(port, "mm_config_version") == 1

        cfg.write_text(cfg.read_text().replace("min_spread_bps = 2.0", "min_spread_bps = 30.0"))
        assert wait_until(lambda: (spread_on_exchange(live) or 0) >= 30, 15), spread_on_exchange(live)
        assert wait_until(lambda: (gauge(port, "mm_quote_spread_bps") or 0) >= 30, 5)
        assert gauge(port, "mm_config_version") == 2
        assert any(a.level == "P2" and "config v2 applied" in a.title for a in live.alerts)

        # an out-of-bounds value: rejected, an alert, the running configuration kept
        cfg.write_text(cfg.read_text().replace("min_spread_bps = 30.0", "min_spread_bps = -1.0"))
        assert wait_until(lambda: any(a.level == "P1" and "rejected" in a.title for a in live.alerts), 10)
        rejected = next(a for a in live.alerts if "rejected" in a.title)
        assert "[strategy] min_spread_bps" in rejected.body and "v2 kept" in rejected.body
        # a table that needs a restart: refused, naming the key
        cfg.write_text(cfg.read_text().replace("min_spread_bps = -1.0", "min_spread_bps = 30.0")
                       .replace("heartbeat_s = 0.5", "heartbeat_s = 0.7"))
        assert wait_until(lambda: sum("rejected" in a.title for a in live.alerts) >= 2, 10)
        assert "supervision" in [a for a in live.alerts if "rejected" in a.title][-1].body
        assert (spread_on_exchange(live) or 0) >= 30  # still quoting on v2
        assert gauge(port, "mm_config_version") == 2
    with Store.open_readonly(tmp_path / "mm.db") as st:
        versions = {v.version: v for v in st.config_versions()}
        assert set(versions) == {1, 2}
        assert "strategy.min_spread_bps" in versions[2].diff and versions[2].applied_by == "file change"
        actions = [a.action for a in st.audit()]
        assert "config_applied" in actions and actions.count("config_rejected") == 2
