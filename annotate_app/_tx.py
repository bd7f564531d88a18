"""One transaction with retries on transient lock errors, so "database is locked" never reaches a user."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from storage import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

# SQLite waits busy_timeout (30 s) itself; these retries cover what still escapes it
# (a lock upgrade under load) and PostgreSQL deadlocks / serialization failures.
_PG_RETRY_CODES = {"40001", "40P01", "55P03"}


def _transient(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    if code in _PG_RETRY_CODES:
        return True
    return isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower()


def in_transaction(store: Store, fn: Callable[[Session], T], attempts: int = 5) -> T:
    """Run ``fn(session)`` inside ``store.session()``; retry the whole transaction on transient lock errors."""
    for i in range(attempts):
        try:
            with store.session() as s:
                return fn(s)
        except DBAPIError as exc:
            if i == attempts - 1 or not _transient(exc):
                raise
            delay = 0.05 * (2**i) * (1 + random.random())
            log.warning("transient database error (%s); retry %d in %.2fs", type(exc.orig).__name__, i + 1, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")
