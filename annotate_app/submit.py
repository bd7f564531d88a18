"""Storing a rated clip: every candidate in one transaction, exactly once.

A double click, a reload or a retried request must never make two ratings. Three
layers make sure of it: the assignment row is locked (PostgreSQL ``FOR UPDATE``;
SQLite's BEGIN IMMEDIATE serialises writers anyway), a ``done`` assignment turns an
identical second submit into a no-op and a different one into an error, and the
database's UNIQUE(candidate_pk, annotator_pk) backs both up.

Refused, with nothing stored and the draft kept: a released assignment (skipped, given
back, or handed on), a candidate that is no longer rateable (it failed after the clip was
handed out), and a late submit (lease expired) on a clip whose slot others have taken
since, which would be the clip's (k+1)-th rating.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from annotate_app import drafts
from annotate_app.assign import AssignConfig, aware_utc, blind_order, has_room
from annotate_app.overlap import update_target
from storage import Assignment, AssignmentStatus, Candidate, Clip, Rating, Store, in_transaction
from storage.errors import CurateError
from storage.models import BrokenReport, ClipProgress, RatingRevision
from storage.queries_assign import RATEABLE, RATEABLE_CANDIDATES
from storage.text_limits import COMMENT_MAX  # shared with imports and the Label Studio pull


class SubmitError(CurateError):
    """A submission that cannot be stored; the message is safe to show the annotator."""


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's answer: two Likert scores (1..5), an optional comment and the broken flag.

    A broken candidate needs no scores (both None): it is stored as a ``BrokenReport``, not a rating.
    """

    candidate_pk: int
    alignment: int | None
    fidelity: int | None
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
        if not (sc.broken and sc.alignment is None and sc.fidelity is None):  # broken: scores optional, both or none
            _check_score(sc.alignment, "alignment")
            _check_score(sc.fidelity, "fidelity")
        if sc.comment is not None and len(sc.comment) > COMMENT_MAX:
            raise SubmitError(f"comment is longer than {COMMENT_MAX} characters.")
        w = sc.seconds_watched
        if w is not None and (not math.isfinite(w) or w < 0):
            raise SubmitError(f"seconds_watched must be a number >= 0. Got {w!r}.")
    return list(scores)


def _same(r, sc: CandidateScore) -> bool:
    if isinstance(r, BrokenReport):
        return sc.alignment is None and sc.broken and (r.comment or None) == (sc.comment or None)
    return (r.alignment, r.fidelity, bool(r.broken), r.comment or None) == (
        sc.alignment, sc.fidelity, bool(sc.broken), (sc.comment or None),
    )


def unscored(sc: CandidateScore) -> bool:
    """A broken candidate reported without scores (stored as a BrokenReport)."""
    return sc.alignment is None


def _answers(s: Session, me: int, cands) -> dict:
    """This annotator's stored answers on these candidates: ratings and scoreless broken reports, by pk."""
    out = {r.candidate_pk: r for r in s.scalars(select(BrokenReport).where(
        BrokenReport.annotator_pk == me, BrokenReport.candidate_pk.in_(list(cands))))}
    out.update({r.candidate_pk: r for r in s.scalars(select(Rating).where(
        Rating.annotator_pk == me, Rating.candidate_pk.in_(list(cands))))})
    return out


def _new_answer(sc: CandidateScore, me: int, now: datetime):
    comment = (sc.comment or "").strip() or None
    if unscored(sc):
        return BrokenReport(candidate_pk=sc.candidate_pk, annotator_pk=me, comment=comment,
                            seconds_watched=sc.seconds_watched, created_at=now)
    return Rating(candidate_pk=sc.candidate_pk, annotator_pk=me, alignment=sc.alignment, fidelity=sc.fidelity,
                  comment=comment, broken=bool(sc.broken), seconds_watched=sc.seconds_watched, source="app",
                  created_at=now, updated_at=now)


BUMP_DONE = text("UPDATE clip_progress SET n_done = n_done + 1 WHERE clip_pk = :clip")


