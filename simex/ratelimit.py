"""Binance-style rate limiting, pure: fixed windows aligned to the minute / 10 s of server time.

Request weight is counted per IP, new orders per account. Going over a limit answers 429 with
``Retry-After`` (seconds until the window frees); an IP that keeps sending during that back-off (more than
``ban_after`` requests) is banned with 418 for ``ban_ms``, doubling on every repeat, as Binance describes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MINUTE_MS = 60_000
TEN_S_MS = 10_000


@dataclass(frozen=True, slots=True)
class Verdict:
    status: int  # 200, 429 or 418
    code: int = 0
    msg: str = ""
    retry_after: int = 0  # seconds
    used_weight: int = 0


@dataclass(slots=True)
class _Ip:
    window: int = -1
    used: int = 0
    backoff_until: int = 0
    during_backoff: int = 0
    banned_until: int = 0
    bans: int = 0


@dataclass(slots=True)
class _Orders:
    w10: int = -1
    n10: int = 0
    w60: int = -1
    n60: int = 0
    backoff_until: int = 0


def _ceil_s(ms: int) -> int:
    return max(1, -(-ms // 1000))


@dataclass
class RateLimiter:
    weight_limit: int = 2400
    orders_10s: int = 300
    orders_1m: int = 1200
    ban_after: int = 10
    ban_ms: int = 120_000
    ips: dict[str, _Ip] = field(default_factory=dict)
    accounts: dict[str, _Orders] = field(default_factory=dict)
    count_429: int = 0
    count_418: int = 0

    def _ip(self, ip: str, now: int) -> _Ip:
        st = self.ips.setdefault(ip, _Ip())
        w = now // MINUTE_MS
        if w != st.window:
            st.window, st.used = w, 0
        if st.backoff_until and now >= st.backoff_until:
            st.backoff_until, st.during_backoff = 0, 0
        return st

    def used_weight(self, ip: str, now: int) -> int:
        return self._ip(ip, now).used

    def admit(self, ip: str, weight: int, now: int, storm_until: int = 0) -> Verdict:
        """Count a request of ``weight`` and say whether it may run."""
        st = self._ip(ip, now)
        if now < st.banned_until:
            self.count_418 += 1
            return Verdict(418, -1003, self._ban_msg(ip, st), _ceil_s(st.banned_until - now), st.used)
        if st.backoff_until and now < st.backoff_until:
            ban = self._strike(ip, st, now)
            if ban is not None:
                return ban
        st.used += weight
        if now < storm_until:
            return self._too_many(
                st, storm_until, storm_until, now, -1003, "Too many requests; current request has limited."
            )
        if st.used > self.weight_limit:
            end = (now // MINUTE_MS + 1) * MINUTE_MS
            return self._too_many(
                st,
                end,
                end,
                now,
                -1003,
                f"Too many requests; current limit of IP({ip}) is {self.weight_limit} requests per "
                "minute. Please use the websocket for live updates to avoid polling the API.",
            )
        return Verdict(200, used_weight=st.used)

    def _strike(self, ip: str, st: _Ip, now: int) -> Verdict | None:
        """One more request while told to back off; past ``ban_after`` of them the IP is banned."""
        st.during_backoff += 1
        if st.during_backoff <= self.ban_after:
            return None
        st.banned_until = now + self.ban_ms * (2**st.bans)
        st.bans += 1
        st.backoff_until, st.during_backoff = 0, 0
        self.count_418 += 1
        return Verdict(418, -1003, self._ban_msg(ip, st), _ceil_s(st.banned_until - now), st.used)

    def _too_many(self, st: _Ip, backoff: int, until: int, now: int, code: int, msg: str) -> Verdict:
        """A 429; ``backoff`` (ms epoch, 0 for none) is when the IP may send again without strikes."""
        st.backoff_until = max(st.backoff_until, backoff)
        self.count_429 += 1
        return Verdict(429, code, msg, _ceil_s(until - now), st.used)

    @staticmethod
    def _ban_msg(ip: str, st: _Ip) -> str:
        return (
            f"Way too many requests; IP({ip}) banned until {st.banned_until}. "
            "Please use the websocket for live updates to avoid bans."
        )

    def _acct(self, account: str, now: int) -> _Orders:
        st = self.accounts.setdefault(account, _Orders())
        w10, w60 = now // TEN_S_MS, now // MINUTE_MS
        if w10 != st.w10:
            st.w10, st.n10 = w10, 0
        if w60 != st.w60:
            st.w60, st.n60 = w60, 0
        return st

    def order_counts(self, account: str, now: int) -> tuple[int, int]:
        st = self._acct(account, now)
        return st.n10, st.n60

    def admit_orders(self, ip: str, account: str, n10: int, n60: int, now: int) -> Verdict:
        """Count new orders against the account's 10 s and 1 min limits (call after ``admit``)."""
        st = self._acct(account, now)
        ip_st = self._ip(ip, now)
        if now < st.backoff_until:
            ban = self._strike(ip, ip_st, now)
            if ban is not None:
                return ban
        st.n10 += n10
        st.n60 += n60
        if st.n10 > self.orders_10s:
            end = (now // TEN_S_MS + 1) * TEN_S_MS
            st.backoff_until = max(st.backoff_until, end)
            return self._too_many(
                ip_st,
                0,
                end,
                now,
                -1015,
                f"Too many new orders; current limit is {self.orders_10s} orders per 10 SECOND.",
            )
        if st.n60 > self.orders_1m:
            end = (now // MINUTE_MS + 1) * MINUTE_MS
            st.backoff_until = max(st.backoff_until, end)
            return self._too_many(
                ip_st,
                0,
                end,
                now,
                -1015,
                f"Too many new orders; current limit is {self.orders_1m} orders per MINUTE.",
            )
        return Verdict(200, used_weight=ip_st.used)

    def state(self, now: int) -> dict[str, object]:
        return {
            "count_429": self.count_429,
            "count_418": self.count_418,
            "ips": {
                ip: {
                    "used_weight_1m": self._ip(ip, now).used,
                    "backoff_until": st.backoff_until,
                    "banned_until": st.banned_until,
                    "bans": st.bans,
                }
                for ip, st in list(self.ips.items())
            },
            "orders": {
                a: dict(zip(("10s", "1m"), self.order_counts(a, now), strict=True)) for a in list(self.accounts)
            },
        }
