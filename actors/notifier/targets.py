"""Where each priority is delivered: the apprise URLs of the settings and of the environment, checked once
at start, and a label for each that is safe to log.

A URL is never logged or shown: apprise URLs hold tokens (``tgram://{bot_token}/{chat_id}`` has the token
where a host would be). A destination is named by priority, position and schema only: ``P1#0 tgram``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import apprise

from actors.notifier.settings import LEVELS, AlertSettings

_SPLIT = re.compile(r"[\s,]+")
_SCHEMA = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,31})://")


def schema_of(url: str) -> str:
    """The part before ``://`` (not secret), or ``?`` if there is none."""
    m = _SCHEMA.match(url)
    return m.group(1).lower() if m else "?"


@dataclass(frozen=True, repr=False)
class Destination:
    level: str
    index: int
    url: str

    @property
    def label(self) -> str:
        return f"{self.level}#{self.index} {schema_of(self.url)}"

    def __repr__(self) -> str:  # never print the URL, not even by accident
        return f"Destination({self.label})"


@dataclass(frozen=True, repr=False)
class Targets:
    """The destinations of each priority, in order (duplicates within a priority removed)."""

    by_level: Mapping[str, tuple[Destination, ...]]

    def of(self, level: str) -> tuple[Destination, ...]:
        return self.by_level.get(level, ())

    def labels(self) -> dict[str, list[str]]:
        return {lv: [d.label for d in self.of(lv)] for lv in LEVELS}

    def __repr__(self) -> str:
        return f"Targets({self.labels()})"


def resolve_targets(s: AlertSettings, env: Mapping[str, str] | None = None) -> Targets:
    """Settings URLs then environment URLs per priority, each one parsed by apprise.

    Raises ``ValueError`` naming the key or variable and the position of a URL apprise cannot use (an unknown
    schema, a missing token); the URL itself is never in the message."""
    env = os.environ if env is None else env
    out: dict[str, tuple[Destination, ...]] = {}
    for level in LEVELS:
        found: list[tuple[str, str]] = [(f"[alerts] {level.lower()}_urls[{i}]", u)
                                        for i, u in enumerate(s.urls_in_settings(level))]
        var = s.urls_env(level)
        if var:
            items = [u for u in _SPLIT.split(env.get(var, "")) if u]
            found += [(f"${var} item {i}", u) for i, u in enumerate(items)]
        urls: list[str] = []
        for where, url in found:
            if apprise.Apprise.instantiate(url, asset=quiet_asset(1.0)) is None:
                raise ValueError(f"{where}: not a URL apprise can deliver to (schema {schema_of(url)!r}, "
                                 "or a required part missing)")
            if url not in urls:
                urls.append(url)
        out[level] = tuple(Destination(level, i, u) for i, u in enumerate(urls))
    return Targets(out)


def quiet_asset(timeout_s: float) -> apprise.AppriseAsset:
    """Apprise's options for us: a hard time limit per delivery, nothing written to disk."""
    return apprise.AppriseAsset(async_mode=True, service_timeout=timeout_s, storage_mode="memory",
                                result_log_disk_size=0)
