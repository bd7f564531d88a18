"""The comparison player of the clip page: mounting the ``compare_player`` component, and its settings.

The component (``annotate_app/web/compare_player/``: ES modules, ``main.js`` first, and
``player.css``; plain files, no build step) is an ``st.components.v2`` component. Streamlit loads a
component's inline JS from a blob URL, where relative imports cannot resolve, so the inline JS is a
two-line entry (:data:`ENTRY`) that imports ``main.js`` from the app's own route
(:data:`ASSET_ROUTE`, served by ``asgi_app.py`` from :func:`asset`); the modules import one another
relatively from there.

The submit rule (every slot not marked broken scored on every axis and played to ``min_fraction``;
a broken slot, or one whose video could not load, needs neither) and its messages are defined
once, in :data:`RULE`: :func:`problems` applies it on the server and the player gets it as ``rule``
and applies the same templates in the browser. "Played to ``min_fraction``" is judged in whole
percent, the number the watched badge shows (:func:`watched_percent`), so the badge never shows a
share the check refuses.

The component it renders inside the page rather than in an iframe,
so its keyboard handler sees every key on the page and its grid can size itself to the viewport.
It owns the scores, broken flags, comments, watched fractions and the key focus while a clip is
on screen (so a key moves the focus outline without a Streamlit rerun) and reports them as state:

- ``draft``: the whole draft, debounced (250 ms), ``{aid, scores, broken, comments, watched, focus}``;
- ``submit``: ``{aid, n, draft}`` when the annotator asked to submit and nothing was missing
  (``n`` counts submits of this mount, so Python handles each once).

The browser receives slot letters, opaque media URLs and the rubric's short labels; candidate
ids, methods and file names stay on the server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from storage.models import AXES

ASSETS = Path(__file__).with_name("compare_player")
ASSET_ROUTE = "/compare-player/"
# Streamlit imports the inline JS from a blob: URL; an absolute URL is what resolves from there.
ENTRY = (f"const m = await import(new URL({ASSET_ROUTE + 'main.js'!r}, window.location.href).href);\n"
         "export default m.default;\n")
SHORT = {"alignment": "Sync", "fidelity": "Fidelity"}
# What must be filled before a submit, and what the annotator reads when it is not.
RULE = {
    "required": list(AXES),
    "give": "{slot}: give {fields}.",
    "join": " and ",
    "unwatched": "{slot}: play it to the end first (or mark it broken).",
    # Watched share in whole percent, rounded down (the badge shows it); a slot counts as watched
    # when it reaches the required percent, min_fraction * 100 rounded up.
    "percent_eps": 1e-9,
}


def watched_percent(frac: float) -> int:
    """The whole percent the watched badge shows for ``frac`` (rounded down: 94.5 % shows 94)."""
    return math.floor(100 * frac + RULE["percent_eps"])


def required_percent(min_fraction: float) -> int:
    return math.ceil(100 * min_fraction - RULE["percent_eps"])

_component = None


@dataclass(frozen=True)
class PlayerConfig:
    """How the comparison player behaves.

    Args:
        min_fraction: share of a video that must have been played before it may be rated.
        mouth_crop: the zoom box as fractions of the frame ``(x0, y0, x1, y1)``; the default is the
            lower-middle third, where the mouth of a centred portrait is.
        fps: frame rate for frame stepping when the candidates do not say.
    """

    min_fraction: float = field(default=0.95, metadata={"help": "share of a video to play before rating it"})
    mouth_crop: tuple[float, float, float, float] = field(
        default=(1 / 3, 2 / 3, 2 / 3, 1.0), metadata={"help": "zoom box (x0, y0, x1, y1) as fractions of the frame"}
    )
    fps: float = field(default=25.0, metadata={"help": "frame rate for frame stepping when unknown"})

    def __post_init__(self) -> None:
        if not 0.0 < self.min_fraction <= 1.0:
            raise ValueError(f"min_fraction must be in (0, 1]. Got {self.min_fraction}.")
        if len(self.mouth_crop) != 4:
            raise ValueError(f"mouth_crop must be (x0, y0, x1, y1). Got {self.mouth_crop!r}.")
        x0, y0, x1, y1 = self.mouth_crop
        if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
            raise ValueError(f"mouth_crop must satisfy 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1. Got {self.mouth_crop!r}.")
        if not self.fps > 0:
            raise ValueError(f"fps must be > 0. Got {self.fps}.")


def asset(name: str) -> Path | None:
    """The player's module ``name`` (a ``.js`` file of :data:`ASSETS`), None for anything else."""
    if name.endswith(".js") and "/" not in name and "\\" not in name:
        path = ASSETS / name
        if path.is_file():
            return path
    return None


