"""``curate import candidates|ratings``: candidate videos and ratings from CSV/Parquet files, validated whole, stored in one transaction."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select
from tqdm import tqdm

from annotate_app.assign import AssignConfig
from curation.face_box import face_box
from storage import (
    Annotator,
    Assignment,
    AssignmentStatus,
    Candidate,
    CandidateStatus,
    Clip,
    Rating,
    in_transaction,
)
from storage.errors import CurateError, where
from storage.ids import check_id, optional_id
from storage.limits import DEFAULT_LIMITS, Limits
from storage.media import probe_video, resolve_media_path, sha256_file
from storage.models.annotation import ClipProgress
from storage.models.drafts import ClipTarget, RatingRevision
from storage.queries_assign import TAKEN
from storage.tables import ImportReport, cell, default_candidate_id, read_table
from storage.text_limits import COMMENT_MAX
from storage.workspace import Workspace

CANDIDATE_REQUIRED = ["clip_id", "method", "video"]
CANDIDATE_OPTIONAL = ["candidate_id"]
RATING_REQUIRED = ["annotator_id", "alignment", "fidelity"]
RATING_OPTIONAL = ["clip_id", "candidate_id", "method", "comment", "broken", "seconds_watched"]


@dataclass(frozen=True)
class _CandidateRow:
    """One checked row of a candidates file: ids valid, video probed and hashed."""

    row: int
    clip_id: str
    method: str
    candidate_id: str
    video: Path
    probe: object
    sha256: str


def _check_candidate_rows(path: Path, records: list[dict], clip_ids: dict[str, float], roots, progress: bool,
                          limits: Limits = DEFAULT_LIMITS) -> list[_CandidateRow]:
    """Every row's ids, then its video probed and hashed: the slow part, done before any lock is taken.

    ``clip_ids`` maps each stored clip to its audio's length: a video far longer than that is refused (a crafted
    4000-second candidate for a 2-second clip would make ``eval`` decode every frame)."""
    rows: list[_CandidateRow] = []
    by_key: dict[tuple[str, str], int] = {}
    by_cand: dict[str, int] = {}
    for i, rec in enumerate(records, 1):
        clip_id = check_id(rec.get("clip_id"), where(path, i, "clip_id"), "clip_id")
        if clip_id not in clip_ids:
            raise CurateError(f"{where(path, i, 'clip_id')}: unknown clip_id {clip_id!r}; ingest it first.")
        method = check_id(rec.get("method"), where(path, i, "method"), "method")
        cand_id = optional_id(rec.get("candidate_id"), where(path, i, "candidate_id"), "candidate_id")
        cand_id = cand_id or default_candidate_id(clip_id, method)
        if (clip_id, method) in by_key:
            raise CurateError(f"{where(path, i, 'method')}: clip {clip_id!r} method {method!r} repeats row {by_key[(clip_id, method)]}.")
        if cand_id in by_cand:
            raise CurateError(f"{where(path, i, 'candidate_id')}: candidate_id {cand_id!r} repeats row {by_cand[cand_id]}.")
        by_key[(clip_id, method)], by_cand[cand_id] = i, i
        rows.append((i, rec, clip_id, method, cand_id))
    out = []
    for i, rec, clip_id, method, cand_id in tqdm(rows, desc="probing videos", unit="video", disable=not progress):
        video = resolve_media_path(cell(rec["video"]) or "", path.parent, roots, where(path, i, "video"))
        what = where(path, i, "video")
        probe = probe_video(video, what, check_length=lambda d, c=clip_id, w=what:
                            limits.check_video_length(d, clip_ids[c], w))
        out.append(_CandidateRow(i, clip_id, method, cand_id, video, probe, sha256_file(video)))
    return out


def _warn_complete(s, added: dict[str, int], clips: dict, k: int, report: ImportReport) -> None:
    """A candidate added to a clip that already has its k ratings is never rated by the app (the clip is not
    handed out again): say so, with the count, so the user can rate it another way or start a round."""
    full = {}
    for clip_id, n in sorted(added.items()):
        done = s.scalar(select(ClipProgress.n_done).where(ClipProgress.clip_pk == clips[clip_id].id)) or 0
        if not clips[clip_id].is_gold and done >= k:
            full[clip_id] = n
    if full:
        shown = ", ".join(f"{c} ({n})" for c, n in list(full.items())[:5]) + (" ..." if len(full) > 5 else "")
        report.warnings.append(
            f"{sum(full.values())} candidate(s) joined {len(full)} clip(s) that already have their k = {k} ratings: "
            f"the app will not hand those clips out again, so the new candidates stay unrated there: {shown}.")


def _store_candidates(s, path: Path, rows: list[_CandidateRow], report: ImportReport, k: int = 3) -> None:
    """The write transaction: only lookups and inserts, no file work."""
    clips = {c.clip_id: c for c in s.scalars(select(Clip).where(Clip.clip_id.in_({r.clip_id for r in rows})))}
    added: dict[str, int] = {}
    for r in rows:
        clip = clips.get(r.clip_id)
        if clip is None:  # deleted between the check and now
            raise CurateError(f"{where(path, r.row, 'clip_id')}: unknown clip_id {r.clip_id!r}; ingest it first.")
        old = s.scalar(select(Candidate).where(Candidate.clip_pk == clip.id, Candidate.method == r.method))
        if old is not None:
            if old.sha256 == r.sha256 and old.candidate_id == r.candidate_id:
                report.unchanged += 1
                continue
            raise CurateError(
                f"{where(path, r.row, 'video')}: clip {r.clip_id!r} already has a {r.method!r} candidate "
                f"({old.candidate_id}) with a different video or id."
            )
        other = s.scalar(select(Candidate).where(Candidate.candidate_id == r.candidate_id))
        if other is not None:
            raise CurateError(
                f"{where(path, r.row, 'candidate_id')}: candidate_id {r.candidate_id!r} is already used by "
                f"clip {other.clip.clip_id!r} method {other.method!r}."
            )
        p = r.probe
        s.add(
            Candidate(
                candidate_id=r.candidate_id, clip_pk=clip.id, method=r.method, video_path=str(r.video),
                fps=p.fps, frame_count=p.frame_count, width=p.width, height=p.height, duration=p.duration,
                has_audio=p.has_audio, sha256=r.sha256, status=CandidateStatus.ready, source="import",
                face_box=face_box(r.video),  # once, at import: the player's mouth zoom frames the lips from it
            )
        )
        report.added += 1
        added[r.clip_id] = added.get(r.clip_id, 0) + 1
    _warn_complete(s, added, clips, k, report)


def import_candidates(ws: Workspace, path: str | Path, progress: bool = False) -> ImportReport:
    """Register pre-generated videos as ready candidates, probed with decord and hashed.

    Every video is probed and hashed before the store's write lock is taken, so a long
    import never holds annotators' writes back (on SQLite the write transaction lasts
    milliseconds per hundred rows). Re-importing the same file changes nothing; the same
    (clip, method) with a different video, or a candidate_id used twice, is an error
    naming the rows.
    """
    path = Path(path).resolve()
    limits = Limits.from_workspace(ws)
    df = read_table(path, CANDIDATE_REQUIRED, CANDIDATE_OPTIONAL, max_rows=limits.max_manifest_rows)
    with ws.store() as store:
        with store.reader() as conn:
            clip_ids = {c: float(d) for c, d in conn.execute(select(Clip.clip_id, Clip.audio_duration))}
        rows = _check_candidate_rows(path, df.to_dict("records"), clip_ids, ws.media_roots, progress, limits)

        def write(s) -> ImportReport:  # a fresh report per attempt: in_transaction may run it again
            report = ImportReport()
            _store_candidates(s, path, rows, report, AssignConfig.from_workspace(ws).overlap)
            return report

        return in_transaction(store, write)


_SCORE_TEXT = re.compile(r"[+-]?[0-9]+(\.[0-9]*)?")


def parse_score(value, what: str) -> int:
    """An integer 1..5 from a cell (``3``, ``"3"`` or ``3.0``); anything else is an error naming ``what``."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise CurateError(f"{what}: {value!r} is not an integer 1-5.")
    v = cell(value) if not isinstance(value, (int, float)) else value
    if v is None:
        raise CurateError(f"{what}: missing score.")
    # float() also reads "٣" and "1e0": a score cell holds ASCII digits ("3", "3.0") or a number, nothing else.
    if isinstance(v, str) and not _SCORE_TEXT.fullmatch(v.strip()):
        raise CurateError(f"{what}: {value!r} is not an integer.")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise CurateError(f"{what}: {value!r} is not an integer.") from None
    if not math.isfinite(f) or f != int(f):
        raise CurateError(f"{what}: {value!r} is not an integer.")
    if not 1 <= int(f) <= 5:
        raise CurateError(f"{what}: {int(f)} is outside 1-5.")
    return int(f)


