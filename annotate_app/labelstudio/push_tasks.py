"""Push: write blind task rows into the store, link their media, import them into Label Studio.

Idempotent: a task row is written (``task_id`` NULL) before the import and completed after
it, matched on ``item``, so pushing twice, or after a crash, creates nothing twice.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import distinct, func, select, update

from annotate_app.labelstudio.client import IMPORT_BATCH, LabelStudioConfig, call, connect, find_project
from annotate_app.labelstudio.project import create_project, update_project
from storage import Candidate, CandidateStatus, Clip
from storage.atomic import atomic_write
from storage.errors import CurateError
from storage.models import TASKS_PER_CLIP, LabelStudioProject, LabelStudioTask
from storage.workspace import Workspace


@dataclass
class PushReport:
    """What a push did. ``skipped`` names each clip left out, and why."""

    project_id: int
    project_created: bool = False
    project_updated: bool = False
    imported: int = 0  # tasks created in Label Studio by this push
    resumed: int = 0  # tasks an interrupted push had created, now recorded
    existing: int = 0  # tasks there before this push
    skipped: list[str] = field(default_factory=list)


def push(ws: Workspace, cfg: LabelStudioConfig, client=None) -> PushReport:
    """Create or update the project, then import the tasks that are not there yet."""
    client = client or connect(cfg)
    with ws.store() as store:
        proj = find_project(store, cfg)
        if proj is None:
            proj = create_project(ws, cfg, client, store)
            report = PushReport(project_id=proj.project_id, project_created=True)
        else:
            report = PushReport(
                project_id=proj.project_id, project_updated=update_project(ws, cfg, client, proj)
            )
        _plan_tasks(store, proj, report)
        _import_pending(cfg, client, store, proj, report)
    return report


def link_media(src: Path, dst: Path) -> None:
    """A hard link (no extra disk), else a copy; an existing link is kept."""
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # other file system, or links not allowed: the server needs a real file
        atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp))


def reference_name(row: LabelStudioTask, clip: Clip) -> str:
    return f"{row.item}-ref{Path(clip.image_path).suffix.lower()}"


def task_data(proj: LabelStudioProject, rows: list[LabelStudioTask], clip: Clip) -> dict[str, str]:
    """Task data: the opaque item token and media URLs, nothing else."""

    def url(name: str) -> str:
        return f"{proj.media_url_prefix}{proj.media_subdir}/{name}"

    data = {"item": rows[0].item, "image": url(reference_name(rows[0], clip))}
    for r in rows:
        data[f"video_{r.slot}"] = url(r.media_name)
    return data


def _plan_tasks(store, proj: LabelStudioProject, report: PushReport) -> None:
    """Write task rows (task_id NULL) for ready candidates not in the project yet, in a random slot order."""
    rng = random.SystemRandom()
    with store.session() as s:
        mapped_clips = set(
            s.scalars(select(LabelStudioTask.clip_pk).where(LabelStudioTask.project_pk == proj.id))
        )
        new, clip_ids = _unmapped_ready(s, proj)
        for clip_pk, cands in new.items():
            groups = [[c] for c in cands]
            if proj.per == TASKS_PER_CLIP:
                why = _clip_unfit(len(cands), proj.slots, clip_pk in mapped_clips)
                if why:
                    report.skipped.append(f"clip {clip_ids[clip_pk]}: {why}")
                    continue
                rng.shuffle(cands)  # slot order says nothing about the method
                groups = [cands]
            for group in groups:
                _add_task_rows(s, proj, clip_pk, group)


def _unmapped_ready(s, proj: LabelStudioProject) -> tuple[dict[int, list[Candidate]], dict[int, str]]:
    """Ready candidates not in the project yet, by clip pk, and the clip ids of those clips."""
    mapped = set(
        s.scalars(select(LabelStudioTask.candidate_pk).where(LabelStudioTask.project_pk == proj.id))
    )
    new: dict[int, list[Candidate]] = defaultdict(list)
    clip_ids: dict[int, str] = {}
    q = (
        select(Candidate, Clip.clip_id)
        .join(Clip, Clip.id == Candidate.clip_pk)
        .where(Candidate.status == CandidateStatus.ready)
        .order_by(Candidate.clip_pk, Candidate.id)
    )
    for cand, clip_id in s.execute(q):
        if cand.id not in mapped:
            new[cand.clip_pk].append(cand)
            clip_ids[cand.clip_pk] = clip_id
    return new, clip_ids


def _add_task_rows(s, proj: LabelStudioProject, clip_pk: int, group: list[Candidate]) -> None:
    """One task: a fresh item token, one row per video slot with a random media name."""
    item = secrets.token_hex(8)
    for slot, cand in enumerate(group, 1):
        name = secrets.token_hex(8) + Path(cand.video_path or "").suffix.lower()
        s.add(
            LabelStudioTask(
                project_pk=proj.id,
                item=item,
                slot=slot,
                clip_pk=clip_pk,
                candidate_pk=cand.id,
                media_name=name,
            )
        )


def _clip_unfit(n_ready: int, slots: int, already_pushed: bool) -> str | None:
    if already_pushed:
        return f"{n_ready} candidate(s) became ready after its task was pushed; per-clip tasks are fixed, so not pushed"
    if n_ready != slots:
        return f"{n_ready} ready candidate(s), but the project's tasks have {slots} video slots; pushed once it has {slots}"
    return None


def _server_items(cfg: LabelStudioConfig, client, project_id: int) -> dict[str, int]:
    """The project's tasks on the server: item token -> task id."""
    tasks = call(
        cfg,
        "listing tasks",
        lambda: list(client.tasks.list(project=project_id, fields="task_only", page_size=1000)),
    )
    return {str((t.data or {}).get("item")): t.id for t in tasks}


