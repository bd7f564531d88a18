"""S3FD face detection as syncnet_python's ``run_pipeline.py`` runs it, from the user's ``sfd_face.pth``.

Zhang et al., "S3FD: Single Shot Scale-invariant Face Detector" (ICCV 2017). The network is a
VGG-16 trunk (conv1_1 .. conv5_3, a dilated fc6, fc7), two extra stride-2 stages, L2-normalised
conv3_3 / conv4_3 / conv5_3 (scales 10, 8, 5) and one box + score head per level (strides 4 .. 128,
anchors 16 .. 512 px). Module names and index layout follow the released checkpoint's state-dict
keys (``vgg.N``, ``L2Norm3_3``, ``extras.N``, ``loc.N``, ``conf.N``), so the file loads as it is.

What syncnet_python does with it, reproduced here (detectors/s3fd/__init__.py, box_utils.py):

* the RGB frame is resized by 0.25 (``--facedet_scale``, bilinear) and the BGR means
  (104, 117, 123) are subtracted channel-swapped, i.e. R - 123, G - 117, B - 104, RGB order;
* the first head's score has three background logits max-pooled into one (max-out background);
* boxes are SSD-decoded (variances 0.1, 0.2), scores above 0.05 go through greedy NMS at IoU 0.3
  (top 5000 in, 750 out), those above ``conf_th`` = 0.9 are kept and a second NMS at IoU 0.1 runs
  on them in source pixels.

The result per frame is an (N, 5) array ``x1, y1, x2, y2, score``, best first.
"""

from __future__ import annotations

import pickle
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
from torch import nn

from storage.errors import CurateError

STEPS = (4, 8, 16, 32, 64, 128)
ANCHORS = (16, 32, 64, 128, 256, 512)
VARIANCE = (0.1, 0.2)
MEAN_RGB = (123.0, 117.0, 104.0)  # the BGR means of the training code, applied after the channel swap
SCALE = 0.25  # run_pipeline.py --facedet_scale
CONF_TH = 0.9  # run_pipeline.py detect_faces(conf_th=0.9)
MIN_INPUT = 32  # pixels after scaling: below this the trunk's pools leave nothing (frames under 128 px)


class L2Norm(nn.Module):
    """Per-position L2 normalisation over channels, times a learnt per-channel scale."""

    def __init__(self, channels: int, scale: float):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight[None, :, None, None] * x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)


def _vgg() -> nn.ModuleList:
    """VGG-16 trunk with ReLU/pool layers at the checkpoint's indices (conv3_3 ends at 15, conv4_3 at 22)."""
    layers: list[nn.Module] = []
    c_in = 3
    for block, (c_out, n) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))):
        for _ in range(n):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True)]
            c_in = c_out
        layers.append(nn.MaxPool2d(2, 2, ceil_mode=block == 2))  # the pool after conv3_3 rounds up
    layers += [nn.Conv2d(512, 1024, 3, padding=6, dilation=6), nn.ReLU(inplace=True),
               nn.Conv2d(1024, 1024, 1), nn.ReLU(inplace=True)]
    return nn.ModuleList(layers)


class S3FDNet(nn.Module):
    """Raw S3FD: (N, 3, H, W) mean-subtracted RGB -> per-level (loc, 2-class logits), levels 0..5."""

    SOURCES = (256, 512, 512, 1024, 512, 256)

    def __init__(self):
        super().__init__()
        self.vgg = _vgg()
        self.L2Norm3_3, self.L2Norm4_3, self.L2Norm5_3 = L2Norm(256, 10), L2Norm(512, 8), L2Norm(512, 5)
        self.extras = nn.ModuleList([nn.Conv2d(1024, 256, 1), nn.Conv2d(256, 512, 3, 2, padding=1),
                                     nn.Conv2d(512, 128, 1), nn.Conv2d(128, 256, 3, 2, padding=1)])
        self.loc = nn.ModuleList([nn.Conv2d(c, 4, 3, padding=1) for c in self.SOURCES])
        self.conf = nn.ModuleList([nn.Conv2d(c, 4 if i == 0 else 2, 3, padding=1) for i, c in enumerate(self.SOURCES)])

    def _sources(self, x: torch.Tensor) -> list[torch.Tensor]:
        """conv3_3, conv4_3, conv5_3 (normalised), fc7, then the two extra stages."""
        out = []
        bounds = (0, 16, 23, 30, len(self.vgg))  # vgg index after relu3_3, relu4_3, relu5_3, relu7
        for (a, b), norm in zip(pairwise(bounds), (self.L2Norm3_3, self.L2Norm4_3, self.L2Norm5_3, None), strict=True):
            for k in range(a, b):
                x = self.vgg[k](x)
            out.append(norm(x) if norm is not None else x)
        for k, layer in enumerate(self.extras):
            x = torch.relu(layer(x))
            if k % 2:
                out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        levels = []
        for i, s in enumerate(self._sources(x)):
            conf = self.conf[i](s)
            if i == 0:  # max-out background: three background logits, one face logit
                conf = torch.cat([conf[:, :3].amax(1, keepdim=True), conf[:, 3:]], 1)
            levels.append((self.loc[i](s), conf))
        return levels


