"""Shared helpers for the simex tests: a tiny signing client (our own, not the engine's), waits, a local
order book kept in sync the way Binance documents, and exchange fixtures."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import websocket

from simex import SimConfig, SimExchange

KEY, SECRET = "simkey", "simsecret"


def wait_for(pred: Callable[[], Any], timeout: float = 5.0, step: float = 0.02) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Client:
    """Signs exactly as Binance documents: HMAC-SHA256 hex of the query string, signature last."""

    def __init__(self, base: str, key: str = KEY, secret: str = SECRET) -> None:
        self.base, self.key, self.secret = base, key, secret
        self.s = requests.Session()
        self.offset_ms = 0

    def sign(self, params: dict[str, Any]) -> str:
        q = urlencode(params)
        return q + "&signature=" + hmac.new(self.secret.encode(), q.encode(), hashlib.sha256).hexdigest()

    def signed(self, method: str, path: str, **params: Any) -> requests.Response:
        params.setdefault("timestamp", int(time.time() * 1000) + self.offset_ms)
        return self.s.request(
            method, f"{self.base}{path}?{self.sign(params)}", headers={"X-MBX-APIKEY": self.key}, timeout=10
        )

    def public(self, path: str, **params: Any) -> requests.Response:
        return self.s.get(f"{self.base}{path}", params=params, timeout=10)

    def ok(self, method: str, path: str, **params: Any) -> Any:
        r = self.signed(method, path, **params)
        assert r.status_code == 200, r.text
        return r.json()

    def err(self, method: str, path: str, **params: Any) -> tuple[int, int]:
        r = self.signed(method, path, **params)
        body = r.json()
        return r.status_code, body["code"]

    def order(self, **params: Any) -> requests.Response:
        return self.signed("POST", "/fapi/v1/order", **params)

    def listen_key(self) -> str:
        r = self.s.post(f"{self.base}/fapi/v1/listenKey", headers={"X-MBX-APIKEY": self.key}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["listenKey"]

    def top(self, symbol: str) -> tuple[Decimal, Decimal]:
        d = self.public("/fapi/v1/depth", symbol=symbol, limit=5).json()
        return Decimal(d["bids"][0][0]), Decimal(d["asks"][0][0])


class WsReader:
    """A websocket-client connection read on a thread into a list of (stream, data) messages."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=5)
        self.msgs: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self) -> None:
        try:
            while True:
                raw = self.ws.recv()
                if not raw:
                    break
                m = json.loads(raw)
                with self.lock:
                    if isinstance(m, dict) and "stream" in m and "data" in m:
                        self.msgs.append((m["stream"], m["data"]))
                    else:
                        self.msgs.append(("", m))
        except Exception:
            pass
        finally:
            self.closed.set()

    def of(self, stream: str) -> list[dict]:
        with self.lock:
            return [d for s, d in self.msgs if s == stream]

    def user(self, event: str | None = None) -> list[dict]:
        with self.lock:
            return [
                d
                for s, d in self.msgs
                if isinstance(d, dict)
                and d.get("e")
                in ((event,) if event else ("ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE", "listenKeyExpired"))
            ]

    def send(self, obj: Any) -> None:
        self.ws.send(json.dumps(obj))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()


class LocalBook:
    """A local book synced from a REST snapshot plus buffered ``@depth`` diffs, by the USDⓈ-M rules."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.last_u: int | None = None
        self.synced = False
        self.gaps = 0

    def load(self, snap: dict) -> None:
        self.bids = {Decimal(p): Decimal(q) for p, q in snap["bids"]}
        self.asks = {Decimal(p): Decimal(q) for p, q in snap["asks"]}
        self.snapshot_id = snap["lastUpdateId"]
        self.last_u = None
        self.synced = False

    def apply(self, ev: dict) -> bool:
        """Apply one diff; False when a gap is detected (the caller must resync)."""
        if not self.synced:
            if ev["u"] < self.snapshot_id:
                return True
            if ev["U"] > self.snapshot_id:  # the bridging event is missing: resync
                self.gaps += 1
                return False
            assert ev["U"] <= self.snapshot_id <= ev["u"], (ev["U"], self.snapshot_id, ev["u"])
            assert ev["U"] <= self.snapshot_id + 1 <= ev["u"]  # the spot-style rule bridges as well
            self.synced = True
        elif ev["pu"] != self.last_u:
            self.gaps += 1
            return False
        for side, key in ((self.bids, "b"), (self.asks, "a")):
            for p, q in ev[key]:
                if Decimal(q) == 0:
                    side.pop(Decimal(p), None)
                else:
                    side[Decimal(p)] = Decimal(q)
        self.last_u = ev["u"]
        return True

    def top(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        bb, ba = max(self.bids), min(self.asks)
        return bb, self.bids[bb], ba, self.asks[ba]


@pytest.fixture
def sx() -> Iterator[SimExchange]:
    with SimExchange(SimConfig(seed=7)) as ex:
        yield ex


@pytest.fixture
def client(sx: SimExchange) -> Client:
    return Client(sx.rest_url)
