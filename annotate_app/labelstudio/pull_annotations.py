"""Pull: read a project's annotations back as ratings, after validating every value.

Label Studio stores a rating of 9 or an unknown control name without complaint, so each
annotation is checked against the labelling config: a bad one is reported with its task and
annotation id and never stored.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from annotate_app.labelstudio.client import SOURCE, LabelStudioConfig, call, connect, find_project
from annotate_app.labelstudio.label_config import control_names
from storage import Annotator, Rating
from storage.errors import CurateError
from storage.ids import ID_MAX, to_id
from storage.models import AXES, LabelStudioProject, LabelStudioTask
from storage.text_limits import COMMENT_MAX
from storage.workspace import Workspace


@dataclass(frozen=True)
class SlotScore:
    """The two scores (and comment) one annotation gives one video slot."""

    alignment: int
    fidelity: int
    comment: str | None


@dataclass
class PullReport:
    """What a pull did. ``problems``: annotations rejected (never stored); ``notes``: other things seen."""

    project_id: int
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    cancelled: int = 0  # skipped tasks (Label Studio's "Skip"): no rating
    rejected: int = 0  # invalid annotations: reported in ``problems``, never stored
    kept: int = 0  # ratings whose annotation turned invalid: last valid scores kept
    annotators_added: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _score(value: Any) -> int | None:
    # JSON integers only: Label Studio's Rating sends ints; 4.0, "4" and True are someone else's data.
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5 else None


def parse_annotation(ann: dict, slots: int) -> tuple[dict[int, SlotScore], list[str]]:
    """Validate one annotation's ``result`` against the config of a ``slots``-video project.

    Returns (scores by slot, problems). Any problem rejects the whole annotation: a
    partial one would store some videos of a clip and not others.
    """
    controls = control_names(slots)
    got: dict[tuple[str, int], Any] = {}
    present: set[str] = set()
    problems = []
    for res in ann.get("result") or []:
        name = res.get("from_name")
        if name not in controls:
            problems.append(f"unknown control {name!r}")
            continue
        axis, slot = controls[name]
        if name in present:
            problems.append(f"{name} given twice")
        present.add(name)
        if res.get("to_name") != f"video_{slot}":
            problems.append(f"{name} points at {res.get('to_name')!r}, not 'video_{slot}'")
        value, problem = _result_value(name, axis, res)
        if problem:
            problems.append(problem)
            continue
        got[(axis, slot)] = value
    missing = [f"{axis}_{n}" for n in range(1, slots + 1) for axis in AXES if f"{axis}_{n}" not in present]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if problems:
        return {}, problems
    return {
        n: SlotScore(got[("alignment", n)], got[("fidelity", n)], got.get(("comment", n)))
        for n in range(1, slots + 1)
    }, []


def _result_value(name: str, axis: str, res: dict) -> tuple[Any, str | None]:
    """(the comment, None if blank, or the score; None) or (None, why it is neither)."""
    value = res.get("value") if isinstance(res.get("value"), dict) else {}
    if axis == "comment":
        text = value.get("text")
        text = [text] if isinstance(text, str) else text
        if not isinstance(text, list) or not all(isinstance(t, str) for t in text):
            return None, f"{name} is not text: {repr(value)[:80]}"
        joined = "\n".join(text).strip()
        if len(joined) > COMMENT_MAX:  # the app's cap (annotate_app.submit), applied to every way in
            return None, f"{name} is {len(joined)} characters long, more than {COMMENT_MAX}"
        return joined or None, None
    score = _score(value.get("rating"))
    if res.get("type") != "rating" or score is None:
        return None, f"{name} = {value.get('rating', value)!r} ({res.get('type')}) is not a rating 1-5"
    return score, None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _annotation_shape(ann: Any) -> str | None:
    """What is wrong with one annotation's shape (the SDK's documented one), else None."""
    if not isinstance(ann, dict):
        return f"is a {type(ann).__name__}, not an object"
    if not _is_int(ann.get("id")):
        return f"has no integer id (id = {str(ann.get('id'))[:40]!r})"
    by = ann.get("completed_by")
    if not (_is_int(by) or (isinstance(by, dict) and _is_int(by.get("id")))):
        return f"completed_by = {str(by)[:40]!r} is not a user id"
    if ann.get("was_cancelled") not in (None, True, False):
        return f"was_cancelled = {str(ann.get('was_cancelled'))[:40]!r} is not true/false"
    result = ann.get("result")
    if result is not None and not isinstance(result, list):
        return f"result is a {type(result).__name__}, not a list"
    for j, res in enumerate(result or [], 1):
        if not isinstance(res, dict):
            return f"result item {j} is a {type(res).__name__}, not an object"
    return None


def check_reply(tasks: Any) -> None:
    """Stop, with one line and before the store is touched, on a tasks listing of an unexpected shape.

    Raises:
        CurateError: naming the task (and annotation) and what is wrong; nothing is stored.
    """
    stop = "Label Studio's tasks reply is not of the documented shape, so nothing was stored: "
    if not isinstance(tasks, list):
        raise CurateError(stop + f"the listing is a {type(tasks).__name__}, not a list of tasks.")
    for i, task in enumerate(tasks, 1):
        tid = getattr(task, "id", None)
        if not _is_int(tid):
            raise CurateError(stop + f"task {i} of the listing has no integer id (id = {str(tid)[:40]!r}).")
        anns = getattr(task, "annotations", None)
        if anns is not None and not isinstance(anns, list):
            raise CurateError(stop + f"task {tid}: annotations is a {type(anns).__name__}, not a list.")
        for j, ann in enumerate(anns or [], 1):
            if (why := _annotation_shape(ann)) is not None:
                aid = ann.get("id") if isinstance(ann, dict) and _is_int(ann.get("id")) else f"#{j}"
                raise CurateError(stop + f"task {tid}, annotation {aid} {why}.")


def pull(ws: Workspace, cfg: LabelStudioConfig, strict: bool = False, client=None) -> PullReport:
    """Read the project's annotations into the store as ratings (source "labelstudio").

    Idempotent. An edited annotation updates its ratings; a deleted or skipped one removes
    them, but only where Label Studio positively says so: the task is in the reply with its
    annotations listed and that annotation is gone (or skipped). A task missing from the reply
    (a short or malformed listing) removes nothing. An invalid annotation is reported and
    changes nothing (its earlier ratings, if any, stay). A reply of an unexpected shape stops
    the pull with one line before anything is written (:func:`check_reply`). With ``strict``
    any invalid annotation aborts the pull and nothing is written.
    """
    client = client or connect(cfg)
    with ws.store() as store:
        proj = find_project(store, cfg)
        if proj is None:
            raise CurateError(
                f"This workspace has not pushed a project titled {cfg.project!r} to {cfg.url}; run `curate labelstudio push` first."
            )
        tasks, users = _fetch(cfg, client, proj)
        check_reply(tasks)
        report = PullReport(project_id=proj.project_id)
        with store.session() as s:
            winners, seen = _collect(s, proj, tasks, report)
            reported = {task.id for task in tasks if getattr(task, "annotations", None) is not None}
            if strict and report.problems:
                raise CurateError(
                    f"{report.rejected} invalid annotation(s), nothing stored:\n  "
                    + "\n  ".join(report.problems)
                )
            _store_ratings(s, proj, winners, seen, reported, users, report)
    return report


def _fetch(cfg: LabelStudioConfig, client, proj: LabelStudioProject) -> tuple[list, dict[int, str]]:
    """The project's tasks with their annotations, and every user's email (else username) by id."""
    tasks = call(
        cfg,
        "listing annotations",
        lambda: list(client.tasks.list(project=proj.project_id, fields="all", page_size=500)),
    )
    users = call(
        cfg, "listing users", lambda: {u.id: (u.email or u.username or "") for u in client.users.list()}
    )
    return tasks, users


def _user_id(completed_by: Any) -> int:
    return int(completed_by["id"] if isinstance(completed_by, dict) else completed_by)


def _task_slots(s, proj: LabelStudioProject) -> dict[int, dict[int, int]]:
    """task id -> slot -> candidate pk, for the project's recorded tasks."""
    out: dict[int, dict[int, int]] = defaultdict(dict)
    q = select(LabelStudioTask).where(
        LabelStudioTask.project_pk == proj.id, LabelStudioTask.task_id.is_not(None)
    )
    for row in s.scalars(q):
        out[row.task_id][row.slot] = row.candidate_pk
    return out


