"""The clip page: the reference image and its candidates, blind, rated on two Likert scales.

Blindness: the browser only ever receives slot letters, video *bytes* (served by
Streamlit at ``/media/<content hash>.mp4``) and the rubric. Candidate ids, methods and
file names stay in server-side session state.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from annotate_app import context
from annotate_app.assign import AssignConfig, ClipView, clip_view, next_clip, progress, release
from annotate_app.plain_text import md_plain
from annotate_app.player import Cursor, apply_events, new_events, player
from annotate_app.submit import CandidateScore, SubmitError, submit_clip
from storage.models import AXES

MIN_WATCHED = 0.95
PER_ROW = 3


def _k(aid: int, slot: str, field: str) -> str:
    """Widget key. Score and broken widgets also carry the clip's version (see :func:`_values`)."""
    if field in ("comment",):
        return f"r{aid}_{slot}_{field}"
    return f"r{aid}_{slot}_{field}_v{st.session_state.get(f'ver_{aid}', 0)}"


def _values(aid: int) -> dict:
    """The answers of one clip, ``{(slot, axis): score, (slot, "broken"): bool}``: the single source of truth.

    Kept under a plain session-state key rather than in the widgets: a value written into a widget
    key from a callback can be overwritten by the browser's stale widget state when fast key presses
    interrupt reruns. Widgets are drawn from these values, and their keys carry a version that is
    bumped whenever the keyboard changes a value, so they are re-created showing it.
    """
    return st.session_state.setdefault(f"vals_{aid}", {})


def _from_widget(aid: int, slot: str, field: str, key: str) -> None:
    _values(aid)[(slot, field)] = st.session_state.get(key)


@st.cache_data(max_entries=64, show_spinner=False)
def _read_bytes(path: str, mtime: float) -> bytes:
    return Path(path).read_bytes()


def _media(ws, path: str) -> bytes:
    p = Path(path) if Path(path).is_absolute() else ws.root / path
    return _read_bytes(str(p), p.stat().st_mtime)


def _current_view(store, account, cfg: AssignConfig) -> ClipView | None:
    """This annotator's clip: the one in session state, else resumed or newly leased."""
    aid = st.session_state.get("assignment_id")
    view = clip_view(store, account.pk, aid) if aid else None
    while view is None or view.status != "leased" or not view.slots:
        if view is not None and view.status == "leased":
            release(store, account.pk, view.assignment_id)  # its candidates were withdrawn meanwhile
        lease = next_clip(store, account.pk, cfg)
        if lease is None:
            st.session_state.pop("assignment_id", None)
            return None
        st.session_state["assignment_id"] = lease.assignment_id
        view = clip_view(store, account.pk, lease.assignment_id)
    return view


def _on_keys(aid: int, slots: list[str]) -> None:
    """Callback of the player: apply new key events to the widgets' session state."""
    state = st.session_state.get(f"player_{aid}")
    events, marker = new_events(state, st.session_state.get(f"seen_{aid}"))
    st.session_state[f"seen_{aid}"] = marker
    values = _values(aid)
    before = dict(values)
    cursor, submit = apply_events(events, values, st.session_state.get(f"cursor_{aid}", Cursor()), slots)
    if values != before:
        st.session_state[f"ver_{aid}"] = st.session_state.get(f"ver_{aid}", 0) + 1
    st.session_state[f"cursor_{aid}"] = cursor
    if submit:
        st.session_state[f"submit_{aid}"] = True


def _watched(aid: int) -> dict[str, dict]:
    """Per slot ``{frac, seconds}``, merged from the player (max so far) into session state."""
    merged = dict(st.session_state.get(f"watched_{aid}", {}))
    reported = (st.session_state.get(f"player_{aid}") or {}).get("watched") or {}
    for slot, w in reported.items():
        old = merged.get(slot, {"frac": 0.0, "seconds": 0.0})
        merged[slot] = {k: max(float(old.get(k, 0)), float(w.get(k, 0) or 0)) for k in ("frac", "seconds")}
    st.session_state[f"watched_{aid}"] = merged
    return merged


def collect(aid: int, view: ClipView, watched: dict) -> tuple[list[CandidateScore], list[str]]:
    """The scores on the page and the problems that block submitting (missing scores, unwatched videos)."""
    scores, problems = [], []
    for sl in view.slots:
        values = _values(aid)
        a, f = (values.get((sl.label, ax)) for ax in AXES)
        broken = bool(values.get((sl.label, "broken")))
        seen = watched.get(sl.label, {})
        if a is None or f is None:
            problems.append(f"{sl.label}: give both scores.")
        if not broken and float(seen.get("frac", 0)) < MIN_WATCHED:
            problems.append(f"{sl.label}: play the video to the end first (or mark it broken).")
        if a is not None and f is not None:
            comment = (st.session_state.get(_k(aid, sl.label, "comment")) or "").strip() or None
            scores.append(CandidateScore(sl.candidate_pk, int(a), int(f), comment, broken, seen.get("seconds")))
    return scores, problems


