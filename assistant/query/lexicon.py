"""The domain lexicon (``corpus/lexicon.yaml``): search words for everyday names of what the corpus names otherwise,
French forms of an English question's common words, and the words that state an attribute named otherwise.

The expansions are added to the search query (not to the question the answer is judged against), so they help find
the passage without putting words in the user's mouth. Patterns are matched on accent-free, lower-case text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from corpus.errors import CorpusError
from index.text import fold

LEXICON_FILE = Path(__file__).resolve().parents[2] / "corpus" / "lexicon.yaml"


@dataclass(frozen=True)
class Lexicon:
    expansions: tuple[tuple[re.Pattern, str], ...]
    english_french: tuple[tuple[re.Pattern, str], ...]
    synonyms: tuple[tuple[re.Pattern, str], ...]


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """Read once; a malformed file is an error of the corpus (its path and problem named)."""
    try:
        data = yaml.safe_load(LEXICON_FILE.read_text(encoding="utf-8"))
        pairs = lambda rows: tuple((re.compile(p), str(w)) for p, w in rows)  # noqa: E731
        return Lexicon(pairs(data["expansions"]),
                       tuple((re.compile(rf"\b{re.escape(k)}\b"), str(v)) for k, v in data["english_french"].items()),
                       pairs(data["synonyms"]))
    except (OSError, KeyError, TypeError, ValueError, re.error, yaml.YAMLError) as exc:
        raise CorpusError(f"{LEXICON_FILE} illisible : {' '.join(str(exc).split())}") from exc


def expand(query) -> str:
    """Words to add to the search of ``query`` (an :class:`assistant.query.parse.Query`; empty when none applies)."""
    table = lexicon()
    extra = [words for pattern, words in table.expansions if pattern.search(query.folded)]
    if query.english:
        lowered = query.text.lower()
        extra += [french for pattern, french in table.english_french if pattern.search(lowered)]
    return " ".join(dict.fromkeys(extra))


def attribute_synonyms(attribute: str) -> str:
    """Other words that state ``attribute`` (empty when none is known)."""
    folded = fold(attribute)
    return " ".join(words for pattern, words in lexicon().synonyms if pattern.search(folded))


def french(text: str) -> str:
    """``text``'s words in their French forms from the English glossary (empty when none applies)."""
    lowered = text.lower()
    return " ".join(dict.fromkeys(fr for pattern, fr in lexicon().english_french if pattern.search(lowered)))
