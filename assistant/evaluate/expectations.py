"""Judging an answer against expectations written next to a question (batch and eval)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Expectation:
    """What a correct answer looks like.

    Attributes:
        expect: Regular expressions, any one of which must match the answer.
        expect_all: Regular expressions that must all match.
        abstain: The right answer is to abstain.
    """

    expect: list[str] = field(default_factory=list)
    expect_all: list[str] = field(default_factory=list)
    abstain: bool = False

    @property
    def given(self) -> bool:
        return bool(self.expect or self.expect_all or self.abstain)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first pattern that is not a valid regular expression."""
        for pattern in self.expect + self.expect_all:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"expression régulière invalide {pattern!r} : {exc}") from exc

    def judge(self, answer_text: str, abstained: bool) -> bool | None:
        """True if the answer meets the expectation, None when there is none to check."""
        if not self.given:
            return None
        if self.abstain:
            return abstained
        if abstained:
            return False
        if self.expect and not any(re.search(p, answer_text, re.IGNORECASE) for p in self.expect):
            return False
        return all(re.search(p, answer_text, re.IGNORECASE) for p in self.expect_all)
