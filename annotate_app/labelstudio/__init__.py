"""Label Studio as a second annotation front end: push blind tasks, pull annotations back as ratings.

Design (docs/labelstudio.md has the reasoning):
- One task per clip by default: the reference image and every ready candidate in a random
  slot order, each video with two required 5-point ``Rating``s and an optional comment.
  ``--per candidate`` makes one task per video instead.
- Blind: task data holds an opaque ``item`` token and media URLs of randomly named links
  (hard links, else copies) under ``<document root>/labelstudio-media/<token>/``; which
  candidate sits in which slot is kept only in our store (``storage.models.labelstudio``).
- Idempotent: a task row is written (``task_id`` NULL) before the import and completed after
  it, matched on ``item``, so pushing twice, or after a crash, creates nothing twice.
- Pull validates every value (Label Studio stores a rating of 9 or an unknown control
  name without complaint): a bad annotation is reported with its task and annotation id and
  never stored.

Modules: ``client`` (settings, connection, error redaction), ``label_config`` (labelling config
from the rubric), ``project``, ``push_tasks`` and ``pull_annotations``. ``label_studio_sdk`` is
imported only when a client is built, so importing this package is cheap.
"""

from __future__ import annotations

from annotate_app.labelstudio.client import (
    IMPORT_BATCH,
    LOCAL_FILES_PREFIX,
    MEDIA_DIR,
    SOURCE,
    LabelStudioConfig,
    connect,
    default_project_title,
)
from annotate_app.labelstudio.label_config import control_names, render_instructions, render_label_config
from annotate_app.labelstudio.project import document_root
from annotate_app.labelstudio.pull_annotations import PullReport, SlotScore, parse_annotation, pull
from annotate_app.labelstudio.push_tasks import PushReport, link_media, push, reference_name, task_data

__all__ = [
    "IMPORT_BATCH",
    "LOCAL_FILES_PREFIX",
    "MEDIA_DIR",
    "SOURCE",
    "LabelStudioConfig",
    "PullReport",
    "PushReport",
    "SlotScore",
    "connect",
    "control_names",
    "default_project_title",
    "document_root",
    "link_media",
    "parse_annotation",
    "pull",
    "push",
    "reference_name",
    "render_instructions",
    "render_label_config",
    "task_data",
]
