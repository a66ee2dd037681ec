"""Accent folding, the one comparison form of French text for every layer (corpus, index, assistant).

Hand-written: it is two lines of :mod:`unicodedata` (NFKD, then drop the combining marks), and it lives in
``corpus`` because the corpus's own validators need it and imports flow index → corpus, never back.
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower-case and strip accents: « Équipé » → « equipe »."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
