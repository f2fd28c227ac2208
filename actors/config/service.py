"""The running configuration, its versions, and hot reloads: validate, compare, refuse or apply, record.

A reload is all or nothing: a file that does not validate, a change to a key that needs a restart, or a
failed check keeps the running configuration entirely (an operator's edit is one intent; half of it applied
would be a configuration nobody wrote). Every applied version, the one the engine started with included, is
a row of ``config_versions`` (its diff and the whole configuration, secrets redacted) plus an audit row; a
rejected reload is an audit row with the reason. A version that cannot be recorded is not applied.

Versions count up across restarts and processes sharing the database: each start records a new version,
with what changed since the last recorded one (edits made while the engine was stopped, or refused ones
that a restart has now applied). The service runs on the engine's main thread and owns its own ``Store``
connection (SQLite serialises it with the actors' writers).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from actors.clock import Clock
from actors.config.diff import (
    HOT_TABLES,
    RESTART_KEYS,
    Diff,
    describe,
    describe_refused,
    refused,
    settings_diff,
    snapshot,
    snapshot_diff,
)
from actors.config.messages import SettingsChanged
from actors.settings import Settings, SettingsError, load_settings
from actors.store.codec import to_json
from actors.store.store import ConflictError, Store, StoreError

APPLIED = "config_applied"
REJECTED = "config_rejected"
_VERSION_ATTEMPTS = 5  # another process sharing the database took the next number: try the one after


@dataclass(frozen=True)
class Applied:
    """A new version is running: tell each symbol's tree ``message()``."""

    settings: Settings
    diff: Diff
    version: int
    at_ns: int
    applied_by: str

    def message(self) -> SettingsChanged:
        return SettingsChanged(self.settings, self.version, self.at_ns, frozenset(self.diff))

    @property
    def text(self) -> str:
        return f"config v{self.version} applied by {self.applied_by}: {describe(self.diff) or 'no change'}"


@dataclass(frozen=True)
class Rejected:
    """Nothing applied; ``version`` is the one still running. ``refused``: the keys that need a restart
    (empty when the file did not validate or could not be recorded)."""

    reason: str
    version: int
    at_ns: int
    applied_by: str
    refused: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return f"config reload by {self.applied_by} rejected, v{self.version} kept: {self.reason}"


@dataclass(frozen=True)
class Unchanged:
    """The file validates and means what is running (a comment or layout edit, a SIGHUP with no edit)."""

    version: int


ReloadResult = Applied | Rejected | Unchanged
Check = Callable[[Settings], None]  # raises SettingsError or ValueError: the configuration cannot run here


