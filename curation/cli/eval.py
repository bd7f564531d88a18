"""``curate eval``: objective metrics per method (Sync-C/D, FID, FVD, PSNR, SSIM, LPIPS, HKC/HKV)."""

from __future__ import annotations

import json

import click

from curation.cli._util import location_options


@click.command("eval")
@click.option("--methods", help="Comma-separated methods to score (store mode; default: all).")
@click.option("--rounds", help="Store mode: only clips of these rounds (2, 1,2 or 1-3; default: all).")
@click.option(
    "--metrics", help="Comma-separated subset of sync,fid,fvd,psnr,ssim,lpips,hands (default: all)."
)
@click.option(
    "--videos", type=click.Path(file_okay=False), help="Score plain folders: DIR/<method>/<clip>.mp4."
)
@click.option(
    "--reference", type=click.Path(file_okay=False), help="Ground truth for --videos: DIR/<clip>.mp4."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Output folder (default: exports/eval in the workspace, else ./eval).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--device", default="cpu", show_default=True, help="torch device for the networks, e.g. cuda.")
@click.option("--protocol", "show_protocol", is_flag=True,
              help="Print the protocol block (implementations, versions, preprocessing, weight hashes) and exit.")
@location_options("Workspace folder (curate.toml holds the [eval] weight paths).")
def eval_cmd(methods, rounds, metrics, videos, reference, out, as_json, device, show_protocol, workspace, db) -> None:
    """Score generated videos with the paper's objective metrics, per method.

    \b
    Store mode (default): every ready candidate, against its clip's ground-truth
    `video` (ingest column) and driving audio. Folder mode: --videos DIR with
    one subfolder per method (or videos directly in DIR), --reference DIR with
    <clip>.mp4 ground truth (optional: without it Sync-C/D and HKC/HKV run).
    Weights are local files named in curate.toml [eval] (syncnet, inception,
    i3d, lpips_backbone, dwpose); a metric whose file is missing is skipped with a
    message saying where the standard file comes from. PSNR/SSIM need none.
    Writes per_clip.parquet (one row per video: join it with ratings on
    candidate_id) and summary.json to --out; prints a table of mean and 95 %
    interval over clips per method. summary.json and the Parquet metadata
    carry the protocol block (--protocol prints it). See docs/eval.md.
    """
    from pathlib import Path

    from curation.evaluate.config import EvalConfig
    from curation.evaluate.env import check_torchvision
    from curation.evaluate.items import items_from_folders, items_from_store
    from curation.evaluate.protocol import build_protocol
    from curation.evaluate.report import finite, summarise, table, write_outputs
    from curation.evaluate.run import evaluate, parse_metrics
    from storage.workspace import CONFIG_NAME, load, resolve_root

    check_torchvision()
    wanted = parse_metrics(metrics)
    root = resolve_root(workspace)
    if show_protocol:
        ws = load(root, db=db) if (root / CONFIG_NAME).is_file() else None
        cfg = EvalConfig.from_workspace(ws) if ws else EvalConfig()
        click.echo(json.dumps(build_protocol(cfg, ws.root if ws else root, wanted), indent=2))
        return
    if videos:
        if methods:
            raise click.UsageError(
                "--methods selects store candidates; with --videos use one subfolder per method."
            )
        ws = load(root, db=db) if (root / CONFIG_NAME).is_file() else None
        items = items_from_folders(videos, reference)
    else:
        if reference:
            raise click.UsageError("--reference goes with --videos; in the store, ingest a `video` column.")
        ws = load(root, db=db)
        from storage.rounds import parse_rounds

        items = items_from_store(ws, [m.strip() for m in methods.split(",")] if methods else None,
                                 parse_rounds(rounds) if rounds else None)
    cfg = EvalConfig.from_workspace(ws) if ws else EvalConfig()
    out_dir = Path(out) if out else (ws.path("exports", "eval") if ws else Path("eval"))
    result = evaluate(
        items, cfg, ws.root if ws else root, wanted, progress=not as_json, device=_device(device)
    )
    summary = summarise(result)
    summary["protocol"] = build_protocol(cfg, ws.root if ws else root, wanted)
    paths = write_outputs(result, summary, out_dir)
    from curation.evaluate.plot import write_plot

    plot = write_plot(summary, out_dir / "plot.png")
    if plot is not None:
        paths["plot"] = plot
    if as_json:
        click.echo(json.dumps(finite({**summary, "files": {k: str(v) for k, v in paths.items()}})))
        return
    for s in result.skips:
        click.echo(f"skipped {s.metric}: {s.reason}", err=True)
    click.echo(table(summary))
    click.echo(f"per clip: {paths['per_clip']}\nsummary:  {paths['summary']}")
    if paths.get("plot"):
        click.echo(f"plot:     {paths['plot']}")


def _device(name: str) -> str:
    import torch

    try:
        dev = torch.device(name)
    except RuntimeError as e:
        raise click.BadParameter(str(e), param_hint="--device") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise click.BadParameter("CUDA is not available on this machine.", param_hint="--device")
    return name