def _store(s: Session, me: int, assignment_id: int, scores: list[CandidateScore], now: datetime,
           cfg: AssignConfig | None = None) -> SubmitResult:
    a = s.scalar(
        select(Assignment).where(Assignment.id == assignment_id, Assignment.annotator_pk == me).with_for_update()
    )
    if a is None:
        raise SubmitError("this clip is not assigned to you.")
    if a.status == AssignmentStatus.released:
        raise SubmitError("this clip is no longer yours (skipped, or handed on after your lease expired); "
                          "nothing was stored.")
    cands = {c.id: c for c in s.scalars(select(Candidate).where(Candidate.clip_pk == a.clip_pk))}
    for sc in scores:
        if sc.candidate_pk not in cands:
            raise SubmitError(f"candidate {sc.candidate_pk} does not belong to this clip.")
    existing = _answers(s, me, cands)
    if a.status == AssignmentStatus.leased and a.completed_at is not None and existing:
        _refuse_unrateable(scores, cands)
        return _edit(s, a, scores, existing, cands, now, cfg)
    if a.status == AssignmentStatus.done or existing:
        if len(existing) == len(scores) and all(sc.candidate_pk in existing and _same(existing[sc.candidate_pk], sc) for sc in scores):
            if a.status != AssignmentStatus.done:  # ratings imported earlier: just close the assignment
                _close(s, a, now, cfg)
            return SubmitResult(assignment_id, stored=0, already=True)
        raise SubmitError("this clip was already submitted with other answers; ratings are not changed.")
    _refuse_unrateable(scores, cands)
    _refuse_late_if_full(s, a, me, now, cfg or AssignConfig())
    for sc in scores:
        s.add(_new_answer(sc, me, now))
        cands[sc.candidate_pk].report_broken(sc.broken)  # shared with `curate import ratings`
    _close(s, a, now, cfg)
    return SubmitResult(assignment_id, stored=len(scores), already=False)


def _refuse_unrateable(scores: list[CandidateScore], cands: dict) -> None:
    """A candidate hidden from the grid (failed, or not yet normalised) takes no rating, even from a stale page."""
    for sc in scores:
        status = getattr(cands[sc.candidate_pk].status, "value", cands[sc.candidate_pk].status)
        if status not in RATEABLE:
            raise SubmitError(f"candidate {sc.candidate_pk} is no longer shown for rating (it is {status}); "
                              "reload the page: your answers stay in the draft.")


def _refuse_late_if_full(s: Session, a: Assignment, me: int, now: datetime, cfg: AssignConfig) -> None:
    """A late submit (lease expired) is stored only while the clip still has room for it (the test of resuming
    an expired lease); otherwise it would be the clip's (k+1)-th rating."""
    if a.lease_expires_at is None or aware_utc(a.lease_expires_at) > now:
        return
    # The progress row is locked so that two late submits on one clip are counted one after the other.
    s.scalar(select(ClipProgress).where(ClipProgress.clip_pk == a.clip_pk).with_for_update())
    is_gold = bool(s.scalar(select(Clip.is_gold).where(Clip.id == a.clip_pk)))
    if not has_room(s, me, a.clip_pk, is_gold, cfg, now):
        raise SubmitError("your lease on this clip expired and other annotators have completed it since; "
                          "nothing was stored (your answers stay in the draft).")


def _edit(s: Session, a: Assignment, scores: list[CandidateScore], existing: dict, cands: dict, now: datetime,
          cfg: AssignConfig | None = None):
    """The resubmit of a reopened clip: changed ratings are updated in place, their old values kept."""
    changed = 0
    for sc in scores:
        r = existing.get(sc.candidate_pk)
        if r is not None and (isinstance(r, BrokenReport) or unscored(sc)) and not _same(r, sc):
            s.delete(r)  # a scoreless report became a rating, or the other way round: the new answer replaces it
            s.flush()
            r = None
        if r is None:
            s.add(_new_answer(sc, a.annotator_pk, now))
        elif not _same(r, sc):
            s.add(RatingRevision(rating_pk=r.id, alignment=r.alignment, fidelity=r.fidelity, comment=r.comment,
                                 broken=bool(r.broken), seconds_watched=r.seconds_watched, rated_at=r.updated_at,
                                 replaced_at=now))
            r.alignment, r.fidelity, r.broken = sc.alignment, sc.fidelity, bool(sc.broken)
            r.comment = (sc.comment or "").strip() or None
            r.seconds_watched = max(r.seconds_watched or 0.0, sc.seconds_watched or 0.0) or None
            r.updated_at = now
        else:
            continue
        changed += 1
        cands[sc.candidate_pk].report_broken(sc.broken)
    _close(s, a, now, cfg, counted=True)
    return SubmitResult(a.id, stored=changed, already=False)


