"""The parameter sets of the phased SFT (sec. 3.5): what ``--phase audio`` / ``--phase skeleton`` trains."""

from __future__ import annotations

from torch import nn

# the parameter sets of the phased SFT (sec. 3.5), matched against "." + parameter name
PHASES = {
    "audio": (".motion.audio_proj.", ".processor.motion.norm_in.", ".processor.motion.to_q.",
              ".processor.motion.to_k.", ".processor.motion.to_v.", ".processor.motion.norm_q.",
              ".processor.motion.norm_k.", ".processor.motion.to_out."),
    "skeleton": (".motion.skeleton.", ".motion.skeleton_proj.", ".processor.motion.to_k_skel.",
                 ".processor.motion.to_v_skel.", ".processor.condition."),
}


def phase_parameters(model: nn.Module, phase: str) -> dict[str, nn.Parameter]:
    """The parameters phase ``audio`` (audio projection + the motion cross-attention) or ``skeleton`` (skeleton
    encoder, its projection and the skeleton K/V of each block; plus the shared query/output of the motion
    attention when the module has no audio branch) trains, by name."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {sorted(PHASES)}. Got {phase!r}.")
    found = {n: p for n, p in model.named_parameters() if any(pat in "." + n for pat in PHASES[phase])}
    if not found:
        raise ValueError(f"phase {phase!r}: the model has no {phase} branch in its motion module.")
    if phase == "skeleton" and model.motion.audio_proj is None and model.motion.cfg.skeleton_fusion == "joint":
        found.update(dict(phase_parameters_shared(model)))  # a skeleton-only module: nothing else trains these
    return found


def check_phase(model: nn.Module, phase: str) -> None:
    """Refuse a phase whose parameters cannot learn: the skeleton phase of an audio + skeleton module needs the
    shared output projections trained first (at zero, no gradient reaches the skeleton's keys and values)."""
    if phase != "skeleton" or model.motion.audio_proj is None or model.motion.cfg.skeleton_fusion == "hallo4":
        return  # the hallo4 skeleton attention has its own output projection, trained in this phase
    out = [p for n, p in model.named_parameters() if ".processor.motion.to_out." in "." + n]
    if all(not p.any() for p in out):
        raise ValueError("phase 'skeleton' trains the skeleton's keys and values only, but the motion module's "
                         "output projections are still zero (no gradient reaches them): train --phase audio "
                         "first and start this phase from it (--init).")


def phase_parameters_shared(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The query, norms and output projection of every block's motion attention (trained by the audio phase)."""
    shared = (".processor.motion.norm_in.", ".processor.motion.to_q.", ".processor.motion.norm_q.",
              ".processor.motion.norm_k.", ".processor.motion.to_out.")
    return [(n, p) for n, p in model.named_parameters() if any(pat in "." + n for pat in shared)]
