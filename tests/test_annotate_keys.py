"""Keyboard events -> scores: the cursor model of the clip page, and the cumulative event log."""

from __future__ import annotations

from annotate_app.player import Cursor, apply_events, new_events

SLOTS = ["A", "B"]


def test_digits_fill_fields_in_order_and_enter_submits():
    values = {}
    evs = [{"t": "score", "v": v} for v in (4, 2, 5, 1)] + [{"t": "submit"}]
    cursor, submit = apply_events(evs, values, Cursor(), SLOTS)
    assert values == {("A", "alignment"): 4, ("A", "fidelity"): 2, ("B", "alignment"): 5, ("B", "fidelity"): 1}
    assert submit and cursor == Cursor(1, 1)  # stays on the last field


def test_back_corrects_and_broken_toggles_current_candidate():
    values = {}
    evs = [{"t": "score", "v": 3}, {"t": "back"}, {"t": "score", "v": 5}, {"t": "fwd"}, {"t": "broken"},
           {"t": "broken"}, {"t": "broken"}, {"t": "score", "v": 9}]
    cursor, submit = apply_events(evs, values, Cursor(), SLOTS)
    # 3 then back then 5: A.alignment = 5; fwd skips A.fidelity to B.alignment; broken x3 -> True; 9 ignored
    assert values == {("A", "alignment"): 5, ("B", "broken"): True} and cursor == Cursor(1, 0) and not submit


def test_back_stops_at_first_field():
    cursor, _ = apply_events([{"t": "back"}] * 3, {}, Cursor(), SLOTS)
    assert cursor == Cursor(0, 0)


def test_event_log_is_applied_once_per_entry():
    state = {"events": {"inst": "x1", "log": [{"t": "score", "v": 1}, {"t": "score", "v": 2}]}}
    new, marker = new_events(state, None)
    assert len(new) == 2 and marker == ("x1", 2)
    state["events"]["log"].append({"t": "submit"})
    new, marker = new_events(state, marker)
    assert new == [{"t": "submit"}] and marker == ("x1", 3)
    assert new_events(state, marker)[0] == []
    # a remounted component starts a new log: everything in it is new
    new, marker = new_events({"events": {"inst": "y2", "log": [{"t": "back"}]}}, marker)
    assert new == [{"t": "back"}] and marker == ("y2", 1)
    assert new_events(None, marker) == ([], marker)
