"""Work in progress on a leased clip, kept server-side so a reload or another device restores it.

The browser sends the whole draft (debounced) as JSON; it is *untrusted*: :func:`sanitize`
keeps only known slots and fields with values of the right type and range, so what is
stored, and later shown again, is always well-formed. A draft belongs to an assignment; it
is saved only while that assignment is this annotator's live lease and is deleted by the
submit that turns it into ratings (``annotate_app.submit``).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from storage import Store, in_transaction
from storage.models import AXES, ClipDraft

COMMENT_MAX = 500
MAX_PAYLOAD = 64_000  # characters of JSON; a real draft of 26 candidates is a few kB

MY_LEASED = text("SELECT 1 FROM assignments WHERE id = :aid AND annotator_pk = :me AND status = 'leased'")
LOAD = text("""
SELECT d.payload FROM clip_drafts d JOIN assignments a ON a.id = d.assignment_pk
WHERE d.assignment_pk = :aid AND a.annotator_pk = :me
""")
UPDATE = text("UPDATE clip_drafts SET payload = :payload, updated_at = :now WHERE assignment_pk = :aid")


def empty() -> dict:
    return {"scores": {}, "broken": {}, "comments": {}, "watched": {}, "focus": 0}


def _score(v) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5 else None


def _frac(v, hi: float | None) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        return None
    return float(min(v, hi)) if hi is not None else float(v)


def sanitize(raw, slots: list[str]) -> dict:
    """A well-formed draft for ``slots`` from whatever the browser sent; unknown or bad entries are dropped."""
    out = empty()
    if not isinstance(raw, dict):
        return out
    known = set(slots)
    for slot, sc in (raw.get("scores") or {}).items() if isinstance(raw.get("scores"), dict) else ():
        if slot in known and isinstance(sc, dict):
            kept = {ax: _score(sc.get(ax)) for ax in AXES}
            if kept := {ax: v for ax, v in kept.items() if v is not None}:
                out["scores"][slot] = kept
    for slot, b in (raw.get("broken") or {}).items() if isinstance(raw.get("broken"), dict) else ():
        if slot in known and b is True:
            out["broken"][slot] = True
    for slot, c in (raw.get("comments") or {}).items() if isinstance(raw.get("comments"), dict) else ():
        if slot in known and isinstance(c, str) and c.strip():
            out["comments"][slot] = c[:COMMENT_MAX]
    for slot, w in (raw.get("watched") or {}).items() if isinstance(raw.get("watched"), dict) else ():
        if slot in known and isinstance(w, dict):
            frac, secs = _frac(w.get("frac"), 1.0), _frac(w.get("seconds"), None)
            if frac is not None and secs is not None:
                out["watched"][slot] = {"frac": frac, "seconds": secs}
    focus = raw.get("focus")
    if isinstance(focus, int) and not isinstance(focus, bool) and 0 <= focus < len(slots) * len(AXES):
        out["focus"] = focus
    return out


def merge_watched(old: dict, new: dict) -> dict:
    """Watched fractions only grow: a reload that starts the videos again must not lower them."""
    merged = dict(old)
    for slot, w in new.items():
        o = merged.get(slot, {"frac": 0.0, "seconds": 0.0})
        merged[slot] = {k: max(o[k], w[k]) for k in ("frac", "seconds")}
    return merged


def load(store: Store, annotator_pk: int, assignment_id: int, slots: list[str]) -> dict:
    """This annotator's draft of the assignment (empty when there is none)."""
    with store.session() as s:
        payload = s.scalar(LOAD, {"aid": assignment_id, "me": annotator_pk})
    if payload is None:
        return empty()
    try:
        return sanitize(json.loads(payload), slots)
    except ValueError:
        return empty()


def _dump(draft: dict, slots: list[str]) -> str:
    return json.dumps(sanitize(draft, slots), sort_keys=True, separators=(",", ":"))


def write(s: Session, aid: int, draft: dict, slots: list[str], now: datetime) -> None:
    """Upsert a draft inside the caller's transaction (the caller checked the assignment)."""
    payload = _dump(draft, slots)
    if s.execute(UPDATE, {"payload": payload, "now": now, "aid": aid}).rowcount == 0:
        s.add(ClipDraft(assignment_pk=aid, payload=payload, updated_at=now))
        s.flush()


def _save_tx(s: Session, me: int, aid: int, draft: dict, slots: list[str], now: datetime) -> bool:
    if s.scalar(MY_LEASED, {"aid": aid, "me": me}) is None:
        return False
    write(s, aid, draft, slots, now)
    return True


def save(store: Store, annotator_pk: int, assignment_id: int, draft: dict, slots: list[str]) -> bool:
    """Store the draft (sanitised); False when the assignment is not this annotator's live lease."""
    if len(_dump(draft, slots)) > MAX_PAYLOAD:
        return False
    now = datetime.now(timezone.utc)
    return in_transaction(store, lambda s: _save_tx(s, annotator_pk, assignment_id, draft, slots, now))


def discard(s: Session, assignment_id: int) -> None:
    """Delete a draft inside the caller's transaction (submit, skip)."""
    s.execute(delete(ClipDraft).where(ClipDraft.assignment_pk == assignment_id))
