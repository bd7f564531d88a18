"""The Label Studio bridge against a real Label Studio 1.23 server (started once per session).

Skips when the server venv is missing (`bash scripts/labelstudio-venv.sh` builds it), fails
instead under CURATE_REQUIRE_LABELSTUDIO=1.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from xml.etree import ElementTree as ET

import pytest
import requests
from sqlalchemy import select

from annotate_app.labelstudio import LabelStudioConfig, pull, push
from annotate_app.labelstudio.client import _sdk_client_class
from storage import Annotator
from storage.errors import CurateError
from storage.models import LabelStudioProject, LabelStudioTask
from storage.workspace import init
from tests.fixtures import labelstudio_server as ls_fixture
from tests.fixtures.labelstudio_data import METHODS, add_campaign, ls_ratings, task_slots
from tests.fixtures.media import make_png, make_video

# The session-scoped server (registering tests.fixtures.labelstudio_server in conftest's pytest_plugins
# makes this line unnecessary).
labelstudio_server = ls_fixture.labelstudio_server

pytestmark = [
    pytest.mark.labelstudio,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:label_studio_sdk"),  # the SDK's pydantic-v1 calls
]
OVERLAP = 2


@pytest.fixture(scope="session")
def media_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ls-src")
    return make_video(d / "v.mp4", seconds=0.4, fps=25, size=(32, 32)), make_png(d / "r.png")


@pytest.fixture
def campaign(labelstudio_server, media_files, db_url):
    """A workspace under the server's document root with 3 clips x 3 methods, overlap 2."""
    ws = init(labelstudio_server.media_root / f"ws-{uuid.uuid4().hex[:8]}", db=db_url, overlap=OVERLAP)
    store = ws.open_store()
    add_campaign(store, ws.path("media", "cands"), *media_files)
    store.dispose()
    return ws


def _cfg(srv, key=None, **kw) -> LabelStudioConfig:
    kw.setdefault("project", f"t-{uuid.uuid4().hex[:8]}")
    return LabelStudioConfig(url=srv.url, api_key=key or srv.legacy_token, document_root=srv.media_root, **kw)


def _client(srv, key):
    return _sdk_client_class()(base_url=srv.url, api_key=key)


def _rows(ws, model, *where):
    store = ws.open_store()
    try:
        with store.session() as s:
            return list(s.scalars(select(model).where(*where)))
    finally:
        store.dispose()


def _result(scores: dict[int, tuple[int, int]], comment: str | None = None) -> list[dict]:
    out = []
    for slot, (a, f) in scores.items():
        out += [
            {
                "from_name": f"alignment_{slot}",
                "to_name": f"video_{slot}",
                "type": "rating",
                "value": {"rating": a},
            },
            {
                "from_name": f"fidelity_{slot}",
                "to_name": f"video_{slot}",
                "type": "rating",
                "value": {"rating": f},
            },
        ]
    if comment:
        out.append(
            {"from_name": "comment_1", "to_name": "video_1", "type": "textarea", "value": {"text": [comment]}}
        )
    return out


def _user(srv, tag):
    email = f"{tag}-{uuid.uuid4().hex[:6]}@example.com"
    uid, token = srv.add_user(email)
    return email, uid, _client(srv, token)


