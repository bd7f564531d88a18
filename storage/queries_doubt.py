"""Named SQL of the active hand-out: what the background fit reads and writes, and the priority pick.

Every value is a bound parameter. The pick reads ``clip_priority`` (written by ``annotate_app.doubt.priority``)
through its (settled, priority) index, so a hand-out costs a short index walk whatever the round's size.
"""

from __future__ import annotations

from sqlalchemy import Boolean, DateTime, bindparam, text

from storage.models import CURRENT_ROUND_SQL
from storage.queries_assign import _HAS_RATEABLE, _NOT_MINE, _RATEABLE_IN

_TS = DateTime(timezone=True)

# --- read by the background fit (plain SQL for storage.read_dataframes: no parameters) ---
# Gold clips are in the fit whatever their round: their anchors pin the annotators' biases.
_IN_FIT = f"(c.round = {CURRENT_ROUND_SQL} OR c.is_gold)"
FIT_RATINGS = f"""
SELECT cd.clip_pk, r.candidate_pk, r.annotator_pk, r.alignment, r.fidelity
FROM ratings r JOIN candidates cd ON cd.id = r.candidate_pk JOIN clips c ON c.id = cd.clip_pk
WHERE {_IN_FIT}
"""
FIT_CANDIDATES = f"""
SELECT cd.clip_pk, cd.id AS candidate_pk FROM candidates cd JOIN clips c ON c.id = cd.clip_pk
WHERE {_IN_FIT} AND cd.status IN {_RATEABLE_IN}
"""
FIT_CLIPS = f"""
SELECT c.id AS clip_pk, c.audio_duration, COALESCE(q.n_done, 0) AS n_done,
       (SELECT COUNT(*) FROM candidates cd WHERE cd.clip_pk = c.id AND cd.status IN {_RATEABLE_IN}) AS n_cand
FROM clips c LEFT JOIN clip_progress q ON q.clip_pk = c.id
WHERE c.round = {CURRENT_ROUND_SQL} AND NOT c.is_gold
"""
FIT_GOLD = """
SELECT candidate_pk, alignment_min, alignment_max, fidelity_min, fidelity_max FROM gold_answers
"""
# Seconds each annotator spent per clip (lease to submit), with the clip's watch time, for their pace.
FIT_TIMES = f"""
SELECT a.annotator_pk, a.leased_at, a.completed_at, c.audio_duration,
       (SELECT COUNT(*) FROM candidates cd WHERE cd.clip_pk = c.id AND cd.status IN {_RATEABLE_IN}) AS n_cand
FROM assignments a JOIN clips c ON c.id = a.clip_pk
WHERE a.status = 'done' AND a.completed_at IS NOT NULL
"""

# --- written by the background fit (one transaction: the hand-out sees the old table or the new one) ---
CLEAR_PRIORITY = text("DELETE FROM clip_priority")
ADD_PRIORITY = text("""
INSERT INTO clip_priority (clip_pk, confidence, gain, watch_s, priority, settled, n_at_fit, fitted_at)
VALUES (:clip_pk, :confidence, :gain, :watch_s, :priority, :settled, :n_at_fit, :fitted_at)
""").bindparams(bindparam("fitted_at", type_=_TS), bindparam("settled", type_=Boolean))
CLEAR_PACE = text("DELETE FROM annotator_pace")
# Fresh planner statistics after each rewrite: with the row count of an older (or empty) table, PostgreSQL
# hash-joins every open clip and sorts them instead of walking the priority index (16 ms against 1 ms at 3k
# clips, 80 ms at 12.5k: measured with EXPLAIN ANALYZE). Both dialects accept it inside a transaction.
ANALYZE_PRIORITY = text("ANALYZE clip_priority")
ADD_PACE = text("INSERT INTO annotator_pace (annotator_pk, overhead_s, pace, reliability, bias) "
               "VALUES (:annotator_pk, :overhead_s, :pace, :reliability, :bias)")
# `curate stats`: the last fit's figures per annotator (by name, as the other per-annotator figures).
STATS_MODEL = """
SELECT an.name AS annotator_id, p.reliability AS model_reliability, p.bias AS model_bias
FROM annotator_pace p JOIN annotators an ON an.id = p.annotator_pk
"""

