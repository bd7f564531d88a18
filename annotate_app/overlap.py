"""Adaptive overlap: a clip whose k ratings disagree asks for more raters, one at a time.

Every clip gets ``overlap`` = k raters. With ``overlap_max`` > k, each submit that brings a
clip to k or more ratings checks :func:`disagrees`; a disagreeing clip gets (or keeps) a
``clip_targets`` row with target = n_done + 1, up to ``overlap_max``, so the hand-out keeps it
open for one more rater; a clip that agrees, or has reached ``overlap_max``, loses the row and
stops. The rule (both parts on the composite r = (alignment + fidelity) / 2 of each candidate):

- some candidate's composites, over the raters, spread by ``spread`` or more (max - min); or
- no candidate is among every rater's best, or none among every rater's worst (ties count as
  best or worst for that rater).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

Answers = dict[int, dict[int, tuple[int, int]]]  # rater -> candidate -> (alignment, fidelity)


def disagrees(by_rater: Answers, spread: float) -> bool:
    """True when the raters of one clip disagree by the rule above (fewer than two raters never do)."""
    if len(by_rater) < 2:
        return False
    comp = {r: {c: (a + f) / 2 for c, (a, f) in ans.items()} for r, ans in by_rater.items()}
    common = set.intersection(*(set(v) for v in comp.values()))
    for c in common:
        vals = [v[c] for v in comp.values()]
        if max(vals) - min(vals) >= spread:
            return True
    best = [{c for c in common if v[c] == max(v[x] for x in common)} for v in comp.values()]
    worst = [{c for c in common if v[c] == min(v[x] for x in common)} for v in comp.values()]
    return bool(common) and (not set.intersection(*best) or not set.intersection(*worst))


CLIP_ANSWERS = text("""
SELECT r.annotator_pk, r.candidate_pk, r.alignment, r.fidelity
FROM ratings r JOIN candidates cd ON cd.id = r.candidate_pk
JOIN assignments a ON a.clip_pk = cd.clip_pk AND a.annotator_pk = r.annotator_pk AND a.status = 'done'
WHERE cd.clip_pk = :clip
""")
N_DONE = text("SELECT n_done FROM clip_progress WHERE clip_pk = :clip")
SET_TARGET = text("UPDATE clip_targets SET target = :target WHERE clip_pk = :clip")
ADD_TARGET = text("INSERT INTO clip_targets (clip_pk, target) VALUES (:clip, :target)")
DROP_TARGET = text("DELETE FROM clip_targets WHERE clip_pk = :clip")


def update_target(s: Session, clip_pk: int, k: int, overlap_max: int, spread: float) -> int | None:
    """After a submit: open the clip for one more rater when it disagrees, else close it; the new target."""
    n_done = s.scalar(N_DONE, {"clip": clip_pk}) or 0
    if overlap_max <= k or n_done < k:
        return None
    answers: Answers = {}
    for rater, cand, a, f in s.execute(CLIP_ANSWERS, {"clip": clip_pk}):
        answers.setdefault(rater, {})[cand] = (a, f)
    if n_done < overlap_max and disagrees(answers, spread):
        target = n_done + 1
        if s.execute(SET_TARGET, {"clip": clip_pk, "target": target}).rowcount == 0:
            s.execute(ADD_TARGET, {"clip": clip_pk, "target": target})
        return target
    s.execute(DROP_TARGET, {"clip": clip_pk})
    return None
