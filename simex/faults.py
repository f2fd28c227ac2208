"""Fault injection state, pure: what is active, until when, and the decisions the shell asks about.

Instant faults (``ws_drop``, ``depth_gap``, ``listenkey_expire``, ``clear``) are returned to the shell to
perform once; lasting ones are kept with an expiry (``seconds``) or a remaining ``count``. Randomised
faults draw from their own seeded RNG so the exchange core's determinism is untouched.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

PARAMS: dict[str, dict[str, type]] = {
    "ws_drop": {"mode": str, "scope": str},
    "ws_stall": {"seconds": float, "scope": str},
    "depth_gap": {"symbol": str, "count": int},
    "rest_delay": {"ms": int, "count": int, "seconds": float, "path": str},
    "rest_5xx": {"count": int, "status": int, "after_execute": bool, "path": str, "seconds": float},
    "rate_limit_storm": {"seconds": float},
    "random_rejects": {"p": float, "code": int, "msg": str, "seconds": float},
    "clock_skew": {"ms": int, "seconds": float},
    "listenkey_expire": {"listenKey": str},
    "user_dup": {"p": float, "seconds": float},
    "user_reorder": {"p": float, "seconds": float},
    "clear": {},
}
INSTANT = {"ws_drop", "depth_gap", "listenkey_expire", "clear"}
REJECT_MSGS = {
    -1000: "An unknown error occured while processing the request.",
    -2010: "NEW_ORDER_REJECTED",
    -1001: "Internal error; unable to process your request. Please try again.",
    -1008: "Request throttled by system-level protection. Reduce-only/close-position orders are exempt. "
    "Please try again.",
}


class FaultError(ValueError):
    pass


def _convert(kind: type, value: Any, name: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes"):
            return True
        if str(value).lower() in ("0", "false", "no"):
            return False
        raise FaultError(f"{name}: not a boolean: {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise FaultError(f"{name}: bad value {value!r}") from exc


def normalise(name: str, params: dict[str, Any]) -> dict[str, Any]:
    if name not in PARAMS:
        raise FaultError(f"unknown fault {name!r}; known: {sorted(PARAMS)}")
    spec = PARAMS[name]
    out = {}
    for k, v in params.items():
        if k not in spec:
            raise FaultError(f"fault {name}: unknown parameter {k!r}; allowed: {sorted(spec)}")
        out[k] = _convert(spec[k], v, f"{name}.{k}")
    if name == "ws_drop":
        out.setdefault("mode", "close")
        out.setdefault("scope", "all")
        if out["mode"] not in ("close", "reset") or out["scope"] not in ("all", "market", "user"):
            raise FaultError("ws_drop: mode is close|reset, scope is all|market|user")
    if name == "ws_stall":
        out.setdefault("seconds", 5.0)
        out.setdefault("scope", "all")
        if out["scope"] not in ("all", "market", "user"):
            raise FaultError("ws_stall: scope is all|market|user")
    if name == "depth_gap":
        out.setdefault("count", 1)
    if name == "rest_delay":
        out.setdefault("ms", 1000)
        if "count" not in out and "seconds" not in out:
            out["count"] = 1
    if name == "rest_5xx":
        out.setdefault("status", 503)
        out.setdefault("after_execute", False)
        if "count" not in out and "seconds" not in out:
            out["count"] = 1
        if out["status"] not in (500, 502, 503, 504):
            raise FaultError("rest_5xx: status is 500, 502, 503 or 504")
    if name == "rate_limit_storm":
        out.setdefault("seconds", 5.0)
    if name == "random_rejects":
        out.setdefault("p", 0.5)
        out.setdefault("code", -1000)
        out.setdefault("msg", REJECT_MSGS.get(out["code"], "An unknown error occured while processing the request."))
    if name in ("user_dup", "user_reorder"):
        out.setdefault("p", 0.5)
    if name == "clock_skew":
        out.setdefault("ms", 0)
    return out


@dataclass
class Faults:
    seed: int = 0
    active: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def add(self, name: str, params: dict[str, Any], now: int) -> dict[str, Any]:
        """Record a fault; returns the normalised parameters (the shell performs instant ones)."""
        p = normalise(name, params)
        self.history.append({"fault": name, "at": now, **p})
        del self.history[:-50]
        if name == "clear":
            self.active.clear()
        elif name not in INSTANT:
            rec = dict(p)
            if "seconds" in p:
                rec["until"] = now + int(p["seconds"] * 1000)
            self.active[name] = rec
        return p

    def _live(self, name: str, now: int) -> dict[str, Any] | None:
        rec = self.active.get(name)
        if rec is None:
            return None
        if ("until" in rec and now >= rec["until"]) or rec.get("count", 1) <= 0:
            del self.active[name]
            return None
        return rec

    def _consume(self, name: str, rec: dict[str, Any]) -> None:
        if "count" in rec:
            rec["count"] -= 1
            if rec["count"] <= 0 and "until" not in rec:
                self.active.pop(name, None)

    # ---- decisions ----
    def rest_delay_ms(self, path: str, now: int) -> int:
        rec = self._live("rest_delay", now)
        if rec is None or ("path" in rec and rec["path"] != path):
            return 0
        self._consume("rest_delay", rec)
        return int(rec["ms"])

    def rest_5xx(self, path: str, now: int, executes: bool = False) -> tuple[int, bool] | None:
        """(status, after_execute) for this request, or None. An ``after_execute`` fault waits for a request
        that executes (order placement) so the reply is lost after the order exists."""
        rec = self._live("rest_5xx", now)
        if rec is None or ("path" in rec and rec["path"] != path) or (rec["after_execute"] and not executes):
            return None
        self._consume("rest_5xx", rec)
        return int(rec["status"]), bool(rec["after_execute"])

    def storm_until(self, now: int) -> int:
        rec = self._live("rate_limit_storm", now)
        return int(rec["until"]) if rec else 0

    def reject(self, now: int) -> tuple[int, str] | None:
        rec = self._live("random_rejects", now)
        if rec is None or self.rng.random() >= rec["p"]:
            return None
        return int(rec["code"]), str(rec["msg"])

    def skew_ms(self, now_unskewed: int) -> int:
        rec = self._live("clock_skew", now_unskewed)
        return int(rec["ms"]) if rec else 0

    def stall(self, now: int) -> str | None:
        """The stalled scope (all|market|user) or None."""
        rec = self._live("ws_stall", now)
        return str(rec["scope"]) if rec else None

    def user_dup(self, now: int) -> bool:
        rec = self._live("user_dup", now)
        return rec is not None and self.rng.random() < rec["p"]

    def user_reorder(self, now: int) -> bool:
        rec = self._live("user_reorder", now)
        return rec is not None and self.rng.random() < rec["p"]

    def state(self, now: int) -> dict[str, Any]:
        for name in list(self.active):
            self._live(name, now)
        return {"active": {k: dict(v) for k, v in self.active.items()}, "history": list(self.history)}
