"""What the reader reads: a (question, sentence in its context) pair, written the same way in training and in use."""

from __future__ import annotations

MAX_TOKENS = 128  # question + title + sentence; longer pairs are cut, the longer side first


def pair(question: str, title: str, sentence: str) -> tuple[str, str]:
    """The two texts the cross-encoder scores: the question, and the sentence after the title of what it comes
    from (an article, a record's name): « Jean Zay : Il a été inauguré en janvier 2020. »"""
    question = " ".join(question.split())
    sentence = " ".join(sentence.split())
    title = " ".join(title.split())
    return question, f"{title} : {sentence}" if title else sentence
