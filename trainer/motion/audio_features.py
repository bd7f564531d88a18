"""Frame-aligned audio features C_audio (T, N_a, d_a) from wav2vec2 hidden states (Hallo4 sec. 3.3).

wav2vec2 gives about 50 feature frames per second; the motion module needs one feature per VIDEO frame. The hidden
states of the clip's window (num_frames / fps seconds) are resampled linearly onto the T video frames (both cover
the same interval; ``align_corners=False`` maps interval onto interval), then each frame gets the features of its
+-w neighbouring frames (edge frames repeat at the ends): N_a = 2w + 1 tokens per frame, as Hallo4 (w = 2) and
MultiTalk do. With every layer kept (``audio_layers="all"``) the layers go into the channel axis:
d_a = layers x hidden size (Hallo4 feeds all 12 layers of wav2vec2-base: 12 x 768).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def frame_align(hidden: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(La, ...) wav2vec2 frames -> (num_frames, ...) video frames by linear interpolation along time."""
    if hidden.dim() < 2 or hidden.shape[0] < 1:
        raise ValueError(f"frame_align needs (La, ...) with La >= 1. Got shape {tuple(hidden.shape)}.")
    rest = hidden.shape[1:]
    x = hidden.reshape(hidden.shape[0], -1).T[None].float()  # (1, channels, La)
    y = F.interpolate(x, size=num_frames, mode="linear", align_corners=False)
    return y[0].T.reshape(num_frames, *rest)


def window(c: torch.Tensor, w: int) -> torch.Tensor:
    """(T, ...) -> (T, 2w + 1, ...): frame t gets frames t-w .. t+w, clamped to the clip."""
    if w < 0:
        raise ValueError(f"audio window w must be >= 0. Got {w}.")
    t = c.shape[0]
    idx = (torch.arange(t)[:, None] + torch.arange(-w, w + 1)[None]).clamp_(0, t - 1)  # (T, 2w+1)
    return c[idx]


def audio_condition(hidden: torch.Tensor, num_frames: int, w: int = 2) -> torch.Tensor:
    """wav2vec2 states (La, Da) or (La, layers, Da) -> C_audio (num_frames, 2w + 1, d_a), d_a = Da or layers*Da."""
    aligned = frame_align(hidden, num_frames)
    return window(aligned.reshape(num_frames, -1), w)


def hallo4_features(model, samples: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Hallo4's audio features (``audio_features: hallo4``): (num_frames, layers, D) for 16 kHz ``samples``.

    Upstream (hallo4 @1ccca54, ``vace/models/utils/wav2vec.py`` and ``preprocessor.py``) resamples wav2vec2's CNN
    features onto the video frames (linear, ``align_corners=True``) BEFORE the transformer, then keeps every
    transformer layer's output; the transformer therefore runs at the video rate. The default path
    (:func:`audio_condition`) runs it at 50 Hz and resamples its outputs instead. The samples are normalised as
    ``Wav2Vec2FeatureExtractor`` does (population variance). Upstream encodes a whole file and slices clips out of
    it; here the clip's own window is encoded (the same when the clip is the file).
    """
    p = next(model.parameters())
    x = (samples - samples.mean()) / torch.sqrt(samples.var(unbiased=False) + 1e-7)
    model.eval()
    with torch.no_grad():
        cnn = model.feature_extractor(x[None].to(p.device, p.dtype))  # (1, C, La)
        cnn = F.interpolate(cnn, size=num_frames, mode="linear", align_corners=True).transpose(1, 2)
        hidden, _ = model.feature_projection(cnn)
        layers: list[torch.Tensor] = []
        hooks = [layer.register_forward_hook(lambda m, a, o: layers.append(o[0] if isinstance(o, tuple) else o))
                 for layer in model.encoder.layers]
        try:
            model.encoder(hidden)
        finally:
            for h in hooks:
                h.remove()
    return torch.stack(layers, dim=2)[0].float().cpu()  # (num_frames, layers, D)
