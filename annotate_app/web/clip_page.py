"""The clip page: the reference image and its candidates, blind, on one comparison player.

Blindness: the browser only ever receives slot letters, opaque signed media URLs (made by
``annotate_app.web.clip_media``) and the rubric. Candidate ids, methods and file names stay on the server.

The player (``annotate_app.web.player``) holds the answers while the clip is on screen and sends
the whole draft, debounced; this page stores it (``annotate_app.drafts``) so a reload, or a
sign-in on another device, restores it, and turns it into ratings on submit.
"""

from __future__ import annotations

import streamlit as st

from annotate_app import drafts
from annotate_app.assign import (
    LEASE_EXPIRED,
    AssignConfig,
    ClipView,
    clip_view,
    hold,
    is_edit,
    next_clip,
    queue,
    release,
)
from annotate_app.submit import CandidateScore, SubmitError, submit_clip
from annotate_app.web import chrome, clip_actions, clip_media, context, signin, tabs
from annotate_app.web.plain_text import md_plain
from annotate_app.web.player import PlayerConfig, player, problems
from storage.models import AXES


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


def _draft(store, account, view: ClipView) -> dict:
    """The clip's draft: this session's copy, else the stored one (a reload, another device)."""
    key = f"draft_{view.assignment_id}"
    if key not in st.session_state:
        st.session_state[key] = drafts.load(store, account.pk, view.assignment_id, [s.label for s in view.slots])
    return st.session_state[key]


def _take_draft(store, account, view: ClipView, raw) -> bool:
    """Adopt a draft sent by the player (if it is this clip's) and store it; True when adopted."""
    if not isinstance(raw, dict) or raw.get("aid") != view.assignment_id:
        return False
    labels = [s.label for s in view.slots]
    new = drafts.sanitize(raw, labels)
    new["watched"] = drafts.merge_watched(_draft(store, account, view)["watched"], new["watched"])
    st.session_state[f"draft_{view.assignment_id}"] = new
    drafts.save(store, account.pk, view.assignment_id, new, labels)
    return True


def _tab() -> str:
    """This browser tab (Streamlit's session id: new per tab and per reload)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "-"


def _mine(aid: int) -> bool:
    """False when another open tab of this annotator took the clip over (this tab must not save)."""
    if tabs.taken_elsewhere(aid, _tab()):
        st.session_state["tab_lost"] = aid
        return False
    return True


def _on_draft(store, account, view: ClipView, cfg: AssignConfig) -> None:
    state = st.session_state.get(f"cmp_{view.assignment_id}") or {}
    if not _mine(view.assignment_id):
        return
    # Working on the clip keeps a live lease alive; an expired one is not renewed (the draft is still saved).
    if _take_draft(store, account, view, state.get("draft")) and not hold(store, account.pk, view.assignment_id,
                                                                          cfg.lease_minutes):
        st.session_state["lease_note"] = LEASE_EXPIRED


def _on_submit(store, account, view: ClipView) -> None:
    aid = view.assignment_id
    req = (st.session_state.get(f"cmp_{aid}") or {}).get("submit")
    if not isinstance(req, dict) or req.get("n") == st.session_state.get(f"submit_n_{aid}"):
        return
    st.session_state[f"submit_n_{aid}"] = req.get("n")
    if _mine(aid) and _take_draft(store, account, view, dict(req.get("draft") or {}, aid=req.get("aid"))):
        st.session_state[f"submit_{aid}"] = True


def collect(view: ClipView, draft: dict) -> list[CandidateScore]:
    """The draft's answers as ratings (call only when :func:`annotate_app.web.player.problems` is empty)."""
    out = []
    for sl in view.slots:
        sc = draft["scores"].get(sl.label) or {}
        broken = bool(draft["broken"].get(sl.label))
        comment = (draft["comments"].get(sl.label) or "").strip() or None
        seen = draft["watched"].get(sl.label, {}).get("seconds")
        if broken and not all(ax in sc for ax in AXES):
            sc = {}  # broken needs no scores: a partial pair is dropped, the report is stored without scores
        out.append(CandidateScore(sl.candidate_pk, sc.get("alignment"), sc.get("fidelity"), comment, broken, seen))
    return out


def _submit(store, account, view: ClipView, draft: dict, pcfg: PlayerConfig, cfg: AssignConfig) -> dict | None:
    """Store the clip; returns None when stored, else the refusal to show (what is missing or wrong)."""
    aid = view.assignment_id
    missing = problems(draft, [s.label for s in view.slots], pcfg.min_fraction)
    if missing:
        return {"problems": [m for _, m in missing], "slot": missing[0][0]}
    try:
        submit_clip(store, account.pk, aid, collect(view, draft), cfg=cfg)
    except SubmitError as e:
        return {"problems": [str(e)], "slot": None}
    clip_actions.forget_clip(aid)
    return None


def _queue_text(store, account, cfg: AssignConfig, aid: int) -> str:
    key = f"queue_{aid}"  # counted once per clip shown, not on every draft save
    if key not in st.session_state:
        q = queue(store, account.pk, cfg.overlap)
        st.session_state[key] = f"clip {q.n} of {q.total}"
    return st.session_state[key]


