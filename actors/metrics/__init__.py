"""Prometheus metrics: one registry of every ``mm_*`` series the engine exports, and its HTTP exporter.

``Metrics`` owns its own ``CollectorRegistry`` (never prometheus_client's global one, so two engines in one
process, or a test beside an engine, never share counters). Hot paths hold a per-symbol view with its label
children bound once (``Metrics.symbol``); account-wide series (REST, rate budget, equity) hang off
``Metrics.account``.
"""

from actors.metrics.exporter import MetricsExporter, start_exporter
from actors.metrics.registry import AccountMetrics, Metrics, SymbolMetrics
from actors.metrics.settings import MetricsSettings

__all__ = ["AccountMetrics", "Metrics", "MetricsExporter", "MetricsSettings", "SymbolMetrics", "start_exporter"]
