"""The Label Studio labelling config and instructions, rendered from the workspace rubric."""

from __future__ import annotations

import html
from typing import Any
from xml.etree import ElementTree as ET

from storage.models import AXES
from storage.workspace import RubricAxis, Workspace


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


def project_settings(ws: Workspace, slots: int, fps: float) -> dict[str, Any]:
    """The project's settings; ``fps`` is the candidates' frame rate (``[normalize] fps``, passed in by the CLI)."""
    from annotate_app.assign import AssignConfig

    return {
        "label_config": render_label_config(ws.config.rubric, slots, fps),
        "expert_instruction": render_instructions(ws.config.rubric),
        "show_instruction": True,
        "maximum_annotations": AssignConfig.from_workspace(ws).overlap,  # overlap k: annotators per task
        "overlap_cohort_percentage": 100,
    }
