"""The requests transport: every call off the order path (snapshots, account, listen keys, time), and every
call when a ``requests.Session`` is injected (the unit tests' scripted adapter).

The request is built directly rather than through ``Session.request``, whose generic preparation (settings
merges, URL re-parsing and re-quoting of a long signed query) cost about a millisecond per call here; the
adapter's ``send`` is called as is (no redirects, no proxies from the environment). Failures become the same
``WireError`` as on ``wire.py``'s connections, classified by how far the request got.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
import urllib3.exceptions as u3
from requests.adapters import HTTPAdapter

from actors.gateway.binance.errors import Transport
from actors.gateway.binance.wire import Reply, WireError


def new_session() -> requests.Session:
    session = requests.Session()
    # No proxy/netrc lookups from the environment on every request: they cost ~0.4 ms each. (A proxy, if ever
    # needed, is set explicitly on the session.)
    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _connect_failed(exc: BaseException) -> bool:
    """True when the request never left (refused, DNS, connect timeout) as far as requests/urllib3 say."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, u3.NewConnectionError | u3.ConnectTimeoutError | ConnectionRefusedError):
            return True
        if isinstance(e, BaseException):
            stack += [getattr(e, "reason", None), e.__cause__, e.__context__]
            stack += [a for a in e.args if isinstance(a, BaseException)]
    return False


def transport_kind(exc: requests.RequestException) -> Transport:
    if isinstance(exc, requests.ConnectTimeout) or _connect_failed(exc):
        return Transport.NOT_SENT
    if isinstance(exc, requests.Timeout):
        return Transport.TIMEOUT
    return Transport.BROKEN


def exchange(session: requests.Session, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
             timeout: tuple[float, float]) -> Reply:
    """One request, answered (any status) or raising ``WireError``."""
    req = requests.PreparedRequest()
    req.method = method
    req.hooks = {"response": []}
    req.url = url
    req.body = body
    req.headers = requests.structures.CaseInsensitiveDict(headers)
    if body is not None:
        req.headers["Content-Length"] = str(len(body))
    try:
        resp = session.get_adapter(url).send(req, timeout=timeout)
    except requests.RequestException as exc:
        raise WireError(transport_kind(exc), f"{type(exc).__name__}: {exc}") from None
    return Reply(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content)