def _definition():
    global _component
    if _component is None:
        import streamlit as st

        _component = st.components.v2.component(
            "curate_compare_player",
            js=ENTRY,
            css=(ASSETS / "player.css").read_text(),
        )
    return _component


def mouth_box(face: list[float] | None, fallback: tuple[float, float, float, float]) -> list[float]:
    """The zoom box for the lips of a face box ``(x0, y0, x1, y1)`` (fractions of the frame).

    OpenCV's frontal-face box runs from the brows to about the chin: the lips sit in its lower
    third, inside the middle 60 % of its width. No face: ``fallback`` (the configured crop)."""
    if not face:
        return list(fallback)
    x0, y0, x1, y1 = face
    w, h = x1 - x0, y1 - y0
    box = [x0 + 0.2 * w, y0 + 0.6 * h, x1 - 0.2 * w, y1 + 0.05 * h]
    return [round(min(1.0, max(0.0, v)), 4) for v in box]


def player(key: str, *, aid: int, title: str, slots: list[tuple[str, str]], ref_src: str | None, draft: dict,
           cfg: PlayerConfig, rubric: dict, fps: float | None = None, refusal: dict | None = None,
           faces: dict | None = None, prefetch: list[str] | None = None, on_draft=None, on_submit=None):
    """Mount the player; ``slots`` are ``(letter, media URL)``, ``faces`` a face box per letter (or None),
    ``prefetch`` the next clip's video URLs to load ahead. Returns the component's state."""
    axes = [{"name": ax, "short": SHORT.get(ax, ax), "help": f"{rubric[ax].title}: {rubric[ax].question}",
             "low": rubric[ax].low, "high": rubric[ax].high} for ax in AXES]
    faces = faces or {}
    return _definition()(
        key=key,
        data={
            "aid": aid, "title": title, "ref_src": ref_src, "draft": draft, "axes": axes, "fps": fps or cfg.fps,
            "slots": [{"label": lab, "src": src, "crop": mouth_box(faces.get(lab), cfg.mouth_crop)}
                      for lab, src in slots],
            "rule": {**RULE, "min_fraction": cfg.min_fraction}, "crop": list(cfg.mouth_crop), "refusal": refusal,
            "prefetch": list(prefetch or []),
        },
        on_draft_change=on_draft or (lambda: None),
        on_submit_change=on_submit or (lambda: None),
    )


def problems(draft: dict, slots: list[str], min_fraction: float) -> list[tuple[str, str]]:
    """What blocks submitting ``draft``: ``(slot, message)`` for missing scores and unwatched videos.

    A slot marked broken (the player marks a video that could not load) needs neither."""
    out = []
    need = required_percent(min_fraction)
    for slot in slots:
        if draft["broken"].get(slot):
            continue
        scores = draft["scores"].get(slot, {})
        missing = [SHORT.get(ax, ax) for ax in RULE["required"] if ax not in scores]
        if missing:
            out.append((slot, RULE["give"].format(slot=slot, fields=RULE["join"].join(missing))))
        if watched_percent(draft["watched"].get(slot, {}).get("frac", 0.0)) < need:
            out.append((slot, RULE["unwatched"].format(slot=slot)))
    return out