def test_round_trip_push_annotate_pull_edit_delete(labelstudio_server, campaign):
    srv, ws = labelstudio_server, campaign
    cfg = _cfg(srv)
    rep = push(ws, cfg)
    assert (rep.project_created, rep.imported, rep.existing, rep.skipped) == (True, 3, 0, [])
    admin = _client(srv, srv.legacy_token)
    project = admin.projects.get(id=rep.project_id)
    assert project.maximum_annotations == OVERLAP
    tasks = list(admin.tasks.list(project=rep.project_id))
    assert len(tasks) == 3

    # Blind: no method name, clip id or candidate id anywhere annotators can see; opaque keys only.
    visible = project.label_config + "".join(str(t.data) for t in tasks)
    for secret in (*METHODS, "lsclip", "cands"):
        assert secret not in visible
    assert {frozenset(t.data) for t in tasks} == {
        frozenset({"item", "image", "video_1", "video_2", "video_3"})
    }
    assert {r.get("name") for r in ET.fromstring(project.label_config).iter("Rating")} == {
        f"{a}_{n}" for a in ("alignment", "fidelity") for n in (1, 2, 3)
    }

    # The server serves the blind link, byte for byte the candidate's video (auth required).
    slots = task_slots(ws, rep.project_id)
    t0 = tasks[0]
    url = srv.url + t0.data["video_2"]
    assert requests.get(url, timeout=30).status_code in (401, 403)
    got = requests.get(url, headers={"Authorization": f"Token {srv.legacy_token}"}, timeout=30)
    assert got.status_code == 200 and got.headers["content-type"] == "video/mp4"
    with open(slots[t0.id][2].video_path, "rb") as f:
        assert hashlib.sha256(got.content).digest() == hashlib.sha256(f.read()).digest()

    # Pushing again creates nothing.
    rep2 = push(ws, cfg)
    assert (rep2.project_created, rep2.project_updated, rep2.imported, rep2.existing) == (False, False, 0, 3)
    assert len(list(admin.tasks.list(project=rep.project_id))) == 3

    # Two annotators through the API; scores chosen per slot so every stored rating can be traced back.
    e1, uid1, c1 = _user(srv, "rater1")
    e2, uid2, c2 = _user(srv, "rater2")
    ids = sorted(slots)
    a_first = c1.annotations.create(
        id=ids[0], result=_result({1: (1, 5), 2: (2, 4), 3: (3, 3)}, "slot one lags")
    )
    c1.annotations.create(id=ids[1], result=_result({1: (5, 5), 2: (4, 4), 3: (3, 3)}))
    c2.annotations.create(id=ids[0], result=_result({1: (2, 2), 2: (3, 3), 3: (4, 4)}))
    a_del = c2.annotations.create(id=ids[2], result=_result({1: (1, 1), 2: (1, 2), 3: (1, 3)}))

    rep = pull(ws, cfg)
    assert (rep.added, rep.updated, rep.unchanged, rep.deleted, rep.problems) == (12, 0, 0, 0, [])
    assert rep.annotators_added == 2
    people = {a.external_id: a.name for a in _rows(ws, Annotator, Annotator.source == "labelstudio")}
    assert people == {str(uid1): e1, str(uid2): e2}
    got = ls_ratings(ws)
    assert len(got) == 12
    first = slots[ids[0]]
    assert got[(first[1].candidate_id, e1)] == (1, 5, "slot one lags", str(a_first.id))
    assert got[(first[3].candidate_id, e1)] == (3, 3, None, str(a_first.id))
    assert got[(first[2].candidate_id, e2)][:2] == (3, 3)
    assert got[(slots[ids[2]][3].candidate_id, e2)] == (1, 3, None, str(a_del.id))

    # Pulling again changes nothing.
    rep = pull(ws, cfg)
    assert (rep.added, rep.updated, rep.unchanged, rep.deleted) == (0, 0, 12, 0)

    # An edit in Label Studio updates exactly the rating that changed.
    c1.annotations.update(id=a_first.id, result=_result({1: (4, 5), 2: (2, 4), 3: (3, 3)}, "slot one lags"))
    rep = pull(ws, cfg)
    assert (rep.added, rep.updated, rep.unchanged, rep.deleted) == (0, 1, 11, 0)
    assert ls_ratings(ws)[(first[1].candidate_id, e1)][:2] == (4, 5)

    # A deleted annotation takes its three ratings with it.
    c2.annotations.delete(id=a_del.id)
    rep = pull(ws, cfg)
    assert (rep.added, rep.updated, rep.unchanged, rep.deleted) == (0, 0, 9, 3)
    assert (slots[ids[2]][1].candidate_id, e2) not in ls_ratings(ws)

    # Over-assignment (a third annotator on a task that already has k=2) is accepted as is.
    _e3, _uid3, c3 = _user(srv, "rater3")
    c3.annotations.create(id=ids[0], result=_result({1: (3, 3), 2: (3, 3), 3: (3, 3)}))
    rep = pull(ws, cfg)
    assert (rep.added, rep.unchanged) == (3, 9)
    per_candidate = [sum(1 for (cid, _n) in ls_ratings(ws) if cid == c.candidate_id) for c in first.values()]
    assert per_candidate == [3, 3, 3]


