"""User-data-stream listen keys: one per account, valid for a TTL, extended by keepalive, as on Binance."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from simex import errors

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass
class ListenKeys:
    ttl_ms: int = 3_600_000
    seed: int = 0
    keys: dict[str, tuple[str, int]] = field(default_factory=dict)  # account -> (key, expires at)
    owner: dict[str, str] = field(default_factory=dict)  # key -> account
    created: int = 0

    def _new_key(self, account: str) -> str:
        self.created += 1
        h = int.from_bytes(hashlib.sha512(f"{self.seed}:{account}:{self.created}".encode()).digest())
        chars = []
        for _ in range(64):
            h, r = divmod(h, 62)
            chars.append(_ALNUM[r])
        return "".join(chars)

    def create(self, account: str, now: int) -> str:
        """POST: the account's live key (validity extended) or a new one."""
        cur = self.keys.get(account)
        if cur is not None and now < cur[1]:
            self.keys[account] = (cur[0], now + self.ttl_ms)
            return cur[0]
        if cur is not None:
            self.owner.pop(cur[0], None)
        key = self._new_key(account)
        self.keys[account] = (key, now + self.ttl_ms)
        self.owner[key] = account
        return key

    def keepalive(self, account: str, now: int) -> str:
        """PUT: extend the account's key; -1125 when it has none or it expired."""
        cur = self.keys.get(account)
        if cur is None or now >= cur[1]:
            raise errors.bad_listen_key()
        self.keys[account] = (cur[0], now + self.ttl_ms)
        return cur[0]

    def close(self, account: str) -> str | None:
        cur = self.keys.pop(account, None)
        if cur is None:
            return None
        self.owner.pop(cur[0], None)
        return cur[0]

    def account_of(self, key: str, now: int) -> str | None:
        account = self.owner.get(key)
        if account is None or now >= self.keys[account][1]:
            return None
        return account

    def due(self, now: int) -> list[tuple[str, str]]:
        """Keys whose validity ended: (key, account); they are forgotten."""
        out = [(key, acct) for acct, (key, exp) in self.keys.items() if now >= exp]
        for key, acct in out:
            self.keys.pop(acct, None)
            self.owner.pop(key, None)
        return out

    def expire_now(self, key: str | None, now: int) -> list[tuple[str, str]]:
        """Fault ``listenkey_expire``: end one key (or all) immediately."""
        for acct, (k, _) in list(self.keys.items()):
            if key is None or k == key:
                self.keys[acct] = (k, now)
        return self.due(now)

    def state(self, now: int) -> dict[str, object]:
        return {acct: {"listenKey": k, "expires_in_ms": exp - now} for acct, (k, exp) in self.keys.items()}
