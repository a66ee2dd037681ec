"""Issue 25, finding 11, through the API: ``cnrs_ia`` says which earlier turns were left out and that the
follow-up's subject is missing."""

import pytest

from tests.ui.test_api import KEY, api  # noqa: F401 - the module's real server, reused

pytestmark = [pytest.mark.slow, pytest.mark.ui]


def test_api_reports_trimmed_history_and_a_missing_subject(api):  # noqa: F811
    from openai import OpenAI

    client = OpenAI(base_url=api, api_key=KEY, max_retries=0, timeout=60)
    completion = client.chat.completions.create(model="cnrs-ia-extractive", messages=[
        {"role": "user", "content": "Qu'est-ce que le PEPR IA ? " * 200},
        {"role": "assistant", "content": "…"},
        {"role": "user", "content": "Et son budget ?"}])
    extra = completion.choices[0].message.model_extra["cnrs_ia"]
    assert extra["abstained"] and extra["needs_context"] and extra["history_trimmed"] == 1
    assert not extra["citations"] and not completion.choices[0].message.annotations
