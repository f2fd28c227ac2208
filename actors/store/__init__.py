"""The engine's database: orders, their events, fills, PnL, inventory, risk events, audit, runs, config versions.

Not an actor: shared infrastructure. Each actor that writes (OMS, risk, analyzer, supervisor) opens its own
``Store`` (its own SQLite connection) and uses it from its own thread; SQLite in WAL mode serialises their
writes and lets readers (``tools/query.py``) look at it without ever blocking the engine.
"""

from actors.store.models import LocalStatus
from actors.store.schema import SchemaError
from actors.store.store import ConflictError, Store, StoreError, UnknownOrderError

__all__ = ["ConflictError", "LocalStatus", "SchemaError", "Store", "StoreError", "UnknownOrderError"]
