"""Caps on free text a person types, shared by every way it comes in (app, drafts, imports, Label Studio)."""

from __future__ import annotations

# The annotation app's cap on one candidate's comment; `curate import ratings` and
# `curate labelstudio pull` refuse longer ones instead of storing megabytes.
COMMENT_MAX = 2000