def test_bad_values_are_reported_with_ids_and_never_stored(labelstudio_server, campaign, cli, monkeypatch):
    srv, ws = labelstudio_server, campaign
    cfg = _cfg(srv)
    rep = push(ws, cfg)
    ids = sorted(task_slots(ws, rep.project_id))
    _e, _u, c = _user(srv, "bad")
    good = c.annotations.create(id=ids[0], result=_result({1: (2, 2), 2: (3, 3), 3: (4, 4)}))
    nine = c.annotations.create(id=ids[1], result=_result({1: (9, 2), 2: (3, 3), 3: (4, 4)}))
    res = _result({1: (2, 2), 2: (3, 3), 3: (4, 4)})
    res[0]["from_name"] = "align"
    unknown = c.annotations.create(id=ids[2], result=res)
    missing = _client(srv, srv.legacy_token).annotations.create(
        id=ids[2], result=_result({1: (2, 2), 2: (3, 3)})
    )

    # --strict: the whole pull aborts, nothing is written.
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", srv.legacy_token)
    r = cli("labelstudio", "pull", "-w", ws.root, "--url", srv.url, "--project", cfg.project, "--strict")
    assert r.exit_code == 1 and "3 invalid annotation(s), nothing stored" in r.output
    assert ls_ratings(ws) == {}

    # Default: the valid annotation is stored, each bad one reported with task and annotation id.
    rep = pull(ws, cfg)
    assert rep.added == 3 and {v[3] for v in ls_ratings(ws).values()} == {str(good.id)}
    assert sorted(rep.problems) == sorted(
        [
            f"task {ids[1]}, annotation {nine.id}: alignment_1 = 9 (rating) is not a rating 1-5",
            f"task {ids[2]}, annotation {unknown.id}: unknown control 'align'",
            f"task {ids[2]}, annotation {unknown.id}: missing alignment_1",
            f"task {ids[2]}, annotation {missing.id}: missing alignment_3, fidelity_3",
        ]
    )
    r = cli("labelstudio", "pull", "-w", ws.root, "--url", srv.url, "--project", cfg.project)
    assert r.exit_code == 0
    assert f"rejected: task {ids[1]}, annotation {nine.id}: alignment_1 = 9" in r.output

    # A valid rating whose annotation is later edited into a bad one keeps its last valid scores.
    c.annotations.update(id=good.id, result=_result({1: (7, 2), 2: (3, 3), 3: (4, 4)}))
    rep = pull(ws, cfg)
    assert (rep.deleted, rep.updated, rep.unchanged, rep.kept, rep.rejected) == (0, 0, 0, 3, 4)
    assert (
        f"task {ids[0]}, annotation {good.id}: alignment_1 = 7 (rating) is not a rating 1-5" in rep.problems
    )


@pytest.mark.parametrize("kind", ["legacy", "pat"])
def test_cli_with_legacy_token_and_pat_never_shows_the_key(
    labelstudio_server,
    sqlite_campaign,
    cli,
    monkeypatch,
    caplog,
    kind,
):
    srv, ws = labelstudio_server, sqlite_campaign
    key = srv.legacy_token if kind == "legacy" else srv.personal_access_token()
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", key)
    monkeypatch.setenv("LABEL_STUDIO_URL", srv.url)
    caplog.set_level(logging.DEBUG)
    title = f"cli-{kind}-{uuid.uuid4().hex[:6]}"
    r1 = cli(
        "-vv", "labelstudio", "push", "-w", ws.root, "--project", title, "--document-root", srv.media_root
    )
    assert r1.exit_code == 0, r1.output
    assert "3 task(s) imported" in r1.output
    project_id = _rows(ws, LabelStudioProject, LabelStudioProject.title == title)[0].project_id
    ids = sorted(task_slots(ws, project_id))
    _client(srv, key).annotations.create(id=ids[0], result=_result({1: (5, 4), 2: (3, 2), 3: (1, 1)}))
    r2 = cli("-vv", "labelstudio", "pull", "-w", ws.root, "--project", title, "--json")
    assert r2.exit_code == 0, r2.output
    assert '"added": 3' in r2.output
    logged = caplog.text + r1.output + r2.output
    assert "HTTP Request" in caplog.text  # the debug log did see the requests...
    assert key not in logged and key[-12:] not in logged  # ...but never the key


@pytest.fixture
def sqlite_campaign(labelstudio_server, media_files, tmp_path):
    ws = init(labelstudio_server.media_root / f"ws-{uuid.uuid4().hex[:8]}", overlap=OVERLAP)
    store = ws.open_store()
    add_campaign(store, ws.path("media", "cands"), *media_files)
    store.dispose()
    return ws


