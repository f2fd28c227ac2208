"""Operating it, end to end on the live code path: Prometheus metrics scraped over HTTP from a trading
engine, and a P0 panicstop delivered through apprise to a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import queue
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.base import Crash

from .harness import Live, wait_until


@pytest.fixture
def receiver() -> Iterator[tuple[str, queue.Queue[tuple[str, dict[str, Any]]]]]:
    got: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            n = int(self.headers.get("Content-Length", 0))
            got.put((self.path, json.loads(self.rfile.read(n))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"json://127.0.0.1:{server.server_address[1]}", got
    server.shutdown()
    server.server_close()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    """The sum over the series of ``name`` whose labels include ``labels``."""
    return sum(v for (n, lb), v in samples.items() if n == name and set(labels.items()) <= set(lb))


def test_metrics_are_scraped_and_a_panicstop_pages_through_apprise(tmp_path: Path, receiver: Any) -> None:
    base, got = receiver
    with Live(tmp_path, sim={"regimes": (("ETHUSDC", "high_vol"),)}, metrics={"enabled": True, "port": 0},
              alerts={"p0_urls": [f"{base}/p0"], "p1_urls": [f"{base}/p1"], "p2_urls": [f"{base}/p2"]},
              supervision={"max_restarts": 1, "within_s": 60.0}) as live:
        eng = live.engine
        assert eng is not None and eng.ops.exporter is not None
        port = eng.ops.exporter.port
        assert wait_until(live.quoting, 20), live.tree()
        assert wait_until(lambda: live.exchange_fills() >= 1, 60), "no fills"

        def traded() -> dict[Any, float] | None:
            s = scrape(port)
            ok = (value(s, "mm_fills_total", symbol="ETHUSDC") >= 1
                  and value(s, "mm_tick_to_order_seconds_count", symbol="ETHUSDC") >= 1)
            return s if ok else None

        s = wait_until(traded, 30)
        assert s, scrape(port)
        sym = {"symbol": "ETHUSDC", "exchange": "binance-usdm"}
        assert value(s, "mm_orders_placed_total", **sym) >= 1
        assert value(s, "mm_trading_state", **sym) == 0  # ACTIVE
        assert value(s, "mm_ws_connected", stream="market", **sym) == 1
        assert value(s, "mm_rest_latency_seconds_count", exchange="binance-usdm") >= 1
        assert 0 < value(s, "mm_quote_spread_bps", **sym) < 50  # the strategy's 2 bps floor, on ticks
        assert value(s, "mm_oms_latency_seconds_count", **sym) >= 1
        assert value(s, "mm_book_staleness_seconds", **sym) < 5
        assert ("mm_position", tuple(sorted(sym.items()))) in s

        for i in range(2):  # the second crash is past the intensity: the tree panicstops
            live.peers().tell("oms", Crash(f"crash {i}"))
            assert wait_until(lambda i=i: len(eng.stats.child_restarts) > i or eng.stats.trees_gave_up, 10)
        assert wait_until(lambda: eng.stats.trees_gave_up, 10)
        path, body = got.get(timeout=15)
        while "panicstop" not in body.get("title", ""):
            path, body = got.get(timeout=15)
        assert path == "/p0" and body["type"] == "failure" and "ETHUSDC" in body["title"]
        assert "no order left open" in body["message"]
        after = wait_until(lambda: (lambda x: x if value(x, "mm_tree_restarts_total", **sym) >= 1 else None)(
            scrape(port)), 10)
        assert after
        # every restart the supervisors reported is counted, by actor (the tree's own give-up is the metric above)
        oms_restarts = sum("oms" in ev.children for ev in eng.stats.child_restarts)
        assert value(after, "mm_actor_restarts_total", actor="oms", **sym) == oms_restarts