def _collect(s, proj: LabelStudioProject, tasks: list, report: PullReport):
    """Valid annotations as {(candidate_pk, ls user id): (annotation id, SlotScore)}, and every live annotation id."""
    slots_of = _task_slots(s, proj)
    valid = []
    seen: set[str] = set()
    for task in tasks:
        slot_map = slots_of.get(task.id)
        if slot_map is None:
            report.notes.append(f"task {task.id} was not pushed by curate: ignored")
            continue
        for ann in getattr(task, "annotations", None) or []:  # shapes checked by check_reply
            if ann.get("was_cancelled"):
                report.cancelled += 1
                continue
            seen.add(str(ann["id"]))
            scores, problems = parse_annotation(ann, proj.slots)
            report.problems += [f"task {task.id}, annotation {ann['id']}: {p}" for p in problems]
            report.rejected += bool(problems)
            if scores:
                valid.append(
                    (
                        str(ann.get("updated_at") or ""),
                        int(ann["id"]),
                        _user_id(ann["completed_by"]),
                        task.id,
                        slot_map,
                        scores,
                    )
                )
    return _latest_wins(valid, report), seen


def _latest_wins(valid: list[tuple], report: PullReport) -> dict[tuple[int, int], tuple[int, SlotScore]]:
    """One score per (candidate pk, user): a user who annotated a task twice keeps the later edit."""
    winners: dict[tuple[int, int], tuple[int, SlotScore]] = {}
    # by (updated_at, annotation id) only: the other fields are dicts, and ties keep the reply's order
    for _updated, ann_id, user, task_id, slot_map, scores in sorted(valid, key=lambda v: (v[0], v[1])):
        for slot, score in scores.items():
            key = (slot_map[slot], user)
            if key in winners and slot == 1:
                report.notes.append(
                    f"task {task_id}: user {user} annotated it twice; annotation {ann_id} replaces {winners[key][0]}"
                )
            winners[key] = (ann_id, score)
    return winners


