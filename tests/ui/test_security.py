"""The served page's safety over loopback: uploads refused, no file route outside the app, login when set."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from pydantic import SecretStr

from tests.ui.test_gradio_app import free_port

pytestmark = [pytest.mark.slow, pytest.mark.ui]


def serve(real_assistant, **ui):
    from ui.app import launch

    settings = real_assistant.settings.model_copy(update={"ui": real_assistant.settings.ui.model_copy(update=ui)})
    port = free_port()
    demo = launch(dataclasses.replace(real_assistant, settings=settings), port=port, block=False)
    return demo, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def served(real_assistant):
    demo, url = serve(real_assistant)
    yield url
    demo.close()


def test_uploads_are_refused_by_default(served):
    response = httpx.post(f"{served}/gradio_api/upload", files={"files": ("note.txt", b"bonjour")})
    assert response.status_code == 413


@pytest.mark.parametrize("path", [
    "/gradio_api/file=/etc/passwd",
    "/gradio_api/file=../../../../etc/passwd",
    "/gradio_api/file=..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/gradio_api/file=%2Fetc%2Fpasswd",
    "/file=/etc/passwd",
    "/gradio_api/file=/proc/self/environ",
    "/static/../../../../etc/passwd",
    "/assets/..%2F..%2F..%2Fetc%2Fpasswd",
])
def test_no_route_serves_files_outside_the_app(served, path):
    response = httpx.get(f"{served}{path}")
    assert "root:" not in response.text and "PATH=" not in response.text
    assert response.status_code in (400, 403, 404)


def test_the_index_and_project_files_are_not_served(served, real_index_dir):
    for target in [real_index_dir / "CURRENT", real_index_dir, "pyproject.toml", "var/feedback.jsonl"]:
        response = httpx.get(f"{served}/gradio_api/file={target}")
        assert response.status_code in (403, 404), target


def test_login_is_required_when_configured(real_assistant):
    from gradio_client import Client

    demo, url = serve(real_assistant, username="equipe", password=SecretStr("mot-de-passe-long"))
    try:
        anonymous = httpx.post(f"{url}/gradio_api/call/chat", json={"data": ["Quel est le budget du PEPR IA ?", [],
                                                                             "extractive", 5, "fr"]})
        assert anonymous.status_code in (401, 403)
        with pytest.raises(Exception):
            Client(url, verbose=False)  # no credentials: refused
        client = Client(url, auth=("equipe", "mot-de-passe-long"), verbose=False)
        history, _, _ = client.predict("Quel est le budget du PEPR IA ?", [], "extractive", 5, "fr", api_name="/chat")
        assert "73 millions" in str(history[-1]["content"])
    finally:
        demo.close()


def test_25_concurrent_conversations_all_complete(served):
    """Bounded in count and time; the figures themselves are reported by bench/ui_load.py, not asserted."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("ui_load", Path(__file__).resolve().parents[2] / "bench" / "ui_load.py")
    ui_load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ui_load)
    report = ui_load.run_load(f"{served}/", conversations=25, timeout=400)
    assert report["errors"] == 0, report["error_samples"]
    assert report["requests"] == 50 and report["first_piece_ms"]["p95"] is not None
