"""The background fit: the annotator model over the round, written as a priority table the hand-out reads.

``refresh`` reads the round's ratings, fits the model (warm-started from the previous fit of this process
when the round only gained ratings), and rewrites ``clip_priority`` (per clip: pair confidence, expected
gain of one more rating, watch time, priority, settled) and ``annotator_pace`` in one transaction.
``maybe_refresh`` starts it on a daemon thread when the last fit is older than ``refit_seconds``: the
hand-out never waits for a fit (a 100k-rating fit takes minutes; a hand-out must take milliseconds).

Time per clip for annotator j is modelled as ``overhead_j + pace_j * watch_s`` (watch_s = audio length
times the clip's candidates), least squares on their submitted clips, pooled with the round's figures by
their count (a newcomer has the round's pace). The priority stored is the gain per second of the round's
average annotator; the hand-out re-ranks the top of it with the annotator's own two figures.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from storage import Store, in_transaction, read_dataframes
from storage.queries_doubt import (
    ADD_PACE,
    ADD_PRIORITY,
    ANALYZE_PRIORITY,
    CLEAR_PACE,
    CLEAR_PRIORITY,
    FIT_CANDIDATES,
    FIT_CLIPS,
    FIT_GOLD,
    FIT_RATINGS,
    FIT_TIMES,
)

DEFAULT_OVERHEAD_S, DEFAULT_PACE = 20.0, 1.5  # before anyone has submitted: read + score, watch 1.5 times
PRIOR_CLIPS = 10  # an annotator's own pace counts like this many of the round's clips


@dataclass(frozen=True)
class RefreshResult:
    clips: int
    ratings: int
    settled: int
    expected_accuracy: float
    fit_s: float
    total_s: float


def _pace(times: pd.DataFrame) -> pd.DataFrame:
    """Per annotator: overhead_s, pace (see the module docstring)."""
    if times.empty:
        return pd.DataFrame(columns=["annotator_pk", "overhead_s", "pace"])
    t = times.assign(
        secs=(pd.to_datetime(times.completed_at, utc=True, format="ISO8601")
              - pd.to_datetime(times.leased_at, utc=True, format="ISO8601")).dt.total_seconds(),
        watch=times.audio_duration.astype(float) * times.n_cand.clip(lower=1))
    t = t[t.secs > 0]

    def line(x, y, o0, p0, n0):
        # Least squares of y = o + p x with n0 pseudo-points on the round's line: shrinks towards it.
        xs, ys = np.r_[x, np.full(n0, x.mean() if len(x) else 10.0)], np.r_[y, np.full(n0, np.nan)]
        ys[len(x):] = o0 + p0 * xs[len(x):]
        p = np.cov(xs, ys, bias=True)[0, 1] / max(np.var(xs), 1e-9)
        p = float(np.clip(p, 0.1, 20.0))
        return max(0.0, float(ys.mean() - p * xs.mean())), p

    o0, p0 = line(t.watch.to_numpy(), t.secs.to_numpy(), DEFAULT_OVERHEAD_S, DEFAULT_PACE, 2) if len(t) else (
        DEFAULT_OVERHEAD_S, DEFAULT_PACE)
    rows = [(int(a), *line(g.watch.to_numpy(), g.secs.to_numpy(), o0, p0, PRIOR_CLIPS))
            for a, g in t.groupby("annotator_pk")]
    return pd.DataFrame(rows, columns=["annotator_pk", "overhead_s", "pace"])


def _people(m, pace: pd.DataFrame) -> pd.DataFrame:
    """Pace rows joined with the fit's reliability and bias (mean over the axes); round pace for the untimed."""
    from annotate_app.doubt.data import AXES
    from annotate_app.doubt.model import reliability

    fitted = pd.DataFrame({"annotator_pk": m.data.ann_ids.astype(int), "reliability": reliability(m),
                           "bias": np.mean([m.axes[ax].b for ax in AXES], axis=0)})
    out = pace.merge(fitted, on="annotator_pk", how="outer")
    o, p = (pace.overhead_s.mean(), pace.pace.mean()) if len(pace) else (DEFAULT_OVERHEAD_S, DEFAULT_PACE)
    return out.fillna({"overhead_s": o, "pace": p}).round({"reliability": 4, "bias": 4})


_warm: dict[str, object] = {}  # store URL -> last ModelFit (warm start when the index is unchanged)


def _fit(f: dict[str, pd.DataFrame], key: str):
    from annotate_app.doubt import fit, rating_set

    r = f["ratings"].rename(columns={"clip_pk": "clip_id", "candidate_pk": "candidate_id",
                                     "annotator_pk": "annotator_id"})
    cands = f["candidates"].rename(columns={"clip_pk": "clip_id", "candidate_pk": "candidate_id"})
    gold = f["gold"].rename(columns={"candidate_pk": "candidate_id"})
    data = rating_set(r, cands, gold)
    prev = _warm.get(key)
    same = (prev is not None and np.array_equal(prev.data.cand_ids, data.cand_ids)
            and np.array_equal(prev.data.ann_ids, data.ann_ids) and np.array_equal(prev.data.clip_ids, data.clip_ids))
    m = fit(data, warm=prev if same else None, passes=2)
    _warm[key] = m
    return m


