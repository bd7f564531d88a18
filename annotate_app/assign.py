"""Handing out clips: k annotators per clip, leases that expire, resume, gold mixed in.

The unit of work is a clip (its ready candidates). Rules:
- an annotator never gets a clip twice (UNIQUE(clip_pk, annotator_pk) on assignments);
- a non-gold clip is open while ``done + live leases < k``; an expired lease frees its slot;
- gold clips have no cap: every annotator should meet them, that is what makes gold accuracy;
- an annotator with a leased clip gets that clip back (resume) before anything new.

Concurrency: on SQLite every transaction starts with BEGIN IMMEDIATE, so hand-outs are
serialised. On PostgreSQL the annotator's row is locked (one hand-out per annotator at a
time) and the chosen ``clip_progress`` row is taken with ``FOR UPDATE SKIP LOCKED``; the
capacity is re-counted in a fresh statement after the lock, which under READ COMMITTED
sees every lease committed before it.
"""

from __future__ import annotations

import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import Boolean, DateTime, Integer, String, bindparam, text
from sqlalchemy.orm import Session

from annotate_app import drafts
from storage import Assignment, AssignmentStatus, Store, in_transaction
from storage.models import CURRENT_ROUND_SQL
from storage.models_annotate import ClipProgress  # noqa: F401  (registers the table with the ORM)
from storage.models_drafts import ClipSkip, ClipTarget  # noqa: F401  (ClipTarget: registers the table)

_TS = DateTime(timezone=True)
RATEABLE = ("ready", "flagged")  # a flagged candidate stays in front of the remaining annotators
LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class AssignConfig:
    """How clips are handed out.

    Args:
        overlap: k, annotators per non-gold clip (``annotation.overlap`` in curate.toml).
        lease_minutes: a handed-out clip is reserved this long, then returns to the pool.
        gold_rate: probability that a hand-out tries a gold clip first (0 = never, 1 = always).
        max_skips: clips passed over after losing a race (PostgreSQL) before giving up this round.
        edit_minutes: how long after submitting a clip its annotator may reopen and edit it.
        overlap_max: adaptive overlap: a clip whose ratings disagree asks for more raters, one at a
            time, up to this many (None or = overlap: off). See ``annotate_app.overlap``.
        disagree_spread: a candidate's composite spread over raters that counts as disagreement.
        break_minutes: how long a break may hold the annotator's clip (the lease clock stops for it).
    """

    overlap: int = 3
    lease_minutes: float = 30.0
    gold_rate: float = 0.05
    max_skips: int = 50
    edit_minutes: float = 10.0
    overlap_max: int | None = None
    disagree_spread: float = 2.0
    break_minutes: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.overlap, int) or self.overlap < 1:
            raise ValueError(f"overlap must be an integer >= 1. Got {self.overlap!r}.")
        if self.lease_minutes <= 0:
            raise ValueError(f"lease_minutes must be > 0. Got {self.lease_minutes}.")
        if not 0.0 <= self.gold_rate <= 1.0:
            raise ValueError(f"gold_rate must be in [0, 1]. Got {self.gold_rate}.")
        if self.max_skips < 1:
            raise ValueError(f"max_skips must be >= 1. Got {self.max_skips}.")
        if self.edit_minutes < 0:
            raise ValueError(f"edit_minutes must be >= 0. Got {self.edit_minutes}.")
        if self.overlap_max is not None and (not isinstance(self.overlap_max, int) or self.overlap_max < self.overlap):
            raise ValueError(f"overlap_max must be an integer >= overlap ({self.overlap}). Got {self.overlap_max!r}.")
        if self.disagree_spread <= 0:
            raise ValueError(f"disagree_spread must be > 0. Got {self.disagree_spread}.")
        if self.break_minutes < 0:
            raise ValueError(f"break_minutes must be >= 0. Got {self.break_minutes}.")

    @property
    def adaptive(self) -> bool:
        return self.overlap_max is not None and self.overlap_max > self.overlap

    @classmethod
    def from_workspace(cls, ws, **overrides) -> AssignConfig:
        c = ws.config
        return cls(overlap=c.overlap, lease_minutes=c.lease_minutes, overlap_max=c.overlap_max,
                   disagree_spread=c.disagree_spread, **overrides)


@dataclass(frozen=True)
class Lease:
    """A clip reserved for one annotator."""

    assignment_id: int
    clip_pk: int
    order_seed: int
    lease_expires_at: datetime
    resumed: bool  # True when the annotator already held this clip


