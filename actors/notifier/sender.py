"""One destination of one priority, delivered on a thread of its own.

A notification service can be slow or hang (an SMTP server, a chat API under load). Each sender has its own
queue and thread, so such a service delays only its own queue: never the actor that feeds it (which only
appends), never another destination, and never a P0, which has senders of its own even to the same service.
apprise bounds each call (``service_timeout`` and the call's ``timeout``: it stops waiting for a hung
service) and each socket (connect and read timeouts), so a sender is never stuck for longer than that.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

import apprise

from actors.notifier.fold import Delivery
from actors.notifier.messages import Delivered
from actors.notifier.targets import Destination, quiet_asset

NOTIFY_TYPES = {"P0": apprise.NotifyType.FAILURE, "P1": apprise.NotifyType.WARNING, "P2": apprise.NotifyType.INFO}


class Sender:
    def __init__(self, dest: Destination, *, timeout_s: float, queue_max: int,
                 on_done: Callable[[Delivered], None]) -> None:
        self.label = dest.label
        self.level = dest.level
        self.timeout_s = timeout_s
        self.queue_max = queue_max
        asset = quiet_asset(timeout_s)
        plugin = apprise.Apprise.instantiate(dest.url, asset=asset)
        if plugin is None:
            raise ValueError(f"{self.label}: not a URL apprise can deliver to")
        # per socket operation; apprise's defaults (4 s) unless the settings ask for less
        plugin.socket_connect_timeout = min(plugin.socket_connect_timeout, timeout_s)
        plugin.socket_read_timeout = min(plugin.socket_read_timeout, timeout_s)
        self._apprise = apprise.Apprise(asset=asset)
        self._apprise.add(plugin)
        self._on_done = on_done
        self._queue: deque[Delivery] = deque()
        self._cv = threading.Condition()
        self._closing = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name=f"alerts {self.label}", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        """Waiting, plus the one being sent."""
        with self._cv:
            return len(self._queue) + self._busy

    def submit(self, d: Delivery) -> Delivery | None:
        """Queue ``d``; returns what had to be dropped for it (the oldest waiting, when the queue is full:
        the newest word on a condition matters most), or ``d`` itself once the sender is closing."""
        with self._cv:
            if self._closing:
                return d
            dropped = self._queue.popleft() if len(self._queue) >= self.queue_max else None
            self._queue.append(d)
            self._cv.notify()
            return dropped

    def close(self) -> None:
        """Take nothing more; send what is queued, then end."""
        with self._cv:
            self._closing = True
            self._cv.notify()

    def join(self, timeout_s: float) -> bool:
        self._thread.join(max(0.0, timeout_s))
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._closing:
                    self._cv.wait()
                if not self._queue:
                    return
                d = self._queue.popleft()
                self._busy = True
            try:
                outcome = self._send(d)
            finally:
                with self._cv:
                    self._busy = False
            with contextlib.suppress(Exception):  # the owner is gone (stopped): nothing is left to tell
                self._on_done(outcome)

    def _send(self, d: Delivery) -> Delivered:
        body = d.body
        present = tuple(p for p in d.attach if Path(p).is_file())
        missing = [Path(p).name for p in d.attach if p not in present]
        if missing:
            body += f"\n(attachment missing: {', '.join(missing)})"
        try:
            result = self._apprise.notify(body=body or d.title, title=d.title, notify_type=NOTIFY_TYPES[d.level],
                                          body_format=apprise.NotifyFormat.TEXT, attach=list(present) or None,
                                          timeout=self.timeout_s)
            ok = bool(result)
            status = str(getattr(result.status, "name", result.status)).lower()
        except Exception as exc:  # never its text: a requests error quotes the URL, token and all
            ok, status = False, type(exc).__name__
        return Delivered(d.level, self.label, d.title, ok, "success" if ok else status)
