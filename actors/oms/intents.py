"""The intent log: a new order is on disk before the exchange can hear of it (lesson 4), in microseconds.

Before each placement the OMS appends the orders about to be sent to a small append-only file (one JSON line
each, ``os.write`` on an ``O_APPEND`` descriptor, no fsync) and only then sends; the SQLite journal follows
right after the send, and once it has committed the log is emptied. A write that reached the kernel survives
the process being killed at any instant (the same guarantee as SQLite's WAL at ``synchronous = NORMAL``,
which the store uses), so nothing is lost; what the send path no longer pays is the SQLite transaction and,
above all, its wait for another connection's write lock (the risk and analyzer actors write to the same
database), which made the tick-to-order tail.

At start the OMS reads what the log still holds (intents whose journal entry never committed: the process
died between the two) into the journal as intents, before loading it; reconciliation then looks each one up
on the exchange by its client order id like any other order in doubt. A torn last line (the process died
inside the write) is an order that was never sent: it is skipped.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import orjson

from actors.store.models import LocalStatus
from actors.store.store import JournalOrder


class IntentLog:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._dirty = os.fstat(self._fd).st_size > 0

    def append(self, orders: tuple[JournalOrder, ...] | list[JournalOrder]) -> None:
        """One write for the whole batch: it reaches the kernel before this returns."""
        data = b"".join(orjson.dumps(_record(o)) + b"\n" for o in orders)
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self._dirty = True

    def clear(self) -> None:
        """Everything logged is in the journal now."""
        if self._dirty:
            os.ftruncate(self._fd, 0)
            self._dirty = False

    def pending(self) -> list[JournalOrder]:
        """The intents still in the log, in order; a torn or unreadable line is skipped."""
        out: list[JournalOrder] = []
        for line in self.path.read_bytes().splitlines():
            try:
                out.append(_order(orjson.loads(line)))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
        return out

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _record(o: JournalOrder) -> dict[str, object]:
    return {"cid": o.client_order_id, "side": o.side, "price": str(o.price), "qty": str(o.qty), "tif": o.tif,
            "ro": o.reduce_only, "created": o.created_ns, "state": o.state_json, "origin": o.origin}


def _order(r: dict[str, object]) -> JournalOrder:
    return JournalOrder(str(r["cid"]), str(r["side"]), Decimal(str(r["price"])), Decimal(str(r["qty"])),
                        str(r["tif"]), bool(r["ro"]), int(r["created"]), LocalStatus.INTENT, None, Decimal(0), False,
                        str(r["state"]), "", str(r["origin"]))
