"""SimExchange: the simulated exchange running its own asyncio loop in a daemon thread.

The in-process API other components depend on; every call that touches exchange state runs on the loop
thread (``run_coroutine_threadsafe``), so callers on any thread see a consistent exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from simex.config import SimConfig
from simex.runtime import Runtime

T = TypeVar("T")


class SimExchange:
    def __init__(self, cfg: SimConfig | None = None) -> None:
        self.cfg = cfg or SimConfig()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._rt: Runtime | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # ---- lifecycle ----
    def start(self, timeout: float = 30.0) -> SimExchange:
        """Start listening; returns once both REST and WebSocket listeners accept connections."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name="simex", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("simex did not start in time")
        if self._error is not None:
            raise RuntimeError(f"simex failed to start: {self._error!r}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            rt = Runtime(self.cfg)
            loop.run_until_complete(rt.start())
            self._rt = rt
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_until_complete(rt.wait_stopped())
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Close the listeners and every connection, then join the loop thread."""
        if self._thread is None:
            return
        if self._rt is not None and self._loop is not None and not self._loop.is_closed():
            fut = asyncio.run_coroutine_threadsafe(self._rt.stop(), self._loop)
            with contextlib.suppress(Exception):  # stopping anyway
                fut.result(timeout)
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> SimExchange:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- addresses ----
    @property
    def rest_url(self) -> str:
        return f"http://{self.cfg.host}:{self._runtime().rest_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.cfg.host}:{self._runtime().ws_port}"

    # ---- control (thread-safe) ----
    def _runtime(self) -> Runtime:
        if self._rt is None:
            raise RuntimeError("simex is not running")
        return self._rt

    def call(self, fn: Callable[[Runtime], T], timeout: float = 10.0) -> T:
        """Run ``fn(runtime)`` on the exchange loop and return its result (for tests and tools)."""
        rt = self._runtime()
        assert self._loop is not None

        async def run() -> T:
            result = fn(rt)
            rt.dispatch()
            return result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def fault(self, name: str, **params: Any) -> dict[str, Any]:
        """Inject a fault, exactly like ``POST /admin/fault``; returns the fault state."""
        return self.call(lambda rt: rt.apply_fault(name, params))

    def set_regime(self, symbol: str, regime: str, seconds: float | None = None) -> dict[str, Any]:
        return self.call(lambda rt: rt.set_regime(symbol, regime, seconds))

    def state(self) -> dict[str, Any]:
        """The same dict as ``GET /admin/state``."""
        return self.call(lambda rt: rt.state())
