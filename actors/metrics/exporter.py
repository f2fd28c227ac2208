"""``/metrics`` over HTTP for one registry, on its own daemon thread, with a stop that really stops.

prometheus_client 0.26's ``start_http_server(port, addr, registry=...)`` returns ``(server, thread)``; the
server is kept so that ``stop()`` can shut the loop down and close the listening socket (the library itself
offers no stop). Every request is answered from the registry it was given, never the global default.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from loguru import logger
from prometheus_client import CollectorRegistry, start_http_server

from actors.metrics.registry import Metrics
from actors.metrics.settings import MetricsSettings


class MetricsExporter:
    def __init__(self, registry: CollectorRegistry, host: str = "127.0.0.1", port: int = 9464) -> None:
        self.registry = registry
        self.host = host
        self._want_port = port
        self._server: Any = None
        self._thread: Any = None

    def start(self) -> int:
        """Bind and serve; returns the bound port. Raises ``OSError`` if the address is taken (nothing else
        should be serving this engine's metrics: better a loud start-up error than a silent gap)."""
        if self._server is not None:
            raise RuntimeError("the metrics exporter is already running")
        self._server, self._thread = start_http_server(self._want_port, self.host, registry=self.registry)
        self._thread.name = "metrics-http"
        logger.info("metrics on {}", self.url)
        return self.port

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the metrics exporter is not running")
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    @property
    def running(self) -> bool:
        return self._server is not None

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop serving, close the socket (the port is free again) and join the thread. Idempotent."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is None:
            return
        server.shutdown()  # returns once serve_forever has left its loop
        server.server_close()
        thread.join(timeout_s)

    def __enter__(self) -> MetricsExporter:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_exporter(settings: MetricsSettings, metrics: Metrics) -> MetricsExporter | None:
    """The exporter ``[metrics]`` asks for, started; ``None`` when disabled."""
    if not settings.enabled:
        return None
    exporter = MetricsExporter(metrics.registry, settings.host, settings.port)
    exporter.start()
    return exporter