def priorities(m, clips: pd.DataFrame, pace: pd.DataFrame, settle: float, kmax: int | None = None,
               min_margin: float = 0.0) -> pd.DataFrame:
    """Per clip of ``clips`` (clip_pk, audio_duration, n_done, n_cand): the clip_priority row.

    A clip already at ``kmax`` ratings gets priority -1: the hand-out's index walk then meets the open clips
    first instead of stepping over every full one.
    """
    from annotate_app.doubt.gain import expected_gain
    from annotate_app.doubt.posterior import clip_posterior

    conf, gain = expected_gain(clip_posterior(m), m.data.n_clip, min_margin)
    pos = pd.Index(m.data.clip_ids).get_indexer(clips.clip_pk)
    c = np.where(pos >= 0, conf[pos], np.nan)
    g = np.where(pos >= 0, gain[pos], 0.0)
    g = np.where(np.isfinite(g), np.maximum(g, 0.0), 0.0)
    watch = clips.audio_duration.to_numpy(float) * np.maximum(clips.n_cand.to_numpy(int), 1)
    o, p = (pace.overhead_s.mean(), pace.pace.mean()) if len(pace) else (DEFAULT_OVERHEAD_S, DEFAULT_PACE)
    # A clip with under two candidates has no pair to decide (confidence null): settled once rated.
    settled = np.where(np.isnan(c), clips.n_done.to_numpy() >= 1, c >= settle)
    prio = g / (o + p * watch)
    if kmax is not None:
        prio = np.where(clips.n_done.to_numpy() >= kmax, -1.0, prio)
    return pd.DataFrame({"clip_pk": clips.clip_pk.astype(int), "confidence": c, "gain": g, "watch_s": watch,
                         "priority": prio, "settled": settled, "n_at_fit": clips.n_done.astype(int)})


def refresh(store: Store, settle: float, kmax: int | None = None, now: datetime | None = None) -> RefreshResult:
    """One fit and table write (see the module docstring); ``kmax``: the hand-out's cap (overlap_max, else k)."""
    t0 = time.perf_counter()
    f = read_dataframes(store, {"ratings": FIT_RATINGS, "candidates": FIT_CANDIDATES, "clips": FIT_CLIPS,
                                "gold": FIT_GOLD, "times": FIT_TIMES})
    pace = _pace(f["times"])
    t1 = time.perf_counter()
    if f["ratings"].empty:
        rows = pd.DataFrame(columns=["clip_pk"])
        people = pace.assign(reliability=None, bias=None)
    else:
        m = _fit(f, str(store.engine.url))
        rows = priorities(m, f["clips"], pace, settle, kmax)
        people = _people(m, pace)
    fit_s = time.perf_counter() - t1
    stamp = now or datetime.now(timezone.utc)
    recs = [{**r, "confidence": None if pd.isna(r["confidence"]) else float(r["confidence"]),
             "settled": bool(r["settled"]), "fitted_at": stamp} for r in rows.to_dict("records")]

    def write(s) -> None:
        s.execute(CLEAR_PRIORITY)
        if recs:
            s.execute(ADD_PRIORITY, recs)
        s.execute(CLEAR_PACE)
        if len(people):
            s.execute(ADD_PACE, [{k: (None if pd.isna(v) else v) for k, v in r.items()}
                                 for r in people.to_dict("records")])
        s.execute(ANALYZE_PRIORITY)

    in_transaction(store, write)
    conf = rows["confidence"].dropna() if len(rows) else pd.Series(dtype=float)
    return RefreshResult(len(rows), len(f["ratings"]), int(rows["settled"].sum()) if len(rows) else 0,
                         float(conf.mean()) if len(conf) else float("nan"), fit_s, time.perf_counter() - t0)


_last: dict[str, float] = {}
_running: dict[str, threading.Thread] = {}
_lock = threading.Lock()


def maybe_refresh(store: Store, settle: float, every_s: float, kmax: int | None = None) -> bool:
    """Start a background refresh when the last one (in this process) is ``every_s`` old; True if started."""
    key = str(store.engine.url)
    with _lock:
        busy = key in _running and _running[key].is_alive()
        if busy or time.monotonic() - _last.get(key, -every_s) < every_s:
            return False
        _last[key] = time.monotonic()
        t = threading.Thread(target=_refresh_quietly, args=(store, settle, kmax), daemon=True, name="doubt-refresh")
        _running[key] = t
    t.start()
    return True


def _refresh_quietly(store: Store, settle: float, kmax: int | None) -> None:
    import logging

    try:
        refresh(store, settle, kmax)
    except Exception:  # a failed fit must not take the app down; the hand-out keeps the last table
        logging.getLogger(__name__).exception("annotator model refresh failed")
