"""Handing out clips: k annotators per clip, leases that expire, resume, gold mixed in.

The unit of work is a clip (its ready candidates). Rules:
- an annotator never gets a clip twice (UNIQUE(clip_pk, annotator_pk) on assignments);
- a non-gold clip is open while ``done + live leases < k``; an expired lease frees its slot;
- gold clips have no cap: every annotator should meet them, that is what makes gold accuracy;
- an annotator with a leased clip gets that clip back (resume) before anything new;
- an expired lease is never renewed by activity (:func:`hold`): only a resume that finds room may.

What an edit is: a submitted clip its annotator reopened (``submit.reopen``): the assignment is
``leased`` again with ``completed_at`` kept. Its old ratings stay counted (``n_done`` is not
lowered and the edit lease is not a slot) until the edit is submitted, which replaces them, or
abandoned: skip, give back, ``annotators disable`` or an expired edit lease put the assignment back
to ``done`` with the old ratings, so the clip is never handed on to a (k+1)-th rater.

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

from sqlalchemy import DateTime
from sqlalchemy.orm import Session

from annotate_app import drafts
from storage import Assignment, AssignmentStatus, Store, in_transaction
from storage.models import ClipSkip
from storage.queries_assign import (
    AVAILABLE,
    CLIP_VIEW,
    LAST_DONE,
    LOCK_ANNOTATOR,
    MY_DONE_AND_LEASED,
    MY_LEASE,
    PICK_ESCALATED,
    PICK_GOLD,
    PICK_OPEN,
    PROGRESS,
    RATEABLE_CANDIDATES,
    SYNC_PROGRESS,
    SYNC_PROGRESS_FULL,
    TAKEN,
    TARGET,
)

_TS = DateTime(timezone=True)
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
        allocation: "uniform" (k raters per clip) or "active" (by the priority table; see ``annotate_app.doubt.pick``).
        settle_confidence: active: a clip whose pair confidence reaches this is no longer handed out.
        refit_seconds: active: the background fit's period.
    """

    overlap: int = field(default=3, metadata={
        "help": "k, annotators per non-gold clip (annotation.overlap in curate.toml)."})
    lease_minutes: float = field(default=30.0, metadata={
        "help": "A handed-out clip is reserved this long, then returns to the pool."})
    gold_rate: float = field(default=0.05, metadata={
        "help": "Probability that a hand-out tries a gold clip first (0 = never, 1 = always)."})
    max_skips: int = field(default=50, metadata={
        "help": "Clips passed over after losing a race (PostgreSQL) before giving up this round."})
    edit_minutes: float = field(default=10.0, metadata={
        "help": "How long after submitting a clip its annotator may reopen and edit it."})
    overlap_max: int | None = field(default=None, metadata={
        "help": "Adaptive overlap: a clip whose ratings disagree asks for more raters, up to this many "
                "(None: off)."})
    disagree_spread: float = field(default=2.0, metadata={
        "help": "A candidate's composite spread over raters that counts as disagreement."})
    break_minutes: float = field(default=60.0, metadata={
        "help": "How long a break may hold the annotator's clip (the lease clock stops for it)."})

    allocation: str = field(default="uniform", metadata={
        "help": "uniform: k raters per clip; active: the clip whose pair is most in doubt per second of the "
                "annotator's time."})
    settle_confidence: float = field(default=0.95, metadata={
        "help": "Active allocation: a clip whose pair confidence reaches this is no longer handed out."})
    refit_seconds: float = field(default=120.0, metadata={
        "help": "Active allocation: how often the annotator model is refitted in the background."})

    def __post_init__(self) -> None:
        if self.allocation not in ("uniform", "active"):
            raise ValueError(f"allocation must be 'uniform' or 'active'. Got {self.allocation!r}.")
        if not 0.5 < self.settle_confidence < 1:
            raise ValueError(f"settle_confidence must be in (0.5, 1). Got {self.settle_confidence}.")
        if not self.refit_seconds > 0:
            raise ValueError(f"refit_seconds must be > 0. Got {self.refit_seconds}.")
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
        """The workspace's ``[annotation]`` table, checked; ``overrides`` win (e.g. the app's gold rate)."""
        from storage.workspace import section_config

        return section_config(cls, {**ws.config.annotation, **overrides}, "annotation")


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