# --- read by the hand-out ---
PACE = text("SELECT overhead_s, pace FROM annotator_pace WHERE annotator_pk = :me")
MEAN_PACE = text("SELECT AVG(overhead_s), AVG(pace) FROM annotator_pace")
HAS_PRIORITY = text("SELECT 1 FROM clip_priority LIMIT 1")
IS_SETTLED = text("SELECT settled FROM clip_priority WHERE clip_pk = :clip")

# The pick reads one page of the priority index at a time (:page rows from :offset, unsettled, by priority),
# and everything it checks about a clip is a scalar subquery in that page's select list: each is then one index
# lookup per page row, whatever the round's size. Written as joins, PostgreSQL hash-joined every open clip's
# progress row (or every open clip, without the MATERIALIZED page) and sorted: 16 ms at 3k clips, 26-80 ms at
# 12.5k-100k, measured with EXPLAIN ANALYZE; an EXISTS on clips became a hashed scan of all clips (26 ms at 100k),
# so the round check is a plain scalar subquery. Of the page's open clips, the top :window by the average
# annotator's priority are re-ranked by gain per second of *this* annotator's time. :per_fit caps a clip at
# one new rating per fit (the gain was worked out for one rating; a second on the same stale figure would be
# spent blind); the relaxed pass (:per_fit false) lets a clip fill up to :kmax before the next fit.
_LEASED = ("(SELECT COUNT(*) FROM assignments a WHERE a.clip_pk = p.clip_pk AND a.status = 'leased' "
           "AND a.completed_at IS NULL AND a.lease_expires_at > :now)")
_PAGE = """
WITH page AS MATERIALIZED (
  SELECT p.clip_pk, p.gain, p.watch_s, p.priority, p.n_at_fit{extra}
  FROM clip_priority p
  WHERE p.settled = :false
  ORDER BY p.priority DESC, p.clip_pk DESC
  LIMIT :page OFFSET :offset
)"""
_CHECKS = f""",
         (SELECT q.n_done FROM clip_progress q WHERE q.clip_pk = p.clip_pk) AS n_done,
         {_LEASED} AS leased,
         (SELECT c.is_gold = :false AND c.round = {CURRENT_ROUND_SQL} FROM clips c WHERE c.id = p.clip_pk)
           AS in_round,
         {_HAS_RATEABLE.format(clip="p.clip_pk")} AS rateable,
         {_NOT_MINE.format(clip="p.clip_pk")} AS not_mine"""
_CAP = "CASE WHEN :per_fit AND w.n_at_fit + 1 < :kmax THEN w.n_at_fit + 1 ELSE :kmax END"
_PICK_PRIORITY_SQL = _PAGE.format(extra=_CHECKS) + f"""
SELECT w.clip_pk, {_CAP} AS cap FROM (
  SELECT * FROM page w
  WHERE w.in_round AND w.rateable AND w.not_mine AND w.n_done < :kmax AND w.clip_pk NOT IN :skip
    AND w.n_done + w.leased < {_CAP}
  ORDER BY w.priority DESC, w.clip_pk DESC
  LIMIT :window
) w
ORDER BY w.gain / (:overhead + :pace * w.watch_s) DESC, w.clip_pk
LIMIT 1
"""
PICK_PRIORITY = text(_PICK_PRIORITY_SQL).bindparams(
    bindparam("now", type_=_TS), bindparam("false", value=False, type_=Boolean),
    bindparam("per_fit", type_=Boolean), bindparam("skip", expanding=True))
# Rows in a page, to know when the walk has passed the last unsettled clip.
PAGE_ROWS = text(_PAGE.format(extra="") + "\nSELECT COUNT(*) FROM page").bindparams(
    bindparam("false", value=False, type_=Boolean))
LOCK_PROGRESS = text("SELECT clip_pk FROM clip_progress WHERE clip_pk = :clip FOR UPDATE SKIP LOCKED")

# Dashboard: settled / in doubt / not yet fitted, and the expected pair accuracy (mean confidence).
DOUBT_SUMMARY = f"""
SELECT COUNT(*) AS fitted,
       COALESCE(SUM(CASE WHEN p.settled THEN 1 ELSE 0 END), 0) AS settled,
       AVG(p.confidence) AS expected_accuracy,
       MAX(p.fitted_at) AS fitted_at
FROM clip_priority p JOIN clips c ON c.id = p.clip_pk
WHERE c.round = {CURRENT_ROUND_SQL} AND p.confidence IS NOT NULL
"""
