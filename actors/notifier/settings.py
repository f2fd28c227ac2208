"""The future ``[alerts]`` settings table: where each priority is delivered, how duplicates fold, how fast
each priority may page someone, and the thresholds of the P1 rules (``actors.notifier.rules``).

Apprise URLs carry tokens (a Telegram bot token is the URL's host), so they need not live in settings.toml:
each priority also reads an environment variable (``MM_ALERTS_P0``...) holding URLs separated by commas or
whitespace, the convention of apprise's own ``APPRISE_URLS``. A priority with no URL delivers nothing; its
alerts are still logged by whoever raised them.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.fields import num  # a dataclasses.field with bounds, checked when settings load

LEVELS: tuple[str, ...] = ("P0", "P1", "P2")


@dataclass(frozen=True)
class AlertSettings:
    # --- destinations: apprise URLs per priority, from here and/or from the environment
    p0_urls: tuple[str, ...] = ()  # someone must look now: panicstop, reconcile mismatch, root escalation
    p1_urls: tuple[str, ...] = ()  # look soon: stream down, reject spike, daily-loss warning, restarts
    p2_urls: tuple[str, ...] = ()  # for the record: daily summary, config applied
    p0_urls_env: str = "MM_ALERTS_P0"  # names of environment variables holding more URLs ("" = none)
    p1_urls_env: str = "MM_ALERTS_P1"
    p2_urls_env: str = "MM_ALERTS_P2"
    # --- folding and rate limits (see actors.notifier.fold)
    fold_window_s: float = num(60.0, 1.0, 86_400.0)  # the same level+title within this: one delivery
    rate_window_s: float = num(60.0, 1.0, 86_400.0)
    p0_per_window: int = num(20, 1, 10_000)  # deliveries per rate_window_s; the rest summarised later
    p1_per_window: int = num(10, 1, 10_000)
    p2_per_window: int = num(5, 1, 10_000)
    # --- delivery
    timeout_s: float = num(10.0, 0.5, 300.0)  # one delivery to one URL, all retries included
    queue_max: int = num(50, 1, 10_000)  # alerts waiting per URL and priority; past it the oldest is dropped
    tick_s: float = num(5.0, 0.1, 3600.0)  # how often folded and held-back alerts are checked for release
    # --- P1 rules
    ws_down_alert_s: float = num(30.0, 1.0, 86_400.0)  # a stream down this long without coming back
    reject_spike_count: int = num(20, 1, 100_000)  # more than this many order rejects ...
    reject_window_s: float = num(60.0, 1.0, 86_400.0)  # ... within this window
    daily_loss_warn_ratio: float = num(0.7, 0, 1, lo_open=True)  # share of [risk] max_daily_loss; once a day
    restart_alert_count: int = num(3, 1, 10_000)  # more than this many child restarts of one tree ...
    restart_window_s: float = num(600.0, 1.0, 86_400.0)  # ... within this window

    def __post_init__(self) -> None:
        for level in LEVELS:
            for i, url in enumerate(self.urls_in_settings(level)):
                if "://" not in url:  # the value itself is not echoed: it may hold a token
                    raise ValueError(f"[alerts] {level.lower()}_urls[{i}]: not an apprise URL (schema://...)")

    def urls_in_settings(self, level: str) -> tuple[str, ...]:
        return {"P0": self.p0_urls, "P1": self.p1_urls, "P2": self.p2_urls}[level]

    def urls_env(self, level: str) -> str:
        return {"P0": self.p0_urls_env, "P1": self.p1_urls_env, "P2": self.p2_urls_env}[level]

    def per_window(self) -> dict[str, int]:
        return {"P0": self.p0_per_window, "P1": self.p1_per_window, "P2": self.p2_per_window}

    @property
    def fold_window_ns(self) -> int:
        return round(self.fold_window_s * 1e9)

    @property
    def rate_window_ns(self) -> int:
        return round(self.rate_window_s * 1e9)

    @property
    def ws_down_alert_ns(self) -> int:
        return round(self.ws_down_alert_s * 1e9)

    @property
    def reject_window_ns(self) -> int:
        return round(self.reject_window_s * 1e9)

    @property
    def restart_window_ns(self) -> int:
        return round(self.restart_window_s * 1e9)
