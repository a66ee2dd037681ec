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


def test_answers_with_sources_through_the_api(client):
    reply = client.predict("Quel est le budget du PEPR IA ?", api_name="/chat")
    assert "73 millions" in reply
    assert "**Sources**" in reply and "https://cifl.com/?p=71377" in reply


def test_streams_the_answer_in_pieces(client):
    job = client.submit("Où est installé le supercalculateur Jean Zay ?", api_name="/chat")
    parts = list(job)
    assert len(parts) > 1 and parts[-1].startswith(parts[0][:10])
    assert "IDRIS" in parts[-1]


def test_out_of_corpus_and_empty_questions_get_a_clear_message(client):
    assert "Je ne trouve pas" in client.predict("Quelle est la capitale de l'Australie ?", api_name="/chat")
    assert "vide" in client.predict("   ", api_name="/chat")


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
    from ui.app import user_questions

    history = [{"role": "user", "content": "Qu'est-ce que le PEPR IA ?"},
               {"role": "assistant", "content": "Un programme…"}]
    assert user_questions(history) == ["Qu'est-ce que le PEPR IA ?"]
