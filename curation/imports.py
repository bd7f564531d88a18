"""``curate import candidates|ratings``: data made elsewhere, validated whole, stored in one transaction."""

from __future__ import annotations

import math
from pathlib import Path

from sqlalchemy import select
from tqdm import tqdm

from storage import Annotator, Candidate, CandidateStatus, Clip, Rating
from storage.errors import CurateError, where
from storage.media import probe_video, resolve_media_path, sha256_file
from storage.tables import ImportReport, cell, default_candidate_id, read_table
from storage.workspace import Workspace

CANDIDATE_REQUIRED = ["clip_id", "method", "video"]
CANDIDATE_OPTIONAL = ["candidate_id"]
RATING_REQUIRED = ["annotator_id", "alignment", "fidelity"]
RATING_OPTIONAL = ["clip_id", "candidate_id", "method", "comment", "broken", "seconds_watched"]


def import_candidates(ws: Workspace, path: str | Path, progress: bool = False) -> ImportReport:
    """Register pre-generated videos as ready candidates, probed with decord and hashed.

    Re-importing the same file changes nothing; the same (clip, method) with a different
    video is an error naming the row.
    """
    path = Path(path).resolve()
    df = read_table(path, CANDIDATE_REQUIRED, CANDIDATE_OPTIONAL)
    report = ImportReport()
    with ws.store() as store:
        with store.session() as s:
            clips = {c.clip_id: c for c in s.scalars(select(Clip))}
            seen: dict[tuple[int, str], int] = {}
            records = df.to_dict("records")
            for i, rec in enumerate(tqdm(records, desc="probing videos", unit="video", disable=not progress), 1):
                clip_id, method = cell(rec["clip_id"]), cell(rec["method"])
                clip = clips.get(clip_id or "")
                if clip is None:
                    raise CurateError(f"{where(path, i, 'clip_id')}: unknown clip_id {clip_id!r}; ingest it first.")
                if not method:
                    raise CurateError(f"{where(path, i, 'method')}: empty method.")
                video = resolve_media_path(cell(rec["video"]) or "", path.parent, ws.media_roots, where(path, i, "video"))
                probe = probe_video(video, where(path, i, "video"))
                digest = sha256_file(video)
                cand_id = cell(rec.get("candidate_id")) or default_candidate_id(clip.clip_id, method)
                key = (clip.id, method)
                if key in seen:
                    raise CurateError(f"{where(path, i, 'method')}: clip {clip_id!r} method {method!r} repeats row {seen[key]}.")
                seen[key] = i
                old = s.scalar(select(Candidate).where(Candidate.clip_pk == clip.id, Candidate.method == method))
                if old is not None:
                    if old.sha256 == digest and old.candidate_id == cand_id:
                        report.unchanged += 1
                        continue
                    raise CurateError(
                        f"{where(path, i, 'video')}: clip {clip_id!r} already has a {method!r} candidate "
                        f"({old.candidate_id}) with a different video or id."
                    )
                s.add(
                    Candidate(
                        candidate_id=cand_id,
                        clip_pk=clip.id,
                        method=method,
                        video_path=str(video),
                        fps=probe.fps,
                        frame_count=probe.frame_count,
                        width=probe.width,
                        height=probe.height,
                        duration=probe.duration,
                        has_audio=probe.has_audio,
                        sha256=digest,
                        status=CandidateStatus.ready,
                        source="import",
                    )
                )
                s.flush()  # surface a clashing candidate_id here, inside the transaction
                report.added += 1
    return report


def parse_score(value, what: str) -> int:
    """An integer 1..5 from a cell (``3``, ``"3"`` or ``3.0``); anything else is an error naming ``what``."""
    v = cell(value) if not isinstance(value, (int, float)) or isinstance(value, bool) else value
    if isinstance(v, bool) or v is None:
        raise CurateError(f"{what}: missing score.")
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
    cand_id, clip_id, method = cell(rec.get("candidate_id")), cell(rec.get("clip_id")), cell(rec.get("method"))
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


def import_ratings(ws: Workspace, path: str | Path, replace: bool = False) -> ImportReport:
    """Ratings collected elsewhere, keyed by ``candidate_id`` (or ``clip_id`` + ``method``) and ``annotator_id``.

    Unknown annotators are created. A rating that already exists with the same scores is
    left alone; with other scores it is an error unless ``replace`` is set.
    """
    path = Path(path).resolve()
    df = read_table(path, RATING_REQUIRED, RATING_OPTIONAL)
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
            for i, rec in enumerate(df.to_dict("records"), 1):
                cand = _find_candidate(rec, by_id, by_key, path, i)
                name = cell(rec.get("annotator_id"))
                if name is None:
                    raise CurateError(f"{where(path, i, 'annotator_id')}: empty annotator_id.")
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
                    comment=cell(rec.get("comment")),
                    broken=_parse_bool(rec.get("broken"), where(path, i, "broken")),
                    seconds_watched=_parse_seconds(rec.get("seconds_watched"), where(path, i, "seconds_watched")),
                )
                old = existing.get((cand.id, ann.id))
                if old is None:
                    s.add(Rating(candidate_pk=cand.id, annotator_pk=ann.id, alignment=a, fidelity=f, source="import", **extra))
                    report.added += 1
                elif (old.alignment, old.fidelity) == (a, f):
                    report.unchanged += 1
                elif replace:
                    old.alignment, old.fidelity = a, f
                    for k, v in extra.items():
                        setattr(old, k, v)
                    report.updated += 1
                else:
                    raise CurateError(
                        f"{where(path, i)}: {name!r} already rated {cand.candidate_id!r} "
                        f"({old.alignment}, {old.fidelity}), this row says ({a}, {f}); use --replace to overwrite."
                    )
    return report

