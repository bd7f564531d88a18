"""SyncNet (Chung & Zisserman, "Out of time: automated lip sync in the wild", ACCV 2016 workshops).

The layer layout is the one of ``syncnet_v2.model`` (joonson/syncnet_python), so that file's
state dict loads key for key: ``netcnnaud``/``netfcaud`` embed 0.2 s of MFCCs (1 x 13 x 20),
``netcnnlip``/``netfclip`` embed 5 face frames (3 x 5 x 224 x 224, BGR, 0-255); both give
1024-d vectors whose Euclidean distance is small when lips and sound agree.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from storage.errors import CurateError


def _conv2(cin, cout, k, s=(1, 1), p=(1, 1), pool=None, inplace=True):
    layers = [
        nn.Conv2d(cin, cout, kernel_size=k, stride=s, padding=p),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=inplace),
    ]
    return layers + ([nn.MaxPool2d(kernel_size=pool[0], stride=pool[1])] if pool else [])


def _conv3(cin, cout, k, s=(1, 1, 1), p=(0, 1, 1), pool=None):
    layers = [
        nn.Conv3d(cin, cout, kernel_size=k, stride=s, padding=p),
        nn.BatchNorm3d(cout),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool3d(kernel_size=pool[0], stride=pool[1], padding=pool[2]))
    return layers


def _head(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, dim))


class SyncNet(nn.Module):
    """Audio and lip towers; module names match the published checkpoint's keys."""

    def __init__(self, dim: int = 1024):
        super().__init__()
        self.netcnnaud = nn.Sequential(
            *_conv2(1, 64, (3, 3), pool=((1, 1), (1, 1))),
            *_conv2(64, 192, (3, 3), pool=((3, 3), (1, 2))),
            *_conv2(192, 384, (3, 3)),
            *_conv2(384, 256, (3, 3)),
            *_conv2(256, 256, (3, 3), pool=((3, 3), (2, 2))),
            *_conv2(256, 512, (5, 4), p=(0, 0), inplace=False),
        )
        self.netfcaud = _head(dim)
        self.netfclip = _head(dim)
        self.netcnnlip = nn.Sequential(
            *_conv3(3, 96, (5, 7, 7), s=(1, 2, 2), p=0, pool=((1, 3, 3), (1, 2, 2), 0)),
            *_conv3(96, 256, (1, 5, 5), s=(1, 2, 2), pool=((1, 3, 3), (1, 2, 2), (0, 1, 1))),
            *_conv3(256, 256, (1, 3, 3)),
            *_conv3(256, 256, (1, 3, 3)),
            *_conv3(256, 256, (1, 3, 3), pool=((1, 3, 3), (1, 2, 2), 0)),
            *_conv3(256, 512, (1, 6, 6), p=0),
        )

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 13, 20) MFCC windows -> (N, dim)."""
        return self.netfcaud(self.netcnnaud(x).flatten(1))

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 5, 224, 224) BGR 0-255 face frames -> (N, dim)."""
        return self.netfclip(self.netcnnlip(x).flatten(1))


def load_syncnet(path: Path) -> SyncNet:
    """A SyncNet in eval mode from a state-dict checkpoint (the format of ``syncnet_v2.model``)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:  # not a torch file
        raise CurateError(
            f"eval.syncnet = {str(path)!r}: not a torch checkpoint: {str(e).splitlines()[0][:200]}"
        ) from None
    net = SyncNet()
    try:
        net.load_state_dict(state, strict=True)
    except (RuntimeError, AttributeError, TypeError) as e:
        raise CurateError(
            f"eval.syncnet = {str(path)!r}: not a SyncNet state dict (syncnet_v2.model layout): "
            f"{str(e).splitlines()[0][:200]}"
        ) from None
    return net.eval()