def priors(height: int, width: int, sizes: list[tuple[int, int]]) -> np.ndarray:
    """(P, 4) anchors cx, cy, w, h in [0, 1] units of the input, row-major per level (SSD PriorBox)."""
    out = []
    for (fh, fw), step, anchor in zip(sizes, STEPS, ANCHORS, strict=True):
        ys, xs = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        cx, cy = (xs.ravel() + 0.5) * step / width, (ys.ravel() + 0.5) * step / height
        out.append(np.stack([cx, cy, np.full_like(cx, anchor / width), np.full_like(cy, anchor / height)], 1))
    return np.concatenate(out).astype(np.float32)


def decode(loc: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """SSD box decoding: (P, 4) offsets -> (P, 4) x1, y1, x2, y2 in [0, 1] units."""
    centre = anchors[:, :2] + loc[:, :2] * VARIANCE[0] * anchors[:, 2:]
    size = anchors[:, 2:] * np.exp(loc[:, 2:] * VARIANCE[1])
    return np.concatenate([centre - size / 2, centre + size / 2], 1)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, top_k: int | None = None) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (a box goes when its IoU with a kept one > ``iou``)."""
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        lo, hi = np.maximum(boxes[i, :2], boxes[rest, :2]), np.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
        order = rest[inter / (area[i] + area[rest] - inter) <= iou]
    keep = np.asarray(keep, dtype=int)
    return keep if top_k is None else keep[:top_k]


def detections(levels, height: int, width: int, conf_th: float = CONF_TH) -> np.ndarray:
    """(N, 5) x1, y1, x2, y2, score in [0, 1] units from the raw head outputs of one image."""
    locs = np.concatenate([lc[0].permute(1, 2, 0).reshape(-1, 4).numpy() for lc, _ in levels])
    logits = np.concatenate([cf[0].permute(1, 2, 0).reshape(-1, 2).numpy() for _, cf in levels])
    e = np.exp(logits - logits.max(1, keepdims=True))
    face = e[:, 1] / e.sum(1)
    anchors = priors(height, width, [tuple(lc.shape[2:]) for lc, _ in levels])
    cand = np.flatnonzero(face > 0.05)
    cand = cand[np.argsort(-face[cand], kind="stable")[:5000]]
    boxes = decode(locs[cand], anchors[cand])
    kept = cand[nms(boxes, face[cand], 0.3, top_k=750)]
    kept = kept[face[kept] > conf_th]
    return np.concatenate([decode(locs[kept], anchors[kept]), face[kept, None]], 1)


class S3FD:
    """The detector syncnet_python runs: ``detect(frame)`` -> (N, 5) x1, y1, x2, y2, score in source pixels."""

    def __init__(self, net: S3FDNet, device: str = "cpu"):
        self.net, self.device = net.to(device).eval(), device

    def detect(self, frame: np.ndarray, scale: float = SCALE, conf_th: float = CONF_TH) -> np.ndarray:
        import cv2

        h, w = frame.shape[:2]
        small = cv2.resize(frame, (0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        if min(small.shape[:2]) < MIN_INPUT:  # the fifth pool would get an empty map (upstream crashes)
            return np.zeros((0, 5), np.float32)
        x = torch.from_numpy(small.astype(np.float32) - np.float32(MEAN_RGB)).permute(2, 0, 1)[None]
        with torch.no_grad():
            levels = [(lc.cpu(), cf.cpu()) for lc, cf in self.net(x.to(self.device))]
        found = detections(levels, small.shape[0], small.shape[1], conf_th)
        if len(found) == 0:
            return found.reshape(0, 5)
        found[:, :4] *= np.float32([w, h, w, h])
        return found[nms(found[:, :4], found[:, 4], 0.1)]


def load_s3fd(path: Path, device: str = "cpu") -> S3FD:
    """The detector from a state-dict checkpoint in the layout of syncnet_python's ``sfd_face.pth``.

    Raises:
        CurateError: not a torch file, or not an S3FD state dict (names the setting and the first problem).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:
        raise CurateError(f"eval.s3fd = {str(path)!r}: not a torch checkpoint: {str(e).splitlines()[0][:200]}") from None
    net = S3FDNet()
    try:
        net.load_state_dict(state, strict=True)
    except (RuntimeError, AttributeError, TypeError) as e:
        raise CurateError(f"eval.s3fd = {str(path)!r}: not an S3FD state dict (sfd_face.pth layout): "
                          f"{str(e).splitlines()[0][:200]}") from None
    return S3FD(net, device)