FULL_SYNC_EVERY_S = 60.0
_last_full_sync: dict[str, float] = {}  # store URL -> monotonic time of its last full sync


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


def has_room(s: Session, me: int, clip: int, is_gold: bool, cfg: AssignConfig, now: datetime) -> bool:
    """Whether ``me`` may still add this clip's ratings after the lease lay expired: gold clips have no cap,
    others while fewer than k (the adaptive target when higher) are done or leased live by others. Resuming an
    expired lease and a late submit (annotate_app.submit) both ask this."""
    if is_gold:
        return True
    if cfg.allocation == "active":  # active: up to overlap_max (k when unset); settled clips are simply not handed out
        cap = cfg.overlap_max or cfg.overlap
        return (s.scalar(TAKEN, {"me": me, "now": now, "clip": clip}) or 0) < cap
    cap = max(cfg.overlap, s.scalar(TARGET, {"clip": clip}) or 0) if cfg.adaptive else cfg.overlap
    return (s.scalar(TAKEN, {"me": me, "now": now, "clip": clip}) or 0) < cap


def is_edit(a: Assignment) -> bool:
    """A reopened clip (see the module docstring): leased again, its first submit's time kept."""
    return a.status == AssignmentStatus.leased and a.completed_at is not None


def lease_live(a: Assignment, now: datetime) -> bool:
    return a.lease_expires_at is not None and aware_utc(a.lease_expires_at) > now


def abandon_edit(s: Session, a: Assignment) -> None:
    """End an edit without changing the ratings: the assignment is ``done`` again, as before the reopen."""
    a.status = AssignmentStatus.done
    drafts.discard(s, a.id)
    s.flush()


def _resume(s: Session, me: int, cfg: AssignConfig, now: datetime) -> Lease | None:
    """The annotator's own leased clip, renewed; an expired one whose slot was taken is released, an expired
    edit abandoned (its old ratings stand)."""
    while (row := s.execute(MY_LEASE, {"me": me}).first()) is not None:
        aid, clip, seed, _expires, is_gold = row
        a = s.get(Assignment, aid)
        if is_edit(a) and not lease_live(a, now):
            abandon_edit(s, a)
            continue
        if is_edit(a) or has_room(s, me, clip, bool(is_gold), cfg, now):
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
    if cfg.allocation == "active":
        return _next_active(s, me, cfg, now, rng)
    gold_first = rng.random() < cfg.gold_rate
    kinds = ("gold", "escalated", "open") if gold_first else ("escalated", "open", "gold")
    for kind in kinds:
        if kind == "escalated" and not cfg.adaptive:
            continue
        clip = s.scalar(PICK_GOLD, {"me": me}) if kind == "gold" else _pick_open(s, me, cfg, now, kind == "escalated")
        if clip is not None:
            return _lease(s, me, clip, cfg, now)
    return None


def _next_active(s: Session, me: int, cfg: AssignConfig, now: datetime, rng: random.Random) -> Lease | None:
    """Active allocation (``annotate_app.doubt.pick``): gold at its rate, then every clip's first rating, then
    the clip whose pair would firm up most per second of this annotator's time."""
    from dataclasses import replace

    from annotate_app.doubt.pick import pick_active

    gold_first = rng.random() < cfg.gold_rate
    steps = ("gold", "first", "doubt") if gold_first else ("first", "doubt", "gold")
    for step in steps:
        if step == "gold":
            clip = s.scalar(PICK_GOLD, {"me": me})
        elif step == "first":  # a minimum of one rating per clip: the model knows nothing of an unrated clip
            clip = _pick_open(s, me, replace(cfg, overlap=1), now)
        else:
            clip = pick_active(s, me, cfg, now)
        if clip is not None:
            return _lease(s, me, clip, cfg, now)
    return None


