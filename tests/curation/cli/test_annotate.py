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


def test_server_argv_has_no_secrets(cli, tmp_path, monkeypatch):
    """`curate annotate` as run: the database password and the media key reach the server process through
    its environment, never its argv (which `ps` shows to every user)."""
    from annotate_app.web import server
    from storage.workspace import init

    launched = []

    class FakeServer:  # stands in for the Streamlit process: records what it was started with
        def __init__(self, argv, env=None, **popen):
            launched.append((list(argv), dict(env)))

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(server.subprocess, "Popen", FakeServer)
    monkeypatch.delenv("CURATE_DB_URL", raising=False)
    monkeypatch.delenv("CURATE_MEDIA_KEY", raising=False)
    init(tmp_path / "ws")
    url = "postgresql+psycopg://u:topsecret@127.0.0.1/db"
    result = cli("annotate", "-w", tmp_path / "ws", "--db", url, "--port", 8600)
    assert result.exit_code == 0, result.output
    [(argv, env)] = launched
    media_key = env["CURATE_MEDIA_KEY"]
    assert env["CURATE_DB_URL"] == url and len(media_key) >= 32  # the server does get both secrets
    assert env["CURATE_WORKSPACE"] == str((tmp_path / "ws").resolve())
    for secret in ("topsecret", media_key):
        assert not any(secret in arg for arg in argv), (secret, argv)
    assert "topsecret" not in result.output
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--server.port") + 1] == "8600"
    assert argv[argv.index("--browser.gatherUsageStats") + 1] == "false"


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
