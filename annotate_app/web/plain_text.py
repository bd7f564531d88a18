"""Stored text shown as text: Markdown-inert for Streamlit's Markdown widgets (CSV cells: storage.csv_safe).

Ids follow ``storage.ids`` now, but a store may hold older ids, and comments and Label Studio
names are free text; so every place that puts stored text into Markdown goes through here.
"""

from __future__ import annotations

import string
import unicodedata

# Backslash-escaping any ASCII punctuation is plain CommonMark; "-" is left alone (it only
# matters at the start of a line, and these strings never start one), so ids read as typed.
_MD_SPECIAL = set(string.punctuation) - {"-"}
# Streamlit's Markdown also turns bare "http://...", "www.x.y" and "a@b.c" into links, after
# escapes are resolved; an invisible WORD JOINER before ":", "@" and "." stops that.
_NO_AUTOLINK = {":", "@", "."}
WORD_JOINER = "\u2060"


def md_plain(text) -> str:
    """``text`` as Markdown that renders as the text: no links, images, emphasis, emoji or HTML.

    Control and invisible format characters (newlines, bidi overrides) become spaces; an
    invisible U+2060 precedes each ":", "@" and "." (it blocks automatic links).
    """
    out = []
    for ch in str(text):
        if unicodedata.category(ch) in ("Cc", "Cf"):
            out.append(" ")
        elif ch in _MD_SPECIAL:
            out.append((WORD_JOINER if ch in _NO_AUTOLINK else "") + "\\" + ch)
        else:
            out.append(ch)
    return "".join(out)
