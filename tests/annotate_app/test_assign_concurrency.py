"""20 simulated annotators handing out and submitting at once, on SQLite and PostgreSQL.

Each worker loops next_clip -> submit (twice at the same instant, like a double click) until
the pool is dry, with gold clips mixed in. Afterwards every non-gold clip must have exactly k
done assignments, every gold clip one per annotator, every rating must exist exactly once,
and no worker may have seen an exception (a "database is locked" included).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from annotate_app.assign import AssignConfig, clip_view, next_clip
from annotate_app.submit import CandidateScore, submit_clip
from storage import Assignment, AssignmentStatus, Rating
from tests.fixtures.annotate_data import add_clips, add_people

WORKERS, CLIPS, GOLD, K, METHODS = 20, 24, 2, 3, ("m1", "m2", "m3")


def _worker(store, me, cfg, results):
    while (lease := next_clip(store, me, cfg)) is not None:
        view = clip_view(store, me, lease.assignment_id)
        scores = [CandidateScore(sl.candidate_pk, 1 + (me + i) % 5, 1 + i % 5, seconds_watched=2.0)
                  for i, sl in enumerate(view.slots)]
        gate = threading.Barrier(2)
        out = []

        def click(gate=gate, out=out, aid=lease.assignment_id, scores=scores):
            gate.wait()
            out.append(submit_clip(store, me, aid, scores))

        twins = [threading.Thread(target=click) for _ in range(2)]
        for t in twins:
            t.start()
        for t in twins:
            t.join(timeout=60)
        results.append((me, lease.clip_pk, sorted((r.stored, r.already) for r in out)))


def test_twenty_annotators_at_once(workspace):
    store = workspace.open_store()
    try:
        pks = add_clips(store, CLIPS + GOLD, methods=METHODS, gold=set(range(GOLD)))
        gold_pks = set(pks[:GOLD])
        people = add_people(store, WORKERS)
        cfg = AssignConfig(overlap=K, gold_rate=0.2)
        results: list = []
        with ThreadPoolExecutor(WORKERS) as pool:
            futures = [pool.submit(_worker, store, me, cfg, results) for me in people]
            errors = [f.exception(timeout=90) for f in futures]
        assert errors == [None] * WORKERS
        # every double click: one submit stored 3 ratings, its twin was a no-op
        assert {tuple(map(tuple, r[2])) for r in results} == {((0, True), (3, False))}
        n_done = CLIPS * K + GOLD * WORKERS  # 72 + 40: gold clips are rated by everyone
        assert len(results) == n_done
        per_clip = {}
        for me, clip, _ in results:
            per_clip.setdefault(clip, []).append(me)
        assert len(per_clip) == CLIPS + GOLD
        assert {c: len(set(who)) for c, who in per_clip.items() if c in gold_pks} == dict.fromkeys(gold_pks, WORKERS)
        assert {len(who) for c, who in per_clip.items() if c not in gold_pks} == {K}
        assert all(len(who) == len(set(who)) for who in per_clip.values())  # nobody twice
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(Rating)) == n_done * len(METHODS)
            done = s.scalar(select(func.count()).where(Assignment.status == AssignmentStatus.done))
            assert done == n_done
    finally:
        store.dispose()
