"""Rounds: which one is current, opening the next, a summary of each, and ``--rounds`` selections.

The current round is the highest ``rounds.number``. A selection is a tuple of round
numbers, or ``None`` for every round; commands default to ``(current,)``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage._engine import Store, in_transaction
from storage.errors import CurateError
from storage.models import CURRENT_ROUND_SQL, Round, utcnow

__all__ = ["current_round", "parse_rounds", "resolve_rounds", "round_summaries", "start_round"]

CURRENT_ROUND = text(f"SELECT {CURRENT_ROUND_SQL}")
CLIPS_IN_ROUND = text("SELECT COUNT(*) FROM clips WHERE round = :round")
KNOWN_ROUNDS = text("SELECT number FROM rounds ORDER BY number")

# One row per round; candidates and ratings belong to their clip's round.
ROUND_SUMMARIES = text("""
SELECT r.number, r.started_at, r.note,
       (SELECT COUNT(*) FROM clips cl WHERE cl.round = r.number) AS clips,
       (SELECT COUNT(*) FROM candidates c JOIN clips cl ON cl.id = c.clip_pk
        WHERE cl.round = r.number AND c.status = 'ready') AS candidates_ready,
       (SELECT COUNT(*) FROM ratings x JOIN candidates c ON c.id = x.candidate_pk JOIN clips cl ON cl.id = c.clip_pk
        WHERE cl.round = r.number) AS ratings
FROM rounds r ORDER BY r.number
""")


def current_round(store: Store) -> int:
    """The round new clips join (the highest opened)."""
    with store.reader() as conn:
        return int(conn.execute(CURRENT_ROUND).scalar_one())


def start_round(store: Store, note: str | None = None, allow_empty: bool = False) -> int:
    """Open round N+1 and return N+1; new clips join it from now on.

    Raises:
        CurateError: the current round has no clips (unless ``allow_empty``), or another
            ``round start`` opened the same number at the same moment.
    """
    def tx(s) -> int:
        cur = int(s.execute(CURRENT_ROUND).scalar_one())
        if not allow_empty and s.execute(CLIPS_IN_ROUND, {"round": cur}).scalar_one() == 0:
            raise CurateError(f"round {cur} has no clips yet: ingest its clips first "
                              "(or pass --allow-empty to open round {0} anyway).".format(cur + 1))
        s.add(Round(number=cur + 1, started_at=utcnow(), note=note))
        s.flush()
        return cur + 1

    try:
        return in_transaction(store, tx)
    except IntegrityError:
        raise CurateError("another `curate round start` opened the next round at the same time; "
                          "see `curate round list`.") from None


def round_summaries(store: Store) -> list[dict]:
    """Per round: number, started_at, note, clips, candidates_ready, ratings, current."""
    with store.reader() as conn:
        rows = [dict(r) for r in conn.execute(ROUND_SUMMARIES).mappings()]
    top = max((r["number"] for r in rows), default=1)
    for r in rows:
        r.update({k: int(r[k]) for k in ("number", "clips", "candidates_ready", "ratings")}, current=r["number"] == top)
        r["started_at"] = _iso(r["started_at"])
    return rows


def _iso(value) -> str:
    """UTC ISO 8601; SQLite hands a raw read back as text, PostgreSQL as an aware datetime."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    when = when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    return when.isoformat(timespec="seconds")


def parse_rounds(spec: str) -> tuple[int, ...] | None:
    """``"all"`` -> None (every round); ``"2"``, ``"1,2"``, ``"1-3"`` -> sorted round numbers.

    Raises:
        ValueError: anything else, naming the bad part.
    """
    spec = spec.strip()
    if spec.lower() == "all":
        return None
    out: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        lo, sep, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise ValueError(f"rounds must be 'all' or numbers like 1,2 or 1-3. Got {part!r} in {spec!r}.") from None
        if a < 1 or b < a:
            raise ValueError(f"rounds must be numbers >= 1 with lo <= hi in a range. Got {part!r} in {spec!r}.")
        out.update(range(a, b + 1))
    return tuple(sorted(out))


def resolve_rounds(store: Store, spec: str | None) -> tuple[int, ...] | None:
    """The rounds a command works on: ``spec`` parsed and checked, else the current round.

    Raises:
        CurateError: a round that was never opened.
    """
    with store.reader() as conn:
        known = [int(n) for n in conn.execute(KNOWN_ROUNDS).scalars()]
    if spec is None:
        return (max(known, default=1),)
    rounds = parse_rounds(spec)
    unknown = sorted(set(rounds or ()) - set(known))
    if unknown:
        raise CurateError(f"round(s) {', '.join(map(str, unknown))} not opened yet; rounds are "
                          f"{', '.join(map(str, known))} (see `curate round list`).")
    return rounds
