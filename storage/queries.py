"""Named SQL for exports and status; every value is a bound parameter."""

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

COUNTS = """
SELECT (SELECT COUNT(*) FROM clips) AS clips,
       (SELECT COUNT(*) FROM candidates) AS candidates,
       (SELECT COUNT(*) FROM candidates WHERE status = 'ready') AS candidates_ready,
       (SELECT COUNT(*) FROM candidates WHERE status = 'failed') AS candidates_failed,
       (SELECT COUNT(*) FROM candidates WHERE status = 'flagged') AS candidates_flagged,
       (SELECT COUNT(*) FROM ratings) AS ratings,
       (SELECT COUNT(*) FROM annotators) AS annotators,
       (SELECT COUNT(*) FROM generation_jobs WHERE status = 'pending') AS jobs_pending,
       (SELECT COUNT(*) FROM generation_jobs WHERE status = 'failed') AS jobs_failed,
       (SELECT COALESCE(MAX(number), 1) FROM rounds) AS round
"""

# Per ready candidate, its ratings capped at k: the work done towards k ratings each.
RATING_PROGRESS = """
SELECT COALESCE(SUM(CASE WHEN n > :k THEN :k ELSE n END), 0) AS done,
       COUNT(*) AS candidates,
       COALESCE(SUM(CASE WHEN n >= :k THEN 1 ELSE 0 END), 0) AS complete
FROM (SELECT c.id, COUNT(r.id) AS n
      FROM candidates c LEFT JOIN ratings r ON r.candidate_pk = c.id
      WHERE c.status = 'ready'
      GROUP BY c.id) per_candidate
"""

# A clip is fully rated when every ready candidate has at least k ratings.
CLIPS_COMPLETE = """
SELECT COUNT(*) FROM (
    SELECT clip_pk
    FROM (SELECT c.clip_pk, c.id, COUNT(r.id) AS n
          FROM candidates c LEFT JOIN ratings r ON r.candidate_pk = c.id
          WHERE c.status = 'ready'
          GROUP BY c.clip_pk, c.id) per_candidate
    GROUP BY clip_pk
    HAVING MIN(n) >= :k
) complete_clips
"""
