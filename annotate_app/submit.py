"""Storing a rated clip: every candidate in one transaction, exactly once.

A double click, a reload or a retried request must never make two ratings. Three
layers make sure of it: the assignment row is locked (PostgreSQL ``FOR UPDATE``;
SQLite's BEGIN IMMEDIATE serialises writers anyway), a ``done`` assignment turns an
identical second submit into a no-op and a different one into an error, and the
database's UNIQUE(candidate_pk, annotator_pk) backs both up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from storage import Assignment, AssignmentStatus, Candidate, CandidateStatus, Rating, Store, in_transaction
from storage.errors import CurateError
from storage.models_annotate import ClipProgress

COMMENT_MAX = 2000


class SubmitError(CurateError):
    """A submission that cannot be stored; the message is safe to show the annotator."""


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's answer: two Likert scores (1..5), an optional comment and the broken flag."""

    candidate_pk: int
    alignment: int
    fidelity: int
    comment: str | None = None
    broken: bool = False
    seconds_watched: float | None = None


@dataclass(frozen=True)
class SubmitResult:
    assignment_id: int
    stored: int  # ratings written by this call
    already: bool  # True when this exact submission had been stored before (a no-op)


def _check_score(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise SubmitError(f"{what} must be an integer 1-5. Got {value!r}.")
    return value


def validate(scores: Sequence[CandidateScore]) -> list[CandidateScore]:
    """Server-side checks that do not need the database; raises SubmitError naming the bad field."""
    if not scores:
        raise SubmitError("nothing to submit: no candidate was rated.")
    seen: set[int] = set()
    for sc in scores:
        if sc.candidate_pk in seen:
            raise SubmitError(f"candidate {sc.candidate_pk} appears twice in one submission.")
        seen.add(sc.candidate_pk)
        _check_score(sc.alignment, "alignment")
        _check_score(sc.fidelity, "fidelity")
        if sc.comment is not None and len(sc.comment) > COMMENT_MAX:
            raise SubmitError(f"comment is longer than {COMMENT_MAX} characters.")
        w = sc.seconds_watched
        if w is not None and (not math.isfinite(w) or w < 0):
            raise SubmitError(f"seconds_watched must be a number >= 0. Got {w!r}.")
    return list(scores)


def _same(r: Rating, sc: CandidateScore) -> bool:
    return (r.alignment, r.fidelity, bool(r.broken), r.comment or None) == (
        sc.alignment, sc.fidelity, bool(sc.broken), (sc.comment or None),
    )


BUMP_DONE = text("UPDATE clip_progress SET n_done = n_done + 1 WHERE clip_pk = :clip")


def _store(s: Session, me: int, assignment_id: int, scores: list[CandidateScore], now: datetime) -> SubmitResult:
    a = s.scalar(
        select(Assignment).where(Assignment.id == assignment_id, Assignment.annotator_pk == me).with_for_update()
    )
    if a is None:
        raise SubmitError("this clip is not assigned to you.")
    cands = {c.id: c for c in s.scalars(select(Candidate).where(Candidate.clip_pk == a.clip_pk))}
    for sc in scores:
        if sc.candidate_pk not in cands:
            raise SubmitError(f"candidate {sc.candidate_pk} does not belong to this clip.")
    existing = {
        r.candidate_pk: r
        for r in s.scalars(select(Rating).where(Rating.annotator_pk == me, Rating.candidate_pk.in_(list(cands))))
    }
    if a.status == AssignmentStatus.done or existing:
        if len(existing) == len(scores) and all(sc.candidate_pk in existing and _same(existing[sc.candidate_pk], sc) for sc in scores):
            if a.status != AssignmentStatus.done:  # ratings imported earlier: just close the assignment
                _close(s, a, now)
            return SubmitResult(assignment_id, stored=0, already=True)
        raise SubmitError("this clip was already submitted with other answers; ratings are not changed.")
    for sc in scores:
        s.add(
            Rating(
                candidate_pk=sc.candidate_pk,
                annotator_pk=me,
                alignment=sc.alignment,
                fidelity=sc.fidelity,
                comment=(sc.comment or "").strip() or None,
                broken=bool(sc.broken),
                seconds_watched=sc.seconds_watched,
                source="app",
                created_at=now,
                updated_at=now,
            )
        )
        if sc.broken and cands[sc.candidate_pk].status == CandidateStatus.ready:
            # One report flags it; later "not broken" answers never clear the flag.
            cands[sc.candidate_pk].status = CandidateStatus.flagged
    _close(s, a, now)
    return SubmitResult(assignment_id, stored=len(scores), already=False)


def _close(s: Session, a: Assignment, now: datetime) -> None:
    a.status = AssignmentStatus.done
    a.completed_at = now
    s.flush()
    if s.execute(BUMP_DONE, {"clip": a.clip_pk}).rowcount == 0:
        s.add(ClipProgress(clip_pk=a.clip_pk, n_done=1))


def submit_clip(
    store: Store,
    annotator_pk: int,
    assignment_id: int,
    scores: Sequence[CandidateScore],
    *,
    now: datetime | None = None,
) -> SubmitResult:
    """Store all ratings of one assigned clip in one transaction and mark the assignment done.

    A late submit after the lease expired is still accepted (the work is real); the
    clip may then end with k+1 ratings.

    Raises:
        SubmitError: bad scores, a clip not assigned to this annotator, or a second submit with other answers.
    """
    scores = validate(scores)
    now = now or datetime.now(timezone.utc)
    return in_transaction(store, lambda s: _store(s, annotator_pk, assignment_id, scores, now))
