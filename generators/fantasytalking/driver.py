"""Runs INSIDE FantasyTalking's environment: load the models once, then one ``infer.main`` per job.

Standard library only (it must not import portrait-curate). Usage::

    python driver.py --checkout DIR --jobs jobs.json --results results.json [infer.py flags...]

``jobs.json`` is a list of ``{job_id, image_path, audio_path, prompt, output_dir, seed}``;
``results.json`` maps job_id to ``{"path": ...}`` or ``{"error": ...}`` and is rewritten
after every job, so a crash keeps the results made so far. Upstream facts: ``infer.py``
separates ``load_models(args)`` from ``main(args, pipe, fantasytalking, wav2vec_processor,
wav2vec)``, which returns the output path (reference/baselines.md §4).
"""

import argparse
import json
import os
import sys
import traceback


def _write(path, results):
    # storage.atomic's temp-name + rename, by hand: this file runs in FantasyTalking's environment and may
    # import nothing of portrait-curate.
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkout", required=True)
    p.add_argument("--jobs", required=True)
    p.add_argument("--results", required=True)
    a, infer_argv = p.parse_known_args()
    with open(a.jobs) as f:
        jobs = json.load(f)
    os.chdir(a.checkout)  # upstream resolves ./models and its own modules from here
    sys.path.insert(0, a.checkout)
    import infer

    first = jobs[0]
    sys.argv = ["infer.py", *infer_argv, "--image_path", first["image_path"], "--audio_path", first["audio_path"],
                "--prompt", first["prompt"], "--output_dir", first["output_dir"], "--seed", str(first["seed"])]
    args = infer.parse_args()
    models = infer.load_models(args)
    models = models if isinstance(models, tuple) else (models,)
    results = {}
    for job in jobs:
        for key in ("image_path", "audio_path", "prompt", "output_dir", "seed"):
            setattr(args, key, job[key])
        try:
            results[str(job["job_id"])] = {"path": str(infer.main(args, *models))}
        except Exception:  # noqa: BLE001 - one bad clip must not lose the loaded model for the others
            results[str(job["job_id"])] = {"error": traceback.format_exc(limit=4)}
            traceback.print_exc()
        _write(a.results, results)


if __name__ == "__main__":
    main()
