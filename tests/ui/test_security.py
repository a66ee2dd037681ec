"""The served page's safety over loopback: uploads refused, no file route outside the app, login when set."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from pydantic import SecretStr

from tests.ui.raw_queue import served_settings, serving
from tests.ui.test_gradio_app import free_port, listening_addresses

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
    assert response.status_code in (403, 413)


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


# Audit, issue 14: empty uploads (finding 7), login rate limit and admin tab without login (finding 13).
# These serve the real assistant under test settings.


@contextlib.contextmanager
def serve_with(real_assistant, clean_settings, tmp_path, host="127.0.0.1", **sections):
    from ui.app import launch

    settings = served_settings(clean_settings, tmp_path, **sections)
    port = free_port()
    demo = launch(serving(real_assistant, settings), host=host, port=port, block=False)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()


@pytest.mark.parametrize("name", ["vide.txt", "page.html", "../../etc/evil", "", "x.exe"])
def test_with_uploads_off_even_an_empty_file_is_refused(real_assistant, clean_settings, tmp_path, name):
    with serve_with(real_assistant, clean_settings, tmp_path) as url:
        for route in ("/gradio_api/upload", "/gradio_api/upload/", "/gradio_api/upload?upload_id=abc",
                      "/gradio_api/process_recording"):
            response = httpx.post(f"{url}{route}", files={"files": (name, b"")})
            assert response.status_code in (403, 413), (route, response.status_code, response.text)
    cache = tmp_path / "gradio"  # Gradio's upload folder (GRADIO_TEMP_DIR): nothing was stored there
    assert not (cache.exists() and [f for f in cache.rglob("*") if f.is_file()])


def test_with_a_positive_upload_limit_only_bigger_files_are_refused(real_assistant, clean_settings, tmp_path):
    with serve_with(real_assistant, clean_settings, tmp_path, ui={"max_upload_bytes": 100}) as url:
        small = httpx.post(f"{url}/gradio_api/upload", files={"files": ("petit.txt", b"bonjour")})
        assert small.status_code == 200 and len(small.json()) == 1
        big = httpx.post(f"{url}/gradio_api/upload", files={"files": ("gros.txt", b"x" * 1000)})
        assert big.status_code == 413


LOGIN = {"username": "equipe", "password": SecretStr("mot-de-passe-long")}


def login(url, password, address=None):
    transport = httpx.HTTPTransport(local_address=address) if address else None
    with httpx.Client(transport=transport, timeout=30) as client:
        return client.post(f"{url}/login", data={"username": "equipe", "password": password})


def test_failed_logins_are_limited_per_address(real_assistant, clean_settings, tmp_path):
    with serve_with(real_assistant, clean_settings, tmp_path, ui=LOGIN, limits={"login_attempts_per_minute": 5}) as url:
        statuses = [login(url, f"essai-{i}").status_code for i in range(12)]
        assert statuses[:5] == [400] * 5 and set(statuses[5:]) == {429}, statuses
        right = login(url, "mot-de-passe-long")  # blocked too until the window passes
        assert right.status_code == 429 and "réessayez dans" in right.json()["detail"]
        assert int(right.headers["Retry-After"]) <= 60
        # another address is not blocked by these failures (127.0.0.2 is loopback too)
        assert login(url, "mot-de-passe-long", address="127.0.0.2").status_code == 200
        # attempts sent all at once are counted too: no more than the limit reach the password check
        with ThreadPoolExecutor(12) as pool:
            parallel = list(pool.map(lambda i: login(url, f"essai-{i}", address="127.0.0.3").status_code, range(24)))
        assert parallel.count(400) <= 5 and parallel.count(400) + parallel.count(429) == 24, parallel


def test_a_login_block_ends_when_the_window_passes():
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from ui.guard import RequestGuard

    now = [1000.0]

    async def check(request):
        form = await request.form()
        ok = form.get("password") == "bon"
        return JSONResponse({"success": ok}, status_code=200 if ok else 400)

    app = Starlette(routes=[Route("/login", check, methods=["POST"])], middleware=[
        Middleware(RequestGuard, uploads=False, login_attempts=3, clock=lambda: now[0])])
    client = TestClient(app)
    assert [client.post("/login", data={"password": "non"}).status_code for _ in range(4)] == [400, 400, 400, 429]
    now[0] += 30
    assert client.post("/login", data={"password": "bon"}).status_code == 429
    now[0] += 31  # a minute after the failures
    assert client.post("/login", data={"password": "bon"}).status_code == 200


def test_the_admin_tab_without_login_is_refused_off_loopback(real_assistant, clean_settings, tmp_path):
    from corpus.errors import AssistantError
    from ui.app import launch

    settings = served_settings(clean_settings, tmp_path, ui={"admin": True})
    port = free_port()
    with pytest.raises(AssistantError, match="identification"):
        launch(serving(real_assistant, settings), host="0.0.0.0", port=port, block=False)
    assert listening_addresses(port) == set()  # nothing was served


def test_the_admin_tab_without_login_is_served_on_loopback_with_a_warning(real_assistant, clean_settings, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="ui.app"):
        with serve_with(real_assistant, clean_settings, tmp_path, ui={"admin": True}) as url:
            assert "admin-rebuild" in httpx.get(f"{url}/config").text
    assert any("administration sans identification" in r.getMessage() for r in caplog.records)


def test_the_admin_tab_with_a_login_gives_no_warning(real_assistant, clean_settings, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="ui.app"):
        with serve_with(real_assistant, clean_settings, tmp_path, ui={"admin": True, **LOGIN}):
            pass
    assert not any("administration" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("host, warned", [("0.0.0.0", True), ("192.168.1.20", True), ("127.0.0.1", False),
                                          ("localhost", False), ("::1", False)])
def test_serve_warns_on_stderr_off_loopback_without_login(real_assistant, clean_settings, tmp_path, monkeypatch, host, warned):
    from typer.testing import CliRunner

    import assistant.app
    import ui.app
    from assistant.cli import app

    settings = served_settings(clean_settings, tmp_path)
    calls = []
    monkeypatch.setattr(assistant.app, "build", lambda s: serving(real_assistant, settings))
    monkeypatch.setattr(ui.app, "launch", lambda a, host, port: calls.append((host, port)))
    result = CliRunner().invoke(app, ["serve", "--host", host, "--port", "7861"])
    assert result.exit_code == 0, result.output
    assert calls == [(host, 7861)]
    stderr = result.stderr
    assert ("hors de la boucle locale" in stderr and "ui.password" in stderr) is warned, stderr


def test_a_request_body_past_the_limit_is_refused_before_gradio_reads_it(real_assistant, clean_settings, tmp_path):
    with serve_with(real_assistant, clean_settings, tmp_path, limits={"request_bytes": 50_000}) as url:
        big = httpx.post(f"{url}/gradio_api/queue/join", content=b'{"data": ["' + b"x" * 60_000 + b'"]}',
                         headers={"content-type": "application/json"}, timeout=30)
        assert big.status_code == 413 and "limits.request_bytes" in big.text

        def chunks():
            yield b'{"data": ["'
            for _ in range(10):
                yield b"x" * 10_000
            yield b'"]}'

        streamed = httpx.post(f"{url}/gradio_api/queue/join", content=chunks(),
                              headers={"content-type": "application/json"}, timeout=30)
        assert streamed.status_code == 413
        small = httpx.post(f"{url}/gradio_api/queue/join", json={"data": [], "fn_index": 999}, timeout=30)
        assert small.status_code != 413
