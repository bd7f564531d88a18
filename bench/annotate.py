"""Server-side latency of the annotation app's two writes: hand out the next clip, store a submission.

    python bench/annotate.py                      # 100k clips / 500k candidates, SQLite + PostgreSQL
    python bench/annotate.py --clips 5000 --backends sqlite     # a quick run

The store is filled fast (executemany on SQLite, COPY on PostgreSQL) with ``--clips`` clips of
``--per-clip`` ready candidates; ``--done`` of the clips already carry k finished ratings (their
assignments and ratings are inserted too) and ``--partial`` of them one. Then ``--rounds``
times, one of ``--annotators`` fresh annotators (round robin) gets the next clip
(``next_clip`` + ``clip_view``: what the page needs) and submits it (``submit_clip``).
Each call is timed on its own, sequentially, in-process (no HTTP, no Streamlit).
Prints a table and writes ``bench/results/annotate.json``. Targets: p95 < 50 ms for both.

``--allocation active`` measures the active hand-out (``annotate_app.doubt``) instead: every clip then has at
least one rating (``--done`` + ``--partial`` should be 1, so each hand-out goes through the priority table,
not the first-rating rule); the ``clip_priority`` table is filled with synthetic figures (a fifth of the
clips settled), since the hand-out reads it the same whatever wrote it. The background fit is off during the
timed rounds (it runs on its own thread in the app). ``--fit`` also times one ``refresh`` (the fit and the
table write) over the store's ratings and reports it per 100k rating rows.

    python bench/annotate.py --allocation active --done 0.3 --partial 0.7
    python bench/annotate.py --allocation active --clips 10000 --done 0.3 --partial 0.7 --fit --backends sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotate_app.assign import AssignConfig, clip_view, next_clip
from annotate_app.submit import CandidateScore, submit_clip
from storage import open_store

PG_ADMIN = os.environ.get("CURATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TS = "2026-01-01 00:00:00.000000"
K = 3
TARGET_MS = 50.0


def _rows(n_clips: int, per_clip: int, done: float, partial: float, n_ann: int):
    """Tuples for every table, ids explicit so candidate/assignment rows can point at them."""
    clips = [(i, f"bc{i:07d}", f"/m/{i}.png", "0" * 64, 512, 512, f"/m/{i}.wav", "0" * 64, 5.0, False, TS)
             for i in range(1, n_clips + 1)]
    cands = [((i - 1) * per_clip + j + 1, f"bc{i:07d}:m{j}", i, f"m{j}", f"/m/{i}_{j}.mp4", "ready", "bench", TS)
             for i in range(1, n_clips + 1) for j in range(per_clip)]
    anns = [(a, f"bench-old-{a:03d}", "annotator", "app", True, TS) for a in range(1, n_ann + 1)]
    n_done, n_part = int(n_clips * done), int(n_clips * partial)
    assigns, ratings, progress = [], [], []
    for i in range(1, n_clips + 1):
        raters = K if i <= n_done else 1 if i <= n_done + n_part else 0
        progress.append((i, raters))
        for r in range(raters):
            ann = (i + r) % n_ann + 1
            assigns.append((len(assigns) + 1, i, ann, "done", 1, TS, TS, TS))
            for j in range(per_clip):
                # Candidate j of clip i has quality 1 + (i + j) % 5; each rater is off by -1, 0 or +1.
                a = min(5, max(1, 1 + (i + j) % 5 + (i + r) % 3 - 1))
                f = min(5, max(1, 1 + (i + 2 * j) % 5 + (i + r + 1) % 3 - 1))
                ratings.append((len(ratings) + 1, (i - 1) * per_clip + j + 1, ann, a, f, False, "bench", TS, TS))
    return {
        "clips": (("id, clip_id, image_path, image_sha256, image_width, image_height, audio_path, audio_sha256, "
                   "audio_duration, is_gold, created_at"), clips),
        "candidates": ("id, candidate_id, clip_pk, method, video_path, status, source, created_at", cands),
        "annotators": ("id, name, role, source, active, created_at", anns),
        "assignments": ("id, clip_pk, annotator_pk, status, order_seed, leased_at, lease_expires_at, completed_at",
                        assigns),
        "ratings": ("id, candidate_pk, annotator_pk, alignment, fidelity, broken, source, created_at, updated_at",
                    ratings),
        "clip_progress": ("clip_pk, n_done", progress),
    }


def _fill_sqlite(store, tables) -> None:
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN")
        for name, (cols, rows) in tables.items():
            marks = ", ".join("?" * len(cols.split(",")))
            cur.executemany(f"INSERT INTO {name} ({cols}) VALUES ({marks})", rows)
        cur.execute("COMMIT")
        cur.execute("ANALYZE")
    finally:
        raw.close()


def _fill_pg(store, tables) -> None:
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        for name, (cols, rows) in tables.items():
            with cur.copy(f"COPY {name} ({cols}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
        for name in tables:
            if name not in ("clip_progress", "clip_priority"):  # sequences must continue after the explicit ids
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT MAX(id) FROM {name}))")
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def _new_annotators(store, n: int) -> list[int]:
    from storage import Annotator

    with store.session() as s:
        people = [Annotator(name=f"bench-{uuid.uuid4().hex[:8]}") for _ in range(n)]
        s.add_all(people)
        s.flush()
        return [p.id for p in people]


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def _fill_priority(store, tables, backend: str) -> None:
    """Synthetic clip_priority rows: priority falling with the clip id, every fifth clip settled, full clips
    (k ratings) at -1 as the fit writes them."""
    rows = [(i, 0.5, 0.05, 25.0, -1.0 if n >= K else 0.05 / (20 + 1.5 * 25) * (1 - i / 1e7), i % 5 == 0, n, TS)
            for i, n in tables["clip_progress"][1]]
    cols = "clip_pk, confidence, gain, watch_s, priority, settled, n_at_fit, fitted_at"
    (_fill_sqlite if backend == "sqlite" else _fill_pg)(store, {"clip_priority": (cols, rows)})


def _time_refresh(store) -> dict:
    from annotate_app.doubt.priority import refresh

    r = refresh(store, 0.95, K)
    return {"rating_rows": r.ratings, "clips": r.clips, "fit_s": round(r.fit_s, 1), "total_s": round(r.total_s, 1),
            "fit_s_per_100k_rows": round(r.fit_s / max(r.ratings, 1) * 1e5, 1), "settled": r.settled,
            "expected_accuracy": round(r.expected_accuracy, 4)}


def _measure(store, rounds: int, n_ann: int, allocation: str = "uniform") -> dict:
    cfg = AssignConfig(overlap=K, gold_rate=0.0, allocation=allocation)
    people = _new_annotators(store, n_ann)
    hand, sub = [], []
    for r in range(rounds):
        me = people[r % n_ann]
        t0 = time.perf_counter()
        lease = next_clip(store, me, cfg)
        view = clip_view(store, me, lease.assignment_id)
        t1 = time.perf_counter()
        scores = [CandidateScore(sl.candidate_pk, 1 + i % 5, 5 - i % 5, seconds_watched=5.0)
                  for i, sl in enumerate(view.slots)]
        t2 = time.perf_counter()
        submit_clip(store, me, lease.assignment_id, scores)
        t3 = time.perf_counter()
        hand.append((t1 - t0) * 1000)
        sub.append((t3 - t2) * 1000)
    summary = {}
    for name, xs in (("hand_out", hand), ("submit", sub)):
        summary[name] = {"n": len(xs), "p50_ms": round(statistics.median(xs), 2), "p95_ms": round(_pct(xs, 0.95), 2),
                         "max_ms": round(max(xs), 2)}
    return summary


def run_backend(backend: str, args) -> dict:
    tmp = None
    if backend == "sqlite":
        tmp = tempfile.TemporaryDirectory(prefix="curate-bench-")
        url = f"sqlite:///{tmp.name}/bench.db"
    else:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        db = f"curate_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{db}"'))
        url = make_url(PG_ADMIN).set(database=db).render_as_string(hide_password=False)
    try:
        store = open_store(url)
        t0 = time.perf_counter()
        tables = _rows(args.clips, args.per_clip, args.done, args.partial, 50)
        (_fill_sqlite if backend == "sqlite" else _fill_pg)(store, tables)
        fill_s = time.perf_counter() - t0
        fit = _time_refresh(store) if args.fit else None
        if args.allocation == "active":
            from annotate_app.doubt import priority

            priority.maybe_refresh = lambda *a, **k: False  # see the module docstring
            if fit is None:
                _fill_priority(store, tables, backend)
        result = _measure(store, args.rounds, args.annotators, args.allocation)
        if fit is not None:
            result["refresh"] = fit
        store.dispose()
        counts = {k: len(v[1]) for k, v in tables.items()}
        return {"backend": backend, "fill_seconds": round(fill_s, 1), "rows": counts, **result}
    finally:
        if tmp is not None:
            tmp.cleanup()
        else:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            admin.dispose()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=100_000, help="clips in the store (default 100000)")
    ap.add_argument("--per-clip", type=int, default=5, help="ready candidates per clip (default 5)")
    ap.add_argument("--done", type=float, default=0.3, help="share of clips already rated k=3 times (default 0.3)")
    ap.add_argument("--partial", type=float, default=0.1, help="share of clips rated once (default 0.1)")
    ap.add_argument("--rounds", type=int, default=300, help="timed hand-out + submit rounds (default 300)")
    ap.add_argument("--annotators", type=int, default=20, help="fresh annotators taking turns (default 20)")
    ap.add_argument("--backends", default="sqlite,postgres", help="comma list: sqlite, postgres")
    ap.add_argument("--allocation", choices=("uniform", "active"), default="uniform",
                    help="the hand-out rule timed (active: reads clip_priority; see above)")
    ap.add_argument("--fit", action="store_true", help="also time one background refresh (the model fit)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results") / "annotate.json"))
    args = ap.parse_args(argv)
    results = [run_backend(b.strip(), args) for b in args.backends.split(",") if b.strip()]
    print(f"\n{args.clips} clips x {args.per_clip} candidates, {args.done:.0%} done, {args.rounds} rounds, "
          f"{args.allocation} allocation")
    print(f"{'backend':<10} {'call':<9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  target p95 < {TARGET_MS:.0f} ms")
    for r in results:
        for call in ("hand_out", "submit"):
            m = r[call]
            ok = "ok" if m["p95_ms"] < TARGET_MS else "MISSED"
            print(f"{r['backend']:<10} {call:<9} {m['p50_ms']:>8.2f} {m['p95_ms']:>8.2f} {m['max_ms']:>8.2f}  {ok}")
        if "refresh" in r:
            f = r["refresh"]
            print(f"{r['backend']:<10} refresh: {f['rating_rows']} rating rows, {f['clips']} clips, fit {f['fit_s']} s "
                  f"({f['fit_s_per_100k_rows']} s per 100k rating rows), with reads and writes {f['total_s']} s")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"command": "python bench/annotate.py " + " ".join(argv if argv is not None else sys.argv[1:]),
               "params": vars(args), "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
               "target_p95_ms": TARGET_MS, "results": results}
    out.write_text(json.dumps(payload, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
