"""Label Studio bridge without a server: config rendering, annotation validation, settings, CLI errors."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from annotate_app.labelstudio import (
    LabelStudioConfig,
    SlotScore,
    control_names,
    parse_annotation,
    render_instructions,
    render_label_config,
)
from storage.errors import CurateError
from storage.workspace import RubricAxis, default_rubric


def _rating(name, value, to=None, type_="rating"):
    slot = name.rsplit("_", 1)[-1]
    return {"from_name": name, "to_name": to or f"video_{slot}", "type": type_, "value": {"rating": value}}


def _comment(slot, text):
    return {
        "from_name": f"comment_{slot}",
        "to_name": f"video_{slot}",
        "type": "textarea",
        "value": {"text": text},
    }


def test_label_config_has_two_required_ratings_per_video():
    root = ET.fromstring(render_label_config(default_rubric(), slots=3, fps=25.0))
    videos = root.findall(".//Video")
    assert [(v.get("name"), v.get("value"), v.get("frameRate")) for v in videos] == [
        ("video_1", "$video_1", "25"),
        ("video_2", "$video_2", "25"),
        ("video_3", "$video_3", "25"),
    ]
    ratings = root.findall(".//Rating")
    assert [(r.get("name"), r.get("toName")) for r in ratings] == [
        ("alignment_1", "video_1"),
        ("fidelity_1", "video_1"),
        ("alignment_2", "video_2"),
        ("fidelity_2", "video_2"),
        ("alignment_3", "video_3"),
        ("fidelity_3", "video_3"),
    ]
    assert {(r.get("maxRating"), r.get("required")) for r in ratings} == {("5", "true")}
    comments = root.findall(".//TextArea")
    assert [(c.get("name"), c.get("toName"), c.get("required")) for c in comments] == [
        ("comment_1", "video_1", None),
        ("comment_2", "video_2", None),
        ("comment_3", "video_3", None),
    ]
    assert [i.get("value") for i in root.findall(".//Image")] == ["$image"]
    # every control the config defines is one parse_annotation accepts, and no other
    names = {e.get("name") for e in root.iter() if e.tag in ("Rating", "TextArea")}
    assert names == set(control_names(3))


def test_label_config_shows_the_workspace_rubric_escaped():
    rubric = default_rubric()
    rubric["alignment"] = RubricAxis(
        "alignment", 'Sync <lips> & "beat"', "Does it match?", "1 = no", "5 = yes"
    )
    xml = render_label_config(rubric, slots=1, fps=12.5)
    headers = [h.get("value") for h in ET.fromstring(xml).iter("Header")]
    assert 'Sync <lips> & "beat": Does it match?' in headers
    assert "1 = no   |   5 = yes" in headers
    assert rubric["fidelity"].title + ": " + rubric["fidelity"].question in headers
    assert 'frameRate="12.5"' in xml
    assert "&lt;lips&gt; &amp;" in render_instructions(rubric)


def test_parse_valid_annotation_per_slot():
    ann = {
        "result": [
            _rating("alignment_1", 4),
            _rating("fidelity_1", 2),
            _rating("alignment_2", 5),
            _rating("fidelity_2", 1),
            _comment(2, ["lip lag", "at 0:02"]),
        ]
    }
    scores, problems = parse_annotation(ann, slots=2)
    assert problems == []
    assert scores == {1: SlotScore(4, 2, None), 2: SlotScore(5, 1, "lip lag\nat 0:02")}


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (
            [_rating("alignment_1", 9), _rating("fidelity_1", 2)],
            "alignment_1 = 9 (rating) is not a rating 1-5",
        ),
        (
            [_rating("alignment_1", 0), _rating("fidelity_1", 2)],
            "alignment_1 = 0 (rating) is not a rating 1-5",
        ),
        (
            [_rating("alignment_1", 4.0), _rating("fidelity_1", 2)],
            "alignment_1 = 4.0 (rating) is not a rating 1-5",
        ),
        (
            [_rating("alignment_1", True), _rating("fidelity_1", 2)],
            "alignment_1 = True (rating) is not a rating 1-5",
        ),
        (
            [_rating("alignment_1", "4"), _rating("fidelity_1", 2)],
            "alignment_1 = '4' (rating) is not a rating 1-5",
        ),
        (
            [_rating("alignment_1", 4, type_="choices"), _rating("fidelity_1", 2)],
            "alignment_1 = 4 (choices) is not a rating 1-5",
        ),
        (
            [_rating("align", 4), _rating("alignment_1", 4), _rating("fidelity_1", 2)],
            "unknown control 'align'",
        ),
        ([_rating("alignment_1", 4)], "missing fidelity_1"),
        ([], "missing alignment_1, fidelity_1"),
        (
            [_rating("alignment_1", 4), _rating("alignment_1", 3), _rating("fidelity_1", 2)],
            "alignment_1 given twice",
        ),
        (
            [_rating("alignment_1", 4, to="reference"), _rating("fidelity_1", 2)],
            "alignment_1 points at 'reference', not 'video_1'",
        ),
        (
            [_rating("alignment_1", 4), _rating("fidelity_1", 2), _comment(1, 7)],
            "comment_1 is not text: {'text': 7}",
        ),
        (
            [_rating("alignment_2", 4), _rating("fidelity_1", 2), _rating("alignment_1", 2)],
            "unknown control 'alignment_2'",
        ),
    ],
)
def test_parse_rejects_bad_annotations(result, expected):
    scores, problems = parse_annotation({"result": result}, slots=1)
    assert scores == {}
    assert expected in problems


def test_parse_a_problem_in_one_slot_rejects_the_whole_annotation():
    ann = {
        "result": [
            _rating("alignment_1", 4),
            _rating("fidelity_1", 2),
            _rating("alignment_2", 6),
            _rating("fidelity_2", 3),
        ]
    }
    assert parse_annotation(ann, slots=2) == ({}, ["alignment_2 = 6 (rating) is not a rating 1-5"])


def test_config_validation_and_key_not_in_repr():
    cfg = LabelStudioConfig(url="http://h:8080/", api_key="sekrit-key-123", project="p")
    assert cfg.url == "http://h:8080" and "sekrit" not in repr(cfg)
    with pytest.raises(CurateError, match="LABEL_STUDIO_API_KEY"):
        LabelStudioConfig(url="http://h:8080", api_key="")
    with pytest.raises(CurateError, match="must start with http"):
        LabelStudioConfig(url="h:8080", api_key="k")
    with pytest.raises(CurateError, match="--per must be"):
        LabelStudioConfig(url="http://h", api_key="k", per="frame")


def test_cli_without_key_or_url_is_one_clear_error(sqlite_workspace, cli, monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    r = cli("labelstudio", "push", "-w", sqlite_workspace.root, "--url", "http://127.0.0.1:9")
    assert r.exit_code == 1 and "Error: No Label Studio API key" in r.output
    r = cli("labelstudio", "pull", "-w", sqlite_workspace.root)
    assert r.exit_code == 1 and "Error: Label Studio URL must start with http" in r.output


def test_cli_unreachable_server_names_it_without_the_key(sqlite_workspace, cli, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "not-a-real-key-42")
    r = cli("labelstudio", "pull", "-w", sqlite_workspace.root, "--url", "http://127.0.0.1:9")
    assert r.exit_code == 1
    assert "Label Studio at http://127.0.0.1:9 not reachable" in r.output
    assert "not-a-real-key-42" not in r.output


def test_labelstudio_users_become_their_own_annotators(sqlite_workspace):
    """An app annotator who shares a Label Studio user's email stays a different person."""
    from annotate_app.labelstudio import PullReport
    from annotate_app.labelstudio.pull_annotations import _annotators
    from storage import Annotator

    store = sqlite_workspace.open_store()
    try:
        with store.session() as s:
            s.add(Annotator(name="ana@example.com", source="app"))
        with store.session() as s:
            rep = PullReport(project_id=1)
            pks = _annotators(s, {5: "ana@example.com", 6: "bo@example.com"}, {5, 6, 7}, rep)
            assert rep.annotators_added == 3
        with store.session() as s:
            rep = PullReport(project_id=1)
            assert _annotators(s, {5: "renamed@example.com"}, {5}, rep) == {5: pks[5]}  # matched on user id
            assert rep.annotators_added == 0
            people = {(a.name, a.source, a.external_id) for a in s.query(Annotator)}
    finally:
        store.dispose()
    assert people == {
        ("ana@example.com", "app", None),
        ("ana@example.com+labelstudio-5", "labelstudio", "5"),
        ("bo@example.com", "labelstudio", "6"),
        ("labelstudio-user-7", "labelstudio", "7"),
    }


def test_link_media_hard_links_else_copies(tmp_path, monkeypatch):
    from annotate_app.labelstudio import push_tasks

    src = tmp_path / "a.mp4"
    src.write_bytes(b"video bytes")
    push_tasks.link_media(src, tmp_path / "links" / "x.mp4")
    assert (tmp_path / "links" / "x.mp4").stat().st_ino == src.stat().st_ino  # same file, no extra disk

    def no_links(*_a):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(push_tasks.os, "link", no_links)
    push_tasks.link_media(src, tmp_path / "links" / "y.mp4")
    y = tmp_path / "links" / "y.mp4"
    assert y.read_bytes() == b"video bytes" and y.stat().st_ino != src.stat().st_ino
    assert sorted(p.name for p in (tmp_path / "links").iterdir()) == ["x.mp4", "y.mp4"]  # no .tmp left
