"""What the corpus holds next to an unanswered question: the near miss shown, labelled as such, with a refusal.

A question the corpus does not answer is often a near miss: the figure asked exists for another entity or year
(« Combien de GPU compte Adastra ? » — the corpus counts Jean Zay's), or another attribute of the same entity is
known. When the decide stage abstains, the best candidate that states a value of the kind asked and shares enough
of the question's words is offered beside the refusal, with what it does not hold: the question's names and years
absent from it and from its record or passage. The answer stays an abstention (``abstained`` is true).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assistant.decide.premises import VALUE_KINDS, Evidence, absent_names
from assistant.query.kinds import type_match
from assistant.query.parse import Query
from assistant.read.candidates import Candidate
from assistant.rules import Rules


@dataclass(frozen=True)
class Nearby:
    """A sentence next to what was asked, and the question's names and years it does not hold."""

    candidate: Candidate
    missing: tuple[str, ...]


def nearby(query: Query, candidates: list[Candidate], evidence: Callable[[Candidate], Evidence],
           rules: Rules) -> Nearby | None:
    """The near miss to show with a refusal, or None: only for a question asking a value (an amount, a date, a
    count, a share, a duration), from the first ``rules.nearby_depth`` candidates, the first stating a value of
    that kind and covering at least ``rules.nearby_coverage`` of the search."""
    if query.kind not in VALUE_KINDS:
        return None
    for candidate in candidates[:rules.nearby_depth]:
        if candidate.coverage >= rules.nearby_coverage and type_match(query.kind, candidate.text):
            return Nearby(candidate, absent_names(query, evidence(candidate)))
    return None
