"""Keyboard input and "was it watched" for the clip page: a small ``st.components.v2`` component.

The component draws nothing of its own. In the browser it
- hooks the ``<video>`` inside each candidate's container (``.st-key-slot_<label>``) and
  reports, per slot, the fraction of the video actually played (``video.played`` ranges,
  so seeking to the end does not count) and the seconds played;
- turns key presses into events: ``1``-``5`` a score, ``Backspace``/``ArrowLeft`` back,
  ``ArrowRight`` forward, ``b`` broken, ``Space`` play/pause the current video,
  ``Enter`` submit. Keys typed into a text field are left alone.

Events are sent as a cumulative log per component instance (``inst`` + list), not as
one-shot triggers, because Streamlit coalesces reruns: a fast "4 2" must not lose the 4.
Python applies only the entries it has not applied yet (:func:`new_events`).

The JS is trusted code; no user data is interpolated into it (slot letters travel as data).
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.models import AXES

JS = r"""
export default function (component) {
  const { data, setStateValue, parentElement } = component;
  const root = parentElement;
  root.__data = data || {};
  if (root.__inst) return root.__cleanup;
  root.__inst = Math.random().toString(36).slice(2);
  root.__log = [];
  root.__watched = {};
  const send = (k, v) => setStateValue(k, v);
  const push = (ev) => { root.__log.push(ev); send('events', { inst: root.__inst, log: root.__log.slice() }); };
  const playedSeconds = (v) => {
    let s = 0;
    for (let i = 0; i < v.played.length; i++) s += v.played.end(i) - v.played.start(i);
    return s;
  };
  const report = (slot, v, force) => {
    if (!v.duration || !isFinite(v.duration)) return;
    const secs = playedSeconds(v);
    const frac = Math.min(1, secs / v.duration);
    const old = root.__watched[slot] || { frac: 0, seconds: 0 };
    const min = root.__data.min_fraction || 0.95;
    const crossed = old.frac < min && frac >= min;
    root.__watched[slot] = { frac: Math.max(old.frac, frac), seconds: Math.max(old.seconds, secs) };
    if (crossed || force) send('watched', Object.assign({}, root.__watched));
  };
  const videoOf = (slot) => document.querySelector('.st-key-slot_' + slot + ' video');
  const hook = () => {
    for (const slot of root.__data.slots || []) {
      const v = videoOf(slot);
      if (!v || v.__curateHooked === root.__inst) continue;
      v.__curateHooked = root.__inst;
      v.addEventListener('timeupdate', () => report(slot, v, false));
      v.addEventListener('ended', () => report(slot, v, true));
      v.addEventListener('pause', () => report(slot, v, true));
    }
  };
  hook();
  const timer = setInterval(hook, 400);
  const typing = (t) => t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)
                              && !['radio', 'checkbox'].includes(t.type));
  const onKey = (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    const k = e.key;
    if (k >= '1' && k <= '5') push({ t: 'score', v: Number(k) });
    else if (k === 'Backspace' || k === 'ArrowLeft') push({ t: 'back' });
    else if (k === 'ArrowRight') push({ t: 'fwd' });
    else if (k === 'b' || k === 'B') push({ t: 'broken' });
    else if (k === 'Enter') push({ t: 'submit' });
    else if (k === ' ') {
      const v = videoOf(root.__data.cursor_slot || '');
      if (v) { v.paused ? v.play() : v.pause(); }
    } else return;
    e.preventDefault();
    if (e.target && e.target.blur && e.target !== document.body) e.target.blur();
  };
  document.addEventListener('keydown', onKey, true);
  root.__cleanup = () => { clearInterval(timer); document.removeEventListener('keydown', onKey, true); };
  return root.__cleanup;
}
"""

_component = None


def player(key: str, slots: list[str], cursor_slot: str, on_events=None, min_fraction: float = 0.95):
    """Mount the component; returns its state (``events``, ``watched``) or None where components cannot run."""
    global _component
    import streamlit as st

    if _component is None:
        _component = st.components.v2.component("curate_player", js=JS)
    return _component(
        key=key,
        data={"slots": list(slots), "cursor_slot": cursor_slot, "min_fraction": min_fraction},
        on_events_change=on_events or (lambda: None),
        on_watched_change=lambda: None,
    )


@dataclass
class Cursor:
    """Where the next number key lands: candidate ``slot`` index and ``axis`` index."""

    slot: int = 0
    axis: int = 0

    def position(self) -> int:
        return self.slot * len(AXES) + self.axis

    @classmethod
    def at(cls, pos: int, n_slots: int) -> Cursor:
        pos = max(0, min(pos, n_slots * len(AXES) - 1))
        return cls(pos // len(AXES), pos % len(AXES))


def new_events(state: dict | None, seen: tuple[str, int] | None) -> tuple[list[dict], tuple[str, int] | None]:
    """Events in ``state`` not applied yet, and the new ``(instance, count)`` marker to remember."""
    log = (state or {}).get("events") or {}
    inst, entries = log.get("inst"), list(log.get("log") or [])
    if not inst:
        return [], seen
    start = seen[1] if seen and seen[0] == inst else 0
    return entries[start:], (inst, len(entries))


def apply_events(events: list[dict], values: dict, cursor: Cursor, slots: list[str]) -> tuple[Cursor, bool]:
    """Apply key events to ``values`` (``{(slot, axis): score}``, ``{(slot, "broken"): bool}``) in place.

    A score fills the field under the cursor and moves to the next field; returns the new
    cursor and whether a submit was asked for.
    """
    submit = False
    for ev in events:
        t = ev.get("t")
        slot = slots[cursor.slot]
        if t == "score" and ev.get("v") in (1, 2, 3, 4, 5):
            values[(slot, AXES[cursor.axis])] = int(ev["v"])
            cursor = Cursor.at(cursor.position() + 1, len(slots))
        elif t == "back":
            cursor = Cursor.at(cursor.position() - 1, len(slots))
        elif t == "fwd":
            cursor = Cursor.at(cursor.position() + 1, len(slots))
        elif t == "broken":
            values[(slot, "broken")] = not values.get((slot, "broken"), False)
        elif t == "submit":
            submit = True
    return cursor, submit
