"""The clip page's buttons and lines around the player: actions, edit, the anchors line, the error fallback.

Three actions of one width in one row under the player (Skip, Take a break, Edit my last clip);
Submit is the player's own button (and Enter), so the page has one. "Edit my last clip" is also
offered when nothing is left to rate.
"""

from __future__ import annotations

import html

import streamlit as st

from annotate_app.assign import AssignConfig, hold, last_editable, skip
from annotate_app.submit import SubmitError, reopen
from annotate_app.web import tabs
from annotate_app.web.plain_text import md_plain
from storage.models import AXES

SHORT = {"alignment": "Sync", "fidelity": "Fidelity"}
# The keys an annotator needs first; the full list is in "Rubric and keys" under the player.
FIRST_KEYS = "1-5 score · Space play/pause · ← → move · B broken · Enter submit"
ANCHORS_CSS = """<style>
.cp-anchors { font-size: 12.5px; color: #4a4a55; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
              margin: -.3rem 0 .15rem; }
.cp-anchors b { color: #262730; }
.cp-anchors .saved { color: #137333; font-weight: 600; }
</style>"""


def anchor(text: str) -> str:
    """An anchor as short as one line allows: "1 = no visible sync: mouth moves..." -> "1 = no visible sync"."""
    return text.split(":", 1)[0].strip()


def anchors_line(rubric: dict, saved: str | None = None) -> None:
    """One line on the first screen: what 1 and 5 mean on each axis, and the first keys (full text on hover)."""
    parts = []
    if saved:
        parts.append(f'<span class="saved">Saved clip {html.escape(saved)} ✓</span>')
    for ax in AXES:
        r = rubric[ax]
        tip = html.escape(f"{r.title}: {r.question} {r.low}; {r.high}", quote=True)
        parts.append(f'<span title="{tip}"><b>{SHORT.get(ax, ax)}</b> {html.escape(anchor(r.low))} · '
                     f"{html.escape(anchor(r.high))}</span>")
    parts.append(f"<span><b>Keys</b> {html.escape(FIRST_KEYS)}</span>")
    st.html(ANCHORS_CSS + '<div class="cp-anchors" data-testid="rubric-anchors">' + " &nbsp;|&nbsp; ".join(parts)
            + "</div>")


def forget_clip(aid: int) -> None:
    """The clip left this tab (submitted, skipped): drop what the session kept for it."""
    for k in ("assignment_id", f"draft_{aid}", f"submit_n_{aid}", f"queue_{aid}", f"tab_{aid}"):
        st.session_state.pop(k, None)
    tabs.forget(aid)


def edit_last_button(store, account, cfg: AssignConfig, current: int | None, col=None) -> None:
    """"Edit my last clip (id)" while the last submit is inside the edit window (not for the clip on screen)."""
    last = last_editable(store, account.pk, cfg)
    if last is None or last[0] == current:
        return
    target = col if col is not None else st
    if target.button(f"Edit my last clip ({md_plain(last[1])})", key=f"edit_btn_{last[0]}", width="stretch"):
        try:
            reopen(store, account.pk, last[0], edit_minutes=cfg.edit_minutes, lease_minutes=cfg.lease_minutes)
        except SubmitError as e:
            st.error(f"Not reopened: {e}")
            return
        st.session_state["assignment_id"] = last[0]
        st.session_state.pop(f"draft_{last[0]}", None)
        st.session_state.pop(f"tab_{last[0]}", None)
        st.rerun()


def _leave(store, account, aid: int, reason: str) -> None:
    skip(store, account.pk, aid, reason)  # an edit: abandoned, the submitted answers stay
    forget_clip(aid)
    st.rerun()


def actions(store, account, cfg: AssignConfig, aid: int, editing: bool) -> None:
    """Skip / Take a break / Edit my last clip under the player, in columns of one width."""
    c1, c2, c3 = st.columns(3)
    if editing:  # an edit has no skip: leaving it keeps the earlier answers
        if c1.button("Stop editing (keep my earlier answers)", key=f"skip_btn_{aid}", width="stretch"):
            _leave(store, account, aid, "")
    else:
        with c1.popover("Skip this clip", width="stretch"):
            reason = st.text_input("Why? (optional)", key=f"skip_reason_{aid}", max_chars=500)
            if st.button("Skip it", key=f"skip_btn_{aid}"):
                _leave(store, account, aid, reason)
    if c2.button("Take a break", key=f"break_btn_{aid}", width="stretch"):
        hold(store, account.pk, aid, cfg.break_minutes)  # the lease clock stops for the break
        st.session_state["on_break"] = aid
        st.rerun()
    edit_last_button(store, account, cfg, aid, c3)


def after_error(store, account, ref: str) -> None:
    """Under the calm error message: skip the clip that failed (it may be its files), or try again."""
    aid = st.session_state.get("assignment_id")
    c1, c2, _ = st.columns(3)
    if aid is not None and c1.button("Skip this clip", key=f"error_skip_{aid}", type="primary", width="stretch"):
        skip(store, account.pk, aid, f"the page could not be shown (reference {ref})")
        forget_clip(aid)
        st.rerun()
    if c2.button("Try again", key="error_retry", width="stretch"):
        st.rerun()
