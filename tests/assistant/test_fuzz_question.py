"""Property-based fuzzing of the question's entrance: cleaning, reading and history bounds never raise
anything but a clear ``InvalidQuestion``, and what passes is bounded text without control characters."""

from __future__ import annotations

import unicodedata
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.service import Assistant
from assistant.decide.figures import stated_figure
from assistant.query.kinds import expected_type
from assistant.query.parse import read
from assistant.query.policy import refusal_reason
from assistant.query.wording import asked_attributes, definition_target, is_english, restrictive_qualifiers
from assistant.settings import Settings
from corpus.errors import InvalidQuestion
from corpus.injection import addresses_assistant

FAKE = SimpleNamespace(settings=Settings())
questions = st.one_of(st.text(max_size=300), st.text(max_size=3000), st.binary(max_size=50).map(repr),
                      st.none(), st.integers(), st.lists(st.text(max_size=5), max_size=3))


@settings(max_examples=200, deadline=None)
@given(questions)
def test_the_question_cleaner_gives_bounded_text_or_a_clear_refusal(question):
    try:
        cleaned = Assistant.check_question(FAKE, question)
    except InvalidQuestion as exc:
        assert str(exc)
        return
    assert isinstance(cleaned, str) and cleaned == cleaned.strip() and cleaned
    assert len(cleaned) <= FAKE.settings.answer.max_question_chars
    assert not any(unicodedata.category(c) in ("Cc", "Cf") and c not in "\n\t" for c in cleaned)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_reading_a_question_never_raises(text):
    expected_type(text), definition_target(text), refusal_reason(text), is_english(text)
    asked_attributes(text), restrictive_qualifiers(text), addresses_assistant(text)
    for kind in ("money", "number", "count", "share", "date", None):
        stated_figure(text, kind, read(text).counted)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.lists(st.one_of(st.text(max_size=3000), st.none(), st.integers()), max_size=40),
                 st.text(max_size=50), st.none()))
def test_the_history_is_bounded_whatever_is_sent(history):
    kept, dropped = Assistant.bounded_history(FAKE, history)
    limits = FAKE.settings.limits
    assert len(kept) <= limits.history_turns and sum(map(len, kept)) <= limits.history_chars
    assert all(isinstance(h, str) and len(h) <= FAKE.settings.answer.max_question_chars for h in kept)
