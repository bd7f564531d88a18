"""Gold clips: candidates with known answers, and each annotator's accuracy on them.

An admin marks a candidate with the score ranges a careful annotator gives it
(an audio track shifted by 0.4 s: alignment 1-2; a sharp, correct video:
alignment 4-5). Marking sets ``Clip.is_gold`` so the app mixes the clip in. The
built-in generator ``lipsync_offset`` (0.4 s audio shift) makes a known-bad
alignment candidate for any clip; ``mark_gold`` works on any candidate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import AXES, Candidate, Clip, Store
from storage.errors import CurateError, where
from storage.models import GoldAnswer
from storage.queries import GOLD_ANSWERS
from storage.tables import ImportReport

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


@dataclass(frozen=True)
class ScoreRange:
    """An inclusive range of Likert scores, ``lo..hi`` within 1..5."""

    lo: int = 1
    hi: int = 5

    def __post_init__(self) -> None:
        if not 1 <= self.lo <= self.hi <= 5:
            raise ValueError(f"score range {self.lo}-{self.hi}: need 1 <= low <= high <= 5")

    def __str__(self) -> str:
        return f"{self.lo}-{self.hi}"


ANY = ScoreRange(1, 5)


def parse_range(value: str | None, what: str) -> ScoreRange:
    """``"1-2"`` -> ScoreRange(1, 2); ``"5"`` -> ScoreRange(5, 5); empty -> 1-5 (any score)."""
    if value is None or not str(value).strip():
        return ANY
    m = _RANGE.match(str(value))
    if m is None:
        raise CurateError(f"{what}: {value!r} is not a score range like 1-2 or 5.")
    lo, hi = int(m[1]), int(m[2] or m[1])
    if not 1 <= lo <= hi <= 5:
        raise CurateError(f"{what}: {value!r} is not a range within 1-5 with low <= high.")
    return ScoreRange(lo, hi)


@dataclass(frozen=True)
class GoldSpec:
    """One expected answer: which candidate of which clip, and the ranges a good annotator gives."""

    clip_id: str = field(metadata={"help": "The gold clip."})
    candidate: str = field(metadata={"help": "A candidate_id, or the method name of a candidate of this clip."})
    alignment: ScoreRange = field(default=ANY, metadata={"help": "Alignment scores a good annotator gives."})
    fidelity: ScoreRange = field(default=ANY, metadata={"help": "Fidelity scores a good annotator gives."})
    note: str | None = field(default=None, metadata={"help": 'Why the answer is known, e.g. "audio shifted 0.4 s".'})

    def __post_init__(self) -> None:
        if self.alignment == ANY and self.fidelity == ANY:
            raise CurateError(f"gold {self.clip_id}/{self.candidate}: give an alignment or fidelity range; "
                              "1-5 on both axes checks nothing.")


def _find(s: Session, spec: GoldSpec, what: str) -> Candidate:
    clip = s.scalar(select(Clip).where(Clip.clip_id == spec.clip_id))
    if clip is None:
        raise CurateError(f"{what}: unknown clip {spec.clip_id!r}.")
    cand = s.scalar(select(Candidate).where(Candidate.candidate_id == spec.candidate))
    if cand is None:  # a method name is shorter to type than "<clip>:<method>"
        cand = s.scalar(select(Candidate).where(Candidate.clip_pk == clip.id, Candidate.method == spec.candidate))
    if cand is None:
        raise CurateError(f"{what}: clip {spec.clip_id!r} has no candidate (id or method) {spec.candidate!r}.")
    if cand.clip_pk != clip.id:
        raise CurateError(f"{what}: candidate {spec.candidate!r} belongs to another clip, not {spec.clip_id!r}.")
    return cand


def _apply(s: Session, spec: GoldSpec, what: str, seen: dict[int, str] | None = None) -> str:
    """Insert or update one answer; returns "added", "updated" or "unchanged".

    ``seen`` (candidate pk -> where) catches one file naming a candidate twice, by id and by method.
    """
    cand = _find(s, spec, what)
    if seen is not None:
        if cand.id in seen:
            raise CurateError(f"{what}: candidate {cand.candidate_id!r} already given at {seen[cand.id]}.")
        seen[cand.id] = what
    new = {"alignment_min": spec.alignment.lo, "alignment_max": spec.alignment.hi,
           "fidelity_min": spec.fidelity.lo, "fidelity_max": spec.fidelity.hi, "note": spec.note}
    cand.clip.is_gold = True
    old = s.scalar(select(GoldAnswer).where(GoldAnswer.candidate_pk == cand.id))
    if old is None:
        s.add(GoldAnswer(candidate_pk=cand.id, **new))
        return "added"
    if all(getattr(old, k) == v for k, v in new.items()):
        return "unchanged"
    for k, v in new.items():
        setattr(old, k, v)
    return "updated"


def mark_gold(store: Store, spec: GoldSpec) -> str:
    """Record ``spec`` (replacing an earlier answer for the same candidate) and mark its clip gold."""
    with store.session() as s:
        return _apply(s, spec, f"gold {spec.clip_id}")


def unmark_gold(store: Store, clip_id: str, candidate: str | None = None) -> int:
    """Remove the clip's answers (or only ``candidate``'s); the clip stops being gold when none remain.

    Returns how many answers were removed.
    """
    with store.session() as s:
        clip = s.scalar(select(Clip).where(Clip.clip_id == clip_id))
        if clip is None:
            raise CurateError(f"gold {clip_id}: unknown clip {clip_id!r}.")
        answers = list(s.scalars(select(GoldAnswer).join(Candidate).where(Candidate.clip_pk == clip.id)))
        if candidate is not None:
            answers = [g for g in answers if candidate in (g.candidate.candidate_id, g.candidate.method)]
            if not answers:
                raise CurateError(f"gold {clip_id}: no gold answer for candidate {candidate!r}.")
        for g in answers:
            s.delete(g)
        s.flush()
        remaining = s.scalar(select(GoldAnswer.id).join(Candidate).where(Candidate.clip_pk == clip.id).limit(1))
        clip.is_gold = remaining is not None
        return len(answers)


def gold_answers_frame(store: Store) -> pd.DataFrame:
    """Every gold answer with its clip, method, rating count and how many ratings passed."""
    from storage import read_dataframes

    return typed_gold_frame(read_dataframes(store, {"gold": GOLD_ANSWERS})["gold"])


def typed_gold_frame(df: pd.DataFrame) -> pd.DataFrame:
    ints = ["alignment_min", "alignment_max", "fidelity_min", "fidelity_max", "ratings", "passed"]
    return df.astype(dict.fromkeys(ints, int))


IMPORT_REQUIRED = ["clip_id", "candidate_id"]
IMPORT_OPTIONAL = ["alignment_min", "alignment_max", "fidelity_min", "fidelity_max", "note"]


def _row_range(rec: dict, axis: str, path: Path, i: int) -> ScoreRange:
    from storage.tables import cell

    lo, hi = cell(rec.get(f"{axis}_min")), cell(rec.get(f"{axis}_max"))
    for col, v in ((f"{axis}_min", lo), (f"{axis}_max", hi)):
        if v is not None and not re.fullmatch(r"\d+(\.0+)?", v):
            raise CurateError(f"{where(path, i, col)}: {v!r} is not an integer 1-5.")
    lo_i, hi_i = int(float(lo or 1)), int(float(hi or 5))
    if not 1 <= lo_i <= hi_i <= 5:
        raise CurateError(f"{where(path, i, axis + '_min')}: range {lo_i}-{hi_i} is not within 1-5 with min <= max.")
    return ScoreRange(lo_i, hi_i)


def import_gold(store: Store, path: str | Path) -> ImportReport:
    """Gold answers from a CSV/JSONL/Parquet file, all rows in one transaction or none.

    Columns: clip_id, candidate_id (or the method name), alignment_min,
    alignment_max, fidelity_min, fidelity_max (empty = 1 / 5), note.
    """
    from storage.ids import check_id
    from storage.tables import cell, read_table

    path = Path(path)
    df = read_table(path, IMPORT_REQUIRED, IMPORT_OPTIONAL)
    report = ImportReport()
    seen: dict[int, str] = {}
    with store.session() as s:
        for i, rec in enumerate(df.to_dict("records"), 1):
            clip_id = check_id(rec["clip_id"], where(path, i, "clip_id"), "clip_id")
            cand = check_id(rec["candidate_id"], where(path, i, "candidate_id"), "candidate_id")
            ranges = {axis: _row_range(rec, axis, path, i) for axis in AXES}
            if all(r == ANY for r in ranges.values()):
                raise CurateError(f"{where(path, i)}: no range given; set alignment_* or fidelity_* columns.")
            spec = GoldSpec(clip_id, cand, ranges["alignment"], ranges["fidelity"], cell(rec.get("note")))
            outcome = _apply(s, spec, where(path, i, "candidate_id"), seen)
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report
