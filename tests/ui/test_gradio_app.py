"""The real Gradio server on a free loopback port, driven through gradio_client."""

import socket

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.ui]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(real_assistant):
    from ui.app import launch

    port = free_port()
    demo = launch(real_assistant, host="127.0.0.1", port=port, block=False)
    yield demo, port
    demo.close()


@pytest.fixture(scope="module")
def server(served):
    return f"http://127.0.0.1:{served[1]}/"


@pytest.fixture
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


def last_text(history) -> str:
    from ui.messages import message_text

    return message_text(history[-1])


def ask(client, question, history=(), mode="extractive", top_k=5, lang="fr"):
    """The chat endpoint as the page calls it: (question, history, mode, passages, language) →
    (history, cleared textbox, sources panel)."""
    return client.predict(question, list(history), mode, top_k, lang, api_name="/chat")


def test_answers_with_sources_through_the_api(client):
    history, box, sources = ask(client, "Quel est le budget du PEPR IA ?")
    answer = last_text(history)
    assert "73 millions" in answer and "(#source-1)" in answer and box == ""
    assert 'id="source-1"' in sources and "https://cifl.com/?p=71377" in sources
    assert '<mark class="quote">' in sources and "73 millions" in sources.split('<mark class="quote">')[1]


def test_streams_the_answer_in_pieces(client):
    job = client.submit("Où est installé le supercalculateur Jean Zay ?", [], "extractive", 5, "fr", api_name="/chat")
    texts = [last_text(part[0]) for part in job]
    assert len(texts) > 2 and texts[-1].startswith(texts[-2][:10])
    assert "IDRIS" in texts[-1]


def test_a_follow_up_uses_the_conversation(client):
    history, _, _ = ask(client, "Qu'est-ce que le PEPR IA ?")
    history, _, sources = ask(client, "Et qui le co-pilote ?", history)
    assert "CEA" in last_text(history) and "Inria" in last_text(history)
    assert len([m for m in history if m["role"] == "user"]) == 2


def test_one_card_per_cited_document_each_passage_shown_once(client):
    """Issue 27: several quotes from one record (Jean Zay's GPU counts) make one card whose passage is shown once,
    every quote marked in it; every [n] of the answer still has its anchor."""
    import re

    history, _, sources = ask(client, "Combien de GPU compte Jean Zay ?")
    numbers = sorted(set(re.findall(r"\(#source-(\d+)\)", last_text(history))), key=int)
    assert len(numbers) >= 3, last_text(history)
    for n in numbers:
        assert f'id="source-{n}"' in sources
    cards = sources.split('<div class="source" ')[1:]
    links = [re.search(r'href="([^"]+)"', card).group(1) for card in cards]
    assert len(links) == len(set(links)) < len(numbers)  # one card per document, fewer cards than citations
    passages = re.findall(r'<blockquote class="passage">(.*?)</blockquote>', sources, re.S)
    plain = [re.sub(r"<[^>]+>", "", p) for p in passages]
    assert len(plain) == len(set(plain))
    assert len(re.findall('<mark class="quote">', sources)) >= len(passages)


def test_out_of_corpus_and_empty_questions_get_a_clear_message(client):
    history, _, sources = ask(client, "Quelle est la capitale de l'Australie ?")
    assert "Je ne trouve pas" in last_text(history) and "source-1" not in sources
    assert "vide" in last_text(ask(client, "   ")[0])


def test_answers_render_as_text_never_as_html_or_remote_images(client):
    from assistant.compose.answer import Answer
    from ui.render import render_answer, render_sources

    hostile = Answer(question="q", answer="<img src=x onerror=alert(1)> ![](http://evil.example/x.png) <script>x</script>",
                     abstained=True)
    shown = render_answer(hostile)
    import re

    assert not re.search(r"(?<!\\)[<>\[\]!]", shown)  # every tag or image character is escaped
    assert "evil.example" in shown  # kept, as inert text
    assert "<img" not in render_sources(None, {}) and "<script" not in render_sources(None, {})


def listening_addresses(port: int) -> set[str]:
    """Addresses a local TCP socket listens on for ``port``, read from /proc (no traffic sent)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if int(hex_port, 16) == port and state == "0A":  # 0A = LISTEN
                found.add(address)
    return found


def test_binds_to_loopback_only(served):
    demo, port = served
    assert demo.server_name == "127.0.0.1" and demo.share is False
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, not 0.0.0.0 nor any other


def test_user_questions_feed_follow_ups():
    from ui.messages import user_questions

    history = [{"role": "user", "content": "Qu'est-ce que le PEPR IA ?"},
               {"role": "assistant", "content": "Un programme…"}]
    assert user_questions(history) == ["Qu'est-ce que le PEPR IA ?"]


def test_a_refused_huge_question_is_echoed_by_its_beginning_only(client):
    """Audit, issue 14, finding 15: a 300 KB question (under limits.request_bytes; past it, 413) is refused, and
    not sent back whole into the chat."""
    from ui.messages import ECHO_CHARS, message_text

    question = "Quel est le budget du PEPR IA ? " + "x" * 300_000
    history, _, _ = ask(client, question)
    shown = message_text(history[-2])
    assert shown.startswith("Quel est le budget du PEPR IA ?") and shown.endswith("…")
    assert len(shown) <= ECHO_CHARS + 10
    assert "trop longue" in last_text(history)
