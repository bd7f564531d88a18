"""Adaptive overlap in simulation: ratings spent and pair accuracy, fixed k vs adaptive, same budget.

    python bench/overlap.py                       # 4000 clips x 5 candidates, 3 seeds
    python bench/overlap.py --clips 500 --seeds 1 # quick

Truth: every candidate has a true alignment and fidelity, uniform in [1, 5]. Annotators: a pool
of ``--annotators``, each with a fixed noise level (sd uniform in [``--noise-lo``, ``--noise-hi``])
and a bias (sd ``--bias``); a rating is the truth plus bias plus noise, rounded and clipped to 1..5.
Each clip draws its raters from the pool without repeats.

Policies: ``fixed k`` gives every clip k raters; ``adaptive k..max`` gives k, then one more while
``annotate_app.overlap.disagrees`` says the raters disagree, up to max (the app's own rule); and
``fixed, same budget`` spreads exactly the adaptive policy's total ratings evenly over the clips
(each clip floor or ceil of the mean), so the two spend the same.

Accuracy, per clip, from the mean composite r = (alignment + fidelity) / 2 over its raters:
- *best-worst*: the pair (highest mean, lowest mean) is in the true order;
- *all pairs*: share of candidate pairs whose means differ by at least ``--margin`` (the pairs
  build-pairs would keep) that are in the true order.
Prints a table and writes ``bench/results/overlap.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotate_app.overlap import disagrees


def _world(rng: random.Random, args):
    truth = [[(rng.uniform(1, 5), rng.uniform(1, 5)) for _ in range(args.per_clip)] for _ in range(args.clips)]
    pool = [(rng.uniform(args.noise_lo, args.noise_hi), rng.gauss(0, args.bias)) for _ in range(args.annotators)]
    return truth, pool


def _rate(rng: random.Random, clip, annotator) -> dict[int, tuple[int, int]]:
    sd, bias = annotator
    return {c: tuple(min(5, max(1, round(v + bias + rng.gauss(0, sd)))) for v in tv) for c, tv in enumerate(clip)}


def _score(clip, answers: dict[int, dict], margin: float) -> tuple[int, int, int]:
    """(best-worst correct, pairs kept, pairs correct) for one clip."""
    n = len(clip)
    mean = [sum(sum(a[c]) / 2 for a in answers.values()) / len(answers) for c in range(n)]
    true = [sum(tv) / 2 for tv in clip]
    best, worst = max(range(n), key=mean.__getitem__), min(range(n), key=mean.__getitem__)
    kept = correct = 0
    for i in range(n):
        for j in range(i + 1, n):
            if abs(mean[i] - mean[j]) >= margin:
                kept += 1
                correct += (mean[i] > mean[j]) == (true[i] > true[j])
    return int(true[best] > true[worst]), kept, correct


def run_policy(rng: random.Random, truth, pool, ks: list[int] | None, k: int, kmax: int, args) -> dict:
    spent = bw = kept = correct = 0
    escalated = 0
    for ci, clip in enumerate(truth):
        raters = rng.sample(range(len(pool)), min(len(pool), kmax if ks is None else ks[ci]))
        want = k if ks is None else ks[ci]
        answers = {r: _rate(rng, clip, pool[r]) for r in raters[:want]}
        if ks is None:
            while len(answers) < kmax and disagrees(answers, args.spread):
                r = raters[len(answers)]
                answers[r] = _rate(rng, clip, pool[r])
            escalated += len(answers) > k
        spent += len(answers)
        b, kp, cr = _score(clip, answers, args.margin)
        bw, kept, correct = bw + b, kept + kp, correct + cr
    n = len(truth)
    return {"ratings_per_clip": spent / n, "best_worst_acc": bw / n, "pairs_kept_per_clip": kept / n,
            "pair_acc": correct / max(1, kept), "escalated_share": escalated / n if ks is None else 0.0}


def even_split(total: int, n: int) -> list[int]:
    lo, extra = divmod(total, n)
    return [lo + (i < extra) for i in range(n)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=4000)
    ap.add_argument("--per-clip", type=int, default=5)
    ap.add_argument("--annotators", type=int, default=20)
    ap.add_argument("--noise-lo", type=float, default=0.4)
    ap.add_argument("--noise-hi", type=float, default=1.4)
    ap.add_argument("--bias", type=float, default=0.3)
    ap.add_argument("--spread", type=float, default=2.0, help="disagree_spread of the rule")
    ap.add_argument("--margin", type=float, default=0.5, help="min mean-composite gap of a kept pair")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results") / "overlap.json"))
    args = ap.parse_args(argv)
    rows = []
    for seed in range(args.seeds):
        truth, pool = _world(random.Random(seed), args)
        policies = [(f"fixed k={k}", None, k, k) for k in (2, 3, 4)]
        for k, kmax in ((2, 4), (2, 5), (3, 5)):
            rng = random.Random(1000 + seed)
            ad = run_policy(rng, truth, pool, None, k, kmax, args)
            rows.append({"seed": seed, "policy": f"adaptive {k}..{kmax}", **ad})
            ks = even_split(round(ad["ratings_per_clip"] * len(truth)), len(truth))
            random.Random(seed).shuffle(ks)
            same = run_policy(random.Random(1000 + seed), truth, pool, ks, 0, 0, args)
            rows.append({"seed": seed, "policy": f"fixed, budget of adaptive {k}..{kmax}", **same})
        for name, _, k, kmax in policies:
            rows.append({"seed": seed, "policy": name,
                         **run_policy(random.Random(1000 + seed), truth, pool, [k] * len(truth), k, kmax, args)})
    names = list(dict.fromkeys(r["policy"] for r in rows))
    cols = ("ratings_per_clip", "best_worst_acc", "pair_acc", "pairs_kept_per_clip", "escalated_share")
    print(f"{'policy':<34} {'ratings/clip':>12} {'best-worst':>10} {'pair acc':>9} {'pairs/clip':>10} {'escalated':>9}")
    summary = []
    for name in names:
        rs = [r for r in rows if r["policy"] == name]
        avg = {c: sum(r[c] for r in rs) / len(rs) for c in cols}
        summary.append({"policy": name, **avg})
        print(f"{name:<34} {avg['ratings_per_clip']:>12.3f} {avg['best_worst_acc']:>10.4f} {avg['pair_acc']:>9.4f}"
              f" {avg['pairs_kept_per_clip']:>10.3f} {avg['escalated_share']:>9.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "summary": summary, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