def _annotators(s, users: dict[int, str], wanted: set[int], report: PullReport) -> dict[int, int]:
    """Label Studio user id -> annotator pk, creating ``Annotator(source="labelstudio")`` rows as needed."""
    known = {a.external_id: a.id for a in s.scalars(select(Annotator).where(Annotator.source == SOURCE))}
    taken = set(s.scalars(select(Annotator.name)))
    out = {}
    for uid in sorted(wanted):
        if str(uid) not in known:
            # The e-mail made into a valid id (storage.ids): odd characters become "_".
            name = to_id(users.get(uid) or "", f"labelstudio-user-{uid}")
            if name in taken:  # an app annotator of that name is someone else until proven otherwise
                suffix = f"+labelstudio-{uid}"
                name = name[: ID_MAX - len(suffix)] + suffix
            a = Annotator(name=name, source=SOURCE, external_id=str(uid))
            s.add(a)
            s.flush()
            taken.add(name)
            known[str(uid)] = a.id
            report.annotators_added += 1
        out[uid] = known[str(uid)]
    return out


def _store_ratings(
    s, proj: LabelStudioProject, winners: dict, seen: set[str], reported: set[int], users: dict[int, str],
    report: PullReport,
) -> None:
    ann_pk = _annotators(s, users, {user for _cand, user in winners}, report)
    q = (
        select(Rating, LabelStudioTask.task_id)
        .join(LabelStudioTask, LabelStudioTask.candidate_pk == Rating.candidate_pk)
        .where(LabelStudioTask.project_pk == proj.id, Rating.source == SOURCE)
    )
    task_of = {}
    stored = {}
    for r, task_id in s.execute(q):
        stored[(r.candidate_pk, r.annotator_pk)], task_of[r.id] = r, task_id
    for (cand_pk, user), (ann_id, sc) in winners.items():
        r = stored.pop((cand_pk, ann_pk[user]), None)
        values = {
            "alignment": sc.alignment,
            "fidelity": sc.fidelity,
            "comment": sc.comment,
            "external_id": str(ann_id),
        }
        if r is None:
            s.add(Rating(candidate_pk=cand_pk, annotator_pk=ann_pk[user], source=SOURCE, **values))
            report.added += 1
        elif all(getattr(r, k) == v for k, v in values.items()):
            report.unchanged += 1
        else:
            for k, v in values.items():
                setattr(r, k, v)
            report.updated += 1
    gone = []
    for r in stored.values():
        if r.external_id in seen:  # its annotation is still there but now invalid (reported)
            report.kept += 1
        elif task_of[r.id] in reported:  # the task came back without this annotation: deleted or skipped
            gone.append(r)
        else:
            report.kept += 1  # Label Studio said nothing about this task: keep what was pulled
    if gone:
        report.notes.append(f"removing {len(gone)} rating(s) whose annotations Label Studio reports deleted or "
                            "skipped")
    for r in gone:
        s.delete(r)
    report.deleted = len(gone)
