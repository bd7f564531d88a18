"""Named SQL of the annotation hand-out (``annotate_app.assign``): every value a bound parameter.

Status names in the SQL are the enums' values (``CandidateStatus``, ``AssignmentStatus``): the
candidates a clip may be rated on are ``RATEABLE``; a flagged candidate stays in front of the
remaining annotators.
"""

from __future__ import annotations

from sqlalchemy import Boolean, DateTime, Integer, String, bindparam, text

from storage.models import CURRENT_ROUND_SQL, CandidateStatus

_TS = DateTime(timezone=True)
RATEABLE = (CandidateStatus.ready.value, CandidateStatus.flagged.value)
_RATEABLE_IN = "(" + ", ".join(f"'{s}'" for s in RATEABLE) + ")"


# New clips get a progress row lazily; clips only ever gain ids, so "above the highest row" is cheap.
# Inserting in id order keeps two concurrent syncs from deadlocking on each other's rows.
SYNC_PROGRESS = text("""
INSERT INTO clip_progress (clip_pk, n_done)
SELECT c.id, 0 FROM clips c
WHERE c.id > (SELECT COALESCE(MAX(clip_pk), 0) FROM clip_progress)
ORDER BY c.id
ON CONFLICT DO NOTHING
""")

# Ids can commit out of order (two concurrent ingests on PostgreSQL), so now and then every clip
# without a row is added: a full anti-join, too slow for every hand-out at 100k clips.
SYNC_PROGRESS_FULL = text("""
INSERT INTO clip_progress (clip_pk, n_done)
SELECT c.id, 0 FROM clips c
WHERE NOT EXISTS (SELECT 1 FROM clip_progress q WHERE q.clip_pk = c.id)
ORDER BY c.id
ON CONFLICT DO NOTHING
""")

LOCK_ANNOTATOR = text("SELECT id FROM annotators WHERE id = :me FOR UPDATE")

MY_LEASE = text("""
SELECT a.id, a.clip_pk, a.order_seed, a.lease_expires_at, cl.is_gold
FROM assignments a JOIN clips cl ON cl.id = a.clip_pk
WHERE a.annotator_pk = :me AND a.status = 'leased'
ORDER BY a.leased_at, a.id
LIMIT 1
""")

# Slots taken on a clip by others: finished ratings plus unexpired leases. An edit lease (a reopened
# clip: leased with completed_at set) is never a slot: its ratings stay counted in n_done until the
# edit is submitted or abandoned (annotate_app.assign, "What an edit is").
TAKEN = text("""
SELECT q.n_done + (SELECT COUNT(*) FROM assignments a
                   WHERE a.clip_pk = q.clip_pk AND a.status = 'leased' AND a.completed_at IS NULL
                     AND a.lease_expires_at > :now AND a.annotator_pk <> :me)
FROM clip_progress q WHERE q.clip_pk = :clip
""").bindparams(bindparam("now", type_=_TS))

_HAS_RATEABLE = (
    "EXISTS (SELECT 1 FROM candidates cd WHERE cd.clip_pk = {clip} AND cd.status IN " + _RATEABLE_IN + ")"
)

_NOT_MINE = "NOT EXISTS (SELECT 1 FROM assignments m WHERE m.clip_pk = {clip} AND m.annotator_pk = :me)"

# Depth first (clips closest to k first) so complete clips, and agreement figures, appear early.
# The (n_done, clip_pk) index makes this a range scan over open clips only.
_PICK_OPEN_SQL = f"""
SELECT q.clip_pk
FROM clip_progress q JOIN clips c ON c.id = q.clip_pk
WHERE q.n_done < :k
  AND c.is_gold = :false
  AND c.round = {CURRENT_ROUND_SQL}
  AND q.clip_pk NOT IN :skip
  AND {_NOT_MINE.format(clip="q.clip_pk")}
  AND {_HAS_RATEABLE.format(clip="q.clip_pk")}
  AND q.n_done + (SELECT COUNT(*) FROM assignments a
                  WHERE a.clip_pk = q.clip_pk AND a.status = 'leased' AND a.completed_at IS NULL
                    AND a.lease_expires_at > :now) < :k
ORDER BY q.n_done DESC, q.clip_pk DESC
LIMIT 1
"""

def _pick_open_stmt(suffix: str):
    return text(_PICK_OPEN_SQL + suffix).bindparams(
        bindparam("now", type_=_TS), bindparam("false", value=False, type_=Boolean), bindparam("skip", expanding=True)
    )

# PostgreSQL: concurrent hand-outs skip a clip another transaction is leasing instead of queueing on it.
PICK_OPEN = {"postgresql": _pick_open_stmt(" FOR UPDATE OF q SKIP LOCKED"), "sqlite": _pick_open_stmt("")}

# Adaptive overlap: clips whose raters disagreed stay open up to their own target (clip_targets).
_PICK_ESCALATED_SQL = f"""
SELECT t.clip_pk
FROM clip_targets t JOIN clip_progress q ON q.clip_pk = t.clip_pk JOIN clips c ON c.id = t.clip_pk
WHERE q.n_done < t.target
  AND c.is_gold = :false
  AND c.round = {CURRENT_ROUND_SQL}
  AND t.clip_pk NOT IN :skip
  AND {_NOT_MINE.format(clip="t.clip_pk")}
  AND {_HAS_RATEABLE.format(clip="t.clip_pk")}
  AND q.n_done + (SELECT COUNT(*) FROM assignments a
                  WHERE a.clip_pk = t.clip_pk AND a.status = 'leased' AND a.completed_at IS NULL
                    AND a.lease_expires_at > :now) < t.target
ORDER BY t.clip_pk
LIMIT 1
"""

