"""Label Studio as a second annotation front end: push blind tasks, pull annotations back as ratings.

Design (docs/labelstudio.md has the reasoning):
- One task per clip by default: the reference image and every ready candidate in a random
  slot order, each video with two required 5-point ``Rating``s and an optional comment.
  ``--per candidate`` makes one task per video instead.
- Blind: task data holds an opaque ``item`` token and media URLs of randomly named links
  (hard links, else copies) under ``<document root>/labelstudio-media/<token>/``; which
  candidate sits in which slot is kept only in our store (``storage.models_labelstudio``).
- Idempotent: a task row is written (``task_id`` NULL) before the import and completed after
  it, matched on ``item``, so pushing twice, or after a crash, creates nothing twice.
- Pull validates every value (Label Studio stores a rating of 9 or an unknown control
  name without complaint): a bad annotation is reported with its task and annotation id and
  never stored.

``label_studio_sdk`` is imported only when a client is built, so importing this module is cheap.
"""

from __future__ import annotations

import html
import logging
import os
import random
import secrets
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from xml.etree import ElementTree as ET

from sqlalchemy import distinct, func, select, update

from curation.errors import CurateError
from curation.workspace import RubricAxis, Workspace
from storage import Annotator, Candidate, CandidateStatus, Clip, Rating
from storage.models_labelstudio import (
    TASKS_PER_CANDIDATE,
    TASKS_PER_CLIP,
    LabelStudioProject,
    LabelStudioTask,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

SOURCE = "labelstudio"  # Rating.source and Annotator.source of everything pulled
AXES = ("alignment", "fidelity")
LOCAL_FILES_PREFIX = "/data/local-files/?d="
MEDIA_DIR = "labelstudio-media"  # under the document root; one sub-folder per project
IMPORT_BATCH = 500


@dataclass
class LabelStudioConfig:
    """How to reach Label Studio and what to push.

    Connection:
        url: server base URL, e.g. ``http://127.0.0.1:8080`` ($LABEL_STUDIO_URL).
        api_key: a legacy token or a personal access token ($LABEL_STUDIO_API_KEY). Never
            printed or logged; error messages have it replaced by ``***``.
        timeout_s: per-request timeout.
    Project:
        project: the project title; this workspace remembers which Label Studio project it is.
        per: ``clip`` (one task per clip, all its videos) or ``candidate`` (one task per
            video); fixed when the project is created. None: the project's, ``clip`` for a new one.
    Media (both fixed when the project is created; None: the project's, or the default):
        document_root: the server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT as seen from here;
            blind links to the media are made under it. Default: $LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT,
            else the workspace's first media root.
        media_url_prefix: serve the links from elsewhere: task URLs become
            ``prefix + <path under the document root>`` and no local-files storage is made.
            Default: Label Studio's own ``/data/local-files/?d=``.
    """

    url: str = ""
    api_key: str = field(default="", repr=False)
    project: str = "curate"
    per: str | None = None
    document_root: Path | None = None
    media_url_prefix: str | None = None
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise CurateError(
                f"Label Studio URL must start with http:// or https://. Got {self.url!r} (set LABEL_STUDIO_URL or --url)."
            )
        if not self.api_key:
            raise CurateError(
                "No Label Studio API key: set LABEL_STUDIO_API_KEY (a legacy token or a personal access token)."
            )
        if not self.project.strip() or len(self.project) > 200:
            raise CurateError(f"--project must be 1-200 characters. Got {self.project!r}.")
        if self.per not in (None, TASKS_PER_CLIP, TASKS_PER_CANDIDATE):
            raise CurateError(
                f"--per must be {TASKS_PER_CLIP!r} or {TASKS_PER_CANDIDATE!r}. Got {self.per!r}."
            )
        if self.timeout_s <= 0:
            raise CurateError(f"timeout_s must be > 0. Got {self.timeout_s}.")
        self.url = self.url.rstrip("/")
        if self.document_root is not None:
            self.document_root = Path(self.document_root).resolve()


# ---------------------------------------------------------------- the client


def _redact(text: str, cfg: LabelStudioConfig) -> str:
    return text.replace(cfg.api_key, "***") if cfg.api_key else text


def _call(cfg: LabelStudioConfig, what: str, fn: Callable[[], T]) -> T:
    """Run one SDK call; turn its errors into a CurateError without headers (cookies) or the key."""
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    try:
        return fn()
    except ApiError as e:
        body = e.body
        if isinstance(body, dict):
            body = body.get("validation_errors") or body.get("detail") or body
        hint = " (check LABEL_STUDIO_API_KEY)" if e.status_code in (401, 403) else ""
        msg = f"Label Studio refused {what}: HTTP {e.status_code}{hint}: {str(body)[:600]}"
    except httpx.HTTPError as e:
        msg = f"Label Studio at {cfg.url} not reachable while {what}: {type(e).__name__}: {e}"
    raise CurateError(_redact(msg, cfg))


def _sdk_client_class():
    import warnings

    try:
        with warnings.catch_warnings():  # the SDK's pydantic-v1-style models warn on import; not ours to fix
            warnings.simplefilter("ignore", DeprecationWarning)
            from label_studio_sdk import LabelStudio
    except ImportError as e:
        raise CurateError(
            f"The Label Studio SDK is not installed ({e}): pip install 'portrait-curate[labelstudio]' "
            "(label-studio-sdk 2.0.20)."
        ) from None
    return LabelStudio


def connect(cfg: LabelStudioConfig):
    """A checked ``LabelStudio`` client (legacy token or PAT; the SDK refreshes PAT access tokens)."""
    LabelStudio = _sdk_client_class()
    client = _call(
        cfg, "the API key", lambda: LabelStudio(base_url=cfg.url, api_key=cfg.api_key, timeout=cfg.timeout_s)
    )
    me = _call(cfg, "the API key", client.users.whoami)
    log.info("connected to Label Studio at %s as user %s", cfg.url, me.id)
    return client


# ---------------------------------------------------------------- labelling config


def control_names(slots: int) -> dict[str, tuple[str, int]]:
    """Every control the config defines: name -> (axis or "comment", slot)."""
    out = {}
    for n in range(1, slots + 1):
        for axis in (*AXES, "comment"):
            out[f"{axis}_{n}"] = (axis, n)
    return out


def render_label_config(rubric: dict[str, RubricAxis], slots: int, fps: float) -> str:
    """The labelling config: reference image, then per video slot two required ratings and a comment.

    Rendered from the workspace rubric, the same text the Streamlit app shows. Slot headers
    say "Video 1..n" only: nothing names a method.
    """
    view = ET.Element("View")
    ET.SubElement(view, "Header", value="Reference portrait", size="4")
    ET.SubElement(view, "Image", name="reference", value="$image", maxWidth="320px")
    for n in range(1, slots + 1):
        box = ET.SubElement(
            view, "View", style="border-top: 1px solid #ccc; margin-top: 12px; padding-top: 8px"
        )
        ET.SubElement(box, "Header", value=f"Video {n}" if slots > 1 else "Video", size="4")
        ET.SubElement(
            box, "Video", name=f"video_{n}", value=f"$video_{n}", height="360", frameRate=f"{fps:g}"
        )
        for axis in AXES:
            ax = rubric[axis]
            ET.SubElement(box, "Header", value=f"{ax.title}: {ax.question}", size="5")
            ET.SubElement(box, "Header", value=f"{ax.low}   |   {ax.high}", size="6")
            ET.SubElement(
                box,
                "Rating",
                name=f"{axis}_{n}",
                toName=f"video_{n}",
                maxRating="5",
                icon="star",
                size="large",
                required="true",
                requiredMessage=f"Video {n}: rate {ax.title} (1-5)",
            )
        ET.SubElement(
            box,
            "TextArea",
            name=f"comment_{n}",
            toName=f"video_{n}",
            rows="2",
            maxSubmissions="1",
            editable="true",
            placeholder="Optional comment (artefacts, jitter, off-sync...). Shift+Enter adds it.",
        )
    return ET.tostring(view, encoding="unicode")


def render_instructions(rubric: dict[str, RubricAxis]) -> str:
    """The project's instructions (HTML), from the rubric."""
    items = "".join(
        f"<li><b>{html.escape(ax.title)}</b>: {html.escape(ax.question)}<br>{html.escape(ax.low)}<br>{html.escape(ax.high)}</li>"
        for ax in (rubric[a] for a in AXES)
    )
    return (
        "<p>Watch every video with sound, then rate it on both scales (1-5 stars). The videos of a task are "
        "different renderings of the same portrait and audio, in random order; rate each on its own merits.</p>"
        f"<ul>{items}</ul><p>Comments are optional: type, then Shift+Enter or Add.</p>"
    )


# ---------------------------------------------------------------- media links


def document_root(ws: Workspace, cfg: LabelStudioConfig) -> Path:
    """The flag, else $LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, else the workspace's first media root."""
    if cfg.document_root is not None:
        return cfg.document_root
    env = os.environ.get("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT")
    return Path(env).resolve() if env else ws.media_roots[0]


def link_media(src: Path, dst: Path) -> None:
    """A hard link (no extra disk), else a copy; an existing link is kept."""
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # other file system, or links not allowed: the server needs a real file
        tmp = dst.with_name(dst.name + ".tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)


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


# ---------------------------------------------------------------- projects


def default_project_title(ws: Workspace) -> str:
    return f"curate {ws.root.name}"


def _find_project(s, cfg: LabelStudioConfig) -> LabelStudioProject | None:
    q = select(LabelStudioProject).where(
        LabelStudioProject.server == cfg.url, LabelStudioProject.title == cfg.project
    )
    return s.scalar(q)


# ---------------------------------------------------------------- push


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
    store = ws.open_store()
    try:
        with store.session() as s:
            proj = _find_project(s, cfg)
        if proj is None:
            proj = _create_project(ws, cfg, client, store)
            report = PushReport(project_id=proj.project_id, project_created=True)
        else:
            report = PushReport(
                project_id=proj.project_id, project_updated=_update_project(ws, cfg, client, proj)
            )
        _plan_tasks(store, proj, report)
        _import_pending(cfg, client, store, proj, report)
    finally:
        store.dispose()
    return report


def _project_settings(ws: Workspace, slots: int) -> dict[str, Any]:
    return {
        "label_config": render_label_config(ws.config.rubric, slots, ws.config.normalize.fps),
        "expert_instruction": render_instructions(ws.config.rubric),
        "show_instruction": True,
        "maximum_annotations": ws.config.overlap,  # overlap k: annotators per task
        "overlap_cohort_percentage": 100,
    }


def _create_project(ws: Workspace, cfg: LabelStudioConfig, client, store) -> LabelStudioProject:
    with store.session() as s:
        counts = defaultdict(int)
        for clip_pk in s.scalars(select(Candidate.clip_pk).where(Candidate.status == CandidateStatus.ready)):
            counts[clip_pk] += 1
    if not counts:
        raise CurateError("No ready candidates to push: generate or import candidate videos first.")
    per = cfg.per or TASKS_PER_CLIP
    slots = max(counts.values()) if per == TASKS_PER_CLIP else 1
    same_title = _call(
        cfg,
        "listing projects",
        lambda: [p.id for p in client.projects.list(title=cfg.project) if p.title == cfg.project],
    )
    if same_title:
        raise CurateError(
            f"Label Studio at {cfg.url} already has a project titled {cfg.project!r} (id {same_title[0]}) that this "
            "workspace has no record of; push under another --project name."
        )
    root = document_root(ws, cfg)
    subdir = f"{MEDIA_DIR}/{secrets.token_hex(6)}"
    (root / subdir).mkdir(parents=True, exist_ok=True)
    settings = _project_settings(ws, slots)
    p = _call(cfg, "creating the project", lambda: client.projects.create(title=cfg.project, **settings))
    if cfg.media_url_prefix is None:
        # The server serves /data/local-files/ only below a storage path of the project. Never
        # synced: curate imports the tasks itself (a sync would make one task per file).
        _call(
            cfg,
            "adding local-files storage",
            lambda: client.import_storage.local.create(
                project=p.id,
                path=str(root / subdir),
                title="curate media (do not sync)",
                regex_filter="^$",
                use_blob_urls=True,
            ),
        )
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


def _update_project(ws: Workspace, cfg: LabelStudioConfig, client, proj: LabelStudioProject) -> bool:
    """Bring the project's config, instructions and overlap in line with the workspace; True if changed."""
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
    p = _call(
        cfg,
        f"reading project {proj.project_id} ({proj.title!r}; if it was deleted, push under a new --project name)",
        lambda: client.projects.get(id=proj.project_id),
    )
    want = _project_settings(ws, proj.slots)
    changes = {k: v for k, v in want.items() if getattr(p, k, None) != v}
    if changes:
        _call(
            cfg,
            f"updating project {proj.project_id} ({', '.join(sorted(changes))})",
            lambda: client.projects.update(id=proj.project_id, **changes),
        )
    return bool(changes)


def _plan_tasks(store, proj: LabelStudioProject, report: PushReport) -> None:
    """Write task rows (task_id NULL) for ready candidates not in the project yet, in a random slot order."""
    rng = random.SystemRandom()
    with store.session() as s:
        mapped = set(
            s.scalars(select(LabelStudioTask.candidate_pk).where(LabelStudioTask.project_pk == proj.id))
        )
        mapped_clips = set(
            s.scalars(select(LabelStudioTask.clip_pk).where(LabelStudioTask.project_pk == proj.id))
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
    tasks = _call(
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
        _call(
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


# ---------------------------------------------------------------- pull


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
        value = res.get("value") if isinstance(res.get("value"), dict) else {}
        if axis == "comment":
            text = value.get("text")
            text = [text] if isinstance(text, str) else text
            if not isinstance(text, list) or not all(isinstance(t, str) for t in text):
                problems.append(f"{name} is not text: {value!r}")
                continue
            got[(axis, slot)] = "\n".join(text).strip() or None
        else:
            score = _score(value.get("rating"))
            if res.get("type") != "rating" or score is None:
                problems.append(
                    f"{name} = {value.get('rating', value)!r} ({res.get('type')}) is not a rating 1-5"
                )
                continue
            got[(axis, slot)] = score
    missing = [f"{axis}_{n}" for n in range(1, slots + 1) for axis in AXES if f"{axis}_{n}" not in present]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if problems:
        return {}, problems
    return {
        n: SlotScore(got[("alignment", n)], got[("fidelity", n)], got.get(("comment", n)))
        for n in range(1, slots + 1)
    }, []


def pull(ws: Workspace, cfg: LabelStudioConfig, strict: bool = False, client=None) -> PullReport:
    """Read the project's annotations into the store as ratings (source "labelstudio").

    Idempotent. An edited annotation updates its ratings; a deleted or skipped one removes
    them; an invalid one is reported and changes nothing (its earlier ratings, if any,
    stay). With ``strict`` any invalid annotation aborts the pull and nothing is written.
    """
    client = client or connect(cfg)
    store = ws.open_store()
    try:
        with store.session() as s:
            proj = _find_project(s, cfg)
        if proj is None:
            raise CurateError(
                f"This workspace has not pushed a project titled {cfg.project!r} to {cfg.url}; run `curate labelstudio push` first."
            )
        tasks = _call(
            cfg,
            "listing annotations",
            lambda: list(client.tasks.list(project=proj.project_id, fields="all", page_size=500)),
        )
        users = _call(
            cfg, "listing users", lambda: {u.id: (u.email or u.username or "") for u in client.users.list()}
        )
        report = PullReport(project_id=proj.project_id)
        with store.session() as s:
            winners, seen = _collect(s, proj, tasks, report)
            if strict and report.problems:
                raise CurateError(
                    f"{report.rejected} invalid annotation(s), nothing stored:\n  "
                    + "\n  ".join(report.problems)
                )
            _store_ratings(s, proj, winners, seen, users, report)
    finally:
        store.dispose()
    return report


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
        for ann in getattr(task, "annotations", None) or []:
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
    winners: dict[tuple[int, int], tuple[int, SlotScore]] = {}
    for _updated, ann_id, user, task_id, slot_map, scores in sorted(valid):  # the latest edit wins
        for slot, score in scores.items():
            key = (slot_map[slot], user)
            if key in winners and slot == 1:
                report.notes.append(
                    f"task {task_id}: user {user} annotated it twice; annotation {ann_id} replaces {winners[key][0]}"
                )
            winners[key] = (ann_id, score)
    return winners, seen


def _annotators(s, users: dict[int, str], wanted: set[int], report: PullReport) -> dict[int, int]:
    """Label Studio user id -> annotator pk, creating ``Annotator(source="labelstudio")`` rows as needed."""
    known = {a.external_id: a.id for a in s.scalars(select(Annotator).where(Annotator.source == SOURCE))}
    taken = set(s.scalars(select(Annotator.name)))
    out = {}
    for uid in sorted(wanted):
        if str(uid) not in known:
            name = (users.get(uid) or f"labelstudio-user-{uid}")[:170]  # Annotator.name is 200 chars
            if name in taken:  # an app annotator of that name is someone else until proven otherwise
                name = f"{name} (labelstudio {uid})"
            a = Annotator(name=name, source=SOURCE, external_id=str(uid))
            s.add(a)
            s.flush()
            taken.add(name)
            known[str(uid)] = a.id
            report.annotators_added += 1
        out[uid] = known[str(uid)]
    return out


def _store_ratings(
    s, proj: LabelStudioProject, winners: dict, seen: set[str], users: dict[int, str], report: PullReport
) -> None:
    ann_pk = _annotators(s, users, {user for _cand, user in winners}, report)
    q = (
        select(Rating)
        .join(LabelStudioTask, LabelStudioTask.candidate_pk == Rating.candidate_pk)
        .where(LabelStudioTask.project_pk == proj.id, Rating.source == SOURCE)
    )
    stored = {(r.candidate_pk, r.annotator_pk): r for r in s.scalars(q)}
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
    for r in stored.values():
        if r.external_id in seen:  # its annotation is still there but now invalid (reported)
            report.kept += 1
            continue
        s.delete(r)
        report.deleted += 1
