"""`curate annotators add/list/reset` and the app's server command line."""

from __future__ import annotations

import re

from annotate_app.accounts import hash_secret, sign_in_password, sign_in_token, verify_secret


def test_add_list_reset_and_sign_in(cli, sqlite_workspace):
    w = ["-w", sqlite_workspace.root]
    out = cli("annotators", "add", "alice", *w).output
    pw = re.search(r"password:\s+(\S+)", out).group(1)
    token = re.search(r"\?token=(\S+)", out).group(1)
    assert "http://127.0.0.1:8501/?token=" in out
    cli("annotators", "add", "boss", "--admin", *w)
    listed = cli("annotators", "list", *w).output.splitlines()
    assert listed[1].split()[:2] == ["alice", "annotator"] and listed[2].split()[:2] == ["boss", "admin"]
    again = cli("annotators", "add", "alice", *w)
    assert again.exit_code == 1 and "already exists" in again.output
    store = sqlite_workspace.open_store()
    try:
        assert sign_in_password(store, "alice", pw).name == "alice"
        assert sign_in_token(store, token).name == "alice"
        with store.session() as s:  # only hashes are stored
            from sqlalchemy import select

            from storage import Annotator
            a = s.scalar(select(Annotator).where(Annotator.name == "alice"))
            assert pw not in a.password_hash and token.split(".")[1] not in a.token_hash
        out2 = cli("annotators", "reset", "alice", *w).output
        assert sign_in_password(store, "alice", pw) is None and sign_in_token(store, token) is None
        assert sign_in_password(store, "alice", re.search(r"password:\s+(\S+)", out2).group(1)) is not None
    finally:
        store.dispose()


def test_hash_is_salted_and_checked():
    h1, h2 = hash_secret("s3cret"), hash_secret("s3cret")
    assert h1 != h2 and h1.startswith("scrypt$")
    assert verify_secret("s3cret", h1) and verify_secret("s3cret", h2)
    assert not verify_secret("s3cret!", h1) and not verify_secret("s3cret", None) and not verify_secret("x", "junk")


def test_server_argv_has_no_secrets(tmp_path):
    from annotate_app.server import app_env, streamlit_command
    from storage.workspace import init, load

    init(tmp_path / "ws")
    ws = load(tmp_path / "ws", db="postgresql+psycopg://u:topsecret@127.0.0.1/db")
    argv = streamlit_command("127.0.0.1", 8600)
    assert "topsecret" not in " ".join(argv)
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--browser.gatherUsageStats") + 1] == "false"
    assert app_env(ws, base={})["CURATE_DB_URL"].endswith("u:topsecret@127.0.0.1/db")


def test_sessions_open_resume_expire_close(sqlite_workspace):
    from annotate_app.accounts import add_annotator, close_session, open_session, resume_session

    store = sqlite_workspace.open_store()
    try:
        pw, _ = add_annotator(store, "carol")
        account = sign_in_password(store, "carol", pw)
        handle = open_session(store, account)
        assert resume_session(store, handle) == account
        assert resume_session(store, handle.split(".")[0] + ".wrong") is None
        assert resume_session(store, open_session(store, account, hours=-1)) is None  # expired
        close_session(store, handle)
        assert resume_session(store, handle) is None
        assert resume_session(store, "junk") is None
    finally:
        store.dispose()
