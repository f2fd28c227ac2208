"""Which alerts become deliveries: duplicates folded, each priority rate limited, nothing lost silently.

Pure and deterministic: the time is an argument (a monotonic reading, in ns).

* **Folding.** An alert whose level and title were delivered less than ``fold_window_ns`` ago is not sent;
  it is counted, and its body kept as the latest word. When the window is over, ``tick`` sends one
  delivery with that body and "(+7 similar in the last 60 s)"; a new alert of the same title after the
  window carries the same note. A storm of one alert therefore pages once per window, with its count.
* **Rate limit.** Each priority has its own budget (at most N deliveries per ``rate_window_ns``), so P1 and
  P2 traffic can never use up what P0 needs. A delivery past the budget is held back: its title and how
  many alerts it stood for are kept and appended to the next delivery of that priority, or sent as one
  summary by ``tick`` once the budget allows.

Counters (by priority): ``folded``, alerts merged into another delivery; ``suppressed``, deliveries held
back by the rate limit (each reported later in a summary).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass

from actors.notifier.settings import LEVELS

_SUMMARY_TITLES = 5  # titles named in a held-back summary; the rest are counted


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to send to every destination of ``level``."""

    level: str
    title: str
    body: str
    attach: tuple[str, ...] = ()  # file paths (the daily report's PNG / markdown)


@dataclass(slots=True)
class _Fold:
    since_ns: int  # the last delivery (or hold) of this level+title: its fold window starts here
    folded: int = 0
    body: str = ""
    attach: tuple[str, ...] = ()


class Folder:
    def __init__(self, fold_window_ns: int, rate_window_ns: int, per_window: Mapping[str, int]) -> None:
        if fold_window_ns <= 0 or rate_window_ns <= 0:
            raise ValueError("fold and rate windows must be > 0")
        if set(per_window) != set(LEVELS) or min(per_window.values()) < 1:
            raise ValueError(f"per_window needs a budget >= 1 for each of {', '.join(LEVELS)}")
        self.fold_window_ns = fold_window_ns
        self.rate_window_ns = rate_window_ns
        self.per_window = dict(per_window)
        self._folds: dict[tuple[str, str], _Fold] = {}
        self._sent: dict[str, deque[int]] = {lv: deque() for lv in LEVELS}
        self._held: dict[str, Counter[str]] = {lv: Counter() for lv in LEVELS}
        self.folded: Counter[str] = Counter()
        self.suppressed: Counter[str] = Counter()

    # ------------------------------------------------------------------ inputs
    def offer(self, level: str, title: str, body: str, now_ns: int, attach: tuple[str, ...] = ()) -> list[Delivery]:
        """An alert: delivered now (a list of one), or folded or held back (an empty list)."""
        if level not in LEVELS:
            raise ValueError(f"unknown alert level {level!r}")
        key = (level, title)
        f = self._folds.get(key)
        if f is not None and now_ns - f.since_ns < self.fold_window_ns:
            f.folded += 1
            f.body = body
            f.attach = attach or f.attach
            self.folded[level] += 1
            return []
        note, alerts = "", 1
        if f is not None and f.folded:  # the window ended before a tick released them: say so now
            note, alerts = _similar(f.folded, now_ns - f.since_ns), 1 + f.folded
        self._folds[key] = _Fold(now_ns)
        return self._release(level, title, body + note, attach, now_ns, alerts)

    def tick(self, now_ns: int, *, final: bool = False) -> list[Delivery]:
        """Release what a window has closed on: folded alerts, and held-back summaries the budget now allows.

        ``final`` (at shutdown): release every folded alert whatever its window, and send the held-back
        summaries even past the budget, so nothing is left unsaid."""
        out: list[Delivery] = []
        for key, f in list(self._folds.items()):
            if not final and now_ns - f.since_ns < self.fold_window_ns:
                continue
            if not f.folded:
                del self._folds[key]  # a quiet window: forget the title
                continue
            level, title = key
            self._folds[key] = _Fold(now_ns)  # the summary opens the next window
            out += self._release(level, title, f.body + _similar(f.folded, now_ns - f.since_ns), f.attach, now_ns,
                                 f.folded)
        for level in LEVELS:
            if self._held[level] and (final or self._room(level, now_ns)):
                self._sent[level].append(now_ns)
                total, names = self._take_held(level)
                out.append(Delivery(level, f"{level} alerts held back by the rate limit",
                                    f"{total} {level} alerts were not sent on their own: {names}"))
        out.sort(key=lambda d: LEVELS.index(d.level))  # stable: P0 first, each level in its own order
        return out

    def pending(self) -> dict[str, int]:
        """Alerts not delivered yet (folded or held back), by level."""
        out = {lv: sum(self._held[lv].values()) for lv in LEVELS}
        for (level, _), f in self._folds.items():
            out[level] += f.folded
        return out

    # ------------------------------------------------------------------ budget
    def _room(self, level: str, now_ns: int) -> bool:
        sent = self._sent[level]
        while sent and sent[0] <= now_ns - self.rate_window_ns:
            sent.popleft()
        return len(sent) < self.per_window[level]

    def _release(self, level: str, title: str, body: str, attach: tuple[str, ...], now_ns: int,
                 alerts: int) -> list[Delivery]:
        if not self._room(level, now_ns):
            self._held[level][title] += alerts
            self.suppressed[level] += 1
            return []
        self._sent[level].append(now_ns)
        if self._held[level]:
            total, names = self._take_held(level)
            body += f"\n(+{total} more {level} alerts held back by the rate limit: {names})"
        return [Delivery(level, title, body, attach)]

    def _take_held(self, level: str) -> tuple[int, str]:
        held = self._held[level]
        total = sum(held.values())
        ranked = held.most_common()  # ties keep the order they were first held in
        names = ", ".join(f"{t} ×{n}" for t, n in ranked[:_SUMMARY_TITLES])
        if len(ranked) > _SUMMARY_TITLES:
            names += f" and {len(ranked) - _SUMMARY_TITLES} more titles"
        held.clear()
        return total, names


def _similar(n: int, elapsed_ns: int) -> str:
    return f"\n(+{n} similar in the last {elapsed_ns / 1e9:.0f} s)"