def _load_pending(store, proj: LabelStudioProject) -> tuple[int, dict[str, list]]:
    """(tasks already recorded, {item: [(row, clip, candidate), ...]} of rows without a task id)."""
    with store.session() as s:
        done = s.scalar(
            select(func.count(distinct(LabelStudioTask.item))).where(
                LabelStudioTask.project_pk == proj.id, LabelStudioTask.task_id.is_not(None)
            )
        )
        q = (
            select(LabelStudioTask, Clip, Candidate)
            .join(Clip, Clip.id == LabelStudioTask.clip_pk)
            .join(Candidate, Candidate.id == LabelStudioTask.candidate_pk)
            .where(LabelStudioTask.project_pk == proj.id, LabelStudioTask.task_id.is_(None))
            .order_by(LabelStudioTask.item, LabelStudioTask.slot)
        )
        pending: dict[str, list] = defaultdict(list)
        for row, clip, cand in s.execute(q):
            pending[row.item].append((row, clip, cand))
    return int(done or 0), pending


def _link_and_describe(proj: LabelStudioProject, pending: dict[str, list]) -> dict[str, dict[str, str]]:
    """Make the blind media links of the pending tasks (first: annotators may open a task at once); their data."""
    media = Path(proj.document_root) / proj.media_subdir
    data = {}
    for item, rows in pending.items():
        first, clip = rows[0][0], rows[0][1]
        link_media(Path(clip.image_path), media / reference_name(first, clip))
        for row, _clip, cand in rows:
            link_media(Path(cand.video_path), media / row.media_name)
        data[item] = task_data(proj, [row for row, _, _ in rows], clip)
    return data


def _import_pending(
    cfg: LabelStudioConfig, client, store, proj: LabelStudioProject, report: PushReport
) -> None:
    """Import the tasks whose rows have no task id yet (and record those an interrupted push made)."""
    report.existing, pending = _load_pending(store, proj)
    if not pending:
        return
    data = _link_and_describe(proj, pending)
    on_server = _server_items(cfg, client, proj.project_id)
    todo = [item for item in pending if item not in on_server]
    for i in range(0, len(todo), IMPORT_BATCH):
        batch = [data[item] for item in todo[i : i + IMPORT_BATCH]]
        call(
            cfg,
            "importing tasks",
            lambda b=batch: client.projects.import_tasks(id=proj.project_id, request=b),
        )
    if todo:
        on_server = _server_items(cfg, client, proj.project_id)
    missing = [item for item in pending if item not in on_server]
    if missing:
        raise CurateError(
            f"{len(missing)} imported task(s) not found in project {proj.project_id}; push again to retry."
        )
    with store.session() as s:
        for item in pending:
            s.execute(
                update(LabelStudioTask)
                .where(LabelStudioTask.project_pk == proj.id, LabelStudioTask.item == item)
                .values(task_id=on_server[item])
            )
    report.imported, report.resumed = len(todo), len(pending) - len(todo)
