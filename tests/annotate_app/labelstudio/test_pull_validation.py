"""A bad Label Studio reply never costs a rating, on SQLite and PostgreSQL, no server needed.

A fake client stands in for the SDK: ``tasks.list`` yields task objects with ``id`` and ``annotations``
(dicts, as the SDK hands them), ``users.list`` user objects. One clip with two candidates is pushed as
task 11 (slot 1 = candidate A, slot 2 = candidate B); user 7 rated it in annotation 101.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from annotate_app.labelstudio.pull_annotations import check_reply, pull
from storage.errors import CurateError
from tests.fixtures.fuzz_inputs import ls_annotation, ls_result
from tests.fixtures.labelstudio_pull import CFG, TABLES, TASK, TITLE, URL, FakeClient, rows, seed, task  # noqa: F401


@pytest.fixture
def ws(workspace):
    return seed(workspace)


def n_ratings(ws) -> int:
    return len(rows(ws)["ratings"])


def test_a_reply_without_tasks_deletes_nothing(ws):
    """Pulled once (2 ratings); then a reply the SDK reads as no tasks at all (no `tasks` key): nothing is
    removed, because Label Studio did not say annotation 101 was deleted."""
    assert pull(ws, CFG, client=FakeClient([task(ls_annotation(101, 7, 4))])).added == 2
    before = rows(ws)
    rep = pull(ws, CFG, client=FakeClient([]))
    assert (rep.deleted, rep.kept) == (0, 2)
    assert rows(ws) == before


def test_an_annotation_deleted_in_label_studio_is_removed_and_counted(ws):
    pull(ws, CFG, client=FakeClient([task(ls_annotation(101, 7, 4))]))
    rep = pull(ws, CFG, client=FakeClient([task()]))  # task 11 is back, annotation 101 is not
    assert rep.deleted == 2 and n_ratings(ws) == 0
    assert "removing 2 rating(s) whose annotations Label Studio reports deleted or skipped" in rep.notes


MALFORMED = {
    "result a dict": (lambda: dict(ls_annotation(101, 7, 4), result={"x": 1}),
                      "task 11, annotation 101 result is a dict, not a list"),
    "result item a string": (lambda: dict(ls_annotation(101, 7, 4), result=["alignment_1"]),
                             "task 11, annotation 101 result item 1 is a str, not an object"),
    "annotation a string": (lambda: "101", "task 11, annotation #1 is a str, not an object"),
    "no id": (lambda: {k: v for k, v in ls_annotation(101, 7, 4).items() if k != "id"},
              "task 11, annotation #1 has no integer id (id = 'None')"),
    "completed_by null": (lambda: dict(ls_annotation(101, 7, 4), completed_by=None),
                          "task 11, annotation 101 completed_by = 'None' is not a user id"),
    "completed_by text": (lambda: dict(ls_annotation(101, 7, 4), completed_by="seven"),
                          "task 11, annotation 101 completed_by = 'seven' is not a user id"),
}


@pytest.mark.parametrize("shape", list(MALFORMED))
def test_a_malformed_reply_stops_the_pull_with_one_line_and_the_store_unchanged(ws, cli, shape):
    pull(ws, CFG, client=FakeClient([task(ls_annotation(101, 7, 4))]))
    before = rows(ws)
    make, says = MALFORMED[shape]
    with pytest.raises(CurateError) as e:
        pull(ws, CFG, client=FakeClient([task(make())]))
    assert says in str(e.value) and "nothing was stored" in str(e.value) and "\n" not in str(e.value)
    assert rows(ws) == before


def test_a_task_list_of_the_wrong_shape_is_refused():
    with pytest.raises(CurateError, match="annotations is a dict, not a list"):
        check_reply([SimpleNamespace(id=1, annotations={"id": 1})])
    with pytest.raises(CurateError, match="task 1 of the listing has no integer id"):
        check_reply([SimpleNamespace(id="1", annotations=[])])


def test_a_comment_over_2000_characters_is_rejected_not_stored(ws):
    """2,001 characters: rejected like any invalid annotation (reported, nothing stored); 2,000 are stored."""
    long = ls_annotation(101, 7, 4, comment="x" * 2001)
    rep = pull(ws, CFG, client=FakeClient([task(long)]))
    assert (rep.added, rep.rejected) == (0, 1)
    assert "comment_1 is 2001 characters long, more than 2000" in rep.problems[0]
    assert n_ratings(ws) == 0
    rep = pull(ws, CFG, client=FakeClient([task(ls_annotation(101, 7, 4, comment="x" * 2000))]))
    assert rep.added == 2


def test_the_pull_cli_says_it_in_one_line(ws, cli, monkeypatch):
    import annotate_app.labelstudio.pull_annotations as pa

    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "k-not-printed")
    monkeypatch.setattr(pa, "connect", lambda _cfg: FakeClient([task(dict(ls_annotation(101, 7, 4),
                                                                          result={"x": 1}))]))
    r = cli("labelstudio", "pull", "-w", ws.root, "--url", URL, "--project", TITLE)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "task 11, annotation 101 result is a dict, not a list" in r.output


def test_ls_result_builds_what_parse_accepts():
    assert [x["from_name"] for x in ls_result(2, 5, "ok")] == ["alignment_1", "fidelity_1", "comment_1",
                                                              "alignment_2", "fidelity_2", "comment_2"]
