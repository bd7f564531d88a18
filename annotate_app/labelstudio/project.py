"""The Label Studio project behind a push: created once, then kept in line with the workspace."""

from __future__ import annotations

import os
import secrets
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select

from annotate_app.labelstudio.client import LOCAL_FILES_PREFIX, MEDIA_DIR, LabelStudioConfig, call, log
from annotate_app.labelstudio.label_config import project_settings
from storage import Candidate, CandidateStatus
from storage.errors import CurateError
from storage.models import TASKS_PER_CLIP, LabelStudioProject
from storage.workspace import Workspace


def document_root(ws: Workspace, cfg: LabelStudioConfig) -> Path:
    """The flag, else $LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, else the workspace's first media root."""
    if cfg.document_root is not None:
        return cfg.document_root
    env = os.environ.get("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT")
    return Path(env).resolve() if env else ws.media_roots[0]


def create_project(ws: Workspace, cfg: LabelStudioConfig, client, store) -> LabelStudioProject:
    counts = _ready_per_clip(store)
    if not counts:
        raise CurateError("No ready candidates to push: generate or import candidate videos first.")
    per = cfg.per or TASKS_PER_CLIP
    slots = max(counts.values()) if per == TASKS_PER_CLIP else 1
    _check_title_free(cfg, client)
    root = document_root(ws, cfg)
    subdir = f"{MEDIA_DIR}/{secrets.token_hex(6)}"
    (root / subdir).mkdir(parents=True, exist_ok=True)
    settings = project_settings(ws, slots, cfg.fps)
    p = call(cfg, "creating the project", lambda: client.projects.create(title=cfg.project, **settings))
    if cfg.media_url_prefix is None:
        _add_local_storage(cfg, client, p.id, root / subdir)
    proj = LabelStudioProject(
        server=cfg.url,
        title=cfg.project,
        project_id=p.id,
        per=per,
        slots=slots,
        document_root=str(root),
        media_subdir=subdir,
        media_url_prefix=cfg.media_url_prefix or LOCAL_FILES_PREFIX,
    )
    with store.session() as s:
        s.add(proj)
    log.info("created Label Studio project %s (%s per %s, %d slot(s))", p.id, cfg.project, per, slots)
    return proj


def _ready_per_clip(store) -> dict[int, int]:
    with store.session() as s:
        counts = defaultdict(int)
        for clip_pk in s.scalars(select(Candidate.clip_pk).where(Candidate.status == CandidateStatus.ready)):
            counts[clip_pk] += 1
    return counts


def _check_title_free(cfg: LabelStudioConfig, client) -> None:
    same_title = call(
        cfg,
        "listing projects",
        lambda: [p.id for p in client.projects.list(title=cfg.project) if p.title == cfg.project],
    )
    if same_title:
        raise CurateError(
            f"Label Studio at {cfg.url} already has a project titled {cfg.project!r} (id {same_title[0]}) that this "
            "workspace has no record of; push under another --project name."
        )


def _add_local_storage(cfg: LabelStudioConfig, client, project_id: int, path: Path) -> None:
    # The server serves /data/local-files/ only below a storage path of the project. Never
    # synced: curate imports the tasks itself (a sync would make one task per file).
    call(
        cfg,
        "adding local-files storage",
        lambda: client.import_storage.local.create(
            project=project_id,
            path=str(path),
            title="curate media (do not sync)",
            regex_filter="^$",
            use_blob_urls=True,
        ),
    )


def update_project(ws: Workspace, cfg: LabelStudioConfig, client, proj: LabelStudioProject) -> bool:
    """Bring the project's config, instructions and overlap in line with the workspace; True if changed."""
    _check_fixed_settings(cfg, proj)
    p = call(
        cfg,
        f"reading project {proj.project_id} ({proj.title!r}; if it was deleted, push under a new --project name)",
        lambda: client.projects.get(id=proj.project_id),
    )
    want = project_settings(ws, proj.slots, cfg.fps)
    changes = {k: v for k, v in want.items() if getattr(p, k, None) != v}
    if changes:
        call(
            cfg,
            f"updating project {proj.project_id} ({', '.join(sorted(changes))})",
            lambda: client.projects.update(id=proj.project_id, **changes),
        )
    return bool(changes)


def _check_fixed_settings(cfg: LabelStudioConfig, proj: LabelStudioProject) -> None:
    """Flags that were fixed when the project was created may repeat its values, never change them."""
    if cfg.per and cfg.per != proj.per:
        raise CurateError(
            f"Project {proj.title!r} has one task per {proj.per}; --per {cfg.per} needs a new --project name."
        )
    if cfg.document_root and str(cfg.document_root) != proj.document_root:
        raise CurateError(
            f"Project {proj.title!r} keeps its media under {proj.document_root}, not {cfg.document_root}."
        )
    if cfg.media_url_prefix and cfg.media_url_prefix != proj.media_url_prefix:
        raise CurateError(
            f"Project {proj.title!r} uses media URL prefix {proj.media_url_prefix!r}; its tasks keep it."
        )
