"""Sign-in rate limit per account and per address, with a clock moved by hand."""

from __future__ import annotations

from annotate_app.accounts import add_annotator, sign_in_password
from annotate_app.signin_limit import Limiter, attempt


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_five_failures_lock_the_account_even_for_the_right_password(workspace):
    """5 wrong passwords for "ana" in 15 min: the 6th attempt, right or wrong, is refused without a check
    (so a lucky guess learns nothing); 15 min after the first failure one attempt is allowed again."""
    clock = Clock()
    lim = Limiter(per_account=5, per_address=20, window_s=900, clock=clock)
    with workspace.store() as store:
        add_annotator(store, "ana", password="right-one")
        for i in range(5):
            clock.t += 10
            assert attempt(lambda: sign_in_password(store, "ana", "wrong"), "ana", "10.0.0.1", lim) == (None, None)
        checked = []
        account, why = attempt(lambda: checked.append(1), "ana", "10.0.0.2", lim)  # another address, same name; 860 s left
        assert (account, why, checked) == (None, "Too many failed sign-ins; try again in 15 minute(s).", [])
        clock.t = 1000 + 10 + 900 - 200  # the first failure (t = 1010) ages out at 1910: 200 s left
        assert attempt(lambda: 1 / 0, "ANA ", None, lim)[1] == "Too many failed sign-ins; try again in 4 minute(s)."
        clock.t = 1910
        account, why = attempt(lambda: sign_in_password(store, "ana", "right-one"), "ana", "10.0.0.1", lim)
        assert why is None and account.name == "ana"
        # a success clears the name's failures: 4 more wrong ones do not lock it again
        for _ in range(4):
            attempt(lambda: None, "ana", "10.0.0.9", lim)
        assert lim.wait_s("ana", "10.0.0.9") == 0


def test_twenty_failures_from_one_address_lock_it_for_every_name():
    clock = Clock()
    lim = Limiter(per_account=5, per_address=20, window_s=900, clock=clock)
    for i in range(20):  # 20 names, 1 try each: no name reaches 5
        assert attempt(lambda: None, f"user{i}", "192.0.2.7", lim) == (None, None)
    assert attempt(lambda: "never checked", "user99", "192.0.2.7", lim)[1].startswith("Too many failed sign-ins")
    assert attempt(lambda: "ok", "user99", "192.0.2.8", lim) == ("ok", None)  # another address is not affected


def test_round_list_shows_a_notes_escapes_and_newlines_escaped(cli, workspace):
    """A note with ESC[2J (clear screen), a newline and a bidi override prints as one row of visible text."""
    from storage.rounds import start_round

    with workspace.store() as store:
        start_round(store, note="r2\x1b[2J\nfake row\u202e", allow_empty=True)
    out = cli("round", "list", "-w", workspace.root).output
    assert "\x1b" not in out and "\u202e" not in out
    assert "r2\\x1b[2J\\nfake row\\u202e" in out
    assert len(out.strip().splitlines()) == 4  # header, rule, round 1, round 2