def test_per_candidate_tasks_skips_and_double_annotations(labelstudio_server, sqlite_campaign):
    srv, ws = labelstudio_server, sqlite_campaign
    cfg = _cfg(srv, per="candidate")
    rep = push(ws, cfg)
    assert (rep.imported, rep.skipped) == (9, [])
    admin = _client(srv, srv.legacy_token)
    tasks = list(admin.tasks.list(project=rep.project_id))
    assert {frozenset(t.data) for t in tasks} == {frozenset({"item", "image", "video_1"})}
    assert len({t.data["item"] for t in tasks}) == 9
    slots = task_slots(ws, rep.project_id)
    assert sorted(len(v) for v in slots.values()) == [1] * 9
    ids = sorted(slots)

    # The same user annotating one task twice: the later annotation wins, and it is noted.
    first = admin.annotations.create(id=ids[0], result=_result({1: (2, 5)}))
    second = admin.annotations.create(id=ids[0], result=_result({1: (3, 4)}))
    # Skipping ("Skip" in the UI) is a cancelled annotation: no rating.
    admin.annotations.create(id=ids[1], result=[], was_cancelled=True)
    rep = pull(ws, cfg)
    assert (rep.added, rep.cancelled, rep.problems) == (1, 1, [])
    assert rep.notes == [
        f"task {ids[0]}: user 1 annotated it twice; annotation {second.id} replaces {first.id}"
    ]
    assert list(ls_ratings(ws).values()) == [(3, 4, None, str(second.id))]


def test_rubric_and_overlap_changes_update_the_project(labelstudio_server, sqlite_campaign):
    srv, ws = labelstudio_server, sqlite_campaign
    cfg = _cfg(srv, media_url_prefix="https://media.example.org/")
    rep = push(ws, cfg)
    admin = _client(srv, srv.legacy_token)
    data = next(iter(admin.tasks.list(project=rep.project_id))).data
    assert data["video_1"].startswith("https://media.example.org/labelstudio-media/")
    assert list(admin.import_storage.local.list(project=rep.project_id)) == []
    assert (srv.media_root / data["video_1"].removeprefix("https://media.example.org/")).is_file()

    ws.config.rubric["fidelity"].title = "Portrait realism"
    ws.config.annotation["overlap"] = 3
    rep = push(ws, cfg)
    assert (rep.project_updated, rep.imported, rep.existing) == (True, 0, 3)
    project = admin.projects.get(id=rep.project_id)
    assert project.maximum_annotations == 3
    assert "Portrait realism: " in project.label_config and "Portrait realism" in project.expert_instruction
    assert push(ws, cfg).project_updated is False


def test_per_clip_skips_a_clip_without_all_candidates(labelstudio_server, media_files, tmp_path):
    srv = labelstudio_server
    ws = init(srv.media_root / f"ws-{uuid.uuid4().hex[:8]}", overlap=OVERLAP)
    store = ws.open_store()
    add_campaign(store, ws.path("media", "cands"), *media_files, failed={(1, "hallo3")})
    store.dispose()
    rep = push(ws, _cfg(srv))
    assert rep.imported == 2
    assert rep.skipped == [
        (
            "clip lsclip1: 2 ready candidate(s), but the project's tasks have 3 video slots; "
            "pushed once it has 3"
        )
    ]


def test_interrupted_push_is_finished_not_duplicated(labelstudio_server, sqlite_campaign):
    srv, ws = labelstudio_server, sqlite_campaign
    cfg = _cfg(srv)
    real = _client(srv, srv.legacy_token)

    class DiesAfterImport:
        """The real client, except that listing tasks after the import fails (a crash, a lost connection)."""

        def __init__(self):
            self.projects, self.import_storage, self.users = real.projects, real.import_storage, real.users
            self.calls = 0
            outer = self

            class Tasks:
                def list(self, **kw):
                    outer.calls += 1
                    if outer.calls == 2:
                        raise CurateError("connection lost")
                    return real.tasks.list(**kw)

            self.tasks = Tasks()

    with pytest.raises(CurateError, match="connection lost"):
        push(ws, cfg, client=DiesAfterImport())
    assert {r.task_id for r in _rows(ws, LabelStudioTask)} == {None}  # imported, not yet recorded
    rep = push(ws, cfg)
    assert (rep.imported, rep.resumed, rep.existing) == (0, 3, 0)
    assert len(list(real.tasks.list(project=rep.project_id))) == 3
    assert None not in {r.task_id for r in _rows(ws, LabelStudioTask)}