class ConfigService:
    """``record_start`` once, then ``reload`` on a file change or SIGHUP. ``checks`` run on a candidate before
    it is applied (e.g. the engine's: every symbol's limits still fit its instrument), so a configuration
    that one tree could not take is applied to none. ``store_path`` defaults to ``[store] path``."""

    def __init__(self, path: str | Path, current: Settings, clock: Clock, store_path: str | Path | None = None, *,
                 run_id: str | None = None, hot_tables: frozenset[str] = HOT_TABLES,
                 restart_keys: Mapping[str, str] = RESTART_KEYS, checks: Sequence[Check] = (),
                 loader: Callable[[Path], Settings] = load_settings) -> None:
        self.path = Path(path)
        self._current = current
        self._clock = clock
        self._run_id = run_id
        self._hot = hot_tables
        self._restart_keys = restart_keys
        self._checks = tuple(checks)
        self._load = loader
        self._version = 0
        self._last_ns = 0
        self._store = Store.open(current.store.path if store_path is None else store_path, clock=clock)

    @property
    def current(self) -> Settings:
        return self._current

    @property
    def version(self) -> int:
        """The running version; 0 until ``record_start``."""
        return self._version

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> ConfigService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ start

    def record_start(self, applied_by: str = "start", comment: str = "engine start") -> Applied:
        """Record the configuration the engine starts with as the next version (raises if it cannot be
        recorded: better not to start than to trade on a configuration the database does not know)."""
        if self._version:
            raise RuntimeError(f"config v{self._version} already recorded for this run")
        snap = snapshot(self._current)
        prev = self._store.config_versions(limit=1)
        diff = snapshot_diff(json.loads(prev[0].config), _stored(snap)) if prev and prev[0].config else {}
        at = self._stamp()
        version = self._record(diff, snap, applied_by, comment, at)
        self._version = version
        self._audit(applied_by, APPLIED, {"version": version, "diff": diff, "source": str(self.path),
                                          "comment": comment}, at)
        done = Applied(self._current, diff, version, at, applied_by)
        logger.info("config v{} ({}) recorded at start{}", version, self.path,
                    f"; changed since v{prev[0].version}: {describe(diff)}" if diff else "")
        return done

    # ------------------------------------------------------------------ reload

    def reload(self, applied_by: str, comment: str = "") -> ReloadResult:
        """Read the file again and apply it if it validates, differs, and only touches hot-reloadable keys."""
        if not self._version:
            raise RuntimeError("record_start must come first: there is no running version to compare with")
        try:
            new = self._load(self.path)
        except ValueError as exc:  # SettingsError; also a file that is not UTF-8
            text = str(exc)
            return self._reject(text if isinstance(exc, SettingsError) else f"{self.path}: {text}", applied_by)
        except OSError as exc:  # unreadable (permissions, a directory): the loop must go on
            return self._reject(f"{self.path}: cannot read: {exc.strerror or exc}", applied_by)
        diff = settings_diff(self._current, new)
        if not diff:
            return Unchanged(self._version)
        cold = refused(diff, self._hot, self._restart_keys)
        if cold:
            return self._reject(f"{self.path}: {describe_refused(cold)}", applied_by, cold)
        for check in self._checks:
            try:
                check(new)
            except ValueError as exc:  # SettingsError included
                text = str(exc)
                return self._reject(text if text.startswith(str(self.path)) else f"{self.path}: {text}", applied_by)
        at = self._stamp()
        try:
            version = self._record(diff, snapshot(new), applied_by, comment, at)
        except (StoreError, sqlite3.Error, OSError) as exc:
            return self._reject(f"cannot record the new version: {exc}", applied_by)
        prev, self._version, self._current = self._version, version, new
        self._audit(applied_by, APPLIED, {"version": version, "previous": prev, "diff": diff,
                                          "source": str(self.path), "comment": comment}, at)
        done = Applied(new, diff, version, at, applied_by)
        logger.info("{}", done.text)
        return done

    def _reject(self, reason: str, applied_by: str, cold: Mapping[str, str] | None = None) -> Rejected:
        at = self._stamp()
        self._audit(applied_by, REJECTED, {"reason": reason, "version": self._version, "source": str(self.path),
                                           "refused": sorted(cold or ())}, at)
        out = Rejected(reason, self._version, at, applied_by, dict(cold or {}))
        logger.warning("{}", out.text)
        return out

    # ------------------------------------------------------------------ recording

    def _stamp(self) -> int:
        """Strictly increasing: audit rows are unique per (time, who, action), and none may be folded away."""
        self._last_ns = max(self._clock.time_ns(), self._last_ns + 1)
        return self._last_ns

    def _record(self, diff: Diff, snap: dict[str, Any], applied_by: str, comment: str, at: int) -> int:
        for _ in range(_VERSION_ATTEMPTS):
            version = max(self._highest() + 1, self._version + 1)
            try:
                if self._store.record_config_version(version, diff, applied_by, config=snap, comment=comment,
                                                     at_ns=at, run_id=self._run_id):
                    return version
            except ConflictError:
                pass  # taken by another process between our read and our write
        raise StoreError(f"no free config version after {_VERSION_ATTEMPTS} attempts")

    def _highest(self) -> int:
        row = self._store.query("SELECT max(version) FROM config_versions")
        return int(row[0][0] or 0)

    def _audit(self, who: str, action: str, detail: dict[str, Any], at: int) -> None:
        try:
            self._store.record_audit(who, action, detail, at_ns=at, run_id=self._run_id)
        except (sqlite3.Error, OSError) as exc:  # the version row (if any) is written; say what is missing
            logger.error("config: audit row {} by {} not written: {}", action, who, exc)


def _stored(snap: dict[str, Any]) -> Any:
    """A snapshot as the store will hand it back (its own redaction applied), to compare like with like."""
    return json.loads(to_json(snap))