def _parse_bool(value, what: str) -> bool:
    v = cell(value)
    if v is None:
        return False
    if v.lower() in ("1", "true", "yes", "y", "t"):
        return True
    if v.lower() in ("0", "false", "no", "n", "f"):
        return False
    raise CurateError(f"{what}: {value!r} is not a boolean (true/false).")


def _parse_seconds(value, what: str) -> float | None:
    v = cell(value)
    if v is None:
        return None
    try:
        f = float(v)
    except ValueError:
        raise CurateError(f"{what}: {value!r} is not a number.") from None
    if not math.isfinite(f) or f < 0:
        raise CurateError(f"{what}: {value!r} must be a number >= 0.")
    return f


def _find_candidate(rec: dict, by_id: dict, by_key: dict, path: Path, i: int) -> Candidate:
    cand_id = optional_id(rec.get("candidate_id"), where(path, i, "candidate_id"), "candidate_id")
    clip_id = optional_id(rec.get("clip_id"), where(path, i, "clip_id"), "clip_id")
    method = optional_id(rec.get("method"), where(path, i, "method"), "method")
    if cand_id is not None:
        cand = by_id.get(cand_id)
        if cand is None:
            raise CurateError(f"{where(path, i, 'candidate_id')}: unknown candidate {cand_id!r}.")
        if clip_id is not None and cand.clip.clip_id != clip_id:
            raise CurateError(
                f"{where(path, i, 'clip_id')}: candidate {cand_id!r} belongs to clip {cand.clip.clip_id!r}, not {clip_id!r}."
            )
        return cand
    if clip_id is None or method is None:
        raise CurateError(f"{where(path, i)}: give candidate_id, or both clip_id and method.")
    cand = by_key.get((clip_id, method))
    if cand is None:
        raise CurateError(f"{where(path, i, 'method')}: unknown candidate: clip {clip_id!r} has no {method!r} video.")
    return cand