def _rubric_help(ws) -> None:
    with st.expander("Rubric and keys", expanded=False):
        for ax in AXES:
            r = ws.config.rubric[ax]
            st.markdown(f"**{r.title}**: {r.question}  \n{r.low}  \n{r.high}")
        st.markdown(
            "**Scores:** `1`-`5` score the outlined field and move on · `←`/`Backspace` back · `→` next · "
            "`↑`/`↓` previous/next candidate · `b` broken · `Enter` submit and next clip.  \n"
            "**Playback (all candidates on one clock; you hear the outlined one):** `Space`/`K` play/pause · "
            "`L` play, again faster · `J` back 1 s · `,` `.` one frame · `-` `=` speed · `[` `]` loop start/end, "
            "`\\` no loop · `s` solo the outlined candidate · `z` zoom on its mouth · `Home` to the start."
        )


def _is_edit(store, aid: int) -> bool:
    from storage import Assignment

    with store.session() as s:
        a = s.get(Assignment, aid)
        return a is not None and is_edit(a)


TAKEN_OVER = ("This clip was open in another tab of yours; that tab has stopped saving. Your answers are saved "
              "from this tab now: close the other one.")
LOST = ("This clip is now open in another tab of yours, so this tab stopped saving (the other tab keeps the "
        "answers). Close this tab, or continue here instead.")


def _tab_check(store, account, aid: int, head) -> bool:
    """Claim the clip for this tab when it first shows it; False (with a note) when another tab has it."""
    if f"tab_{aid}" not in st.session_state:
        st.session_state[f"tab_{aid}"] = True
        if tabs.claim(aid, _tab()):
            st.session_state["tab_note"] = TAKEN_OVER
    elif st.session_state.pop("tab_lost", None) == aid or tabs.taken_elsewhere(aid, _tab()):
        head("Open in another tab")
        st.warning(LOST)
        if st.button("Continue here", type="primary", key=f"tab_take_{aid}"):
            tabs.claim(aid, _tab())
            st.session_state.pop(f"draft_{aid}", None)  # the other tab's answers, as stored
            st.rerun()
        return False
    return True


def _nothing_left(store, account, cfg: AssignConfig, head) -> None:
    head("Nothing left to rate")
    st.success("Nothing left to rate right now. Thank you!")
    clip_actions.edit_last_button(store, account, cfg, None)


def _on_break(store, account, cfg: AssignConfig, aid: int, head) -> None:
    head("On a break")
    st.info(f"Your clip and its answers are kept for {cfg.break_minutes:g} minutes.")
    if st.button("Back to work", type="primary", key=f"resume_btn_{aid}"):
        if not hold(store, account.pk, aid, cfg.lease_minutes):
            st.session_state["lease_note"] = LEASE_EXPIRED
        st.session_state.pop("on_break", None)
        st.rerun()


def _page(ws, store, account, head) -> None:
    cfg = AssignConfig.from_workspace(ws, gold_rate=context.gold_rate())
    pcfg = PlayerConfig()
    view = _current_view(store, account, cfg)
    refusal, saved = None, None
    if view is not None and st.session_state.pop(f"submit_{view.assignment_id}", False):
        refusal = _submit(store, account, view, _draft(store, account, view), pcfg, cfg)
        if refusal is None:  # stored: on to the next clip in this same run (no second rerun)
            saved = view.clip_id
            view = _current_view(store, account, cfg)
        else:
            n = st.session_state.get(f"refusal_n_{view.assignment_id}", 0) + 1
            st.session_state[f"refusal_n_{view.assignment_id}"] = refusal["n"] = n
    if view is None:
        _nothing_left(store, account, cfg, head)
        return
    aid = view.assignment_id
    if st.session_state.get("on_break") == aid:
        _on_break(store, account, cfg, aid, head)
        return
    if not _tab_check(store, account, aid, head):
        return
    draft = _draft(store, account, view)
    editing = _is_edit(store, aid)
    if editing:  # no queue position: this clip was submitted and is open again
        head(f"Editing clip {md_plain(view.clip_id)}")
        st.info(f"Edit mode: you are changing the answers you submitted for clip {md_plain(view.clip_id)}. "
                "Submit replaces them; \"Stop editing\" keeps them as they were.", icon=":material/edit:")
    else:
        head(f"Clip {md_plain(view.clip_id)} · {_queue_text(store, account, cfg, aid)}")  # stored text, as text
    clip_actions.anchors_line(ws.config.rubric, saved)
    if refusal is not None:
        st.error("Not submitted: " + " ".join(refusal["problems"]))
    for key in ("lease_note", "tab_note"):
        if note := st.session_state.pop(key, None):
            st.warning(note)
    handle = st.session_state["session_handle"]
    slots, ref_src = clip_media.player_sources(view, handle, st.session_state)  # signed URLs: the page reads no file
    player(
        f"cmp_{aid}", aid=aid, title="", draft=draft, cfg=pcfg, rubric=ws.config.rubric, refusal=refusal,
        slots=slots, ref_src=ref_src, faces=clip_media.face_boxes(store, view),
        prefetch=clip_media.prefetch_urls(store, account.pk, cfg, handle, st.session_state, aid),
        on_draft=lambda: _on_draft(store, account, view, cfg), on_submit=lambda: _on_submit(store, account, view),
    )
    clip_actions.actions(store, account, cfg, aid, editing)
    _rubric_help(ws)


def render() -> None:
    """The "Rate clips" page. A failure on the server shows a calm message and offers to skip the clip."""
    ws, store = context.workspace(), context.store()
    account = st.session_state["account"]
    top = st.container()
    shown = []

    def head(title: str) -> None:
        if not shown:
            shown.append(title)
            with top:
                chrome.header(title, account, signin.sign_out)

    def recover(ref: str) -> None:
        head("Rate clips")
        clip_actions.after_error(store, account, ref)

    chrome.guarded(lambda: _page(ws, store, account, head), "rate", recover)
