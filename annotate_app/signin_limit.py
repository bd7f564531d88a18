"""Sign-in rate limit: failed attempts counted per account name and per client address.

scrypt makes one guess cost ~50 ms, which still allows ~70,000 guesses a day per core; this
caps them. After ``PER_ACCOUNT`` failures for one name, or ``PER_ADDRESS`` from one address,
within ``WINDOW_S``, further attempts are refused *without checking the password* (so a
correct guess during the lock-out tells the guesser nothing) until the oldest failure ages
out. A success clears the name's failures. Kept in the server's memory: the app is one
process, and a restart forgetting the counts costs a guesser a restart of someone else's server.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

PER_ACCOUNT = 5
PER_ADDRESS = 20
WINDOW_S = 15 * 60.0


class Limiter:
    """Failures per key in a sliding window; ``clock`` is injectable for tests."""

    def __init__(self, per_account: int = PER_ACCOUNT, per_address: int = PER_ADDRESS, window_s: float = WINDOW_S,
                 clock=time.monotonic) -> None:
        self.limits = {"account": per_account, "address": per_address}
        self.window_s, self.clock = window_s, clock
        self._fails: dict[tuple[str, str], deque] = {}
        self._lock = threading.Lock()

    def _keys(self, name: str | None, address: str | None) -> list[tuple[str, str]]:
        keys = [("account", (name or "").strip().lower())]
        if address:
            keys.append(("address", address))
        return keys

    def _recent(self, key: tuple[str, str], now: float) -> deque:
        q = self._fails.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def wait_s(self, name: str | None, address: str | None) -> float:
        """Seconds until an attempt for ``name`` from ``address`` is allowed again; 0 when it is now."""
        now = self.clock()
        with self._lock:
            waits = [self._recent(k, now)[0] + self.window_s - now for k in self._keys(name, address)
                     if len(self._recent(k, now)) >= self.limits[k[0]]]
        return max(waits, default=0.0)

    def failed(self, name: str | None, address: str | None) -> None:
        now = self.clock()
        with self._lock:
            for k in self._keys(name, address):
                self._recent(k, now).append(now)

    def succeeded(self, name: str | None) -> None:
        with self._lock:
            self._fails.pop(("account", (name or "").strip().lower()), None)


def refusal(wait_s: float) -> str:
    return f"Too many failed sign-ins; try again in {max(1, math.ceil(wait_s / 60))} minute(s)."


LIMITER = Limiter()  # the server's one limiter


def attempt(check, name: str | None, address: str | None, limiter: Limiter = LIMITER):
    """``(account or None, refusal text or None)``: ``check()`` runs only when not locked out."""
    if (wait := limiter.wait_s(name, address)) > 0:
        return None, refusal(wait)
    account = check()
    if account is None:
        limiter.failed(name, address)
    else:
        limiter.succeeded(name)
    return account, None