def _check_comment(value, what: str) -> str | None:
    text = cell(value)
    if text is not None and len(text) > COMMENT_MAX:  # the app's cap (annotate_app.submit)
        raise CurateError(f"{what}: the comment is {len(text)} characters long, more than {COMMENT_MAX}.")
    return text


def _revise(s, old: Rating, now: datetime) -> None:
    """Keep the replaced values in ``rating_revisions``, exactly as an edit in the app does."""
    s.add(RatingRevision(rating_pk=old.id, alignment=old.alignment, fidelity=old.fidelity, comment=old.comment,
                         broken=bool(old.broken), seconds_watched=old.seconds_watched,
                         rated_at=old.updated_at or old.created_at or now, replaced_at=now))


def _claim_app_slot(s, cand: Candidate, ann: Annotator, k: int, over_k: bool, claimed: set, what: str,
                    now: datetime) -> None:
    """A rating imported under an app annotator's name is that annotator's submit of the clip: it takes one of
    the clip's k slots (a done assignment, n_done + 1) so the app does not hand the clip to another rater on
    top. Refused when the clip has no slot left (done ratings and others' live leases), unless ``over_k``."""
    clip = cand.clip
    if clip.is_gold or (clip.id, ann.id) in claimed:
        return
    claimed.add((clip.id, ann.id))
    if s.scalar(select(Assignment.id).where(Assignment.clip_pk == clip.id, Assignment.annotator_pk == ann.id)):
        return  # the app handed this clip to them already: their slot is that assignment
    target = s.scalar(select(ClipTarget.target).where(ClipTarget.clip_pk == clip.id)) or 0
    cap = max(k, target)
    progress = s.get(ClipProgress, clip.id)
    if progress is None:
        progress = ClipProgress(clip_pk=clip.id, n_done=0)
        s.add(progress)
        s.flush()
    taken = s.scalar(TAKEN, {"me": ann.id, "now": now, "clip": clip.id}) or 0
    if taken >= cap and not over_k:
        raise CurateError(f"{what}: clip {clip.clip_id!r} already has {taken} of its k = {cap} raters; a rating by "
                          f"app annotator {ann.name!r} would make {taken + 1}. Pass --over-k to import it anyway.")
    s.add(Assignment(clip_pk=clip.id, annotator_pk=ann.id, status=AssignmentStatus.done, order_seed=0,
                     leased_at=now, lease_expires_at=now, completed_at=now))
    progress.n_done += 1