def _rubric_help(ws) -> None:
    with st.expander("Rubric and keys", expanded=True):
        for ax in AXES:
            r = ws.config.rubric[ax]
            st.markdown(f"**{r.title}**: {r.question}  \n{r.low}  \n{r.high}")
        st.markdown(
            "**Keys:** `1`-`5` score the highlighted field and move on · `Backspace`/`←` back · `→` skip · "
            "`Space` play/pause · `b` broken video · `Enter` submit and next clip."
        )


def _candidate(ws, aid: int, slot, cursor_here: str | None, watched: dict) -> None:
    with st.container(border=True, key=f"slot_{slot.label}"):
        st.subheader(f"Candidate {slot.label}")
        st.video(_media(ws, slot.video_path), format="video/mp4")
        frac = float(watched.get(slot.label, {}).get("frac", 0))
        st.caption("watched" if frac >= MIN_WATCHED else "play it to the end before rating")
        values = _values(aid)
        for ax in AXES:
            r = ws.config.rubric[ax]
            marker = " ◀ keys" if cursor_here == ax else ""
            key, v = _k(aid, slot.label, ax), values.get((slot.label, ax))
            st.radio(
                f"{r.title}{marker}",
                options=[1, 2, 3, 4, 5],
                index=None if v is None else v - 1,
                horizontal=True,
                key=key,
                on_change=_from_widget,
                args=(aid, slot.label, ax, key),
                help=f"{r.question} {r.low}; {r.high}",
            )
        key = _k(aid, slot.label, "broken")
        st.checkbox("Broken video (does not play, black, corrupt)", value=bool(values.get((slot.label, "broken"))),
                    key=key, on_change=_from_widget, args=(aid, slot.label, "broken", key))
        st.text_input("Comment (optional)", key=_k(aid, slot.label, "comment"), max_chars=500)


def _submit(store, account, view: ClipView, scores, problems) -> None:
    if problems:
        st.error("Not submitted:\n\n" + "\n".join(f"- {p}" for p in problems))
        return
    try:
        submit_clip(store, account.pk, view.assignment_id, scores)
    except SubmitError as e:
        st.error(f"Not submitted: {e}")
        return
    st.session_state.pop("assignment_id", None)
    st.session_state["just_saved"] = view.clip_id
    st.rerun()


def render() -> None:
    """The "Rate clips" page."""
    ws, store = context.workspace(), context.store()
    account = st.session_state["account"]
    cfg = AssignConfig.from_workspace(ws, gold_rate=context.gold_rate())
    if saved := st.session_state.pop("just_saved", None):
        st.toast(f"Saved clip {md_plain(saved)}.")
    view = _current_view(store, account, cfg)
    p = progress(store, account.pk, cfg.overlap)
    st.progress(p["complete"] / p["clips"] if p["clips"] else 1.0,
                text=f"Campaign: {p['complete']} of {p['clips']} clips complete · you rated {p['mine']} clips")
    if view is None:
        st.success("Nothing left to rate right now. Thank you!")
        return
    aid, labels = view.assignment_id, [s.label for s in view.slots]
    cursor = Cursor.at(st.session_state.get(f"cursor_{aid}", Cursor()).position(), len(labels))
    player(f"player_{aid}", labels, labels[cursor.slot] if labels else "",
           on_events=lambda: _on_keys(aid, labels), min_fraction=MIN_WATCHED)
    watched = _watched(aid)
    st.title(f"Clip {md_plain(view.clip_id)}")  # stored text, shown as text (no Markdown links/images)
    left, right = st.columns([1, 3])
    left.image(_media(ws, view.image_path), caption="Reference image", width=180)
    with right:
        _rubric_help(ws)
        filled = sum(_values(aid).get((s, ax)) is not None for s in labels for ax in AXES)
        st.progress(filled / max(1, 2 * len(labels)), text=f"{filled} of {2 * len(labels)} scores given on this clip")
    for start in range(0, len(view.slots), PER_ROW):
        cols = st.columns(PER_ROW)
        for col, slot in zip(cols, view.slots[start : start + PER_ROW]):
            with col:
                here = AXES[cursor.axis] if labels[cursor.slot] == slot.label else None
                _candidate(ws, aid, slot, here, watched)
    scores, problems = collect(aid, view, watched)
    clicked = st.button("Submit and next clip (Enter)", type="primary", key=f"submit_btn_{aid}")
    if clicked or st.session_state.pop(f"submit_{aid}", False):
        _submit(store, account, view, scores, problems)