def next_clip(
    store: Store, annotator_pk: int, cfg: AssignConfig, *, now: datetime | None = None, rng: random.Random | None = None
) -> Lease | None:
    """The clip this annotator should rate now (resumed or newly leased), or None when nothing is left."""
    now, rng = _utc(now), rng or random.Random()
    if cfg.allocation == "active":
        from annotate_app.doubt.priority import maybe_refresh

        maybe_refresh(store, cfg.settle_confidence, cfg.refit_seconds, cfg.overlap_max or cfg.overlap)
    return in_transaction(store, lambda s: _next_in_tx(s, annotator_pk, cfg, now, rng))


def release(store: Store, annotator_pk: int, assignment_id: int) -> bool:
    """Give a leased clip back to the pool (e.g. "skip"); True when a lease was released (an edit: abandoned)."""
    def tx(s: Session) -> bool:
        a = s.get(Assignment, assignment_id)
        if a is None or a.annotator_pk != annotator_pk or a.status != AssignmentStatus.leased:
            return False
        if is_edit(a):
            abandon_edit(s, a)
            return True
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


def progress(store: Store, annotator_pk: int, overlap: int) -> dict[str, int]:
    """``mine`` (clips this annotator finished), ``complete`` (non-gold clips with k ratings) and ``clips``."""
    with store.session() as s:
        row = s.execute(PROGRESS, {"me": annotator_pk, "k": overlap}).mappings().one()
    return dict(row)


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
    Skipping an edit abandons the edit: the clip stays submitted with its old ratings.
    """
    reason = (reason or "").strip()[:500] or None

    def tx(s: Session) -> bool:
        a = s.get(Assignment, assignment_id)
        if a is None or a.annotator_pk != annotator_pk or a.status != AssignmentStatus.leased:
            return False
        if is_edit(a):
            abandon_edit(s, a)
            return True
        a.status = AssignmentStatus.released
        drafts.discard(s, assignment_id)
        s.add(ClipSkip(assignment_pk=assignment_id, reason=reason))
        return True

    return in_transaction(store, tx)


def aware_utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)  # SQLite returns naive UTC


def last_editable(store: Store, annotator_pk: int, cfg: AssignConfig, *, now: datetime | None = None):
    """``(assignment_id, clip_id)`` of this annotator's last submission if still inside the edit window."""
    with store.session() as s:
        row = s.execute(LAST_DONE, {"me": annotator_pk}).first()
    if row is None or aware_utc(row[2]) < _utc(now) - timedelta(minutes=cfg.edit_minutes):
        return None
    return row[0], row[1]


LEASE_EXPIRED = ("Your lease on this clip ran out while you were away, so it was not renewed. Your answers are "
                 "kept: submitting stores them if the clip still needs raters, otherwise you get the next clip.")


def hold(store: Store, annotator_pk: int, assignment_id: int, minutes: float, *, now: datetime | None = None) -> bool:
    """Keep one's leased clip for ``minutes`` from now (activity, a break, the end of a break).

    Never shortens a lease, and never renews an expired one: others may have filled the clip since, and a
    renewed lease would make the late submit look on time (a (k+1)-th rating). False when the assignment is
    not this annotator's live lease; the draft is kept either way and the page shows :data:`LEASE_EXPIRED`.
    """
    now = _utc(now)
    until = now + timedelta(minutes=minutes)

    def tx(s: Session) -> bool:
        a = s.get(Assignment, assignment_id)
        if a is None or a.annotator_pk != annotator_pk or a.status != AssignmentStatus.leased:
            return False
        if not lease_live(a, now):
            return False
        if a.lease_expires_at is None or aware_utc(a.lease_expires_at) < until:
            a.lease_expires_at = until
        return True

    return in_transaction(store, tx)
