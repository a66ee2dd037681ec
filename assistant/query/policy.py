"""What the assistant refuses whatever the corpus holds: private data about people, and instructions that try to
change its task. A policy, not a judgement of the corpus: it is decided from the question alone."""

from __future__ import annotations

import re

from index.text import fold

# Requests the assistant refuses whatever the corpus holds: private data about people, and
# instructions that try to change its task. Matched on folded (accentless, lower-case) text.
REFUSALS = [
    ("donnée personnelle", r"\b(combien (?:gagne|gagnent|touche|touchent|percoit|percoivent)|"
     r"(?:gagne|touche|percoit)-t-(?:il|elle)|how much (?:does|do|did) [\w -]{1,40}? (?:earn|make|get paid)|salaire|remuneration|adresse (personnelle|postale)|domicile|telephone|"
     r"numero de portable|e-?mail personnel|date de naissance|quel age|vie privee|salary|home address|"
     r"phone number|date of birth|how old|est-(il|elle) marie\w*|married)\b"),
    ("consigne hors de la tâche", r"\b(ignore[rsz]? (tes|vos|les|toutes|all|your|previous)|oublie (tes|vos|les)|"
     r"instructions? (precedentes|systeme)|system prompt|prompt systeme|tu es maintenant|you are now|"
     r"ecris(-moi)? (un|une) (poeme|chanson|script|programme|histoire|code)|write (a|me a) (poem|song|script))"),
]


def refusal_reason(question: str) -> str | None:
    """Why the question must be refused outright, or None."""
    folded = fold(question)
    for reason, pattern in REFUSALS:
        if re.search(pattern, folded):
            return reason
    return None
