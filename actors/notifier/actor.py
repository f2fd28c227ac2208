"""The notifier: one per engine (not per symbol). Callers only ``tell`` it a ``Notify``; it folds and rate
limits (``fold.Folder``) and hands each delivery to the senders of its priority (``sender.Sender``: a thread per
destination and priority), so no notification service can delay trading, the actor, or a P0.

A failed or timed-out delivery is logged by its label (``P1#0 tgram``: a URL is never logged) and counted;
nothing raises out of a handler. Counters (by priority): ``sent`` and ``failed`` per destination reached or
not, ``dropped`` (a sender's queue overflowed), ``unrouted`` (no destination for the priority: only logged by
whoever raised it), and the folder's ``folded`` and ``suppressed``. ``Inspect`` (or ``counters()``) gives
them all. Stopping the actor sends what is still folded or held back and waits up to ``timeout_s`` for the
senders to drain, so the last P0 of a shutdown still goes out.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from typing import Any

import pykka
from loguru import logger

from actors.base import EngineActor, handles
from actors.clock import Clock
from actors.notifier.fold import Delivery, Folder
from actors.notifier.messages import Delivered, NotifierTick, NotifyWithFiles
from actors.notifier.sender import Sender
from actors.notifier.settings import LEVELS, AlertSettings
from actors.notifier.targets import Targets
from actors.risk.messages import Notify
from actors.timers import TimerHandle, Timers


class NotifierActor(EngineActor):
    name = "notifier"

    def __init__(self, settings: AlertSettings, targets: Targets, clock: Clock, timers: Timers | None = None,
                 on_failed: Any = None) -> None:
        super().__init__(on_failed)
        self.settings = settings
        self.targets = targets
        self.clock = clock
        self.timers = timers  # None: ticks are told by the owner (tests, a replay)
        self.fold = Folder(settings.fold_window_ns, settings.rate_window_ns, settings.per_window())
        self.senders: dict[str, list[Sender]] = {lv: [] for lv in LEVELS}
        self.sent: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.unrouted: Counter[str] = Counter()
        self.errors = 0  # handler failures caught (a bug, not a delivery failure)
        self.by_dest: dict[str, Counter[str]] = {}
        self._tick: TimerHandle | None = None

    # ------------------------------------------------------------------ lifecycle
    def on_start(self) -> None:
        s = self.settings
        for level in LEVELS:
            for dest in self.targets.of(level):
                try:
                    self.senders[level].append(Sender(dest, timeout_s=s.timeout_s, queue_max=s.queue_max,
                                                  on_done=self._report))
                    self.by_dest[dest.label] = Counter()
                except ValueError as exc:
                    logger.error("alerts: {}: destination skipped", exc)
        logger.info("alerts: {}", "; ".join(
            f"{lv} → {', '.join(x.label for x in self.senders[lv]) or 'nowhere (logged only)'}" for lv in LEVELS))
        if self.timers is not None:
            self._tick = self.timers.tell_every(s.tick_s, self.actor_ref, NotifierTick())

    def on_stop(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        with contextlib.suppress(Exception):
            self._route(self.fold.tick(self.clock.monotonic_ns(), final=True))
        senders = [x for group in self.senders.values() for x in group]
        for sender in senders:
            sender.close()
        end = time.monotonic() + self.settings.timeout_s + 1.0  # real threads: real time, not the injected clock
        for sender in senders:
            if not sender.join(end - time.monotonic()):
                logger.warning("alerts: {} still sending at stop ({} waiting): abandoned", sender.label,
                               sender.queued)

    def on_receive(self, message: Any) -> Any:
        try:
            return super().on_receive(message)
        except Exception as exc:  # an alert path must never take anything down, itself included
            self.errors += 1
            logger.exception("alerts: handling {} failed: {}", type(message).__name__, exc)
            return None

    # ------------------------------------------------------------------ inputs
    @handles(Notify, NotifyWithFiles)
    def _notify(self, n: Notify | NotifyWithFiles) -> None:
        level = n.level if n.level in LEVELS else "P1"
        if level != n.level:
            logger.warning("alerts: unknown level {!r} for {!r}: sent as P1", n.level, n.title)
        attach = n.attach if isinstance(n, NotifyWithFiles) else ()
        self._route(self.fold.offer(level, n.title, n.body, self.clock.monotonic_ns(), attach))

    @handles(NotifierTick)
    def _on_tick(self, _t: NotifierTick) -> None:
        self._route(self.fold.tick(self.clock.monotonic_ns()))

    @handles(Delivered)
    def _delivered(self, d: Delivered) -> None:
        (self.sent if d.ok else self.failed)[d.level] += 1
        self.by_dest.setdefault(d.label, Counter())["sent" if d.ok else "failed"] += 1
        if not d.ok:
            logger.warning("alerts: {} {!r} not delivered to {}: {}", d.level, d.title, d.label, d.status)

    # ------------------------------------------------------------------ outputs
    def _route(self, deliveries: list[Delivery]) -> None:
        for d in deliveries:
            senders = self.senders[d.level]
            if not senders:
                self.unrouted[d.level] += 1
                continue
            for sender in senders:
                lost = sender.submit(d)
                if lost is not None:
                    self.dropped[d.level] += 1
                    self.by_dest[sender.label]["dropped"] += 1
                    logger.warning("alerts: {} backlog full ({} waiting): {!r} dropped", sender.label,
                                   sender.queue_max, lost.title)

    def _report(self, d: Delivered) -> None:
        """Called on a sender's thread: the outcome comes back as a message, so counters have one owner."""
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.tell(d)

    # ------------------------------------------------------------------ inspection
    def counters(self) -> dict[str, Any]:
        per_level = {"sent": self.sent, "failed": self.failed, "dropped": self.dropped, "unrouted": self.unrouted,
                     "folded": self.fold.folded, "suppressed": self.fold.suppressed}
        return {**{k: {lv: c[lv] for lv in LEVELS} for k, c in per_level.items()},
                "pending": self.fold.pending(), "errors": self.errors,
                "by_destination": {x.label: {**{k: self.by_dest[x.label][k] for k in ("sent", "failed", "dropped")},
                                             "queued": x.queued}
                                   for group in self.senders.values() for x in group}}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "destinations": self.targets.labels(), **self.counters()}
