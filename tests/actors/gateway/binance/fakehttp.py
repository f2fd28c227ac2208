"""A scripted HTTP transport for BinanceRest unit tests: no sockets, every request recorded and checked."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

KEY, SECRET = "test-key-AAAA", "test-secret-BBBB"


@dataclass
class Seen:
    method: str
    path: str
    query: str  # Binance's totalParams: the URL's query string followed by the form body
    params: dict[str, str]
    headers: dict[str, str]
    at_ns: int  # the fake clock when it was sent
    in_body: bool = False  # the parameters came as a form body (writes), not in the URL

    @property
    def signature_ok(self) -> bool:
        payload, _, sig = self.query.rpartition("&signature=")
        return hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest() == sig


Reply = tuple[int, object] | tuple[int, object, dict[str, str]] | BaseException
Handler = Callable[[Seen], Reply]


@dataclass
class FakeAdapter(BaseAdapter):
    clock: object = None
    routes: dict[tuple[str, str], list[Reply | Handler]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def on(self, method: str, path: str, *replies: Reply | Handler) -> FakeAdapter:
        self.routes.setdefault((method, path), []).extend(replies)
        return self

    def calls(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        return [s for s in self.seen
                if (method is None or s.method == method) and (path is None or s.path == path)]

    def send(self, request, **kwargs):
        u = urlsplit(request.url)
        body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
        total = u.query + body
        s = Seen(request.method, u.path, total, dict(parse_qsl(total)), dict(request.headers),
                 self.clock.time_ns() if self.clock else 0, bool(body))
        self.seen.append(s)
        queue = self.routes.get((request.method, u.path))
        if not queue:
            raise AssertionError(f"unexpected request {request.method} {u.path}")
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        reply = item(s) if callable(item) and not isinstance(item, BaseException) else item
        if isinstance(reply, BaseException):
            raise reply
        status, body, *rest = reply
        headers = rest[0] if rest else {}
        resp = requests.Response()
        resp.status_code = status
        resp._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        resp.headers = CaseInsensitiveDict({"Content-Type": "application/json", **headers})
        resp.url = request.url
        resp.request = request
        return resp

    def close(self) -> None:
        pass