def _close(s: Session, a: Assignment, now: datetime, cfg: AssignConfig | None = None, counted: bool = False) -> None:
    """Mark the assignment done; ``counted``: an edit, whose ratings never left ``n_done``."""
    a.status = AssignmentStatus.done
    a.completed_at = now
    drafts.discard(s, a.id)  # the draft became ratings in this same transaction
    s.flush()
    if not counted and s.execute(BUMP_DONE, {"clip": a.clip_pk}).rowcount == 0:
        s.add(ClipProgress(clip_pk=a.clip_pk, n_done=1))
        s.flush()
    if cfg is not None and cfg.adaptive:
        update_target(s, a.clip_pk, cfg.overlap, cfg.overlap_max, cfg.disagree_spread)


def submit_clip(
    store: Store,
    annotator_pk: int,
    assignment_id: int,
    scores: Sequence[CandidateScore],
    *,
    now: datetime | None = None,
    cfg: AssignConfig | None = None,
) -> SubmitResult:
    """Store all ratings of one assigned clip in one transaction and mark the assignment done.

    A late submit (the lease expired) is stored while the clip still has room for it (fewer than k done
    ratings and live leases of others, as when resuming an expired lease; ``cfg``'s k, the default
    AssignConfig's without it) and refused otherwise, so a clip never gets a (k+1)-th rating that way.
    With ``cfg`` and adaptive overlap on, the clip's target is updated in the same transaction
    (``annotate_app.overlap``).

    Raises:
        SubmitError: bad scores, a clip not assigned to this annotator (or released), a candidate that is not
            rateable, a late submit on a full clip, or a second submit with other answers. Nothing is stored
            then and the draft is kept.
    """
    scores = validate(scores)
    now = now or datetime.now(timezone.utc)
    return in_transaction(store, lambda s: _store(s, annotator_pk, assignment_id, scores, now, cfg))


def _reopen(s: Session, me: int, aid: int, edit_minutes: float, lease_minutes: float, now: datetime) -> dict:
    a = s.scalar(select(Assignment).where(Assignment.id == aid, Assignment.annotator_pk == me).with_for_update())
    if a is None or a.status != AssignmentStatus.done or a.completed_at is None:
        raise SubmitError("only your own submitted clips can be edited.")
    if aware_utc(a.completed_at) < now - timedelta(minutes=edit_minutes):
        raise SubmitError(f"this clip was submitted more than {edit_minutes:g} minutes ago; it can no longer be edited.")
    slots = blind_order([(pk, path) for pk, path in s.execute(RATEABLE_CANDIDATES, {"aid": aid})], a.order_seed)
    ratings = _answers(s, me, [sl.candidate_pk for sl in slots])
    draft = drafts.empty()
    for sl in slots:
        r = ratings.get(sl.candidate_pk)
        if r is None:
            continue
        if isinstance(r, Rating):
            draft["scores"][sl.label] = {"alignment": r.alignment, "fidelity": r.fidelity}
        if isinstance(r, BrokenReport) or r.broken:
            draft["broken"][sl.label] = True
        if r.comment:
            draft["comments"][sl.label] = r.comment
        draft["watched"][sl.label] = {"frac": 1.0, "seconds": float(r.seconds_watched or 0.0)}  # watched before
    a.status = AssignmentStatus.leased  # completed_at stays: it marks the lease as an edit
    a.lease_expires_at = now + timedelta(minutes=lease_minutes)
    # n_done is not lowered: the old ratings stay counted until the edit is submitted or abandoned
    # (annotate_app.assign, "What an edit is"), so the clip is never handed on meanwhile.
    drafts.write(s, aid, draft, [sl.label for sl in slots], now)
    return draft


def reopen(store: Store, annotator_pk: int, assignment_id: int, *, edit_minutes: float, lease_minutes: float,
           now: datetime | None = None) -> dict:
    """Reopen one's own submitted clip for editing; returns the draft made from its ratings.

    The ratings stay in place and counted (pairs and stats keep seeing them, the hand-out counts them
    towards k) until the edited clip is submitted again, which replaces them and keeps the old values in
    ``rating_revisions``; skip, give back, ``annotators disable`` or the edit lease running out abandon
    the edit and leave them as they were.

    Raises:
        SubmitError: not this annotator's submitted clip, or outside the edit window.
    """
    now = now or datetime.now(timezone.utc)
    return in_transaction(store, lambda s: _reopen(s, annotator_pk, assignment_id, edit_minutes, lease_minutes, now))
