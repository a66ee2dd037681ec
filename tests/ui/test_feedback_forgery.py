"""Votes forged by raw POSTs to Gradio's queue (audit, issue 14, finding 3): the feedback file holds only what
the server itself answered in the conversation, a comment cut to ``limits.feedback_comment_chars``, and at
most ``limits.feedback_per_minute`` votes a minute per conversation."""

from __future__ import annotations

import json

import pytest

from tests.ui.raw_queue import RawQueue, served_settings, serving
from tests.ui.test_gradio_app import free_port

pytestmark = [pytest.mark.ui]

FORGED = "FORGED-TEXT-" * 7_000  # 84 KB in each field the client sends: a request under limits.request_bytes
HUGE = "FORGED-TEXT-" * 100_000  # 1.2 MB in each field: a 5 MB request
SMALL = "FORGED-TEXT-" * 100
COMMENT_CHARS = 50
PER_MINUTE = 3


@pytest.fixture(scope="module")
def server(real_assistant, clean_settings, tmp_path_factory):
    from ui.app import launch

    folder = tmp_path_factory.mktemp("forged")
    settings = served_settings(clean_settings, folder, limits={"feedback_comment_chars": COMMENT_CHARS,
                                                               "feedback_per_minute": PER_MINUTE})
    port = free_port()
    demo = launch(serving(real_assistant, settings), port=port, block=False)
    yield f"http://127.0.0.1:{port}", settings.ui.feedback_path
    demo.close()


def forged_inputs(queue: RawQueue, dep: dict, forged: str, comment: str | None) -> list:
    """A value for every input the client sends: a forged chat history, message and comment."""
    forged_history = [{"role": role, "content": [{"type": "text", "text": forged}]} for role in ("user", "assistant")]
    values = {"chatbot": forged_history, "textbox": forged if comment is None else comment, "radio": "fr",
              "state": None}
    return [values.get(kind, forged) for kind, _ in queue.input_types(dep)]


def ask(queue: RawQueue, question: str) -> list:
    dep = queue.dependency("submit", "question")
    data = [{"question": question, "chatbot": [], "language": "fr", "mode": "extractive", "top-k": 5}.get(e)
            for _, e in queue.input_types(dep)]
    return queue.call(dep, data)["output"]["data"][0]  # the chat history


def vote(queue: RawQueue, index, forged: str = SMALL, comment: str | None = None) -> str:
    """Vote on message ``index`` with every client-sent field forged; the status shown to the voter."""
    dep = queue.dependency("like", "chatbot")
    done = queue.call(dep, forged_inputs(queue, dep, forged, comment),
                      event_data={"index": index, "value": forged, "liked": True})
    status = done["output"]["data"][0] if done.get("success", True) else done.get("output", {}).get("error")
    return status.get("value", "") if isinstance(status, dict) else str(status)


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_a_forged_vote_records_only_what_the_server_answered(server, real_assistant):
    url, feedback = server
    before = feedback.stat().st_size if feedback.exists() else 0
    queue = RawQueue(url)
    history = ask(queue, "Quel est le budget du PEPR IA ?")
    answer_index = len(history) - 1
    assert "73 millions" in json.dumps(history, ensure_ascii=False)

    status = vote(queue, answer_index, forged=FORGED, comment="avis " * 15_000)  # a 75 KB comment
    assert "Merci" in status
    size = feedback.stat().st_size - before
    assert size < 4_000, f"the feedback file grew by {size} bytes"
    assert "FORGED" not in feedback.read_text(encoding="utf-8")
    record = lines(feedback)[-1]
    assert record["question"] == "Quel est le budget du PEPR IA ?"
    given = real_assistant.ask("Quel est le budget du PEPR IA ?").answer
    assert record["answer"] == given and "73 millions" in record["citations"][0]["quote"]
    assert record["vote"] == "up" and record["comment"] == ("avis " * 10)[:COMMENT_CHARS]


@pytest.mark.parametrize("index", [0, 99, -1, "1", None, [0, 0], True])
def test_a_vote_on_what_is_not_an_answer_of_this_conversation_writes_nothing(server, index):
    url, feedback = server
    queue = RawQueue(url)
    ask(queue, "Quel est le budget du PEPR IA ?")  # index 1 is an answer; 0 is the question
    before = feedback.read_bytes() if feedback.exists() else b""
    status = vote(queue, index)
    assert "Merci" not in status
    assert (feedback.read_bytes() if feedback.exists() else b"") == before


def test_a_vote_in_a_conversation_that_got_no_answer_writes_nothing(server):
    url, feedback = server
    before = feedback.read_bytes() if feedback.exists() else b""
    queue = RawQueue(url)  # a fresh session: nothing answered, whatever history the client claims
    assert "pas une réponse" in vote(queue, 1)
    assert (feedback.read_bytes() if feedback.exists() else b"") == before


def test_votes_past_the_per_minute_limit_get_a_message_and_write_nothing(server):
    url, feedback = server
    queue = RawQueue(url)
    history = ask(queue, "Quel est le budget du PEPR IA ?")
    before = len(lines(feedback))
    statuses = [vote(queue, len(history) - 1, comment="vote") for _ in range(PER_MINUTE + 4)]
    assert all("Merci" in s for s in statuses[:PER_MINUTE])
    assert all(f"pas plus de {PER_MINUTE} avis par minute" in s for s in statuses[PER_MINUTE:]), statuses
    assert len(lines(feedback)) - before == PER_MINUTE
    other = RawQueue(url)  # the limit is per conversation: another one still votes
    other_history = ask(other, "Quel est le budget du PEPR IA ?")
    assert "Merci" in vote(other, len(other_history) - 1, comment="vote")


def test_a_5_mb_forged_vote_is_refused_unread(server):
    url, feedback = server
    queue = RawQueue(url)
    history = ask(queue, "Quel est le budget du PEPR IA ?")
    before = feedback.read_bytes() if feedback.exists() else b""
    dep = queue.dependency("like", "chatbot")
    import httpx

    body = {"data": forged_inputs(queue, dep, HUGE, HUGE), "event_data": {"index": len(history) - 1, "liked": True},
            "fn_index": dep["id"], "trigger_id": dep["targets"][0][0], "session_hash": queue.session_hash}
    refused = httpx.post(f"{url}/gradio_api/queue/join", json=body, timeout=60)
    assert refused.status_code == 413
    assert (feedback.read_bytes() if feedback.exists() else b"") == before
