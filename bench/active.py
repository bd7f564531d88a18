"""Active allocation in simulation: pair accuracy against ratings spent, with known truth.

    python bench/active.py                         # 800 clips x 5 candidates, 2 seeds (a few minutes)
    python bench/active.py --clips 300 --seeds 1   # quick

Truth: 5 methods with a true quality per axis (sd ``--method-sd``); per clip a clip effect and a
difficulty g ~ U(``--g-lo``, ``--g-hi``) that scales the gaps between its candidates (small g: a
hard clip); candidate = 3 + clip effect + g * (method + own noise). Clip lengths 4..12 s.
Annotators: ``--careful`` with a bias (sd ``--bias``) and a noise sd in [``--noise-lo``, ``--noise-hi``],
``--careless`` answering uniformly at random, one who always answers 3. A rating (one annotator,
one clip: all its candidates, both axes) is truth + bias + noise, rounded, clipped to 1..5.

Policies, all counted in ratings per clip:
(a) uniform k, plain means (today); (b) the same ratings, the model's posterior means;
(c) active: every clip one rating, then in batches of ``--batch`` x clips, fit, and give each
    arriving annotator the clip with the highest expected confidence gain per second (``--cost
    ratings``: per rating) that they have not rated, skipping settled clips (confidence >= ``--settle``) and clips at ``--kmax``.
Pair accuracy: share of clips whose best-vs-worst pair is exactly the true one (composite).
Prints a table; writes bench/results/active.json and the curve as docs/active.svg.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotate_app.doubt import fit, rating_set
from annotate_app.doubt.gain import expected_gain
from annotate_app.doubt.posterior import candidate_table, clip_posterior
from bench.active_plot import write_svg

M = 5


def world(rng: np.random.Generator, a) -> dict:
    mu = rng.normal(0, a.method_sd, (M, 2))
    g = rng.uniform(a.g_lo, a.g_hi, a.clips)
    u = rng.normal(0, 0.4, (a.clips, 1, 2))
    order = np.argsort(rng.random((a.clips, M)), axis=1)  # candidate slot -> method, shuffled per clip
    q = 3 + u + g[:, None, None] * (mu[order] + rng.normal(0, a.own_sd, (a.clips, M, 2)))
    n = a.careful + a.careless + 1
    kind = np.array(["careful"] * a.careful + ["careless"] * a.careless + ["always3"])
    return {"q": q, "len": rng.uniform(4, 12, a.clips), "kind": kind,
            "bias": rng.normal(0, a.bias, (n, 2)), "sd": rng.uniform(a.noise_lo, a.noise_hi, n),
            "slope": rng.uniform(0.8, 1.2, n)}


def rate(rng, w, clip: int, j: int) -> np.ndarray:
    """(M, 2) integer scores of annotator j on one clip."""
    if w["kind"][j] == "careless":
        return rng.integers(1, 6, (M, 2))
    if w["kind"][j] == "always3":
        return np.full((M, 2), 3)
    x = 3 + w["bias"][j] + w["slope"][j] * (w["q"][clip] - 3) + rng.normal(0, w["sd"][j], (M, 2))
    return np.clip(np.rint(x), 1, 5).astype(int)


def frame(rows: list[tuple[int, int, np.ndarray]]) -> pd.DataFrame:
    recs = [(c, c * M + i, j, s[i, 0], s[i, 1]) for c, j, s in rows for i in range(M)]
    return pd.DataFrame(recs, columns=["clip_id", "candidate_id", "annotator_id", "alignment", "fidelity"])


def true_pairs(w) -> tuple[np.ndarray, np.ndarray]:
    comp = w["q"].mean(2)
    return comp.argmax(1), comp.argmin(1)


def accuracy(comp: np.ndarray, truth, rng) -> float:
    """Share of clips whose (argmax, argmin) of ``comp`` (clips, M) is the true pair; ties broken at random."""
    jit = comp + rng.uniform(0, 1e-6, comp.shape)
    return float(np.mean((jit.argmax(1) == truth[0]) & (jit.argmin(1) == truth[1])))


def plain_comp(df: pd.DataFrame, clips: int) -> np.ndarray:
    m = df.assign(c=(df.alignment + df.fidelity) / 2).groupby("candidate_id")["c"].mean()
    out = np.full(clips * M, 3.0)
    out[m.index.to_numpy()] = m.to_numpy()
    return out.reshape(clips, M)


def model_fit(df, a, n_ann, warm=None):
    cands = pd.DataFrame({"clip_id": np.repeat(np.arange(a.clips), M), "candidate_id": np.arange(a.clips * M)})
    return fit(rating_set(df, cands, annotators=np.arange(n_ann)), warm=warm, passes=a.passes)


def model_comp(m, clips: int) -> np.ndarray:
    tab = candidate_table(m).sort_values("candidate_id")
    return tab["composite_mean"].to_numpy().reshape(clips, M)


def uniform(rng, w, a, truth) -> list[dict]:
    """(a) and (b): k raters per clip for k = 1..kmax, the same draws nested (k+1 adds one rater)."""
    n_ann = len(w["kind"])
    raters = np.argsort(rng.random((a.clips, n_ann)), axis=1)[:, :a.kmax]
    scores = {(c, k): rate(rng, w, c, raters[c, k]) for c in range(a.clips) for k in range(a.kmax)}
    out, m = [], None
    for k in range(1, a.kmax + 1):
        df = frame([(c, raters[c, i], scores[c, i]) for c in range(a.clips) for i in range(k)])
        t = time.perf_counter()
        m = model_fit(df, a, n_ann, warm=m if k > 1 else None)
        out.append({"k": k, "ratings_per_clip": float(k), "plain": accuracy(plain_comp(df, a.clips), truth, rng),
                    "model": accuracy(model_comp(m, a.clips), truth, rng), "fit_s": time.perf_counter() - t,
                    "rating_rows": len(df)})
    return out


def _pick(order: np.ndarray, j: int, rated: list[set], n: np.ndarray, taken: set, a) -> int | None:
    for c in order:
        if c not in taken and j not in rated[c] and n[c] < a.kmax:
            return int(c)
    return None


def active(rng, w, a, truth) -> list[dict]:
    """(c): one rating per clip, then batches to the clips whose pair would firm up most per second."""
    n_ann = len(w["kind"])
    rows, rated, n = [], [set() for _ in range(a.clips)], np.zeros(a.clips, int)
    for c in range(a.clips):
        j = int(rng.integers(n_ann))
        rows.append((c, j, rate(rng, w, c, j)))
        rated[c].add(j)
        n[c] += 1
    out, m = [], None
    while True:
        m = model_fit(frame(rows), a, n_ann, warm=m)
        post = clip_posterior(m)
        conf, gain = expected_gain(post, m.data.n_clip, outer=a.outer, inner=a.inner, seed=len(rows))
        out.append({"ratings_per_clip": len(rows) / a.clips, "model": accuracy(model_comp(m, a.clips), truth, rng),
                    "settled": float(np.mean(conf >= a.settle)), "expected_acc": float(np.mean(conf))})
        if len(rows) >= a.budget * a.clips:
            return out
        cost = w["len"] if a.cost == "seconds" else 1.0  # the app divides by expected seconds; see --cost
        score = np.where(conf >= a.settle, -np.inf, gain / cost)
        order = np.argsort(-score, kind="stable")
        order = order[np.isfinite(score[order])]
        taken: set[int] = set()
        for j in rng.integers(n_ann, size=int(a.batch * a.clips)):
            c = _pick(order, int(j), rated, n, taken, a)
            if c is None:
                continue
            taken.add(c)
            rows.append((c, int(j), rate(rng, w, c, int(j))))
            rated[c].add(int(j))
            n[c] += 1
        if not taken:
            return out


def reach(curve: list[dict], target: float) -> float | None:
    """Ratings per clip at which a curve first reaches ``target`` (linear between points)."""
    for p, q in pairwise(curve):
        if p["model"] < target <= q["model"]:
            f = (target - p["model"]) / (q["model"] - p["model"])
            return p["ratings_per_clip"] + f * (q["ratings_per_clip"] - p["ratings_per_clip"])
    return curve[0]["ratings_per_clip"] if curve and curve[0]["model"] >= target else None


def args_of(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("clips", 800), ("careful", 16), ("careless", 3), ("seeds", 2), ("kmax", 5),
                          ("outer", 12), ("inner", 48), ("passes", 2)):
        ap.add_argument(f"--{name}", type=int, default=default)
    for name, default in (("method-sd", 0.8), ("g-lo", 0.4), ("g-hi", 1.5), ("bias", 0.4), ("noise-lo", 0.3),
                          ("noise-hi", 1.0), ("own-sd", 0.3), ("settle", 0.95), ("batch", 0.25), ("budget", 3.0)):
        ap.add_argument(f"--{name}", type=float, default=default)
    ap.add_argument("--cost", choices=("seconds", "ratings"), default="seconds",
                    help="(c) ranks clips by expected gain per second of clip (as the app) or per rating (the unit "
                         "the accuracy curve is counted in)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results") / "active.json"))
    ap.add_argument("--svg", default=str(Path(__file__).resolve().parents[1] / "docs" / "active.svg"))
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    a = args_of(argv)
    runs = []
    for seed in range(a.seeds):
        w = world(np.random.default_rng(seed), a)
        truth = true_pairs(w)
        uni = uniform(np.random.default_rng(100 + seed), w, a, truth)
        act = active(np.random.default_rng(200 + seed), w, a, truth)
        target = next(r["plain"] for r in uni if r["k"] == 3)
        runs.append({"seed": seed, "uniform": uni, "active": act, "target": target, "reach": reach(act, target)})
        print(f"seed {seed}: (a) k=3 accuracy {target:.4f}; (c) reaches it at {runs[-1]['reach']} ratings/clip")
    report(runs, a)


def report(runs, a) -> None:
    print(f"{'policy':<28} {'ratings/clip':>12} {'pair acc':>9}")
    ks = range(1, a.kmax + 1)
    rows = []
    for k in ks:
        for pol in ("plain", "model"):
            acc = np.mean([r["uniform"][k - 1][pol] for r in runs])
            rows.append({"policy": f"({'a' if pol == 'plain' else 'b'}) uniform k={k}, {pol} means",
                         "ratings_per_clip": k, "pair_acc": float(acc)})
    n_pts = min(len(r["active"]) for r in runs)
    for i in range(n_pts):
        rows.append({"policy": "(c) active + model", "ratings_per_clip":
                     float(np.mean([r["active"][i]["ratings_per_clip"] for r in runs])),
                     "pair_acc": float(np.mean([r["active"][i]["model"] for r in runs])),
                     "settled": float(np.mean([r["active"][i]["settled"] for r in runs])),
                     "expected_acc": float(np.mean([r["active"][i]["expected_acc"] for r in runs]))})
    for r in rows:
        extra = f"  settled {r['settled']:.3f} expected {r['expected_acc']:.3f}" if "settled" in r else ""
        print(f"{r['policy']:<28} {r['ratings_per_clip']:>12.2f} {r['pair_acc']:>9.4f}{extra}")
    reaches = [r["reach"] for r in runs]
    share = [x / 3 for x in reaches if x is not None]
    print(f"(c) reaches (a)'s k=3 accuracy at {reaches} ratings/clip = "
          f"{np.mean(share) * 100 if share else float('nan'):.0f} % of (a)'s ratings (seeds reaching: {len(share)})")
    fit_rate = [u["fit_s"] / u["rating_rows"] * 1e5 for r in runs for u in r["uniform"]]
    print(f"fit time: {np.mean(fit_rate):.1f} s per 100k rating rows (both axes, mean over fits)")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(a), "summary": rows, "runs": runs,
                               "fit_s_per_100k_rows": float(np.mean(fit_rate))}, indent=2))
    write_svg(rows, Path(a.svg))
    print(f"wrote {out} and {a.svg}")


if __name__ == "__main__":
    main()