PICK_ESCALATED = {
    dialect: text(_PICK_ESCALATED_SQL + suffix).bindparams(
        bindparam("now", type_=_TS), bindparam("false", value=False, type_=Boolean), bindparam("skip", expanding=True)
    )
    for dialect, suffix in (("postgresql", " FOR UPDATE OF q SKIP LOCKED"), ("sqlite", ""))
}

TARGET = text("SELECT target FROM clip_targets WHERE clip_pk = :clip")

PICK_GOLD = text(f"""
SELECT c.id FROM clips c
WHERE c.is_gold = :true
  AND {_NOT_MINE.format(clip="c.id")}
  AND {_HAS_RATEABLE.format(clip="c.id")}
ORDER BY c.id
LIMIT 1
""").bindparams(bindparam("true", value=True, type_=Boolean))

CLIP_VIEW = text("""
SELECT a.id, a.status, a.order_seed, cl.clip_id, cl.image_path
FROM assignments a JOIN clips cl ON cl.id = a.clip_pk
WHERE a.id = :aid AND a.annotator_pk = :me
""")

RATEABLE_CANDIDATES = text(f"""
SELECT cd.id, cd.video_path FROM candidates cd
WHERE cd.clip_pk = (SELECT clip_pk FROM assignments WHERE id = :aid)
  AND cd.status IN {_RATEABLE_IN} AND cd.video_path IS NOT NULL
ORDER BY cd.id
""")

PROGRESS = text(f"""
SELECT (SELECT COUNT(*) FROM assignments a JOIN clips c ON c.id = a.clip_pk
        WHERE a.annotator_pk = :me AND a.status = 'done' AND c.round = {CURRENT_ROUND_SQL}) AS mine,
       (SELECT COUNT(*) FROM clip_progress q JOIN clips c ON c.id = q.clip_pk
        WHERE q.n_done >= :k AND c.is_gold = :false AND c.round = {CURRENT_ROUND_SQL}) AS complete,
       (SELECT COUNT(*) FROM clips WHERE is_gold = :false AND round = {CURRENT_ROUND_SQL}) AS clips
""").bindparams(bindparam("false", value=False, type_=Boolean))

# Clips this annotator could still be handed: open non-gold clips (by the same rule as PICK_OPEN),
# gold clips they have not met and escalated clips (adaptive overlap; they have k ratings, so no
# clip is counted twice). Counted once per clip shown, not per hand-out.
AVAILABLE = text(f"""
SELECT (SELECT COUNT(*) FROM clip_progress q JOIN clips c ON c.id = q.clip_pk
        WHERE q.n_done < :k AND c.is_gold = :false AND c.round = {CURRENT_ROUND_SQL}
          AND {_NOT_MINE.format(clip="q.clip_pk")}
          AND {_HAS_RATEABLE.format(clip="q.clip_pk")}
          AND q.n_done + (SELECT COUNT(*) FROM assignments a
                          WHERE a.clip_pk = q.clip_pk AND a.status = 'leased' AND a.completed_at IS NULL
                    AND a.lease_expires_at > :now) < :k)
     + (SELECT COUNT(*) FROM clips c WHERE c.is_gold = :true
          AND {_NOT_MINE.format(clip="c.id")} AND {_HAS_RATEABLE.format(clip="c.id")})
     + (SELECT COUNT(*) FROM clip_targets t JOIN clip_progress q ON q.clip_pk = t.clip_pk
        JOIN clips c ON c.id = t.clip_pk
        WHERE q.n_done < t.target AND c.is_gold = :false AND c.round = {CURRENT_ROUND_SQL}
          AND {_NOT_MINE.format(clip="t.clip_pk")} AND {_HAS_RATEABLE.format(clip="t.clip_pk")})
""").bindparams(bindparam("now", type_=_TS), bindparam("false", value=False, type_=Boolean),
                bindparam("true", value=True, type_=Boolean))

# "clip n of N" counts this round's clips only (gold clips count whatever their round: they are
# handed out in every round, see PICK_GOLD), so N is what this round can still hand this annotator.
MY_DONE_AND_LEASED = text(f"""
SELECT COALESCE(SUM(CASE WHEN a.status = 'done' THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN a.status = 'leased' THEN 1 ELSE 0 END), 0)
FROM assignments a JOIN clips c ON c.id = a.clip_pk
WHERE a.annotator_pk = :me AND (c.is_gold = :true OR c.round = {CURRENT_ROUND_SQL})
""").bindparams(bindparam("true", value=True, type_=Boolean))

LAST_DONE = text("""
SELECT a.id, cl.clip_id, a.completed_at FROM assignments a JOIN clips cl ON cl.id = a.clip_pk
WHERE a.annotator_pk = :me AND a.status = 'done' AND a.completed_at IS NOT NULL
ORDER BY a.completed_at DESC, a.id DESC LIMIT 1
""").columns(id=Integer, clip_id=String, completed_at=_TS)
