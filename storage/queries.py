"""Named SQL of the store: exports, status, stats and gold reads. Every value is a bound parameter."""

from storage.models import CandidateStatus, JobStatus

# Status names come from the enums (constants of ours, never user input), so a renamed status
# cannot leave a stale literal behind in the SQL.
_READY, _FAILED, _FLAGGED = CandidateStatus.ready.value, CandidateStatus.failed.value, CandidateStatus.flagged.value
_JOB_PENDING, _JOB_FAILED = JobStatus.pending.value, JobStatus.failed.value

_RATINGS_SELECT = """
SELECT r.id            AS rating_id,
       cl.clip_id      AS clip_id,
       c.candidate_id  AS candidate_id,
       c.method        AS method,
       a.name          AS annotator_id,
       r.alignment     AS alignment,
       r.fidelity      AS fidelity,
       c.video_path    AS video,
       c.status        AS candidate_status,
       cl.is_gold      AS is_gold,
       r.broken        AS broken,
       r.comment       AS comment,
       r.seconds_watched AS seconds_watched,
       r.source        AS source,
       r.created_at    AS created_at,
       r.updated_at    AS updated_at,
       cl.round        AS round
FROM ratings r
JOIN candidates c ON c.id = r.candidate_pk
JOIN clips cl ON cl.id = c.clip_pk
JOIN annotators a ON a.id = r.annotator_pk
"""
_RATINGS_ORDER = "ORDER BY cl.clip_id, c.candidate_id, a.name\n"
RATINGS_EXPORT = _RATINGS_SELECT + _RATINGS_ORDER
# The same, for the clips of some rounds only (a rating belongs to its clip's round); :rounds expands.
RATINGS_EXPORT_IN_ROUNDS = _RATINGS_SELECT + "WHERE cl.round IN :rounds\n" + _RATINGS_ORDER

COUNTS = f"""
SELECT (SELECT COUNT(*) FROM clips) AS clips,
       (SELECT COUNT(*) FROM candidates) AS candidates,
       (SELECT COUNT(*) FROM candidates WHERE status = '{_READY}') AS candidates_ready,
       (SELECT COUNT(*) FROM candidates WHERE status = '{_FAILED}') AS candidates_failed,
       (SELECT COUNT(*) FROM candidates WHERE status = '{_FLAGGED}') AS candidates_flagged,
       (SELECT COUNT(*) FROM ratings) AS ratings,
       (SELECT COUNT(*) FROM annotators) AS annotators,
       (SELECT COUNT(*) FROM generation_jobs WHERE status = '{_JOB_PENDING}') AS jobs_pending,
       (SELECT COUNT(*) FROM generation_jobs WHERE status = '{_JOB_FAILED}') AS jobs_failed,
       (SELECT COALESCE(MAX(number), 1) FROM rounds) AS round
"""

# Per ready candidate, its ratings capped at k: the work done towards k ratings each.
RATING_PROGRESS = f"""
SELECT COALESCE(SUM(CASE WHEN n > :k THEN :k ELSE n END), 0) AS done,
       COUNT(*) AS candidates,
       COALESCE(SUM(CASE WHEN n >= :k THEN 1 ELSE 0 END), 0) AS complete
FROM (SELECT c.id, COUNT(r.id) AS n
      FROM candidates c LEFT JOIN ratings r ON r.candidate_pk = c.id
      WHERE c.status = '{_READY}'
      GROUP BY c.id) per_candidate
"""

# A clip is fully rated when every ready candidate has at least k ratings.
CLIPS_COMPLETE = f"""
SELECT COUNT(*) FROM (
    SELECT clip_pk
    FROM (SELECT c.clip_pk, c.id, COUNT(r.id) AS n
          FROM candidates c LEFT JOIN ratings r ON r.candidate_pk = c.id
          WHERE c.status = '{_READY}'
          GROUP BY c.clip_pk, c.id) per_candidate
    GROUP BY clip_pk
    HAVING MIN(n) >= :k
) complete_clips
"""

# --- curate stats and the dashboard: read whole with storage.read_dataframes, joined in pandas -----------

# Plain tables joined in pandas: integer keys merge faster than the database returns joined text.
STATS_RATINGS = """
SELECT id AS rating_id, candidate_pk, annotator_pk, alignment, fidelity, broken,
       CASE WHEN broken THEN comment END AS comment, source, created_at
FROM ratings ORDER BY id
"""
STATS_CANDIDATES = """
SELECT c.id AS candidate_pk, cl.clip_id AS clip_id, cl.is_gold AS is_gold, c.candidate_id AS candidate_id,
       c.method AS method, c.status AS status, cl.round AS round
FROM candidates c JOIN clips cl ON cl.id = c.clip_pk
ORDER BY cl.clip_id, c.candidate_id
"""
# Broken reports without scores (annotate_app.submit): flags like a broken rating, never scores.
STATS_BROKEN_REPORTS = """
SELECT id AS report_id, candidate_pk, annotator_pk, comment, created_at FROM broken_reports ORDER BY id
"""
STATS_ANNOTATORS = "SELECT id AS annotator_pk, name AS annotator_id, role, source, active FROM annotators ORDER BY name"
STATS_ROUNDS = "SELECT number, started_at, note FROM rounds ORDER BY number"
STATS_ASSIGNMENTS = """
SELECT a.name AS annotator_id, cl.clip_id AS clip_id, s.status AS status, cl.is_gold AS is_gold,
       s.leased_at AS leased_at, s.completed_at AS completed_at
FROM assignments s JOIN annotators a ON a.id = s.annotator_pk JOIN clips cl ON cl.id = s.clip_pk
"""
# Adaptive overlap's open escalations: clips asking for more raters than k (annotate_app/overlap.py).
STATS_CLIP_TARGETS = """
SELECT cl.clip_id AS clip_id, t.target AS target FROM clip_targets t JOIN clips cl ON cl.id = t.clip_pk
ORDER BY cl.clip_id
"""

# Gold answers with how many ratings fell inside them (curate gold list, stats).
GOLD_ANSWERS = """
SELECT cl.clip_id AS clip_id, c.candidate_id AS candidate_id, c.method AS method,
       g.alignment_min AS alignment_min, g.alignment_max AS alignment_max,
       g.fidelity_min AS fidelity_min, g.fidelity_max AS fidelity_max, g.note AS note,
       (SELECT COUNT(*) FROM ratings r WHERE r.candidate_pk = c.id) AS ratings,
       (SELECT COUNT(*) FROM ratings r WHERE r.candidate_pk = c.id
          AND r.alignment BETWEEN g.alignment_min AND g.alignment_max
          AND r.fidelity BETWEEN g.fidelity_min AND g.fidelity_max) AS passed
FROM gold_answers g
JOIN candidates c ON c.id = g.candidate_pk
JOIN clips cl ON cl.id = c.clip_pk
ORDER BY cl.clip_id, c.candidate_id
"""