def _utc(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(timezone.utc)


# New clips get a progress row lazily; clips only ever gain ids, so "above the highest row" is cheap.
# Inserting in id order keeps two concurrent syncs from deadlocking on each other's rows.
SYNC_PROGRESS = text("""
INSERT INTO clip_progress (clip_pk, n_done)
SELECT c.id, 0 FROM clips c
WHERE c.id > (SELECT COALESCE(MAX(clip_pk), 0) FROM clip_progress)
ORDER BY c.id
ON CONFLICT DO NOTHING
""")

# Ids can commit out of order (two concurrent ingests on PostgreSQL), so now and then every clip
# without a row is added: a full anti-join, too slow for every hand-out at 100k clips.
SYNC_PROGRESS_FULL = text("""
INSERT INTO clip_progress (clip_pk, n_done)
SELECT c.id, 0 FROM clips c
WHERE NOT EXISTS (SELECT 1 FROM clip_progress q WHERE q.clip_pk = c.id)
ORDER BY c.id
ON CONFLICT DO NOTHING
""")
FULL_SYNC_EVERY_S = 60.0
_last_full_sync: dict[str, float] = {}  # store URL -> monotonic time of its last full sync

LOCK_ANNOTATOR = text("SELECT id FROM annotators WHERE id = :me FOR UPDATE")

MY_LEASE = text("""
SELECT a.id, a.clip_pk, a.order_seed, a.lease_expires_at, cl.is_gold
FROM assignments a JOIN clips cl ON cl.id = a.clip_pk
WHERE a.annotator_pk = :me AND a.status = 'leased'
ORDER BY a.leased_at, a.id
LIMIT 1
""")

# Slots taken on a clip by others: finished ratings plus unexpired leases.
TAKEN = text("""
SELECT q.n_done + (SELECT COUNT(*) FROM assignments a
                   WHERE a.clip_pk = q.clip_pk AND a.status = 'leased'
                     AND a.lease_expires_at > :now AND a.annotator_pk <> :me)
FROM clip_progress q WHERE q.clip_pk = :clip
""").bindparams(bindparam("now", type_=_TS))

_HAS_RATEABLE = (
    "EXISTS (SELECT 1 FROM candidates cd WHERE cd.clip_pk = {clip} AND cd.status IN ('ready', 'flagged'))"
)
_NOT_MINE = "NOT EXISTS (SELECT 1 FROM assignments m WHERE m.clip_pk = {clip} AND m.annotator_pk = :me)"

# Depth first (clips closest to k first) so complete clips, and agreement figures, appear early.
# The (n_done, clip_pk) index makes this a range scan over open clips only.
_PICK_OPEN_SQL = f"""
SELECT q.clip_pk
FROM clip_progress q JOIN clips c ON c.id = q.clip_pk
WHERE q.n_done < :k
  AND c.is_gold = :false
  AND c.round = {CURRENT_ROUND_SQL}
  AND q.clip_pk NOT IN :skip
  AND {_NOT_MINE.format(clip="q.clip_pk")}
  AND {_HAS_RATEABLE.format(clip="q.clip_pk")}
  AND q.n_done + (SELECT COUNT(*) FROM assignments a
                  WHERE a.clip_pk = q.clip_pk AND a.status = 'leased' AND a.lease_expires_at > :now) < :k
ORDER BY q.n_done DESC, q.clip_pk DESC
LIMIT 1
"""


def _pick_open_stmt(suffix: str):
    return text(_PICK_OPEN_SQL + suffix).bindparams(
        bindparam("now", type_=_TS), bindparam("false", value=False, type_=Boolean), bindparam("skip", expanding=True)
    )


# PostgreSQL: concurrent hand-outs skip a clip another transaction is leasing instead of queueing on it.
PICK_OPEN = {"postgresql": _pick_open_stmt(" FOR UPDATE OF q SKIP LOCKED"), "sqlite": _pick_open_stmt("")}

# Adaptive overlap: clips whose raters disagreed stay open up to their own target (clip_targets).
_PICK_ESCALATED_SQL = f"""
SELECT t.clip_pk
FROM clip_targets t JOIN clip_progress q ON q.clip_pk = t.clip_pk JOIN clips c ON c.id = t.clip_pk
WHERE q.n_done < t.target
  AND c.is_gold = :false
  AND t.clip_pk NOT IN :skip
  AND {_NOT_MINE.format(clip="t.clip_pk")}
  AND {_HAS_RATEABLE.format(clip="t.clip_pk")}
  AND q.n_done + (SELECT COUNT(*) FROM assignments a
                  WHERE a.clip_pk = t.clip_pk AND a.status = 'leased' AND a.lease_expires_at > :now) < t.target
ORDER BY t.clip_pk
LIMIT 1
"""
PICK_ESCALATED = {
    dialect: text(_PICK_ESCALATED_SQL + suffix).bindparams(
        bindparam("now", type_=_TS), bindparam("false", value=False, type_=Boolean), bindparam("skip", expanding=True)
    )
    for dialect, suffix in (("postgresql", " FOR UPDATE OF q SKIP LOCKED"), ("sqlite", ""))
}
TARGET = text("SELECT target FROM clip_targets WHERE clip_pk = :clip")

PICK_GOLD = text(f"""
SELECT c.id FROM clips c
WHERE c.is_gold = :true
  AND {_NOT_MINE.format(clip="c.id")}
  AND {_HAS_RATEABLE.format(clip="c.id")}
ORDER BY c.id
LIMIT 1
""").bindparams(bindparam("true", value=True, type_=Boolean))


def _pick_open(s: Session, me: int, cfg: AssignConfig, now: datetime, escalated: bool = False) -> int | None:
    pg = s.get_bind().dialect.name == "postgresql"
    stmt = (PICK_ESCALATED if escalated else PICK_OPEN)["postgresql" if pg else "sqlite"]
    skip = [-1]  # an empty IN () is not portable
    for _ in range(cfg.max_skips):
        clip = s.scalar(stmt, {"me": me, "k": cfg.overlap, "now": now, "skip": skip})
        if clip is None:
            return None
        if not pg:
            return clip
        # We hold the row lock now; a fresh statement sees leases committed before we got it.
        cap = s.scalar(TARGET, {"clip": clip}) if escalated else cfg.overlap
        if s.scalar(TAKEN, {"me": me, "now": now, "clip": clip}) < cap:
            return clip
        skip.append(clip)
    return None


def _lease(s: Session, me: int, clip: int, cfg: AssignConfig, now: datetime) -> Lease:
    a = Assignment(
        clip_pk=clip,
        annotator_pk=me,
        status=AssignmentStatus.leased,
        order_seed=secrets.randbits(31),
        leased_at=now,
        lease_expires_at=now + timedelta(minutes=cfg.lease_minutes),
    )
    s.add(a)
    s.flush()
    return Lease(a.id, clip, a.order_seed, a.lease_expires_at, resumed=False)


def _resume(s: Session, me: int, cfg: AssignConfig, now: datetime) -> Lease | None:
    """The annotator's own leased clip, renewed; an expired one whose slot was taken is released."""
    while (row := s.execute(MY_LEASE, {"me": me}).first()) is not None:
        aid, clip, seed, _expires, is_gold = row
        a = s.get(Assignment, aid)
        if is_gold or s.scalar(TAKEN, {"me": me, "now": now, "clip": clip}) < cfg.overlap:
            a.lease_expires_at = now + timedelta(minutes=cfg.lease_minutes)
            return Lease(aid, clip, seed, a.lease_expires_at, resumed=True)
        a.status = AssignmentStatus.released  # others filled the clip while this lease lay expired
        s.flush()
    return None


def _sync_progress(s: Session) -> None:
    url = str(s.get_bind().url)
    if time.monotonic() - _last_full_sync.get(url, -FULL_SYNC_EVERY_S) >= FULL_SYNC_EVERY_S:
        s.execute(SYNC_PROGRESS_FULL)
        _last_full_sync[url] = time.monotonic()
    else:
        s.execute(SYNC_PROGRESS)


def _next_in_tx(s: Session, me: int, cfg: AssignConfig, now: datetime, rng: random.Random) -> Lease | None:
    if s.get_bind().dialect.name == "postgresql":
        s.execute(LOCK_ANNOTATOR, {"me": me})
    lease = _resume(s, me, cfg, now)
    if lease is not None:
        return lease
    _sync_progress(s)
    gold_first = rng.random() < cfg.gold_rate
    kinds = ("gold", "escalated", "open") if gold_first else ("escalated", "open", "gold")
    for kind in kinds:
        if kind == "escalated" and not cfg.adaptive:
            continue
        clip = s.scalar(PICK_GOLD, {"me": me}) if kind == "gold" else _pick_open(s, me, cfg, now, kind == "escalated")
        if clip is not None:
            return _lease(s, me, clip, cfg, now)
    return None


def next_clip(
    store: Store, annotator_pk: int, cfg: AssignConfig, *, now: datetime | None = None, rng: random.Random | None = None
) -> Lease | None:
    """The clip this annotator should rate now (resumed or newly leased), or None when nothing is left."""
    now, rng = _utc(now), rng or random.Random()
    return in_transaction(store, lambda s: _next_in_tx(s, annotator_pk, cfg, now, rng))


def release(store: Store, annotator_pk: int, assignment_id: int) -> bool:
    """Give a leased clip back to the pool (e.g. "skip"); True when a lease was released."""
    def tx(s: Session) -> bool:
        a = s.get(Assignment, assignment_id)
        if a is None or a.annotator_pk != annotator_pk or a.status != AssignmentStatus.leased:
            return False
        a.status = AssignmentStatus.released
        return True

    return in_transaction(store, tx)


@dataclass(frozen=True)
class Slot:
    """One candidate as the annotator sees it: a letter and a video, never the method."""

    label: str
    candidate_pk: int
    video_path: str


@dataclass(frozen=True)
class ClipView:
    assignment_id: int
    clip_id: str
    image_path: str
    status: str
    slots: tuple[Slot, ...] = field(default_factory=tuple)


CLIP_VIEW = text("""
SELECT a.id, a.status, a.order_seed, cl.clip_id, cl.image_path
FROM assignments a JOIN clips cl ON cl.id = a.clip_pk
WHERE a.id = :aid AND a.annotator_pk = :me
""")
RATEABLE_CANDIDATES = text("""
SELECT cd.id, cd.video_path FROM candidates cd
WHERE cd.clip_pk = (SELECT clip_pk FROM assignments WHERE id = :aid)
  AND cd.status IN ('ready', 'flagged') AND cd.video_path IS NOT NULL
ORDER BY cd.id
""")


def blind_order(candidates: list[tuple[int, str]], seed: int) -> tuple[Slot, ...]:
    """Candidates shuffled by the assignment's seed and labelled A, B, C... (stable across reloads)."""
    order = sorted(candidates)
    random.Random(seed).shuffle(order)
    return tuple(Slot(LABELS[i % 26] + ("" if i < 26 else str(i // 26)), pk, path) for i, (pk, path) in enumerate(order))


def clip_view(store: Store, annotator_pk: int, assignment_id: int) -> ClipView | None:
    """What the clip page shows for one of *this annotator's* assignments; None for anyone else's."""
    with store.session() as s:
        row = s.execute(CLIP_VIEW, {"aid": assignment_id, "me": annotator_pk}).first()
        if row is None:
            return None
        aid, status, seed, clip_id, image = row
        cands = [(pk, path) for pk, path in s.execute(RATEABLE_CANDIDATES, {"aid": aid})]
    return ClipView(aid, clip_id, image, str(getattr(status, "value", status)), blind_order(cands, seed))


PROGRESS = text(f"""
SELECT (SELECT COUNT(*) FROM assignments WHERE annotator_pk = :me AND status = 'done') AS mine,
       (SELECT COUNT(*) FROM clip_progress q JOIN clips c ON c.id = q.clip_pk
        WHERE q.n_done >= :k AND c.is_gold = :false AND c.round = {CURRENT_ROUND_SQL}) AS complete,
       (SELECT COUNT(*) FROM clips WHERE is_gold = :false AND round = {CURRENT_ROUND_SQL}) AS clips
""").bindparams(bindparam("false", value=False, type_=Boolean))


def progress(store: Store, annotator_pk: int, overlap: int) -> dict[str, int]:
    """``mine`` (clips this annotator finished), ``complete`` (non-gold clips with k ratings) and ``clips``."""
    with store.session() as s:
        row = s.execute(PROGRESS, {"me": annotator_pk, "k": overlap}).mappings().one()
    return dict(row)


# Clips this annotator could still be handed: open non-gold clips (by the same rule as PICK_OPEN),
# gold clips they have not met and escalated clips (adaptive overlap; they have k ratings, so no
# clip is counted twice). Counted once per clip shown, not per hand-out.
AVAILABLE = text(f"""
SELECT (SELECT COUNT(*) FROM clip_progress q JOIN clips c ON c.id = q.clip_pk
        WHERE q.n_done < :k AND c.is_gold = :false
          AND {_NOT_MINE.format(clip="q.clip_pk")}
          AND {_HAS_RATEABLE.format(clip="q.clip_pk")}
          AND q.n_done + (SELECT COUNT(*) FROM assignments a
                          WHERE a.clip_pk = q.clip_pk AND a.status = 'leased' AND a.lease_expires_at > :now) < :k)
     + (SELECT COUNT(*) FROM clips c WHERE c.is_gold = :true
          AND {_NOT_MINE.format(clip="c.id")} AND {_HAS_RATEABLE.format(clip="c.id")})
     + (SELECT COUNT(*) FROM clip_targets t JOIN clip_progress q ON q.clip_pk = t.clip_pk
        WHERE q.n_done < t.target AND {_NOT_MINE.format(clip="t.clip_pk")})
""").bindparams(bindparam("now", type_=_TS), bindparam("false", value=False, type_=Boolean),
                bindparam("true", value=True, type_=Boolean))


@dataclass(frozen=True)
class Queue:
    """Where an annotator stands: this is clip ``n`` of ``total`` they can rate (done + current + left)."""

    done: int
    current: int  # 1 while a clip is leased, else 0
    left: int

    @property
    def n(self) -> int:
        return self.done + self.current

    @property
    def total(self) -> int:
        return self.done + self.current + self.left


MY_DONE_AND_LEASED = text("""
SELECT COALESCE(SUM(CASE WHEN status = 'done' THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN status = 'leased' THEN 1 ELSE 0 END), 0)
FROM assignments WHERE annotator_pk = :me
""")


def queue(store: Store, annotator_pk: int, overlap: int, *, now: datetime | None = None) -> Queue:
    """The annotator's queue: clips done, the one in hand, and how many more they could be handed."""
    with store.session() as s:
        done, leased = s.execute(MY_DONE_AND_LEASED, {"me": annotator_pk}).one()
        left = s.scalar(AVAILABLE, {"me": annotator_pk, "k": overlap, "now": _utc(now)})
    return Queue(int(done), min(1, int(leased)), int(left))


def skip(store: Store, annotator_pk: int, assignment_id: int, reason: str | None = None) -> bool:
    """Pass over a leased clip: it goes back to the pool and never comes back to this annotator.

    The assignment row stays (``released``), and UNIQUE(clip, annotator) plus the hand-out's
    "not mine" rule keep the clip away from this annotator; the reason is kept in ``clip_skips``.
    """
    reason = (reason or "").strip()[:500] or None

    def tx(s: Session) -> bool:
        a = s.get(Assignment, assignment_id)
        if a is None or a.annotator_pk != annotator_pk or a.status != AssignmentStatus.leased:
            return False
        a.status = AssignmentStatus.released
        drafts.discard(s, assignment_id)
        s.add(ClipSkip(assignment_pk=assignment_id, reason=reason))
        return True

    return in_transaction(store, tx)


LAST_DONE = text("""
SELECT a.id, cl.clip_id, a.completed_at FROM assignments a JOIN clips cl ON cl.id = a.clip_pk
WHERE a.annotator_pk = :me AND a.status = 'done' AND a.completed_at IS NOT NULL
ORDER BY a.completed_at DESC, a.id DESC LIMIT 1
""").columns(id=Integer, clip_id=String, completed_at=_TS)


def aware_utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)  # SQLite returns naive UTC


def last_editable(store: Store, annotator_pk: int, cfg: AssignConfig, *, now: datetime | None = None):
    """``(assignment_id, clip_id)`` of this annotator's last submission if still inside the edit window."""
    with store.session() as s:
        row = s.execute(LAST_DONE, {"me": annotator_pk}).first()
    if row is None or aware_utc(row[2]) < _utc(now) - timedelta(minutes=cfg.edit_minutes):
        return None
    return row[0], row[1]


def hold(store: Store, annotator_pk: int, assignment_id: int, minutes: float, *, now: datetime | None = None) -> bool:
    """Keep one's leased clip for ``minutes`` from now (activity, a break, the end of a break).

    Never shortens a lease; False when the assignment is not this annotator's live lease.
    """
    until = _utc(now) + timedelta(minutes=minutes)

    def tx(s: Session) -> bool:
        a = s.get(Assignment, assignment_id)
        if a is None or a.annotator_pk != annotator_pk or a.status != AssignmentStatus.leased:
            return False
        if a.lease_expires_at is None or aware_utc(a.lease_expires_at) < until:
            a.lease_expires_at = until
        return True

    return in_transaction(store, tx)
