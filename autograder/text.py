"""Messages cut to a length without cutting a word: "If you trust the source of this …", never "If you trust the )"."""

from __future__ import annotations

ELLIPSIS = "…"


def shorten(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its longest run of whole words that does, plus an ellipsis."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(ELLIPSIS))]
    if " " in cut and not text[len(cut)].isspace():
        cut = cut[: cut.rindex(" ")]  # a word that does not fit whole is left out, not cut
    return cut.rstrip(" ,;:") + ELLIPSIS