def import_ratings(ws: Workspace, path: str | Path, replace: bool = False, over_k: bool = False) -> ImportReport:
    """Ratings collected elsewhere, keyed by ``candidate_id`` (or ``clip_id`` + ``method``) and ``annotator_id``.

    Unknown annotators are created. A rating that already exists with the same scores is
    left alone; with other scores it is an error unless ``replace`` is set, and a replaced
    rating keeps its old values in ``rating_revisions`` as an edit in the app does. A rating
    under an app annotator's name takes one of its clip's k slots (:func:`_claim_app_slot`)
    and is refused when the clip has none left, unless ``over_k``. A stored rating with
    ``broken`` true flags its candidate exactly as the app's submit does
    (:meth:`storage.models.Candidate.report_broken`). Comments over 2,000 characters are
    refused (the app's cap).
    """
    path = Path(path).resolve()
    df = read_table(path, RATING_REQUIRED, RATING_OPTIONAL, max_rows=Limits.from_workspace(ws).max_manifest_rows)
    if df["candidate_id"].isna().all() and (df["clip_id"].isna().all() or df["method"].isna().all()):
        raise CurateError(f"{path}: needs a candidate_id column, or clip_id and method columns.")
    report = ImportReport()
    with ws.store() as store:
        with store.session() as s:
            cands = list(s.scalars(select(Candidate).join(Clip)))
            by_id = {c.candidate_id: c for c in cands}
            by_key = {(c.clip.clip_id, c.method): c for c in cands}
            annotators = {a.name: a for a in s.scalars(select(Annotator))}
            existing = {(r.candidate_pk, r.annotator_pk): r for r in s.scalars(select(Rating))}
            seen: dict[tuple[int, str], int] = {}
            claimed: set[tuple[int, int]] = set()
            now, k = datetime.now(timezone.utc), AssignConfig.from_workspace(ws).overlap
            for i, rec in enumerate(df.to_dict("records"), 1):
                cand = _find_candidate(rec, by_id, by_key, path, i)
                name = check_id(rec.get("annotator_id"), where(path, i, "annotator_id"), "annotator")
                a = parse_score(rec["alignment"], where(path, i, "alignment"))
                f = parse_score(rec["fidelity"], where(path, i, "fidelity"))
                if (cand.id, name) in seen:
                    raise CurateError(
                        f"{where(path, i)}: duplicate rating of {cand.candidate_id!r} by {name!r} (also row {seen[(cand.id, name)]})."
                    )
                seen[(cand.id, name)] = i
                ann = annotators.get(name)
                if ann is None:
                    ann = annotators[name] = Annotator(name=name, source="import")
                    s.add(ann)
                    s.flush()
                extra = dict(
                    comment=_check_comment(rec.get("comment"), where(path, i, "comment")),
                    broken=_parse_bool(rec.get("broken"), where(path, i, "broken")),
                    seconds_watched=_parse_seconds(rec.get("seconds_watched"), where(path, i, "seconds_watched")),
                )
                old = existing.get((cand.id, ann.id))
                if old is None:
                    if ann.source == "app":
                        _claim_app_slot(s, cand, ann, k, over_k, claimed, where(path, i, "annotator_id"), now)
                    s.add(Rating(candidate_pk=cand.id, annotator_pk=ann.id, alignment=a, fidelity=f, source="import", **extra))
                    cand.report_broken(extra["broken"])  # the app's rule: a broken report flags it
                    report.added += 1
                elif (old.alignment, old.fidelity) == (a, f):
                    report.unchanged += 1
                elif replace:
                    _revise(s, old, now)
                    old.alignment, old.fidelity, old.updated_at = a, f, now
                    for k, v in extra.items():
                        setattr(old, k, v)
                    cand.report_broken(extra["broken"])
                    report.updated += 1
                else:
                    raise CurateError(
                        f"{where(path, i)}: {name!r} already rated {cand.candidate_id!r} "
                        f"({old.alignment}, {old.fidelity}), this row says ({a}, {f}); use --replace to overwrite."
                    )
    return report

